"""Per-strategy budgets and loss pauses: the limits at their boundaries, then the whole engine under any
interleaving of two strategies' intents and fills (hypothesis): neither strategy commits more than its budget,
and the global caps still hold."""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import Fill, Liquidity, Market, OrderType, Outcome, Side
from engine.feeds.events import BookSnapshot
from engine.restore import state_doc
from engine.risk.strategy_limits import PauseKind, StrategyLimits
from engine.runtime import build
from engine.strategies.base import (
    Intent,
    Leg,
    Rationale,
    Reply,
    Strategy,
    StrategyConfig,
    StrategyContext,
)
from engine.venues.base import OrderAccepted, OrderCancelled, OrderFilled
from tests.conftest import START, settings_for, write_dataset

D = Decimal
NOW = START


def limits(**pcts: tuple[float, float, float]) -> StrategyLimits:
    """name=(budget_pct, max_daily_loss_pct, max_drawdown_pct)"""
    return StrategyLimits(
        {
            sid: StrategyConfig(enabled=True, budget_pct=b, max_daily_loss_pct=dl, max_drawdown_pct=dd)
            for sid, (b, dl, dd) in pcts.items()
        }
    )


# --- budget ---------------------------------------------------------------------------------------------


def test_budget_admits_exactly_up_to_its_share_and_refuses_a_cent_more() -> None:
    lim = limits(a=(30.0, 100.0, 100.0), b=(70.0, 100.0, 100.0))
    equity = D(1000)
    assert lim.limit("a", equity) == D(300)
    assert lim.budget_refusal("a", D("100"), equity, committed=D("200")) is None  # exactly 300
    refusal = lim.budget_refusal("a", D("100.01"), equity, committed=D("200"))
    assert refusal is not None and refusal.code == "STRATEGY_BUDGET"
    assert refusal.value == pytest.approx(300.01) and refusal.threshold == pytest.approx(300)
    # b's room is its own: a's commitments do not use it
    assert lim.budget_refusal("b", D("700"), equity, committed=D(0)) is None
    assert lim.budget_room("a", equity, D("250")) == D(50)
    assert lim.budget_room("a", equity, D("400")) == D(0)  # over (equity fell): no room, never negative


def test_budgets_adding_up_to_more_than_the_bankroll_are_refused() -> None:
    with pytest.raises(ValueError, match="budget_pct add up to 101"):
        limits(a=(60.0, 100.0, 100.0), b=(41.0, 100.0, 100.0))


# --- loss pauses ----------------------------------------------------------------------------------------


def test_daily_loss_pauses_at_the_limit_not_a_cent_before() -> None:
    lim = limits(a=(50.0, 10.0, 100.0))  # budget 500 at equity 1000: pause at a 50.00 loss today
    equity = D(1000)
    assert lim.on_pnl("a", D(0), equity, NOW) is None
    assert lim.on_pnl("a", D("-49.99"), equity, NOW + 1) is None
    assert lim.block("a", reduces=False) is None
    pause = lim.on_pnl("a", D("-50"), equity, NOW + 2)
    assert pause is not None and pause.kind is PauseKind.DAILY_LOSS
    assert pause.value == pytest.approx(50) and pause.threshold == pytest.approx(50)
    blocked = lim.block("a", reduces=False)
    assert blocked is not None and blocked.code == "STRATEGY_PAUSED"
    assert lim.block("a", reduces=True) is None  # exits still go
    assert lim.on_pnl("a", D("-80"), equity, NOW + 3) is None  # already paused: no second trip


