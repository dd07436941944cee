"""Fuzzing the three wire parsers: the market channel (MarketStream's frame handler), REST `/book` bodies
(the resync and the audit's check) and the user channel (orders, trades, REST backfill rows).

Inputs come from `FeedFuzzer`, a seeded model of an exchange that produces valid traffic (an uncrossed
reference book per market, both tokens' entries of every change, increasing timestamps) and corrupts it:
random bytes, truncated JSON, a field replaced by a value of the wrong type, a huge / negative / NaN /
exponent / Unicode-digit / underscore / edge-of-range number, a deleted field, raw JSON spliced in
(`NaN`, `1e999`, deep nesting), a list where an object belongs. Hypothesis drives the same corruptions
one event at a time (derandomized, no example database); seeded loops run long mixed sequences.

Invariants: nothing raises out of `MarketStream._on_frame`, the REST resync, `UserStream._on_frame` or the
backfill, and nothing is counted as an internal error (bad input is refused as such, not by accident);
every book holds only levels with 0 < price < 1 and size > 0, bids below asks; no order or fill callback
sees a size <= 0 or a price outside (0, 1). `bench/fuzz.py` runs the same machinery at volume.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import OrderBook
from engine.clock import SimClock
from engine.domain import Outcome, Side
from engine.units import (
    ONE,
    PRICE_ACCEPTED,
    WireError,
    px_to_str,
    qty_to_str,
    strict_px,
    strict_qty,
    strict_tick,
    strict_uint,
)
from engine.venues.polymarket.market_channel import MarketChannel, check_price_change
from engine.venues.polymarket.market_ws import MarketStream, RefusalLog
from engine.venues.polymarket.user_ws import OrderEvent, TradeFill, UserStream, parse_fills, parse_order

START = 1_790_000_000_000
OWNER = "3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"
OTHER = "ce16a0b1-0000-0000-0000-0000000000aa"

# --- corruptions ------------------------------------------------------------------------------------

BAD_VALUES: tuple[object, ...] = (
    None, True, False, 0, 1, -1, 0.5, 1.5, -0.5, 10**30, 1e300, -1e-300, [], {}, [1], {"price": "0.5"},
    [[["deep"]]], [{"price": "0.5", "size": "1"}],
    "", " ", "0", "1", "1.0", "0.0000", "1.5", "-0.5", "-0", "+0.5", "0.00001", "1.0001", "0.50001",
    "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "1e-2", "5E-1", "0x10", "1e3",
    "١٠٠", "٠.٥", "０.５", "½", "²", "1_000", "0.5_0", "1,000", " 0.5", "0.5 ", "0.5\n", "\t1", "\x00",
    "9" * 40, "0." + "9" * 40, "1" * 5000, "0..5", ".", "5.", ".5", "BUY ", "buy", "HOLD", "TAKER ",
    "-1", "99999999999999999999", "-1790000000000", "1790000000000.5",
)  # fmt: skip
# JSON text spliced where a value goes: none of it is a number or value the exchange writes.
RAW_TEXTS: tuple[bytes, ...] = (
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1E400", b"-0", b"1.5e3", b"00", b"+1",
    b"0x1", b"'0.5'", b"undefined", b"[" * 300 + b"]" * 300, b"[" * 1100 + b"]" * 1100,
    b'{"a":' * 300 + b"1" + b"}" * 300, b"12345678901234567890123456789",
)  # fmt: skip
OPS = ("replace", "delete", "raw", "wrap")
_MARK = "\x00@@splice@@\x00"


def _paths(obj: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every node below the root, as a key/index path."""
    out: list[tuple[object, ...]] = []
    if isinstance(obj, dict):
        items: list[tuple[object, object]] = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    else:
        return out
    for key, value in items:
        path = (*prefix, key)
        out.append(path)
        out.extend(_paths(value, path))
    return out


def _copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def mutate(event: dict, mutations: list[tuple[int, str, object, bytes]]) -> bytes:
    """The event as a frame after each (path index, op, value, raw JSON) corruption, in order."""
    doc: Any = _copy(event)
    raw: bytes | None = None
    for index, op, value, text in mutations:
        paths = _paths(doc)
        if not paths:
            doc = copy.deepcopy(value) if op == "replace" else [doc]
            continue
        path = paths[index % len(paths)]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == "delete":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif op == "wrap":
            parent[key] = [parent[key]]  # a list where a value or an object belongs
        elif op == "raw" and raw is None:
            parent[key] = _MARK
            raw = text
        else:
            parent[key] = copy.deepcopy(value)  # the catalogue's lists and dicts stay as they are
    # The standard library writes what orjson will not: integers beyond 64 bits, NaN and Infinity.
    frame = json.dumps(doc, ensure_ascii=False).encode()
    return frame.replace(json.dumps(_MARK).encode(), raw) if raw is not None else frame


def random_mutations(rng: random.Random, n: int | None = None) -> list[tuple[int, str, object, bytes]]:
    return [
        (rng.randrange(10**6), rng.choice(OPS), rng.choice(BAD_VALUES), rng.choice(RAW_TEXTS))
        for _ in range(n or rng.choice((1, 1, 1, 2, 3)))
    ]


# --- a seeded exchange model ------------------------------------------------------------------------


