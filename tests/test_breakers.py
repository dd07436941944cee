"""Circuit breakers and the kill switch (`engine/risk/breakers.py`): each breaker at its threshold on both
sides, its action (pause with cooldown and auto-resume, or halt until a human resumes), reduce-only, the
events it logs, and the Risk-pane views. Time is injected (ms); nothing sleeps."""

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.book import OrderBook
from engine.config import Settings
from engine.domain import Market, OrderRequest, OrderType, Outcome, Side
from engine.execution.firewall import Firewall, FirewallLimits
from engine.risk.breakers import (
    BREAKER_NAMES,
    DAY_MS,
    BreakerAction,
    BreakerLimits,
    BreakerPolicy,
    Breakers,
    BreakerStatus,
    KillSwitch,
    watch_kill_switch,
)
from engine.snapshot import BreakerState

# Monday 2026-09-28 00:00 UTC, so day and week boundaries are easy to hit.
T0 = 1_790_553_600_000
assert (T0 - 4 * DAY_MS) % (7 * DAY_MS) == 0 and T0 % DAY_MS == 0
MIN = 60_000
HOUR = 60 * MIN
D = Decimal


def fresh(**kw) -> Breakers:
    return Breakers(BreakerLimits(**kw), now=T0)


def kinds(events) -> list[tuple[str, str]]:
    return [(e.name, e.kind) for e in events]


def status(b: Breakers, name: str) -> BreakerStatus:
    return b.state(name)


def test_all_clear_at_start() -> None:
    b = fresh()
    assert b.evaluate(T0) == []
    assert b.allows_orders(T0) and b.allows_new_risk(T0) and not b.reduce_only(T0) and not b.needs_human(T0)
    assert b.heartbeat_ok(T0)
    views = b.views(T0)
    assert [v.name for v in views] == list(BREAKER_NAMES) and all(v.state == "OK" for v in views)
    assert all(isinstance(v, BreakerState) for v in views)


# --- daily loss ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("equity", "trips"), [("950", True), ("950.000001", False), ("900", True)])
def test_daily_loss_both_sides(equity: str, trips: bool) -> None:
    b = fresh()
    b.on_equity(D(1000), T0)
    events = b.on_equity(D(equity), T0 + HOUR)
    tripped = [e for e in events if e.name == "daily_loss"]
    assert bool(tripped) is trips
    if trips:
        e = tripped[0]
        assert (e.kind, e.state, e.threshold, e.ts) == ("TRIP", BreakerStatus.TRIPPED, 0.05, T0 + HOUR)
        assert e.value == float((D(1000) - D(equity)) / D(1000))
        assert e.action == "pause 3600s, no orders" and not e.cancel_all and not e.reduce_only
        assert not b.allows_new_risk(T0 + HOUR) and not b.allows_orders(T0 + HOUR)
        block = b.block(T0 + HOUR)
        assert block is not None and block.code == "BREAKER_DAILY_LOSS" and block.value == e.value
    else:
        assert b.allows_new_risk(T0 + HOUR)


