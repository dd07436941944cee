"""The order manager: what the venue says about our orders, applied to the engine's books.

Each order moves through its state machine (engine/execution/orders.py) with every move stored; fills go
into the account's portfolio and the strategy's own book, exactly once by trade id; reversals undo them;
settlements pay out; orders found at the venue after a restart are adopted; and the venue's own account
(positions, working orders, collateral) is reconciled against the ledger, feeding the reconciliation breaker.
Sending is here too (`send`): the firewall, the strategy's pause and budget, exposure, then write-ahead, then
the venue; `send_legs` sends a multi-leg intent all or none; cancels of a strategy's own orders and the care
of resting orders (stale, or their market closed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from engine import blotter, maker_flow
from engine.domain import TRADING_STATES, EngineState, MarketPhase, OrderRequest, OrderType, Side
from engine.execution.orders import FOREIGN, Order, OrderState
from engine.proposals import Proposal, refuse
from engine.refusal import Refusal
from engine.strategies.base import Cancel, Leg, OrderUpdate
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
    PreparesOrders,
    Reconcilable,
    Settled,
    VenueEvent,
    VenueReconciled,
)

if TYPE_CHECKING:
    from engine.engine import Engine
    from engine.mandates import Mandate


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
        # What it held is free again; it no longer counts as live; and, if the venue ever had it and it was
        # sent to trade, it counts for the fill-rate breaker. A quote under a mandate does not: a maker's
        # quotes are meant to wait and be withdrawn, so their fill rate says nothing about execution.
        quote = order.proposal_id is not None and order.proposal_id in e.mandates.by_id
        if order.proposal_id is not None:
            e.mandates.forget_order(order.proposal_id, order.client_order_id)
        e.exposure.release(order.client_order_id)
        e.firewall.on_done(order.client_order_id)
        if t.state_from is not OrderState.PENDING and not quote:
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
        paid = blotter.holders(e.accounts, event.token_id, event.size)  # read before the books change
        booked = e.portfolio.realized_gross
        pos = e.portfolio.apply_settlement(
            event.token_id, event.condition_id, event.outcome, event.size, event.cash, event.ts
        )
        e.accounts.apply_settlement(
            event.token_id, event.condition_id, event.outcome, event.size, event.cash, event.ts
        )
        e.exposure.on_settlement(event.token_id, event.size, event.cash)
        e.blotter.record_settlement(
            event.ts, e.markets[event.condition_id].market, event.outcome, event.size,
            event.payout_per_share, paid, e.portfolio.realized_gross - booked,
        )  # fmt: skip
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
            outcome=e.markets[event.condition_id].market.label(event.outcome),
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
        booked = e.portfolio.realized_gross
        pos = e.portfolio.apply_fill(fill)
        e.accounts.apply_fill(order.strategy_id, fill)
        e.blotter.record_fill(fill, e.markets[fill.condition_id].market, order.strategy_id,
                              None if fill.side is Side.BUY else e.portfolio.realized_gross - booked)  # fmt: skip
        maker_flow.on_fill(e, fill, order)
        e.price_history.on_fill(fill)
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
            outcome=e.markets[fill.condition_id].market.label(fill.outcome) if fill.condition_id in e.markets
            else fill.outcome.value,
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
        e.blotter.reverse_fill(fill.trade_id, fill.client_order_id)
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


async def send(
    e: Engine, request: OrderRequest, proposal: Proposal | None, mandate: Mandate | None = None
) -> str | None:
    """Every order goes out here: the firewall (breakers, market state and caps as guards, then the order
    rules), the reservation of its cash or shares, then write-ahead: the intent is committed before the
    venue sees the order. Returns the refusal's text when it may not go."""
    now = e.clock.now_ms()
    ms = e.markets[request.condition_id]
    reduces = e.exposure.reduces(request)
    verdict = e.firewall.approve(request, market=ms.market, tick=ms.tick, book=ms.book, now=now)
    if not verdict.ok:
        assert verdict.rejection is not None
        return refuse(e, proposal, Refusal.of(verdict.rejection), "firewall")
    if verdict.adjustments:
        e._note("firewall adjusted", order=request.client_order_id, changes=", ".join(verdict.adjustments))
    request = verdict.request
    origin = proposal or mandate
    if origin is not None:
        # The strategy's pause and budget as they stand now: an approval may come long after the proposal.
        mine = e._strategy_refusal(origin.strategy_id, request, reduces)
        if mine is not None:
            e.firewall.on_done(request.client_order_id)
            return refuse(e, proposal, mine, "strategy")
    admission = e.exposure.admit(request, bankroll=e._equity())
    if not admission.ok:
        e.firewall.on_done(request.client_order_id)
        return refuse(e, proposal, Refusal.of(admission), "exposure")
    order = Order(
        request=request,
        created_ts=now,
        proposal_id=proposal.proposal_id if proposal else mandate.mandate_id if mandate else None,
        strategy_id=origin.strategy_id if origin else FOREIGN,
        updated_ts=now,
    )
    if mandate is not None:
        mandate.orders.add(request.client_order_id)
    e.orders[request.client_order_id] = order
    e.counters["orders"] += 1
    e._count_for(order.strategy_id, "orders")
    if isinstance(e.venue, PreparesOrders):
        # The venue's own id for the order (on Polymarket its EIP-712 hash) is known before it is sent and
        # written ahead with the intent, so that after a crash the order can be looked up by it.
        try:
            order.venue_order_id = await e.venue.prepare(request)
        except Exception as exc:  # the venue cannot build it (precision, signing): nothing was sent
            store_order(e, order)
            transition(e, order, OrderState.FAILED, e.clock.now_ms(), f"not built: {exc}")
            e._note("order not built", logging.ERROR, order=request.client_order_id, error=str(exc))
            return f"the venue could not build the order: {exc}"
    store_order(e, order)
    e._queue_state()  # the breakers and halt as they stood when this order was decided, durable with it
    await e.store.flush()
    # The flush awaited: a kill switch (its own task) may have halted meanwhile. Nothing goes after a halt.
    late = e.breakers.block(e.clock.now_ms(), request.condition_id, reduces=reduces)
    if e.state not in TRADING_STATES or late is not None:
        why = f"not sent: {late.code if late else e.state.value}"
        transition(e, order, OrderState.CANCELLED, e.clock.now_ms(), why)
        e._note("order not sent", logging.WARNING, order=request.client_order_id, reason=why)
        return why
    try:
        await e.venue.submit(request)
    except Exception as exc:  # the venue could not take it: nothing was sent
        transition(e, order, OrderState.FAILED, e.clock.now_ms(), f"submit failed: {exc}")
        e._note("submit failed", logging.ERROR, order=request.client_order_id, error=str(exc))
        return None
    transition(e, order, OrderState.SUBMITTED, e.clock.now_ms(), "sent")
    e._note(
        "order sent",
        order=request.client_order_id,
        side=request.side.value,
        outcome=e.markets[request.condition_id].market.label(request.outcome),
        price=px_to_str(request.price),
        size=qty_to_str(request.size),
        type=request.order_type.value,
    )
    return None