class FeedFuzzer:
    """Valid exchange traffic for a few markets, and the same traffic corrupted; deterministic per seed."""

    def __init__(self, seed: int, n_markets: int = 3) -> None:
        self.rng = random.Random(seed)
        self.markets = [
            (f"0x{i + 1:064x}", str(10**20 + 2 * i), str(10**20 + 2 * i + 1)) for i in range(n_markets)
        ]
        self.ref: dict[str, OrderBook] = {}
        self.token: dict[str, tuple[str, bool]] = {}
        for cid, yes, no in self.markets:
            book = OrderBook()
            mid = self.rng.randint(1000, 9000)
            book.replace([(mid - 100, 5_000_000), (mid - 300, 7_500_000)], [(mid + 100, 2_000_000)], START)
            self.ref[cid] = book
            self.token[yes] = (cid, False)
            self.token[no] = (cid, True)
        self.ts = START
        self.trade_ids = [f"t-{i}" for i in range(400)]

    # valid market traffic
    def _tick_ts(self) -> str:
        self.ts += self.rng.randint(0, 3)
        return str(self.ts)

    def _qty(self) -> int:
        return self.rng.choice((1, 10_000, 1_000_000, 2_500_000, 123_456_789, 10**12))

    def _change(self, cid: str) -> tuple[bool, int, int]:
        """A change to the reference book that keeps it uncrossed, applied there."""
        rng, book = self.rng, self.ref[cid]
        levels = [(True, p) for p in book.bids] + [(False, p) for p in book.asks]
        bid_room = (1, (book.best_ask or ONE) - 1)  # where a new bid leaves the book uncrossed
        ask_room = ((book.best_bid or 0) + 1, ONE - 1)
        is_bid = rng.random() < 0.5
        lo, hi = bid_room if is_bid else ask_room
        if levels and (rng.random() < 0.3 or lo > hi or len(levels) > 40):
            is_bid, px = rng.choice(levels)
            qty = 0 if rng.random() < 0.6 else self._qty()  # books stay a few dozen levels deep
        else:
            px = rng.randint(lo, hi)
            qty = self._qty()
        (book.set_bid if is_bid else book.set_ask)(px, qty)
        return is_bid, px, qty

    def _tops(self, cid: str, is_no: bool) -> tuple[str, str]:
        view = self.ref[cid].view(Outcome.NO if is_no else Outcome.YES)
        bid, ask = view.best_bid, view.best_ask
        return ("0" if bid is None else px_to_str(bid)), ("1" if ask is None else px_to_str(ask))

    def price_change(self, market: int | None = None) -> dict:
        cid, yes, no = self.markets[market] if market is not None else self.rng.choice(self.markets)
        entries = []
        for _ in range(self.rng.choice((1, 1, 1, 2))):
            is_bid, px, qty = self._change(cid)
            for asset, is_no in ((yes, False), (no, True)):
                bid, ask = self._tops(cid, is_no)
                entries.append(
                    {
                        "asset_id": asset,
                        "price": px_to_str(ONE - px if is_no else px),
                        "size": qty_to_str(qty),
                        "side": "BUY" if is_bid != is_no else "SELL",
                        "hash": f"{self.rng.getrandbits(160):040x}",
                        "best_bid": bid,
                        "best_ask": ask,
                    }
                )
        return {
            "event_type": "price_change",
            "market": cid,
            "timestamp": self._tick_ts(),
            "price_changes": entries,
        }

    def rest_book(self, asset: str) -> dict:
        cid, is_no = self.token[asset]
        view = self.ref[cid].view(Outcome.NO if is_no else Outcome.YES)
        return view.summary(
            market=cid, asset_id=asset, timestamp=self.ts, min_order_size="5", tick_size="0.01",
            neg_risk=False, last_trade_price="0.5",
        )  # fmt: skip

    def book(self) -> dict:
        cid, yes, no = self.rng.choice(self.markets)
        self._tick_ts()
        return {"event_type": "book", **self.rest_book(self.rng.choice((yes, no)))}

    def other_event(self) -> dict:
        cid, yes, no = self.rng.choice(self.markets)
        rng = self.rng
        asset = rng.choice((yes, no))
        ts = self._tick_ts()
        kind = rng.choice(
            ("tick_size_change", "last_trade_price", "best_bid_ask", "new_market", "market_resolved")
        )
        if kind == "tick_size_change":
            return {"event_type": kind, "asset_id": asset, "market": cid, "old_tick_size": "0.01",
                    "new_tick_size": rng.choice(("0.01", "0.001")), "timestamp": ts}  # fmt: skip
        if kind == "last_trade_price":
            return {"event_type": kind, "asset_id": asset, "market": cid, "fee_rate_bps": "0",
                    "price": px_to_str(rng.randint(1, ONE - 1)), "side": rng.choice(("BUY", "SELL")),
                    "size": qty_to_str(self._qty()), "timestamp": ts}  # fmt: skip
        if kind == "best_bid_ask":
            bid, ask = self._tops(cid, asset == no)
            return {"event_type": kind, "asset_id": asset, "market": cid, "best_bid": bid, "best_ask": ask,
                    "spread": "0.01", "timestamp": ts}  # fmt: skip
        if kind == "new_market":
            return {"event_type": kind, "id": "1", "question": "Q?", "market": "0xnew", "slug": "q",
                    "assets_ids": ["7", "8"], "outcomes": ["Yes", "No"], "timestamp": ts,
                    "order_price_min_tick_size": "0.01"}  # fmt: skip
        return {"event_type": kind, "id": "1", "market": "0xelsewhere", "assets_ids": ["7", "8"],
                "winning_asset_id": "7", "winning_outcome": "Yes", "timestamp": ts}  # fmt: skip

    def valid_market_event(self) -> dict:
        roll = self.rng.random()
        if roll < 0.7:
            return self.price_change()
        if roll < 0.85:
            return self.book()
        return self.other_event()

    def market_frame(self) -> bytes:
        """One frame: valid about half the time, otherwise corrupted in one of several ways."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            events = [self.valid_market_event() for _ in range(rng.choice((1, 1, 1, 2)))]
            return orjson.dumps(events[0] if len(events) == 1 else events)
        if roll < 0.85:
            return mutate(self.valid_market_event(), random_mutations(rng))
        if roll < 0.9:
            return rng.randbytes(rng.randint(0, 64))
        if roll < 0.95:
            frame = orjson.dumps(self.valid_market_event())
            return frame[: rng.randrange(len(frame))]
        return rng.choice(
            (b"1", b"null", b'"PONG"', b"[1]", b"[[{}]]", b"[{}, 2]", b"true", b"{}", b"[]", b"PONG", b" ")
        )

    def rest_body(self, asset: str) -> object:
        """A REST `/book` body for `asset`: valid half the time."""
        rng = self.rng
        body = self.rest_book(asset)
        roll = rng.random()
        if roll < 0.5:
            return body
        if roll < 0.85:
            return decoded(mutate(body, random_mutations(rng))) if rng.random() < 0.9 else [body]
        if roll < 0.9:  # a crossed book
            bid = (body.get("asks") or [{"price": "0.5"}])[-1]["price"]
            return {**body, "bids": [*body["bids"], {"price": bid, "size": "1"}]}
        return rng.choice(
            ([body], "book", 1, None, [], {"bids": [], "asks": []}, {**body, "asset_id": "999"})
        )

    # valid user traffic
    def trade(self) -> dict:
        rng = self.rng
        taker = rng.random() < 0.5
        makers = [
            {
                "order_id": f"0xm{rng.randrange(100)}",
                "owner": rng.choice((OWNER, OTHER)),
                "maker_address": "0x1",
                "matched_amount": qty_to_str(self._qty()),
                "price": px_to_str(rng.randint(1, ONE - 1)),
                "fee_rate_bps": "0",
                "asset_id": self.markets[0][1],
                "outcome": "Yes",
                **({"side": rng.choice(("BUY", "SELL"))} if rng.random() < 0.7 else {}),
            }  # fmt: skip
            for _ in range(rng.randint(0, 3))
        ]
        return {
            "event_type": "trade", "type": "TRADE", "id": rng.choice(self.trade_ids), "taker_order_id": "0xtaker",
            "market": self.markets[0][0], "asset_id": self.markets[0][1], "side": rng.choice(("BUY", "SELL")),
            "size": qty_to_str(self._qty()), "price": px_to_str(rng.randint(1, ONE - 1)), "fee_rate_bps": "0",
            "status": rng.choice(("MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED", "TRADE_STATUS_MINED")),
            "match_time": str(START // 1000 + rng.randint(0, 100)), "last_update": str(START // 1000 + 101),
            "timestamp": self._tick_ts(), "outcome": "Yes", "owner": OWNER if taker else OTHER,
            "bucket_index": 0, "transaction_hash": "0xhash", "trader_side": "TAKER" if taker else "MAKER",
            "maker_orders": makers,
        }  # fmt: skip

    def order(self) -> dict:
        rng = self.rng
        original = self._qty()
        return {
            "event_type": "order", "type": rng.choice(("PLACEMENT", "UPDATE", "CANCELLATION")),
            "id": f"0xo{rng.randrange(100)}", "owner": OWNER, "market": self.markets[0][0],
            "asset_id": self.markets[0][1], "side": rng.choice(("BUY", "SELL")),
            "price": px_to_str(rng.randint(1, ONE - 1)), "original_size": qty_to_str(original),
            "size_matched": rng.choice(("", "0", qty_to_str(rng.randint(0, original)))), "outcome": "Yes",
            "order_type": "GTC", "status": "LIVE", "associate_trades": rng.choice((None, [], ["t-1"])),
            "created_at": rng.choice(("1725842520", 1725842520)), "expiration": "0", "timestamp": self._tick_ts(),
        }  # fmt: skip

    def user_frame(self) -> bytes:
        rng = self.rng
        event = self.trade() if rng.random() < 0.6 else self.order()
        roll = rng.random()
        if roll < 0.45:
            return orjson.dumps(event)
        if roll < 0.85:
            return mutate(event, random_mutations(rng))
        if roll < 0.9:
            return rng.randbytes(rng.randint(0, 64))
        if roll < 0.95:
            frame = orjson.dumps(event)
            return frame[: rng.randrange(len(frame))]
        return rng.choice((b"1", b"[1, 2]", b"[[]]", b"null", b'"x"', b"PONG", b"{}"))

    def backfill_rows(self) -> object:
        rng = self.rng
        rows: list[object] = []
        for _ in range(rng.randint(0, 8)):
            row = self.trade()
            del row["event_type"], row["type"]
            if rng.random() < 0.5:
                rows.append(row)
            else:
                rows.append(decoded(mutate(row, random_mutations(rng))) if rng.random() < 0.9 else [row])
        roll = rng.random()
        if roll < 0.9:
            return rows
        return rng.choice(({"data": rows}, "rows", None, 3))


# --- invariants ---------------------------------------------------------------------------------------


def impossible_levels(book: OrderBook) -> list[str]:
    """What a book must never hold: a price outside (0, 1), a size <= 0, a bid at or above an ask."""
    out = [f"bid {px}x{q}" for px, q in book.iter_bids() if not (0 < px < ONE and q > 0)]
    out += [f"ask {px}x{q}" for px, q in book.iter_asks() if not (0 < px < ONE and q > 0)]
    if book.bids.keys() != set(book._bid_px) or book.asks.keys() != set(book._ask_px):
        out.append("price index out of step with the levels")
    bid, ask = book.best_bid, book.best_ask
    if bid is not None and ask is not None and bid >= ask:
        out.append(f"crossed {bid} >= {ask}")
    return out


def impossible_fill(item: object) -> str | None:
    """What no order or fill callback may ever receive."""
    if isinstance(item, TradeFill):
        ids_ok = isinstance(item.trade_id, str) and bool(item.trade_id) and isinstance(item.order_id, str)
        if not (ids_ok and item.order_id and 0 < item.price < ONE and item.size > 0 and item.side in Side):
            return f"fill {item}"
    if isinstance(item, OrderEvent):
        matched_ok = 0 <= item.size_matched <= item.original_size
        if not (0 < item.price < ONE and item.original_size > 0 and matched_ok and item.side in Side):
            return f"order {item}"
    return None


# --- harnesses --------------------------------------------------------------------------------------


async def settle(turns: int = 4) -> None:
    """Let spawned resyncs run (their fetches answer at once and their backoff is zero)."""
    for _ in range(turns):
        await asyncio.sleep(0)


class MarketHarness:
    """A MarketStream with no socket: frames go straight to its frame handler; REST answers come from the
    fuzzer. Must be created and used inside a running event loop."""

    def __init__(self, fuzzer: FeedFuzzer, *, seed: int = 1) -> None:
        self.fuzzer = fuzzer
        self.channel = MarketChannel()
        self.books: dict[str, OrderBook] = {}
        for cid, yes, no in fuzzer.markets:
            self.books[cid] = OrderBook()
            self.channel.add_market(cid, yes, no, self.books[cid])
        self.events: list[object] = []
        self.rest_bodies = 0
        self.stream = MarketStream(
            "ws://127.0.0.1:1/unused", self.channel, fetch_book=self.fetch_book, clock=SimClock(START),
            on_event=self.events.append, rng=random.Random(seed), backoff_initial=0.0, backoff_max=0.0,
            min_resync_interval=0.0,
        )  # fmt: skip
        self.stream.add_assets([a for _, yes, no in fuzzer.markets for a in (yes, no)])
        self.shard = self.stream._shards[0]
        self.loop_errors: list[dict] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: self.loop_errors.append(ctx))

    async def fetch_book(self, asset: str) -> object:
        self.rest_bodies += 1
        return self.fuzzer.rest_body(asset)

    def on_frame(self, raw: bytes) -> None:
        self.stream._on_frame(self.shard, raw)

    async def sync_all(self) -> None:
        for _, yes, no in self.fuzzer.markets:
            self.on_frame(orjson.dumps({"event_type": "book", **self.fuzzer.rest_book(yes)}))
            self.on_frame(orjson.dumps({"event_type": "book", **self.fuzzer.rest_book(no)}))
        await settle()

    def problems(self) -> list[str]:
        out = [f"{cid}: {p}" for cid, book in self.books.items() for p in impossible_levels(book)]
        if self.stream.stats.errors:
            out.append(f"{self.stream.stats.errors} internal errors")
        out += [f"loop: {ctx.get('message')} {ctx.get('exception')!r}" for ctx in self.loop_errors]
        return out

    async def close(self) -> None:
        await self.stream.close()


class UserHarness:
    """A UserStream with no socket: frames go straight to its frame handler, backfills to `_backfill`."""

    def __init__(self, fuzzer: FeedFuzzer, *, seed: int = 1) -> None:
        self.fuzzer = fuzzer
        self.seen: list[object] = []
        self.bad: list[str] = []
        self.stream = UserStream(
            "ws://127.0.0.1:1/ws/user", api_key=OWNER, secret="c2VjcmV0", passphrase="p",
            backfill_trades=self.backfill, clock=SimClock(START), on_order=self.record,
            on_fill_provisional=self.record, on_fill_confirmed=self.record, on_fill_reversed=self.record,
            rng=random.Random(seed), backoff_initial=0.0, backoff_max=0.0,
        )  # fmt: skip
        self.answers: list[object] = []

    def record(self, item: object) -> None:
        self.seen.append(item)
        problem = impossible_fill(item)
        if problem is not None:
            self.bad.append(problem)

    async def backfill(self, since_s: int) -> object:
        if self.answers:
            return self.answers.pop(0)
        return self.fuzzer.backfill_rows()

    def problems(self) -> list[str]:
        out = list(self.bad)
        if self.stream.stats.errors:
            out.append(f"{self.stream.stats.errors} internal errors")
        return out


def decoded(frame: bytes) -> object:
    """A corrupted document as a REST client would hand it over, or None if it is not even JSON."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None


