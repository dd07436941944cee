"""The default venue: real recorded Polymarket books replayed in time order, our orders matched in-process.

Each recorded snapshot is diffed against the exchange-side book to derive the level deltas a live feed
would have sent; the matching engine applies them (moving our queue positions and filling our orders)
and the engine receives the same deltas. Markets close at their recorded end and settle at their real
resolution a fixed delay later. Time is simulated (`SimClock`): `speed` 1 replays in real time, N
replays N times faster, None as fast as the machine allows; every speed gives the same result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path

from engine.clock import SimClock
from engine.domain import Market
from engine.feeds.cadence import RecordingCadence
from engine.feeds.events import BookDeltas, BookSnapshot, MarketClosed, MarketResolved, TickSizeChange
from engine.feeds.replay import ReplayLine, ReplayMarket, bundled_paths, load_markets, read_lines
from engine.sim.matching import LatencyModel, MatchingEngine, SimAccount
from engine.venues.base import EventSink
from engine.venues.simulated import InProcessOrders

# Up/down markets resolve from an oracle shortly after the window. 90 s keeps every recorded post-close
# line of the bundled data (the last comes ~63 s after close) inside its market's unresolved period.
RESOLVE_DELAY_MS = 90_000
FINE_TICK = 10  # 0.001: the tick Polymarket switches to near 0 and 1
PLAY_OUT_MS = 10_000  # held (stopping): how far the clock may still run for what is under way


class ReplayVenue(InProcessOrders):
    """Recorded books from files, or any other time-ordered `ReplayLine` stream with its catalog (the
    synthetic market of `--venue sim` is one: same matching, same lifecycle, `kind` SIM)."""

    def __init__(
        self,
        clock: SimClock,
        *,
        starting_cash: Decimal,
        latency: LatencyModel,
        seed: int,
        speed: float | None = None,
        books_path: Path | None = None,
        markets_path: Path | None = None,
        source: tuple[dict[str, ReplayMarket], Callable[[], Iterable[ReplayLine]]] | None = None,
        kind: str = "REPLAY",
        stale_after_ms: int = 30_000,
    ) -> None:
        self.kind = kind
        # Recorded data: a book is stale relative to the recording's own cadence (engine.feeds.cadence).
        self.recorded = True
        self.cadence = RecordingCadence(stale_after_ms)
        bundled_books, bundled_markets = bundled_paths()
        self.books_path = Path(books_path) if books_path else bundled_books
        self.markets_path = Path(markets_path) if markets_path else bundled_markets
        if source is not None:
            self.catalog, self._lines = source
        else:
            self.catalog = load_markets(self.markets_path)
            self._lines = lambda: read_lines(self.books_path, self.catalog)
        self.clock = clock
        self.speed = speed
        self.matcher = MatchingEngine(clock, SimAccount(cash=starting_cash), latency, seed)
        for entry in self.catalog.values():
            self.matcher.add_market(entry.market)
        self.lines_processed = 0
        self._started: set[str] = set()
        self._sink: EventSink | None = None
        self._wall_anchor: tuple[float, int] | None = None
        self._stop = asyncio.Event()
        self._hold = False

    def lines(self) -> Iterable[ReplayLine]:
        """A fresh pass over the book lines, in time order."""
        return self._lines()

    def markets(self) -> list[Market]:
        return [entry.market for entry in self.catalog.values()]

    def stop(self) -> None:
        self._stop.set()

    def hold_data(self) -> None:
        """Read no more of the recording (the engine is stopping, or failed); time still passes for what is
        under way - cancels in flight, closes, resolutions - and their events are delivered, until stop()."""
        self._hold = True

    def stale_markets(self, now_ms: int) -> set[str]:
        """Open markets whose recording has been quiet for longer than its cadence allows."""
        return self.cadence.stale(now_ms)

    async def _deliver(self) -> None:
        sink = self._sink
        assert sink is not None
        outbox = self.matcher.outbox
        while outbox:
            batch = outbox[:]
            outbox.clear()
            for event in batch:
                await sink.on_venue(event)

    async def _pace(self, ts: int) -> None:
        """Hold simulated time to `speed` times the wall clock."""
        if self.speed is None:
            # Yield now and then so commands and the UI run even at full speed.
            if self.lines_processed % 256 == 0:
                await asyncio.sleep(0)
            return
        if self._wall_anchor is None:
            self._wall_anchor = (time.monotonic(), ts)
            return
        wall0, sim0 = self._wall_anchor
        delay = wall0 + (ts - sim0) / 1000 / self.speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _play_out(self) -> None:
        """Held: only the clock's own timers move time on, one at a time with the loop free between them, and
        no further than PLAY_OUT_MS: enough for orders in flight to be cancelled (latency), not for markets
        to close and resolve while the engine stops."""
        horizon = self.clock.now_ms() + PLAY_OUT_MS
        while not self._stop.is_set():
            due = self.clock.next_due()
            if due is None or due > horizon:
                await asyncio.sleep(0.01)
                continue
            await self._pace(due)
            await self.clock.run_until(due, after=self._deliver)
            await asyncio.sleep(0)

    def _schedule_lifecycle(self, sink: EventSink) -> int:
        last = 0
        for cid, entry in self.catalog.items():
            market = entry.market
            if market.end_ts is None:
                continue

            async def close(cid: str = cid) -> None:
                self.matcher.close_market(cid)
                self.cadence.forget(cid)
                await sink.on_market(MarketClosed(cid, self.clock.now_ms()))

            self.clock.call_at(market.end_ts, close)
            if entry.resolution is not None:
                payout = entry.resolution.yes_payout
                at = market.end_ts + RESOLVE_DELAY_MS

                async def resolve(cid: str = cid, payout: Decimal = payout) -> None:
                    await sink.on_market(MarketResolved(cid, self.clock.now_ms(), payout))
                    self.matcher.settle(cid, payout)

                self.clock.call_at(at, resolve)
                last = max(last, at)
        return last

    async def run(self, sink: EventSink, until_ts: int | None = None) -> None:
        """Replay to the end of the data (or, for tests and tools, up to `until_ts` of simulated time,
        leaving everything in place so the run can be inspected at that moment)."""
        self._sink = sink
        await self.deliver_resumed(sink)
        last_event = self._schedule_lifecycle(sink)
        matcher = self.matcher
        for line in self.lines():
            if self._stop.is_set():
                return
            if self._hold:
                await self._play_out()
                return
            if until_ts is not None and line.ts > until_ts:
                await self.clock.run_until(until_ts, after=self._deliver)
                return
            await self._pace(line.ts)
            await self.clock.run_until(line.ts, after=self._deliver)
            cid = line.condition_id
            book = matcher.books[cid]
            tick = FINE_TICK if line.fine_tick else self.catalog[cid].market.tick
            if tick != matcher.ticks[cid]:
                old = matcher.ticks[cid]
                matcher.set_tick(cid, tick)
                await sink.on_market(TickSizeChange(cid, line.ts, old, tick))
            deltas = book.diff(line.bids, line.asks)
            matcher.apply(cid, deltas, line.ts)
            self.lines_processed += 1
            if cid not in matcher.closed:
                self.cadence.on_line(cid, line.ts)
            if cid not in self._started:
                self._started.add(cid)
                await sink.on_market(BookSnapshot(cid, line.ts, list(line.bids), list(line.asks)))
            else:
                await sink.on_market(BookDeltas(cid, line.ts, deltas))
            if matcher.outbox:
                await self._deliver()
        if self._hold:
            await self._play_out()
            return
        # The data is over: let pending orders, closes and resolutions play out.
        end = max(last_event, self.clock.now_ms())
        while not self._stop.is_set():
            due = self.clock.next_due()
            if due is None or due > end:
                break
            await self._pace(due)
            await self.clock.run_until(due, after=self._deliver)
        self.clock.advance_to(end)
