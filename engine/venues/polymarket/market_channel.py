"""Polymarket market-channel messages (`book`, `price_change`, ...) applied to the engine's books.

Frames are a JSON object or an array of them; `PONG` and `{}` carry nothing. Each asset id maps to a
market's unified YES book plus whether it is the NO token, whose levels are mirrored (NO bid at p is a
YES ask at 1-p). After a `price_change` entry is applied, the entry's `best_bid`/`best_ask` must match
our book: a mismatch means we missed a message, and the asset is reported for a resync.

Validation comes first and covers every field this module reads (engine.units' strict parsers: ASCII
decimals, prices strictly inside (0, 1) on the 0.0001 grid, sizes >= 0 with at most 6 decimals,
non-negative integer timestamps). An event with one bad field is refused whole, before any book is
touched, and reported in `ApplyResult.refused` with a `WireError` naming the field: half of a
`price_change` applied would leave a book that no exchange message describes. `check_*` validate and
convert, `apply_*` apply what was checked, so a caller (MarketStream) can refuse an event before its own
bookkeeping. A snapshot whose best bid is not below its best ask is refused too, and a level change that
would cross our book is not applied (it is reported as a gap): the exchange's book is never crossed, so
a crossing change means we missed another one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from engine.book import Level, OrderBook
from engine.units import (
    MISSING,
    ONE,
    WireError,
    px_to_str,
    strict_edge_px,
    strict_px,
    strict_px_cache,
    strict_qty,
    strict_tick,
    strict_uint,
)

FRAME_ACCEPTED = "a JSON object or an array of JSON objects"
OBJECT_ACCEPTED = "a JSON object"
STRING_ACCEPTED = "a string"
ID_ACCEPTED = "a non-empty string"
SIDE_ACCEPTED = "BUY or SELL"


@dataclass(slots=True)
class AssetRoute:
    condition_id: str
    book: OrderBook
    is_no: bool
    last_ts: int = 0


class ApplyResult:
    """What one `apply_*` call did. Built once per frame on the hot path, hence a plain slotted class with
    `refused` allocated only when something is refused."""

    __slots__ = ("levels", "gaps", "other", "refused")

    def __init__(self) -> None:
        self.levels = 0  # level updates applied
        self.gaps: list[str] = []  # asset ids whose book no longer matches the feed
        self.other: list[dict] = []  # events this module does not apply (trades, tick changes, ...)
        # (event or frame, why); nothing of them was applied. A shared empty tuple until the first one.
        self.refused: list[tuple[object, WireError]] | tuple[()] = ()

    def refuse(self, item: object, exc: WireError) -> None:
        refused = self.refused
        if isinstance(refused, tuple):
            refused = self.refused = []
        refused.append((item, exc))

    def __repr__(self) -> str:
        return (
            f"ApplyResult(levels={self.levels}, gaps={self.gaps}, other={self.other}, refused={self.refused})"
        )


@dataclass(frozen=True, slots=True)
class BookMessage:
    """A checked `book` event (or REST `/book` body), levels already in YES terms."""

    ts: int
    asset_id: str
    route: AssetRoute | None  # None: not a token of ours
    bids: list[Level]
    asks: list[Level]
    tick: int | None
    hash: str | None


class _Any:
    """`best_bid` / `best_ask` absent from an entry: that side is not checked."""

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
Want = tuple[int | None | _Any, int | None | _Any]
# A checked price_change entry: (route or None if not ours, price in YES terms, size, is_bid in YES terms,
# whether it names the same level as the entry before it (the exchange's mirrored twin), the expected
# (best bid, best ask) in YES terms or None, asset id).
Change = tuple[AssetRoute | None, int, int, bool, bool, Want | None, str]
PriceChange = tuple[int, list[Change]]

_NO_ERRORS: tuple[WireError, ...] = ()
_NOT_JSON = object()


def parse_frame(raw: bytes | str) -> tuple[list[dict], Sequence[WireError]]:
    """The events of one frame, plus an error for each array element that is not an object (those are
    skipped; the other events of the frame are still good). Raises WireError (field `frame`) when the
    frame is not JSON, or is JSON but neither an object nor an array."""
    if raw in (b"PONG", "PONG", b"", ""):
        return [], _NO_ERRORS
    return _events_of(_load(raw))


def _load(raw: bytes | str) -> object:
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise WireError("frame", raw, FRAME_ACCEPTED) from exc


def _events_of(data: object) -> tuple[list[dict], Sequence[WireError]]:
    if type(data) is dict:
        return ([data] if data else []), _NO_ERRORS
    if type(data) is not list:
        raise WireError("frame", data, FRAME_ACCEPTED)
    events = [d for d in data if type(d) is dict]
    errors: Sequence[WireError] = _NO_ERRORS
    if len(events) != len(data):
        errors = [
            WireError(f"frame[{i}]", d, OBJECT_ACCEPTED) for i, d in enumerate(data) if type(d) is not dict
        ]
    return [d for d in events if d], errors


def optional_str(event: dict, key: str, prefix: str = "") -> str | None:
    value = event.get(key)
    if value is None or type(value) is str:
        return value
    raise WireError(prefix + key, value, STRING_ACCEPTED)


def required_id(event: dict, key: str, prefix: str = "") -> str:
    value = event.get(key, MISSING)
    if type(value) is str and value:
        return value
    raise WireError(prefix + key, value, ID_ACCEPTED)


def check_side(event: dict, key: str, prefix: str = "") -> bool:
    """True for BUY, False for SELL."""
    value = event.get(key, MISSING)
    if value == "BUY":
        return True
    if value == "SELL":
        return False
    raise WireError(prefix + key, value, SIDE_ACCEPTED)


def check_best(event: dict, prefix: str = "") -> tuple[int | None | _Any, int | None | _Any]:
    """A `best_bid` / `best_ask` pair in the token's terms: ANY if absent, None for an empty side (the
    exchange writes bid "0" / ask "1"), else a price; a crossed pair is refused."""
    raw_bid, raw_ask = event.get("best_bid"), event.get("best_ask")
    bid: int | None | _Any = ANY
    ask: int | None | _Any = ANY
    if raw_bid is not None:
        bid = None if raw_bid == "" else strict_edge_px(raw_bid, prefix + "best_bid")
        if bid == ONE:
            raise WireError(
                prefix + "best_bid", raw_bid, "a decimal from 0 (no bids) to below 1, at most 4 decimals"
            )
        bid = bid or None
    if raw_ask is not None:
        ask = None if raw_ask == "" else strict_edge_px(raw_ask, prefix + "best_ask")
        if ask == 0:
            raise WireError(
                prefix + "best_ask", raw_ask, "a decimal above 0 to 1 (no asks), at most 4 decimals"
            )
        ask = None if ask == ONE else ask
    if type(bid) is int and type(ask) is int and bid >= ask:
        raise WireError(prefix + "best_bid", raw_bid, f"a price below best_ask {raw_ask!r}")
    return bid, ask


def _mirror_want(bid: int | None | _Any, ask: int | None | _Any) -> Want:
    """A NO token's (best bid, best ask) as the YES book sees them."""
    return (ONE - ask if isinstance(ask, int) else ask), (ONE - bid if isinstance(bid, int) else bid)