HYPOTHESIS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

bad_value = st.one_of(
    st.sampled_from(BAD_VALUES),
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
mutations = st.lists(
    st.tuples(st.integers(0, 10**6), st.sampled_from(OPS), bad_value, st.sampled_from(RAW_TEXTS)),
    min_size=1,
    max_size=3,
)


@pytest.fixture(autouse=True)
def _quiet_logs() -> Any:
    """Refusals are logged by design; a fuzz run's flood of them is not this module's output."""
    logger = logging.getLogger("bigearn")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


# --- the strict number parsers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1.5",
        "-0.5",
        "0",
        "1",
        "0.0",
        "1.0",
        "0.00005",
        "١٠٠",
        "٠.٥",
        "1_000",
        "1e999",
        "NaN",
        " 0.5",
        "+0.5",
        "0x1",
        ".",
        "",
        "0..5",
    ],
)
def test_prices_outside_the_wire_format_or_range_are_refused(text: str) -> None:
    with pytest.raises(WireError) as info:
        strict_px(text, "price_changes[0].price")
    assert str(info.value) == f"price_changes[0].price {text!r}: accepted: {PRICE_ACCEPTED}"


def test_strict_numbers_accept_what_the_exchange_writes() -> None:
    assert [strict_px(t, "p") for t in ("0.5", "0.0001", "0.9999", ".25", "0.5000")] == [
        5000,
        1,
        9999,
        2500,
        5000,
    ]
    assert (
        strict_qty("0", "s") == 0
        and strict_qty("514.99", "s") == 514_990_000
        and strict_qty("1.0000000", "s") == 1_000_000
    )
    assert strict_uint("1790000000000", "t") == 1_790_000_000_000 and strict_uint(0, "t") == 0
    assert [strict_tick(t, "t") for t in ("0.1", "0.01", "0.005", "0.0025", 0.001, "0.0001")] == [
        1000,
        100,
        50,
        25,
        10,
        1,
    ]
    for bad in ("-1", "1_000", "١٠٠", "1e3", "NaN", " 1", "0.0000001", "1" * 16, 5, None):
        with pytest.raises(WireError):
            strict_qty(bad, "size")
    with pytest.raises(WireError, match="accepted: a decimal > 0"):
        strict_qty("0", "size", positive=True)
    for bad in (-1, True, 1.0, "1.5", "-1", "١", "9" * 20, None):
        with pytest.raises(WireError):
            strict_uint(bad, "timestamp")
    for bad in ("0.02", "1", 0, True, "0.00010"[:-1] + "5"):
        with pytest.raises(WireError):
            strict_tick(bad, "tick_size")


