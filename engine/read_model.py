"""The engine's read model: each snapshot (engine.snapshot) and the run summary, built from the engine's state.

Nothing here decides anything: it reads the engine and the objects that decide (breakers, exposure, books,
strategies) and lays their numbers out for the screen, the control socket and the end-of-run summary.
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine import maker_flow
from engine.domain import EngineState, MarketPhase, Outcome, ProposalStatus, Side
from engine.snapshot import (
    BookLadder,
    BreakerState,
    EngineSnapshot,
    FeedHealth,
    MandateRow,
    MarketRow,
    OrderRow,
    PnLView,
    PositionRow,
    ProposalRow,
    RiskView,
    StrategyRow,
)
from engine.strategies.base import MarketNote
from engine.strategies.registry import AVAILABLE
from engine.units import DAY_MS, ONE, WEEK_MS
from engine.venues.base import KnowsStaleBooks, RecordedData

if TYPE_CHECKING:
    from engine.engine import Engine, MarketState
    from engine.proposals import Proposal

LADDER_DEPTH = 12
LADDERS_PER_STEP = 25  # book ladders built per step of a stepwise snapshot (~0.3 ms)


def strategy_rows(engine: Engine, equity: Decimal) -> tuple[StrategyRow, ...]:
    """Every running strategy (in the order they run), then every available one that is off."""
    rows = []
    limits = engine.strategy_limits
    for st in engine.strategies:
        sid = st.strategy_id
        book = engine.accounts.book(sid)
        unrealized = book.unrealized(engine.mark)
        pause = limits.paused.get(sid)
        rows.append(
            StrategyRow(
                strategy_id=sid,
                description=st.description,
                state="PAUSED" if pause else "RUNNING",
                reason="" if pause is None else f"{pause.kind.value} by {pause.by}: {pause.reason}",
                budget=limits.limit(sid, equity),
                committed=engine.strategy_committed(sid),
                open_orders=sum(1 for o in engine.working.values() if o.strategy_id == sid),
                positions=len(book.open_positions()),
                realized=book.realized_pnl,
                unrealized=unrealized,
                fees=book.fees,
                last_decision=engine.last_decision.get(sid, ""),
                mandates=engine.active_mandates(sid),
            )
        )
    running = {st.strategy_id for st in engine.strategies}
    for name, cls in AVAILABLE.items():
        if name not in running:
            zero = Decimal(0)
            rows.append(
                StrategyRow(
                    name, cls.description, "OFF", "not enabled", zero, zero, 0, 0, zero, zero, zero, ""
                )
            )
    return tuple(rows)


def mandate_rows(engine: Engine) -> tuple[MandateRow, ...]:
    """Open mandates (pending, active), then the latest ended ones."""
    rows = []
    for m in engine.mandates.recent(10):
        market = engine.markets[m.condition_id].market
        rows.append(
            MandateRow(
                mandate_id=m.mandate_id,
                strategy_id=m.strategy_id,
                condition_id=m.condition_id,
                title=market.question or market.slug,
                status=m.status.value,
                bounds=m.request.bounds(market.label),
                orders=sum(1 for oid in m.orders if oid in engine.working),
                expires_ts=m.expires_ts or 0,
            )
        )
    return tuple(rows)


def mandate_proposal_rows(engine: Engine) -> tuple[ProposalRow, ...]:
    """A pending mandate waits in the Proposals pane like a proposal: same keys, its bounds instead of an
    order. Price and size show its band's top and its largest order."""
    rows = []
    for m in engine.mandates.pending():
        r = m.request
        market = engine.markets[m.condition_id].market
        outcome, side = r.sides[0]
        rows.append(
            ProposalRow(
                proposal_id=m.mandate_id,
                condition_id=m.condition_id,
                title=market.question or market.slug,
                outcome=market.label(outcome),
                side=side.value,
                price=r.band_high,
                size=r.max_order_size,
                order_type="MANDATE",
                post_only=False,
                p_hat=0.0,
                ci_low=0.0,
                ci_high=0.0,
                edge_net=0.0,
                kelly=0.0,
                binding_cap="mandate",
                expected_slippage_bps=0.0,
                created_ts=m.created_ts,
                expires_ts=m.created_ts + engine.proposal_ttl_ms,
                status=m.status.value,
                reason=r.rationale.summary,
                expires_wall=m.expires_wall,
                strategy_id=m.strategy_id,
                kind="MANDATE",
                bounds=r.bounds(market.label),
            )
        )
    return tuple(rows)


