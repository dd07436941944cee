"""Live market data under the exchange's seeded WebSocket faults, one fault per test: the engine-side books
(the delivered events applied to engine.book.OrderBook) equal the exchange's own books once the fault
stops, within one second of exchange activity plus delivery; staleness is reported while a book cannot be
trusted and clears after the resync.

Each scenario: books synced, the fault switched on during `FAULT_S` of activity (a seeded random walk of
both markets' background books, every level moving), the fault off, `RECOVERY_S` of activity, then the
books are compared within `SETTLE_S` (network delivery and, for a silently lost change, the audit).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.clock import WallClock
from engine.engine import Engine
from engine.store import Store
from localexchange import start_exchange
from tests.conftest import FixedBrain, settings_for
from tests.test_pm_market_data import WAIT_S, Feed, live_feed, until
from tests.test_pm_paper import ASKS, BIDS, Recorder, Traffic, assert_nothing_sent, paper
from tests.test_sim_exchange_support import CID, CID2, NO2, START, YES2, market

SHARES = 1_000_000
FAULT_S = 0.6
RECOVERY_S = 1.0
SETTLE_S = 1.0


async def through_fault(feed: Feed, switch: str, value: object, off: object) -> None:
    feed.step()
    await until(feed.synced, what="initial sync")
    await feed.settled()
    setattr(feed.faults, switch, value)
    await feed.activity(FAULT_S)
    setattr(feed.faults, switch, off)
    await feed.activity(RECOVERY_S)
    await feed.settled(SETTLE_S)
    assert feed.synced()


def test_dropped_messages() -> None:
    async def go() -> None:
        async with live_feed(seed=11) as feed:
            await through_fault(feed, "ws_drop_rate", 0.2, 0.0)
            stats = feed.data.stats
            assert stats.gaps + stats.resubscribes > 0  # the losses were noticed, not papered over

    asyncio.run(go())


def test_reordered_messages() -> None:
    async def go() -> None:
        # One market: with two, a swap is mostly between markets, each still in order.
        async with live_feed([market()], seed=12) as feed:
            await through_fault(feed, "ws_reorder_rate", 0.2, 0.0)
            assert feed.data.stats.gaps > 0 and feed.data.stats.resyncs > 0

    asyncio.run(go())


def test_duplicated_messages() -> None:
    async def go() -> None:
        async with live_feed(seed=13) as feed:
            await through_fault(feed, "ws_duplicate_rate", 0.4, 0.0)
            stats = feed.data.stats
            assert stats.duplicates > 0
            assert stats.gaps == 0 and stats.resubscribes == 0  # a re-delivery never costs a resync

    asyncio.run(go())


def test_socket_closes() -> None:
    async def go() -> None:
        async with live_feed(seed=14) as feed:
            await through_fault(feed, "ws_close_rate", 0.05, 0.0)
            assert feed.data.stats.reconnects > 0

    asyncio.run(go())


def test_stopped_pong() -> None:
    async def go() -> None:
        async with live_feed(seed=15, ping_interval=0.05) as feed:  # no PONG for 0.15 s: a dead socket
            await through_fault(feed, "ws_no_pong", True, False)
            assert feed.data.stream.stats.ping_timeouts > 0 and feed.data.stats.reconnects > 0

    asyncio.run(go())


@pytest.mark.parametrize("markets", [1, 2], ids=["alone-on-its-connection", "sharing-a-connection"])
def test_a_lost_change_away_from_the_touch_is_found_by_the_audit(markets: int) -> None:
    async def go() -> None:
        async with live_feed([market(), market(CID2, YES2, NO2)][:markets], seed=18) as feed:
            ex = feed.exchange
            ex.set_background(CID, [(4900, 10 * SHARES), (4800, 10 * SHARES)], [(5100, 10 * SHARES)])
            await until(feed.synced)
            await feed.settled()
            feed.faults.ws_drop_rate = 1.0
            ex.advance_to(START + 10)
            ex.set_background(CID, [(4900, 10 * SHARES), (4800, 25 * SHARES)], [(5100, 10 * SHARES)])
            # The sender decides a message's fate as it takes it from the queue: empty = decided.
            await until(
                lambda: all(c.queue.empty() for c in feed.handle.server.market_conns), what="the drop"
            )
            feed.faults.ws_drop_rate = 0.0
            assert feed.ours(CID) != feed.exchange_levels(CID)  # the top is unchanged: nothing to notice
            await feed.settled(SETTLE_S)
            stats = feed.data.stats
            assert (stats.gaps, stats.resubscribes) == (0, 1)

    asyncio.run(go())


def test_unsynced_books_are_stale_until_the_resync() -> None:
    async def go() -> None:
        async with live_feed(seed=16, snapshot_timeout=0.5) as feed:
            feed.step()
            await until(feed.synced)
            assert feed.data.stale_markets(feed.clock.now_ms()) == set()
            feed.faults.ws_drop_rate = 1.0  # the snapshots after the reconnect are lost too
            for conn in list(feed.handle.server.market_conns):
                await conn.ws.close()
            await until(lambda: not feed.data.is_synced(CID), what="the book unsynced")
            assert feed.data.stale_markets(feed.clock.now_ms()) == {CID, CID2}
            feed.step()  # the market moves while we cannot see it
            # No snapshot within snapshot_timeout: the books come back over REST, WebSocket still deaf.
            await until(feed.synced, what="the REST resync")
            assert feed.data.stale_markets(feed.clock.now_ms()) == set()
            assert feed.data.stats.resyncs >= 2
            await feed.settled(SETTLE_S)

    asyncio.run(go())


def test_a_silent_connection_makes_books_stale_and_pong_clears_it() -> None:
    async def go() -> None:
        # PINGs every 50 ms; a missing PONG is only a dead socket after 5 s, longer than this test.
        async with live_feed(
            [market()], seed=17, ping_interval=0.05, pong_timeout=5.0, stale_after_ms=5_000
        ) as feed:
            feed.step()
            await until(feed.synced)
            feed.clock.advance_to(START + 10_000)  # 10 s pass on our clock
            await until(lambda: not feed.data.stale_markets(feed.clock.now_ms()), what="a PONG")
            feed.faults.ws_no_pong = True
            feed.clock.advance_to(START + 20_000)
            assert feed.data.stale_markets(feed.clock.now_ms()) == {CID}
            await asyncio.sleep(0.3)  # six PINGs go unanswered
            assert feed.data.stale_markets(feed.clock.now_ms()) == {CID}
            assert feed.data.is_synced(CID)  # trusted contents, but not known to be current
            feed.faults.ws_no_pong = False
            await until(lambda: not feed.data.stale_markets(feed.clock.now_ms()), what="PONG again")
            feed.clock.advance_to(START + 30_000)
            feed.step()  # a book change proves the book current just as well
            await until(lambda: not feed.data.stale_markets(feed.clock.now_ms()), what="a book change")

    asyncio.run(go())


def test_paper_venue_reports_a_stale_market_while_its_book_is_unsynced() -> None:
    async def go() -> None:
        traffic = Traffic()
        async with start_exchange(markets=[market()], lines=[], speed=None) as h:
            h.exchange.set_background(CID, BIDS, ASKS)
            async with paper(h, traffic, snapshot_timeout=0.4) as venue:
                task = asyncio.create_task(venue.run(Recorder()))
                await until(lambda: venue.is_synced(CID), what="sync")
                assert venue.stale_markets(venue.clock.now_ms()) == set()
                h.faults.ws_drop_rate = 1.0
                for conn in list(h.server.market_conns):
                    await conn.ws.close()
                await until(lambda: not venue.is_synced(CID), what="unsynced")
                assert venue.stale_markets(venue.clock.now_ms()) == {CID}
                await until(lambda: venue.is_synced(CID), what="REST resync")
                assert venue.stale_markets(venue.clock.now_ms()) == set()
                venue.stop()
                await asyncio.wait_for(task, WAIT_S)
            assert_nothing_sent(h, traffic)

    asyncio.run(go())


def test_engine_places_no_order_from_a_stale_book_and_trades_once_it_is_fresh(tmp_path: Path) -> None:
    async def go() -> None:
        traffic = Traffic()
        async with start_exchange(markets=[market()], lines=[], speed=None) as h:
            h.exchange.set_background(CID, BIDS, ASKS)
            # No REST fallback within the test: once unsynced, the book stays unsynced until reconnected.
            async with paper(h, traffic, snapshot_timeout=60.0, audit_interval_s=0) as venue:
                settings = settings_for(
                    tmp_path,
                    **{"engine.mode": "auto", "engine.cycle_interval_s": 0.1, "engine.warmup_s": 0.3},
                )
                store = await Store.open(settings.store.path)
                engine = Engine(settings, venue, WallClock(), store, brain=FixedBrain(p=0.70))
                task = asyncio.create_task(engine.run())
                try:
                    await until(lambda: venue.is_synced(CID) and engine.counters["market_events"] > 0)
                    h.faults.ws_drop_rate = 1.0
                    for conn in list(h.server.market_conns):
                        await conn.ws.close()
                    await until(lambda: venue.stale_markets(venue.clock.now_ms()) == {CID}, what="stale")
                    await until(
                        lambda: engine.decisions.get("SKIP_STALE_BOOK", 0) >= 3, what="three stale cycles"
                    )
                    assert engine.counters["orders"] == 0 and engine.decisions.get("PROPOSE", 0) == 0
                    h.faults.ws_drop_rate = 0.0
                    for conn in list(h.server.market_conns):
                        await conn.ws.close()  # the reconnect brings a fresh snapshot
                    await until(lambda: engine.counters["fills"] > 0, what="a fill from the fresh book")
                finally:
                    venue.stop()
                    await asyncio.wait_for(task, WAIT_S)
                    await store.close()
            assert_nothing_sent(h, traffic)

    asyncio.run(go())