def test_an_error_names_the_field_and_stays_one_short_line() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(2000):
        node.append([])
        node = node[0]  # type: ignore[assignment]
    for value in ("x" * 10_000, deep, {"k" * 500: 1}, "\x1b[2J\n"):
        text = str(WireError("bids[3].size", value, "a decimal"))
        assert "\n" not in text and len(text) < 200 and text.startswith("bids[3].size ")


# --- market channel: regressions -----------------------------------------------------------------------


def _market_case(body: Callable[[MarketHarness], Any]) -> MarketHarness:
    async def main() -> MarketHarness:
        h = MarketHarness(FeedFuzzer(5))
        await h.sync_all()
        try:
            await body(h)
        finally:
            await h.close()
        return h

    return asyncio.run(main())


def _price_change(h: MarketHarness, market: int = 0, **entry_fields: object) -> dict:
    event = h.fuzzer.price_change(market)
    event["price_changes"][0].update(entry_fields)
    return event


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(record.fields["error"])  # type: ignore[attr-defined]


def test_malformed_frames_are_counted_and_skipped_without_touching_the_connection() -> None:
    async def body(h: MarketHarness) -> None:
        before = {cid: (dict(b.bids), dict(b.asks)) for cid, b in h.books.items()}
        frames = [
            b"1",
            b"[1]",
            b"null",
            b'"x"',
            b"{not json",
            b"NaN",
            b"[1e999]",
            b"\xff\xfe",
            b"[" * 2000,
            b"[[{}]]",
        ]
        for raw in frames:
            h.on_frame(raw)
        await settle()
        stats = h.stream.stats
        assert stats.malformed == len(frames) and stats.frames == len(frames) + 6
        assert (stats.errors, stats.gaps, stats.unsynced) == (0, 0, 0)  # nothing to attribute: no resync
        assert {cid: (dict(b.bids), dict(b.asks)) for cid, b in h.books.items()} == before

    _market_case(body)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price": "1.5", "side": "SELL"}, "price_changes[0].price"),
        ({"price": "-0.5", "side": "BUY"}, "price_changes[0].price"),
        ({"price": "0"}, "price_changes[0].price"),
        ({"price": "1"}, "price_changes[0].price"),
        ({"size": "١٠٠"}, "price_changes[0].size"),
        ({"size": "1_000"}, "price_changes[0].size"),
        ({"size": "1e999"}, "price_changes[0].size"),
        ({"size": "NaN"}, "price_changes[0].size"),
        ({"size": "-5"}, "price_changes[0].size"),
        ({"side": "HOLD"}, "price_changes[0].side"),
        ({"best_bid": "0.6", "best_ask": "0.5"}, "price_changes[0].best_bid"),
    ],
)
def test_a_bad_entry_refuses_the_whole_price_change_and_resyncs_the_book(fields: dict, field: str) -> None:
    capture = _ListHandler()
    logger = logging.getLogger("tests.fuzz_feeds.refusals")
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)

    async def body(h: MarketHarness) -> None:
        event = _price_change(h, **fields)
        good = dict(event["price_changes"][-1], price="0.4242", size="77")
        event["price_changes"].append(good)  # a good entry after the bad one: not applied either
        cid, yes, _ = h.fuzzer.markets[0]
        h.stream._refusals = RefusalLog(logger, "ws_refused", lambda: 0)
        h.fuzzer.rest_body = h.fuzzer.rest_book  # type: ignore[method-assign]  # the resync's REST book is good
        before = (dict(h.books[cid].bids), dict(h.books[cid].asks))
        h.on_frame(orjson.dumps(event))
        assert (dict(h.books[cid].bids), dict(h.books[cid].asks)) == before  # nothing of it applied
        assert h.stream.stats.malformed == 1 and h.stream.stats.gaps == 1 and not h.stream.is_synced(yes)
        await settle()
        assert h.stream.stats.resyncs == 1 and h.stream.is_synced(yes)
        assert not h.problems()

    try:
        _market_case(body)
    finally:
        logger.removeHandler(capture)
    assert len(capture.errors) == 1 and capture.errors[0].startswith(f"{field} ")