def test_daily_loss_clears_when_the_day_rolls_after_the_cooldown() -> None:
    b = fresh(max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    trip_ts = T0 + DAY_MS - 30 * MIN
    assert kinds(b.on_equity(D(940), trip_ts)) == [("daily_loss", "TRIP")]
    # A new day: loss measured from the new day's start, so the condition is gone, but the cooldown runs.
    assert kinds(b.evaluate(T0 + DAY_MS)) == [("daily_loss", "COOLDOWN")]
    assert status(b, "daily_loss") is BreakerStatus.COOLDOWN and not b.allows_new_risk(T0 + DAY_MS)
    assert b.day_loss == 0
    assert b.evaluate(trip_ts + HOUR - 1) == []
    assert kinds(b.evaluate(trip_ts + HOUR)) == [("daily_loss", "RESUME")]
    assert b.allows_new_risk(trip_ts + HOUR)


def test_daily_loss_persists_past_the_cooldown_while_still_over_the_limit() -> None:
    b = fresh(max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    b.on_equity(D(940), T0 + HOUR)
    assert b.evaluate(T0 + 3 * HOUR) == [] and status(b, "daily_loss") is BreakerStatus.TRIPPED
    # Recovering under the limit after the cooldown resumes at once.
    assert kinds(b.on_equity(D(951), T0 + 4 * HOUR)) == [("daily_loss", "RESUME")]


def test_reduce_only_on_trip_lets_exits_through() -> None:
    b = fresh(reduce_only_on_trip=True)
    b.on_equity(D(1000), T0)
    b.on_equity(D(900), T0 + 1)
    assert b.allows_orders(T0 + 1) and not b.allows_new_risk(T0 + 1) and b.reduce_only(T0 + 1)
    assert b.block(T0 + 1, reduces=True) is None
    assert b.block(T0 + 1).name == "daily_loss"
    assert "reduce-only" in b.views()[list(BREAKER_NAMES).index("daily_loss")].action


# --- weekly loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("last", "trips"), [("900", True), ("900.000001", False)])
def test_weekly_loss_both_sides_over_several_days(last: str, trips: bool) -> None:
    b = fresh(max_daily_loss_pct=0.5, max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    b.on_equity(D(960), T0 + DAY_MS + 1)  # each day under the daily limit
    events = b.on_equity(D(last), T0 + 3 * DAY_MS + 1)
    assert ("weekly_loss", "TRIP") in kinds(events) if trips else kinds(events) == []
    assert b.week_loss == D(1000) - D(last)
    assert b.week_limit == D(100)


def test_weekly_loss_restarts_on_monday() -> None:
    b = fresh(max_daily_loss_pct=0.5, max_rolling_loss_usdc=D(10_000), cooldown_ms=0)
    b.on_equity(D(1000), T0)
    b.on_equity(D(880), T0 + 6 * DAY_MS)
    assert status(b, "weekly_loss") is BreakerStatus.TRIPPED
    assert kinds(b.evaluate(T0 + 7 * DAY_MS)) == [("weekly_loss", "RESUME")]
    assert b.week_loss == 0


# --- drawdown ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "trips"), [("935", True), ("935.000001", False)])
def test_drawdown_from_high_water_both_sides(low: str, trips: bool) -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    b.on_equity(D(1100), T0 + DAY_MS)
    events = b.on_equity(D(low), T0 + 2 * DAY_MS)
    assert b.high_water == D(1100)
    assert kinds(events) == ([("drawdown", "TRIP")] if trips else [])
    if trips:
        assert events[0].value == pytest.approx(0.15) and events[0].action == "halt until resumed, no orders"
        assert b.needs_human(T0 + 2 * DAY_MS)


def test_drawdown_halts_until_a_human_resumes_and_the_resume_resets_the_high_water_mark() -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    b.on_equity(D(800), T0 + 1)
    b.on_equity(D(1000), T0 + 2)  # recovered: a halt stays anyway
    assert b.evaluate(T0 + 30 * DAY_MS) == [] and status(b, "drawdown") is BreakerStatus.TRIPPED
    b.on_equity(D(840), T0 + 30 * DAY_MS)
    events = b.resume(T0 + 30 * DAY_MS, by="alice")
    assert kinds(events) == [("drawdown", "RESUME")] and events[0].detail == "resumed by alice"
    assert b.high_water == D(840) and b.allows_new_risk(T0 + 30 * DAY_MS)
    assert b.drawdown == 0.0


# --- consecutive losing positions ------------------------------------------------------------------------


def test_consecutive_losses_both_sides_and_a_flat_result_ends_the_streak() -> None:
    b = fresh()
    for i in range(4):
        assert b.on_position_closed(D(-1), T0 + i) == []
    assert b.on_position_closed(D(0), T0 + 4) == [] and b.consecutive_losses == 0
    for i in range(4):
        assert b.on_position_closed(D("-0.01"), T0 + 10 + i) == []
    events = b.on_position_closed(D("-0.01"), T0 + 20)
    assert kinds(events) == [("consecutive_losses", "TRIP")] and (events[0].value, events[0].threshold) == (
        5,
        5,
    )


def test_consecutive_losses_pause_then_auto_resume_with_a_fresh_count() -> None:
    b = fresh(cooldown_ms=HOUR)
    for i in range(5):
        b.on_position_closed(D(-1), T0 + i)
    trip = T0 + 4
    assert b.evaluate(trip + HOUR - 1) == [] and not b.allows_new_risk(trip + HOUR - 1)
    assert status(b, "consecutive_losses") is BreakerStatus.TRIPPED
    assert kinds(b.evaluate(trip + HOUR)) == [("consecutive_losses", "RESUME")]
    assert b.consecutive_losses == 0 and b.allows_new_risk(trip + HOUR)


# --- loss within a rolling window --------------------------------------------------------------------------


@pytest.mark.parametrize(("low", "trips"), [("950", True), ("950.01", False)])
def test_rolling_loss_both_sides(low: str, trips: bool) -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_drawdown_pct=0.9)
    b.on_equity(D(1000), T0)
    events = b.on_equity(D(low), T0 + 299_999)
    assert kinds(events) == ([("rolling_loss", "TRIP")] if trips else [])
    if trips:
        assert events[0].value == 50.0 and events[0].action == "pause 900s, no orders"


def test_rolling_loss_peak_outside_the_window_does_not_count() -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_drawdown_pct=0.9)
    b.on_equity(D(1000), T0)
    b.on_equity(D(990), T0 + 1000)
    # At exactly one window after the peak, the peak is out; the loss counts from 990.
    assert b.on_equity(D(945), T0 + 300_000) == []
    assert kinds(b.on_equity(D(940), T0 + 300_999)) == [("rolling_loss", "TRIP")]


def test_rolling_loss_cooldown_then_resume() -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_drawdown_pct=0.9)
    b.on_equity(D(1000), T0)
    b.on_equity(D(900), T0 + 1)
    assert kinds(b.evaluate(T0 + 300_001)) == [("rolling_loss", "COOLDOWN")]
    assert not b.allows_new_risk(T0 + 300_001)
    assert b.evaluate(T0 + 900_000) == []
    assert kinds(b.evaluate(T0 + 900_001)) == [("rolling_loss", "RESUME")]


