"""A restart resumes: the engine's side of engine.recovery. What to hand the venue to reconcile, how the
ledger's fills, orders, proposals, breakers and halts come back into a fresh engine, and the state document
saved with every group commit so that the next start finds them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from engine import blotter
from engine.domain import EngineState, MarketPhase, OrderType, Outcome, Side
from engine.execution.order_manager import store_order, store_position
from engine.execution.orders import FOREIGN, OrderState, Transition
from engine.portfolio import Portfolio
from engine.proposals import Proposal
from engine.recovery import STATE_VERSION, LedgerState
from engine.snapshot import BlotterRow
from engine.units import px_from_decimal, qty_from_decimal, qty_to_str
from engine.venues.base import KnownOrder, ResumeRequest

if TYPE_CHECKING:
    from engine.engine import Engine, MarketState


def resume_request(e: Engine, ledger: LedgerState | None, now: int) -> ResumeRequest:
    """What the venue must reconcile: every order the ledger holds as possibly working, its positions."""
    held = {p.token_id: p.size for p in e.portfolio.positions.values()}
    fill_ids: dict[str, set[str]] = {}
    for f in ledger.fills if ledger is not None else ():
        fill_ids.setdefault(f.client_order_id, set()).add(f.trade_id)
    known = tuple(
        KnownOrder(
            o.request,
            o.venue_order_id,
            o.filled,
            o.state.value,
            frozenset(fill_ids.get(o.client_order_id, ())),
        )
        for o in e.working.values()
    )
    referenced = {p.condition_id for p in e.portfolio.positions.values()}
    referenced |= {o.request.condition_id for o in e.working.values()}
    since = ledger.since_ms if ledger is not None else now
    window = since - 600_000  # the venue reads trades back from a little before `since`
    recent = (
        frozenset(f.trade_id for f in ledger.fills if f.ts >= window) if ledger is not None else frozenset()
    )
    return ResumeRequest(
        known_orders=known,
        positions=held,
        cash=e.portfolio.cash,
        since_ms=since,
        markets=tuple(e.markets[cid].market for cid in sorted(referenced)),
        foreign_orders=e.settings.venue.foreign_orders,
        fill_ids=recent,
    )


def restore(e: Engine, ledger: LedgerState, now: int) -> None:
    """Rebuild the books from the ledger: fills and settlements replayed in order (exact), the orders
    that may still work, pending proposals still within their time to live, and the saved state
    (breakers, halt, high-water mark, period baselines)."""
    referenced = {f.condition_id for f in ledger.fills} | {o.request.condition_id for o in ledger.orders}
    referenced |= {st.condition_id for st in ledger.settlements}
    for cid in sorted(referenced - set(e.markets)):
        # Held or worked in a market the venue no longer lists: kept (no book) so it can be marked,
        # settled and reconciled.
        market = ledger.markets[cid]
        ms = MarketState(market, tick=market.tick, cluster=e.exposure.add_market(market))
        e.states.add_market(market)
        e.markets[cid] = ms
        e.token_index.update({market.token(o): (cid, o) for o in Outcome})
    for cid, payout in ledger.resolved.items():
        ms = e.markets.get(cid)
        if ms is not None and ms.yes_payout is None:
            ms.yes_payout = payout
            ms.phase = MarketPhase.RESOLVED
            e.exposure.set_mark(ms.market.yes_token, payout)
            e.exposure.set_mark(ms.market.no_token, 1 - payout)
    portfolio = Portfolio(ledger.starting_cash)
    history: list[BlotterRow] = []  # the blotter, rebuilt from the same replay (its realized P&L exact too)
    for fill in ledger.fills:
        sid = ledger.fill_strategy.get(fill.client_order_id, FOREIGN)
        booked = portfolio.realized_gross
        portfolio.apply_fill(fill)
        e.accounts.apply_fill(sid, fill)
        realized = None if fill.side is Side.BUY else portfolio.realized_gross - booked
        history.append(blotter.fill_row(fill, e.markets[fill.condition_id].market, sid, realized))
    for st in ledger.settlements:
        m = e.markets[st.condition_id].market
        outcome = m.outcome_of(st.token_id)
        paid, booked = blotter.holders(e.accounts, st.token_id, st.size), portfolio.realized_gross
        portfolio.apply_settlement(st.token_id, st.condition_id, outcome, st.size, st.cash, st.ts)
        e.accounts.apply_settlement(st.token_id, st.condition_id, outcome, st.size, st.cash, st.ts)
        history.append(
            blotter.settlement_row(
                st.ts, m, outcome, st.size, st.payout_per_share, paid, portfolio.realized_gross - booked
            )
        )
    e.blotter.load(history)
    e.portfolio = portfolio
    e._fills_total = len(ledger.fills)
    e.exposure.sync(portfolio.cash, ((p.token_id, p.size, p.cost) for p in portfolio.positions.values()))
    for order in ledger.orders:
        # Whatever the ledger last knew, only the venue can say what the order is now. Set, not moved:
        # a restart is not a venue event, and LIVE -> UNKNOWN is no transition a venue may cause.
        before = order.state
        order.state = OrderState.UNKNOWN
        order.updated_ts = now
        order.history.append(Transition(order.client_order_id, now, before, OrderState.UNKNOWN, "restart"))
        e.store.add_order_event(
            client_order_id=order.client_order_id,
            ts=now,
            state_from=before.value,
            state_to=OrderState.UNKNOWN.value,
            cause="restart: state to be confirmed by the venue",
            venue_order_id=order.venue_order_id,
            detail={"filled": qty_to_str(order.filled)},
        )
        e.orders[order.client_order_id] = order
        e.working[order.client_order_id] = order
        e.exposure.reserve(order.request, remaining=order.remaining)
        e.firewall.adopt(order.request, order.created_ts)
        store_order(e, order)
    wall = e._wall_ms()
    kept = expired = 0
    for row in ledger.pending:
        p = proposal_from_row(e, row)
        if p is None or wall >= p.expires_wall:
            expired += 1
            e.store.update_proposal_status(row["id"], "EXPIRED", "expired while the engine was down")
            continue
        kept += 1
        e.proposals[p.proposal_id] = p
        e.pending[p.proposal_id] = p
    saved = ledger.saved or {}
    if saved:
        e.breakers.restore_state(saved.get("breakers", {}))
        hw = saved.get("high_water")
        if hw is not None:
            e._high_water = Decimal(hw)
        for kind, (index, equity) in saved.get("period_start", {}).items():
            e._period_start[kind] = (int(index), Decimal(equity))
        base = saved.get("collateral_base")
        e._collateral_base = None if base is None else Decimal(base)
        e._equity_history.extend(float(x) for x in saved.get("equity_history", ()))
        e.strategy_limits.restore(saved.get("strategies") or {})
        e.unwatched = {cid for cid in saved.get("unwatched") or () if cid in e.markets}
        halt = saved.get("halt")
        if halt:
            e._halt(halt["reason"], "restart", kind=halt.get("kind", "MANUAL"), record=False)
    e.restored = {
        "runs": len(ledger.runs),
        "fills": len(ledger.fills),
        "settlements": len(ledger.settlements),
        "positions": len(portfolio.open_positions()),
        "cash": str(portfolio.cash),
        "realized_pnl": str(portfolio.realized_pnl),
        "orders": len(ledger.orders),
        "proposals_pending": kept,
        "proposals_expired": expired,
        "breakers_tripped": e.breakers.tripped(),
        "halted": e.state is EngineState.HALTED,
        "high_water": str(e._high_water),
        "strategies_paused": sorted(e.strategy_limits.paused),
    }
    for pos in portfolio.positions.values():
        store_position(e, pos)
    e._note("ledger restored", **{k: v for k, v in e.restored.items() if k != "breakers_tripped"},
               tripped=",".join(e.restored["breakers_tripped"]) or "-")  # fmt: skip


def proposal_from_row(e: Engine, row: dict[str, Any]) -> Proposal | None:
    ms = e.markets.get(row["condition_id"])
    if ms is None or row.get("expires_wall") is None:
        return None
    rationale = orjson.loads(row["rationale_json"] or "{}")
    size = qty_from_decimal(row["size"])
    return Proposal(
        proposal_id=row["id"],
        created_ts=int(row["ts"]),
        market=ms.market,
        outcome=Outcome(row["outcome"]),
        side=Side(row["side"]),
        price=px_from_decimal(row["price"]),
        size=size,
        max_size=size,
        order_type=OrderType(row["order_type"]),
        post_only=bool(row["post_only"]),
        p_hat=float(row["p_hat"] or 0.0),  # NULL: the strategy has no model number
        ci_low=float(row["ci_low"] or 0.0),  # NULL: the strategy has no model number
        ci_high=float(row["ci_high"] or 0.0),  # NULL: the strategy has no model number
        edge_net=float(row["edge_net"] or 0.0),  # NULL: the strategy has no model number
        kelly=float(row["kelly_fraction"] or 0.0),  # NULL: the strategy has no model number
        expected_slippage_bps=float(
            row["expected_slippage_bps"] or 0.0
        ),  # NULL: the strategy has no model number
        expires_ts=int(row["expires_ts"]),
        expires_wall=int(row["expires_wall"]),
        evaluation_key=str(rationale.get("evaluation", "")),
        binding_cap=row["binding_cap"],
        strategy_id=row.get("strategy_id") or "value",
        rationale=rationale,
    )


def state_doc(e: Engine) -> dict[str, Any]:
    """What the next start must not forget (see engine.recovery): saved with every group commit."""
    halt = None
    if e.state is EngineState.HALTED:
        halt = {"reason": e.halt_reason, "kind": e.halt_kind or "MANUAL"}
    elif e.state is EngineState.ERROR:
        # The restart is the intervention an ERROR asks for; it comes back halted, for a human to resume.
        halt = {"reason": f"the previous run ended in ERROR ({e.error})"[:300], "kind": "MANUAL"}
    return {
        "version": STATE_VERSION,
        "halt": halt,
        "breakers": e.breakers.export_state(),
        "high_water": str(e._high_water),
        "period_start": {k: [i, str(e)] for k, (i, e) in e._period_start.items()},
        "collateral_base": None if e._collateral_base is None else str(e._collateral_base),
        "equity_history": list(e._equity_history)[-60:],
        "strategies": e.strategy_limits.export_state(),
        "unwatched": sorted(e.unwatched),
    }