def test_a_bad_snapshot_is_refused_whole() -> None:
    async def body(h: MarketHarness) -> None:
        h.fuzzer.rest_body = h.fuzzer.rest_book  # type: ignore[method-assign]
        cid, yes, no = h.fuzzer.markets[1]
        book = h.books[cid]
        before = (dict(book.bids), dict(book.asks))
        good = {"event_type": "book", **h.fuzzer.rest_book(no)}
        for bad in (
            {"bids": [*good["bids"], {"price": "-0.5", "size": "10"}]},
            {"asks": [{"price": "1.5", "size": "10"}, *good["asks"]]},
            {"asks": [{"price": "0.5", "size": "١٠٠"}]},
            {"bids": [{"price": "0.5", "size": "1_000"}]},
            {"bids": {"price": "0.5", "size": "1"}},
            {"timestamp": "NaN"},
            {"tick_size": "0.02"},
        ):
            h.on_frame(orjson.dumps(good | bad))
            assert (dict(book.bids), dict(book.asks)) == before
        assert h.stream.stats.malformed == 7 and h.stream.stats.gaps == 1  # one resync covers the rest
        await settle()
        assert h.stream.is_synced(no) and not h.problems()

    _market_case(body)


def test_the_audit_refuses_a_bad_rest_book_and_asks_again_next_round() -> None:
    from engine.domain import Market
    from engine.venues.polymarket.market_data import PolymarketMarketData

    async def main() -> None:
        fuzzer = FeedFuzzer(21, n_markets=1)
        cid, yes, no = fuzzer.markets[0]
        market = Market(condition_id=cid, question="Q?", slug="q", yes_token=yes, no_token=no)
        data = PolymarketMarketData([market], clob_url="http://127.0.0.1:1", market_ws_url="ws://127.0.0.1:1",
                                    clock=SimClock(START), audit_interval_s=0, status_interval_s=0)  # fmt: skip
        answers: list[object] = [{**fuzzer.rest_book(yes), "asks": [{"price": "1", "size": "5"}]}, "x"]

        async def fetch(asset: str) -> object:
            return answers.pop(0) if answers else fuzzer.rest_book(asset)

        data._fetch_book = fetch  # type: ignore[method-assign]
        stream = data.stream
        stream._on_frame(stream._shards[0], orjson.dumps({"event_type": "book", **fuzzer.rest_book(yes)}))
        assert data.is_synced(cid)
        await data._audit(market)
        await data._audit(market)
        assert data.stats.malformed == 2 and answers == []
        await data._audit(market)  # a good body: compared, and it matches
        assert data.stats.malformed == 2 and data.stats.resubscribes == 0
        await data.close()

    asyncio.run(main())