def check_price_change(routes: dict[str, AssetRoute], event: dict) -> PriceChange:
    """The careful reading of a `price_change`: every field, the first bad one named in a WireError.
    MarketChannel.check_price_change is the fast reading of the same rules and defers to this one."""
    ts = strict_uint(event.get("timestamp", MISSING), "timestamp")
    market = optional_str(event, "market")
    changes = event.get("price_changes", MISSING)
    if type(changes) is not list:
        raise WireError("price_changes", changes, "a list of objects")
    out: list[Change] = []
    prev_book = prev_px = prev_size = prev_bid = None
    prev_qty = 0
    for i, entry in enumerate(changes):
        prefix = f"price_changes[{i}]."
        if type(entry) is not dict:
            raise WireError(f"price_changes[{i}]", entry, OBJECT_ACCEPTED)
        asset = required_id(entry, "asset_id", prefix)
        route = routes.get(asset)
        if route is not None and market is not None and route.condition_id != market:
            raise WireError(prefix + "asset_id", asset, f"a token of the event's market {market!r}")
        px = strict_px(entry.get("price", MISSING), prefix + "price")
        is_bid = check_side(entry, "side", prefix)
        size = entry.get("size", MISSING)
        qty = strict_qty(size, prefix + "size")
        bid, ask = check_best(entry, prefix)
        want: Want | None = None
        book = None
        if route is not None:
            book = route.book
            if route.is_no:
                px, is_bid = ONE - px, not is_bid
                bid, ask = _mirror_want(bid, ask)
        if bid is not ANY or ask is not ANY:
            want = (bid, ask)
        dup = (
            book is not None
            and book is prev_book
            and px == prev_px
            and size == prev_size
            and is_bid == prev_bid
        )
        if dup:
            qty = prev_qty  # same text, same value
        elif book is not None:
            prev_book, prev_px, prev_size, prev_bid, prev_qty = book, px, size, is_bid, qty
        out.append((route, px, qty, is_bid, dup, want, asset))
    return ts, out