def test_a_new_loss_during_cooldown_trips_again() -> None:
    b = fresh(max_daily_loss_pct=0.9, max_weekly_loss_pct=0.9, max_drawdown_pct=0.9)
    b.on_equity(D(1000), T0)
    b.on_equity(D(900), T0 + 1)
    b.evaluate(T0 + 300_001)
    b.on_equity(D(900), T0 + 350_000)
    events = b.on_equity(D(850), T0 + 400_000)
    assert kinds(events) == [("rolling_loss", "TRIP")] and status(b, "rolling_loss") is BreakerStatus.TRIPPED
    # The cooldown restarted with the new trip.
    assert kinds(b.evaluate(T0 + 900_001)) == [("rolling_loss", "COOLDOWN")]
    assert b.evaluate(T0 + 1_299_999) == []
    assert kinds(b.evaluate(T0 + 1_300_000)) == [("rolling_loss", "RESUME")]


# --- fill rate -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filled", "trips"), [(6, False), (5, True)])
def test_fill_rate_both_sides(filled: int, trips: bool) -> None:
    b = fresh()
    events = []
    for i in range(10):
        events += b.on_order_done(i < filled, T0 + i)
    assert kinds(events) == ([("fill_rate", "TRIP")] if trips else [])
    if trips:
        assert (events[0].value, events[0].threshold) == (0.5, 0.6)


def test_fill_rate_needs_a_minimum_sample_and_uses_the_last_orders() -> None:
    b = fresh(fill_rate_window=10, fill_rate_min_orders=10)
    for i in range(9):
        assert b.on_order_done(False, T0 + i) == []
    assert kinds(b.on_order_done(False, T0 + 9)) == [("fill_rate", "TRIP")]
    b2 = fresh(fill_rate_window=10, fill_rate_min_orders=10)
    for i in range(3):
        b2.on_order_done(False, T0 + i)
    for i in range(10):
        b2.on_order_done(True, T0 + 100 + i)
    assert status(b2, "fill_rate") is BreakerStatus.OK


