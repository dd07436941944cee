"""The risk pipeline: every leg of a strategy's intent through the layers after the strategy, in one order,
with no bypass: the open-position limit, the strategy's own pause, the breakers, the market's state, the price
zones, the size ratchet near the close, exposure headroom, the strategy's budget, and the smallest order.

It sizes and refuses; it sends nothing. The firewall (engine/execution/firewall.py) checks again at send time.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.domain import Market, Side
from engine.refusal import Refusal
from engine.strategies.base import Intent, Leg
from engine.units import floor_size, notional, qty_to_str

if TYPE_CHECKING:
    from engine.engine import Engine, MarketState

Gates = list[tuple[str, float, float, bool]]


def _record_gate(
    gates: list[tuple[str, float, float, bool]], name: str, refusal: Any, passed_value: float = 0.0
) -> None:
    """One risk layer's line in a proposal's gates: (name, value, threshold, passed). A refusal brings its
    value and threshold; a layer that let the trade through records `passed_value` against 0."""
    if refusal is None:
        gates.append((name, passed_value, 0.0, True))
    else:
        gates.append((name, refusal.value, refusal.threshold, False))


def at_position_limit(e: Engine, market: Market) -> bool:
    """A new market may not open once max_open_positions are held or being bought (an order in flight
    is a position about to exist); adding to or exiting a held one may."""
    held = {p.condition_id for p in e.portfolio.open_positions()}
    held |= {o.request.condition_id for o in e.working.values() if o.request.side is Side.BUY}
    if market.condition_id in held:
        return False
    return len(held) >= e.settings.risk.max_open_positions


def check_intent(
    e: Engine, intent: Intent, now: int, equity: Decimal
) -> tuple[str, Refusal | None, tuple[int, ...], str, list[tuple[str, float, float, bool]]]:
    """Every leg through the risk layers (`_risk_leg`); the intent passes only if every leg does. Legs cut
    by a cap are all scaled to the smallest fraction, so a hedge stays a hedge. Returns (decision,
    refusal, size per leg, binding cap, gates)."""
    gates: list[tuple[str, float, float, bool]] = []
    sizes: list[int] = []
    multi = len(intent.legs) > 1
    reserved = Decimal(0)  # what the earlier legs of this intent already take from the strategy's budget
    binding = ""
    tightest: Fraction | None = None
    for i, leg in enumerate(intent.legs):
        ms = e.markets.get(leg.condition_id)
        if ms is None:
            refusal = Refusal("UNKNOWN_MARKET", 0, 0, f"leg {i + 1}: {leg.condition_id} is not watched")
            return "SKIP_UNKNOWN_MARKET", refusal, (), "", gates
        decision, refusal, size, why, leg_gates = risk_leg(e, ms, intent, leg, now, equity, reserved)
        gates.extend((f"leg{i + 1}.{g[0]}", *g[1:]) if multi else g for g in leg_gates)  # type: ignore[misc]
        if refusal is not None:
            if multi:
                refusal = replace(refusal, detail=f"leg {i + 1} of {len(intent.legs)}: {refusal.detail}")
            return decision, refusal, (), why, gates
        cut = Fraction(size, leg.size)
        if not multi or (cut < 1 and (tightest is None or cut < tightest)):
            tightest, binding = cut, why  # the cap that cut the most names the intent's binding cap
        sizes.append(size)
        if leg.side is Side.BUY:
            reserved += notional(leg.price, size)
    if multi and any(s < leg.size for s, leg in zip(sizes, intent.legs, strict=True)):
        ratio = tightest if tightest is not None else Fraction(1)
        sizes = [floor_size(int(leg.size * ratio)) for leg in intent.legs]
        for i, (s, leg) in enumerate(zip(sizes, intent.legs, strict=True)):
            smallest = e.markets[leg.condition_id].market.min_order_size
            if s < smallest:
                refusal = Refusal(
                    "MULTI_LEG_TOO_SMALL",
                    s / 1e6,
                    smallest / 1e6,
                    f"leg {i + 1}: scaled with the others to x{float(ratio):.3g} ({binding}) it is below the"
                    " smallest order",
                )
                return "SKIP_EXPOSURE", refusal, (), binding, gates
    return "PROPOSE", None, tuple(sizes), binding, gates


def risk_leg(
    e: Engine,
    ms: MarketState,
    intent: Intent,
    leg: Leg,
    now: int,
    equity: Decimal,
    reserved: Decimal,
    every: list[Refusal] | None = None,
) -> tuple[str, Refusal | None, int, str, list[tuple[str, float, float, bool]]]:
    """One leg through the layers after the strategy, in order: open-position limit, the strategy's pause,
    breakers, market state, price zone, size ratchet, exposure headroom, the strategy's budget (less
    `reserved` by earlier legs), minimums. Returns (decision, refusal, size, binding cap, gates).

    With `every` (the order ticket's what-if) a refusal does not stop the walk: each layer's refusal is
    appended and the next layer judges too, so the operator sees every rule that would refuse the order; the
    first refusal is still the one returned."""
    market = ms.market
    cid = market.condition_id
    gates: list[tuple[str, float, float, bool]] = []
    rationale = intent.rationale
    first: tuple[str, Refusal] | None = None

    def refused(decision: str, refusal: Refusal) -> bool:
        """Note a layer's refusal; True when the walk stops here (not collecting every refusal)."""
        nonlocal first
        if first is None:
            first = (decision, refusal)
        if every is None:
            return True
        every.append(refusal)
        return False

    if leg.side is Side.BUY and at_position_limit(e, market):
        limit = e.settings.risk.max_open_positions
        refusal = Refusal("MAX_POSITIONS", limit, limit, f"limit {limit} markets held or in flight")
        if refused("SKIP_MAX_POSITIONS", refusal):
            return "SKIP_MAX_POSITIONS", refusal, 0, "", gates
    reduces = leg.side is Side.SELL
    paused = e.strategy_limits.block(intent.strategy_id, reduces=reduces)
    _record_gate(gates, "strategy", paused)
    if paused is not None and refused("SKIP_STRATEGY_PAUSED", paused):
        return "SKIP_STRATEGY_PAUSED", paused, 0, "", gates
    block = e.breakers.block(now, cid, reduces=reduces)
    _record_gate(gates, "breakers", block)
    if block is not None and refused("SKIP_BREAKER", Refusal.of(block)):
        return "SKIP_BREAKER", Refusal.of(block), 0, "", gates
    price = leg.price
    state = e.states.check(cid, now, maker=leg.order_type.rests and not reduces, reduces=reduces)
    _record_gate(gates, "market_state", state)
    if state is not None and refused("SKIP_MARKET_STATE", Refusal.of(state)):
        return "SKIP_MARKET_STATE", Refusal.of(state), 0, "", gates
    size, binding = leg.size, rationale.binding_cap
    if reduces:
        if first is not None:
            return first[0], first[1], 0, binding, gates
        return "PROPOSE", None, size, binding, gates
    # Value bets count as `zones.strategy` in the price zones; a strategy with `zone_as` under that name (the
    # market maker is `market_making`); any other under its own id.
    zone_name = e.zone_name(intent.strategy_id)
    zone = e.zones.check(price, zone_name, prob=rationale.q_cons)
    _record_gate(gates, "zone", zone, passed_value=float(price))
    if zone is not None and refused("SKIP_ZONE", Refusal.of(zone)):
        return "SKIP_ZONE", Refusal.of(zone), 0, "", gates
    mult = e.states.size_multiplier(cid, now)
    gates.append(("ratchet", mult, 1.0, True))
    if mult < 1:
        size, binding = floor_size(int(size * mult)), "ratchet"
    room = e.exposure.headroom(cid, leg.outcome, price, bankroll=equity, post_only=leg.post_only)
    gates.append(("headroom", size / 1_000_000, room.shares / 1_000_000, size <= room.shares))
    if room.shares < size:
        size, binding = room.shares, room.binding
    # The strategy's own budget: what it has committed (held, working, proposed) leaves this much room.
    free = e.strategy_limits.budget_room(
        intent.strategy_id, equity, e.strategy_committed(intent.strategy_id) + reserved
    )
    fits = floor_size(int(free.scaleb(10) // price))
    gates.append(("budget", size / 1_000_000, fits / 1_000_000, size <= fits))
    if fits < size:
        size, binding = fits, "budget"
    # Too small once cut? Both sides in USDC: what is left against the smallest order the market takes.
    smallest = notional(price, market.min_order_size)
    if not leg.post_only:
        smallest = max(smallest, e.settings.risk.min_order_usdc)
    left = notional(price, size)
    if size < market.min_order_size or left < smallest:
        ratchet = binding == "ratchet"
        code = "SIZE_RATCHET" if ratchet else f"NO_ROOM_{binding.upper()}"
        left_room = free if binding == "budget" else room.rooms.get(binding, 0)
        detail = (
            f"x{mult:g} near close" if ratchet else f"{binding} room {left_room:.2f} USDC"
        ) + f" leaves {qty_to_str(size)} shares, below the smallest order"
        decision = {"ratchet": "SKIP_MARKET_STATE", "budget": "SKIP_BUDGET"}.get(binding, "SKIP_EXPOSURE")
        refusal = Refusal(code, float(left), float(smallest), detail)
        if refused(decision, refusal):
            return decision, refusal, 0, binding, gates
    if first is not None:
        return first[0], first[1], 0, binding, gates
    return "PROPOSE", None, size, binding, gates
