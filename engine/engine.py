"""The trading engine: books -> brain -> sizing -> proposal -> (approval) -> order -> fills -> P&L.

One asyncio task owns all state. Market data and venue events arrive through `on_market`/`on_venue`
(the venue drives them), periodic work runs from clock timers, operator commands through `execute`.
A lock serialises the three so an await inside one (the write-ahead flush) never interleaves with
another's state changes. `snapshot()` hands the UI an immutable read model.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.analytics.calibration import Calibration
from engine.book import OrderBook
from engine.brains.base import Brain, BrainInput, NoEstimate
from engine.brains.microprice import MicropriceBrain
from engine.clock import Clock
from engine.commands import (
    Approve,
    ArmLive,
    CancelAll,
    Command,
    CommandResult,
    EditSize,
    Halt,
    Reject,
    Resume,
    SetMode,
)
from engine.config import Settings
from engine.domain import Estimate, Market, Mode, OrderRequest, OrderType, Outcome, Side
from engine.execution.orders import Order, OrderState
from engine.feeds.events import (
    BookDeltas,
    BookSnapshot,
    MarketClosed,
    MarketEvent,
    MarketResolved,
    TickSizeChange,
)
from engine.logs import log_event
from engine.portfolio import Portfolio
from engine.risk.sizing import Exposure, SizingLimits, SizingResult, size_trade
from engine.snapshot import (
    BookLadder,
    BreakerState,
    EngineSnapshot,
    FeedHealth,
    MarketRow,
    OrderRow,
    PnLView,
    PositionRow,
    ProposalRow,
    RiskView,
)
from engine.store import Store
from engine.units import ONE, floor_size, notional, px_to_str, qty_to_str
from engine.venues.base import (
    FillReversed,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    Settled,
    Venue,
    VenueEvent,
)

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
LADDER_DEPTH = 12


@dataclass(slots=True)
class MarketState:
    market: Market
    book: OrderBook = field(default_factory=OrderBook)
    tick: int = 100
    phase: str = "OPEN"  # OPEN | CLOSED | RESOLVED
    first_ts: int | None = None
    updates: int = 0
    last_decision: str = ""
    last_edge: float | None = None  # the sizer's last conservative edge; None when it never got that far
    cluster: str = ""
    yes_payout: Decimal | None = None


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
    estimate: Estimate
    sizing: SizingResult
    expires_ts: int
    evaluation_key: str
    status: str = "PENDING"  # PENDING | APPROVED | REJECTED | EXPIRED | OBSERVED | FAILED
    client_order_id: str | None = None


class Engine:
    def __init__(
        self,
        settings: Settings,
        venue: Venue,
        clock: Clock,
        store: Store,
        *,
        brain: Brain | None = None,
        logger: logging.Logger | None = None,
        run_id: str | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.venue = venue
        self.clock = clock
        self.store = store
        self.brain = brain or MicropriceBrain()
        self.log = logger or logging.getLogger("bigearn")
        self.run_id = run_id or uuid.uuid4().hex
        self._wall = wall  # real time, only for UI pacing and rates (never for trading decisions)
        self._tag = self.run_id[:6]
        self.mode = Mode(settings.engine.mode)
        self.state = "RUNNING"
        self.halt_reason = ""
        self.portfolio = Portfolio(settings.bankroll.starting_usdc)
        self.markets: dict[str, MarketState] = {}
        for market in venue.markets():
            ms = MarketState(market, tick=market.tick, cluster=self._cluster_of(market))
            self.markets[market.condition_id] = ms
        self.token_index = {m.token(o): (m.condition_id, o) for m in venue.markets() for o in Outcome}
        self.orders: dict[str, Order] = {}  # every order of the run, for history and lookups by id
        self.proposals: dict[str, Proposal] = {}
        # Indexes kept in step with the two above, so per-evaluation checks cost O(live), not O(history):
        # a run lives for weeks and its proposals and finished orders only grow.
        self.working: dict[str, Order] = {}
        self.pending: dict[str, Proposal] = {}
        self.calibration = Calibration()
        self.limits = self._limits()
        self.counters: dict[str, int] = dict.fromkeys(
            ("market_events", "evaluations", "proposals", "orders", "fills", "rejections", "settlements", "cancels"), 0
        )
        self.decisions: dict[str, int] = {}
        self.halts: list[dict[str, Any]] = []
        self._seq = 0
        self._ids = 0
        self._lock = asyncio.Lock()
        self._cycle_scheduled = False
        self._stopped = False
        self._snapshot: EngineSnapshot | None = None
        self._stale_cache: tuple[int, frozenset[str]] = (-1, frozenset())
        # Real money needs an explicit human step: a LIVE venue sends nothing until ArmLive("LIVE").
        self.live_armed = getattr(venue, "kind", "") != "LIVE"
        self._snapshot_wall = 0.0
        self._dirty = True
        self._log_lines: deque[str] = deque(maxlen=200)
        self._log_count = 0
        self._equity_history: deque[float] = deque(maxlen=240)
        self._high_water = settings.bankroll.starting_usdc
        self._period_start: dict[str, tuple[int, Decimal]] = {}
        self._msg_window: deque[tuple[float, int]] = deque(maxlen=20)

    # --- setup -----------------------------------------------------------------------------------
    def _limits(self) -> SizingLimits:
        r, x = self.settings.risk, self.settings.execution
        return SizingLimits(
            kelly_fraction=r.kelly_fraction,
            max_ci_width=r.max_ci_width,
            min_edge=r.min_edge,
            min_depth_usdc=r.min_depth_usdc,
            max_position_pct=r.max_position_pct,
            max_book_impact_pct=r.max_book_impact_pct,
            max_slippage_bps=x.max_slippage_bps,
            max_cluster_pct=r.max_cluster_pct,
            max_aggregate_pct=r.max_aggregate_pct,
            min_order_usdc=r.min_order_usdc,
        )

    def _cluster_of(self, market: Market) -> str:
        """Markets of one event move together; so do markets sharing a configured keyword group."""
        if market.event_id:
            return f"event:{market.event_id}"
        text = f"{market.question} {market.slug}".lower()
        for group, words in sorted(self.settings.risk.cluster_keywords.items()):
            if any(w.lower() in text for w in words):
                return f"group:{group}"
        return f"market:{market.condition_id}"

    async def start(self) -> None:
        s = self.settings
        self.store.start_run(
            run_id=self.run_id,
            started_ts=self.clock.now_ms(),
            venue=self.venue.kind,
            mode=self.mode.value,
            seed=s.engine.seed,
            config=s.model_dump(mode="json"),
        )
        for ms in self.markets.values():
            self._store_market(ms, self.clock.now_ms())
        await self.store.flush()
        self._note("engine started", run_id=self.run_id, venue=self.venue.kind, mode=self.mode.value, markets=len(self.markets))

    def _store_market(self, ms: MarketState, ts: int, resolved_ts: int | None = None) -> None:
        m = ms.market
        self.store.upsert_market(
            condition_id=m.condition_id, slug=m.slug, question=m.question, category=m.category,
            yes_token_id=m.yes_token, no_token_id=m.no_token, yes_outcome=m.yes_label, no_outcome=m.no_label,
            tick_size=Decimal(ms.tick).scaleb(-4), min_order_size=Decimal(m.min_order_size).scaleb(-6),
            neg_risk=int(m.neg_risk), fee_rate=m.fees.rate, fee_exponent=m.fees.exponent,
            start_ts=m.start_ts, end_ts=m.end_ts, cluster=ms.cluster, resolved_ts=resolved_ts,
            yes_payout=ms.yes_payout, updated_ts=ts,
        )

    async def run(self) -> dict[str, Any]:
        """Start, let the venue drive until its data ends (replay) or the task is cancelled, then stop cleanly."""
        await self.start()
        try:
            await self.venue.run(self)
        finally:
            await self.shutdown()
        return self.summary()

    async def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        working = list(self.working.values())
        if working:
            await self.venue.cancel_all()
            self._note("shutdown: cancel all", orders=len(working))
        self._record_pnl_snapshot()
        self.store.end_run(run_id=self.run_id, ended_ts=self.clock.now_ms(), summary=self.summary())
        await self.store.flush()
        self.state = "STOPPED"
        self._touch()

    # --- ids, logging --------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{self._tag}{prefix}{self._ids:06d}"

    def _note(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        now = self.clock.now_ms()
        log_event(self.log, event, level, sim_ts=now, **fields)
        detail = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = time.strftime("%H:%M:%S", time.gmtime(now / 1000))
        self._log_lines.append(f"{stamp} {event} {detail}".rstrip())
        self._log_count += 1
        self._touch()

    def _touch(self) -> None:
        self._dirty = True

    # --- market data ---------------------------------------------------------------------------
    async def on_market(self, event: MarketEvent) -> None:
        async with self._lock:
            self.counters["market_events"] += 1
            ms = self.markets.get(event.condition_id)
            if ms is None:
                return
            if isinstance(event, BookDeltas):
                ms.book.apply(event.deltas, event.ts)
                ms.updates += 1
            elif isinstance(event, BookSnapshot):
                ms.book.replace(event.bids, event.asks, event.ts)
                ms.updates += 1
                if ms.first_ts is None:
                    ms.first_ts = event.ts
                    if not self._cycle_scheduled:
                        self._cycle_scheduled = True
                        self.clock.call_at(event.ts + int(self.settings.engine.cycle_interval_s * 1000), self._cycle)
                        self.clock.call_at(event.ts, self._pnl_timer)
            elif isinstance(event, TickSizeChange):
                ms.tick = event.new_tick
            elif isinstance(event, MarketClosed):
                ms.phase = "CLOSED"
                for p in list(self.pending.values()):
                    if p.market.condition_id == event.condition_id:
                        self._decide(p, "EXPIRED", "EXPIRE", "engine", note="market closed")
                self._note("market closed", market=ms.market.slug)
            elif isinstance(event, MarketResolved):
                ms.phase = "RESOLVED"
                ms.yes_payout = event.yes_payout
                outcome = float(event.yes_payout)
                scored = self.calibration.resolve(event.condition_id, outcome)
                self.store.resolve_evaluations(event.condition_id, outcome)
                self._store_market(ms, event.ts, resolved_ts=event.ts)
                self._note("market resolved", market=ms.market.slug, yes_payout=str(event.yes_payout), scored=scored)
            self._touch()

    # --- venue events --------------------------------------------------------------------------
    async def on_venue(self, event: VenueEvent) -> None:
        async with self._lock:
            self._on_venue(event)
            if isinstance(event, OrderAccepted):
                order = self.orders.get(event.client_order_id)
                if order is not None and order.cancel_requested and order.state.working:
                    # Cancelled while in flight: the venue could not cancel an order it had not seen yet.
                    await self.venue.cancel(order.client_order_id)
                    self._note("cancel on acceptance", order=order.client_order_id)
            self._touch()

    def _transition(self, order: Order, to: OrderState, ts: int, cause: str) -> None:
        t = order.move(to, ts, cause)
        if to.working:
            self.working[order.client_order_id] = order
        else:
            self.working.pop(order.client_order_id, None)
        self.store.add_order_event(
            client_order_id=order.client_order_id, ts=ts, state_from=t.state_from.value, state_to=t.state_to.value,
            cause=cause, venue_order_id=order.venue_order_id, detail={"filled": qty_to_str(order.filled)},
        )
        self._store_order(order)

    def _store_order(self, order: Order) -> None:
        r = order.request
        self.store.upsert_order(
            client_order_id=r.client_order_id, run_id=self.run_id, ts=order.created_ts, proposal_id=order.proposal_id,
            condition_id=r.condition_id, token_id=r.token_id, side=r.side.value, order_type=r.order_type.value,
            post_only=int(r.post_only), price=Decimal(r.price).scaleb(-4), size=Decimal(r.size).scaleb(-6),
            expiration=r.expiration, state=order.state.value, venue_order_id=order.venue_order_id,
            filled=Decimal(order.filled).scaleb(-6), updated_ts=order.updated_ts,
        )

    def _on_venue(self, event: VenueEvent) -> None:
        if isinstance(event, Settled):
            pos = self.portfolio.apply_settlement(event.token_id, event.condition_id, event.outcome, event.size, event.cash, event.ts)
            self.counters["settlements"] += 1
            self.store.add_settlement(
                run_id=self.run_id, ts=event.ts, condition_id=event.condition_id, token_id=event.token_id,
                size=Decimal(event.size).scaleb(-6), payout_per_share=event.payout_per_share, cash=event.cash,
            )
            self._store_position(pos)
            self._note("settled", market=self.markets[event.condition_id].market.slug, outcome=event.outcome.value,
                       size=qty_to_str(event.size), cash=str(event.cash))
            return
        coid = event.fill.client_order_id if isinstance(event, OrderFilled) else event.client_order_id
        order = self.orders.get(coid)
        if order is None:
            self._note("event for unknown order", logging.WARNING, client_order_id=coid, kind=type(event).__name__)
            return
        if isinstance(event, OrderAccepted):
            order.venue_order_id = event.venue_order_id
            if order.state in (OrderState.SUBMITTED, OrderState.UNKNOWN):
                self._transition(order, OrderState.LIVE, event.ts, "accepted")
        elif isinstance(event, OrderRejected):
            self.counters["rejections"] += 1
            order.reason = event.reason
            if not order.state.terminal:
                self._transition(order, OrderState.REJECTED, event.ts, event.reason)
            self._note("order rejected", order=coid, reason=event.reason)
        elif isinstance(event, OrderFilled):
            fill = event.fill
            if not self.store.add_fill(
                trade_id=fill.trade_id, client_order_id=coid, ts=fill.ts, condition_id=fill.condition_id,
                token_id=fill.token_id, side=fill.side.value, price=Decimal(fill.price).scaleb(-4),
                size=Decimal(fill.size).scaleb(-6), fee=fill.fee, liquidity=fill.liquidity.value, status="CONFIRMED",
            ):
                return  # already applied: fills are idempotent by trade id
            self.counters["fills"] += 1
            pos = self.portfolio.apply_fill(fill)
            order.filled += fill.size
            order.notional += notional(fill.price, fill.size)
            order.fees += fill.fee
            to = OrderState.FILLED if order.remaining <= 0 else OrderState.PARTIALLY_FILLED
            self._transition(order, to, fill.ts, f"fill {fill.trade_id} {fill.liquidity.value}")
            self._store_position(pos)
            self._note("fill", order=coid, side=fill.side.value, outcome=fill.outcome.value, price=px_to_str(fill.price),
                       size=qty_to_str(fill.size), fee=str(fill.fee), liquidity=fill.liquidity.value)
        elif isinstance(event, OrderCancelled):
            if not order.state.terminal:
                self.counters["cancels"] += 1
                self._transition(order, OrderState.CANCELLED, event.ts, event.reason)
        elif isinstance(event, OrderExpired) and not order.state.terminal:
            self._transition(order, OrderState.EXPIRED, event.ts, "GTD expiry")
        elif isinstance(event, FillReversed):
            # The trade FAILED on chain: the fill never happened. Undo it exactly; the order keeps its state
            # history, with the reversal as its reason.
            fill = event.fill
            self.store.update_fill_status(fill.trade_id, "REVERSED")
            pos = self.portfolio.reverse_fill(fill)
            order.filled = max(0, order.filled - fill.size)
            order.notional -= notional(fill.price, fill.size)
            order.fees -= fill.fee
            order.reason = f"fill {fill.trade_id} reversed: {event.reason}"
            self.counters["fill_reversals"] = self.counters.get("fill_reversals", 0) + 1
            self._store_position(pos)
            self._note("fill reversed", logging.WARNING, order=coid, trade=fill.trade_id, reason=event.reason,
                       size=qty_to_str(fill.size))

    def _store_position(self, pos) -> None:
        self.store.upsert_position(
            token_id=pos.token_id, condition_id=pos.condition_id, outcome=pos.outcome.value,
            size=Decimal(pos.size).scaleb(-6), avg_price=pos.avg_price.quantize(Decimal("0.000001")) if pos.size else Decimal(0),
            cost=pos.cost, realized_pnl=pos.realized - pos.fees, updated_ts=pos.updated_ts,
        )

    # --- evaluation cycle ------------------------------------------------------------------------
    async def _cycle(self) -> None:
        if self._stopped:
            return
        now = self.clock.now_ms()
        self.clock.call_at(now + int(self.settings.engine.cycle_interval_s * 1000), self._cycle)
        async with self._lock:
            if self.state == "RESUMING":
                self.state = "RUNNING"
                self._note("resumed")
            warm_ms = int(self.settings.engine.warmup_s * 1000)
            active = [ms for ms in self.markets.values() if ms.phase == "OPEN" and ms.first_ts is not None and now - ms.first_ts >= warm_ms]
            active = active[: self.settings.engine.max_active_markets]
            for ms in active:
                await self._evaluate(ms, now)
            await self._manage_resting(now)
            self._touch()

    def _exposure(self, ms: MarketState) -> Exposure:
        cid = ms.market.condition_id
        by_market: dict[str, Decimal] = {}
        for pos in self.portfolio.open_positions():
            by_market[pos.condition_id] = by_market.get(pos.condition_id, Decimal(0)) + pos.cost
        reserved = Decimal(0)
        for o in self.working.values():
            if o.request.side is Side.BUY:
                r = o.request
                held = notional(r.price, o.remaining)
                reserved += held
                by_market[r.condition_id] = by_market.get(r.condition_id, Decimal(0)) + held
        cluster = sum((v for k, v in by_market.items() if self.markets[k].cluster == ms.cluster), Decimal(0))
        held = {o: self.portfolio.held(ms.market.token(o)) for o in Outcome}
        return Exposure(
            bankroll=self._equity(),
            free_cash=self.portfolio.cash - reserved,
            market=by_market.get(cid, Decimal(0)),
            cluster=cluster,
            aggregate=sum(by_market.values(), Decimal(0)),
            held=held,
        )

    def _busy(self, cid: str) -> bool:
        """A decision is outstanding: a proposal waits for the operator or an order has not been acknowledged."""
        if any(p.market.condition_id == cid for p in self.pending.values()):
            return True
        return any(o.request.condition_id == cid and o.state in (OrderState.SUBMITTED, OrderState.UNKNOWN)
                   for o in self.working.values())

    def _resting(self, cid: str) -> list[Order]:
        return [o for o in self.working.values() if o.request.condition_id == cid
                and o.state in (OrderState.LIVE, OrderState.PARTIALLY_FILLED) and not o.cancel_requested]

    def _still_supported(self, order: Order, result: SizingResult, tick: int) -> bool:
        """A resting order stays while the sizer would still place it: its side clears the edge gate at a
        price within `requote_min_ticks` of where it rests (a smaller move is not worth a cancel/replace)."""
        c = result.candidate
        edge_ok = any(g.name == "edge" and g.passed for g in result.gates)
        r = order.request
        return (edge_ok and c is not None and c.outcome is r.outcome and c.side is r.side
                and abs(c.price - r.price) <= self.settings.execution.requote_min_ticks * tick)

    def _at_position_limit(self, market: Market) -> bool:
        """A new market may not open once max_open_positions are held or being bought (an order in flight
        is a position about to exist); adding to or exiting a held one may."""
        held = {p.condition_id for p in self.portfolio.open_positions()}
        held |= {o.request.condition_id for o in self.working.values() if o.request.side is Side.BUY}
        if market.condition_id in held:
            return False
        return len(held) >= self.settings.risk.max_open_positions

    async def _evaluate(self, ms: MarketState, now: int) -> None:
        market = ms.market
        self.counters["evaluations"] += 1
        book = ms.book
        mid = book.mid()
        base: dict[str, Any] = dict(
            run_id=self.run_id, ts=now, condition_id=market.condition_id, brain=self.brain.name,
            market_mid=mid.value, best_bid=None if book.best_bid is None else Decimal(book.best_bid).scaleb(-4),
            best_ask=None if book.best_ask is None else Decimal(book.best_ask).scaleb(-4),
            spread=None if book.spread() is None else book.spread() / ONE,
            depth_usdc=book.depth_usdc(self.limits.depth_band),
            time_to_close_s=None if market.end_ts is None else (market.end_ts - now) / 1000,
        )
        try:
            est = self.brain.estimate(BrainInput(market, book, now))
        except NoEstimate as exc:
            decision = f"SKIP_{exc.code}"
            self._count_decision(ms, decision, None)
            self.store.add_evaluation(**base, p_hat=None, ci_low=None, ci_high=None, decision=decision,
                                      reason=exc.detail, details={})
            return
        if mid.value is not None:
            self.calibration.record(market.condition_id, est.p_hat, mid.value)
        result: SizingResult | None = None
        if self.state == "HALTED":
            decision, reason = "SKIP_HALTED", self.halt_reason
        elif self.is_stale(market.condition_id, now):
            decision, reason = "SKIP_STALE_BOOK", "the venue's book is unsynced or older than its staleness limit"
        elif market.end_ts is not None and now >= market.end_ts:
            decision, reason = "SKIP_CLOSED", "market closed"
        elif self._busy(market.condition_id):
            decision, reason = "SKIP_BUSY", "a proposal or order is already working in this market"
        elif self._at_position_limit(market):
            decision, reason = "SKIP_MAX_POSITIONS", f"limit {self.settings.risk.max_open_positions} markets held or in flight"
        else:
            result = size_trade(est, book, market, self._exposure(ms), self.limits, sell_only=self.settings.risk.reduce_only)
            decision = "PROPOSE" if result.ok else result.reason
            gate = result.deciding
            reason = "" if gate is None else f"{gate.name}={gate.value:.6g} vs {gate.threshold:.6g}"
            resting = self._resting(market.condition_id)
            if resting:
                # One working order per market: re-check it instead of proposing another.
                keep = all(self._still_supported(o, result, ms.tick) for o in resting)
                decision = "HOLD" if keep else "WITHDRAW"
                reason = "order still has its edge" if keep else f"edge gone: {result.reason} {reason}".strip()
        edge = result.candidate.edge_cons if result and result.candidate else None
        self._count_decision(ms, decision, edge)
        details: dict[str, Any] = {"features": est.features}
        if result is not None:
            details["gates"] = [(g.name, g.value, g.threshold, g.passed) for g in result.gates]
            if result.candidate is not None:
                c = result.candidate
                details["candidate"] = {"outcome": c.outcome.value, "side": c.side.value, "price": px_to_str(c.price),
                                        "liquidity": c.liquidity, "edge_point": c.edge_point, "edge_cons": c.edge_cons,
                                        "fee_per_share": c.fee_per_share}
        key = f"{market.condition_id}:{now}"
        self.store.add_evaluation(**base, p_hat=est.p_hat, ci_low=est.ci_low, ci_high=est.ci_high, decision=decision,
                                  reason=reason, details=details)
        if result is not None and result.ok and decision == "PROPOSE":
            await self._propose(ms, est, result, now, key)

    def _count_decision(self, ms: MarketState, decision: str, edge: float | None) -> None:
        self.decisions[decision] = self.decisions.get(decision, 0) + 1
        ms.last_decision = decision
        ms.last_edge = edge

    async def _propose(self, ms: MarketState, est: Estimate, result: SizingResult, now: int, key: str) -> None:
        c = result.candidate
        assert c is not None
        price = result.limit_price if result.limit_price is not None else c.price
        p = Proposal(
            proposal_id=self._next_id("P"),
            created_ts=now,
            market=ms.market,
            outcome=c.outcome,
            side=c.side,
            price=price,
            size=result.size,
            max_size=result.size,
            order_type=result.order_type,
            post_only=result.post_only,
            estimate=est,
            sizing=result,
            expires_ts=now + int(self.settings.engine.proposal_ttl_s * 1000),
            evaluation_key=key,
        )
        self.proposals[p.proposal_id] = p
        self.pending[p.proposal_id] = p
        self.counters["proposals"] += 1
        self.store.add_proposal(
            id=p.proposal_id, run_id=self.run_id, ts=now, evaluation_id=None, condition_id=ms.market.condition_id,
            token_id=ms.market.token(p.outcome), outcome=p.outcome.value, side=p.side.value, order_type=p.order_type.value,
            post_only=int(p.post_only), price=Decimal(p.price).scaleb(-4), size=Decimal(p.size).scaleb(-6),
            p_hat=est.p_hat, ci_low=est.ci_low, ci_high=est.ci_high, edge_net=c.edge_cons, kelly_fraction=result.kelly_applied,
            binding_cap=result.binding_cap, expected_slippage_bps=result.expected_slippage_bps, expires_ts=p.expires_ts,
            status=p.status,
            rationale={"evaluation": key, "edge_point": c.edge_point, "fee_per_share": c.fee_per_share,
                       "kelly_full": result.kelly_full, "stake_usdc": result.stake_usdc, "liquidity": c.liquidity,
                       "gates": [(g.name, g.value, g.threshold, g.passed) for g in result.gates]},
        )
        self._note("proposal", id=p.proposal_id, market=ms.market.slug, side=p.side.value, outcome=p.outcome.value,
                   price=px_to_str(p.price), size=qty_to_str(p.size), edge=round(c.edge_cons, 4), cap=result.binding_cap)
        if self.mode is Mode.AUTO:
            self._decide(p, "APPROVED", "APPROVE", "auto")
            await self._execute_proposal(p)
        elif self.mode is Mode.OBSERVE:
            self._decide(p, "OBSERVED", "OBSERVE", "engine")
        else:
            self.clock.call_at(p.expires_ts, lambda pid=p.proposal_id: self._expire_proposal(pid))

    async def _expire_proposal(self, proposal_id: str) -> None:
        async with self._lock:
            p = self.proposals.get(proposal_id)
            if p is not None and p.status == "PENDING":
                self._decide(p, "EXPIRED", "EXPIRE", "ttl")
                self._touch()

    def _decide(self, p: Proposal, status: str, action: str, actor: str, size: int | None = None, note: str = "") -> None:
        p.status = status
        self.pending.pop(p.proposal_id, None)
        self.store.update_proposal_status(p.proposal_id, status)
        self.store.add_decision(proposal_id=p.proposal_id, ts=self.clock.now_ms(), action=action, actor=actor,
                                size=None if size is None else Decimal(size).scaleb(-6), note=note)

    def is_stale(self, condition_id: str, now: int) -> bool:
        """A live venue knows when its copy of a book can't be trusted (unsynced after a reconnect or a gap,
        or silent too long); no order is built or sent from such a book. Replay books are never stale."""
        stale_markets = getattr(self.venue, "stale_markets", None)
        if stale_markets is None:
            return False
        if self._stale_cache[0] != now:
            self._stale_cache = (now, frozenset(stale_markets(now)))
        return condition_id in self._stale_cache[1]

    async def _execute_proposal(self, p: Proposal) -> None:
        m = p.market
        if not self.live_armed:
            self._decide(p, "REFUSED", "REFUSE", "engine", note="LIVE venue not armed")
            self._note("order refused: LIVE not armed (type LIVE in the console, or `ctl arm LIVE`)", logging.WARNING,
                       proposal=p.proposal_id)
            return
        if self.is_stale(m.condition_id, self.clock.now_ms()):
            self._decide(p, "REFUSED", "REFUSE", "engine", note="stale book at send time")
            self.counters["stale_refusals"] = self.counters.get("stale_refusals", 0) + 1
            self._note("order refused: stale book", logging.WARNING, proposal=p.proposal_id, market=m.slug)
            return
        expiration = None
        if p.order_type is OrderType.GTD:
            x = self.settings.execution
            expiration = self.clock.now_ms() // 1000 + x.gtd_security_buffer_s + x.gtd_lifetime_s
        request = OrderRequest(
            client_order_id=self._next_id("O"),
            condition_id=m.condition_id,
            token_id=m.token(p.outcome),
            outcome=p.outcome,
            side=p.side,
            price=p.price,
            size=p.size,
            order_type=p.order_type,
            post_only=p.post_only,
            expiration=expiration,
        )
        p.client_order_id = request.client_order_id
        await self._send(request, p.proposal_id)

    async def _send(self, request: OrderRequest, proposal_id: str | None) -> None:
        """Write-ahead: the intent is committed before the venue sees the order."""
        now = self.clock.now_ms()
        order = Order(request=request, created_ts=now, proposal_id=proposal_id, updated_ts=now)
        self.orders[request.client_order_id] = order
        self.counters["orders"] += 1
        self._store_order(order)
        await self.store.flush()
        try:
            await self.venue.submit(request)
        except Exception as exc:  # the venue could not take it: nothing was sent
            self._transition(order, OrderState.FAILED, self.clock.now_ms(), f"submit failed: {exc}")
            self._note("submit failed", logging.ERROR, order=request.client_order_id, error=str(exc))
            return
        self._transition(order, OrderState.SUBMITTED, self.clock.now_ms(), "sent")
        self._note("order sent", order=request.client_order_id, side=request.side.value, outcome=request.outcome.value,
                   price=px_to_str(request.price), size=qty_to_str(request.size), type=request.order_type.value)

    async def _manage_resting(self, now: int) -> None:
        """Cancel resting orders that went stale or whose edge is gone. Cancels only reduce risk, so they
        run in every mode without approval."""
        stale_ms = int(self.settings.execution.stale_order_s * 1000)
        for order in list(self.working.values()):
            if order.state not in (OrderState.LIVE, OrderState.PARTIALLY_FILLED) or order.cancel_requested:
                continue
            ms = self.markets[order.request.condition_id]
            reason = ""
            if now - order.created_ts >= stale_ms:
                reason = "stale"
            elif ms.last_decision in ("WITHDRAW", "SKIP_NO_BOOK"):
                # No edge left, or no book to judge it by (fail closed). A halt alone leaves resting orders
                # to the operator's cancel-all.
                reason = f"edge gone ({ms.last_decision})"
            elif ms.phase != "OPEN":
                reason = "market closed"
            if reason:
                order.cancel_requested = True
                await self.venue.cancel(order.client_order_id)
                self._note("cancel", order=order.client_order_id, reason=reason)

    # --- P&L -----------------------------------------------------------------------------------
    def _mark(self, token_id: str) -> Decimal | None:
        cid, outcome = self.token_index[token_id]
        ms = self.markets[cid]
        if ms.yes_payout is not None:
            return ms.yes_payout if outcome is Outcome.YES else 1 - ms.yes_payout
        return ms.book.view(outcome).mid().exact

    def _equity(self) -> Decimal:
        equity = self.portfolio.cash
        for pos in self.portfolio.open_positions():
            mark = self._mark(pos.token_id)
            equity += pos.cost if mark is None else mark * pos.size / 1_000_000
        return equity

    def _period_pnl(self, kind: str, length_ms: int, now: int, equity: Decimal) -> Decimal:
        start = self._period_start.get(kind)
        index = now // length_ms
        if start is None or start[0] != index:
            self._period_start[kind] = start = (index, equity)
        return equity - start[1]

    def _record_pnl_snapshot(self) -> None:
        now = self.clock.now_ms()
        equity = self._equity()
        self._high_water = max(self._high_water, equity)
        unrealized = equity - self.portfolio.cash - sum((p.cost for p in self.portfolio.open_positions()), Decimal(0))
        dd = float((self._high_water - equity) / self._high_water) if self._high_water else 0.0
        self._equity_history.append(float(equity))
        self.store.add_pnl_snapshot(
            run_id=self.run_id, ts=now, cash=self.portfolio.cash, positions_value=equity - self.portfolio.cash,
            equity=equity, realized=self.portfolio.realized_pnl, unrealized=unrealized, fees=self.portfolio.fees,
            high_water=self._high_water, drawdown=dd, day_pnl=self._period_pnl("day", DAY_MS, now, equity),
            week_pnl=self._period_pnl("week", WEEK_MS, now, equity),
            open_positions=len(self.portfolio.open_positions()),
            open_orders=len(self.working),
        )

    async def _pnl_timer(self) -> None:
        if self._stopped:
            return
        async with self._lock:
            self._record_pnl_snapshot()
        self.clock.call_at(self.clock.now_ms() + int(self.settings.engine.pnl_snapshot_interval_s * 1000), self._pnl_timer)

    # --- commands ------------------------------------------------------------------------------
    def submit(self, command: Command) -> asyncio.Task[CommandResult]:
        """Fire-and-forget entry for the UI: the command runs on the engine's loop at once."""
        return asyncio.get_running_loop().create_task(self.execute(command))

    async def execute(self, command: Command) -> CommandResult:
        if isinstance(command, Halt | Resume):
            # State flips with no await: applied at once, not after a cycle that holds the lock, so the
            # operator sees HALTED the moment the key is pressed and nothing new starts after it.
            result = self._halt_command(command.reason, command.actor) if isinstance(command, Halt) else self._resume(command.actor)
            self._touch()
            self._snapshot = None
            return result
        async with self._lock:
            result = await self._execute(command)
            self._touch()
            self._snapshot = None  # publish the effect at once
            return result

    def _halt(self, reason: str, actor: str, kind: str = "MANUAL") -> None:
        if self.state == "HALTED":
            return
        self.state = "HALTED"
        self.halt_reason = reason
        now = self.clock.now_ms()
        self.halts.append({"kind": kind, "reason": reason, "ts": now, "actor": actor})
        self.store.add_halt(run_id=self.run_id, ts=now, kind=kind, reason=reason, trigger_value=None, threshold=None,
                            action="halt new risk")
        self._note("HALTED", level=logging.WARNING, reason=reason, by=actor)

    def _halt_command(self, reason: str, actor: str) -> CommandResult:
        self._halt(reason, actor)
        return CommandResult(True, f"halted: {self.halt_reason}")

    def _resume(self, actor: str) -> CommandResult:
        if self.state != "HALTED":
            return CommandResult(False, "not halted")
        self.state = "RESUMING"
        self.halt_reason = ""
        self.store.resume_halts(run_id=self.run_id, ts=self.clock.now_ms(), by=actor)
        self._note("resume requested", by=actor)
        return CommandResult(True, "resuming at the next cycle")

    async def _execute(self, command: Command) -> CommandResult:
        if isinstance(command, CancelAll):
            working = list(self.working.values())
            for o in working:
                o.cancel_requested = True  # orders still in flight are cancelled when they are accepted
            await self.venue.cancel_all()
            for p in list(self.pending.values()):
                self._decide(p, "REJECTED", "REJECT", command.actor, note="cancel all")
            self._note("cancel all", orders=len(working), by=command.actor)
            return CommandResult(True, f"cancel requested for {len(working)} orders")
        if isinstance(command, ArmLive):
            if command.confirmation != "LIVE":
                return CommandResult(False, "not armed: type LIVE exactly to allow real orders")
            if not self.live_armed:
                self.live_armed = True
                self.store.add_decision(proposal_id="", ts=self.clock.now_ms(), action="ARM_LIVE", actor=command.actor,
                                        size=None, note="real orders allowed")
                self._note("LIVE armed: real orders allowed", logging.WARNING, by=command.actor)
            return CommandResult(True, "LIVE armed")
        if isinstance(command, SetMode):
            old = self.mode
            self.mode = Mode(command.mode)
            self.store.add_decision(proposal_id="", ts=self.clock.now_ms(), action="MODE", actor=command.actor, size=None,
                                    note=f"{old.value}->{self.mode.value}")
            self._note("mode", mode=self.mode.value, by=command.actor)
            return CommandResult(True, f"mode {self.mode.value}")
        p = self.proposals.get(command.proposal_id)
        if p is None:
            return CommandResult(False, f"no proposal {command.proposal_id}")
        if p.status != "PENDING":
            return CommandResult(False, f"proposal {p.proposal_id} is {p.status}")
        if isinstance(command, Reject):
            self._decide(p, "REJECTED", "REJECT", command.actor, note=command.note)
            self._note("rejected", id=p.proposal_id, by=command.actor)
            return CommandResult(True, f"rejected {p.proposal_id}")
        if isinstance(command, EditSize):
            size = floor_size(command.size)
            if not p.market.min_order_size <= size <= p.max_size:
                return CommandResult(False, f"size must be between {qty_to_str(p.market.min_order_size)} and "
                                            f"{qty_to_str(p.max_size)} shares (the risk checks approved up to that)")
            p.size = size
            self.store.add_decision(proposal_id=p.proposal_id, ts=self.clock.now_ms(), action="EDIT", actor=command.actor,
                                    size=Decimal(size).scaleb(-6), note="")
            self._note("edited", id=p.proposal_id, size=qty_to_str(size), by=command.actor)
            return CommandResult(True, f"{p.proposal_id} size {qty_to_str(size)}")
        if isinstance(command, Approve):
            if self.state == "HALTED":
                return CommandResult(False, f"halted ({self.halt_reason}): approvals are disabled")
            if self.clock.now_ms() >= p.expires_ts:
                self._decide(p, "EXPIRED", "EXPIRE", "ttl")
                return CommandResult(False, f"proposal {p.proposal_id} expired")
            if self.is_stale(p.market.condition_id, self.clock.now_ms()):
                return CommandResult(False, f"{p.market.slug}: the book is stale; approve again once it is fresh")
            self._decide(p, "APPROVED", "APPROVE", command.actor, size=p.size)
            await self._execute_proposal(p)
            return CommandResult(True, f"approved {p.proposal_id}")
        return CommandResult(False, f"unknown command {command!r}")

    # --- read model ----------------------------------------------------------------------------
    def snapshot(self, force: bool = False) -> EngineSnapshot:
        wall = self._wall()
        cap = 1.0 / self.settings.engine.publish_hz
        if self._snapshot is not None and (not self._dirty or (not force and wall - self._snapshot_wall < cap)):
            return self._snapshot
        self._seq += 1
        self._dirty = False
        self._snapshot_wall = wall
        self._snapshot = self._build_snapshot()
        return self._snapshot

    def _recent_proposals(self, n: int) -> list[Proposal]:
        """Every pending proposal, then the most recently decided ones, at most `n` in all."""
        shown = list(self.pending.values())[:n]
        for pid in reversed(self.proposals):  # insertion order: newest first, stop as soon as full
            if len(shown) >= n:
                break
            p = self.proposals[pid]
            if p.status != "PENDING":
                shown.append(p)
        return shown

    def _build_snapshot(self) -> EngineSnapshot:
        now = self.clock.now_ms()
        rows = []
        books: dict[str, BookLadder] = {}
        working = list(self.working.values())
        for cid, ms in self.markets.items():
            b = ms.book
            m = ms.market
            mid = b.mid().value
            rows.append(MarketRow(
                condition_id=cid, title=m.question or m.slug, state=ms.phase, mid=mid, best_bid=b.best_bid,
                best_ask=b.best_ask, spread=b.spread(), depth_usdc=b.depth_usdc(self.limits.depth_band),
                score=ms.last_edge, last_decision=ms.last_decision,
                yes_position=self.portfolio.held(m.yes_token), no_position=self.portfolio.held(m.no_token),
                book_age_ms=None if ms.first_ts is None else now - b.ts, tick=ms.tick,
                time_to_close_s=None if m.end_ts is None else (m.end_ts - now) / 1000,
            ))
            ours = []
            for o in working:
                if o.request.condition_id == cid:
                    r = o.request
                    is_bid = (r.side is Side.BUY) == (r.outcome is Outcome.YES)
                    ours.append((is_bid, r.price if r.outcome is Outcome.YES else ONE - r.price, o.remaining))
            top_bids, top_asks = b.top_levels(LADDER_DEPTH)
            books[cid] = BookLadder(cid, tuple(top_bids), tuple(top_asks), tuple(ours), b.ts)
        proposals = tuple(
            ProposalRow(
                proposal_id=p.proposal_id, condition_id=p.market.condition_id, title=p.market.question or p.market.slug,
                outcome=p.market.label(p.outcome), side=p.side.value, price=p.price, size=p.size,
                order_type=p.order_type.value, post_only=p.post_only, p_hat=p.estimate.p_hat, ci_low=p.estimate.ci_low,
                ci_high=p.estimate.ci_high, edge_net=p.sizing.candidate.edge_cons if p.sizing.candidate else 0.0,
                kelly=p.sizing.kelly_applied, binding_cap=p.sizing.binding_cap,
                expected_slippage_bps=p.sizing.expected_slippage_bps, created_ts=p.created_ts, expires_ts=p.expires_ts,
                status=p.status,
            )
            for p in self._recent_proposals(50)
        )
        positions = []
        for pos in self.portfolio.open_positions():
            mark = self._mark(pos.token_id)
            value = None if mark is None else mark * pos.size / 1_000_000
            m = self.markets[pos.condition_id].market
            positions.append(PositionRow(
                token_id=pos.token_id, condition_id=pos.condition_id, title=m.question or m.slug,
                outcome=m.label(pos.outcome), size=pos.size, avg_price=pos.avg_price, mark=mark,
                unrealized=Decimal(0) if value is None else value - pos.cost, realized=pos.realized - pos.fees,
                opened_ts=pos.opened_ts,
            ))
        orders = tuple(
            OrderRow(
                client_order_id=o.client_order_id, condition_id=o.request.condition_id,
                title=self.markets[o.request.condition_id].market.slug, outcome=o.request.outcome.value,
                side=o.request.side.value, price=o.request.price, size=o.request.size, filled=o.filled,
                state=o.state.value, order_type=o.request.order_type.value, created_ts=o.created_ts,
            )
            for o in working
        )
        equity = self._equity()
        self._high_water = max(self._high_water, equity)
        realized = self.portfolio.realized_pnl
        unrealized = sum((p.unrealized for p in positions), Decimal(0))
        day = self._period_pnl("day", DAY_MS, now, equity)
        week = self._period_pnl("week", WEEK_MS, now, equity)
        bankroll = self.settings.bankroll.starting_usdc
        exposure = sum((p.cost for p in self.portfolio.open_positions()), Decimal(0))
        clusters: dict[str, Decimal] = {}
        for pos in self.portfolio.open_positions():
            c = self.markets[pos.condition_id].cluster
            clusters[c] = clusters.get(c, Decimal(0)) + pos.cost
        largest = max(clusters.items(), key=lambda kv: kv[1], default=("", Decimal(0)))
        b = self.settings.breakers
        losses = 0
        for r in reversed(self.portfolio.closed_results):
            if r >= 0:
                break
            losses += 1
        risk = RiskView(
            exposure=exposure, exposure_cap=bankroll * Decimal(str(self.settings.risk.max_aggregate_pct)),
            day_loss=max(Decimal(0), -day), day_limit=bankroll * Decimal(str(b.max_daily_loss_pct)),
            week_loss=max(Decimal(0), -week), week_limit=bankroll * Decimal(str(b.max_weekly_loss_pct)),
            consecutive_losses=losses, max_consecutive_losses=b.max_consecutive_losses,
            largest_cluster=largest[0], largest_cluster_exposure=largest[1],
            cluster_cap=bankroll * Decimal(str(self.settings.risk.max_cluster_pct)),
            breakers=(BreakerState("manual", "TRIPPED" if self.state == "HALTED" else "OK", 0.0, 0.0, "halt"),),
        )
        ages = [now - ms.book.ts for ms in self.markets.values() if ms.phase == "OPEN" and ms.first_ts is not None]
        stale_ms = self.settings.breakers.stale_feed_s * 1000
        wall = self._wall()
        self._msg_window.append((wall, self.counters["market_events"]))
        t0, n0 = self._msg_window[0]
        rate = (self.counters["market_events"] - n0) / (wall - t0) if wall > t0 else 0.0
        return EngineSnapshot(
            seq=self._seq, ts=now, mode=self.mode.value, venue=self.venue.kind, state=self.state,
            halt_reason=self.halt_reason, bankroll=bankroll, markets=tuple(rows), books=books, proposals=proposals,
            positions=tuple(positions), orders=orders,
            pnl=PnLView(equity=equity, cash=self.portfolio.cash, realized=realized, unrealized=unrealized,
                        fees=self.portfolio.fees, day=day, week=week, high_water=self._high_water,
                        drawdown=float((self._high_water - equity) / self._high_water) if self._high_water else 0.0,
                        history=tuple(self._equity_history)),
            risk=risk,
            feed=FeedHealth(messages_per_s=rate, oldest_book_age_ms=max(ages) if ages else None, books=len(ages),
                            stale_books=sum(1 for a in ages if a > stale_ms)),
            log=tuple(self._log_lines)[-50:],
            counters={**self.counters, "log_lines": self._log_count},
            live_armed=self.live_armed,
        )

    # --- summary -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        p = self.portfolio
        identity = p.fill_cash_flows + p.settlement_payouts - p.fees
        return {
            "markets": len(self.markets),
            "events": getattr(self.venue, "lines_processed", self.counters["market_events"]),
            "evaluations": self.counters["evaluations"],
            "proposals": self.counters["proposals"],
            "orders": self.counters["orders"],
            "fills": self.counters["fills"],
            "fees": str(p.fees),
            "realized_pnl": str(p.realized_pnl),
            "open_positions": len(p.open_positions()),
            "halts": [dict(h) for h in self.halts],
            "brier_model": None if self.calibration.brier_model is None else round(self.calibration.brier_model, 6),
            "brier_market": None if self.calibration.brier_market is None else round(self.calibration.brier_market, 6),
            "db": self.store.path,
            "mode": self.mode.value,
            "venue": self.venue.kind,
            "seed": self.settings.engine.seed,
            "scored_evaluations": self.calibration.n,
            "rejections": self.counters["rejections"],
            "settlements": self.counters["settlements"],
            "cash": str(p.cash),
            "fill_cash_flows": str(p.fill_cash_flows),
            "settlement_payouts": str(p.settlement_payouts),
            "pnl_identity_ok": identity == p.realized_pnl,
            "decisions": dict(sorted(self.decisions.items())),
        }
