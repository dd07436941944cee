"""The order ticket's what-if: what a hand order would do if it were sent now, and every rule that would
refuse it. It reads the book, the ledger and the risk layers and changes nothing; the manual flow
(engine/manual_flow.py) sends the same order through the same layers once the operator presses send.

The numbers a trader checks before sending: the limit (a marketable ticket's is the worst level the walk
needs), the fee on the part that crosses (per level, as the venue charges each match), the walk itself
(effective price, slippage from the best level, levels taken, share of the visible depth), the size the caps
let through and the cap that binds, the cash or shares the order holds while it works, and each rule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.book import Impact
from engine.domain import TRADING_STATES, Mode, OrderRequest, Side
from engine.queries import OrderTicket, RuleCheck, WhatIf
from engine.refusal import Refusal
from engine.risk.exposure import fee_bound
from engine.risk.pipeline import risk_leg
from engine.strategies.base import Intent, IntentKind, Leg, Rationale
from engine.strategies.manual import ManualStrategy
from engine.units import ONE, SIZE_SCALE, floor_size, notional, px_to_str, qty_to_str

if TYPE_CHECKING:
    from engine.engine import Engine, MarketState

MANUAL = ManualStrategy.strategy_id


def resolve_market(e: Engine, ident: str) -> MarketState:
    """A watched market by its condition id, the unique tail of it the console shows, or its slug."""
    ident = ident.strip()
    ms = e.markets.get(ident)
    if ms is not None:
        return ms
    found = [m for cid, m in e.markets.items() if (len(ident) >= 4 and cid.endswith(ident)) or m.market.slug == ident]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"market {ident!r}: not a watched market (a condition id, its tail, or a slug)")
    raise ValueError(f"market {ident!r}: {len(found)} watched markets match; give more of the condition id")


def ticket_size(t: OrderTicket, reference: int | None) -> int:
    """Shares the ticket asks for: its size, or its dollars at its price (a marketable one: the best level),
    floored to the venue's 0.01-share grid; 0 when dollars have no price to be turned into shares yet."""
    if t.size is not None:
        return t.size
    assert t.usdc is not None
    if not reference:
        return 0
    return floor_size(int(t.usdc * SIZE_SCALE * ONE / reference))


def _walk_fee(e: Engine, ms: MarketState, t: OrderTicket, size: int, limit: int) -> Decimal:
    """The taker fee on the part that crosses now, level by level (each match is charged at its own price)."""
    view = ms.book.view(t.outcome)
    levels = view.iter_asks() if t.side is Side.BUY else view.iter_bids()
    fee, left = Decimal(0), size
    for px, qty in levels:
        if left <= 0 or (px > limit if t.side is Side.BUY else px < limit):
            break
        take = min(qty, left)
        fee += ms.market.fees.taker_fee(px, take)
        left -= take
    return fee


def preview(e: Engine, t: OrderTicket, now: int) -> WhatIf:
    ms = resolve_market(e, t.condition_id)
    m = ms.market
    view = ms.book.view(t.outcome)
    buy = t.side is Side.BUY
    best = view.best_ask if buy else view.best_bid
    rules: list[RuleCheck] = []

    def rule(name: str, refusal: Refusal | None, passed_value: float = 0.0) -> None:
        if refusal is None:
            rules.append(RuleCheck(name, passed_value, 0.0, True))
        elif not any(r.name == refusal.code for r in rules):
            rules.append(RuleCheck(refusal.code, refusal.value, refusal.threshold, False, refusal.detail))

    size = ticket_size(t, t.price if t.price is not None else best)
    limit = t.price
    if limit is None:  # marketable: limit at the worst level the whole size needs (no worse)
        walk_all = view.impact(t.side, size) if size else None
        limit = None if walk_all is None else walk_all.worst_price
    if limit is None or size <= 0:
        side_word = "asks" if buy else "bids"
        rule("LIQUIDITY", Refusal("NO_LIQUIDITY", 0, 1, f"no {side_word} for {m.label(t.outcome)} to price it at"))
        return _answer(e, ms, t, size, 0, 0, "", None, rules)
    walk = view.impact(t.side, size, limit=limit)

    # Who may send: the engine's state, the mode, the live arming, and the manual strategy itself.
    rule("engine", None if e.state in TRADING_STATES else Refusal("ENGINE_" + e.state.value, 1, 0,
                                                                  f"the engine is {e.state.value}"))
    rule("mode", None if e.mode is not Mode.OBSERVE else Refusal("OBSERVE_MODE", 1, 0, "observe mode sends nothing"))
    rule("armed", None if e.live_armed else Refusal("LIVE_NOT_ARMED", 0, 1, "type LIVE to arm the venue"))
    if MANUAL not in e.contexts:
        rule("manual", Refusal("MANUAL_OFF", 0, 1, "hand orders need [strategies.manual] enabled = true"))
        return _answer(e, ms, t, size, limit, 0, "", walk, rules)

    # The risk pipeline, every layer judging (not stopping at the first refusal).
    try:
        leg = Leg(m.condition_id, t.outcome, t.side, limit, size, t.order_type, t.post_only, t.expiry_s)
    except ValueError as exc:
        rule("ticket", Refusal("INVALID_TICKET", 0, 0, str(exc)))
        return _answer(e, ms, t, size, limit, 0, "", walk, rules)
    intent = manual_intent(leg)
    every: list[Refusal] = []
    _, _, allowed, binding, gates = risk_leg(e, ms, intent, leg, now, e._equity(), Decimal(0), every)
    for name, value, threshold, passed in gates:
        if passed:
            rules.append(RuleCheck(name, value, threshold, True))
    for refusal in every:
        rule(refusal.code, refusal)
    # The firewall at send time: post-only crossing, FOK fill, slippage, book share, stale book, rate budget.
    request = OrderRequest("what-if", m.condition_id, m.token(t.outcome), t.outcome, t.side, limit,
                           allowed or size, t.order_type, t.post_only, None)  # fmt: skip
    verdict = e.firewall.check(request, market=m, tick=ms.tick, book=ms.book, now=now)
    rule("firewall", verdict.rejection)
    return _answer(e, ms, t, size, limit, allowed, binding, walk, rules)


