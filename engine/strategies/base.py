"""The strategy interface: what a strategy sees, what it may ask for, and the hooks the engine calls.

A strategy is one trading idea. It never calls a venue or the store: it reads the world through a read-only
`StrategyContext` and answers with `Intent`s (one or more order legs approved or refused as one, each with
the rationale that justified it) and `Cancel`s of its own orders. The engine puts every intent through the
same risk pipeline (breakers, market state, zones, exposure, firewall, reservations), asks the operator in
semi mode, and reports back through `on_order` and `on_fill`.

Prices and sizes are the integers of `engine.units` (price in 1e-4, shares in 1e-6); money is `Decimal`.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engine.book import OrderBook
from engine.domain import Fill, Market, OrderType, Outcome, Side
from engine.execution.orders import OrderState
from engine.refusal import Refusal
from engine.risk.sizing import Exposure, SizingLimits
from engine.units import ONE, px_to_str, qty_to_str


class IntentKind(StrEnum):
    """Why the intent exists: new risk, a way out of risk, or a quote a mandate may cover."""

    ENTRY = "ENTRY"
    EXIT = "EXIT"
    QUOTE = "QUOTE"


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of an intent."""

    condition_id: str
    outcome: Outcome
    side: Side
    price: int  # 1e-4 units, strictly inside (0, 1)
    size: int  # shares in 1e-6 units, > 0
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiry_s: int | None = None  # GTD only: seconds the order may rest (default execution.gtd_lifetime_s)

    def __post_init__(self) -> None:
        if not 0 < self.price < ONE:
            raise ValueError(f"leg price: {self.price} is not strictly inside (0, {ONE}) in 1e-4 units")
        if self.size <= 0:
            raise ValueError(f"leg size: {self.size} must be > 0 shares (1e-6 units)")
        if self.post_only and not self.order_type.rests:
            raise ValueError(
                f"leg post_only: a {self.order_type.value} order cannot rest, so it cannot be post-only"
            )
        if self.expiry_s is not None and (self.order_type is not OrderType.GTD or self.expiry_s <= 0):
            raise ValueError(
                "leg expiry_s: seconds > 0, and only for GTD orders (a GTD leg without it gets the"
                " engine's execution.gtd_lifetime_s)"
            )


@dataclass(frozen=True, slots=True)
class Rationale:
    """Every number the operator needs to judge the trade, and one line saying why."""

    summary: str
    p_hat: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    edge_net: float | None = None  # per share, after fees, conservative
    kelly: float | None = None
    expected_slippage_bps: float | None = None
    binding_cap: str = ""
    q_cons: float | None = None  # conservative probability of the leg's token (the price zones judge by it)
    numbers: Mapping[str, Any] = field(default_factory=dict)  # anything else, stored with the proposal


@dataclass(frozen=True, slots=True)
class Intent:
    """What a strategy wants done. All legs are approved, refused, sized down or expire together."""

    strategy_id: str
    legs: tuple[Leg, ...]
    rationale: Rationale
    kind: IntentKind = IntentKind.ENTRY

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError("intent legs: at least one leg")

    @property
    def condition_ids(self) -> frozenset[str]:
        return frozenset(leg.condition_id for leg in self.legs)


@dataclass(frozen=True, slots=True)
class Cancel:
    """Withdraw one of the strategy's own orders."""

    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class MandateRequest:
    """Leave to requote one market without asking each time (semi mode): the sides the strategy may quote, its
    largest order, the most it may hold of either token, a band of YES-terms prices, and a lifetime. The
    operator approves it like a proposal. While it is active, an intent of kind QUOTE inside it goes out
    without a proposal (still through every risk layer); one outside it becomes a proposal."""

    strategy_id: str
    condition_id: str
    sides: tuple[tuple[Outcome, Side], ...]
    max_order_size: int  # shares, 1e-6 units
    max_inventory: int  # shares of either token the strategy may hold, 1e-6 units
    band_low: int  # YES-terms price, 1e-4 units (a NO leg at p counts as 1 - p)
    band_high: int
    lifetime_s: int
    rationale: Rationale

    def __post_init__(self) -> None:
        if not self.sides:
            raise ValueError("mandate sides: at least one (outcome, side) pair")
        if self.max_order_size <= 0 or self.max_inventory <= 0:
            raise ValueError("mandate max_order_size and max_inventory: shares > 0 (1e-6 units)")
        if not 0 < self.band_low <= self.band_high < ONE:
            raise ValueError(
                f"mandate band: 0 < band_low <= band_high < {ONE} in 1e-4 units, got {self.band_low}..{self.band_high}"
            )
        if self.lifetime_s <= 0:
            raise ValueError("mandate lifetime_s: seconds > 0")

    def bounds(self, label: Callable[[Outcome], str] | None = None) -> str:
        """The bounds in one line, as the operator reads them (`label`: the market's name for an outcome)."""
        name = label or (lambda o: o.value)
        sides = " ".join(f"{side.value} {name(outcome)}" for outcome, side in self.sides)
        return (
            f"{sides}; order <= {qty_to_str(self.max_order_size)}; hold <= {qty_to_str(self.max_inventory)};"
            f" {name(Outcome.YES)} {px_to_str(self.band_low)}-{px_to_str(self.band_high)}; {self.lifetime_s}s"
        )


