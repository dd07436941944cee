"""Paper trading on Polymarket: live books, our orders matched in-process, nothing sent to the exchange.

The books come from `PolymarketMarketData` (the market WebSocket, kept honest); our orders go to the
same `engine.sim.matching.MatchingEngine` the replay venue uses. Every book event is applied to the
matcher's copy of the book first (a snapshot as the level deltas that turn the old book into it), so our
queue positions move and resting orders fill as the live book trades through them; then the engine gets
the event, then whatever the matcher produced. Tick changes and closes reach the matcher too, and a
`MarketResolved` from the exchange settles our tokens at its payout.

Nothing here can place, cancel or query an order on the exchange: the only requests made are the
market data's `GET`s (books, market status). Time is real (`engine.clock.WallClock` in production): the
matcher's submit/cancel latencies are timers on that clock, and what they produce is delivered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx

from engine.clock import Callback, Clock
from engine.domain import Market
from engine.feeds.events import (
    BookDeltas,
    BookSnapshot,
    MarketClosed,
    MarketEvent,
    MarketResolved,
    TickSizeChange,
)
from engine.sim.matching import LatencyModel, MatchingEngine, SimAccount
from engine.venues.base import EventSink, VenueEvent
from engine.venues.polymarket.market_data import MarketDataStats, PolymarketMarketData
from engine.venues.simulated import InProcessOrders


class _NotifyingClock:
    """The venue's clock as the matcher sees it: after each timer (an order arriving, a cancel taking
    effect, a GTD expiring) the venue is told, so the events it produced are delivered without waiting
    for the next book change."""

    def __init__(self, clock: Clock, after: Any) -> None:
        self._clock = clock
        self._after = after

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def call_at(self, ts_ms: int, callback: Callback) -> None:
        def fire() -> None:
            callback()
            self._after()

        self._clock.call_at(ts_ms, fire)


class PolymarketPaperVenue(InProcessOrders):
    kind = "PAPER"

    def __init__(
        self,
        markets: Sequence[Market],
        *,
        clob_url: str,
        market_ws_url: str,
        clock: Clock,
        starting_cash: Decimal,
        latency: LatencyModel,
        seed: int,
        http: httpx.AsyncClient | None = None,
        stale_after_ms: int = 30_000,
        ping_interval: float = 10.0,
        **feed_options: Any,
    ) -> None:
        """`feed_options` go to `PolymarketMarketData` (timeouts, audit and status intervals, ...)."""
        self._markets = list(markets)
        self.clock = clock
        self.matcher = MatchingEngine(
            _NotifyingClock(clock, self._kick),  # type: ignore[arg-type]
            SimAccount(cash=Decimal(starting_cash)),
            latency,
            seed,
        )
        for market in self._markets:
            self.matcher.add_market(market)
        self.data = PolymarketMarketData(
            self._markets,
            clob_url=clob_url,
            market_ws_url=market_ws_url,
            clock=clock,
            http=http,
            stale_after_ms=stale_after_ms,
            ping_interval=ping_interval,
            rng=random.Random(f"polymarket-feed:{seed}"),
            **feed_options,
        )
        self._sink: EventSink | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._resumed: list[VenueEvent] = []  # delivered first when run() starts
        # Paper money is the ledger's: one paper account per exchange (a restart on the same database resumes it).
        self.account = f"paper:{clob_url.rstrip('/')}"

    # --- Venue ---------------------------------------------------------------------------------------
    def markets(self) -> list[Market]:
        return list(self._markets)

    def stop(self) -> None:
        """Make `run()` return (closing the market data)."""
        self._stop.set()

    async def run(self, sink: EventSink) -> None:
        """Deliver live market data and our simulated order events to `sink` until `stop()` or cancellation."""
        self._sink = sink
        await self.deliver_resumed(sink)
        feed = asyncio.create_task(self.data.run(self._on_market), name="pm-paper-feed")
        stopper = asyncio.create_task(self._stop.wait(), name="pm-paper-stop")
        try:
            await asyncio.wait({feed, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            await self.data.close()
            try:
                await feed  # re-raises what the sink raised
            finally:
                self._sink = None  # what the matcher does after this (a late cancel) has nobody to tell
                for task in list(self._deliveries):
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._failure is not None:
            raise self._failure

    # --- what the engine reads -------------------------------------------------------------------------
    def stale_markets(self, now_ms: int) -> set[str]:
        """Condition ids whose book must not be traded on: unsynced, or not known current for
        `stale_after_ms`."""
        return self.data.stale_markets(now_ms)

    def is_synced(self, condition_id: str) -> bool:
        return self.data.is_synced(condition_id)

    @property
    def stats(self) -> MarketDataStats:
        return self.data.stats

    def feed_reconnects(self) -> int:
        return self.data.reconnects()

    # --- internals -----------------------------------------------------------------------------------
    async def _on_market(self, event: MarketEvent) -> None:
        sink = self._sink
        assert sink is not None
        async with self._lock:
            matcher = self.matcher
            cid = event.condition_id
            if isinstance(event, BookDeltas):
                matcher.apply(cid, event.deltas, event.ts)
            elif isinstance(event, BookSnapshot):
                matcher.apply(cid, matcher.books[cid].diff(event.bids, event.asks), event.ts)
            elif isinstance(event, TickSizeChange):
                matcher.set_tick(cid, event.new_tick)
            elif isinstance(event, MarketClosed):
                matcher.close_market(cid)
            await sink.on_market(event)
            if isinstance(event, MarketResolved):
                matcher.settle(cid, event.yes_payout)
            await self._deliver(sink)

    async def _deliver(self, sink: EventSink) -> None:
        outbox = self.matcher.outbox
        while outbox:
            batch = outbox[:]
            outbox.clear()
            for event in batch:
                await sink.on_venue(event)

    def _kick(self) -> None:
        if self._sink is None or not self.matcher.outbox:
            return  # not running, or a delivery already took it
        task = asyncio.ensure_future(self._deliver_now())
        self._deliveries.add(task)
        task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        """A delivery the engine could not take is the run's failure: the venue stops and run() raises it."""
        self._deliveries.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
            self.stop()

    async def _deliver_now(self) -> None:
        async with self._lock:
            if self._sink is not None:
                await self._deliver(self._sink)


__all__ = ["PolymarketPaperVenue"]
