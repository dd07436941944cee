"""The order manager: what the venue says about our orders, applied to the engine's books.

Each order moves through its state machine (engine/execution/orders.py) with every move stored; fills go
into the account's portfolio and the strategy's own book, exactly once by trade id; reversals undo them;
settlements pay out; orders found at the venue after a restart are adopted; and the venue's own account
(positions, working orders, collateral) is reconciled against the ledger, feeding the reconciliation breaker.
Sending is the engine's (`Engine._send`): write-ahead first, then the venue.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.domain import EngineState
from engine.execution.orders import FOREIGN, Order, OrderState
from engine.strategies.base import OrderUpdate
from engine.strategy_context import order_view
from engine.units import notional, px_to_str, qty_to_str
from engine.venues.base import (
    FillReversed,
    OrderAccepted,
    OrderAdopted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderLost,
    OrderRejected,
    OrderUnknown,
    Reconcilable,
    Settled,
    VenueEvent,
    VenueReconciled,
)

if TYPE_CHECKING:
    from engine.engine import Engine


def transition(e: Engine, order: Order, to: OrderState, ts: int, cause: str) -> None:
    t = order.move(to, ts, cause)
    if order.strategy_id in e._by_id:
        e._heard.append((order.strategy_id, OrderUpdate(order_view(order), t.state_from, cause, ts)))
    if to.working:
        e.working[order.client_order_id] = order
    else:
        e.working.pop(order.client_order_id, None)
        if not e.working and e._idle is not None and not e._idle.done():
            e._idle.set_result(None)  # a stop waiting for the venue's last word has it
    if to.terminal:
        # What it held is free again; it no longer counts as live; and, if the venue ever had it, it
        # counts for the fill-rate breaker.
        if order.proposal_id is not None:
            e.mandates.forget_order(order.proposal_id, order.client_order_id)
        e.exposure.release(order.client_order_id)
        e.firewall.on_done(order.client_order_id)
        if t.state_from is not OrderState.PENDING:
            e._on_breaker_events(e.breakers.on_order_done(order.filled > 0, ts))
    e.store.add_order_event(
        client_order_id=order.client_order_id,
        ts=ts,
        state_from=t.state_from.value,
        state_to=t.state_to.value,
        cause=cause,
        venue_order_id=order.venue_order_id,
        detail={"filled": qty_to_str(order.filled)},
    )
    store_order(e, order)


def store_order(e: Engine, order: Order) -> None:
    r = order.request
    e.store.upsert_order(
        client_order_id=r.client_order_id,
        run_id=e.run_id,
        ts=order.created_ts,
        proposal_id=order.proposal_id,
        strategy_id=order.strategy_id,
        condition_id=r.condition_id,
        token_id=r.token_id,
        side=r.side.value,
        order_type=r.order_type.value,
        post_only=int(r.post_only),
        price=Decimal(r.price).scaleb(-4),
        size=Decimal(r.size).scaleb(-6),
        expiration=r.expiration,
        state=order.state.value,
        venue_order_id=order.venue_order_id,
        filled=Decimal(order.filled).scaleb(-6),
        updated_ts=order.updated_ts,
    )


def closed_since(e: Engine, n: int, ts: int) -> None:
    """Positions that went flat since the portfolio had `n` closed ones feed the losing-streak breaker."""
    for pnl in e.portfolio.closed_results[n:]:
        e._on_breaker_events(e.breakers.on_position_closed(pnl, ts))


def apply_venue_event(e: Engine, event: VenueEvent) -> None:
    if isinstance(event, Settled):
        closed = len(e.portfolio.closed_results)
        pos = e.portfolio.apply_settlement(
            event.token_id, event.condition_id, event.outcome, event.size, event.cash, event.ts
        )
        e.accounts.apply_settlement(
            event.token_id, event.condition_id, event.outcome, event.size, event.cash, event.ts
        )
        e.exposure.on_settlement(event.token_id, event.size, event.cash)
        closed_since(e, closed, event.ts)
        e.counters["settlements"] += 1
        e.store.add_settlement(
            run_id=e.run_id,
            ts=event.ts,
            condition_id=event.condition_id,
            token_id=event.token_id,
            size=Decimal(event.size).scaleb(-6),
            payout_per_share=event.payout_per_share,
            cash=event.cash,
        )
        store_position(e, pos)
        e._note(
            "settled",
            market=e.markets[event.condition_id].market.slug,
            outcome=event.outcome.value,
            size=qty_to_str(event.size),
            cash=str(event.cash),
        )
        return
    if isinstance(event, VenueReconciled):
        on_reconciled(e, event)
        return
    if isinstance(event, OrderAdopted):
        adopt(e, event)
        return
    coid = event.fill.client_order_id if isinstance(event, OrderFilled) else event.client_order_id
    order = e.orders.get(coid)
    if order is None:
        e._note("event for unknown order", logging.WARNING, client_order_id=coid, kind=type(event).__name__)
        return
    if isinstance(event, OrderAccepted):
        order.venue_order_id = event.venue_order_id
        if order.state in (OrderState.SUBMITTED, OrderState.UNKNOWN):
            transition(e, order, OrderState.LIVE, event.ts, "accepted")
    elif isinstance(event, OrderUnknown):
        # Sent, but whether it was placed is not known: the venue looks it up (never resends); it keeps
        # its reservation and counts as working until the answer comes.
        order.venue_order_id = event.venue_order_id or order.venue_order_id
        if order.state is OrderState.SUBMITTED:
            transition(e, order, OrderState.UNKNOWN, event.ts, event.reason)
        e._note("order outcome unknown", logging.WARNING, order=coid, reason=event.reason)
    elif isinstance(event, OrderLost):
        if not order.state.terminal:
            transition(e, order, OrderState.FAILED, event.ts, event.reason)
        e._note("order lost", logging.WARNING, order=coid, reason=event.reason)
    elif isinstance(event, OrderRejected):
        e.counters["rejections"] += 1
        order.reason = event.reason
        if not order.state.terminal:
            transition(e, order, OrderState.REJECTED, event.ts, event.reason)
        e._note("order rejected", order=coid, reason=event.reason)
        e._on_breaker_events(e.breakers.on_rejection(event.ts))
    elif isinstance(event, OrderFilled):
        fill = event.fill
        if not e.store.add_fill(
            trade_id=fill.trade_id,
            client_order_id=coid,
            ts=fill.ts,
            condition_id=fill.condition_id,
            token_id=fill.token_id,
            side=fill.side.value,
            price=Decimal(fill.price).scaleb(-4),
            size=Decimal(fill.size).scaleb(-6),
            fee=fill.fee,
            liquidity=fill.liquidity.value,
            status="CONFIRMED",
            strategy_id=order.strategy_id,
        ):
            return  # already applied: fills are idempotent by trade id
        e.counters["fills"] += 1
        e._fills_total += 1
        closed = len(e.portfolio.closed_results)
        pos = e.portfolio.apply_fill(fill)
        e.accounts.apply_fill(order.strategy_id, fill)
        e._count_for(order.strategy_id, "fills")
        if order.strategy_id in e._by_id:
            e._heard.append((order.strategy_id, fill))
        e.exposure.on_fill(fill)
        order.filled += fill.size
        order.notional += notional(fill.price, fill.size)
        order.fees += fill.fee
        to = OrderState.FILLED if order.remaining <= 0 else OrderState.PARTIALLY_FILLED
        transition(e, order, to, fill.ts, f"fill {fill.trade_id} {fill.liquidity.value}")
        store_position(e, pos)
        e._note(
            "fill",
            order=coid,
            side=fill.side.value,
            outcome=fill.outcome.value,
            price=px_to_str(fill.price),
            size=qty_to_str(fill.size),
            fee=str(fill.fee),
            liquidity=fill.liquidity.value,
        )
        closed_since(e, closed, fill.ts)
    elif isinstance(event, OrderCancelled):
        if not order.state.terminal:
            e.counters["cancels"] += 1
            transition(e, order, OrderState.CANCELLED, event.ts, event.reason)
    elif isinstance(event, OrderExpired) and not order.state.terminal:
        transition(e, order, OrderState.EXPIRED, event.ts, "GTD expiry")
    elif isinstance(event, FillReversed):
        # The trade FAILED on chain: the fill never happened. Undo it exactly; the order keeps its state
        # history, with the reversal as its reason.
        fill = event.fill
        e.store.update_fill_status(fill.trade_id, "REVERSED")
        pos = e.portfolio.reverse_fill(fill)
        e.accounts.reverse_fill(order.strategy_id, fill)
        e._count_for(order.strategy_id, "fills", -1)
        e.exposure.reverse_fill(fill)
        order.filled = max(0, order.filled - fill.size)
        order.notional -= notional(fill.price, fill.size)
        order.fees -= fill.fee
        order.reason = f"fill {fill.trade_id} reversed: {event.reason}"
        e.counters["fill_reversals"] = e.counters.get("fill_reversals", 0) + 1
        store_position(e, pos)
        e._note(
            "fill reversed",
            logging.WARNING,
            order=coid,
            trade=fill.trade_id,
            reason=event.reason,
            size=qty_to_str(fill.size),
        )


def adopt(e: Engine, event: OrderAdopted) -> None:
    """A working order the ledger did not know, kept by `[venue] foreign_orders = "adopt"`: from now on it
    is the engine's, with an intent row like any other (no proposal)."""
    request = event.request
    if request.client_order_id in e.orders or request.condition_id not in e.markets:
        e._note("adoption refused", logging.WARNING, order=request.client_order_id)
        return
    order = Order(
        request=request,
        created_ts=event.ts,
        updated_ts=event.ts,
        venue_order_id=event.venue_order_id,
        strategy_id=FOREIGN,
    )
    e.orders[request.client_order_id] = order
    store_order(e, order)
    transition(e, order, OrderState.SUBMITTED, event.ts, "adopted: found working at the venue")
    transition(e, order, OrderState.LIVE, event.ts, "adopted")
    e.exposure.reserve(request, remaining=request.size)
    e.firewall.adopt(request, event.ts)
    e._note("order adopted", logging.WARNING, order=request.client_order_id, venue_id=event.venue_order_id)


