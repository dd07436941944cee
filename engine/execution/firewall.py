"""Execution firewall: the last check between an order intent and the venue. No order bypasses it.

`Firewall.check` is pure: it returns the order as it may be sent (price on the tick grid, size on the
0.01-share grid, GTD expiry filled in) or the first rule it breaks, with the value that decided it.
`Firewall.commit` then spends the mutation budget and registers the order as live; `approve` does both.
Rules, in the order they run:

  DUPLICATE_ID          a client order id is used once per run
  guards                callables run next (breakers, market state, zones); the first refusal wins
  POST_ONLY_NOT_RESTING post-only only with GTC/GTD
  EXPIRY_WITHOUT_GTD    an expiration only on GTD
  GTD_EXPIRY_TOO_SOON   a GTD expiry must leave lifetime beyond the 60 s security buffer
  INVALID_SIZE / BELOW_MIN_SIZE   size floored to 0.01 shares, then >= the market minimum
  INVALID_TICK          tick must be one of the venue's tick sizes
  (price)               rounded onto the tick grid (buys down, sells up) BEFORE clamping to [tick, 1-tick]
  STALE_BOOK            the book the order is judged by is at most max_book_age_ms old
  POST_ONLY_CROSSES     a post-only order must not cross the fresh book
  NOT_MARKETABLE        FOK/FAK must cross the book
  BELOW_MIN_NOTIONAL    a marketable BUY is worth at least $1 at its limit price
  SLIPPAGE / BOOK_SHARE the fresh book walk stays within max_slippage_bps and max_book_share of the side
  FOK_UNFILLABLE        a FOK must fill completely within its limit
  DUPLICATE_ORDER       no second live order with the same token, side, price and size
  RATE_BUDGET           a rolling budget of mutations (places + cancels) per minute
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from engine.book import Impact, OrderBook
from engine.domain import Market, OrderRequest, OrderType, Side
from engine.refusal import Refusal
from engine.units import VALID_TICKS, ceil_to_tick, clamp_price, floor_size, floor_to_tick, notional

T = TypeVar("T")


class RefusalLike(Protocol):
    """What a guard returns to stop an order: a code and the value that decided it (engine.refusal.Refusal,
    or a layer's richer record of the same shape: a breaker's block, an exposure admission)."""

    @property
    def code(self) -> str: ...

    @property
    def value(self) -> float: ...

    @property
    def threshold(self) -> float: ...

    @property
    def detail(self) -> str: ...


Guard = Callable[[OrderRequest, int], RefusalLike | None]


@dataclass(frozen=True, slots=True)
class Verdict:
    """An approved order (`request` as it may be sent, `adjustments` saying what changed) or a rejection."""

    ok: bool
    request: OrderRequest
    rejection: Refusal | None = None
    adjustments: tuple[str, ...] = ()
    walk: Impact | None = None  # the fresh book walk of a marketable order

    @property
    def code(self) -> str:
        return "OK" if self.rejection is None else self.rejection.code


@dataclass(frozen=True, slots=True)
class FirewallLimits:
    batch_max: int = 15
    mutations_per_min: int = 60
    mutation_window_ms: int = 60_000
    cancel_reserve: int = 0  # budget places may not use, so cancels are never starved by quoting
    requote_min_ticks: int = 2
    max_slippage_bps: float = 50.0
    max_book_share: float = 0.10
    gtd_buffer_s: int = 60
    gtd_lifetime_s: int = 300
    stale_order_ms: int = 3_600_000
    max_book_age_ms: int = 30_000
    min_marketable_usdc: Decimal = Decimal(1)

    @classmethod
    def from_settings(cls, settings: Any) -> FirewallLimits:
        x, r, b = settings.execution, settings.risk, settings.breakers
        return cls(
            batch_max=x.batch_max,
            mutations_per_min=x.mutation_budget_per_min,
            cancel_reserve=x.mutation_cancel_reserve,
            requote_min_ticks=x.requote_min_ticks,
            max_slippage_bps=x.max_slippage_bps,
            max_book_share=r.max_book_impact_pct,
            gtd_buffer_s=x.gtd_security_buffer_s,
            gtd_lifetime_s=x.gtd_lifetime_s,
            stale_order_ms=int(x.stale_order_s * 1000),
            max_book_age_ms=int(b.stale_feed_s * 1000),
            min_marketable_usdc=r.min_order_usdc,
        )


class MutationBudget:
    """At most `limit` mutations in any window of `window_ms`: a mutation at t counts while now - t < window.

    Time only moves forward here: an earlier `now` than one already seen is read as the latest one."""

    def __init__(self, limit: int = 60, window_ms: int = 60_000) -> None:
        if limit < 1 or window_ms < 1:
            raise ValueError("mutation budget: limit and window must be >= 1")
        self.limit = limit
        self.window_ms = window_ms
        self._spent: deque[int] = deque()
        self._now = -(2**62)

    def _prune(self, now: int) -> int:
        now = max(now, self._now)
        self._now = now
        cutoff = now - self.window_ms
        spent = self._spent
        while spent and spent[0] <= cutoff:
            spent.popleft()
        return now

    def used(self, now: int) -> int:
        self._prune(now)
        return len(self._spent)

    def available(self, now: int, reserve: int = 0) -> int:
        return max(0, self.limit - reserve - self.used(now))

    def try_spend(self, n: int, now: int, reserve: int = 0) -> bool:
        """Spend `n` mutations at `now` if the window has room for all of them (all or nothing)."""
        if n < 0:
            raise ValueError("cannot spend a negative number of mutations")
        now = self._prune(now)
        if len(self._spent) + n > self.limit - reserve:
            return False
        self._spent.extend([now] * n)
        return True

    def resets_at(self, now: int) -> int | None:
        """When the oldest counted mutation leaves the window (None when nothing is counted)."""
        self._prune(now)
        return self._spent[0] + self.window_ms if self._spent else None


@dataclass(frozen=True, slots=True)
class LiveOrder:
    request: OrderRequest
    created_ts: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    batches: tuple[tuple[OrderRequest, ...], ...]  # approved orders in venue-sized batches, input order kept
    verdicts: tuple[Verdict, ...]  # one per input, same order


@dataclass(frozen=True, slots=True)
class CancelResult:
    allowed: tuple[str, ...]
    refused: tuple[str, ...]  # out of budget: retry later or use cancel-all


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    if size < 1:
        raise ValueError("batch size must be >= 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def should_requote(resting_price: int, target_price: int, tick: int, min_ticks: int = 2) -> bool:
    """A resting order is replaced only when its target moved MORE than `min_ticks` ticks."""
    return abs(target_price - resting_price) > min_ticks * tick


def snap_price(price: int, tick: int, side: Side) -> int:
    """Round onto the tick grid in the direction that never overpays (buys down, sells up), THEN clamp to
    [tick, 1 - tick]: clamping first could leave a price between grid points."""
    stepped = floor_to_tick(price, tick) if side is Side.BUY else ceil_to_tick(price, tick)
    return clamp_price(stepped, tick)


def gtd_expiration(now_ms: int, buffer_s: int, lifetime_s: int) -> int:
    """Unix seconds: the venue needs expiry >= now + 60 s, so the buffer comes on top of the lifetime.
    `now` is rounded up so a fraction of a second never eats into the buffer."""
    return -(-now_ms // 1000) + buffer_s + lifetime_s


class Firewall:
    def __init__(self, limits: FirewallLimits | None = None, *, guards: Sequence[Guard] = ()) -> None:
        self.limits = limits or FirewallLimits()
        self.guards = tuple(guards)
        self.budget = MutationBudget(self.limits.mutations_per_min, self.limits.mutation_window_ms)
        self.live: dict[str, LiveOrder] = {}
        self._seen: set[str] = set()

    # --- placing -------------------------------------------------------------------------------
    def check(
        self, request: OrderRequest, *, market: Market, tick: int, book: OrderBook, now: int
    ) -> Verdict:
        """Every rule, no side effects. The approved request is the one to send."""
        lim = self.limits
        adjustments: list[str] = []

        def reject(code: str, value: float, threshold: float, detail: str = "") -> Verdict:
            return Verdict(
                False, request, Refusal(code, float(value), float(threshold), detail), tuple(adjustments)
            )

        if request.client_order_id in self._seen:
            return reject("DUPLICATE_ID", 1, 0, request.client_order_id)
        for guard in self.guards:
            refusal = guard(request, now)
            if refusal is not None:
                return reject(refusal.code, refusal.value, refusal.threshold, refusal.detail)

        otype = request.order_type
        if request.post_only and not otype.rests:
            return reject("POST_ONLY_NOT_RESTING", 0, 0, f"post-only needs GTC or GTD, not {otype.value}")
        expiration = request.expiration
        if otype is OrderType.GTD:
            earliest = gtd_expiration(now, lim.gtd_buffer_s, 0)
            if expiration is None:
                expiration = gtd_expiration(now, lim.gtd_buffer_s, lim.gtd_lifetime_s)
                adjustments.append(f"expiration={expiration}")
            elif expiration <= earliest:
                return reject(
                    "GTD_EXPIRY_TOO_SOON",
                    expiration,
                    earliest + 1,
                    "expiry must leave lifetime past the buffer",
                )
        elif expiration is not None:
            return reject("EXPIRY_WITHOUT_GTD", expiration, 0, f"{otype.value} orders carry no expiration")

        size = floor_size(request.size)
        if size != request.size:
            adjustments.append(f"size {request.size}->{size}")
        if size <= 0:
            return reject("INVALID_SIZE", size, 1)
        if size < market.min_order_size:
            return reject("BELOW_MIN_SIZE", size, market.min_order_size)

        if tick not in VALID_TICKS:
            return reject("INVALID_TICK", tick, 0, "tick is not a venue tick size")
        price = snap_price(request.price, tick, request.side)
        if price != request.price:
            adjustments.append(f"price {request.price}->{price}")

        age = now - book.ts
        if age > lim.max_book_age_ms:
            return reject("STALE_BOOK", age, lim.max_book_age_ms)
        view = book.view(request.outcome)
        buy = request.side is Side.BUY
        touch = view.best_ask if buy else view.best_bid
        marketable = touch is not None and (price >= touch if buy else price <= touch)
        walk: Impact | None = None
        if request.post_only and marketable:
            assert touch is not None
            return reject("POST_ONLY_CROSSES", price, touch, "post-only order would cross the book")
        if otype in (OrderType.FOK, OrderType.FAK) and not marketable:
            return reject(
                "NOT_MARKETABLE", price, -1 if touch is None else touch, f"{otype.value} must cross the book"
            )
        if marketable:
            value = notional(price, size)
            if buy and value < lim.min_marketable_usdc:
                return reject("BELOW_MIN_NOTIONAL", value, lim.min_marketable_usdc)
            walk = view.impact(request.side, size, limit=price)
            if walk.slippage_bps > lim.max_slippage_bps:
                return reject("SLIPPAGE", walk.slippage_bps, lim.max_slippage_bps)
            if walk.depth_share > lim.max_book_share:
                return reject("BOOK_SHARE", walk.depth_share, lim.max_book_share)
            if otype is OrderType.FOK and not walk.complete:
                return reject("FOK_UNFILLABLE", walk.filled, size)

        for live in self.live.values():
            r = live.request
            if (r.token_id, r.side, r.price, r.size) == (request.token_id, request.side, price, size):
                return reject("DUPLICATE_ORDER", 1, 0, f"same as live order {r.client_order_id}")

        available = self.budget.available(now, lim.cancel_reserve)
        if available < 1:
            used = self.budget.used(now)
            return reject("RATE_BUDGET", used, lim.mutations_per_min - lim.cancel_reserve)

        approved = replace(request, price=price, size=size, expiration=expiration)
        return Verdict(True, approved, None, tuple(adjustments), walk)

    def commit(self, request: OrderRequest, now: int) -> bool:
        """Spend one mutation and register the order as live; False (nothing recorded) when out of budget."""
        if request.client_order_id in self._seen:
            return False
        if not self.budget.try_spend(1, now, self.limits.cancel_reserve):
            return False
        self._seen.add(request.client_order_id)
        self.live[request.client_order_id] = LiveOrder(request, now)
        return True

    def approve(
        self, request: OrderRequest, *, market: Market, tick: int, book: OrderBook, now: int
    ) -> Verdict:
        verdict = self.check(request, market=market, tick=tick, book=book, now=now)
        if verdict.ok and not self.commit(verdict.request, now):
            used = self.budget.used(now)
            rejection = Refusal(
                "RATE_BUDGET", used, self.limits.mutations_per_min - self.limits.cancel_reserve
            )
            return Verdict(False, request, rejection, verdict.adjustments)
        return verdict

    def approve_batch(
        self, items: Iterable[tuple[OrderRequest, Market, int, OrderBook]], now: int
    ) -> BatchResult:
        """Each order is judged on its own (its budget spent as it passes); the approved ones come back in
        batches of at most `batch_max`, as the venue admits them."""
        verdicts = [self.approve(req, market=m, tick=t, book=b, now=now) for req, m, t, b in items]
        approved = [v.request for v in verdicts if v.ok]
        batches = tuple(tuple(c) for c in chunks(approved, self.limits.batch_max))
        return BatchResult(batches, tuple(verdicts))

    # --- upkeep --------------------------------------------------------------------------------
    def cancel(self, client_order_ids: Iterable[str], now: int) -> CancelResult:
        """Cancels spend the same budget as places; ids beyond it are refused (retry, or cancel all)."""
        allowed: list[str] = []
        refused: list[str] = []
        for coid in client_order_ids:
            (allowed if self.budget.try_spend(1, now) else refused).append(coid)
        return CancelResult(tuple(allowed), tuple(refused))

    def adopt(self, request: OrderRequest, created_ts: int) -> None:
        """An order already at the venue (restored after a restart, or adopted): it counts as live, for the
        duplicate check and the stale-order cancel, without spending budget again."""
        self._seen.add(request.client_order_id)
        self.live[request.client_order_id] = LiveOrder(request, created_ts)

    def cancel_all(self) -> tuple[str, ...]:
        """The safety action is never refused and is not a per-order mutation, so it costs no budget."""
        ids = tuple(self.live)
        self.live.clear()
        return ids

    def on_done(self, client_order_id: str) -> None:
        """The order reached a terminal state: it no longer counts as live."""
        self.live.pop(client_order_id, None)

    def check_requote(self, client_order_id: str, target_price: int, tick: int) -> Refusal | None:
        """Refuse a cancel/replace whose target is within `requote_min_ticks` of where the order rests."""
        live = self.live.get(client_order_id)
        if live is None:
            return None
        moved = abs(target_price - live.request.price)
        if not should_requote(live.request.price, target_price, tick, self.limits.requote_min_ticks):
            return Refusal(
                "DEBOUNCED", moved / tick, self.limits.requote_min_ticks, "target moved too little"
            )
        return None

    def stale_orders(self, now: int) -> list[str]:
        """Live orders at least `stale_order_ms` old, oldest first: to be cancelled."""
        cutoff = self.limits.stale_order_ms
        old = [(o.created_ts, coid) for coid, o in self.live.items() if now - o.created_ts >= cutoff]
        return [coid for _, coid in sorted(old)]


__all__ = [
    "BatchResult",
    "CancelResult",
    "Firewall",
    "FirewallLimits",
    "Guard",
    "LiveOrder",
    "MutationBudget",
    "Refusal",
    "RefusalLike",
    "Verdict",
    "chunks",
    "gtd_expiration",
    "should_requote",
    "snap_price",
]
