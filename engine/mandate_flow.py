"""The engine's side of quoting mandates (engine/mandates.py holds the mandates themselves): a strategy's
request, the operator's approve / reject / revoke, a requote inside a mandate sent without a proposal, and
the end of a mandate (revoked, lapsed, its strategy paused) cancelling its orders. Every step is a stored row
(the `mandates` table and `decisions`) with who and when.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.commands import Approve, CommandResult, Reject, RevokeMandate
from engine.domain import TRADING_STATES, Market, Mode, Outcome
from engine.execution.order_manager import send_legs
from engine.mandates import Mandate, MandateStatus
from engine.strategies.base import Intent, MandateRequest

if TYPE_CHECKING:
    from engine.engine import Engine


def held_by(e: Engine, strategy_id: str, market: Market) -> dict[Outcome, int]:
    book = e.accounts.book(strategy_id)
    return {o: book.held(market.token(o)) for o in Outcome}


def store_mandate(e: Engine, m: Mandate) -> None:
    r = m.request
    e.store.save_mandate(
        id=m.mandate_id,
        run_id=e.run_id,
        ts=m.created_ts,
        strategy_id=r.strategy_id,
        condition_id=r.condition_id,
        sides=",".join(f"{side.value}:{outcome.value}" for outcome, side in r.sides),
        max_order_size=Decimal(r.max_order_size).scaleb(-6),
        max_inventory=Decimal(r.max_inventory).scaleb(-6),
        band_low=Decimal(r.band_low).scaleb(-4),
        band_high=Decimal(r.band_high).scaleb(-4),
        lifetime_s=r.lifetime_s,
        status=m.status.value,
        decided_ts=m.decided_ts,
        decided_by=m.decided_by,
        expires_ts=m.expires_ts,
        ended_ts=m.ended_ts,
        ended_by=m.ended_by,
        reason=m.reason,
        rationale={"summary": r.rationale.summary, **r.rationale.numbers},
    )


def mandate_decision(e: Engine, m: Mandate, action: str, actor: str, note: str = "") -> None:
    store_mandate(e, m)
    e.store.add_decision(
        proposal_id=m.mandate_id, ts=e.clock.now_ms(), action=action, actor=actor, size=None, note=note
    )
    e._note(f"mandate {action.lower()}", id=m.mandate_id, strategy=m.strategy_id,
               market=e.markets[m.condition_id].market.slug, by=actor, note=note)  # fmt: skip


def request_mandate(e: Engine, sid: str, req: MandateRequest, now: int) -> None:
    """A strategy asks for a mandate: pending for the operator in semi mode, granted at once in auto,
    recorded only in observe. One open mandate per strategy and market; a paused strategy gets none."""
    if req.strategy_id != sid:
        raise ValueError(f"strategy {sid} asked a mandate for {req.strategy_id}")
    if req.condition_id not in e.markets:
        raise ValueError(f"strategy {sid} asked a mandate for unknown market {req.condition_id}")
    if e.mandates.open_for(sid, req.condition_id) is not None:
        return
    if sid in e.strategy_limits.paused:
        e._note("mandate not asked: strategy paused", strategy=sid)
        return
    ttl_ms = e.proposal_ttl_ms
    m = Mandate(e._next_id("M"), req, now, e._wall_ms() + ttl_ms)
    e.mandates.add(m)
    e.counters["mandates"] = e.counters.get("mandates", 0) + 1
    mandate_decision(e, m, "REQUEST", sid, note=req.bounds(e.markets[req.condition_id].market.label))
    if e.mode is Mode.AUTO:
        e.mandates.activate(m, now, "auto")
        mandate_decision(e, m, "APPROVE", "auto")
    elif e.mode is Mode.OBSERVE:
        e.mandates.close(m, MandateStatus.OBSERVED, now, "engine", "observe mode")
        mandate_decision(e, m, "OBSERVE", "engine")


async def send_quote(e: Engine, m: Mandate, intent: Intent, sizes: tuple[int, ...]) -> None:
    """A requote inside an active mandate: no proposal, the orders go straight to `_send_legs` (the
    firewall, exposure and the strategy's budget all judge them there)."""
    legs = [replace(leg, size=n) for leg, n in zip(intent.legs, sizes, strict=True)]
    e.counters["mandate_orders"] = e.counters.get("mandate_orders", 0) + len(legs)
    await send_legs(e, legs, None, m)


async def end_mandate(e: Engine, m: Mandate, status: MandateStatus, actor: str, reason: str) -> int:
    """Close a mandate and cancel every order still working under it; returns how many."""
    now = e.clock.now_ms()
    e.mandates.close(m, status, now, actor, reason)
    mandate_decision(e, m, status.value, actor, note=reason)
    n = 0
    for oid in sorted(m.orders):
        o = e.working.get(oid)
        if o is not None and not o.cancel_requested:
            o.cancel_requested = True
            await e.venue.cancel(oid)
            n += 1
    e.store.request_flush()
    return n


async def lapse_mandates(e: Engine, now: int) -> None:
    """Active mandates whose lifetime ran out (engine time) end, and their orders are withdrawn."""
    for m in list(e.mandates.open()):
        if m.status is MandateStatus.ACTIVE and m.expires_ts is not None and now >= m.expires_ts:
            await end_mandate(e, m, MandateStatus.EXPIRED, "ttl", "its lifetime ran out")


async def mandate_command(e: Engine, command: Approve | Reject | RevokeMandate) -> CommandResult:
    mid = command.mandate_id if isinstance(command, RevokeMandate) else command.proposal_id
    m = e.mandates.by_id.get(mid)
    if m is None:
        return CommandResult(False, f"no mandate {mid}")
    if isinstance(command, RevokeMandate):
        if m.status is not MandateStatus.ACTIVE:
            return CommandResult(False, f"mandate {m.mandate_id} is {m.status.value}")
        n = await end_mandate(e, m, MandateStatus.REVOKED, command.actor, "revoked")
        return CommandResult(True, f"revoked {m.mandate_id}: {n} orders cancelled")
    if m.status is not MandateStatus.PENDING:
        return CommandResult(False, f"mandate {m.mandate_id} is {m.status.value}")
    now = e.clock.now_ms()
    if isinstance(command, Reject):
        e.mandates.close(m, MandateStatus.REJECTED, now, command.actor, command.note or "rejected")
        mandate_decision(e, m, "REJECT", command.actor, note=command.note)
        return CommandResult(True, f"rejected {m.mandate_id}")
    if e.state not in TRADING_STATES:
        return CommandResult(False, f"{e.state.value}: approvals are disabled")
    if e._wall_ms() >= m.expires_wall:
        e.mandates.close(m, MandateStatus.EXPIRED, now, "ttl", "time to live ran out")
        mandate_decision(e, m, "EXPIRE", "ttl")
        return CommandResult(False, f"mandate {m.mandate_id} expired")
    if m.strategy_id in e.strategy_limits.paused:
        return CommandResult(False, f"{m.strategy_id} is paused: resume it first")
    e.mandates.activate(m, now, command.actor)
    mandate_decision(e, m, "APPROVE", command.actor)
    return CommandResult(True, f"approved mandate {m.mandate_id}")