async def send_legs(
    e: Engine, legs: list[Leg], proposal: Proposal | None, mandate: Mandate | None
) -> str | None:
    """Send an intent's legs: all or none. Every leg is checked first against what can be known without
    sending (the strategy's pause and budget, the exposure caps, a stale book); then they go one by one, and
    if a later leg is still refused, the legs already sent are cancelled at once and it is logged loudly."""
    requests = [leg_request(e, leg) for leg in legs]
    if proposal is not None:
        proposal.client_order_id = requests[0].client_order_id
        proposal.client_order_ids = tuple(r.client_order_id for r in requests)
    if len(requests) > 1:
        sid = (proposal or mandate).strategy_id  # type: ignore[union-attr]
        reserved = Decimal(0)
        for i, r in enumerate(requests):
            reduces = e.exposure.reduces(r)
            refusal = e._strategy_refusal(sid, r, reduces, reserved)
            if refusal is None:
                check = e.exposure.check(r, bankroll=e._equity())
                refusal = None if check.ok else Refusal.of(check)
            if refusal is None and e.is_stale(r.condition_id, e.clock.now_ms()):
                refusal = Refusal("VENUE_STALE_BOOK", 1, 0, "the venue reports the book stale at send time")
            if refusal is not None:
                refusal = replace(refusal, detail=f"leg {i + 1} of {len(requests)}: {refusal.detail}")
                return refuse(e, proposal, refusal, "multi-leg check")
            if r.side is Side.BUY:
                reserved += notional(r.price, r.size)
    sent: list[str] = []
    for i, request in enumerate(requests):
        refused = await send(e, request, proposal, mandate)
        if refused is None and request.client_order_id in e.orders:
            sent.append(request.client_order_id)
            continue
        if refused is None:
            refused = "not sent"
        if sent:
            for oid in sent:
                o = e.working.get(oid)
                if o is not None and not o.cancel_requested:
                    o.cancel_requested = True
                    await e.venue.cancel(oid)
            e._note("multi-leg broken: earlier legs cancelled", logging.ERROR, leg=i + 1,
                       legs=len(requests), cancelled=",".join(sent), reason=refused)  # fmt: skip
        return refused
    return None


