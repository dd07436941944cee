"""Domain types shared by every part of the engine.

Prices and sizes are integers in the units of `engine.units`; money is `Decimal`. Value objects are
frozen slotted dataclasses: cheap to build in hot paths and safe to hand to the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from engine.units import ONE, px_dec, qty_dec


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Outcome(StrEnum):
    """The two tokens of a binary market. YES is the first outcome ("Up" in up/down markets)."""

    YES = "YES"
    NO = "NO"

    @property
    def other(self) -> Outcome:
        return Outcome.NO if self is Outcome.YES else Outcome.YES


class OrderType(StrEnum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def rests(self) -> bool:
        return self in (OrderType.GTC, OrderType.GTD)


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class Mode(StrEnum):
    SEMI = "semi"
    AUTO = "auto"
    OBSERVE = "observe"


class EngineState(StrEnum):
    """Where the engine is. Only RUNNING takes new risk."""

    RECONCILING = "RECONCILING"  # restoring the ledger and checking it against the venue before trading
    RUNNING = "RUNNING"
    HALTED = "HALTED"  # no new risk until a human resumes (or the breaker that halted resumes by itself)
    RESUMING = "RESUMING"  # resumed; trading again from the next cycle
    ERROR = "ERROR"  # something failed that the engine cannot judge: halted, orders cancelled, needs a restart
    STOPPING = "STOPPING"  # cancelling and waiting for the venue's last word before it stops
    STOPPED = "STOPPED"


# The states in which new risk may be taken.
TRADING_STATES = frozenset({EngineState.RUNNING, EngineState.RESUMING})


_FEE_QUANT = Decimal("0.00001")


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A market's taker fee: fee = shares x rate x (p(1-p))^exponent, makers pay nothing."""

    rate: Decimal = Decimal(0)
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: Decimal = Decimal(0)

    def taker_fee(self, px: int, qty: int) -> Decimal:
        """Fee in USDC for a taker fill of `qty` at `px`, rounded to 5 decimals; below 0.00001 it is 0."""
        if not self.rate or qty <= 0:
            return Decimal(0)
        p = px_dec(px)
        raw = qty_dec(qty) * self.rate * (p * (1 - p)) ** self.exponent
        if raw < _FEE_QUANT:
            return Decimal(0)
        return raw.quantize(_FEE_QUANT, rounding=ROUND_HALF_UP)

    def fee_per_share(self, px: int) -> float:
        """Model-side fee per share, for edge arithmetic (not for accounting)."""
        p = px / ONE
        return float(self.rate) * (p * (1 - p)) ** self.exponent


# Legacy 15-minute crypto up/down schedule (protocol notes section 9.1): rate 0.25, exponent 2.
CRYPTO_15M_FEES = FeeSchedule(rate=Decimal("0.25"), exponent=2, taker_only=True, rebate_rate=Decimal("0.20"))


@dataclass(frozen=True, slots=True)
class RewardParams:
    """A market's liquidity-reward terms (Gamma `rewardsMaxSpread`, `rewardsMinSize`, `clobRewards`): the max
    incentive spread v in cents, the smallest scoring order (shares, 1e-6), the daily pool (USDC) and the
    multiplier b. engine/analytics/rewards.py scores quotes under them."""

    max_spread_cents: float
    min_size: int
    daily_rate: float = 0.0
    multiplier: float = 1.0  # b

    def __post_init__(self) -> None:
        if not self.max_spread_cents > 0:
            raise ValueError(f"max_spread_cents: {self.max_spread_cents} must be > 0 cents")
        if self.min_size < 0:
            raise ValueError(f"min_size: {self.min_size} must be >= 0 shares (1e-6 units)")

    @property
    def max_spread(self) -> int:
        """v in price units (1e-4)."""
        return int(round(self.max_spread_cents * ONE / 100))