def test_fill_rate_resumes_after_cooldown_with_a_fresh_window() -> None:
    b = fresh(cooldown_ms=MIN)
    for _i in range(10):
        b.on_order_done(False, T0)
    assert kinds(b.evaluate(T0 + MIN)) == [("fill_rate", "RESUME")]
    assert b.views()[list(BREAKER_NAMES).index("fill_rate")].value == 1.0


# --- stale feed ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "trips"), [(30_000, False), (30_001, True)])
def test_stale_feed_global_both_sides(age: int, trips: bool) -> None:
    b = fresh()
    events = b.on_feed({}, age, T0)
    assert kinds(events) == ([("stale_feed", "TRIP")] if trips else [])
    if trips:
        e = events[0]
        assert e.cancel_all and not e.reduce_only and e.value == age
        assert not b.allows_orders(T0) and not b.heartbeat_ok(T0)


def test_stale_feed_ages_with_time_and_resumes_when_data_returns() -> None:
    b = fresh()
    b.on_feed({}, 0, T0)
    assert b.evaluate(T0 + 30_000) == []
    assert kinds(b.evaluate(T0 + 30_001)) == [("stale_feed", "TRIP")]
    assert kinds(b.resume(T0 + 40_000)) == [("stale_feed", "RESUME_REFUSED")]
    assert kinds(b.on_feed({}, 0, T0 + 50_000)) == [("stale_feed", "RESUME")]
    assert b.allows_orders(T0 + 50_000) and b.heartbeat_ok(T0 + 50_000)


@pytest.mark.parametrize(("age", "stale"), [(30_000, False), (30_001, True)])
def test_stale_market_blocks_only_that_market(age: int, stale: bool) -> None:
    b = fresh()
    events = b.on_feed({"m1": age, "m2": 10}, 10, T0)
    assert kinds(events) == ([("stale_market", "TRIP")] if stale else [])
    if stale:
        assert events[0].markets == ("m1",) and events[0].cancel_all
    assert b.allows_orders(T0, "m1") is not stale and b.allows_new_risk(T0, "m1") is not stale
    assert b.allows_orders(T0, "m2") and b.allows_new_risk(T0) and b.heartbeat_ok(T0)
    assert b.stale_markets == (frozenset({"m1"}) if stale else frozenset())


def test_more_stale_markets_raise_another_event_and_fresh_data_clears_them() -> None:
    b = fresh()
    b.on_feed({"m1": 40_000, "m2": 0}, 0, T0)
    events = b.on_feed({"m1": 70_001, "m2": 30_001}, 0, T0 + 30_001)
    assert kinds(events) == [("stale_market", "TRIP")] and events[0].markets == ("m2",)
    assert kinds(b.on_feed({"m1": 0, "m2": 0}, 0, T0 + 30_002)) == [("stale_market", "RESUME")]
    assert b.allows_orders(T0 + 30_002, "m1")


# --- reconciliation ----------------------------------------------------------------------------------------


def test_reconciliation_mismatch_halts_everything_until_resumed() -> None:
    b = fresh()
    assert b.on_reconcile(0, T0) == []
    events = b.on_reconcile(1, T0 + 1, "order o1 open at venue only")
    assert kinds(events) == [("reconcile", "TRIP")] and (events[0].value, events[0].threshold) == (1, 0)
    assert "o1" in events[0].detail
    assert not b.allows_orders(T0 + 1) and b.block(T0 + 1, reduces=True).name == "reconcile"
    assert b.on_reconcile(0, T0 + 2) == [] and status(b, "reconcile") is BreakerStatus.TRIPPED
    assert kinds(b.resume(T0 + 3)) == [("reconcile", "RESUME")] and b.allows_orders(T0 + 3)


