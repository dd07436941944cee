"""L2 order book of one binary market.

A Polymarket market has one unified book: a YES bid at p is a NO ask at 1-p. `OrderBook` stores the
YES side; `book.view(Outcome.NO)` presents the same levels as the NO token sees them, so analytics
(mid, depth, impact, hash) are written once against the `BookView` interface.

Hot path: `set_level` is a dict write plus, only when a level appears or disappears, a bisect into a
sorted price list. Analytics walk the sorted lists and run at evaluation rate, not at message rate.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

import orjson

from engine.domain import Outcome, Side
from engine.units import ONE, px_to_str, qty_to_str

Level = tuple[int, int]  # (price units, size units)
Delta = tuple[bool, int, int]  # (is_bid, price, new size; 0 removes the level)


class MidSource(StrEnum):
    TWO_SIDED = "two_sided"
    CROSSED_LAST = "crossed_last"  # book crossed/locked: fall back to the last sane mid
    CROSSED = "crossed"  # crossed and no sane mid seen yet: midpoint of the crossed touch
    BID_ONLY = "bid_only"  # only bids: the best bid is the honest lower bound
    ASK_ONLY = "ask_only"
    LAST = "last"  # empty book: last sane mid
    NONE = "none"


class Mid(NamedTuple):
    """Canonical mid. `x2` is bid+ask in price units, so the exact mid is x2/2 (it can sit between ticks)."""

    x2: int | None
    source: MidSource

    @property
    def value(self) -> float | None:
        return None if self.x2 is None else self.x2 / (2 * ONE)

    @property
    def exact(self) -> Decimal | None:
        return None if self.x2 is None else Decimal(self.x2) / (2 * ONE)


class Impact(NamedTuple):
    """Result of walking the book with a marketable order of `requested` shares."""

    requested: int
    filled: int
    cost: Decimal  # USDC paid (BUY) or received (SELL) for `filled`
    avg_price: float | None
    reference_price: int | None  # best price before the walk
    worst_price: int | None  # last level touched
    slippage_bps: float  # avg price vs reference, in bps of the reference, always >= 0
    levels: int
    depth_share: float  # requested / total visible size on that side

    @property
    def complete(self) -> bool:
        return self.filled == self.requested


class BookView:
    """Read-only analytics shared by the YES book and its NO complement."""

    __slots__ = ()

    # Implemented by subclasses: best-first level iterators and touch prices.
    def iter_bids(self) -> Iterator[Level]:
        raise NotImplementedError

    def iter_asks(self) -> Iterator[Level]:
        raise NotImplementedError

    @property
    def best_bid(self) -> int | None:
        raise NotImplementedError

    @property
    def best_ask(self) -> int | None:
        raise NotImplementedError

    def _last_mid_x2(self) -> int | None:
        raise NotImplementedError

    # --- analytics ---------------------------------------------------------------------------
    def mid(self) -> Mid:
        bid, ask = self.best_bid, self.best_ask
        if bid is not None and ask is not None:
            if bid < ask:
                return Mid(bid + ask, MidSource.TWO_SIDED)
            last = self._last_mid_x2()
            if last is not None:
                return Mid(last, MidSource.CROSSED_LAST)
            return Mid(bid + ask, MidSource.CROSSED)
        if bid is not None:
            return Mid(2 * bid, MidSource.BID_ONLY)
        if ask is not None:
            return Mid(2 * ask, MidSource.ASK_ONLY)
        last = self._last_mid_x2()
        if last is not None:
            return Mid(last, MidSource.LAST)
        return Mid(None, MidSource.NONE)

    def spread(self) -> int | None:
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return ask - bid

    @property
    def crossed(self) -> bool:
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid >= ask

    def levels(self, side: Side, n: int) -> list[Level]:
        """Top `n` levels of bids (side BUY) or asks (side SELL), best first."""
        it = self.iter_bids() if side is Side.BUY else self.iter_asks()
        out: list[Level] = []
        for level in it:
            if len(out) == n:
                break
            out.append(level)
        return out

    def _in_band(self, band: int) -> Iterator[tuple[bool, int, int]]:
        """(is_bid, price, size) of every level within `band` price units of the canonical mid."""
        mid = self.mid().x2
        if mid is None:
            return
        lo, hi = mid - 2 * band, mid + 2 * band  # compare in doubled units: mid may be half a unit
        for px, qty in self.iter_bids():
            if 2 * px < lo:
                break
            if 2 * px <= hi:  # a crossed book can rest bids above the band (its mid is the last sane one)
                yield True, px, qty
        for px, qty in self.iter_asks():
            if 2 * px > hi:
                break
            if 2 * px >= lo:
                yield False, px, qty

    def depth(self, band: int) -> tuple[int, int]:
        """Shares resting within `band` price units of the mid, per side (bids, asks)."""
        bid_qty = ask_qty = 0
        for is_bid, _, qty in self._in_band(band):
            if is_bid:
                bid_qty += qty
            else:
                ask_qty += qty
        return bid_qty, ask_qty

    def depth_usdc(self, band: int) -> float:
        """USDC value of both sides within `band` of the mid (each side at its own prices)."""
        return sum(px * qty for _, px, qty in self._in_band(band)) / 1e10

    def imbalance(self, n_levels: int = 3) -> float:
        """(bid size - ask size) / total over the top `n_levels` each side; 0 when empty."""
        b = sum(q for _, q in self.levels(Side.BUY, n_levels))
        a = sum(q for _, q in self.levels(Side.SELL, n_levels))
        total = b + a
        return 0.0 if total == 0 else (b - a) / total

    def microprice(self) -> float | None:
        """Touch prices weighted by the opposite touch size: leans toward the side about to give way."""
        bids = self.levels(Side.BUY, 1)
        asks = self.levels(Side.SELL, 1)
        if not bids or not asks or bids[0][0] >= asks[0][0]:
            return self.mid().value
        (bp, bq), (ap, aq) = bids[0], asks[0]
        return (bp * aq + ap * bq) / ((aq + bq) * ONE)

    def impact(self, side: Side, qty: int, limit: int | None = None) -> Impact:
        """Walk the opposite side with a marketable order: BUY takes asks, SELL hits bids.

        `limit` stops the walk at a price (a marketable limit order's price)."""
        levels = self.iter_asks() if side is Side.BUY else self.iter_bids()
        total_visible = 0
        remaining = qty
        cost_units = 0
        n_levels = 0
        reference = worst = None
        blocked = False  # past the limit price: keep counting visible depth, take nothing more
        for px, size in levels:
            total_visible += size
            if remaining == 0 or blocked:
                continue
            if limit is not None and (
                (side is Side.BUY and px > limit) or (side is Side.SELL and px < limit)
            ):
                blocked = True
                continue
            if reference is None:
                reference = px
            take = size if size < remaining else remaining
            cost_units += take * px
            remaining -= take
            worst = px
            n_levels += 1
        filled = qty - remaining
        avg = cost_units / (filled * ONE) if filled else None
        slippage = 0.0
        if avg is not None and reference:
            ref = reference / ONE
            slippage = abs(avg - ref) / ref * 1e4
        return Impact(
            requested=qty,
            filled=filled,
            cost=Decimal(cost_units).scaleb(-10),
            avg_price=avg,
            reference_price=reference,
            worst_price=worst,
            slippage_bps=slippage,
            levels=n_levels,
            depth_share=(qty / total_visible) if total_visible else float("inf"),
        )

    def wire_levels(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """Levels in Polymarket's wire order: bids ascending, asks descending (best level LAST)."""
        bids = [{"price": px_to_str(p), "size": qty_to_str(q)} for p, q in self.iter_bids()]
        asks = [{"price": px_to_str(p), "size": qty_to_str(q)} for p, q in self.iter_asks()]
        bids.reverse()
        asks.reverse()
        return bids, asks

    def summary(
        self,
        *,
        market: str,
        asset_id: str,
        timestamp: int,
        min_order_size: str,
        tick_size: str,
        neg_risk: bool,
        last_trade_price: str,
    ) -> dict[str, object]:
        """The REST `/book` object for this view, with Polymarket's hash filled in."""
        bids, asks = self.wire_levels()
        body: dict[str, object] = {
            "market": market,
            "asset_id": asset_id,
            "timestamp": str(timestamp),
            "hash": "",
            "bids": bids,
            "asks": asks,
            "min_order_size": min_order_size,
            "tick_size": tick_size,
            "neg_risk": neg_risk,
            "last_trade_price": last_trade_price,
        }
        body["hash"] = book_hash(body)
        return body


def book_hash(summary: dict[str, object]) -> str:
    """Polymarket's book hash: SHA-1 of the compact JSON summary with `hash` set to "", keys in the
    exchange's order (market, asset_id, timestamp, hash, bids, asks, min_order_size, tick_size,
    neg_risk, last_trade_price)."""
    ordered = {
        "market": summary["market"],
        "asset_id": summary["asset_id"],
        "timestamp": summary["timestamp"],
        "hash": "",
        "bids": summary["bids"],
        "asks": summary["asks"],
        "min_order_size": summary["min_order_size"],
        "tick_size": summary["tick_size"],
        "neg_risk": summary["neg_risk"],
        "last_trade_price": summary["last_trade_price"],
    }
    return hashlib.sha1(orjson.dumps(ordered)).hexdigest()


class OrderBook(BookView):
    """The YES-side book of one market."""

    __slots__ = ("asks", "bids", "ts", "_ask_px", "_bid_px", "_last_mid", "_no_view")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_px: list[int] = []  # ascending; best bid is the last element
        self._ask_px: list[int] = []  # ascending; best ask is the first element
        self.ts = 0
        self._last_mid: int | None = None
        self._no_view = ComplementView(self)

    # --- mutation ----------------------------------------------------------------------------
    def set_bid(self, px: int, qty: int) -> None:
        bids = self.bids
        if qty > 0:
            if px not in bids:
                insort(self._bid_px, px)
            bids[px] = qty
        elif px in bids:
            del bids[px]
            plist = self._bid_px
            del plist[bisect_left(plist, px)]

    def set_ask(self, px: int, qty: int) -> None:
        asks = self.asks
        if qty > 0:
            if px not in asks:
                insort(self._ask_px, px)
            asks[px] = qty
        elif px in asks:
            del asks[px]
            plist = self._ask_px
            del plist[bisect_left(plist, px)]

    def apply(self, deltas: Iterable[Delta], ts: int) -> None:
        set_bid, set_ask = self.set_bid, self.set_ask
        for is_bid, px, qty in deltas:
            if is_bid:
                set_bid(px, qty)
            else:
                set_ask(px, qty)
        self.touch(ts)

    def replace(self, bids: Iterable[Level], asks: Iterable[Level], ts: int) -> None:
        """Apply a full snapshot: the book becomes exactly these levels."""
        self.bids = {p: q for p, q in bids if q > 0}
        self.asks = {p: q for p, q in asks if q > 0}
        self._bid_px = sorted(self.bids)
        self._ask_px = sorted(self.asks)
        self.touch(ts)

    def diff(self, bids: Iterable[Level], asks: Iterable[Level]) -> list[Delta]:
        """Level deltas that turn this book into the given snapshot (what a feed would have sent)."""
        out: list[Delta] = []
        for is_bid, current, levels in ((True, self.bids, bids), (False, self.asks, asks)):
            # Same reading as `replace`: a later duplicate price wins, a size <= 0 means no level.
            target: dict[int, int] = {}
            for px, qty in levels:
                target[px] = qty if qty > 0 else 0
            for px, qty in target.items():
                if current.get(px, 0) != qty:
                    out.append((is_bid, px, qty))
            for px in current:
                if px not in target:
                    out.append((is_bid, px, 0))
        return out

    def touch(self, ts: int) -> None:
        """Close a batch of updates: stamp the time and remember the last sane mid."""
        self.ts = ts
        if self._bid_px and self._ask_px:
            bid, ask = self._bid_px[-1], self._ask_px[0]
            if bid < ask:
                self._last_mid = bid + ask

    def clear(self, ts: int) -> None:
        self.replace((), (), ts)

    # --- BookView ----------------------------------------------------------------------------
    @property
    def best_bid(self) -> int | None:
        return self._bid_px[-1] if self._bid_px else None

    @property
    def best_ask(self) -> int | None:
        return self._ask_px[0] if self._ask_px else None

    def top_levels(self, n: int) -> tuple[list[Level], list[Level]]:
        """Best `n` bids and asks, best first (slices of the sorted price lists: cheap at UI rate)."""
        bids, asks = self.bids, self.asks
        return ([(p, bids[p]) for p in reversed(self._bid_px[-n:])], [(p, asks[p]) for p in self._ask_px[:n]])

    def _band_slices(self, band: int) -> tuple[list[int], list[int]]:
        """Bid and ask prices within `band` of the mid, by bisection of the sorted price lists.

        Same levels as BookView._in_band (lo <= 2*px <= hi in doubled units), without walking the book level
        by level: the read model asks this of every market at UI rate.
        """
        mid = self.mid().x2
        if mid is None:
            return [], []
        lo, hi = -(-(mid - 2 * band) // 2), (mid + 2 * band) // 2
        b, a = self._bid_px, self._ask_px
        return b[bisect_left(b, lo) : bisect_right(b, hi)], a[bisect_left(a, lo) : bisect_right(a, hi)]

    def depth(self, band: int) -> tuple[int, int]:
        bid_px, ask_px = self._band_slices(band)
        bids, asks = self.bids, self.asks
        return sum(bids[p] for p in bid_px), sum(asks[p] for p in ask_px)

    def depth_usdc(self, band: int) -> float:
        bid_px, ask_px = self._band_slices(band)
        bids, asks = self.bids, self.asks
        return (sum(p * bids[p] for p in bid_px) + sum(p * asks[p] for p in ask_px)) / 1e10

    def top(self) -> tuple[int | None, int | None]:
        """(best bid, best ask) in one call, for the feed's per-message consistency check."""
        b, a = self._bid_px, self._ask_px
        return (b[-1] if b else None), (a[0] if a else None)

    def iter_bids(self) -> Iterator[Level]:
        bids = self.bids
        for px in reversed(self._bid_px):
            yield px, bids[px]

    def iter_asks(self) -> Iterator[Level]:
        asks = self.asks
        for px in self._ask_px:
            yield px, asks[px]

    def _last_mid_x2(self) -> int | None:
        return self._last_mid

    def bid_size(self, px: int) -> int:
        return self.bids.get(px, 0)

    def ask_size(self, px: int) -> int:
        return self.asks.get(px, 0)

    def view(self, outcome: Outcome) -> BookView:
        return self if outcome is Outcome.YES else self._no_view

    def level_count(self) -> int:
        return len(self.bids) + len(self.asks)


class ComplementView(BookView):
    """The NO token's view of a YES book: NO bids are YES asks at 1-p, NO asks are YES bids at 1-p."""

    __slots__ = ("_book",)

    def __init__(self, book: OrderBook) -> None:
        self._book = book

    @property
    def best_bid(self) -> int | None:
        ask = self._book.best_ask
        return None if ask is None else ONE - ask

    @property
    def best_ask(self) -> int | None:
        bid = self._book.best_bid
        return None if bid is None else ONE - bid

    def iter_bids(self) -> Iterator[Level]:
        for px, qty in self._book.iter_asks():
            yield ONE - px, qty

    def iter_asks(self) -> Iterator[Level]:
        for px, qty in self._book.iter_bids():
            yield ONE - px, qty

    def _last_mid_x2(self) -> int | None:
        last = self._book._last_mid
        return None if last is None else 2 * ONE - last


def mirror_levels(levels: Iterable[Level]) -> list[Level]:
    """Map one token's levels to the complement token's prices (p -> 1-p)."""
    return [(ONE - px, qty) for px, qty in levels]


__all__ = [
    "BookView",
    "ComplementView",
    "Delta",
    "Impact",
    "Level",
    "Mid",
    "MidSource",
    "OrderBook",
    "book_hash",
    "mirror_levels",
]