@dataclass(frozen=True, slots=True)
class Market:
    condition_id: str
    question: str
    slug: str
    yes_token: str
    no_token: str
    yes_label: str = "Yes"
    no_label: str = "No"
    category: str = ""
    tick: int = 100
    min_order_size: int = 5_000_000
    neg_risk: bool = False
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    start_ts: int | None = None  # ms; for up/down markets the window start
    end_ts: int | None = None  # ms; trading closes here
    event_id: str = ""
    rules: str = ""  # the resolution rules text (Gamma `description`)
    resolution_source: str = ""  # Gamma `resolutionSource`
    rewards: RewardParams | None = None  # None: the market pays no liquidity rewards

    @property
    def short_lived(self) -> bool:
        """A market whose whole life is under a day (15-minute up/down): resolved by a price feed."""
        return self.start_ts is not None and self.end_ts is not None and self.end_ts - self.start_ts < 86_400_000

    def token(self, outcome: Outcome) -> str:
        return self.yes_token if outcome is Outcome.YES else self.no_token

    def outcome_of(self, token_id: str) -> Outcome:
        if token_id == self.yes_token:
            return Outcome.YES
        if token_id == self.no_token:
            return Outcome.NO
        raise KeyError(f"token {token_id} is not part of market {self.condition_id}")

    def label(self, outcome: Outcome) -> str:
        """The token's name on every screen, log line and `ctl` answer: the market's own outcome names (Up and
        Down), and YES and NO for a plain yes/no market (in capitals, as the console has always shown them)."""
        raw = self.yes_label if outcome is Outcome.YES else self.no_label
        return raw.upper() if raw.lower() in ("yes", "no") else raw


@dataclass(frozen=True, slots=True)
class Resolution:
    condition_id: str
    ts: int
    yes_payout: Decimal  # 1, 0, or a fraction for a 50/50 resolution

    def payout(self, outcome: Outcome) -> Decimal:
        return self.yes_payout if outcome is Outcome.YES else 1 - self.yes_payout


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the engine asks the venue to do; exact ticks and base units."""

    client_order_id: str
    condition_id: str
    token_id: str
    outcome: Outcome
    side: Side
    price: int
    size: int
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiration: int | None = None  # unix seconds, GTD only


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    client_order_id: str
    condition_id: str
    token_id: str
    outcome: Outcome
    side: Side
    price: int
    size: int
    fee: Decimal
    liquidity: Liquidity
    ts: int

    @property
    def cash_flow(self) -> Decimal:
        """Cash moved by the trade itself, before fees: negative for a buy."""
        gross = Decimal(self.price * self.size).scaleb(-10)
        return -gross if self.side is Side.BUY else gross


@dataclass(frozen=True, slots=True)
class Estimate:
    """A brain's probability for the YES outcome, with a confidence band."""

    brain: str
    p_hat: float
    ci_low: float
    ci_high: float
    features: dict[str, float] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.ci_high - self.ci_low

    def for_outcome(self, outcome: Outcome) -> tuple[float, float, float]:
        if outcome is Outcome.YES:
            return self.p_hat, self.ci_low, self.ci_high
        return 1 - self.p_hat, 1 - self.ci_high, 1 - self.ci_low


class ProposalStatus(StrEnum):
    """Where a proposal stands. PENDING waits for the operator; every other status is final."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    OBSERVED = "OBSERVED"  # observe mode: recorded, never sent
    REFUSED = "REFUSED"  # approved, but a rule refused its order at send time
    FAILED = "FAILED"


class MarketPhase(StrEnum):
    """A watched market's life as the engine sees it (its trading phase by the clock is risk.market_state)."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"  # trading ended, not yet resolved
    RESOLVED = "RESOLVED"


def yes_terms(outcome: Outcome, side: Side, price: int) -> tuple[bool, int]:
    """An order or fill as the YES book sees it: (is a bid, YES price). A NO ask at p is a YES bid at 1 - p."""
    if outcome is Outcome.YES:
        return side is Side.BUY, price
    return side is Side.SELL, ONE - price