def recent_proposals(e: Engine, n: int) -> list[Proposal]:
    """Every pending proposal, then the most recently decided ones, at most `n` in all."""
    shown = list(e.pending.values())[:n]
    for pid in reversed(e.proposals):  # insertion order: newest first, stop as soon as full
        if len(shown) >= n:
            break
        p = e.proposals[pid]
        if p.status is not ProposalStatus.PENDING:
            shown.append(p)
    return shown


def market_row(e: Engine, cid: str, ms: MarketState, now: int) -> MarketRow:
    b = ms.book
    m = ms.market
    return MarketRow(
        condition_id=cid,
        title=m.question or m.slug,
        state=ms.phase.value,
        mid=b.mid().value,
        best_bid=b.best_bid,
        best_ask=b.best_ask,
        spread=b.spread(),
        depth_usdc=b.depth_usdc(e.limits.depth_band),
        # A closed market's last edge is history, not a score: it is no longer judged.
        score=ms.last_edge if ms.phase is MarketPhase.OPEN else None,
        last_decision=ms.last_decision,
        yes_position=e.portfolio.held(m.yes_token),
        no_position=e.portfolio.held(m.no_token),
        book_age_ms=None if ms.first_ts is None else now - b.ts,
        tick=ms.tick,
        time_to_close_s=None if m.end_ts is None else (m.end_ts - now) / 1000,
        maker=next((n.cell for n in notes(e, cid)), ""),
        start_ts=m.start_ts,
        end_ts=m.end_ts,
        yes_label=m.label(Outcome.YES),
        no_label=m.label(Outcome.NO),
    )


def notes(e: Engine, cid: str) -> list[MarketNote]:
    """Every running strategy's word on this market (the market maker's ranks it), in strategy order."""
    return [n for st in e.strategies if (n := st.market_note(cid)) is not None]


def maker_line(e: Engine, cid: str) -> str:
    """The Book pane's maker line: the strategy's own words plus what the market earned us besides trading."""
    words = [n.line for n in notes(e, cid)]
    if not words:
        return ""
    income = e.maker_income
    rewards, rebates = income.rewards_by_market.get(cid, 0.0), income.rebates_by_market.get(cid, 0)
    return f"{'; '.join(words)}; rewards est ${rewards:.4f}, rebates ${rebates:.4f}"


def market_rows(e: Engine, now: int, full: bool) -> tuple[MarketRow, ...]:
    """The Markets pane's rows. With many markets only a slice is rebuilt per snapshot (round robin), plus
    every market we hold or work an order in: a row costs ~35 us of Python, and rebuilding 100 of them in
    one go stalls the engine loop for several ms, while a row that is one publish period old is not."""
    per = e.settings.engine.snapshot_market_slice
    cache = e._row_cache
    markets = e.markets
    if full or per == 0 or len(markets) <= per:
        cache.clear()
        cache.update((cid, market_row(e, cid, ms, now)) for cid, ms in markets.items())
    else:
        order = list(markets)
        start = e._row_cursor % len(order)
        fresh = set(order[start : start + per]) | set(order[: max(0, start + per - len(order))])
        fresh.update(o.request.condition_id for o in e.working.values())
        fresh.update(p.condition_id for p in e.portfolio.open_positions())
        fresh.update(cid for cid in markets if cid not in cache)
        e._row_cursor = start + per
        for cid in fresh:
            cache[cid] = market_row(e, cid, markets[cid], now)
    unwatched = e.unwatched
    return tuple(cache[cid] for cid in markets if cid not in unwatched)