def test_daily_loss_counts_from_the_start_of_the_day() -> None:
    lim = limits(a=(50.0, 10.0, 100.0))
    equity = D(1000)
    day = 86_400_000
    base = (NOW // day) * day
    assert lim.on_pnl("a", D("-40"), equity, base + day - 1) is None  # yesterday's loss: 40
    assert lim.on_pnl("a", D("-80"), equity, base + day) is None  # a new day starts at -80
    assert lim.on_pnl("a", D("-129.99"), equity, base + day + 1) is None
    assert lim.on_pnl("a", D("-130"), equity, base + day + 2) is not None


def test_drawdown_pauses_from_the_strategys_own_best() -> None:
    lim = limits(a=(20.0, 100.0, 25.0))  # budget 200: pause 50 below its best
    equity = D(1000)
    assert lim.on_pnl("a", D("30"), equity, NOW) is None
    assert lim.on_pnl("a", D("-19.99"), equity, NOW + 1) is None  # 49.99 below 30
    pause = lim.on_pnl("a", D("-20"), equity, NOW + 2)
    assert pause is not None and pause.kind is PauseKind.DRAWDOWN


def test_resume_takes_the_loss_as_seen_and_a_pause_survives_a_restart() -> None:
    lim = limits(a=(50.0, 10.0, 100.0), b=(50.0, 10.0, 100.0))
    equity = D(1000)
    lim.on_pnl("a", D(0), equity, NOW)
    assert lim.on_pnl("a", D("-50"), equity, NOW + 1) is not None
    assert lim.pause("b", "looking into it", NOW + 1, "operator") is not None
    assert lim.pause("b", "again", NOW + 2, "operator") is None  # the first reason stands
    saved = lim.export_state()
    again = limits(a=(50.0, 10.0, 100.0), b=(50.0, 10.0, 100.0))
    again.restore(saved)
    assert set(again.paused) == {"a", "b"} and again.paused["b"].reason == "looking into it"
    assert again.resume("a", D("-50"), NOW + 3) is not None
    assert again.on_pnl("a", D("-99.99"), equity, NOW + 4) is None  # 49.99 more: still running
    assert again.on_pnl("a", D("-100"), equity, NOW + 5) is not None  # a further 50: paused again


# --- the engine, two strategies, any interleaving -------------------------------------------------------


class Scripted(Strategy):
    """Does exactly what the test queues: one intent per cycle from its script."""

    description = "test: scripted intents"

    def __init__(self, strategy_id: str, budget_pct: float) -> None:
        super().__init__(StrategyConfig(enabled=True, budget_pct=budget_pct))
        self.strategy_id = strategy_id  # type: ignore[misc]  # two instances of one class, two ids
        self.script: deque[Intent] = deque()

    def on_timer(self, ctx: StrategyContext) -> Reply:
        return Reply(actions=[self.script.popleft()]) if self.script else Reply()

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Reply:
        return Reply()


class RecordingVenue:
    """Takes orders and says nothing until the test makes it: accept, fill, cancel."""

    kind = "SIM"

    def __init__(self, markets: list[Market]) -> None:
        self._markets = markets
        self.sent: list[Any] = []

    def markets(self) -> list[Market]:
        return self._markets

    async def submit(self, request: Any) -> None:
        self.sent.append(request)

    async def cancel(self, client_order_id: str) -> None:
        return None

    async def cancel_all(self) -> None:
        return None

    async def run(self, sink: Any) -> None:
        await asyncio.Event().wait()


BOOK_BIDS = [(4900, 500_000_000)]
BOOK_ASKS = [(5000, 400_000_000)]

step = st.one_of(
    st.tuples(
        st.just("intent"),
        st.sampled_from(["alpha", "beta"]),
        st.sampled_from([Outcome.YES, Outcome.NO]),
        st.integers(min_value=4000, max_value=6000),  # price, 1e-4
        st.integers(min_value=5, max_value=400),  # shares
    ),
    st.tuples(st.just("fill"), st.integers(min_value=0, max_value=50), st.integers(1, 100)),  # which order, %
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=40))
def test_two_strategies_never_commit_beyond_their_budgets(tmp_path: Path, steps: list[tuple]) -> None:
    asyncio.run(_interleave(tmp_path, steps))