@dataclass(frozen=True, slots=True)
class MandateView:
    mandate_id: str
    status: str  # PENDING | ACTIVE
    request: MandateRequest
    expires_ts: int | None  # ACTIVE: engine time it lapses


Action = Intent | Cancel | MandateRequest


@dataclass(frozen=True, slots=True)
class MarketNote:
    """What a strategy tells the operator about one market: a short cell for the Markets pane (where it ranks
    the market, or why not) and a line for the Book pane (what it is doing there)."""

    cell: str
    line: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """A strategy's view of one market at one moment, recorded as an evaluation row whether it acts or not
    (a decline is a decision: `SKIP_NO_EDGE`, `HOLD`, ...). `decision` is an upper-case code."""

    condition_id: str
    decision: str
    reason: str = ""
    p_hat: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    edge: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    brain: str = ""  # the model behind p_hat, if any


@dataclass(frozen=True, slots=True)
class NotTradable:
    """Why a strategy may not act on a market now: the decision code for its verdict, a sentence, and the
    refusal behind it when a rule said no (stored with the evaluation)."""

    decision: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Reply:
    """What a hook returns: actions for the engine and verdicts for the ledger."""

    actions: list[Action] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def extend(self, other: Reply) -> None:
        self.actions.extend(other.actions)
        self.verdicts.extend(other.verdicts)