def test_error_path_survives_events_it_cannot_attribute() -> None:
    async def body(h: MarketHarness) -> None:
        h.fuzzer.rest_body = h.fuzzer.rest_book  # type: ignore[method-assign]
        cid = h.fuzzer.markets[0][0]
        for event in (
            {"event_type": "price_change", "market": cid, "timestamp": "1", "price_changes": "x"},
            {"event_type": "price_change", "price_changes": [1, None, [], {"asset_id": ["x"]}]},
            {"event_type": "price_change", "price_changes": {"asset_id": "1"}, "market": ["x"]},
            {"event_type": "book", "asset_id": {"a": 1}, "bids": None},
            {"event_type": ["book"]},
            {"event_type": "tick_size_change", "market": cid, "new_tick_size": "0.02", "timestamp": "1"},
            {"event_type": "last_trade_price", "price": "1.5", "side": "BUY", "size": "1"},
        ):
            h.on_frame(orjson.dumps(event))
        await settle()
        assert h.stream.stats.malformed == 7 and h.stream.stats.errors == 0
        assert not h.problems()

    _market_case(body)


def test_refusal_log_is_rate_limited_under_a_flood() -> None:
    async def body(h: MarketHarness) -> None:
        for i in range(5000):
            h.on_frame(b"{" if i % 2 else orjson.dumps({"event_type": "last_trade_price", "price": str(i)}))
        assert h.stream.stats.malformed == 5000
        assert h.stream._refusals.logged <= 3  # the frame once, the price once (the clock does not move)

    _market_case(body)