def snapshot_steps(e: Engine, full: bool) -> Generator[None, None, EngineSnapshot]:
    """Build the next snapshot, pausing (yield) between steps of a fraction of a millisecond each. Run to
    the end at once by `snapshot()`, or across loop iterations by `snapshot_stepwise()`."""
    # Changes from here on belong to the next snapshot.
    e._dirty = False
    e._snapshot_wall = e._wall()
    now = e.clock.now_ms()
    books: dict[str, BookLadder] = {}
    working = list(e.working.values())
    rows = market_rows(e, now, full)
    yield
    for i, (cid, ms) in enumerate(list(e.markets.items())):
        if i and i % LADDERS_PER_STEP == 0:
            yield
            working = list(e.working.values())
        b = ms.book
        ours = []
        for o in working:
            if o.request.condition_id == cid:
                r = o.request
                is_bid = (r.side is Side.BUY) == (r.outcome is Outcome.YES)
                ours.append((is_bid, r.price if r.outcome is Outcome.YES else ONE - r.price, o.remaining))
        top_bids, top_asks = b.top_levels(LADDER_DEPTH)
        books[cid] = BookLadder(cid, tuple(top_bids), tuple(top_asks), tuple(ours), b.ts, maker_line(e, cid))
    yield
    # The last step reads the money and the state together: proposals, positions, orders, P&L and risk.
    working = list(e.working.values())
    proposals = tuple(
        ProposalRow(
            proposal_id=p.proposal_id,
            condition_id=p.market.condition_id,
            title=p.market.question or p.market.slug,
            outcome=p.market.label(p.outcome),
            side=p.side.value,
            price=p.price,
            size=p.size,
            order_type=p.order_type.value,
            post_only=p.post_only,
            p_hat=p.p_hat,
            ci_low=p.ci_low,
            ci_high=p.ci_high,
            edge_net=p.edge_net,
            kelly=p.kelly,
            binding_cap=p.binding_cap,
            expected_slippage_bps=p.expected_slippage_bps,
            created_ts=p.created_ts,
            expires_ts=p.expires_ts,
            expires_wall=p.expires_wall,
            status=p.status.value,
            reason=p.reason,
            strategy_id=p.strategy_id,
            legs=" | ".join(p.rationale.get("legs", ())),
            **e._refusal_fields(p.refusal),
        )
        for p in recent_proposals(e, 50)
    )
    proposals = mandate_proposal_rows(e) + proposals + tuple(e.blocked.values())
    positions = []
    for pos in e.portfolio.open_positions():
        mark = e.mark(pos.token_id)
        value = None if mark is None else mark * pos.size / 1_000_000
        m = e.markets[pos.condition_id].market
        positions.append(
            PositionRow(
                token_id=pos.token_id,
                condition_id=pos.condition_id,
                title=m.question or m.slug,
                outcome=m.label(pos.outcome),
                size=pos.size,
                avg_price=pos.avg_price,
                mark=mark,
                unrealized=Decimal(0) if value is None else value - pos.cost,
                realized=pos.realized - pos.fees,
                opened_ts=pos.opened_ts,
                holders=e.accounts.holders(pos.token_id),
                time_to_close_s=None if m.end_ts is None else (m.end_ts - now) / 1000,
            )
        )
    orders = tuple(
        OrderRow(
            client_order_id=o.client_order_id,
            condition_id=o.request.condition_id,
            title=e.markets[o.request.condition_id].market.question or e.markets[o.request.condition_id].market.slug,
            outcome=e.markets[o.request.condition_id].market.label(o.request.outcome),
            side=o.request.side.value,
            price=o.request.price,
            size=o.request.size,
            filled=o.filled,
            state=o.state.value,
            order_type=o.request.order_type.value,
            created_ts=o.created_ts,
            strategy_id=o.strategy_id,
        )
        for o in working
    )
    equity = e._equity()
    e._high_water = max(e._high_water, equity)
    realized = e.portfolio.realized_pnl
    unrealized = sum((p.unrealized for p in positions), Decimal(0))
    day = e._period_pnl("day", DAY_MS, now, equity)
    week = e._period_pnl("week", WEEK_MS, now, equity)
    bankroll = e.settings.bankroll.starting_usdc
    risk = risk_view(e, now, equity)
    ages = [  # a book stamped after `now` (a venue whose events run a step ahead of this snapshot) is current
        max(0, now - ms.book.ts)
        for ms in e.markets.values()
        if ms.phase is MarketPhase.OPEN and ms.first_ts is not None
    ]
    stale_ms = e.settings.breakers.stale_feed_s * 1000
    wall = e._wall()
    e._msg_window.append((wall, e.counters["market_events"]))
    t0, n0 = e._msg_window[0]
    rate = (e.counters["market_events"] - n0) / (wall - t0) if wall > t0 and not e.data_ended else 0.0
    e._seq += 1
    snap = EngineSnapshot(
        seq=e._seq,
        ts=now,
        mode=e.mode.value,
        venue=e.venue.kind,
        state=e.state.value,
        halt_reason=e.halt_reason,
        error=e.error,
        bankroll=bankroll,
        markets=tuple(rows),
        books=books,
        proposals=proposals,
        positions=tuple(positions),
        orders=orders,
        pnl=PnLView(
            equity=equity,
            cash=e.portfolio.cash,
            realized=realized,
            unrealized=unrealized,
            fees=e.portfolio.fees,
            day=day,
            week=week,
            high_water=e._high_water,
            drawdown=float((e._high_water - equity) / e._high_water) if e._high_water else 0.0,
            history=tuple(e._equity_history),
            reserved=e.exposure.reserved_cash(),
            available=e.exposure.free_cash(),
        ),
        risk=risk,
        feed=FeedHealth(
            messages_per_s=rate,
            oldest_book_age_ms=max(ages) if ages else None,
            books=len(ages),
            stale_books=stale_count(e, now, ages, stale_ms),
        ),
        log=tuple(e._log_lines)[-50:],
        counters={**e.counters, "log_lines": e._log_count},
        live_armed=e.live_armed,
        strategies=strategy_rows(e, equity),
        mandates=mandate_rows(e),
        blotter=e.blotter.rows(),
        data_ended=e.data_ended,
    )
    e._snapshot = snap
    return snap


