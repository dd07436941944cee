"""The boundary between the engine and a market: what a venue accepts and what it reports back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from engine.domain import Fill, Market, OrderRequest, Outcome
from engine.feeds.events import MarketEvent


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    venue_order_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    client_order_id: str
    ts: int
    reason: str  # the exchange's message, verbatim


@dataclass(frozen=True, slots=True)
class OrderFilled:
    fill: Fill
    remaining: int  # size still working after this fill


@dataclass(frozen=True, slots=True)
class FillReversed:
    """A fill reported earlier by OrderFilled did not settle (its trade FAILED on chain): undo it."""

    client_order_id: str
    fill: Fill  # the fill as it was reported
    ts: int
    reason: str  # the trade status that reversed it, e.g. "FAILED"


@dataclass(frozen=True, slots=True)
class OrderUnknown:
    """The venue sent the order but does not know whether it was placed (timeout, reset, 5xx after send).

    The order is looked up by its id (on Polymarket, its EIP-712 hash) until an OrderAccepted or
    OrderRejected settles it; it is never resubmitted blindly."""

    client_order_id: str
    venue_order_id: str
    ts: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    client_order_id: str
    ts: int
    reason: str  # e.g. "CANCELED", "CANCELED_MARKET_CLOSED", "FAK remainder"


@dataclass(frozen=True, slots=True)
class OrderExpired:
    client_order_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class Settled:
    """A resolved market paid out a token balance."""

    condition_id: str
    token_id: str
    outcome: Outcome
    ts: int
    size: int
    payout_per_share: Decimal
    cash: Decimal


@dataclass(frozen=True, slots=True)
class OrderLost:
    """An order the engine wrote ahead that the venue never had (its post never landed, or the in-process
    venue it rested in was the process that died). Nothing of it can fill any more."""

    client_order_id: str
    ts: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderAdopted:
    """An order found working at the venue that the ledger did not know (`[venue] foreign_orders = "adopt"`):
    from now on it is the engine's, under `request.client_order_id`."""

    request: OrderRequest
    venue_order_id: str
    filled: int  # shares (1e-6) already matched when it was found
    ts: int


@dataclass(frozen=True, slots=True)
class ForeignOrder:
    venue_order_id: str
    condition_id: str
    token_id: str
    side: str
    price: int
    size: int  # remaining shares (1e-6)


@dataclass(frozen=True, slots=True)
class VenueReconciled:
    """What a resuming venue found, delivered after every event it produced on the way (the fills it
    backfilled, the final states of orders that ended while the engine was down). The engine compares its
    ledger with these balances before it may trade."""

    ts: int
    cash: int | None  # collateral (1e-6 USDC); None: the venue holds no collateral of its own (in-process)
    positions: dict[str, int]  # token id -> shares (1e-6), every token the venue was asked about
    adopted: tuple[str, ...] = ()  # client order ids found working at the venue and kept
    closed: tuple[str, ...] = ()  # known orders that ended while the engine was down
    lost: tuple[str, ...] = ()  # known orders the venue never had
    foreign: tuple[ForeignOrder, ...] = ()  # working at the venue, unknown to the ledger
    foreign_action: str = ""  # what was done about them: cancel | adopt | halt
    backfilled: int = 0  # trades read back from the venue


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order the ledger holds as possibly working, handed to a resuming venue."""

    request: OrderRequest
    venue_order_id: str | None
    filled: int
    state: str  # the ledger's last state for it
    fill_ids: frozenset[str] = frozenset()  # its fills the ledger holds: read back, they change nothing


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    """What the ledger knows of the account, given to the venue before `run()` on a restart."""

    known_orders: tuple[KnownOrder, ...]
    positions: dict[str, int]  # token id -> shares the ledger holds
    cash: Decimal  # the ledger's cash
    since_ms: int  # fills after this may be missing from the ledger: read them back
    markets: tuple[Market, ...] = ()  # markets the ledger holds or works orders in, watched or not
    foreign_orders: str = "cancel"
    fill_ids: frozenset[str] = frozenset()  # the ledger's fills around `since_ms`: read back, they are known


@dataclass(frozen=True, slots=True)
class VenueState:
    """What the venue itself says we hold and have working, for reconciliation against the engine's books."""

    ts: int
    positions: dict[str, int]  # token id -> shares (1e-6), non-zero only
    open_order_ids: frozenset[str]  # venue order ids of our resting orders (lower case)
    cash: int | None = None  # collateral (1e-6 USDC), for a venue that holds real collateral


VenueEvent = (
    OrderAccepted
    | OrderRejected
    | OrderLost
    | OrderAdopted
    | VenueReconciled
    | OrderUnknown
    | OrderFilled
    | FillReversed
    | OrderCancelled
    | OrderExpired
    | Settled
)


class EventSink(Protocol):
    """The engine as seen by a venue."""

    async def on_market(self, event: MarketEvent) -> None: ...

    async def on_venue(self, event: VenueEvent) -> None: ...


class Venue(Protocol):
    kind: str  # REPLAY | QUOTES | SIM | PAPER | LIVE, shown on the status bar

    def markets(self) -> list[Market]: ...

    async def submit(self, request: OrderRequest) -> None:
        """Send an order. The outcome arrives later as OrderAccepted/OrderRejected/OrderFilled events."""

    async def cancel(self, client_order_id: str) -> None: ...

    async def cancel_all(self) -> None: ...

    async def run(self, sink: EventSink) -> None:
        """Deliver market data and order events to `sink` until the data ends or the task is cancelled."""


# --- optional capabilities ----------------------------------------------------------------------------
# What only some venues can do. The engine asks `isinstance(venue, Capability)` once, instead of reaching for
# attributes by name, so a venue that grows a capability gets the engine's use of it by its type.


@runtime_checkable
class HasAccount(Protocol):
    """Its money is an account of its own (paper, live): the engine resumes it from the ledger on a restart."""

    @property
    def account(self) -> str: ...


@runtime_checkable
class Resumable(Protocol):
    def resume(self, request: ResumeRequest) -> None:
        """Take what the ledger says the account holds and has working, and report back a VenueReconciled."""


@runtime_checkable
class KnowsStaleBooks(Protocol):
    def stale_markets(self, now_ms: int) -> Iterable[str]:
        """Markets whose book it cannot vouch for now (unsynced, silent, or quiet beyond a recording's
        cadence)."""


@runtime_checkable
class RecordedData(Protocol):
    """Books read from a recording: quiet is as recorded, not stale; it reads no further once told to hold."""

    recorded: bool
    lines_processed: int

    def hold_data(self) -> None: ...


@runtime_checkable
class Reconcilable(Protocol):
    async def venue_state(self) -> VenueState:
        """What the venue itself says we hold and have working."""


@runtime_checkable
class PreparesOrders(Protocol):
    async def prepare(self, request: OrderRequest) -> str:
        """The venue's own id for an order (on Polymarket its EIP-712 hash), known before it is sent."""


@runtime_checkable
class CountsReconnects(Protocol):
    def feed_reconnects(self) -> int:
        """Market-data reconnects since the venue started (the truth report's health section)."""


@runtime_checkable
class AddsMarkets(Protocol):
    async def add_market(self, market: Market) -> Market:
        """Start trading a market found in the catalogue while running: complete what the listing lacks (tick,
        fees, smallest order), subscribe its book, and return the market as the venue will trade it."""
