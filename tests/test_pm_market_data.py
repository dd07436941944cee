"""PolymarketMarketData against the local exchange on loopback: the engine-side books (the delivered events
applied to engine.book.OrderBook) equal the exchange's own books, in YES terms, as its background market
moves; tick changes, closes and resolutions arrive as engine events.

The exchange runs on a ManualClock (nothing moves unless a test says so) and the feed on a SimClock, so
staleness is decided by the test. Book changes come from a seeded random walk; waits are bounded and only
for network delivery.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from engine.book import OrderBook
from engine.clock import SimClock
from engine.domain import Market, Resolution
from engine.feeds.events import (
    BookDeltas,
    BookSnapshot,
    MarketClosed,
    MarketEvent,
    MarketResolved,
    TickSizeChange,
)
from engine.feeds.replay import ReplayMarket
from engine.venues.polymarket.market_data import LOG, PolymarketMarketData
from localexchange import ExchangeHandle, FaultConfig, ManualClock, start_exchange
from tests.test_sim_exchange_support import CID, CID2, NO, NO2, START, YES2, market

WAIT_S = 3.0
# Fast settings for loopback: every timer of the feed in tens of milliseconds.
FAST: dict[str, Any] = {
    "backoff_initial": 0.02,
    "backoff_max": 0.1,
    "min_resync_interval": 0.05,
    "snapshot_timeout": 0.3,
    "audit_interval_s": 0.1,
    "status_interval_s": 0.1,
    "ping_interval": 0.2,
}


async def until(pred: Callable[[], bool], timeout: float = WAIT_S, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.005)


class Walk:
    """A seeded random walk of a market's background book: the mid moves a tick at a time and sizes
    change at every depth, so changes hit both the touch and levels far from it."""

    def __init__(self, seed: int, mid: int = 5000, tick: int = 100, depth: int = 6) -> None:
        self.rng = random.Random(seed)
        self.mid, self.tick, self.depth = mid, tick, depth

    def next(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        rng, tick = self.rng, self.tick
        self.mid = min(max(self.mid + rng.choice((-tick, 0, 0, tick)), 20 * tick), 80 * tick)
        bids = [(self.mid - tick * (i + 1), self._size()) for i in range(self.depth) if rng.random() > 0.15]
        asks = [(self.mid + tick * i, self._size()) for i in range(self.depth) if rng.random() > 0.15]
        return bids, asks

    def _size(self) -> int:
        return self.rng.randint(1, 400) * 1_000_000


@dataclass
class Feed:
    handle: ExchangeHandle
    data: PolymarketMarketData
    clock: SimClock
    markets: list[Market]
    books: dict[str, OrderBook]
    events: list[MarketEvent] = field(default_factory=list)
    walks: dict[str, Walk] = field(default_factory=dict)

    @property
    def exchange(self) -> Any:
        return self.handle.exchange

    @property
    def faults(self) -> FaultConfig:
        return self.handle.faults

    def step(self, ms: int = 10) -> None:
        """One move of every market's background book, `ms` later on the exchange's clock."""
        ex = self.exchange
        ex.advance_to(ex.now_ms() + ms)
        for m in self.markets:
            walk = self.walks.setdefault(m.condition_id, Walk(len(self.walks) + 1, tick=m.tick))
            bids, asks = walk.next()
            ex.set_background(m.condition_id, bids, asks)

    async def activity(self, seconds: float, step_s: float = 0.02) -> None:
        """`seconds` of exchange activity, in real time and on the exchange's clock alike."""
        for _ in range(round(seconds / step_s)):
            self.step(round(step_s * 1000))
            await asyncio.sleep(step_s)

    def exchange_levels(self, cid: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.exchange.books[cid].levels(True)

    def ours(self, cid: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        book = self.books[cid]
        return list(book.iter_bids()), list(book.iter_asks())

    def equal(self) -> bool:
        return all(self.ours(m.condition_id) == self.exchange_levels(m.condition_id) for m in self.markets)

    async def settled(self, timeout: float = WAIT_S) -> None:
        await until(self.equal, timeout, "engine-side books equal to the exchange's")

    def synced(self) -> bool:
        return all(self.data.is_synced(m.condition_id) for m in self.markets)


def apply_event(books: dict[str, OrderBook], event: MarketEvent) -> None:
    """What the engine does with a book event (engine.engine.Engine.on_market)."""
    book = books[event.condition_id]
    if isinstance(event, BookSnapshot):
        book.replace(event.bids, event.asks, event.ts)
    elif isinstance(event, BookDeltas):
        book.apply(event.deltas, event.ts)


@asynccontextmanager
async def live_feed(
    markets: list[Any] | None = None, *, faults: FaultConfig | None = None, seed: int = 3, **options: Any
) -> AsyncIterator[Feed]:
    """The exchange with `markets` (Market or ReplayMarket), and a running feed on all of them."""
    catalog = markets if markets is not None else [market(), market(CID2, YES2, NO2)]
    plain = [getattr(m, "market", m) for m in catalog]
    async with start_exchange(
        markets=catalog,
        lines=[],
        speed=None,
        clock=ManualClock(START),
        faults=faults or FaultConfig(seed=seed),
    ) as handle:
        clock = SimClock(START)
        books = {m.condition_id: OrderBook() for m in plain}
        settings = {**FAST, **options}
        data = PolymarketMarketData(
            plain, clob_url=handle.base_url, market_ws_url=handle.market_ws_url, clock=clock,
            rng=random.Random(seed), **settings,
        )  # fmt: skip
        feed = Feed(handle, data, clock, plain, books)

        async def on_event(event: MarketEvent) -> None:
            feed.events.append(event)
            apply_event(books, event)

        task = asyncio.create_task(data.run(on_event))
        try:
            yield feed
        finally:
            await data.close()
            await asyncio.wait_for(task, WAIT_S)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ tests


def test_engine_side_books_equal_the_exchange_as_the_market_moves() -> None:
    async def go() -> None:
        async with live_feed() as feed:
            feed.step()
            await until(feed.synced, what="both books synced")
            for _ in range(40):
                feed.step()
                await asyncio.sleep(0.005)
            await feed.settled()
            for cid in (CID, CID2):
                kinds = [type(e).__name__ for e in feed.events if e.condition_id == cid]
                assert kinds[0] == "BookSnapshot" and kinds.count("BookDeltas") >= 40
                bids, asks = feed.ours(cid)
                assert bids and asks and bids[0][0] < asks[0][0]
            # The exchange's own REST answer for the NO token is our YES book mirrored.
            async with httpx.AsyncClient() as http:
                resp = await http.get(f"{feed.handle.base_url}/book", params={"token_id": NO})
            no_book = resp.json()
            best_no_bid = no_book["bids"][-1]
            assert int(Decimal(best_no_bid["price"]) * 10_000) == 10_000 - feed.ours(CID)[1][0][0]
            stats = feed.data.stats
            assert stats.messages > 0 and stats.connections == 1 and stats.unsynced == 0
            assert stats.gaps == 0 and stats.resubscribes == 0
            assert feed.data.stale_markets(feed.clock.now_ms()) == set()

    run(go())


def test_book_events_are_yes_terms_whichever_token_carried_them() -> None:
    async def go() -> None:
        async with live_feed([market()]) as feed:
            ex = feed.exchange
            ex.set_background(CID, [(4500, 10_000_000)], [(5500, 20_000_000)])
            await until(feed.synced)
            await feed.settled()
            assert feed.ours(CID) == ([(4500, 10_000_000)], [(5500, 20_000_000)])
            before = len(feed.events)
            ex.advance_to(START + 5)
            ex.set_background(CID, [(4500, 10_000_000), (4400, 7_000_000)], [(5500, 20_000_000)])
            await until(lambda: len(feed.events) > before)
            delta = feed.events[-1]
            # One price_change names the level once per token; it arrives as one YES-terms delta.
            assert isinstance(delta, BookDeltas) and delta.deltas == [(True, 4400, 7_000_000)]

    run(go())


def test_tick_size_changes_near_the_extremes_reach_the_engine() -> None:
    async def go() -> None:
        async with live_feed([market()]) as feed:
            ex = feed.exchange
            ex.set_background(CID, [(5000, 10_000_000)], [(5100, 10_000_000)])
            await until(feed.synced)
            ex.advance_to(START + 5)
            ex.set_background(CID, [(9700, 10_000_000)], [(9800, 10_000_000)])  # above 0.96: 0.001 tick
            await until(lambda: any(isinstance(e, TickSizeChange) for e in feed.events))
            change = next(e for e in feed.events if isinstance(e, TickSizeChange))
            assert (change.old_tick, change.new_tick) == (100, 10)
            assert feed.data.tick(CID) == 10
            ex.advance_to(START + 10)
            ex.set_background(CID, [(5000, 10_000_000)], [(5100, 10_000_000)])

            # The book's tick is set before the event reaches the engine's queue: wait for the event.
            def changes() -> list[tuple[int, int]]:
                return [(e.old_tick, e.new_tick) for e in feed.events if isinstance(e, TickSizeChange)]

            await until(lambda: len(changes()) == 2, what="the second tick change")
            assert changes() == [(100, 10), (10, 100)]
            assert feed.data.tick(CID) == 100

    run(go())


def test_a_discovered_tick_that_is_out_of_date_is_corrected_by_the_first_snapshot() -> None:
    async def go() -> None:
        async with start_exchange(
            markets=[market(tick=10)], lines=[], speed=None, clock=ManualClock(START)
        ) as h:
            data = PolymarketMarketData(
                [market(tick=100)],
                clob_url=h.base_url,
                market_ws_url=h.market_ws_url,
                clock=SimClock(START),
                **FAST,
            )
            events: list[MarketEvent] = []

            async def on_event(event: MarketEvent) -> None:
                events.append(event)

            task = asyncio.create_task(data.run(on_event))
            await until(lambda: len(events) >= 2)
            await data.close()
            await task
            assert isinstance(events[0], BookSnapshot)
            assert events[1] == TickSizeChange(CID, START, 100, 10)

    run(go())


def test_resolution_arrives_as_closed_then_resolved() -> None:
    async def go() -> None:
        resolved = ReplayMarket(market(end_ts=START + 2_000), Resolution(CID, START + 3_000, Decimal(1)))
        async with live_feed([resolved], status_interval_s=0) as feed:
            feed.exchange.set_background(CID, [(4000, 10_000_000)], [(6000, 10_000_000)])
            await until(feed.synced)
            feed.exchange.advance_to(START + 3_000)
            await until(lambda: any(isinstance(e, MarketResolved) for e in feed.events))
            tail = [e for e in feed.events if isinstance(e, MarketClosed | MarketResolved)]
            assert tail == [MarketClosed(CID, START), MarketResolved(CID, START, Decimal(1))]
            await feed.settled()  # the exchange emptied the book at the close
            assert feed.ours(CID) == ([], [])

    run(go())


def test_a_close_the_websocket_does_not_announce_is_found_by_the_status_check() -> None:
    async def go() -> None:
        async with live_feed([market(end_ts=START + 2_000)]) as feed:
            feed.exchange.set_background(CID, [(4000, 10_000_000)], [(6000, 10_000_000)])
            await until(feed.synced)
            assert not any(isinstance(e, MarketClosed) for e in feed.events)
            feed.exchange.advance_to(START + 2_000)
            await until(lambda: any(isinstance(e, MarketClosed) for e in feed.events))
            assert not any(isinstance(e, MarketResolved) for e in feed.events)

    run(go())


def test_a_resolution_the_websocket_lost_is_found_by_the_status_check() -> None:
    async def go() -> None:
        resolved = ReplayMarket(market(), Resolution(CID, START + 1_000, Decimal(0)))
        async with live_feed([resolved]) as feed:
            feed.exchange.set_background(CID, [(4000, 10_000_000)], [(6000, 10_000_000)])
            await until(feed.synced)
            feed.faults.ws_drop_rate = 1.0  # the market_resolved message is lost
            feed.exchange.advance_to(START + 1_000)
            await until(lambda: any(isinstance(e, MarketResolved) for e in feed.events))
            assert [e for e in feed.events if isinstance(e, MarketResolved)] == [
                MarketResolved(CID, START, Decimal(0))
            ]

    run(go())


def test_stats_for_the_status_bar() -> None:
    async def go() -> None:
        async with live_feed([market()]) as feed:
            feed.step()
            await until(feed.synced)
            first = feed.data.stats
            assert first.messages_per_s == 0.0 and first.oldest_book_age_ms == 0
            for _ in range(10):
                feed.step()
            await until(lambda: feed.data.stats.messages >= first.messages + 10)
            feed.clock.advance_to(START + 2_000)
            stats = feed.data.stats
            assert stats.messages_per_s == (stats.messages - 0) / 2  # counted from construction
            assert stats.oldest_book_age_ms == 2_000 and stats.reconnects == 0 and stats.resyncs == 0

    run(go())


def test_a_resolution_without_a_single_winner_closes_but_does_not_settle() -> None:
    async def go() -> None:
        fifty = ReplayMarket(market(), Resolution(CID, START + 1_000, Decimal("0.5")))
        async with live_feed([fifty], status_interval_s=0) as feed:
            feed.exchange.set_background(CID, [(4000, 10_000_000)], [(6000, 10_000_000)])
            await until(feed.synced)
            feed.exchange.advance_to(START + 1_000)  # market_resolved names no winning asset
            await until(lambda: any(isinstance(e, MarketClosed) for e in feed.events))
            await until(lambda: "resolution_without_winner" in logged, what="the warning")
            assert not any(isinstance(e, MarketResolved) for e in feed.events)

    logged: list[str] = []
    handler, level = _Capture(logged), LOG.level
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)  # whatever another test configured for the "bigearn" logger
    try:
        run(go())
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)


class _Capture(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())
