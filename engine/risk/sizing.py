"""Kelly sizing behind gates. Every gate that runs is recorded with the value that decided it.

Candidates: buy YES or buy NO, each either as a taker (at the ask, paying the market's taker fee) or as a
maker (joining the bid, no fee); and, for a position we hold, selling it at the bid. Each is scored by its
*conservative* edge: the confidence bound nearest the market, not the point estimate, minus the price
paid and the fee. The best taker is chosen when its edge clears `min_edge`, else the best maker. It then
passes, in order:

  1 ci_width      band narrower than max_ci_width
  2 edge          conservative net edge >= min_edge
  3 depth         visible depth near the mid >= min_depth_usdc
  4 kelly         fraction x Kelly on the conservative probability, as USDC of equity
  5 position_cap  room left under max_position_pct of bankroll in this market
  6 bankroll      free cash (cash minus what resting buys hold)
  7 depth_share   at most max_book_impact_pct of the visible size on the side we take
  8 slippage      (takers) no deeper than max_slippage_bps from the touch
  9 cluster_cap   room under max_cluster_pct for the market's cluster
 10 aggregate_cap room under max_aggregate_pct across all positions
 11 min_size      at least the market's minimum order size, and $1 for a marketable buy
Caps 5-10 only shrink the size; the one that shrank it last is the `binding_cap`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.book import BookView, Impact, OrderBook
from engine.domain import Estimate, FeeSchedule, Market, OrderType, Outcome, Side
from engine.units import ONE, SIZE_SCALE, floor_size, notional

# Selling a held token at the bid and buying its complement at 1 - bid are the same trade with the same edge,
# computed along different float paths; edges closer than this are a tie, and a tie goes to the exit.
_EDGE_TIE = 1e-9


@dataclass(frozen=True, slots=True)
class SizingLimits:
    kelly_fraction: float = 0.25
    max_ci_width: float = 0.40
    min_edge: float = 0.02
    min_depth_usdc: float = 500.0
    depth_band: int = 500  # price units around the mid counted as "near" (0.05)
    max_position_pct: float = 0.10
    max_book_impact_pct: float = 0.10
    max_slippage_bps: float = 50.0
    max_cluster_pct: float = 0.12
    max_aggregate_pct: float = 0.40
    min_order_usdc: Decimal = Decimal(1)
    allow_maker: bool = True


@dataclass(frozen=True, slots=True)
class Exposure:
    """What the portfolio already holds, in USDC at cost, as sizing needs it."""

    bankroll: Decimal  # equity used for Kelly and the percentage caps
    free_cash: Decimal
    market: Decimal = Decimal(0)
    cluster: Decimal = Decimal(0)
    aggregate: Decimal = Decimal(0)
    held: dict[Outcome, int] = field(default_factory=dict)  # shares of each token we hold


@dataclass(frozen=True, slots=True)
class Gate:
    name: str
    value: float
    threshold: float
    passed: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    outcome: Outcome
    side: Side
    price: int  # token price units
    liquidity: str  # "TAKER" | "MAKER"
    q_point: float  # point probability of the token
    q_cons: float  # conservative probability of the token
    fee_per_share: float
    edge_point: float
    edge_cons: float


@dataclass(frozen=True, slots=True)
class SizingResult:
    ok: bool
    reason: str  # "OK" or the failing gate's code, e.g. "SKIP_NO_EDGE"
    gates: tuple[Gate, ...]
    candidate: Candidate | None = None
    size: int = 0
    order_type: OrderType = OrderType.FAK
    post_only: bool = False
    limit_price: int | None = None
    kelly_full: float = 0.0
    kelly_applied: float = 0.0
    stake_usdc: float = 0.0
    binding_cap: str = ""
    expected_slippage_bps: float = 0.0
    depth_share: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def deciding(self) -> Gate | None:
        return self.gates[-1] if self.gates else None


def _candidates(
    est: Estimate, book: OrderBook, market: Market, exposure: Exposure, allow_maker: bool
) -> list[Candidate]:
    out: list[Candidate] = []
    fees = market.fees
    for outcome in (Outcome.YES, Outcome.NO):
        view = book.view(outcome)
        q, lo, hi = est.for_outcome(outcome)
        ask, bid = view.best_ask, view.best_bid
        if ask is not None:
            fee = fees.fee_per_share(ask)
            c = ask / ONE
            out.append(Candidate(outcome, Side.BUY, ask, "TAKER", q, lo, fee, q - c - fee, lo - c - fee))
        if allow_maker and bid is not None and (ask is None or bid < ask):
            c = bid / ONE
            out.append(Candidate(outcome, Side.BUY, bid, "MAKER", q, lo, 0.0, q - c, lo - c))
        held = exposure.held.get(outcome, 0)
        if held > 0 and bid is not None:
            fee = fees.fee_per_share(bid)
            c = bid / ONE
            # Selling gives c - fee now against a token worth at most `hi`.
            out.append(Candidate(outcome, Side.SELL, bid, "TAKER", q, hi, fee, c - fee - q, c - fee - hi))
    return out


def _max_qty_within_slippage(view: BookView, side: Side, limit_bps: float) -> tuple[int, int | None]:
    """Largest size a taker can take while its average price stays within `limit_bps` of the touch;
    returns (size, worst price touched)."""
    levels = view.iter_asks() if side is Side.BUY else view.iter_bids()
    qty = 0
    cost = 0
    ref = None
    worst = None
    for px, size in levels:
        if ref is None:
            ref = px
        # Whole level, if the average stays within bounds.
        new_qty, new_cost = qty + size, cost + size * px
        avg = new_cost / new_qty
        if abs(avg - ref) / ref * 1e4 <= limit_bps:
            qty, cost, worst = new_qty, new_cost, px
            continue
        # Part of the level: solve |(cost + x px)/(qty + x) - ref| = limit for x.
        bound = ref * (1 + limit_bps / 1e4) if side is Side.BUY else ref * (1 - limit_bps / 1e4)
        denom = px - bound
        if denom != 0 and qty > 0:
            x = int((bound * qty - cost) / denom)
            if x > 0:
                qty += min(x, size)
                worst = px
        break
    return qty, worst


def _fit_free_cash(
    view: BookView, fees: FeeSchedule, qty: int, walk: Impact, free_cash: Decimal
) -> tuple[int, Impact]:
    """Shrink a taker buy until free cash covers it held at its limit (worst) price plus the taker fee there,
    as the venue holds it; the caps priced every share at the touch."""
    while qty > 0 and walk.worst_price is not None:
        px = walk.worst_price
        if notional(px, qty) + fees.taker_fee(px, qty) <= free_cash:
            break
        per_share = px / ONE + fees.fee_per_share(px)
        qty = max(0, min(floor_size(qty - 1), floor_size(int(float(free_cash) / per_share * SIZE_SCALE))))
        walk = view.impact(Side.BUY, qty)
    return qty, walk


def size_trade(
    est: Estimate,
    book: OrderBook,
    market: Market,
    exposure: Exposure,
    limits: SizingLimits,
    *,
    sell_only: bool = False,
) -> SizingResult:
    gates: list[Gate] = []

    def fail(code: str, cand: Candidate | None = None) -> SizingResult:
        return SizingResult(False, f"SKIP_{code}", tuple(gates), cand)

    width = est.width
    gates.append(Gate("ci_width", width, limits.max_ci_width, width <= limits.max_ci_width))
    if width > limits.max_ci_width:
        return fail("CI_TOO_WIDE")

    cands = _candidates(est, book, market, exposure, limits.allow_maker)
    if sell_only:
        cands = [c for c in cands if c.side is Side.SELL]
    if not cands:
        gates.append(Gate("edge", float("-inf"), limits.min_edge, False))
        return fail("NO_BOOK")
    # An edge big enough to pay the spread and the fee is taken now (a certain fill beats a better price
    # that may never fill); otherwise the best maker price is posted.
    takers = [c for c in cands if c.liquidity == "TAKER"]
    makers = [c for c in cands if c.liquidity == "MAKER"]
    best_taker = max(takers, key=lambda c: c.edge_cons, default=None)
    if best_taker is not None:
        top = best_taker.edge_cons
        best_taker = max(
            takers, key=lambda c: (c.side is Side.SELL and c.edge_cons >= top - _EDGE_TIE, c.edge_cons)
        )
    best_maker = max(makers, key=lambda c: c.edge_cons, default=None)
    if best_taker is not None and (best_taker.edge_cons >= limits.min_edge or best_maker is None):
        best = best_taker
    else:
        assert best_maker is not None
        best = best_maker
    gates.append(Gate("edge", best.edge_cons, limits.min_edge, best.edge_cons >= limits.min_edge))
    if best.edge_cons < limits.min_edge:
        return fail("NO_EDGE", best)

    depth = book.depth_usdc(limits.depth_band)
    gates.append(Gate("depth", depth, limits.min_depth_usdc, depth >= limits.min_depth_usdc))
    if depth < limits.min_depth_usdc:
        return fail("THIN_BOOK", best)

    view = book.view(best.outcome)
    price = best.price / ONE
    bankroll = float(exposure.bankroll)
    binding = ""
    slippage_bps = 0.0
    limit_price = best.price
    notes: dict[str, float] = {}

    if best.side is Side.SELL:
        # Exits sell what we hold; Kelly and the exposure caps only ever shrink risk, so they do not apply.
        qty = exposure.held.get(best.outcome, 0)
        kelly_full = kelly_applied = 0.0
        stake = qty * price / SIZE_SCALE
        binding = "position"
    else:
        cost = price + best.fee_per_share
        kelly_full = max(0.0, (best.q_cons - cost) / (1 - cost)) if cost < 1 else 0.0
        kelly_applied = kelly_full * limits.kelly_fraction
        stake = kelly_applied * bankroll
        gates.append(Gate("kelly", stake, 0.0, stake > 0))
        binding = "kelly"

        def cap(name: str, room: float) -> None:
            nonlocal stake, binding
            room = max(0.0, room)
            gates.append(Gate(name, stake, room, stake <= room))
            if room < stake:
                stake, binding = room, name

        cap("position_cap", limits.max_position_pct * bankroll - float(exposure.market))
        cap("bankroll", float(exposure.free_cash))  # the stake already includes the fee
        qty = int(stake / cost * SIZE_SCALE) if cost > 0 else 0

        visible = sum(q for _, q in (view.iter_asks() if best.liquidity == "TAKER" else view.iter_bids()))
        share_cap = int(visible * limits.max_book_impact_pct)
        gates.append(
            Gate(
                "depth_share",
                qty / visible if visible else float("inf"),
                limits.max_book_impact_pct,
                qty <= share_cap,
            )
        )
        if qty > share_cap:
            qty, binding = share_cap, "depth_share"
        stake = qty * cost / SIZE_SCALE

        def cap_usdc(name: str, room: float) -> None:
            nonlocal qty, stake, binding
            room = max(0.0, room)
            gates.append(Gate(name, stake, room, stake <= room))
            if room < stake:
                qty = int(room / cost * SIZE_SCALE) if cost > 0 else 0
                stake = qty * cost / SIZE_SCALE
                binding = name

        if best.liquidity == "TAKER":
            max_qty, worst = _max_qty_within_slippage(view, Side.BUY, limits.max_slippage_bps)
            gates.append(Gate("slippage", qty, max_qty, qty <= max_qty))
            if qty > max_qty:
                qty, binding = max_qty, "slippage"
                stake = qty * cost / SIZE_SCALE
        cap_usdc("cluster_cap", limits.max_cluster_pct * bankroll - float(exposure.cluster))
        cap_usdc("aggregate_cap", limits.max_aggregate_pct * bankroll - float(exposure.aggregate))

    qty = floor_size(qty)
    if best.liquidity == "TAKER" and qty > 0:
        walk = view.impact(best.side, qty)
        if best.side is Side.BUY:
            fitted, walk = _fit_free_cash(view, market.fees, qty, walk, exposure.free_cash)
            if fitted < qty:
                notes["free_cash_shrink"] = (qty - fitted) / SIZE_SCALE
                qty, binding = fitted, "bankroll"
                stake = qty * cost / SIZE_SCALE
        slippage_bps = walk.slippage_bps
        limit_price = walk.worst_price or best.price
        notes["impact_levels"] = float(walk.levels)
        notes["depth_share"] = walk.depth_share

    def too_small(decision: str) -> SizingResult:  # sized, then below a minimum the market takes
        return SizingResult(
            False,
            decision,
            tuple(gates),
            best,
            qty,
            kelly_full=kelly_full,
            kelly_applied=kelly_applied,
            stake_usdc=stake,
            binding_cap=binding,
        )

    gates.append(
        Gate("min_size", qty / SIZE_SCALE, market.min_order_size / SIZE_SCALE, qty >= market.min_order_size)
    )
    if qty < market.min_order_size:
        return too_small("SKIP_BELOW_MIN_SIZE")
    value = qty * best.price / (ONE * SIZE_SCALE)
    if best.liquidity == "TAKER" and best.side is Side.BUY:
        gates.append(
            Gate("min_notional", value, float(limits.min_order_usdc), value >= float(limits.min_order_usdc))
        )
        if value < float(limits.min_order_usdc):
            return too_small("SKIP_BELOW_MIN_NOTIONAL")
    taker = best.liquidity == "TAKER"
    return SizingResult(
        ok=True,
        reason="OK",
        gates=tuple(gates),
        candidate=best,
        size=qty,
        order_type=OrderType.FAK if taker else OrderType.GTC,
        post_only=not taker,
        limit_price=limit_price,
        kelly_full=kelly_full,
        kelly_applied=kelly_applied,
        stake_usdc=stake,
        binding_cap=binding,
        expected_slippage_bps=slippage_bps,
        depth_share=notes.get("depth_share", 0.0),
        notes=notes,
    )