def test_reconciliation_tolerance_both_sides() -> None:
    b = fresh(max_reconcile_mismatches=2)
    assert b.on_reconcile(2, T0) == []
    assert kinds(b.on_reconcile(3, T0 + 1)) == [("reconcile", "TRIP")]


# --- venue rejections ------------------------------------------------------------------------------------


def test_rejections_within_the_window_both_sides() -> None:
    b = fresh()
    for i in range(4):
        assert b.on_rejection(T0 + i * MIN) == []
    events = b.on_rejection(T0 + 4 * MIN)
    assert kinds(events) == [("rejections", "TRIP")] and (events[0].value, events[0].threshold) == (5, 5)


def test_rejections_spread_wider_than_the_window_do_not_trip() -> None:
    b = fresh()
    for i in range(10):
        assert b.on_rejection(T0 + i * 75_000) == []  # never five within five minutes


def test_rejections_pause_then_resume_after_cooldown() -> None:
    b = fresh(cooldown_ms=HOUR)
    for i in range(5):
        b.on_rejection(T0 + i)
    assert kinds(b.evaluate(T0 + 300_004)) == [("rejections", "COOLDOWN")]
    assert kinds(b.evaluate(T0 + 4 + HOUR)) == [("rejections", "RESUME")]


# --- kill switch -----------------------------------------------------------------------------------------


def test_kill_switch_present_at_start_means_no_orders(tmp_path: Path) -> None:
    path = tmp_path / "KILL_SWITCH"
    path.write_text("Emergency stop\nsecond line\n")
    b = Breakers(kill_switch=KillSwitch(path), now=T0)
    assert not b.allows_orders(T0) and not b.allows_new_risk(T0) and not b.heartbeat_ok(T0)
    events = b.evaluate(T0)
    assert kinds(events) == [("kill_switch", "TRIP")]
    assert events[0].cancel_all and events[0].detail == f"kill switch {path}: Emergency stop"
    assert events[0].halt_row() == {
        "kind": "kill_switch",
        "reason": events[0].detail,
        "trigger_value": "1.0",
        "threshold": "1.0",
        "action": "halt until resumed, no orders, cancel all",
    }


def test_kill_switch_appearing_halts_and_needs_a_human_after_removal(tmp_path: Path) -> None:
    path = tmp_path / "KILL_SWITCH"
    b = Breakers(kill_switch=KillSwitch(path), now=T0)
    assert b.check_kill_switch(T0 + 1) == [] and b.allows_orders(T0 + 1)
    path.touch()
    events = b.check_kill_switch(T0 + 2)
    assert kinds(events) == [("kill_switch", "TRIP")] and events[0].detail == f"kill switch {path}"
    assert kinds(b.resume(T0 + 3)) == [("kill_switch", "RESUME_REFUSED")] and not b.allows_orders(T0 + 3)
    path.unlink()
    assert b.check_kill_switch(T0 + 4) == [] and not b.allows_orders(T0 + 4)
    assert kinds(b.resume(T0 + 5)) == [("kill_switch", "RESUME")] and b.allows_orders(T0 + 5)


def test_unreadable_kill_switch_counts_as_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = KillSwitch(tmp_path / "KILL_SWITCH")

    def boom(self: Path) -> bool:
        raise PermissionError("denied")

    monkeypatch.setattr(Path, "exists", boom)
    assert ks.present()


def test_kill_switch_watcher_reacts_within_one_second(tmp_path: Path) -> None:
    path = tmp_path / "KILL_SWITCH"
    b = Breakers(kill_switch=KillSwitch(path), now=T0)
    clock = {"wall": 0.0, "ms": T0}
    seen: list = []
    stop = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        before = clock["wall"]
        clock["wall"] += seconds
        clock["ms"] += int(seconds * 1000)
        if before < 2.1 <= clock["wall"]:
            path.touch()  # the file appears at wall time 2.1 s, between two polls
            clock["appeared"] = 2.1
        if clock["wall"] > 5:
            stop.set()

    async def on_events(events) -> None:
        seen.append((clock["wall"], events))

    asyncio.run(
        watch_kill_switch(b, lambda: clock["ms"], on_events, interval_s=0.25, sleep=fake_sleep, stop=stop)
    )
    assert len(seen) == 1
    wall, events = seen[0]
    assert kinds(events) == [("kill_switch", "TRIP")] and 0 <= wall - clock["appeared"] <= 1.0


