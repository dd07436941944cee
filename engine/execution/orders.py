"""Order state machine. Every transition is checked against the allowed set and reported with its cause.

PENDING -> SUBMITTED -> LIVE -> PARTIALLY_FILLED -> FILLED, or CANCELLED / EXPIRED / REJECTED / FAILED,
and UNKNOWN for a submit whose outcome is not known (it is resolved by asking the venue, never by
sending the order again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from engine.domain import OrderRequest


class OrderState(StrEnum):
    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    LIVE = "LIVE"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def resting(self) -> bool:
        """On the book, where a cancel can reach it (not in flight, not done)."""
        return self in (OrderState.LIVE, OrderState.PARTIALLY_FILLED)

    @property
    def working(self) -> bool:
        return self in (
            OrderState.SUBMITTED,
            OrderState.LIVE,
            OrderState.PARTIALLY_FILLED,
            OrderState.UNKNOWN,
        )


_TERMINAL = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.EXPIRED, OrderState.REJECTED, OrderState.FAILED}
)

S = OrderState
ALLOWED: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING: frozenset({S.SUBMITTED, S.REJECTED, S.FAILED, S.CANCELLED}),
    # A fast venue can report a fill or a final state before the acknowledgement.
    S.SUBMITTED: frozenset(
        {S.LIVE, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED, S.FAILED, S.UNKNOWN}
    ),
    S.LIVE: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.UNKNOWN: frozenset(
        {S.LIVE, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED, S.FAILED}
    ),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
}


class TransitionError(RuntimeError):
    """A state change the order state machine does not allow (a bug, never a market event)."""


@dataclass(frozen=True, slots=True)
class Transition:
    client_order_id: str
    ts: int
    state_from: OrderState
    state_to: OrderState
    cause: str


FOREIGN = "foreign"  # the strategy id of an order adopted from the venue: no strategy placed it


@dataclass(slots=True)
class Order:
    request: OrderRequest
    created_ts: int
    proposal_id: str | None = None
    strategy_id: str = ""  # whose order: a strategy's id, FOREIGN for one adopted from the venue
    state: OrderState = OrderState.PENDING
    venue_order_id: str | None = None
    filled: int = 0
    notional: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    updated_ts: int = 0
    cancel_requested: bool = False
    reason: str = ""
    history: list[Transition] = field(default_factory=list)

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def remaining(self) -> int:
        return self.request.size - self.filled

    def move(self, to: OrderState, ts: int, cause: str) -> Transition:
        if to not in ALLOWED[self.state]:
            raise TransitionError(
                f"order {self.client_order_id}: {self.state} -> {to} is not allowed ({cause})"
            )
        t = Transition(self.client_order_id, ts, self.state, to, cause)
        self.state = to
        self.updated_ts = ts
        self.history.append(t)
        return t
