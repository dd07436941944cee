"""A proposal: a strategy's intent, sized by the risk layers, waiting for (or past) the operator's word; and
how one is decided (approved, rejected, expired, observed, refused), each decision a stored row."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.domain import Market, OrderType, Outcome, ProposalStatus, Side
from engine.refusal import Refusal
from engine.strategies.base import Leg
from engine.units import px_to_str, qty_to_str

if TYPE_CHECKING:
    from engine.engine import Engine


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


def decide(
    e: Engine,
    p: Proposal,
    status: ProposalStatus,
    action: str,
    actor: str,
    size: int | None = None,
    note: str = "",
) -> None:
    p.status = status
    if note:
        p.reason = note
    e.pending.pop(p.proposal_id, None)
    e.store.update_proposal_status(p.proposal_id, status, note or None)
    e.store.add_decision(
        proposal_id=p.proposal_id,
        ts=e.clock.now_ms(),
        action=action,
        actor=actor,
        size=None if size is None else Decimal(size).scaleb(-6),
        note=note,
    )


def refuse(e: Engine, p: Proposal | None, refusal: Refusal, what: str) -> str:
    """An order that may not go: counted, logged and, for a proposal, stored as its status and reason."""
    text = refusal.text()
    e.refusals[refusal.code] = e.refusals.get(refusal.code, 0) + 1
    e.counters["orders_refused"] = e.counters.get("orders_refused", 0) + 1
    if p is not None:
        p.refusal = refusal
        decide(e, p, ProposalStatus.REFUSED, "REFUSE", "engine", note=text)
    e._note(
        f"order refused: {what}",
        logging.WARNING,
        proposal=p.proposal_id if p else "-",
        code=refusal.code,
        value=f"{refusal.value:.6g}",
        threshold=f"{refusal.threshold:.6g}",
        detail=refusal.detail,
    )
    return text
