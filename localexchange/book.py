"""One unified order book per condition, in YES terms, with price-time priority.

A BUY of YES at p and a SELL of NO at 1-p are the same bid; a SELL of YES at p and a BUY of NO at 1-p the
same ask. Both tokens' books are views of this one structure, which is why a YES bid can be matched by a
NO bid (a mint) and a YES ask by a NO ask (a merge).

Every change of a level's aggregate size is reported to `on_level(is_bid, yes_px, new_size)` right after
it happens, so the caller can publish `price_change` entries with the best prices of that moment.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from engine.units import ONE, px_to_str, qty_to_str

LevelCallback = Callable[[bool, int, int], None]


@dataclass(slots=True, eq=False)
class Order:
    """An order known to the exchange. Amounts are base units (1e-6 shares); prices are price units in the
    order's own token terms (`price`) and in YES terms (`yes_px`)."""

    id: str
    owner: str  # API key, or "" for the background maker
    account: str  # lower-case funder address
    maker_address: str
    signer: str
    market: str
    token_id: str
    is_yes: bool
    side: str  # "BUY" | "SELL" of `token_id`
    price: int  # token terms; the limit of a resting order
    limit: Fraction  # exact limit from makerAmount/takerAmount (market orders may be off-tick)
    original: int
    maker_amount: int
    taker_amount: int
    order_type: str
    expiration: int  # unix seconds, 0 = none
    created_ms: int
    post_only: bool = False
    background: bool = False
    remaining: int = 0
    matched: int = 0
    status: str = "LIVE"
    associate_trades: list[str] = field(default_factory=list)
    reserved: int = 0  # cash (BUY) or shares (SELL) held for the resting remainder
    seq: int = 0

    @property
    def is_bid(self) -> bool:
        """True if the order sits on the YES bid side of the unified book."""
        return self.is_yes == (self.side == "BUY")

    @property
    def yes_px(self) -> int:
        return self.price if self.is_yes else ONE - self.price

    @property
    def outcome_price_str(self) -> str:
        return px_to_str(self.price)

    @property
    def size_str(self) -> str:
        return qty_to_str(self.original)


class UnifiedBook:
    __slots__ = ("_ask_px", "_bid_px", "asks", "bids", "on_level", "sizes_ask", "sizes_bid")

    def __init__(self, on_level: LevelCallback | None = None) -> None:
        self.bids: dict[int, deque[Order]] = {}
        self.asks: dict[int, deque[Order]] = {}
        self.sizes_bid: dict[int, int] = {}
        self.sizes_ask: dict[int, int] = {}
        self._bid_px: list[int] = []  # ascending
        self._ask_px: list[int] = []  # ascending
        self.on_level = on_level

    # --- mutation ------------------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        is_bid = order.is_bid
        px = order.yes_px
        levels, sizes, prices = self._side(is_bid)
        queue = levels.get(px)
        if queue is None:
            queue = levels[px] = deque()
            sizes[px] = 0
            bisect.insort(prices, px)
        queue.append(order)
        sizes[px] += order.remaining
        self._changed(is_bid, px, sizes[px])

    def remove(self, order: Order) -> None:
        is_bid = order.is_bid
        px = order.yes_px
        levels, sizes, prices = self._side(is_bid)
        queue = levels.get(px)
        if queue is None:
            return
        try:
            queue.remove(order)
        except ValueError:
            return
        sizes[px] -= order.remaining
        self._drop_if_empty(is_bid, px)

    def reduce(self, order: Order, qty: int) -> None:
        """Take `qty` from a resting order (a fill or a background shrink); removes it when it is empty."""
        is_bid = order.is_bid
        px = order.yes_px
        levels, sizes, _ = self._side(is_bid)
        order.remaining -= qty
        sizes[px] -= qty
        if order.remaining <= 0:
            levels[px].remove(order)
        self._drop_if_empty(is_bid, px)

    def _drop_if_empty(self, is_bid: bool, px: int) -> None:
        levels, sizes, prices = self._side(is_bid)
        size = sizes[px]
        if not levels[px]:
            del levels[px]
            del sizes[px]
            i = bisect.bisect_left(prices, px)
            del prices[i]
            size = 0
        self._changed(is_bid, px, size)

    def _changed(self, is_bid: bool, px: int, size: int) -> None:
        if self.on_level is not None:
            self.on_level(is_bid, px, size)

    def _side(self, is_bid: bool) -> tuple[dict[int, deque[Order]], dict[int, int], list[int]]:
        if is_bid:
            return self.bids, self.sizes_bid, self._bid_px
        return self.asks, self.sizes_ask, self._ask_px

    # --- queries -------------------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return self._bid_px[-1] if self._bid_px else None

    def best_ask(self) -> int | None:
        return self._ask_px[0] if self._ask_px else None

    def crosses(self, taker_is_bid: bool, limit_yes: Fraction) -> bool:
        if taker_is_bid:
            ask = self.best_ask()
            return ask is not None and ask <= limit_yes
        bid = self.best_bid()
        return bid is not None and bid >= limit_yes

    def crossing_prices(self, taker_is_bid: bool, limit_yes: Fraction) -> list[int]:
        """Opposite-side prices a taker may trade at, best first (a snapshot: filling changes the book)."""
        if taker_is_bid:
            end = bisect.bisect_right(self._ask_px, limit_yes)
            return self._ask_px[:end]
        start = bisect.bisect_left(self._bid_px, limit_yes)
        return self._bid_px[start:][::-1]

    def queue(self, is_bid: bool, px: int) -> list[Order]:
        """The resting orders at a level in time priority (a copy)."""
        q = (self.bids if is_bid else self.asks).get(px)
        return list(q) if q else []

    def available(self, taker_is_bid: bool, limit_yes: Fraction, skip: Callable[[Order], bool]) -> int:
        """Size a taker could fill right now (FOK pre-check)."""
        total = 0
        if taker_is_bid:
            for px in self._ask_px:
                if px > limit_yes:
                    break
                total += sum(o.remaining for o in self.asks[px] if not skip(o))
        else:
            for px in reversed(self._bid_px):
                if px < limit_yes:
                    break
                total += sum(o.remaining for o in self.bids[px] if not skip(o))
        return total

    def levels(self, is_yes: bool) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) of one token, best first, in that token's prices."""
        bids = [(px, self.sizes_bid[px]) for px in reversed(self._bid_px)]
        asks = [(px, self.sizes_ask[px]) for px in self._ask_px]
        if is_yes:
            return bids, asks
        return [(ONE - px, q) for px, q in asks], [(ONE - px, q) for px, q in bids]

    def top(self, is_yes: bool) -> tuple[int | None, int | None]:
        bid, ask = self.best_bid(), self.best_ask()
        if is_yes:
            return bid, ask
        return (None if ask is None else ONE - ask), (None if bid is None else ONE - bid)

    def orders(self) -> Iterator[Order]:
        for queue in list(self.bids.values()) + list(self.asks.values()):
            yield from list(queue)

    def __len__(self) -> int:
        return len(self._bid_px) + len(self._ask_px)


def wire_levels(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> tuple[list[dict], list[dict]]:
    """Polymarket's wire order: bids ascending, asks descending, so the best level is LAST."""
    return (
        [{"price": px_to_str(p), "size": qty_to_str(q)} for p, q in reversed(bids)],
        [{"price": px_to_str(p), "size": qty_to_str(q)} for p, q in reversed(asks)],
    )
