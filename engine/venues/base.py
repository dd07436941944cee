"""The boundary between the engine and a market: what a venue accepts and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

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
class VenueState:
    """What the venue itself says we hold and have working, for reconciliation against the engine's books."""

    ts: int
    positions: dict[str, int]  # token id -> shares (1e-6), non-zero only
    open_order_ids: frozenset[str]  # venue order ids of our resting orders (lower case)


VenueEvent = (
    OrderAccepted
    | OrderRejected
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
    kind: str  # REPLAY | SIM | PAPER | LIVE, shown on the status bar

    def markets(self) -> list[Market]: ...

    async def submit(self, request: OrderRequest) -> None:
        """Send an order. The outcome arrives later as OrderAccepted/OrderRejected/OrderFilled events."""

    async def cancel(self, client_order_id: str) -> None: ...

    async def cancel_all(self) -> None: ...

    async def run(self, sink: EventSink) -> None:
        """Deliver market data and order events to `sink` until the data ends or the task is cancelled."""