async def _interleave(tmp_path: Path, steps: list[tuple]) -> None:
    books, markets = write_dataset(tmp_path, seconds=10, end_offset_s=3 * 86_400, markets_count=2)
    overrides = {
        "store.path": ":memory:",
        "engine.mode": "auto",
        "strategies.value.enabled": False,
        "risk.max_open_positions": 10,
        # Global caps above the two budgets' sum in one market, so both layers get to bind.
        "risk.max_position_pct": 0.5,
        "risk.max_cluster_pct": 1.0,
        "risk.max_aggregate_pct": 0.6,
        "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["alpha", "beta"]}},
    }
    cfg = settings_for(tmp_path, books, markets, **overrides)
    alpha, beta = Scripted("alpha", 20.0), Scripted("beta", 30.0)
    rt = await build(cfg, strategies=[alpha, beta], ttl_on_engine_clock=True)
    engine = rt.engine
    venue = RecordingVenue(rt.venue.markets())
    engine.venue = venue
    await engine.start()
    try:
        for cid in engine.markets:
            await engine.on_market(BookSnapshot(cid, START, list(BOOK_BIDS), list(BOOK_ASKS)))
        cids = list(engine.markets)
        by_id = {"alpha": alpha, "beta": beta}
        for n, s in enumerate(steps):
            now = engine.clock.now_ms()
            if s[0] == "intent":
                _, sid, outcome, price, shares = s
                cid = cids[n % len(cids)]
                leg = Leg(cid, outcome, Side.BUY, price, shares * 1_000_000, OrderType.GTC, post_only=True)
                by_id[sid].script.append(Intent(sid, (leg,), Rationale("scripted", q_cons=0.5)))
                await engine._cycle()
            else:
                working = sorted(engine.working.values(), key=lambda o: o.client_order_id)
                if not working:
                    continue
                order = working[s[1] % len(working)]
                oid = order.client_order_id
                if order.venue_order_id is None or order.state.value == "SUBMITTED":
                    await engine.on_venue(OrderAccepted(oid, f"v-{oid}", now))
                if s[0] == "fill":
                    left = order.request.size - order.filled
                    size = max(1, left * s[2] // 100)
                    r = order.request
                    fill = Fill(f"t{n}", oid, r.condition_id, r.token_id, r.outcome, r.side, r.price, size,
                                D(0), Liquidity.MAKER, now)  # fmt: skip
                    await engine.on_venue(OrderFilled(fill, left - size))
                else:
                    await engine.on_venue(OrderCancelled(oid, now, "CANCELED"))
            _check(engine)
    finally:
        await engine.shutdown()
        await rt.store.close()


def _check(engine: Any) -> None:
    equity = engine._equity()
    for sid in ("alpha", "beta"):
        committed = engine.strategy_committed(sid)
        limit = engine.strategy_limits.limit(sid, equity)
        # Fills here are at the order's own price and the book never moves, so equity moves only by what
        # the marks say about held shares (bought at p, marked at the mid): allow that much.
        marks_move = sum(
            (abs(pos.cost - engine.mark(pos.token_id) * pos.size / 1_000_000)
             for pos in engine.accounts.book(sid).open_positions()),
            D(0),
        )  # fmt: skip
        assert committed <= limit + marks_move, (sid, committed, limit)
    # The global caps: total exposure (held and reserved) within risk.max_aggregate_pct of the bankroll, each
    # market within risk.max_position_pct.
    bankroll = engine.settings.bankroll.starting_usdc
    risk = engine.settings.risk
    tol = D("0.01")
    assert engine.exposure.aggregate_exposure() <= bankroll * D(str(risk.max_aggregate_pct)) + tol
    for cid in engine.markets:
        assert engine.exposure.market_exposure(cid) <= bankroll * D(str(risk.max_position_pct)) + tol
    assert engine.portfolio.cash >= 0


def test_a_losing_strategy_is_paused_alone_and_its_buys_are_cancelled(tmp_path: Path) -> None:
    async def main() -> None:
        books, markets = write_dataset(tmp_path, seconds=10, end_offset_s=3 * 86_400, markets_count=2)
        overrides = {
            "store.path": ":memory:",
            "engine.mode": "auto",
            "strategies.value.enabled": False,
            "risk.max_open_positions": 10,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["alpha", "beta"]}},
        }
        cfg = settings_for(tmp_path, books, markets, **overrides)
        alpha, beta = Scripted("alpha", 20.0), Scripted("beta", 30.0)
        alpha.config = StrategyConfig(enabled=True, budget_pct=20.0, max_daily_loss_pct=10.0)
        rt = await build(cfg, strategies=[alpha, beta], ttl_on_engine_clock=True)
        engine = rt.engine
        engine.venue = venue = RecordingVenue(rt.venue.markets())
        engine.strategy_limits.configs["alpha"] = alpha.config
        await engine.start()
        try:
            cid, other = list(engine.markets)
            for c in engine.markets:
                await engine.on_market(BookSnapshot(c, START, list(BOOK_BIDS), list(BOOK_ASKS)))

            def buy(sid: str, market: str, price: int, shares: int) -> Intent:
                leg = Leg(market, Outcome.YES, Side.BUY, price, shares * 1_000_000, OrderType.GTC, post_only=True)
                return Intent(sid, (leg,), Rationale("scripted", q_cons=0.5))

            alpha.script.append(buy("alpha", cid, 4800, 100))  # 48.00 USDC
            await engine._cycle()
            held = venue.sent[-1]
            await engine.on_venue(OrderAccepted(held.client_order_id, "v1", START))
            fill = Fill("t1", held.client_order_id, cid, held.token_id, Outcome.YES, Side.BUY, 4800, held.size,
                        D(0), Liquidity.MAKER, START)  # fmt: skip
            await engine.on_venue(OrderFilled(fill, 0))
            alpha.script.append(buy("alpha", other, 4700, 10))  # a working buy, to be cancelled by the pause
            await engine._cycle()
            resting = venue.sent[-1].client_order_id
            await engine.on_venue(OrderAccepted(resting, "v2", START))
            # YES falls to about 0.11: alpha's 100 shares lose over 30 USDC, beyond 10% of its ~190 budget.
            assert engine.strategy_limits.paused == {}
            await engine.on_market(BookSnapshot(cid, START + 1, [(1000, 500_000_000)], [(1200, 500_000_000)]))
            await engine._cycle()
            pause = engine.strategy_limits.paused.get("alpha")
            assert pause is not None and pause.kind is PauseKind.DAILY_LOSS
            assert engine.orders[resting].cancel_requested  # its buy withdrawn
            assert any(h["kind"] == "STRATEGY_DAILY_LOSS:alpha" for h in engine.halts)
            assert state_doc(engine)["strategies"]["paused"]["alpha"]["kind"] == "DAILY_LOSS"  # durable
            sent = len(venue.sent)
            alpha.script.append(buy("alpha", other, 4700, 10))
            beta.script.append(buy("beta", other, 4600, 10))
            await engine._cycle()
            assert [r.client_order_id for r in venue.sent[sent:]] and len(venue.sent) == sent + 1
            assert engine.orders[venue.sent[-1].client_order_id].strategy_id == "beta"  # beta goes on alone
            assert engine.refusals.get("STRATEGY_PAUSED") == 1
            snap = engine.snapshot(force=True)
            row = {r.strategy_id: r for r in snap.strategies}
            assert row["alpha"].state == "PAUSED" and "DAILY_LOSS" in row["alpha"].reason
            assert row["beta"].state == "RUNNING"
            from engine.commands import PauseStrategy, ResumeStrategy

            assert (await engine.execute(ResumeStrategy("alpha"))).ok
            assert "alpha" not in engine.strategy_limits.paused
            assert not (await engine.execute(ResumeStrategy("alpha"))).ok  # not paused any more
            assert (await engine.execute(PauseStrategy("beta", "checking it"))).ok
            assert engine.strategy_limits.paused["beta"].kind is PauseKind.MANUAL
            assert not (await engine.execute(PauseStrategy("nobody"))).ok
        finally:
            await engine.shutdown()
            await rt.store.close()

    asyncio.run(main())
