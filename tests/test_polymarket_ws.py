"""Market-channel client against a loopback Polymarket-protocol WebSocket server this file controls.

Each test drives one coroutine with `asyncio.run` (no pytest-asyncio). Waiting is on conditions
(`until`), never on a fixed sleep; keepalive and backoff intervals are shortened, jitter is seeded,
and staleness runs on a SimClock.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from engine.book import OrderBook
from engine.clock import SimClock
from engine.domain import Outcome, Side
from engine.feeds.events import MarketResolved, TickSizeChange
from engine.units import ONE, px_to_str, qty_to_str
from engine.venues.polymarket.market_channel import MarketChannel
from engine.venues.polymarket.market_ws import Backoff, BestBidAsk, LastTrade, MarketStream, NewMarket

START = 1_790_000_000_000
S = 1_000_000  # one share in size units
CID = "0x" + "11" * 32
YES, NO = "1001", "1002"


def market(i: int) -> tuple[str, str, str]:
    return f"0x{i:064x}", str(10**20 + 2 * i), str(10**20 + 2 * i + 1)


class FakeConn:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.assets: set[str] = set()
        self.messages: list[dict] = []


class FakeExchange:
    """Just enough of the market channel: subscribe / operation, initial dump, PING/PONG, and a REST
    `/book` for the same books, all in YES terms internally."""

    def __init__(self, markets: list[tuple[str, str, str]]) -> None:
        self.books: dict[str, OrderBook] = {}
        self.assets: dict[str, tuple[str, bool]] = {}
        for cid, yes, no in markets:
            book = OrderBook()
            book.replace([(4800, 100 * S), (4900, 50 * S)], [(5100, 40 * S), (5200, 80 * S)], START)
            self.books[cid] = book
            self.assets[yes] = (cid, False)
            self.assets[no] = (cid, True)
        self.ts = START
        self.tick = "0.01"
        self.conns: list[FakeConn] = []
        self.answer_pings = True
        self.initial_dump = True
        self.pings = 0
        self.rest_calls: list[str] = []
        self.sent_books: list[dict] = []
        self.fetched = asyncio.Event()
        self.hold: asyncio.Event | None = None  # while set to an unset event, REST answers wait for it

    async def handler(self, ws: ServerConnection) -> None:
        conn = FakeConn(ws)
        self.conns.append(conn)
        try:
            async for msg in ws:
                if msg == "PING":
                    self.pings += 1
                    if self.answer_pings:
                        await ws.send("PONG")
                    continue
                data = json.loads(msg)
                conn.messages.append(data)
                if data.get("type") == "market" or data.get("operation") == "subscribe":
                    new = [a for a in data["assets_ids"] if a not in conn.assets]
                    conn.assets.update(new)
                    if self.initial_dump and new:
                        books = [self.book_event(a) for a in new]
                        self.sent_books.extend(books)
                        await ws.send(json.dumps(books))
                elif data.get("operation") == "unsubscribe":
                    conn.assets.difference_update(data["assets_ids"])
        except ConnectionClosed:
            pass

    def rest_book(self, asset: str) -> dict:
        cid, is_no = self.assets[asset]
        view = self.books[cid].view(Outcome.NO if is_no else Outcome.YES)
        return view.summary(
            market=cid,
            asset_id=asset,
            timestamp=self.ts,
            min_order_size="5",
            tick_size=self.tick,
            neg_risk=False,
            last_trade_price="0.5",
        )

    def book_event(self, asset: str) -> dict:
        return {"event_type": "book", **self.rest_book(asset)}

    def change(self, cid: str, is_bid: bool, px: int, qty: int, *, bump: bool = True) -> dict:
        """Apply a level change to the server's book and return the `price_change` it publishes."""
        if bump:
            self.ts += 1
        book = self.books[cid]
        (book.set_bid if is_bid else book.set_ask)(px, qty)
        entries = []
        for asset, (c, is_no) in self.assets.items():
            if c != cid:
                continue
            view = book.view(Outcome.NO if is_no else Outcome.YES)
            bid, ask = view.best_bid, view.best_ask
            buy = is_bid != is_no
            entries.append(
                {
                    "asset_id": asset,
                    "price": px_to_str(ONE - px if is_no else px),
                    "size": qty_to_str(qty),
                    "side": "BUY" if buy else "SELL",
                    "hash": f"{self.ts:040x}",
                    "best_bid": "0" if bid is None else px_to_str(bid),
                    "best_ask": "1" if ask is None else px_to_str(ask),
                }
            )
        return {
            "event_type": "price_change",
            "market": cid,
            "timestamp": str(self.ts),
            "price_changes": entries,
        }

    def conn_of(self, asset: str) -> FakeConn:
        return next(c for c in reversed(self.conns) if asset in c.assets)

    async def send(self, payload: object, conn: FakeConn | None = None) -> None:
        target = conn or self.conns[-1]
        await target.ws.send(payload if isinstance(payload, str) else json.dumps(payload))

    async def fetch_book(self, asset: str) -> dict:
        self.rest_calls.append(asset)
        book = self.rest_book(asset)  # the book as of the request
        self.fetched.set()
        if self.hold is not None:
            await self.hold.wait()
        return book


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.001)