def ledger_vs_venue(e: Engine, positions: dict[str, int], cash: int | None) -> list[str]:
    """Differences between the ledger and the venue's balances, each with both numbers. Tokens the venue
    holds that this ledger never traded are outside activity: logged, not a difference."""
    diffs: list[str] = []
    traded = set(e.portfolio.positions)
    for token in sorted(set(positions) | traded):
        if token not in positions:
            continue  # the venue was not asked about it
        ours = e.portfolio.held(token)
        theirs = positions[token]
        if token not in traded:
            if theirs:
                e._note("venue holds shares this ledger never traded", logging.WARNING,
                           token=token[:16], venue=qty_to_str(theirs))  # fmt: skip
            continue
        if ours != theirs:
            diffs.append(f"token {token[:12]}: ledger {qty_to_str(ours)} venue {qty_to_str(theirs)} shares")
    if cash is not None:
        e._last_venue_cash = cash
        venue_cash = Decimal(cash).scaleb(-6)
        if e._collateral_base is None:
            # The first look at this account's collateral: what the venue holds beyond the ledger's cash.
            e._collateral_base = venue_cash - e.portfolio.cash
        expected = e._collateral_base + e.portfolio.cash
        # The venue moves collateral in whole 1e-6 USDC per fill; the ledger keeps it exact.
        tolerance = Decimal(e._fills_total + 1).scaleb(-6)
        if abs(venue_cash - expected) > tolerance:
            diffs.append(f"collateral: ledger expects {expected} venue holds {venue_cash} USDC")
    return diffs