@dataclass(frozen=True, slots=True)
class OrderView:
    """One of the strategy's working orders as the engine knows it."""

    client_order_id: str
    condition_id: str
    token_id: str
    outcome: Outcome
    side: Side
    price: int
    size: int
    filled: int
    state: OrderState
    order_type: OrderType
    created_ts: int
    cancel_requested: bool

    @property
    def resting(self) -> bool:
        return self.state.resting and not self.cancel_requested

    @property
    def in_flight(self) -> bool:
        return self.state in (OrderState.SUBMITTED, OrderState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order of this strategy changed state (sent, acknowledged, filled, cancelled, rejected...)."""

    order: OrderView
    previous: OrderState
    cause: str
    ts: int


@dataclass(frozen=True, slots=True)
class Budget:
    """The strategy's share of the bankroll: what it may commit, what it has committed, what is left."""

    limit: Decimal
    committed: Decimal  # cost of held positions plus reserved cash of working buys

    @property
    def free(self) -> Decimal:
        return max(Decimal(0), self.limit - self.committed)


class StrategyContext(Protocol):
    """The read-only world a strategy sees. Views are the engine's own objects: read them, never mutate."""

    strategy_id: str

    def now_ms(self) -> int: ...

    def markets(self) -> Iterable[Market]:
        """Every market being watched (open, warm, or closing)."""
        ...

    def market(self, condition_id: str) -> Market: ...

    def book(self, condition_id: str) -> OrderBook: ...

    def event_mids(self, condition_id: str) -> tuple[float, ...]:
        """The YES mids (probabilities) of the other markets of this market's event that have a mid now."""
        ...

    def tick(self, condition_id: str) -> int: ...

    def tradable(self, condition_id: str) -> NotTradable | None:
        """None when the strategy may act on this market now, otherwise why not (`SKIP_HALTED`,
        `SKIP_STALE_BOOK`, `SKIP_CLOSED`, `SKIP_BUSY`: a proposal or order of this strategy is in flight)."""
        ...

    def may_add_risk(self, condition_id: str) -> bool:
        """False while a breaker blocks new risk in this market (exits may still go)."""
        ...

    def may_reduce(self, condition_id: str) -> bool:
        """False while even exits are blocked in this market."""
        ...

    def risk_block(self, condition_id: str) -> Refusal:
        """The rule blocking new risk in this market (call when `may_add_risk` is False)."""
        ...

    def sizing_exposure(self, condition_id: str) -> Exposure:
        """What is held and committed, as the Kelly sizer needs it, with this strategy's equity as bankroll."""
        ...

    def orders(self, condition_id: str | None = None) -> tuple[OrderView, ...]:
        """This strategy's working orders (optionally in one market)."""
        ...

    def position(self, token_id: str) -> int:
        """Shares this strategy holds of one token."""
        ...

    def budget(self) -> Budget: ...

    def mandate(self, condition_id: str) -> MandateView | None:
        """This strategy's pending or active quoting mandate in a market, if any."""
        ...

    def equity(self) -> Decimal:
        """This strategy's budget limit as the bankroll its sizing sees."""
        ...

    def phase(self, condition_id: str) -> str:
        """The market's trading phase by the clock: NORMAL, WATCH, CLOSE_WINDOW, CLOSED, RESOLVING, RESOLVED."""
        ...

    def maker_allowed(self, condition_id: str) -> bool:
        """The market's phase admits new maker quotes (not in its close window or later)."""
        ...

    def size_multiplier(self, condition_id: str) -> float:
        """The size ratchet near the close: the share of normal size new risk may take now (0 once over)."""
        ...

    def book_age_s(self, condition_id: str) -> float:
        """Seconds of engine time since the market's book last changed (inf before its first update)."""
        ...

    def live_venue(self) -> bool:
        """Real orders on the real venue (books there must be seconds fresh); False on paper and replay."""
        ...

    def markout(self, condition_id: str) -> float | None:
        """Mean 2-minute markout of the latest fills in this market (every strategy's), cents; None before."""
        ...

    def toxic(self, condition_id: str) -> bool:
        """The market's recent fills mark out below the toxicity threshold: makers should stay away."""
        ...


def withdraw(ctx: StrategyContext, condition_id: str, reason: str) -> list[Cancel]:
    """Cancels of every resting order this strategy has in one market."""
    return [Cancel(o.client_order_id, reason) for o in ctx.orders(condition_id) if o.resting]


def setting(default: Any, doc: str, accepted: str, **bounds: Any) -> Any:
    """A strategy setting: its default, what it does, and the accepted text its one-line error shows."""
    return Field(default, description=doc, json_schema_extra={"accepted": accepted}, **bounds)


class StrategyConfig(BaseModel):
    """Settings every strategy has (`[strategies.<name>]`). A strategy's own keys go in a subclass; unknown
    keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = setting(False, "run this strategy", "true or false")
    budget_pct: float = setting(
        100.0,
        "share of the bankroll this strategy may commit (held positions, working buys and proposals), percent;"
        " the enabled strategies' shares may add up to at most 100",
        "a number of percent, > 0 and <= 100",
        gt=0,
        le=100,
    )
    max_daily_loss_pct: float = setting(
        100.0,
        "pause this strategy's new risk when its loss since the day began reaches this share of its budget",
        "a number of percent, > 0 and <= 100",
        gt=0,
        le=100,
    )
    max_drawdown_pct: float = setting(
        100.0,
        "pause this strategy's new risk when its P&L falls this share of its budget below its own best",
        "a number of percent, > 0 and <= 100",
        gt=0,
        le=100,
    )


def budgets_problem(shares: Mapping[str, float]) -> str | None:
    """None when these strategies' budget_pct (name -> percent) add up to at most the whole bankroll, else the
    sentence saying by how much they do not. Config loading and the engine both hold budgets to it."""
    total = sum(shares.values())
    if total <= 100 + 1e-9:
        return None
    parts = ", ".join(f"{name} {pct:g}" for name, pct in shares.items())
    return (
        f"strategies: the enabled strategies' budget_pct add up to {total:g} ({parts}); accepted: a total of"
        " at most 100, so no two strategies can spend the same dollars"
    )


@dataclass(frozen=True, slots=True)
class StrategyServices:
    """What the engine lends a strategy when it builds it: the brain, the sizing limits, execution settings.
    Read-only; a strategy takes what its `create` needs."""

    brain: Any  # engine.brains.base.Brain
    limits: SizingLimits
    requote_min_ticks: int


class Strategy(ABC):  # noqa: B024 - every hook has a default: a strategy overrides the ones it needs
    """One trading idea. Subclasses set `strategy_id`, `description` and `Config`, and override hooks.

    Hooks are synchronous and must be quick (they run on the engine's loop): they read the context and
    return a `Reply`. They never block, sleep, or do I/O."""

    strategy_id: ClassVar[str]
    description: ClassVar[str]
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    # The name the price zones know this strategy by ([zones.bands] strategies = [...]); "" = its id.
    zone_as: ClassVar[str] = ""

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config

    @classmethod
    def create(cls, config: StrategyConfig, services: StrategyServices) -> Strategy:
        """Build the strategy from its validated config; override to take what it needs from `services`."""
        return cls(config)

    def on_start(self, ctx: StrategyContext) -> Reply:
        return Reply()

    def on_book(self, ctx: StrategyContext, market: Market) -> Reply:
        """Once per evaluation cycle for each market that is warm and open (its book may have changed)."""
        return Reply()

    def on_timer(self, ctx: StrategyContext) -> Reply:
        """Once per evaluation cycle, after every `on_book`."""
        return Reply()

    def on_order(self, ctx: StrategyContext, update: OrderUpdate) -> Reply:
        return Reply()

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Reply:
        return Reply()

    def on_stop(self, ctx: StrategyContext) -> None:
        return None

    def market_note(self, condition_id: str) -> MarketNote | None:
        """Its word on one market for the console, or None; read at UI rate, so it must be cheap."""
        return None