class _Doubt(Exception):
    """The fast reading met something it does not decide; the careful reading does."""


_SCALE_FOR_DECIMALS = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


class MarketChannel:
    """Routes market-channel events to books and checks their consistency."""

    def __init__(self) -> None:
        self.routes: dict[str, AssetRoute] = {}

    def add_market(self, condition_id: str, yes_asset: str, no_asset: str, book: OrderBook) -> None:
        self.routes[yes_asset] = AssetRoute(condition_id, book, False)
        self.routes[no_asset] = AssetRoute(condition_id, book, True)

    def apply_frame(self, raw: bytes | str) -> ApplyResult:
        if raw in (b"PONG", "PONG", b"", ""):
            return ApplyResult()
        try:
            data = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            data = _NOT_JSON
        if type(data) is dict:  # the usual frame, one event: no intermediate list
            return self.apply_events((data,) if data else ())
        try:
            if data is _NOT_JSON:
                raise WireError("frame", raw, FRAME_ACCEPTED)
            events, errors = _events_of(data)
        except WireError as exc:
            result = ApplyResult()
            result.refuse(raw, exc)
            return result
        result = self.apply_events(events)
        for exc in errors:
            result.refuse(raw, exc)
        return result

    def apply_events(self, events: Iterable[dict]) -> ApplyResult:
        """Check and apply already-parsed events (a client that inspects each event first parses only once)."""
        result = ApplyResult()
        for event in events:
            if type(event) is not dict:
                result.refuse(event, WireError("event", event, OBJECT_ACCEPTED))
                continue
            kind = event.get("event_type")
            if kind == "price_change":
                try:
                    change = self.check_price_change(event)
                except WireError as exc:
                    result.refuse(event, exc)
                    continue
                self.apply_price_change(change, result)
            elif kind == "book":
                try:
                    book = self.check_book(event)
                except WireError as exc:
                    result.refuse(event, exc)
                    continue
                self.apply_book(book, result)
            else:
                result.other.append(event)
        return result

    # --- book --------------------------------------------------------------------------------------
    def check_book(self, event: dict) -> BookMessage:
        """A `book` event or a REST `/book` body, checked whole; levels in YES terms."""
        asset = required_id(event, "asset_id")
        ts = strict_uint(event.get("timestamp", MISSING), "timestamp")
        market = optional_str(event, "market")
        route = self.routes.get(asset)
        if route is not None and market is not None and route.condition_id != market:
            raise WireError("asset_id", asset, f"a token of the event's market {market!r}")
        digest = optional_str(event, "hash")
        raw_tick = event.get("tick_size")
        tick = None if raw_tick is None or raw_tick == "" else strict_tick(raw_tick, "tick_size")
        bids = _levels(event, "bids")
        asks = _levels(event, "asks")
        # Crossed is judged as `OrderBook.replace` will hold it: levels of size 0 are not levels.
        best_ask = min((px for px, q in asks if q), default=None)
        if best_ask is not None:
            for i, (px, q) in enumerate(bids):
                if q and px >= best_ask:
                    raise WireError(
                        f"bids[{i}].price",
                        px_to_str(px),
                        f"a price below the best ask {px_to_str(best_ask)} (a book is never crossed)",
                    )
        if route is not None and route.is_no:
            bids, asks = [(ONE - p, q) for p, q in asks], [(ONE - p, q) for p, q in bids]
        return BookMessage(ts, asset, route, bids, asks, tick, digest)

    def apply_book(self, msg: BookMessage, result: ApplyResult) -> None:
        route = msg.route
        if route is None:
            return
        route.book.replace(msg.bids, msg.asks, msg.ts)
        route.last_ts = msg.ts
        result.levels += len(msg.bids) + len(msg.asks)

    # --- price_change ------------------------------------------------------------------------------
    def check_price_change(self, event: dict) -> PriceChange:
        """Every field of a `price_change`, checked and converted; nothing is applied. Raises WireError.

        Hot path (hundreds of thousands of entries per second): locals only, and a validated price is one
        dict lookup in the strict cache. What this fast reading does not settle at a glance (a price not
        seen before, an integer timestamp, an entry for a token that is not ours, an absent `market` or
        best price, any bad field) goes to the careful reading, `check_price_change()`, which accepts the
        same set and names the bad field.
        The exchange sends each change twice, once per token of the unified book (BUY YES at p == SELL NO
        at 1-p): an entry naming the same level with the same size text as the one before is marked as
        its twin, not parsed twice."""
        routes = self.routes
        cache = strict_px_cache
        try:
            ts_text = event["timestamp"]
            if not (ts_text.isdigit() and ts_text.isascii() and len(ts_text) <= 19):
                raise _Doubt
            market = event["market"]  # absent, like an absent best_bid / best_ask: the careful reading
            changes = event["price_changes"]
            if type(changes) is not list or type(market) is not str:
                raise _Doubt
            out: list[Change] = []
            append = out.append
            prev_book = prev_px = prev_size = prev_bid = None
            prev_qty = 0
            for entry in changes:
                asset = entry["asset_id"]
                route = routes.get(asset)
                if route is None:
                    raise _Doubt
                px = cache[entry["price"]]
                side = entry["side"]
                size = entry["size"]
                raw_bid = entry["best_bid"]
                raw_ask = entry["best_ask"]
                is_bid = side == "BUY"
                if not is_bid and side != "SELL":
                    raise _Doubt
                bid = None if raw_bid == "0" else cache[raw_bid]  # None (JSON null): KeyError
                ask = None if raw_ask == "1" else cache[raw_ask]
                if bid is not None and ask is not None and bid >= ask:
                    raise _Doubt
                book = route.book
                if book is not prev_book and route.condition_id != market:
                    raise _Doubt  # (the twin of the entry before shares its book, so its market)
                if route.is_no:
                    px = ONE - px
                    is_bid = not is_bid
                    want: Want = (None if ask is None else ONE - ask), (None if bid is None else ONE - bid)
                else:
                    want = (bid, ask)
                if book is prev_book and px == prev_px and size == prev_size and is_bid == prev_bid:
                    append((route, px, prev_qty, is_bid, True, want, asset))
                    continue
                dot = size.find(".")  # not a str: AttributeError, the careful reading decides
                if dot < 0:
                    if not (size.isdigit() and size.isascii()) or len(size) > 15:
                        raise _Doubt
                    qty = int(size) * 1_000_000
                else:
                    digits = size.replace(".", "", 1)
                    decimals = len(digits) - dot
                    if decimals > 6 or dot > 15 or not (digits.isdigit() and size.isascii()):
                        raise _Doubt
                    qty = int(digits) * _SCALE_FOR_DECIMALS[decimals]
                prev_book = book
                prev_px = px
                prev_size = size
                prev_bid = is_bid
                prev_qty = qty
                append((route, px, qty, is_bid, False, want, asset))
        except (KeyError, TypeError, AttributeError, _Doubt):
            return check_price_change(routes, event)
        return int(ts_text), out

    def apply_price_change(self, change: PriceChange, result: ApplyResult) -> None:
        ts, entries = change
        applied = 0
        last_book: OrderBook | None = None
        prev_applied = False  # the entry before was applied, so its twin need not be
        prev_want: Want | None = None
        prev_ok = True  # the top after the entry before matched its report
        for route, px, qty, is_bid, dup, want, asset in entries:
            if route is None:
                continue
            if ts < route.last_ts:  # time went backwards for this asset: we cannot trust the order
                result.gaps.append(asset)
                prev_applied = False
                continue
            route.last_ts = ts
            book = route.book
            if dup and prev_applied:
                applied += 1
                if want is None:
                    continue
                if want == prev_want:  # the twin reports the same top (mirrored): the same verdict
                    if not prev_ok:
                        result.gaps.append(asset)
                    continue
                top = book.top()
                ok = top == want
            else:
                if is_bid:
                    book.set_bid(px, qty)
                else:
                    book.set_ask(px, qty)
                if last_book is not book:
                    if last_book is not None:
                        last_book.touch(ts)
                    last_book = book
                top = book.top()
                ok = top == want
                # The exchange's reported top is checked uncrossed, so a change that matches it cannot
                # cross; any other is checked, and undone if it crosses. Undone means removed: the book
                # was uncrossed before (snapshots are checked, every change is), so a level at a price
                # that crosses now cannot have been there.
                if not ok and qty and top[0] is not None and top[1] is not None and top[0] >= top[1]:
                    if is_bid:
                        book.set_bid(px, 0)
                    else:
                        book.set_ask(px, 0)
                    result.gaps.append(asset)
                    prev_applied = False
                    continue
                prev_applied = True
                applied += 1
                if want is None:
                    prev_want = None
                    continue
            prev_want = want
            prev_ok = ok or _matches(top, want)
            if not prev_ok:
                result.gaps.append(asset)
        if last_book is not None:
            last_book.touch(ts)
        result.levels += applied


def _matches(top: tuple[int | None, int | None], want: Want) -> bool:
    """An entry that reports only one side of the top is checked on that side only."""
    bid, ask = want
    return (bid is ANY or bid == top[0]) and (ask is ANY or ask == top[1])


def _levels(event: dict, key: str) -> list[Level]:
    levels = event.get(key, MISSING)
    if type(levels) is not list:
        raise WireError(key, levels, "a list of {price, size} objects")
    out: list[Level] = []
    for i, level in enumerate(levels):
        if type(level) is not dict:
            raise WireError(f"{key}[{i}]", level, "an object with price and size")
        out.append(
            (
                strict_px(level.get("price", MISSING), f"{key}[{i}].price"),
                strict_qty(level.get("size", MISSING), f"{key}[{i}].size"),
            )
        )
    return out


__all__ = [
    "ANY",
    "ApplyResult",
    "AssetRoute",
    "BookMessage",
    "Change",
    "MarketChannel",
    "PriceChange",
    "check_best",
    "check_price_change",
    "check_side",
    "optional_str",
    "parse_frame",
    "required_id",
]