def leg_request(e: Engine, leg: Leg) -> OrderRequest:
    market = e.markets[leg.condition_id].market
    expiration = None
    if leg.order_type is OrderType.GTD:
        x = e.settings.execution
        lifetime = leg.expiry_s or x.gtd_lifetime_s
        expiration = e.clock.now_ms() // 1000 + x.gtd_security_buffer_s + lifetime
    return OrderRequest(
        client_order_id=e._next_id("O"),
        condition_id=leg.condition_id,
        token_id=market.token(leg.outcome),
        outcome=leg.outcome,
        side=leg.side,
        price=leg.price,
        size=leg.size,
        order_type=leg.order_type,
        post_only=leg.post_only,
        expiration=expiration,
    )


async def strategy_cancel(e: Engine, sid: str, cancel: Cancel, now: int) -> None:
    """Cancels only reduce risk, so they run in every mode without approval; they spend the firewall's
    mutation budget like places do (one refused for budget is asked for again by the strategy)."""
    order = e.working.get(cancel.client_order_id)
    if order is None or order.strategy_id != sid:
        e._note("cancel ignored: not a working order of this strategy", logging.WARNING,
                   strategy=sid, order=cancel.client_order_id)  # fmt: skip
        return
    if order.cancel_requested or not order.state.resting:
        return
    if not e.firewall.cancel([order.client_order_id], now).allowed:
        e._note("cancel deferred: mutation budget", order=order.client_order_id, reason=cancel.reason)
        return
    order.cancel_requested = True
    await e.venue.cancel(order.client_order_id)
    e._note("cancel", order=order.client_order_id, reason=cancel.reason, strategy=sid)


async def manage_resting(e: Engine, now: int) -> None:
    """Cancel resting orders that went stale or whose market closed (a strategy withdraws its own orders
    when their reason is gone, through its reply). Cancels only reduce risk, so they
    run in every mode without approval; they spend the firewall's mutation budget like places do (one
    refused for budget is retried next cycle)."""
    stale = set(e.firewall.stale_orders(now))
    for order in list(e.working.values()):
        if not order.state.resting or order.cancel_requested:
            continue
        ms = e.markets[order.request.condition_id]
        reason = ""
        if order.client_order_id in stale:
            reason = "stale"
        elif ms.phase is not MarketPhase.OPEN:
            reason = "market closed"
        if reason:
            if not e.firewall.cancel([order.client_order_id], now).allowed:
                e._note("cancel deferred: mutation budget", order=order.client_order_id, reason=reason)
                continue
            order.cancel_requested = True
            await e.venue.cancel(order.client_order_id)
            e._note("cancel", order=order.client_order_id, reason=reason)
