"""From a sized intent to a proposal, and from an approved proposal to its orders.

`propose` records the proposal and, by mode, approves it at once (auto), records it only (observe) or leaves
it for the operator (semi); `execute_proposal` sends an approved proposal's order (or every leg of it).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.domain import Mode, ProposalStatus
from engine.execution.order_manager import send_legs
from engine.proposals import Proposal, decide, leg_text, refuse
from engine.refusal import Refusal
from engine.strategies.base import Intent, Leg
from engine.units import px_to_str, qty_to_str

if TYPE_CHECKING:
    from engine.engine import Engine, MarketState


async def propose(
    e: Engine,
    ms: MarketState,
    intent: Intent,
    now: int,
    key: str,
    sizes: tuple[int, ...],
    binding: str,
    risk_gates: list[tuple[str, float, float, bool]],
    approved_by: str | None = None,
) -> tuple[Proposal, str | None]:
    """Record the sized intent as a proposal and act on it by mode. `approved_by`: the operator approved it
    before it existed (the order ticket, a flatten): it is approved in their name and sent at once. Returns
    the proposal and, when an approved one's order could not go, why."""
    leg, r = intent.legs[0], intent.rationale
    size = sizes[0]
    extra = tuple(replace(lg, size=n) for lg, n in zip(intent.legs[1:], sizes[1:], strict=True))
    p = Proposal(
        proposal_id=e._next_id("P"),
        created_ts=now,
        market=ms.market,
        outcome=leg.outcome,
        side=leg.side,
        price=leg.price,
        size=size,
        max_size=size,
        order_type=leg.order_type,
        post_only=leg.post_only,
        p_hat=r.p_hat or 0.0,
        ci_low=r.ci_low or 0.0,
        ci_high=r.ci_high or 0.0,
        edge_net=r.edge_net or 0.0,
        kelly=r.kelly or 0.0,
        expected_slippage_bps=r.expected_slippage_bps or 0.0,
        expires_ts=now + e.proposal_ttl_ms,
        expires_wall=e._wall_ms() + e.proposal_ttl_ms,
        evaluation_key=key,
        binding_cap=binding,
        strategy_id=intent.strategy_id,
        extra_legs=extra,
    )
    p.rationale = {"evaluation": key, "summary": r.summary, **r.numbers, "risk": risk_gates}
    if extra:
        legs = (replace(leg, size=size), *extra)
        p.rationale["legs"] = [leg_text(e.markets[lg.condition_id].market, lg) for lg in legs]
    e.proposals[p.proposal_id] = p
    e.pending[p.proposal_id] = p
    e.counters["proposals"] += 1
    e._count_for(p.strategy_id, "proposals")
    e.store.add_proposal(
        id=p.proposal_id,
        run_id=e.run_id,
        ts=now,
        evaluation_id=None,
        strategy_id=p.strategy_id,
        condition_id=ms.market.condition_id,
        token_id=ms.market.token(p.outcome),
        outcome=p.outcome.value,
        side=p.side.value,
        order_type=p.order_type.value,
        post_only=int(p.post_only),
        price=Decimal(p.price).scaleb(-4),
        size=Decimal(p.size).scaleb(-6),
        p_hat=r.p_hat,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        edge_net=r.edge_net,
        kelly_fraction=r.kelly,
        binding_cap=binding,
        expected_slippage_bps=r.expected_slippage_bps,
        expires_ts=p.expires_ts,
        expires_wall=p.expires_wall,
        status=p.status.value,
        rationale=p.rationale,
    )
    e._note(
        "proposal",
        id=p.proposal_id,
        strategy=p.strategy_id,
        market=ms.market.slug,
        side=p.side.value,
        outcome=ms.market.label(p.outcome),
        price=px_to_str(p.price),
        size=qty_to_str(p.size),
        edge=round(r.edge_net or 0.0, 4),
        cap=binding,
    )
    refused = None
    if approved_by is not None or e.mode is Mode.AUTO:
        decide(e, p, ProposalStatus.APPROVED, "APPROVE", approved_by or "auto")
        refused = await execute_proposal(e, p)
    elif e.mode is Mode.OBSERVE:
        decide(e, p, ProposalStatus.OBSERVED, "OBSERVE", "engine")
    return p, refused


async def execute_proposal(e: Engine, p: Proposal) -> str | None:
    """Send an approved proposal's order; the refusal's text when it may not go."""
    m = p.market
    if not e.live_armed:
        refuse(
            e,
            p,
            Refusal("LIVE_NOT_ARMED", 0, 1, "LIVE venue not armed"),
            "LIVE not armed (type LIVE in the console, or `ctl arm LIVE`)",
        )
        return "LIVE venue not armed"
    if e.is_stale(m.condition_id, e.clock.now_ms()):
        e.counters["stale_refusals"] = e.counters.get("stale_refusals", 0) + 1
        return refuse(
            e,
            p,
            Refusal("VENUE_STALE_BOOK", 1, 0, "the venue reports the book stale at send time"),
            "stale book",
        )
    # One leg or many, one path: `send_legs` builds each order (order_manager.leg_request) and sends them.
    first = Leg(m.condition_id, p.outcome, p.side, p.price, p.size, p.order_type, p.post_only)
    return await send_legs(e, [first, *p.extra_legs], p, None)