def test_a_crossing_change_is_not_applied() -> None:
    async def body(h: MarketHarness) -> None:
        cid, yes, _ = h.fuzzer.markets[0]
        book = h.books[cid]
        ask = book.best_ask
        assert ask is not None
        event = {
            "event_type": "price_change", "market": cid, "timestamp": str(h.fuzzer.ts + 1),
            "price_changes": [{"asset_id": yes, "price": px_to_str(ask), "size": "5", "side": "BUY",
                               "best_bid": "0.01", "best_ask": "0.99"}],
        }  # fmt: skip
        h.on_frame(orjson.dumps(event))
        assert book.bid_size(ask) == 0 and not impossible_levels(book)
        assert h.stream.stats.gaps == 1 and h.stream.stats.malformed == 0

    _market_case(body)


# --- REST books -------------------------------------------------------------------------------------------


def test_bad_rest_books_are_refused_and_retried_until_a_good_one() -> None:
    async def body(h: MarketHarness) -> None:
        _, yes, _ = h.fuzzer.markets[0]
        good = h.fuzzer.rest_book(yes)
        crossed = {**good, "bids": [*good["bids"], {"price": good["asks"][-1]["price"], "size": "1"}]}
        answers: list[object] = [
            [good], "x", None, {**good, "bids": None}, {k: v for k, v in good.items() if k != "asks"},
            {**good, "bids": [{"price": "1.5", "size": "1"}]}, {**good, "asks": [{"price": "0.5", "size": "-1"}]},
            crossed, {**good, "timestamp": "-1"}, {**good, "timestamp": "1e3"}, {**good, "asset_id": "999"},
            {**good, "tick_size": "0.02"}, good,
        ]  # fmt: skip

        async def fetch(asset: str) -> object:
            return answers.pop(0)

        h.stream._fetch_book = fetch
        h.on_frame(orjson.dumps(_price_change(h, 0, price="1.5")))  # refused: resync
        await settle(40)
        assert answers == [] and h.stream.stats.resyncs == 1 and h.stream.is_synced(yes)
        assert h.stream.stats.malformed == 1 + 12 and h.stream.stats.errors == 0
        assert not h.problems()

    _market_case(body)


def test_an_unreadable_delta_during_a_resync_asks_for_a_newer_snapshot() -> None:
    async def body(h: MarketHarness) -> None:
        cid, yes, _ = h.fuzzer.markets[0]
        release = asyncio.Event()
        calls = 0

        async def fetch(asset: str) -> object:
            nonlocal calls
            calls += 1
            body = h.fuzzer.rest_book(asset)
            await release.wait()
            return body

        h.stream._fetch_book = fetch
        h.on_frame(orjson.dumps(_price_change(h, 0, size="x")))
        await settle()
        h.on_frame(orjson.dumps(_price_change(h, 0, size="y")))  # while the first snapshot is on its way
        release.set()
        await settle(10)
        assert calls == 2 and h.stream.stats.resyncs == 1 and h.stream.is_synced(yes)

    _market_case(body)


async def _no_fetch(asset: str) -> object:
    raise AssertionError("not fetched in this test")


@given(muts=mutations)
@HYPOTHESIS
def test_rest_book_checks_refuse_or_yield_a_possible_book(muts: list) -> None:
    fuzzer = FeedFuzzer(11)
    channel = MarketChannel()
    for cid, yes, no in fuzzer.markets:
        channel.add_market(cid, yes, no, OrderBook())
    stream = MarketStream("ws://x", channel, fetch_book=_no_fetch, clock=SimClock(START))
    _, _, no = fuzzer.markets[1]
    body = decoded(mutate(fuzzer.rest_book(no), muts))
    try:
        msg = stream.check_rest_book(body, no)
    except WireError:
        return
    book = OrderBook()
    book.replace(msg.bids, msg.asks, msg.ts)
    assert not impossible_levels(book)


# --- market channel: generated traffic --------------------------------------------------------------------


@given(kind=st.sampled_from(["price_change", "book", "other"]), muts=mutations)
@HYPOTHESIS
def test_a_mutated_market_event_never_escapes_or_corrupts_a_book(kind: str, muts: list) -> None:
    async def main() -> None:
        h = MarketHarness(FeedFuzzer(3))
        await h.sync_all()
        event = {"price_change": h.fuzzer.price_change, "book": h.fuzzer.book, "other": h.fuzzer.other_event}[
            kind
        ]()
        h.on_frame(mutate(event, muts))
        await settle()
        h.on_frame(orjson.dumps(h.fuzzer.price_change()))  # and the feed carries on
        await settle()
        await h.close()
        assert not h.problems()

    asyncio.run(main())


