"""The operator's own orders: a hand order from the ticket, and a flatten of one held token.

A hand order is the `manual` strategy's: the what-if (engine/what_if.py) judges it with every risk layer and
the firewall; if it passes, it is recorded as a proposal approved in the operator's name (the ticket is the
approval) and sent through the same path as any approved proposal. A flatten cancels the token's working
orders and has each strategy that holds the token sell what it holds, marketable; shares still offered by a
sell being cancelled are sold once the venue confirms the cancel (the engine's cycle looks each time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.commands import CommandResult, Flatten, PlaceOrder
from engine.domain import OrderType, Outcome, Side
from engine.proposal_flow import propose
from engine.risk.pipeline import check_intent
from engine.strategies.base import Intent, IntentKind, Leg, Rationale
from engine.units import px_to_str, qty_to_str
from engine.what_if import manual_intent, preview, resolve_market

if TYPE_CHECKING:
    from engine.engine import Engine

@dataclass(slots=True)
class PendingFlatten:
    """A flatten waiting for its cancels: the token, who asked, and when."""

    token_id: str
    actor: str
    asked_ts: int


async def place(e: Engine, command: PlaceOrder) -> CommandResult:
    now = e.clock.now_ms()
    t = command.ticket
    try:
        w = preview(e, t, now)
    except ValueError as exc:
        return CommandResult(False, str(exc))
    ms = resolve_market(e, t.condition_id)
    if not w.ok:
        first = next((r for r in w.rules if not r.passed), None)
        if first is not None:
            e.refusals[first.name] = e.refusals.get(first.name, 0) + 1
        e._note("hand order refused", logging.WARNING, market=ms.market.slug, by=command.actor, why=w.summary)
        return CommandResult(False, f"not sent: {w.summary}")
    leg = Leg(ms.market.condition_id, t.outcome, t.side, w.limit_price, w.size_after_caps, t.order_type,
              t.post_only, t.expiry_s)  # fmt: skip
    key = f"{ms.market.condition_id}:{now}:manual"
    p, refused = await propose(e, ms, manual_intent(leg), now, key, (leg.size,), w.binding_cap, [],
                               approved_by=command.actor)  # fmt: skip
    if refused:
        return CommandResult(False, f"{p.proposal_id} approved, but the order was refused: {refused}")
    what = f"{t.side.value} {w.outcome_label} {px_to_str(leg.price)} x{qty_to_str(leg.size)} {t.order_type.value}"
    return CommandResult(True, f"sent {p.client_order_id}: {what}{' post-only' if t.post_only else ''}")


def _resolve_token(e: Engine, ident: str) -> str:
    """A token id, its unique tail (as the console shows), or a market (id, tail, slug) + ":" + outcome."""
    ident = ident.strip()
    if ident in e.token_index:
        return ident
    if ":" in ident:
        market, _, outcome = ident.rpartition(":")
        ms = resolve_market(e, market)
        for o in Outcome:
            if outcome.strip().lower() in (o.value.lower(), ms.market.label(o).lower()):
                return ms.market.token(o)
        labels = "/".join(ms.market.label(o) for o in Outcome)
        raise ValueError(f"flatten outcome: {outcome!r} is not accepted: accepted: {labels}")
    found = [tok for tok in e.token_index if len(ident) >= 4 and tok.endswith(ident)]
    if len(found) == 1:
        return found[0]
    raise ValueError(
        f"flatten token: {ident!r} matches {len(found)} tokens; give the token id, its unique tail, or"
        " MARKET:OUTCOME (e.g. btc-updown-15m-1765000800:Up)"
    )


async def flatten(e: Engine, command: Flatten) -> CommandResult:
    try:
        token = _resolve_token(e, command.token_id)
    except ValueError as exc:
        return CommandResult(False, str(exc))
    cid, outcome = e.token_index[token]
    m = e.markets[cid].market
    held = e.portfolio.held(token)
    name = f"{m.slug} {m.label(outcome)}"
    if held <= 0:
        return CommandResult(False, f"{name}: nothing held to flatten")
    working = [o for o in e.working.values() if o.request.token_id == token]
    for o in working:
        if not o.cancel_requested and not await e.withdraw_order(o, command.actor, "flatten"):
            e._note("flatten cancel waits for the mutation budget", logging.WARNING, order=o.client_order_id)
            e._cancel_orders.add(o.client_order_id)  # sent by _flush_cancels, which spends no budget
    if any(o.request.side is Side.SELL for o in working):
        # Their shares are offered until the venue confirms the cancels: the rest is sold then.
        e.flattening[token] = PendingFlatten(token, command.actor, e.clock.now_ms())
        sent = await _sell_free(e, token, command.actor)
        return CommandResult(True, f"flatten {name}: {len(working)} orders cancelled; {sent}; the rest is sold"
                                   " once the cancels are confirmed")  # fmt: skip
    sent = await _sell_free(e, token, command.actor)
    ok = not sent.startswith("not sent")
    return CommandResult(ok, f"flatten {name}: " + (f"{len(working)} orders cancelled; " if working else "") + sent)


async def _sell_free(e: Engine, token: str, actor: str) -> str:
    """Each holder strategy sells its shares not already offered, marketable: FAK limited at the worst bid
    the walk needs, through the risk layers and the firewall. One line saying what went."""
    cid, outcome = e.token_index[token]
    ms = e.markets[cid]
    offered = {
        sid: sum(o.request.size - o.filled for o in e.working.values()
                 if o.request.token_id == token and o.request.side is Side.SELL and o.strategy_id == sid)
        for sid, _ in e.accounts.holders(token)
    }  # fmt: skip
    lines: list[str] = []
    now = e.clock.now_ms()
    for sid, shares in e.accounts.holders(token):
        free = shares - offered.get(sid, 0)
        if free <= 0:
            continue
        walk = ms.book.view(outcome).impact(Side.SELL, free)
        if walk.worst_price is None:
            lines.append(f"not sent: no bids for {ms.market.label(outcome)} ({sid} {qty_to_str(free)})")
            continue
        if sid not in e._by_id:
            lines.append(f"not sent: {sid} is not running ({qty_to_str(free)} held)")
            continue
        leg = Leg(cid, outcome, Side.SELL, walk.worst_price, free, OrderType.FAK)
        intent = Intent(sid, (leg,), Rationale(f"flatten by {actor}"), IntentKind.EXIT)
        decision, refusal, sizes, binding, gates = check_intent(e, intent, now, e._equity())
        if refusal is not None:
            lines.append(f"not sent: {sid} {refusal.text()}")
            continue
        p, refused = await propose(e, ms, intent, now, f"{cid}:{now}:flatten:{sid}", sizes, binding, gates,
                                   approved_by=actor)  # fmt: skip
        lines.append(f"not sent: {sid} {refused}" if refused else
                     f"{sid} sells {qty_to_str(sizes[0])} at {px_to_str(leg.price)} or better ({p.client_order_id})")
    return "; ".join(lines) or "nothing free to sell yet"


async def flatten_tick(e: Engine) -> None:
    """A flatten waiting for cancels: once no order on the token is working, sell what is still held."""
    for token, pending in list(e.flattening.items()):
        if any(o.request.token_id == token for o in e.working.values()):
            continue
        del e.flattening[token]
        if e.portfolio.held(token) > 0:
            line = await _sell_free(e, token, pending.actor)
            e._note("flatten after cancels", token=token[-8:], result=line)