def manual_intent(leg: Leg) -> Intent:
    kind = IntentKind.EXIT if leg.side is Side.SELL else IntentKind.ENTRY
    return Intent(MANUAL, (leg,), Rationale("hand order by the operator"), kind)


def _answer(
    e: Engine,
    ms: MarketState,
    t: OrderTicket,
    size: int,
    limit: int,
    allowed: int,
    binding: str,
    walk: Impact | None,
    rules: list[RuleCheck],
) -> WhatIf:
    m = ms.market
    refusals = [r for r in rules if not r.passed]
    ok = not refusals and allowed > 0
    if allowed and allowed < size and ok:
        binding = binding or "cap"
    shown = allowed or size  # what would be sent: the size the caps let through, else the ticket's
    if walk is not None and shown < size:  # cut by a cap: the walk of what would be sent
        walk = ms.book.view(t.outcome).impact(t.side, shown, limit=limit)
    # The part that trades at once: the walk, cut to what would be sent (a post-only order never crosses).
    filled = 0 if walk is None or t.post_only else min(walk.filled, shown)
    avg = None if walk is None or not filled else walk.avg_price
    fee = _walk_fee(e, ms, t, filled, limit) if filled else Decimal(0)
    label = m.label(t.outcome)
    what = f"{t.side.value} {label} {px_to_str(limit) if limit else '-'} x{qty_to_str(allowed or size)}"
    if ok:
        cut = f" (cut from {qty_to_str(size)} by {binding})" if allowed < size else ""
        summary = f"would send {what} {t.order_type.value}{' post-only' if t.post_only else ''}{cut}"
    else:
        first = refusals[0] if refusals else RuleCheck("SIZE", 0, 0, False, "nothing left to send")
        summary = f"refused: {first.name}" + (f" ({first.detail})" if first.detail else "")
    buy = t.side is Side.BUY
    # As the exposure book reserves it: a buy holds its notional and the largest fee it could pay.
    reserves = (
        notional(limit, shown) + (Decimal(0) if t.post_only else fee_bound(m.fees, limit, shown))
        if buy and limit
        else Decimal(shown).scaleb(-6)
    )
    cash = e.exposure.cash
    notional_usdc = notional(limit, shown) if limit else Decimal(0)
    fee_bps = float(fee / notional(limit, filled) * 10_000) if filled and limit and fee else 0.0
    return WhatIf(
        ok=ok,
        summary=summary,
        outcome_label=label,
        side=t.side.value,
        limit_price=limit,
        size=size,
        size_after_caps=allowed if ok else 0,
        binding_cap=binding if allowed < size else "",
        notional=notional_usdc,
        fee=fee,
        fee_rate_bps=fee_bps,
        crosses=filled > 0,
        fills_now=filled,
        effective_price=avg,
        slippage_bps=walk.slippage_bps if walk is not None and filled else 0.0,
        levels=walk.levels if walk is not None and filled else 0,
        depth_share=min(walk.depth_share, 99.0) if walk is not None and filled else 0.0,
        rests=0 if not t.order_type.rests else max(0, shown - filled),
        reserves=reserves,
        cash=cash,
        available=e.exposure.free_cash(),
        rules=tuple(rules),
    )
