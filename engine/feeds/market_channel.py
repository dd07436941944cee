"""Polymarket market-channel messages (`book`, `price_change`, ...) applied to the engine's books.

Frames are a JSON object or an array of them; `PONG` and `{}` carry nothing. Each asset id maps to a
market's unified YES book plus whether it is the NO token, whose levels are mirrored (NO bid at p is a
YES ask at 1-p). After a `price_change` entry is applied, the entry's `best_bid`/`best_ask` must match
our book: a mismatch means we missed a message, and the asset is reported for a resync.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from engine.book import OrderBook
from engine.units import ONE, px_from_str, qty_from_str
from engine.units import _price_cache as _PRICE_CACHE


@dataclass(slots=True)
class AssetRoute:
    condition_id: str
    book: OrderBook
    is_no: bool
    last_ts: int = 0


@dataclass(slots=True)
class ApplyResult:
    levels: int = 0  # level updates applied
    gaps: list[str] = field(default_factory=list)  # asset ids whose book no longer matches the feed
    other: list[dict] = field(
        default_factory=list
    )  # events this module does not apply (trades, tick changes, ...)


def parse_frame(raw: bytes | str) -> list[dict]:
    if raw in (b"PONG", "PONG", b"", ""):
        return []
    data = orjson.loads(raw)
    if isinstance(data, dict):
        return [data] if data else []
    return [d for d in data if isinstance(d, dict) and d]


_SCALE_FOR_DECIMALS = (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def _best(text: str | None, cache: dict[str, int], empty: str) -> int | None:
    """A reported best price; the exchange reports an empty side as bid "0" / ask "1"."""
    if text is None or text == empty or text == "":
        return None
    px = cache.get(text)
    return px_from_str(text) if px is None else px


class MarketChannel:
    """Routes market-channel events to books and checks their consistency."""

    def __init__(self) -> None:
        self.routes: dict[str, AssetRoute] = {}

    def add_market(self, condition_id: str, yes_asset: str, no_asset: str, book: OrderBook) -> None:
        self.routes[yes_asset] = AssetRoute(condition_id, book, False)
        self.routes[no_asset] = AssetRoute(condition_id, book, True)

    def apply_frame(self, raw: bytes | str) -> ApplyResult:
        return self.apply_events(parse_frame(raw))

    def apply_events(self, events: Iterable[dict]) -> ApplyResult:
        """Apply already-parsed events (a client that inspects each event first parses only once)."""
        result = ApplyResult()
        for event in events:
            kind = event.get("event_type")
            if kind == "price_change":
                self._price_change(event, result)
            elif kind == "book":
                self._book(event, result)
            else:
                result.other.append(event)
        return result

    def _book(self, event: dict, result: ApplyResult) -> None:
        route = self.routes.get(event.get("asset_id", ""))
        if route is None:
            return
        ts = int(event.get("timestamp") or 0)
        bids = [(px_from_str(lvl["price"]), qty_from_str(lvl["size"])) for lvl in event.get("bids", ())]
        asks = [(px_from_str(lvl["price"]), qty_from_str(lvl["size"])) for lvl in event.get("asks", ())]
        if route.is_no:
            bids, asks = [(ONE - p, q) for p, q in asks], [(ONE - p, q) for p, q in bids]
        route.book.replace(bids, asks, ts)
        route.last_ts = ts
        result.levels += len(bids) + len(asks)

    def _price_change(self, event: dict, result: ApplyResult) -> None:
        # Hot path: hundreds of thousands of entries per second, so locals only and no per-entry helper
        # calls beyond the book's setters. The exchange sends each change twice, once per token of the
        # unified book (BUY YES at p == SELL NO at 1-p); an entry that is the exact mirror of the one
        # before it is verified against it instead of being parsed and applied a second time.
        ts = int(event.get("timestamp") or 0)
        routes = self.routes
        cache = _PRICE_CACHE
        applied = 0
        last_book: OrderBook | None = None
        prev_book = prev_px = prev_size = prev_side = None
        for entry in event.get("price_changes", ()):
            asset = entry.get("asset_id", "")
            route = routes.get(asset)
            if route is None:
                continue
            if ts < route.last_ts:  # time went backwards for this asset: we cannot trust the order
                result.gaps.append(asset)
                continue
            route.last_ts = ts
            book = route.book
            no = route.is_no
            price = entry["price"]
            px = cache.get(price)
            if px is None:
                px = px_from_str(price)
            size = entry["size"]
            is_bid = (entry["side"] == "BUY") != no
            if no:
                px = ONE - px
            if not (book is prev_book and px == prev_px and size == prev_size and is_bid == prev_side):
                dot = size.find(".")
                if dot < 0:
                    qty = int(size) * 1_000_000
                elif len(size) - dot <= 7:  # at most 6 decimals: exact integer arithmetic on the digits
                    qty = int(size.replace(".", "")) * _SCALE_FOR_DECIMALS[len(size) - dot - 1]
                else:
                    qty = qty_from_str(size)
                if is_bid:
                    book.set_bid(px, qty)
                else:
                    book.set_ask(px, qty)
                prev_book, prev_px, prev_size, prev_side = book, px, size, is_bid
                if last_book is not book:
                    if last_book is not None:
                        last_book.touch(ts)
                    last_book = book
            applied += 1
            want_bid = entry.get("best_bid")
            if want_bid is None:
                continue
            bid, ask = book.top()
            if no:
                bid, ask = (None if ask is None else ONE - ask), (None if bid is None else ONE - bid)
            if bid != _best(want_bid, cache, "0") or ask != _best(entry.get("best_ask"), cache, "1"):
                result.gaps.append(asset)
        if last_book is not None:
            last_book.touch(ts)
        result.levels += applied