def stale_count(e: Engine, now: int, ages: list[int], stale_ms: float) -> int:
    """Books not known current: the venue's word where it has one (a quiet live book is not stale)."""
    if e.venue_is(KnowsStaleBooks):
        return sum(
            1 for cid, ms in e.markets.items() if ms.phase is MarketPhase.OPEN and e.is_stale(cid, now)
        )
    return sum(1 for a in ages if a > stale_ms)


def risk_view(e: Engine, now: int, equity: Decimal) -> RiskView:
    """The Risk pane's numbers, from the same objects that decide: the breakers (loss from the day's and
    week's starting equity, streak, drawdown) and the exposure book (caps at today's equity)."""
    b = e.breakers
    r = e.settings.risk
    lim = b.limits
    bankroll = e.settings.bankroll.starting_usdc
    clusters = e.exposure.clusters_exposure()
    largest = max(clusters.items(), key=lambda kv: (kv[1], kv[0]), default=("", Decimal(0)))
    started = b.high_water is not None  # the breakers have seen equity (the first cycle ran)
    manual = BreakerState(
        "manual",
        "TRIPPED" if e.state is EngineState.HALTED and e.halt_kind == "MANUAL" else "OK",
        1.0 if e.halt_kind == "MANUAL" else 0.0,
        0.0,
        "halt until resumed, no orders",
    )
    return RiskView(
        exposure=e.exposure.aggregate_exposure(),
        exposure_cap=equity * Decimal(repr(r.max_aggregate_pct)),
        day_loss=b.day_loss,
        day_limit=b.day_limit if started else bankroll * Decimal(repr(lim.max_daily_loss_pct)),
        week_loss=b.week_loss,
        week_limit=b.week_limit if started else bankroll * Decimal(repr(lim.max_weekly_loss_pct)),
        consecutive_losses=b.consecutive_losses,
        max_consecutive_losses=lim.max_consecutive_losses,
        largest_cluster=largest[0],
        largest_cluster_exposure=largest[1],
        cluster_cap=equity * Decimal(repr(r.max_cluster_pct)),
        breakers=(manual, *b.views(now)),
        drawdown=b.drawdown,
        max_drawdown=lim.max_drawdown_pct,
        reduce_only=b.reduce_only_mode,
    )


def run_summary(e: Engine) -> dict[str, Any]:
    p = e.portfolio
    identity = p.fill_cash_flows + p.settlement_payouts - p.fees
    return {
        "markets": len(e.markets),
        "events": e.venue.lines_processed
        if isinstance(e.venue, RecordedData)
        else e.counters["market_events"],
        "evaluations": e.counters["evaluations"],
        "proposals": e.counters["proposals"],
        "orders": e.counters["orders"],
        "fills": e.counters["fills"],
        "fees": str(p.fees),
        "realized_pnl": str(p.realized_pnl),
        "open_positions": len(p.open_positions()),
        "halts": [dict(h) for h in e.halts],
        "brier_model": None if e.calibration.brier_model is None else round(e.calibration.brier_model, 6),
        "brier_market": None if e.calibration.brier_market is None else round(e.calibration.brier_market, 6),
        "logloss_model": None if e.calibration.logloss_model is None else round(e.calibration.logloss_model, 6),
        "logloss_market": None if e.calibration.logloss_market is None else round(e.calibration.logloss_market, 6),
        "calibration": {name: c.summary() for name, c in sorted(e.brain_calibration.items())},
        "db": e.store.path,
        "mode": e.mode.value,
        "venue": e.venue.kind,
        "seed": e.settings.engine.seed,
        "scored_evaluations": e.calibration.n,
        "rejections": e.counters["rejections"],
        "settlements": e.counters["settlements"],
        "cash": str(p.cash),
        "fill_cash_flows": str(p.fill_cash_flows),
        "settlement_payouts": str(p.settlement_payouts),
        "pnl_identity_ok": identity == p.realized_pnl,
        "decisions": dict(sorted(e.decisions.items())),
        "refusals": dict(sorted(e.refusals.items())),
        "orders_refused": e.counters.get("orders_refused", 0),
        "state": e.state.value,
        "error": e.error,
        "account": e.account if e.resumes else None,
        "restored": dict(e.restored),
        "strategies": e.accounts.summary(e.mark, e.strategy_counts),
        **maker_flow.summary(e),
        "maker_by_strategy": {st.strategy_id: maker_flow.summary(e, st.strategy_id) for st in e.strategies},
    }