# --- priorities, reduce-only mode, guard, views ------------------------------------------------------------


def test_the_most_serious_blocking_breaker_is_reported_first(tmp_path: Path) -> None:
    path = tmp_path / "K"
    b = Breakers(kill_switch=KillSwitch(path), now=T0)
    b.on_equity(D(1000), T0)
    b.on_equity(D(800), T0 + 1)
    assert b.block(T0 + 1).name == "drawdown"
    path.touch()
    b.check_kill_switch(T0 + 2)
    assert b.block(T0 + 2).name == "kill_switch"


def test_reduce_only_mode_allows_only_shrinking_orders() -> None:
    b = Breakers(reduce_only=True, now=T0)
    assert b.allows_orders(T0) and not b.allows_new_risk(T0) and b.reduce_only(T0)
    block = b.block(T0)
    assert block is not None and block.code == "BREAKER_REDUCE_ONLY"
    assert b.block(T0, reduces=True) is None


def test_breaker_guard_stops_orders_in_the_firewall() -> None:
    b = Breakers(BreakerLimits(reduce_only_on_trip=True), now=T0)
    market = Market(condition_id="c1", question="q", slug="s", yes_token="Y", no_token="N")
    book = OrderBook()
    book.replace([(4900, 100_000_000)], [(5100, 100_000_000)], T0)
    held = {"Y": 50_000_000}
    fw = Firewall(
        FirewallLimits(),
        guards=[b.guard(lambda r: r.side is Side.SELL and r.size <= held.get(r.token_id, 0))],
    )
    buy = OrderRequest("b1", "c1", "Y", Outcome.YES, Side.BUY, 4800, 10_000_000, OrderType.GTC)
    sell = OrderRequest("s1", "c1", "Y", Outcome.YES, Side.SELL, 5200, 10_000_000, OrderType.GTC)
    assert fw.check(buy, market=market, tick=100, book=book, now=T0).ok
    # The guard reads the breakers' live state.
    b.on_equity(D(1000), T0)
    b.on_equity(D(900), T0)
    v = fw.check(buy, market=market, tick=100, book=book, now=T0)
    assert not v.ok and v.code == "BREAKER_DAILY_LOSS" and v.rejection.threshold == 0.05
    assert fw.check(sell, market=market, tick=100, book=book, now=T0).ok


def test_views_show_state_trigger_value_threshold_and_action() -> None:
    b = fresh(max_rolling_loss_usdc=D(10_000))
    b.on_equity(D(1000), T0)
    b.on_equity(D(940), T0 + 1)
    views = {v.name: v for v in b.views(T0 + 1)}
    assert views["daily_loss"] == BreakerState("daily_loss", "TRIPPED", 0.06, 0.05, "pause 3600s, no orders")
    assert views["drawdown"].state == "OK" and views["drawdown"].value == pytest.approx(0.06)
    b.on_equity(D(1000), T0 + 2)
    views = {v.name: v for v in b.views(T0 + 2)}
    assert views["daily_loss"].state == "COOLDOWN" and views["daily_loss"].value == 0.06
    assert b.day_loss == 0 and b.day_limit == D(50)


def test_events_between_calls_are_not_lost() -> None:
    b = fresh(cooldown_ms=MIN)
    for _i in range(5):
        b.on_position_closed(D(-1), T0)
    assert not b.allows_new_risk(T0 + 1)
    assert b.allows_new_risk(T0 + MIN)  # a query sees the resume at once...
    assert kinds(b.evaluate(T0 + MIN)) == [("consecutive_losses", "RESUME")]  # ...and evaluate reports it


