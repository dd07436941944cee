"""The engine's read model: immutable, numbered, cheap to compare. The UI renders only this."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MarketRow:
    condition_id: str
    title: str
    state: str  # OPEN | CLOSED | RESOLVED
    mid: float | None
    best_bid: int | None
    best_ask: int | None
    spread: int | None
    depth_usdc: float
    score: float | None  # last conservative edge the sizer saw (negative = no trade; None = not sized)
    last_decision: str
    yes_position: int
    no_position: int
    book_age_ms: int | None
    tick: int
    time_to_close_s: float | None
    maker: str = ""  # the market maker's word on it: "ON 0.62" (quoted, its score) or "0.41 THIN_BOOK" (why not)
    start_ts: int | None = None  # ms: an up/down market's window opens here
    end_ts: int | None = None  # ms: trading closes here
    yes_label: str = "YES"  # the outcomes as the market names them (Up/Down), YES/NO otherwise
    no_label: str = "NO"


@dataclass(frozen=True, slots=True)
class BookLadder:
    """Top levels in YES terms, best first, plus our working orders (YES-terms side and price)."""

    condition_id: str
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    our_orders: tuple[tuple[bool, int, int], ...]  # (is_bid, yes price, remaining)
    ts: int
    maker_line: str = ""  # what the market maker does here: inventory, skew, width, markouts, income


@dataclass(frozen=True, slots=True)
class ProposalRow:
    proposal_id: str
    condition_id: str
    title: str
    outcome: str
    side: str
    price: int
    size: int
    order_type: str
    post_only: bool
    p_hat: float
    ci_low: float
    ci_high: float
    edge_net: float
    kelly: float
    binding_cap: str
    expected_slippage_bps: float
    created_ts: int
    expires_ts: int
    status: (
        str  # PENDING | APPROVED | REJECTED | EXPIRED | OBSERVED | REFUSED | FAILED, or BLOCKED (see below)
    )
    # Why it ended as it did: the rule that refused it with its value and threshold, the operator's note, the
    # cause of an expiry. A BLOCKED row is no proposal: the sizer's trade for a market that a risk layer
    # (breaker, market state, price zone, exposure) stopped before it became one; the latest per market.
    reason: str = ""
    # The refusing rule of a REFUSED or BLOCKED row: its code, the value that decided it, the threshold.
    reason_code: str = ""
    reason_value: float = 0.0
    reason_threshold: float = 0.0
    expires_wall: int = 0  # unix ms, real time: a pending proposal's time to live counts in the operator's time
    strategy_id: str = ""  # the strategy that asked
    kind: str = "ORDER"  # ORDER: one order to send | MANDATE: a quoting mandate (bounds below, no single order)
    bounds: str = ""  # a mandate's bounds in one line: sides, max order, max inventory, band, lifetime
    legs: str = ""  # a multi-leg proposal: every leg, "BUY Up 0.45 x10 | BUY Down 0.5 x10" (all go or none)


@dataclass(frozen=True, slots=True)
class PositionRow:
    token_id: str
    condition_id: str
    title: str
    outcome: str
    size: int
    avg_price: Decimal
    mark: Decimal | None
    unrealized: Decimal
    realized: Decimal
    opened_ts: int
    holders: tuple[tuple[str, int], ...] = ()  # (strategy id, shares it holds), for the per-strategy filter
    time_to_close_s: float | None = None  # engine time until its market closes (negative: closed)


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    condition_id: str
    title: str
    outcome: str
    side: str
    price: int
    size: int
    filled: int
    state: str
    order_type: str
    created_ts: int
    strategy_id: str = ""


@dataclass(frozen=True, slots=True)
class BlotterRow:
    """One line of the trade history (engine.blotter): a fill, or a settlement paying out a resolved market."""

    ts: int  # engine ms
    kind: str  # FILL | SETTLEMENT (the engine has no merge or redeem events: a redemption arrives as a settlement)
    condition_id: str
    title: str
    outcome: str  # the market's label for the token (Up/Down, Yes/No)
    side: str  # BUY | SELL; "" for a settlement
    price: int  # 1e-4; a settlement's payout per share (0 or 10000, 5000 for a 50/50 resolution)
    size: int  # 1e-6 shares
    fee: Decimal
    liquidity: str  # MAKER | TAKER; "" for a settlement
    strategy_id: str  # whose order; a settlement: the strategies that held the token, joined by "+"
    realized: Decimal | None  # P&L this event booked before fees (proceeds - average cost); None: a buy
    order_id: str = ""  # the client order id of a fill
    trade_id: str = ""  # the venue's trade id of a fill


@dataclass(frozen=True, slots=True)
class StrategyRow:
    """One strategy: whether it runs, its budget and what it holds, its P&L, what it last decided."""

    strategy_id: str
    description: str
    state: str  # RUNNING | PAUSED | OFF (available, not enabled)
    reason: str  # why it is paused (the limit, or who paused it)
    budget: Decimal  # its share of equity, USDC
    committed: Decimal  # held cost + working buys + proposed buys, USDC
    open_orders: int
    positions: int
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    last_decision: str  # its latest verdict, "market: DECISION"
    mandates: int = 0  # active quoting mandates


@dataclass(frozen=True, slots=True)
class MandateRow:
    mandate_id: str
    strategy_id: str
    condition_id: str
    title: str
    status: str  # PENDING | ACTIVE | REVOKED | EXPIRED | REJECTED | ENDED
    bounds: str  # one line: sides, max order, max inventory, band, lifetime
    orders: int  # working orders placed under it
    expires_ts: int  # engine clock: when an ACTIVE mandate lapses


@dataclass(frozen=True, slots=True)
class PnLView:
    equity: Decimal
    cash: Decimal
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    day: Decimal
    week: Decimal
    high_water: Decimal
    drawdown: float  # fraction of the high-water mark
    history: tuple[float, ...]  # equity samples, oldest first
    reserved: Decimal = Decimal(0)  # cash held by working buys (notional and the largest fee they may pay)
    available: Decimal = Decimal(0)  # cash not reserved: what a new buy may spend


@dataclass(frozen=True, slots=True)
class BreakerState:
    name: str
    state: str  # OK | TRIPPED | COOLDOWN
    value: float  # the value that tripped it while not OK, else the current one
    threshold: float
    action: str


@dataclass(frozen=True, slots=True)
class RiskView:
    exposure: Decimal
    exposure_cap: Decimal
    day_loss: Decimal
    day_limit: Decimal
    week_loss: Decimal
    week_limit: Decimal
    consecutive_losses: int
    max_consecutive_losses: int
    largest_cluster: str
    largest_cluster_exposure: Decimal
    cluster_cap: Decimal
    breakers: tuple[BreakerState, ...]  # "manual" (the operator's halt) first, then every circuit breaker
    drawdown: float = 0.0  # from the breakers' high-water mark
    max_drawdown: float = 0.0
    reduce_only: bool = False  # the operator's reduce-only mode (risk.reduce_only)

    @property
    def tripped(self) -> tuple[BreakerState, ...]:
        return tuple(b for b in self.breakers if b.state != "OK")


@dataclass(frozen=True, slots=True)
class FeedHealth:
    messages_per_s: float
    oldest_book_age_ms: int | None
    books: int
    stale_books: int


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    seq: int
    ts: int
    mode: str  # semi | auto | observe
    venue: str  # REPLAY | QUOTES | SIM | PAPER | LIVE
    state: str  # engine.domain.EngineState: RECONCILING | RUNNING | HALTED | RESUMING | ERROR | STOPPING | STOPPED
    halt_reason: str
    bankroll: Decimal
    markets: tuple[MarketRow, ...]
    books: dict[str, BookLadder]
    proposals: tuple[ProposalRow, ...]
    positions: tuple[PositionRow, ...]
    orders: tuple[OrderRow, ...]
    pnl: PnLView
    risk: RiskView
    feed: FeedHealth
    log: tuple[str, ...]
    counters: dict[str, int]
    live_armed: bool = True  # False only on a LIVE venue until the operator types LIVE
    error: str = ""  # ERROR: what failed, in one line
    strategies: tuple[StrategyRow, ...] = ()  # every available strategy, running ones first
    mandates: tuple[MandateRow, ...] = ()  # quoting mandates: pending and active, then the latest ended
    blotter: tuple[BlotterRow, ...] = ()  # trade history: fills and settlements, newest first, at most 200
    data_ended: bool = False  # the venue's data has played out (a replay that finished): nothing more will come

    @property
    def halted(self) -> bool:
        return self.state == "HALTED"

    @property
    def pending_proposals(self) -> tuple[ProposalRow, ...]:
        return tuple(p for p in self.proposals if p.status == "PENDING")
