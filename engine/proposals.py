"""A proposal: a strategy's intent, sized by the risk layers, waiting for (or past) the operator's word."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.domain import Market, OrderType, Outcome, ProposalStatus, Side
from engine.refusal import Refusal
from engine.strategies.base import Leg
from engine.units import px_to_str, qty_to_str


@dataclass(slots=True)
class Proposal:
    proposal_id: str
    created_ts: int
    market: Market
    outcome: Outcome
    side: Side
    price: int
    size: int
    max_size: int
    order_type: OrderType
    post_only: bool
    p_hat: float
    ci_low: float
    ci_high: float
    edge_net: float
    kelly: float
    expected_slippage_bps: float
    expires_ts: int  # engine time, for the record
    expires_wall: int  # the operator's time (unix ms, real): the time to live counts here, whatever the speed
    evaluation_key: str
    status: ProposalStatus = ProposalStatus.PENDING
    client_order_id: str | None = None
    binding_cap: str = ""  # what limited the size last (a sizing cap, the ratchet, an exposure limit)
    reason: str = ""  # why it ended as it did (refusal code with value and threshold, a note, a cause)
    refusal: Refusal | None = None  # the rule that refused its order
    strategy_id: str = "value"
    rationale: dict[str, Any] = field(
        default_factory=dict
    )  # the strategy's numbers, stored with the proposal
    # A multi-leg intent's other legs, sized by the risk layers like the first: all go, or none.
    extra_legs: tuple[Leg, ...] = ()
    client_order_ids: tuple[str, ...] = ()  # every leg's order, once sent


def leg_text(market: Market, leg: Leg) -> str:
    return f"{leg.side.value} {market.label(leg.outcome)} {px_to_str(leg.price)} x{qty_to_str(leg.size)}"