@given(muts=mutations)
@HYPOTHESIS
def test_the_fast_reading_of_a_price_change_agrees_with_the_careful_one(muts: list) -> None:
    fuzzer = FeedFuzzer(17)
    channel = MarketChannel()
    for cid, yes, no in fuzzer.markets:
        channel.add_market(cid, yes, no, OrderBook())
    event = decoded(mutate(fuzzer.price_change(), muts))
    if not isinstance(event, dict):
        return
    outcomes = []
    for read in (channel.check_price_change, lambda e: check_price_change(channel.routes, e)):
        try:
            outcomes.append(read(event))
        except WireError as exc:
            outcomes.append(exc.field)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_seeded_storm_of_market_frames(seed: int) -> None:
    async def main() -> MarketHarness:
        h = MarketHarness(FeedFuzzer(seed), seed=seed)
        await h.sync_all()
        for i in range(1500):
            h.on_frame(h.fuzzer.market_frame())
            await settle(2)
            if i % 100 == 0:
                assert not h.problems()
        await settle(20)
        await h.close()
        return h

    h = asyncio.run(main())
    assert not h.problems()
    stats = h.stream.stats
    assert stats.malformed > 300 and stats.resyncs > 10 and stats.messages > 1000  # it did get exercised


# --- user channel -------------------------------------------------------------------------------------


def _user_case(body: Callable[[UserHarness], Any]) -> UserHarness:
    async def main() -> UserHarness:
        h = UserHarness(FeedFuzzer(9))
        await body(h)
        await h.stream.close()
        return h

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"size": "-5"}, "size"),
        ({"size": "0"}, "size"),
        ({"price": "1"}, "price"),
        ({"price": "1.5"}, "price"),
        ({"price": "0"}, "price"),
        ({"size": "١٠٠"}, "size"),
        ({"size": "1_000"}, "size"),
        ({"side": "HOLD"}, "side"),
        ({"id": ""}, "id"),
        ({"taker_order_id": None}, "taker_order_id"),
        ({"match_time": "-1"}, "match_time"),
        (
            {"maker_orders": [{"owner": OWNER, "order_id": "0xm", "matched_amount": "1e3", "price": "0.5"}]},
            "maker_orders[0].matched_amount",
        ),
    ],
)
def test_a_bad_fill_never_reaches_a_callback(fields: dict, field: str) -> None:
    async def body(h: UserHarness) -> None:
        trade = h.fuzzer.trade() | {"trader_side": "TAKER", "status": "MATCHED"} | fields
        with pytest.raises(WireError) as info:
            parse_fills(trade, OWNER)
        assert info.value.field == field
        await h.stream._on_frame(orjson.dumps(trade))
        good = h.fuzzer.trade() | {"id": "good", "trader_side": "TAKER", "status": "MATCHED"}
        await h.stream._on_frame(orjson.dumps(good))
        assert h.stream.stats.malformed == 1 and h.stream.stats.errors == 0
        assert [f.trade_id for f in h.seen if isinstance(f, TradeFill)][:1] == ["good"]

    h = _user_case(body)
    assert not h.problems()


def test_bad_orders_are_refused() -> None:
    fuzzer = FeedFuzzer(4)
    good = fuzzer.order() | {"original_size": "5", "size_matched": "1"}
    assert parse_order(good).original_size == 5_000_000
    for fields in ({"original_size": "0"}, {"size_matched": "6"}, {"price": "1"}, {"price": "-0.5"},
                   {"associate_trades": "t-1"}, {"created_at": "1.5"}, {"id": 5}):  # fmt: skip
        with pytest.raises(WireError):
            parse_order(good | fields)


def test_backfill_refuses_bad_rows_and_keeps_the_others() -> None:
    async def body(h: UserHarness) -> None:
        good = h.fuzzer.trade() | {"id": "g1", "trader_side": "TAKER", "status": "MATCHED", "match_time": "5"}
        good["maker_orders"] = []
        later = good | {"id": "g2", "match_time": "6"}
        h.answers = [
            "not rows",
            None,
            [good | {"size": "-1", "id": "b1"}, 7, later, good | {"match_time": "x"}, good],
        ]
        await h.stream._backfill(0)
        assert [f.trade_id for f in h.seen] == ["g1", "g2"]
        assert h.stream.stats.malformed == 2 + 3 and h.stream.stats.backfills == 1

    h = _user_case(body)
    assert not h.problems()


@given(kind=st.sampled_from(["trade", "order"]), muts=mutations)
@HYPOTHESIS
def test_a_mutated_user_event_never_escapes_or_books_an_impossible_fill(kind: str, muts: list) -> None:
    async def body(h: UserHarness) -> None:
        event = h.fuzzer.trade() if kind == "trade" else h.fuzzer.order()
        await h.stream._on_frame(mutate(event, muts))
        rows = [decoded(mutate(h.fuzzer.trade(), muts)) for _ in range(2)]
        h.answers = [rows + [h.fuzzer.trade()]]
        await h.stream._backfill(0)

    h = _user_case(body)
    assert not h.problems()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_seeded_storm_of_user_frames_and_backfills(seed: int) -> None:
    async def body(h: UserHarness) -> None:
        for i in range(1500):
            await h.stream._on_frame(h.fuzzer.user_frame())
            if i % 100 == 0:
                await h.stream._backfill(i)

    async def main() -> UserHarness:
        harness = UserHarness(FeedFuzzer(seed), seed=seed)
        await body(harness)
        await harness.stream.close()
        return harness

    h = asyncio.run(main())
    assert not h.problems()
    stats = h.stream.stats
    assert stats.malformed > 300 and len(h.seen) > 100