class Harness:
    def __init__(self, markets: list[tuple[str, str, str]], **kwargs: object) -> None:
        self.exchange = FakeExchange(markets)
        self.channel = MarketChannel()
        self.books: dict[str, OrderBook] = {}
        for cid, yes, no in markets:
            self.books[cid] = OrderBook()
            self.channel.add_market(cid, yes, no, self.books[cid])
        self.clock = SimClock(START)
        self.events: list[object] = []
        self.kwargs = kwargs
        self.stream: MarketStream | None = None

    def same_as_server(self, cid: str = CID) -> bool:
        ours, theirs = self.books[cid], self.exchange.books[cid]
        return ours.bids == theirs.bids and ours.asks == theirs.asks


def run_scenario(
    markets: list[tuple[str, str, str]],
    body: Callable[[Harness, MarketStream], Awaitable[None]],
    assets: list[str] | None = None,
    setup: Callable[[FakeExchange], None] | None = None,
    **kwargs: object,
) -> Harness:
    h = Harness(markets, **kwargs)
    if setup is not None:
        setup(h.exchange)

    async def main() -> None:
        async with serve(h.exchange.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            options: dict = {
                "fetch_book": h.exchange.fetch_book,
                "clock": h.clock,
                "on_event": h.events.append,
                "rng": random.Random(7),
                "backoff_initial": 0.01,
                "backoff_max": 0.05,
                "min_resync_interval": 0.0,
            }
            options.update(kwargs)
            stream = MarketStream(f"ws://127.0.0.1:{port}/ws/market", h.channel, **options)
            h.stream = stream
            stream.add_assets(assets if assets is not None else [a for _, y, n in markets for a in (y, n)])
            task = asyncio.create_task(stream.run())
            try:
                await body(h, stream)
            finally:
                await stream.close()
                await asyncio.wait_for(task, 5)

    asyncio.run(main())
    return h


async def synced(stream: MarketStream, *assets: str) -> None:
    await until(lambda: all(stream.is_synced(a) for a in assets))


# ------------------------------------------------------------------------------------------- tests


def test_subscribe_then_snapshot_then_deltas_build_the_servers_book() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        first = ex.conns[0].messages[0]
        assert first["type"] == "market"
        assert sorted(first["assets_ids"]) == [YES, NO]
        assert first["custom_feature_enabled"] is True and first["initial_dump"] is True
        assert h.same_as_server()
        assert stream.tick(YES) == 100 and stream.tick(NO) == 100
        changes = [
            ex.change(CID, True, 4950, 30 * S),  # new best bid
            ex.change(CID, False, 5100, 0),  # best ask level removed
            ex.change(CID, False, 5050, 12_345_678),  # new best ask, 6-decimal size
            ex.change(CID, True, 4800, 0),
        ]
        await ex.send(changes[:2])  # an array frame
        for event in changes[2:]:
            await ex.send(event)
        await until(lambda: stream.stats.messages >= 2 + 4)
        assert h.same_as_server()
        assert h.books[CID].best_bid == 4950 and h.books[CID].best_ask == 5050
        stats = stream.stats
        assert (stats.gaps, stats.resyncs, stats.duplicates, stats.unsynced) == (0, 0, 0, 0)
        assert stats.connections == 1 and stats.shards == 1

    h = run_scenario([(CID, YES, NO)], body)
    assert h.exchange.rest_calls == []


def test_duplicate_and_old_messages_do_not_corrupt_the_book() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        d1 = ex.change(CID, True, 4950, 10 * S)
        d2 = ex.change(CID, True, 4950, 0)  # same level, back out: replaying d1 after d2 would corrupt
        await ex.send(d1)
        await ex.send(d2)
        await ex.send(d2)  # duplicate, same timestamp
        await ex.send(d1)  # old re-delivery, earlier timestamp
        await ex.send(ex.sent_books[0])  # the initial snapshot again
        await until(lambda: stream.stats.messages >= 2 + 5)
        assert stream.stats.duplicates == 3
        assert (stream.stats.gaps, stream.stats.resyncs) == (0, 0)
        assert h.same_as_server()
        assert h.books[CID].bid_size(4950) == 0

    h = run_scenario([(CID, YES, NO)], body)
    assert h.exchange.rest_calls == []


def test_reordered_messages_trigger_a_resync_that_restores_the_servers_book() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        d3 = ex.change(CID, True, 4950, 10 * S)
        d4 = ex.change(CID, False, 5150, 7 * S)
        await ex.send(d4)
        await ex.send(d3)  # older and never seen: the order is broken
        await until(lambda: stream.stats.resyncs == 1 and stream.is_synced(YES))
        assert stream.stats.gaps >= 1
        assert h.same_as_server()
        # The feed carries on normally on top of the REST snapshot.
        await ex.send(ex.change(CID, True, 4960, 3 * S))
        await until(lambda: h.books[CID].best_bid == 4960)
        assert h.same_as_server()

    h = run_scenario([(CID, YES, NO)], body)
    assert h.exchange.rest_calls == [YES]


def test_best_bid_ask_mismatch_resyncs_from_rest() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        ex.change(CID, True, 4990, 5 * S)  # applied on the server, message lost
        await ex.send(ex.change(CID, False, 5300, 9 * S))  # its best_bid (0.499) exposes the loss
        await until(lambda: stream.stats.resyncs == 1 and stream.is_synced(NO))
        assert stream.stats.gaps == 1
        assert h.same_as_server()
        assert h.books[CID].best_bid == 4990

    h = run_scenario([(CID, YES, NO)], body)
    assert h.exchange.rest_calls == [YES]


def test_deltas_arriving_during_a_resync_are_replayed_on_the_snapshot() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        ex.hold = asyncio.Event()
        await synced(stream, YES, NO)
        ex.change(CID, True, 4990, 5 * S)  # lost
        await ex.send(ex.change(CID, False, 5300, 9 * S))  # mismatch: resync starts
        await ex.fetched.wait()
        await ex.send(ex.change(CID, True, 4995, 1 * S))  # newer than the REST snapshot: must survive it
        await until(lambda: stream.stats.messages >= 2 + 2)
        assert not stream.is_synced(YES)
        ex.hold.set()
        await until(lambda: stream.is_synced(YES))
        assert h.same_as_server()
        assert h.books[CID].best_bid == 4995

    run_scenario([(CID, YES, NO)], body)


def test_server_close_reconnects_resubscribes_and_waits_for_a_fresh_snapshot() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        ex.initial_dump = False  # hold the next snapshot so the unsynced window can be observed
        await ex.conns[0].ws.close()
        await until(lambda: len(ex.conns) == 2 and ex.conns[1].messages)
        resub = ex.conns[1].messages[0]
        assert resub["type"] == "market" and sorted(resub["assets_ids"]) == [YES, NO]
        assert not stream.is_synced(YES) and not stream.is_synced(NO)
        assert sorted(stream.stale_assets(None, 60_000)) == [YES, NO]
        # The book moved while we were away; a delta before the snapshot must not be applied.
        ex.change(CID, True, 4700, 1 * S)
        await ex.send(ex.change(CID, False, 5000, 2 * S))
        await until(lambda: stream.stats.dropped == 1)
        await ex.send([ex.book_event(YES), ex.book_event(NO)])
        await synced(stream, YES, NO)
        assert h.same_as_server()
        assert stream.stats.reconnects == 1 and stream.stats.connects == 2

    h = run_scenario([(CID, YES, NO)], body, snapshot_timeout=30.0)
    assert h.exchange.rest_calls == []


def test_missing_snapshot_after_subscribe_falls_back_to_rest() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        await until(lambda: stream.stats.resyncs == 1 and stream.is_synced(YES) and stream.is_synced(NO))
        assert h.same_as_server()
        assert stream.stats.gaps == 1

    def no_dump(ex: FakeExchange) -> None:
        ex.initial_dump = False

    h = run_scenario([(CID, YES, NO)], body, setup=no_dump, snapshot_timeout=0.05)
    assert h.exchange.rest_calls == [YES]


def test_unanswered_ping_is_a_dead_socket() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        await until(lambda: ex.pings >= 4)  # answered pings keep the connection
        assert len(ex.conns) == 1 and stream.stats.ping_timeouts == 0
        ex.answer_pings = False
        await until(lambda: stream.stats.ping_timeouts >= 1 and len(ex.conns) >= 2)
        ex.answer_pings = True
        await synced(stream, YES, NO)
        assert stream.stats.reconnects >= 1
        assert ex.conns[-1].messages[0]["type"] == "market"

    run_scenario([(CID, YES, NO)], body, ping_interval=0.02, pong_timeout=0.3)


def test_more_than_200_assets_are_sharded_with_both_tokens_together() -> None:
    markets = [market(i) for i in range(110)]  # 220 assets

    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await until(lambda: len(ex.conns) == 2 and all(c.assets for c in ex.conns))
        await synced(stream, *[a for _, y, n in markets for a in (y, n)])
        sizes = sorted(len(c.assets) for c in ex.conns)
        assert sizes == [20, 200]
        for _, yes, no in markets:
            assert any(yes in c.assets and no in c.assets for c in ex.conns)
        assert stream.stats.connections == 2 and stream.stats.shards == 2
        assert [len(s) for s in stream.shard_assets()] == [200, 20]
        # Live changes go to the shard with room, as an `operation` message.
        small = ex.conn_of(markets[100][1])
        extra = market(500)
        ex.books[extra[0]] = OrderBook()
        ex.books[extra[0]].replace([(3000, S)], [(3100, S)], START)
        ex.assets[extra[1]] = (extra[0], False)
        ex.assets[extra[2]] = (extra[0], True)
        h.books[extra[0]] = OrderBook()
        h.channel.add_market(*extra, h.books[extra[0]])
        stream.add_assets([extra[1], extra[2]])
        await synced(stream, extra[1], extra[2])
        op = small.messages[-1]
        assert op == {
            "operation": "subscribe",
            "assets_ids": [extra[1], extra[2]],
            "custom_feature_enabled": True,
        }
        assert h.same_as_server(extra[0])
        big = ex.conn_of(markets[0][1])
        stream.remove_assets([markets[0][1], markets[0][2]])
        await until(lambda: markets[0][1] not in big.assets)
        assert big.messages[-1] == {"operation": "unsubscribe", "assets_ids": [markets[0][1], markets[0][2]]}
        assert not stream.is_synced(markets[0][1])

    run_scenario(markets, body)


def test_staleness_per_book_on_the_injected_clock() -> None:
    other = market(2)  # on its own connection (two assets per connection in this test)

    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        clock = h.clock
        assert sorted(stream.stale_assets(None, 1_000)) == sorted([YES, NO, other[1], other[2]])
        await synced(stream, YES, NO, other[1], other[2])
        assert stream.book_age_ms(YES) == 0
        clock.advance_to(START + 4_000)
        await ex.send(ex.change(CID, True, 4950, S), ex.conn_of(YES))
        await until(lambda: stream.stats.messages >= 4 + 1)
        clock.advance_to(START + 6_000)
        assert stream.book_age_ms(YES) == 2_000 and stream.book_age_ms(NO) == 2_000
        assert stream.book_age_ms(other[1]) == 6_000
        assert sorted(stream.stale_assets(None, 5_000)) == sorted([other[1], other[2]])
        assert stream.stale_assets(START + 6_000, 10_000) == []
        # Any frame on a connection proves every book on it current as of its arrival (frames are ordered).
        quiet = {
            "event_type": "best_bid_ask",
            "market": "0xelse",
            "asset_id": "9",
            "best_bid": "0.1",
            "best_ask": "0.2",
            "spread": "0.1",
            "timestamp": "1",
        }
        await ex.send(quiet, ex.conn_of(other[1]))
        await until(lambda: stream.stats.messages >= 4 + 2)
        assert stream.book_age_ms(other[1]) == 0 and stream.book_age_ms(YES) == 2_000
        # A gap makes the book stale at once, whatever its age.
        ex.hold = asyncio.Event()  # the REST resync stays pending
        ex.change(CID, True, 4990, S)
        await ex.send(ex.change(CID, False, 5400, S), ex.conn_of(YES))
        await until(lambda: not stream.is_synced(YES))
        assert stream.book_age_ms(YES) is None
        assert sorted(stream.stale_assets(None, 60_000)) == [YES, NO]

    run_scenario([(CID, YES, NO), other], body, max_assets_per_conn=2)


def test_tick_size_change_and_forwarded_events() -> None:
    async def body(h: Harness, stream: MarketStream) -> None:
        ex = h.exchange
        await synced(stream, YES, NO)
        tick = {
            "event_type": "tick_size_change",
            "asset_id": YES,
            "market": CID,
            "old_tick_size": "0.01",
            "new_tick_size": "0.001",
            "timestamp": str(START + 50),
        }
        await ex.send(tick)
        await ex.send(tick)  # re-delivered: no second event
        await ex.send(
            [
                {
                    "event_type": "last_trade_price",
                    "asset_id": YES,
                    "market": CID,
                    "fee_rate_bps": "0",
                    "price": "0.491",
                    "side": "SELL",
                    "size": "85.36",
                    "timestamp": str(START + 60),
                },
                {
                    "event_type": "best_bid_ask",
                    "market": CID,
                    "asset_id": NO,
                    "best_bid": "0",
                    "best_ask": "0.77",
                    "spread": "0.77",
                    "timestamp": str(START + 61),
                },
                {
                    "event_type": "new_market",
                    "id": "1",
                    "question": "Q?",
                    "market": "0xnew",
                    "slug": "q",
                    "assets_ids": ["7", "8"],
                    "outcomes": ["Yes", "No"],
                    "timestamp": str(START + 62),
                    "order_price_min_tick_size": "0.01",
                },
                {
                    "event_type": "market_resolved",
                    "id": "1",
                    "market": CID,
                    "assets_ids": [YES, NO],
                    "winning_asset_id": NO,
                    "winning_outcome": "No",
                    "timestamp": str(START + 63),
                },
                {"event_type": "something_new", "timestamp": "1"},
            ]
        )
        await until(lambda: len(h.events) >= 5)
        assert stream.tick(YES) == 10 and stream.tick(NO) == 10

    h = run_scenario([(CID, YES, NO)], body)
    assert h.events == [
        TickSizeChange(CID, START + 50, 100, 10),
        LastTrade(CID, YES, START + 60, 4910, 85_360_000, Side.SELL, 0),
        BestBidAsk(CID, NO, START + 61, None, 7700),
        NewMarket("0xnew", START + 62, "Q?", "q", ("7", "8"), ("Yes", "No"), 100, raw={}),
        MarketResolved(CID, START + 63, Decimal(0)),
    ]


def test_add_assets_needs_a_route() -> None:
    stream = MarketStream(
        "ws://127.0.0.1:1", MarketChannel(), fetch_book=FakeExchange([]).fetch_book, clock=SimClock()
    )
    with pytest.raises(ValueError, match="no route"):
        stream.add_assets(["123"])


def test_backoff_is_jittered_exponential_and_seeded() -> None:
    a = Backoff(0.5, 8.0, random.Random(1))
    b = Backoff(0.5, 8.0, random.Random(1))
    delays = [a.next_delay() for _ in range(8)]
    assert delays == [b.next_delay() for _ in range(8)]
    for n, d in enumerate(delays):
        cap = min(8.0, 0.5 * 2**n)
        assert cap / 2 <= d <= cap
    a.reset()
    assert a.next_delay() <= 0.5


def test_a_resolution_without_a_winner_pays_nobody() -> None:
    """A 50/50 (or malformed) market_resolved names no winner: no MarketResolved is emitted (paying NO by
    default would hand the YES side's money away); the venue's REST status check settles it instead."""
    channel = MarketChannel()
    from engine.book import OrderBook

    channel.add_market(CID, YES, NO, OrderBook())
    stream = MarketStream(
        "ws://127.0.0.1:1", channel, fetch_book=FakeExchange([]).fetch_book, clock=SimClock()
    )
    assert stream._yes_payout({"winning_asset_id": YES, "assets_ids": [YES, NO]}) == Decimal(1)
    assert stream._yes_payout({"winning_asset_id": NO, "assets_ids": [YES, NO]}) == Decimal(0)
    assert stream._yes_payout({"winning_asset_id": "", "assets_ids": [YES, NO]}) is None
    assert stream._yes_payout({"winning_asset_id": "", "winning_outcome": ""}) is None
    assert stream._yes_payout({"winning_outcome": "Down"}) == Decimal(0)