def on_reconciled(e: Engine, event: VenueReconciled) -> None:
    """The resuming venue's word: it holds these balances and orders. Trading starts only if the ledger
    agrees (checked twice, a few seconds apart, so a fill in flight is not a difference)."""
    e.restored.update(
        adopted=len(event.adopted),
        closed_while_down=len(event.closed),
        lost=len(event.lost),
        foreign=len(event.foreign),
        foreign_action=event.foreign_action,
        backfilled=event.backfilled,
    )
    e._note(
        "reconciled with the venue",
        adopted=len(event.adopted),
        closed=len(event.closed),
        lost=len(event.lost),
        foreign=len(event.foreign),
        foreign_action=event.foreign_action or "-",
        backfilled=event.backfilled,
    )
    if event.foreign and event.foreign_action == "halt":
        listed = ", ".join(f"{f.venue_order_id[:12]} {f.side} {qty_to_str(f.size)}@{px_to_str(f.price)}"
                           for f in event.foreign[:5])  # fmt: skip
        e._halt(f"{len(event.foreign)} orders at the venue this ledger does not know: {listed}", "reconcile")
    diffs = ledger_vs_venue(e, event.positions, event.cash)
    if diffs and not e._rechecked and isinstance(e.venue, Reconcilable):
        e._rechecked = True
        e._note("ledger and venue differ: checking again", logging.WARNING, diffs="; ".join(diffs)[:300])
        e.supervisor.spawn(recheck(e), "reconciliation recheck")
        return
    finish_reconcile(e, diffs)


async def recheck(e: Engine) -> None:
    await asyncio.sleep(e.recheck_s)
    state = await e.venue.venue_state()
    async with e._lock:
        finish_reconcile(e, ledger_vs_venue(e, state.positions, state.cash))
        e._touch()


def finish_reconcile(e: Engine, diffs: list[str]) -> None:
    now = e.clock.now_ms()
    e._awaiting_reconcile = False
    if diffs:
        detail = "; ".join(diffs)
        e._note("ledger and venue disagree", logging.ERROR, diffs=detail[:500])
        e._on_breaker_events(e.breakers.on_reconcile(len(diffs), now, detail[:300]))
        # Compared once at start: the trip stays until a human resumes, whatever later checks see.
        e._unreconciled = set()
    if e.state is EngineState.RECONCILING:
        e.state = EngineState.RUNNING
        e._note("trading", account=e.account)
    e.store.request_flush()
    e._snapshot = None


def store_position(e: Engine, pos) -> None:
    e.store.upsert_position(
        account=e.account,
        token_id=pos.token_id,
        condition_id=pos.condition_id,
        outcome=pos.outcome.value,
        size=Decimal(pos.size).scaleb(-6),
        avg_price=pos.avg_price.quantize(Decimal("0.000001")) if pos.size else Decimal(0),
        cost=pos.cost,
        realized_pnl=pos.realized - pos.fees,
        updated_ts=pos.updated_ts,
    )


# --- breakers ---------------------------------------------------------------------------------
