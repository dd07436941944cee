"""Portfolio exposure: token inventory, balance reservations and the market / cluster / aggregate caps.

Exposure of a token = what we hold, valued at the larger of its cost and its mark (the canonical mid; cost
when no mark is known), plus every resting BUY for it, valued at the larger of its limit price and the mark.
Valuing at the larger of the two means a fill never raises exposure above what its order reserved (a buy
fills at or below its limit), so once an order is admitted under the caps its fills stay under them.

A BUY reserves cash (limit price x remaining size, plus the largest taker fee any fill at or below the
limit can cost) and a SELL reserves the shares it sells, so two orders never spend the same dollars or
sell the same shares.

Clusters: markets that move together share one cap. Markets of one neg-risk event, of one Gamma event, and
markets that match one configured keyword group are joined, transitively (an event whose markets match two
groups joins both groups into one cluster). A market joined to nothing is its own cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.book import OrderBook
from engine.domain import FeeSchedule, Fill, Market, OrderRequest, Outcome, Side
from engine.risk.sizing import Exposure
from engine.units import SIZE_SCALE, floor_size, notional, px_dec, qty_dec

_HALF = Decimal("0.5")
_ZERO = Decimal(0)
# Representative label of a cluster: the broadest kind of link wins, then the name.
_KIND_RANK = {"group": 0, "negrisk": 1, "event": 2, "market": 3}


@dataclass(frozen=True, slots=True)
class ExposureLimits:
    max_market_pct: float = 0.10
    max_cluster_pct: float = 0.12
    max_aggregate_pct: float = 0.40

    @classmethod
    def from_settings(cls, settings: Any) -> ExposureLimits:
        r = settings.risk
        return cls(r.max_position_pct, r.max_cluster_pct, r.max_aggregate_pct)


class ClusterMap:
    """Union-find over markets and the labels that join them; cluster names are deterministic."""

    def __init__(self, keyword_groups: Mapping[str, Sequence[str]] | None = None) -> None:
        self._groups: list[tuple[str, re.Pattern[str]]] = []
        for name, words in sorted((keyword_groups or {}).items()):
            alts = "|".join(re.escape(w.lower().strip()) for w in words if w.strip())
            if alts:
                # Whole words only: "ai" must not match "said".
                self._groups.append((name, re.compile(rf"(?<![a-z0-9])(?:{alts})(?![a-z0-9])")))
        self._parent: dict[str, str] = {}

    def _find(self, x: str) -> str:
        parent = self._parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    @staticmethod
    def _rank(label: str) -> tuple[int, str]:
        return _KIND_RANK[label.split(":", 1)[0]], label

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            keep, drop = (ra, rb) if self._rank(ra) <= self._rank(rb) else (rb, ra)
            self._parent[drop] = keep

    def labels(self, market: Market, neg_risk_id: str = "") -> list[str]:
        """What links this market to others."""
        out = []
        if market.neg_risk and neg_risk_id:
            out.append(f"negrisk:{neg_risk_id}")
        if market.event_id:
            out.append(f"event:{market.event_id}")
        text = f"{market.question} {market.slug.replace('-', ' ')} {market.category}".lower()
        out.extend(f"group:{name}" for name, pattern in self._groups if pattern.search(text))
        return out

    def add(self, market: Market, neg_risk_id: str = "") -> str:
        node = f"market:{market.condition_id}"
        self._find(node)
        for label in self.labels(market, neg_risk_id):
            self._union(node, label)
        return self.cluster(market.condition_id)

    def cluster(self, condition_id: str) -> str:
        return self._find(f"market:{condition_id}")


@dataclass(slots=True)
class Holding:
    token_id: str
    condition_id: str
    outcome: Outcome
    shares: int = 0
    cost: Decimal = _ZERO


@dataclass(slots=True)
class Reservation:
    client_order_id: str
    condition_id: str
    token_id: str
    side: Side
    price: int
    remaining: int
    post_only: bool
    fees: FeeSchedule


@dataclass(frozen=True, slots=True)
class Headroom:
    """How many more shares an order at `price` may add, and which limit binds."""

    shares: int
    binding: str  # market_cap | cluster_cap | aggregate_cap | cash
    rooms: dict[str, Decimal]  # USDC left under each limit


@dataclass(frozen=True, slots=True)
class Admission:
    ok: bool
    code: str  # OK | MARKET_CAP | CASH | CLUSTER_CAP | AGGREGATE_CAP | SHARES | UNKNOWN_MARKET | ...
    value: float = 0.0
    threshold: float = 0.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InventoryRow:
    token_id: str
    condition_id: str
    outcome: Outcome
    shares: int
    cost: Decimal
    mark: Decimal | None
    value: Decimal  # shares at the mark (cost when unmarked)
    exposure: Decimal  # what counts against the caps, resting buys included


def fee_bound(fees: FeeSchedule, price: int, qty: int) -> Decimal:
    """The largest taker fee a fill of `qty` at any price up to `price` can cost (p(1-p) peaks at 0.5)."""
    if not fees.rate or qty <= 0:
        return _ZERO
    p = min(px_dec(price), _HALF)
    return qty_dec(qty) * fees.rate * (p * (1 - p)) ** fees.exponent


class ExposureBook:
    def __init__(
        self, cash: Decimal, limits: ExposureLimits | None = None, clusters: ClusterMap | None = None
    ) -> None:
        self.cash = cash
        self.limits = limits or ExposureLimits()
        self.clusters = clusters or ClusterMap()
        self.markets: dict[str, Market] = {}
        self._tokens: dict[str, tuple[str, Outcome]] = {}
        self.holdings: dict[str, Holding] = {}
        self.marks: dict[str, Decimal] = {}
        self.reservations: dict[str, Reservation] = {}
        # Cost each sell took off its holding, so a sell whose trade later FAILS can be undone exactly.
        self._sell_effects: dict[tuple[str, str], Decimal] = {}

    # --- setup and marks ---------------------------------------------------------------------------
    def add_market(self, market: Market, neg_risk_id: str = "") -> str:
        self.markets[market.condition_id] = market
        for outcome in Outcome:
            self._tokens[market.token(outcome)] = (market.condition_id, outcome)
        return self.clusters.add(market, neg_risk_id)

    def cluster(self, condition_id: str) -> str:
        return self.clusters.cluster(condition_id)

    def set_mark(self, token_id: str, mark: Decimal | None) -> None:
        if mark is None:
            self.marks.pop(token_id, None)
        else:
            self.marks[token_id] = mark

    def mark_from_book(self, market: Market, book: OrderBook) -> None:
        """Both tokens at the book's canonical mid (engine.book.Mid, with its one-sided and crossed rules)."""
        for outcome in Outcome:
            self.set_mark(market.token(outcome), book.view(outcome).mid().exact)

    def sync(self, cash: Decimal, holdings: Iterable[tuple[str, int, Decimal]]) -> None:
        """Replace cash and inventory with reconciled values (token id, shares, cost)."""
        self.cash = cash
        self.holdings.clear()
        for token_id, shares, cost in holdings:
            h = self._holding(token_id)
            h.shares, h.cost = shares, cost

    def _holding(self, token_id: str) -> Holding:
        h = self.holdings.get(token_id)
        if h is None:
            cid, outcome = self._tokens[token_id]
            h = self.holdings[token_id] = Holding(token_id, cid, outcome)
        return h

    # --- measures ----------------------------------------------------------------------------------
    def _value(self, token_id: str, shares: int, cost: Decimal) -> Decimal:
        mark = self.marks.get(token_id)
        return cost if mark is None else mark * shares / SIZE_SCALE

    def _per_share(self, token_id: str, price: int) -> Decimal:
        mark = self.marks.get(token_id)
        p = px_dec(price)
        return p if mark is None or mark < p else mark

    def token_exposure(self, token_id: str) -> Decimal:
        total = _ZERO
        h = self.holdings.get(token_id)
        if h is not None and h.shares > 0:
            total += max(h.cost, self._value(token_id, h.shares, h.cost))
        for r in self.reservations.values():
            if r.token_id == token_id and r.side is Side.BUY:
                total += self._per_share(token_id, r.price) * r.remaining / SIZE_SCALE
        return total

    def market_exposure(self, condition_id: str) -> Decimal:
        m = self.markets[condition_id]
        return self.token_exposure(m.yes_token) + self.token_exposure(m.no_token)

    def _touched(self) -> list[str]:
        """Markets with shares held or an order resting: the only ones with exposure (a catalog can hold
        thousands of markets; the read model asks many times a second)."""
        cids = {h.condition_id for h in self.holdings.values() if h.shares > 0}
        cids.update(r.condition_id for r in self.reservations.values())
        return sorted(cids)

    def cluster_exposure(self, cluster: str) -> Decimal:
        return sum(
            (self.market_exposure(cid) for cid in self._touched() if self.cluster(cid) == cluster), _ZERO
        )

    def aggregate_exposure(self) -> Decimal:
        return sum((self.market_exposure(cid) for cid in self._touched()), _ZERO)

    def clusters_exposure(self) -> dict[str, Decimal]:
        """Exposure of every cluster that has any."""
        out: dict[str, Decimal] = {}
        for cid in self._touched():
            c = self.cluster(cid)
            out[c] = out.get(c, _ZERO) + self.market_exposure(cid)
        return out

    def equity(self) -> Decimal:
        return self.cash + sum(
            (self._value(t, h.shares, h.cost) for t, h in self.holdings.items() if h.shares), _ZERO
        )

    def reserved_cash(self) -> Decimal:
        return sum(
            (
                self._cash_need(r.price, r.remaining, r.post_only, r.fees)
                for r in self.reservations.values()
                if r.side is Side.BUY
            ),
            _ZERO,
        )

    def free_cash(self) -> Decimal:
        return self.cash - self.reserved_cash()

    def held(self, token_id: str) -> int:
        h = self.holdings.get(token_id)
        return 0 if h is None else h.shares

    def free_shares(self, token_id: str) -> int:
        selling = sum(
            r.remaining for r in self.reservations.values() if r.token_id == token_id and r.side is Side.SELL
        )
        return self.held(token_id) - selling

    @staticmethod
    def _cash_need(price: int, qty: int, post_only: bool, fees: FeeSchedule) -> Decimal:
        return notional(price, qty) + (_ZERO if post_only else fee_bound(fees, price, qty))

    def _caps(self, condition_id: str, bankroll: Decimal) -> list[tuple[str, Decimal, Decimal]]:
        """(limit name, exposure now, cap) for the market, its cluster and the whole book."""
        lim = self.limits
        return [
            ("MARKET_CAP", self.market_exposure(condition_id), bankroll * Decimal(repr(lim.max_market_pct))),
            (
                "CLUSTER_CAP",
                self.cluster_exposure(self.cluster(condition_id)),
                bankroll * Decimal(repr(lim.max_cluster_pct)),
            ),
            ("AGGREGATE_CAP", self.aggregate_exposure(), bankroll * Decimal(repr(lim.max_aggregate_pct))),
        ]

    # --- questions -----------------------------------------------------------------------------------
    def headroom(
        self,
        condition_id: str,
        outcome: Outcome,
        price: int,
        *,
        bankroll: Decimal | None = None,
        post_only: bool = False,
    ) -> Headroom:
        """How much more a BUY of `outcome` at `price` may add: the smallest room under the caps and free cash,
        in shares on the 0.01-share grid."""
        m = self.markets[condition_id]
        bankroll = self.equity() if bankroll is None else bankroll
        token = m.token(outcome)
        per_share = self._per_share(token, price)
        rooms: dict[str, Decimal] = {}
        best: tuple[int, str] | None = None
        for name, now, cap in self._caps(condition_id, bankroll):
            room = max(_ZERO, cap - now)
            rooms[name.lower()] = room
            shares = int(room * SIZE_SCALE / per_share) if per_share > 0 else 0
            best = (shares, name.lower()) if best is None or shares < best[0] else best
        free = max(_ZERO, self.free_cash())
        rooms["cash"] = free
        cash_per_share = px_dec(price) + (_ZERO if post_only else fee_bound(m.fees, price, SIZE_SCALE))
        cash_shares = int(free * SIZE_SCALE / cash_per_share) if cash_per_share > 0 else 0
        assert best is not None
        if cash_shares < best[0]:
            best = (cash_shares, "cash")
        return Headroom(floor_size(best[0]), best[1], rooms)

    def reduces(self, request: OrderRequest) -> bool:
        """The order only shrinks a position: a sell of shares we hold and have not already offered."""
        return request.side is Side.SELL and 0 < request.size <= self.free_shares(request.token_id)

    def check(self, request: OrderRequest, *, bankroll: Decimal | None = None) -> Admission:
        """Would this order fit? Caps in order: market, cash, cluster, aggregate. No side effects."""
        cid = request.condition_id
        m = self.markets.get(cid)
        if m is None or self._tokens.get(request.token_id, (None,))[0] != cid:
            return Admission(False, "UNKNOWN_MARKET", detail=f"{cid} / {request.token_id}")
        if request.client_order_id in self.reservations:
            return Admission(False, "DUPLICATE", detail=request.client_order_id)
        if request.size <= 0:
            return Admission(False, "INVALID_SIZE", request.size, 1)
        if request.side is Side.SELL:
            free = self.free_shares(request.token_id)
            if request.size > free:
                return Admission(
                    False,
                    "SHARES",
                    float(qty_dec(request.size)),
                    float(qty_dec(free)),
                    "selling more than is held and not already offered",
                )
            return Admission(True, "OK")
        bankroll = self.equity() if bankroll is None else bankroll
        add = self._per_share(request.token_id, request.price) * request.size / SIZE_SCALE
        need = self._cash_need(request.price, request.size, request.post_only, m.fees)
        caps = self._caps(cid, bankroll)
        free = self.free_cash()
        checks = [caps[0], ("CASH", _ZERO, free), caps[1], caps[2]]
        for name, now, cap in checks:
            after = now + (need if name == "CASH" else add)
            if after > cap:
                return Admission(False, name, float(after), float(cap), f"{name.lower()}: {after} > {cap}")
        return Admission(True, "OK")

    def admit(self, request: OrderRequest, *, bankroll: Decimal | None = None) -> Admission:
        """Check, and on success reserve the cash (BUY) or shares (SELL) until release or fill."""
        verdict = self.check(request, bankroll=bankroll)
        if verdict.ok:
            self.reservations[request.client_order_id] = Reservation(
                request.client_order_id,
                request.condition_id,
                request.token_id,
                request.side,
                request.price,
                request.size,
                request.post_only,
                self.markets[request.condition_id].fees,
            )
        return verdict

    def reserve(self, request: OrderRequest, *, remaining: int) -> None:
        """Hold what an order already at the venue (restored after a restart, or adopted) can still take.
        No cap is checked: the order exists whether the caps like it or not."""
        if remaining > 0 and request.condition_id in self.markets:
            self.reservations[request.client_order_id] = Reservation(
                request.client_order_id,
                request.condition_id,
                request.token_id,
                request.side,
                request.price,
                remaining,
                request.post_only,
                self.markets[request.condition_id].fees,
            )

    def guard(self, *, bankroll: Decimal | None = None) -> Any:
        """A firewall guard that checks (without reserving) each order against the caps."""

        def check(request: OrderRequest, now: int) -> Admission | None:
            verdict = self.check(request, bankroll=bankroll)
            return None if verdict.ok else verdict

        return check

    # --- events ----------------------------------------------------------------------------------------
    def release(self, client_order_id: str) -> None:
        """The order is done (cancelled, expired, rejected, filled): what it still held is free again."""
        self.reservations.pop(client_order_id, None)

    def on_fill(self, fill: Fill) -> None:
        h = self._holding(fill.token_id)
        value = notional(fill.price, fill.size)
        if fill.side is Side.BUY:
            h.shares += fill.size
            h.cost += value
            self.cash -= value + fill.fee
        else:
            self._sell_effects[(fill.trade_id, fill.client_order_id)] = self._reduce(h, fill.size)
            self.cash += value - fill.fee
        r = self.reservations.get(fill.client_order_id)
        if r is not None:
            r.remaining -= fill.size
            if r.remaining <= 0:
                del self.reservations[fill.client_order_id]

    def reverse_fill(self, fill: Fill) -> None:
        """Undo a fill whose trade failed on chain: inventory and cash as if it never happened, and an order
        still resting holds its reservation for those shares again."""
        h = self._holding(fill.token_id)
        value = notional(fill.price, fill.size)
        if fill.side is Side.BUY:
            size = min(fill.size, h.shares)
            removed = h.cost if size == h.shares else min(value, h.cost)
            h.shares -= size
            h.cost -= removed
            self.cash += value + fill.fee
        else:
            h.shares += fill.size
            h.cost += self._sell_effects.pop((fill.trade_id, fill.client_order_id), value)
            self.cash -= value - fill.fee
        r = self.reservations.get(fill.client_order_id)
        if r is not None:
            r.remaining += fill.size

    def on_settlement(self, token_id: str, size: int, cash: Decimal) -> None:
        self._reduce(self._holding(token_id), size)
        self.cash += cash

    @staticmethod
    def _reduce(h: Holding, size: int) -> Decimal:
        """Take `size` shares out; returns the cost removed with them."""
        size = min(size, h.shares)
        if size <= 0:
            return _ZERO
        if size == h.shares:
            removed = h.cost
            h.shares, h.cost = 0, _ZERO
        else:
            removed = h.cost * size / h.shares
            h.cost -= removed
            h.shares -= size
        return removed

    # --- views -----------------------------------------------------------------------------------------
    def for_sizing(self, condition_id: str, *, bankroll: Decimal | None = None) -> Exposure:
        """The sizer's view of this market: the same measures the caps use, and free shares for exits."""
        m = self.markets[condition_id]
        return Exposure(
            bankroll=self.equity() if bankroll is None else bankroll,
            free_cash=self.free_cash(),
            market=self.market_exposure(condition_id),
            cluster=self.cluster_exposure(self.cluster(condition_id)),
            aggregate=self.aggregate_exposure(),
            held={o: max(0, self.free_shares(m.token(o))) for o in Outcome},
        )

    def inventory(self) -> tuple[InventoryRow, ...]:
        rows = []
        for token_id, h in sorted(self.holdings.items()):
            if h.shares <= 0:
                continue
            rows.append(
                InventoryRow(
                    token_id,
                    h.condition_id,
                    h.outcome,
                    h.shares,
                    h.cost,
                    self.marks.get(token_id),
                    self._value(token_id, h.shares, h.cost),
                    self.token_exposure(token_id),
                )
            )
        return tuple(rows)


__all__ = [
    "Admission",
    "ClusterMap",
    "ExposureBook",
    "ExposureLimits",
    "Headroom",
    "Holding",
    "InventoryRow",
    "Reservation",
    "fee_bound",
]