def test_time_never_runs_backwards() -> None:
    b = fresh(cooldown_ms=MIN)
    for _i in range(5):
        b.on_position_closed(D(-1), T0 + MIN)
    assert kinds(b.evaluate(T0 + 2 * MIN)) == [("consecutive_losses", "RESUME")]
    assert b.evaluate(T0) == []


def test_policy_overrides() -> None:
    halt_on_rejections = BreakerPolicy(BreakerAction.HALT, cancel_all=True, reduce_only=False)
    b = fresh(policies={"rejections": halt_on_rejections})
    for _i in range(5):
        b.on_rejection(T0)
    assert b.needs_human(T0 + DAY_MS) and not b.heartbeat_ok(T0)
    assert (
        b.views()[list(BREAKER_NAMES).index("rejections")].action
        == "halt until resumed, no orders, cancel all"
    )


def test_from_settings() -> None:
    lim = BreakerLimits.from_settings(Settings())
    assert lim == BreakerLimits()
    s = Settings()
    custom = SimpleNamespace(
        breakers=replace_ns(
            s.breakers,
            max_daily_loss_pct=0.0001,
            cooldown_s=60.0,
            rolling_loss_window_s=120.0,
            stale_feed_s=5.0,
            stale_feed_global_s=12.0,
            fill_rate_window=50,
            reduce_only_on_trip=True,
        ),
        execution=s.execution,
    )
    lim = BreakerLimits.from_settings(custom)
    assert (lim.max_daily_loss_pct, lim.cooldown_ms, lim.rolling_loss_window_ms, lim.rejection_window_ms) == (
        0.0001,
        60_000,
        120_000,
        120_000,
    )
    assert (lim.stale_market_ms, lim.stale_feed_ms, lim.fill_rate_window, lim.reduce_only_on_trip) == (
        5_000,
        12_000,
        50,
        True,
    )


def replace_ns(model, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**model.model_dump(), **changes})


def test_tiny_daily_loss_limit_trips_on_the_first_loss() -> None:
    b = Breakers(replace(BreakerLimits(), max_daily_loss_pct=1e-6), now=T0)
    b.on_equity(D(1000), T0)
    events = b.on_equity(D("999.99"), T0 + 1)
    assert ("daily_loss", "TRIP") in kinds(events) and not b.allows_orders(T0 + 1)


def test_the_kill_switch_check_moves_nothing_else(tmp_path) -> None:
    """The watcher runs on real time: it must not advance other breakers nor take their events, or a simulated
    run would depend on when it woke up."""
    path = tmp_path / "KILL"
    b = Breakers(replace(BreakerLimits(), max_daily_loss_pct=0.01), kill_switch=KillSwitch(path), now=T0)
    b.on_feed({"m": 0}, 0, T0)
    b.on_equity(D(1000), T0)
    assert b.check_kill_switch(T0 + 60_000) == []  # the book is 60 s old by now: not this check's business
    assert b.state("stale_market") is BreakerStatus.OK
    path.write_text("stop")
    events = b.check_kill_switch(T0 + 61_000)
    assert kinds(events) == [("kill_switch", "TRIP")]
    later = b.evaluate(T0 + 61_000)  # the others move when the engine evaluates
    assert ("stale_market", "TRIP") in kinds(later) and ("kill_switch", "TRIP") not in kinds(later)


def test_a_resume_looks_at_the_kill_switch_file_itself(tmp_path) -> None:
    """The watcher may not have polled since the file went: a human resume must not be refused for that."""
    path = tmp_path / "KILL"
    path.write_text("stop")
    b = Breakers(kill_switch=KillSwitch(path), now=T0)
    assert ("kill_switch", "TRIP") in kinds(b.evaluate(T0))
    assert ("kill_switch", "RESUME_REFUSED") in kinds(b.resume(T0 + 1))
    path.unlink()  # no check_kill_switch in between
    assert ("kill_switch", "RESUME") in kinds(b.resume(T0 + 2)) and b.allows_new_risk(T0 + 2)
