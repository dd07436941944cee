"""User-channel client: auth, order events, the fill lifecycle, and backfill after a reconnect.

The trade state machine is exercised directly through `ingest_trade` (the same path the socket uses)
and end to end against a loopback server this file controls. No pytest-asyncio: `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from engine.clock import SimClock
from engine.domain import Liquidity, Side
from engine.venues.polymarket.user_ws import OrderEvent, TradeFill, UserStream, parse_fills

API_KEY = "3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"
SECRET = "c2VjcmV0LXNlY3JldA=="
PASSPHRASE = "pass-phrase-123"
OTHER = "ce16a0b1-0000-0000-0000-0000000000aa"
CID = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
ASSET = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
NO_ASSET = "48331043336612883890938759509493159234755048973500640148014422747788308965732"
START_S = 1_790_000_000
START = START_S * 1000


def trade(
    trade_id: str = "t-1",
    status: str = "MATCHED",
    *,
    trader_side: str = "TAKER",
    size: str = "5",
    price: str = "0.52",
    makers: list[dict] | None = None,
    match_time: int = START_S,
) -> dict:
    return {
        "event_type": "trade",
        "type": "TRADE",
        "id": trade_id,
        "taker_order_id": "0xtaker",
        "market": CID,
        "asset_id": ASSET,
        "side": "BUY",
        "size": size,
        "price": price,
        "fee_rate_bps": "0",
        "status": status,
        "match_time": str(match_time),
        "last_update": str(match_time + 1),
        "timestamp": str(match_time * 1000 + 125),
        "outcome": "Yes",
        "owner": API_KEY,
        "trade_owner": API_KEY,
        "maker_address": "0xa3D8",
        "bucket_index": 0,
        "transaction_hash": "0xhash" if status in ("MINED", "CONFIRMED") else "",
        "trader_side": trader_side,
        "maker_orders": makers
        if makers is not None
        else [
            {
                "order_id": "0xmaker",
                "owner": OTHER,
                "maker_address": "0x629B",
                "matched_amount": size,
                "price": price,
                "fee_rate_bps": "0",
                "asset_id": ASSET,
                "outcome": "Yes",
                "side": "SELL",
            }
        ],
    }


def order(kind: str, status: str, size_matched: str) -> dict:
    return {
        "event_type": "order", "type": kind, "id": "0xorder", "owner": API_KEY, "order_owner": API_KEY,
        "market": CID, "asset_id": ASSET, "side": "BUY", "price": "0.513", "original_size": "5",
        "size_matched": size_matched, "outcome": "Yes", "order_type": "GTC", "status": status,
        "associate_trades": ["t-1"] if kind == "UPDATE" else None, "maker_address": "0xa3D8",
        "created_at": "1725842520", "expiration": "0", "timestamp": "1725842520990",
    }  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, object]] = []
        self.backfill_calls: list[int] = []
        self.backfill_rows: list[dict] = []
        self.backfill_failures = 0

    def kinds(self, kind: str) -> list:
        return [x for k, x in self.log if k == kind]

    async def backfill(self, since_s: int) -> list[dict]:
        self.backfill_calls.append(since_s)
        if self.backfill_failures:
            self.backfill_failures -= 1
            raise ConnectionError("REST down")
        return list(self.backfill_rows)

    def stream(self, url: str = "ws://127.0.0.1:1/ws/user", **kwargs: object) -> UserStream:
        async def confirmed(fill: TradeFill) -> None:  # callbacks may be coroutines
            self.log.append(("confirmed", fill))

        options: dict = {
            "api_key": API_KEY,
            "secret": SECRET,
            "passphrase": PASSPHRASE,
            "backfill_trades": self.backfill,
            "clock": SimClock(START),
            "markets": [CID],
            "on_order": lambda e: self.log.append(("order", e)),
            "on_fill_provisional": lambda f: self.log.append(("provisional", f)),
            "on_fill_confirmed": confirmed,
            "on_fill_reversed": lambda f: self.log.append(("reversed", f)),
            "rng": random.Random(3),
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
        }
        options.update(kwargs)
        return UserStream(url, **options)


def ingest_all(stream: UserStream, rows: list[dict]) -> None:
    async def main() -> None:
        for row in rows:
            await stream.ingest_trade(row)

    asyncio.run(main())


# ------------------------------------------------------------------- the trade state machine


def test_matched_mined_confirmed_is_one_provisional_then_one_confirmed_fill() -> None:
    rec = Recorder()
    stream = rec.stream()
    ingest_all(stream, [trade(status="MATCHED"), trade(status="MINED"), trade(status="CONFIRMED")])
    assert [k for k, _ in rec.log] == ["provisional", "confirmed"]
    (fill,) = rec.kinds("provisional")
    assert fill == TradeFill(
        trade_id="t-1", order_id="0xtaker", market=CID, asset_id=ASSET, outcome="Yes", side=Side.BUY,
        price=5200, size=5_000_000, fee_rate_bps=0, liquidity=Liquidity.TAKER, status="MATCHED",
        match_time=START_S, transaction_hash="", bucket_index=0,
    )  # fmt: skip
    (done,) = rec.kinds("confirmed")
    assert done.key == fill.key and done.status == "CONFIRMED" and done.transaction_hash == "0xhash"
    assert stream.trade_status("t-1") == "CONFIRMED"
    assert stream.stats.provisional == 1 and stream.stats.confirmed == 1


def test_failed_reverses_a_provisional_fill_and_nothing_revives_it() -> None:
    rec = Recorder()
    stream = rec.stream()
    ingest_all(
        stream,
        [trade(status="MATCHED"), trade(status="RETRYING"), trade(status="FAILED"), trade(status="CONFIRMED"),
         trade(status="MATCHED"), trade(status="FAILED")],
    )  # fmt: skip
    assert [k for k, _ in rec.log] == ["provisional", "reversed"]
    (reversed_fill,) = rec.kinds("reversed")
    assert reversed_fill.status == "FAILED" and reversed_fill.size == 5_000_000


def test_duplicates_and_out_of_order_statuses_are_idempotent() -> None:
    rec = Recorder()
    stream = rec.stream()
    ingest_all(
        stream,
        [
            trade(status="MINED"),  # before MATCHED
            trade(status="MATCHED"),
            trade(status="MINED"),
            trade(status="CONFIRMED"),
            trade(status="CONFIRMED"),
            trade(status="MATCHED"),  # late
            trade("t-2", "FAILED"),  # first seen failed: nothing to report, nothing to revive later
            trade("t-2", "MATCHED"),
            trade("t-3", "TRADE_STATUS_CONFIRMED"),  # REST spelling, first seen confirmed
        ],
    )
    assert [(k, f.trade_id) for k, f in rec.log] == [
        ("provisional", "t-1"),
        ("confirmed", "t-1"),
        ("provisional", "t-3"),
        ("confirmed", "t-3"),
    ]
    assert stream.stats.duplicates == 6


def test_maker_view_reports_our_maker_orders_only() -> None:
    rec = Recorder()
    stream = rec.stream()
    makers = [
        {"order_id": "0xmine1", "owner": API_KEY, "matched_amount": "3", "price": "0.48", "fee_rate_bps": "0",
         "asset_id": ASSET, "outcome": "Yes", "side": "SELL"},
        {"order_id": "0xtheirs", "owner": OTHER, "matched_amount": "1", "price": "0.48", "fee_rate_bps": "0",
         "asset_id": ASSET, "outcome": "Yes", "side": "SELL"},
        # a cross-token match without the newer `side` field: BUY YES against BUY NO
        {"order_id": "0xmine2", "owner": API_KEY, "matched_amount": "1.5", "price": "0.52", "fee_rate_bps": "0",
         "asset_id": NO_ASSET, "outcome": "No"},
    ]  # fmt: skip
    row = trade("t-9", "MATCHED", trader_side="MAKER", size="5.5", price="0.48", makers=makers)
    row["owner"] = OTHER  # the taker's key
    ingest_all(stream, [row, row | {"status": "CONFIRMED"}])
    fills = rec.kinds("provisional")
    assert [(f.order_id, f.side, f.price, f.size, f.liquidity, f.asset_id) for f in fills] == [
        ("0xmine1", Side.SELL, 4800, 3_000_000, Liquidity.MAKER, ASSET),
        ("0xmine2", Side.BUY, 5200, 1_500_000, Liquidity.MAKER, NO_ASSET),
    ]
    assert [f.order_id for f in rec.kinds("confirmed")] == ["0xmine1", "0xmine2"]
    # A trade with no fill of ours changes nothing.
    ingest_all(stream, [trade("t-10", trader_side="MAKER", makers=makers[1:2])])
    assert stream.stats.foreign == 1 and len(rec.kinds("provisional")) == 2


def test_rest_rows_without_trader_side_are_matched_by_owner() -> None:
    row = trade("t-4", "TRADE_STATUS_MINED")
    del row["trader_side"], row["event_type"], row["type"]
    (fill,) = parse_fills(row, API_KEY)
    assert fill.liquidity is Liquidity.TAKER and fill.status == "MINED"
    assert parse_fills(row, "someone-else") == []


def test_credentials_stay_out_of_repr() -> None:
    stream = Recorder().stream()
    assert SECRET not in repr(stream) and PASSPHRASE not in repr(stream) and API_KEY not in repr(stream)
    assert SECRET not in repr(vars(stream)) and PASSPHRASE not in repr(vars(stream))


# ---------------------------------------------------------------------------- over the wire


class FakeUserServer:
    def __init__(self) -> None:
        self.conns: list[ServerConnection] = []
        self.received: list[list[object]] = []
        self.answer_pings = True

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        inbox: list[object] = []
        self.received.append(inbox)
        try:
            async for msg in ws:
                if msg == "PING":
                    if self.answer_pings:
                        await ws.send("PONG")
                    continue
                inbox.append(json.loads(msg))
        except ConnectionClosed:
            pass

    async def send(self, payload: object) -> None:
        await self.conns[-1].send(json.dumps(payload))


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.001)


def run_user(
    rec: Recorder, body: Callable[[FakeUserServer, UserStream], Awaitable[None]], **kwargs: object
) -> UserStream:
    server = FakeUserServer()
    holder: list[UserStream] = []

    async def main() -> None:
        async with serve(server.handler, "127.0.0.1", 0) as ws_server:
            port = ws_server.sockets[0].getsockname()[1]
            stream = rec.stream(f"ws://127.0.0.1:{port}/ws/user", **kwargs)
            holder.append(stream)
            task = asyncio.create_task(stream.run())
            try:
                await body(server, stream)
            finally:
                await stream.close()
                await asyncio.wait_for(task, 5)

    asyncio.run(main())
    return holder[0]


def test_auth_frame_orders_and_fills_over_the_socket() -> None:
    rec = Recorder()

    async def body(server: FakeUserServer, stream: UserStream) -> None:
        await until(lambda: bool(server.received and server.received[0]))
        assert server.received[0][0] == {
            "auth": {"apiKey": API_KEY, "secret": SECRET, "passphrase": PASSPHRASE},
            "type": "user",
            "markets": [CID],
        }
        await server.send(order("PLACEMENT", "LIVE", "0"))
        await server.send([trade(status="MATCHED"), order("UPDATE", "MATCHED", "5")])
        await server.send(trade(status="MATCHED"))
        await server.send(trade(status="MINED"))
        await server.send(trade(status="CONFIRMED"))
        await server.send(order("CANCELLATION", "CANCELED_order couldn't be fully filled.", ""))
        await until(lambda: len(rec.log) >= 5)
        stream.subscribe_markets(["0xother"])
        await until(lambda: len(server.received[0]) >= 2)
        assert server.received[0][1] == {"operation": "subscribe", "markets": ["0xother"]}

    stream = run_user(rec, body)
    assert [k for k, _ in rec.log] == ["order", "provisional", "order", "confirmed", "order"]
    placement, update, cancel = rec.kinds("order")
    assert isinstance(placement, OrderEvent)
    assert (placement.kind, placement.price, placement.original_size, placement.size_matched) == (
        "PLACEMENT", 5130, 5_000_000, 0,
    )  # fmt: skip
    assert (
        update.kind == "UPDATE" and update.size_matched == 5_000_000 and update.associate_trades == ("t-1",)
    )
    assert cancel.kind == "CANCELLATION" and cancel.size_matched == 0 and cancel.status.startswith("CANCELED")
    assert stream.stats.backfills == 0  # first connection, no start window given


def test_reconnect_backfills_and_a_missed_trade_is_reported_exactly_once() -> None:
    rec = Recorder()

    async def body(server: FakeUserServer, stream: UserStream) -> None:
        await until(lambda: stream.connected)
        await server.send(trade("t-1", "MATCHED"))
        await until(lambda: len(rec.kinds("provisional")) == 1)
        # While we are away: t-1 confirms and t-2 happens; the channel will not replay either.
        rec.backfill_rows = [
            trade("t-2", "TRADE_STATUS_MATCHED", match_time=START_S + 5),
            trade("t-1", "TRADE_STATUS_CONFIRMED"),
        ]
        rec.backfill_failures = 1  # the first backfill attempt fails and is retried
        await server.conns[0].close()
        await until(lambda: stream.stats.backfills == 1)
        assert len(server.conns) == 2 and rec.backfill_calls == [START_S - 60, START_S - 60]
        # The same trade arriving late on the socket, and a second reconnect's backfill, add nothing.
        await server.send(trade("t-2", "MATCHED", match_time=START_S + 5))
        await server.conns[1].close()
        await until(lambda: stream.stats.backfills == 2)
        await server.send(trade("t-2", "CONFIRMED", match_time=START_S + 5))
        await until(lambda: len(rec.kinds("confirmed")) == 2)

    stream = run_user(rec, body)
    # Backfill rows are applied oldest first: t-1 confirms, then t-2 is seen for the first time.
    assert [(k, f.trade_id) for k, f in rec.log] == [
        ("provisional", "t-1"),
        ("confirmed", "t-1"),
        ("provisional", "t-2"),
        ("confirmed", "t-2"),
    ]
    assert stream.stats.reconnects == 2


def test_unanswered_ping_reconnects_and_backfills() -> None:
    rec = Recorder()

    async def body(server: FakeUserServer, stream: UserStream) -> None:
        await until(lambda: stream.connected)
        server.answer_pings = False
        await until(lambda: len(server.conns) >= 2)
        server.answer_pings = True
        await until(lambda: stream.stats.backfills >= 1)

    stream = run_user(rec, body, ping_interval=0.02, pong_timeout=0.3, backfill_margin_s=30)
    assert rec.backfill_calls[0] == START_S - 30
    assert stream.stats.reconnects >= 1
