"""The truth report against hand-computed values on small fixed ledgers: attribution, execution, markouts,
returns, calibration, health and the gates at their thresholds (both sides and NOT ENOUGH DATA)."""

from __future__ import annotations

import copy
import math
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.analytics.gates import evaluate_gates
from engine.analytics.ledger_frame import LedgerError
from engine.analytics.report_text import render_text
from engine.analytics.truth_report import build_report, money
from tests.report_ledger import DAY, MIN, T0, Ledger


def _attribution_ledger(path: Path) -> Ledger:
    """A (resolved YES) and B (open, last mid 0.60) and C (open, never evaluated: unmarked)."""
    led = Ledger(path)
    led.market("A", cluster="btc", resolved_ts=T0 + 10 * MIN, yes_payout="1")
    led.market("B", cluster="eth")
    led.market("C", cluster="eth")
    led.evaluation("B", "microprice", 0.61, 0.60, None, ts=T0 + 5 * MIN)
    led.fill("market_maker", "A", True, "BUY", "0.40", "10.000000", maker=True, ts=T0 + MIN)
    led.fill("market_maker", "A", True, "SELL", "0.55", "4.000000", fee="0.01750", maker=False, ts=T0 + 2 * MIN)
    led.fill("value", "B", False, "BUY", "0.30", "5.000000", fee="0.01050", maker=False, ts=T0 + 3 * MIN)
    led.fill("manual", "B", True, "BUY", "0.62", "2.000000", maker=True, ts=T0 + 4 * MIN)
    led.fill("manual", "C", True, "BUY", "0.50", "1.000000", maker=True, ts=T0 + 4 * MIN)
    led.settlement("A", True, "6.000000", "1", "6.000000", ts=T0 + 10 * MIN)
    led.income("market_maker", "A", "REBATE", "0.001000")
    led.income("market_maker", "A", "REWARD", "0.250000")
    led.snapshot(T0, "1000")
    led.snapshot(T0 + 20 * MIN, "1004.632")
    return led


def test_attribution_by_fill_is_exact_and_splits_every_way(tmp_path: Path) -> None:
    _attribution_ledger(tmp_path / "a.db").close()
    r = build_report(tmp_path / "a.db", now_ms=0)
    t = r["pnl"]["total"]
    # gross = 10(1-0.40) - 4(1-0.55) + 5(0.40-0.30) + 2(0.60-0.62) + 1(0.50-0.50) = 6 - 1.8 + 0.5 - 0.04 + 0
    assert Decimal(t["gross_pnl"]) == Decimal("4.66")
    assert Decimal(t["fees"]) == Decimal("0.028")
    assert Decimal(t["net_pnl"]) == Decimal("4.632")
    assert Decimal(t["gross_pnl_maker"]) == Decimal("5.96") and Decimal(t["gross_pnl_taker"]) == Decimal("-1.3")
    assert Decimal(t["net_pnl_taker"]) == Decimal("-1.3") - Decimal("0.028")
    # cash the fills moved, what settlement paid, and what is still held (B marked, C at cost)
    assert Decimal(t["fill_cash_flow"]) == Decimal("-5.04")  # -4 + 2.2 - 1.5 - 1.24 - 0.5
    assert Decimal(t["settlement_payouts"]) == Decimal("6")
    assert Decimal(t["open_value"]) == Decimal("3.7")  # NO 5 x 0.40 + YES 2 x 0.60 + C 1 x 0.50 at cost
    assert Decimal(t["fill_cash_flow"]) + Decimal(t["settlement_payouts"]) + Decimal(t["open_value"]) == Decimal(
        t["gross_pnl"]
    )
    assert t["fills"] == 5 and t["maker_fills"] == 3 and t["taker_fills"] == 2 and t["unmarked_fills"] == 1
    assert Decimal(t["rebates_est"]) == Decimal("0.001") and Decimal(t["rewards_est"]) == Decimal("0.25")
    s = r["pnl"]["by_strategy"]
    assert Decimal(s["market_maker"]["net_pnl"]) == Decimal("4.1825")  # 6 - 1.8 - 0.0175
    assert Decimal(s["value"]["net_pnl"]) == Decimal("0.4895")
    assert Decimal(s["manual"]["net_pnl"]) == Decimal("-0.04")
    c = r["pnl"]["by_component"]
    assert Decimal(c["maker"]["gross_pnl"]) == Decimal("6") and Decimal(c["taker"]["gross_pnl"]) == Decimal("-1.8")
    assert Decimal(c["satellite"]["gross_pnl"]) == Decimal("0.5") and Decimal(c["manual"]["gross_pnl"]) == Decimal(
        "-0.04"
    )
    assert c["arbitrage"]["fills"] == 0
    assert {k: Decimal(v["net_pnl"]) for k, v in r["pnl"]["by_cluster"].items()} == {
        "btc": Decimal("4.1825"),
        "eth": Decimal("0.4495"),
    }
    markets = r["pnl"]["by_market"]
    assert [m["condition_id"] for m in markets] == ["A", "B", "C"]  # best first
    assert markets[0]["settled"] and markets[1]["marked"] and not markets[2]["marked"]
    assert r["pnl"]["check"]["settlement_cash_recorded"] == "6.00"


def test_window_and_strategy_filters(tmp_path: Path) -> None:
    _attribution_ledger(tmp_path / "a.db").close()
    late = build_report(tmp_path / "a.db", since_ms=T0 + 150_000, now_ms=0)
    assert late["pnl"]["total"]["fills"] == 3  # the value and the two manual fills
    value = build_report(tmp_path / "a.db", strategy="value", now_ms=0)
    assert value["pnl"]["total"]["fills"] == 1 and Decimal(value["pnl"]["total"]["net_pnl"]) == Decimal("0.4895")
    assert value["returns"]["basis"] == "strategy:value" and value["returns"]["capital_usdc"] == 200.0
    # marks are as of the window's end: before B's evaluation, B is unmarked (valued at cost)
    early = build_report(tmp_path / "a.db", until_ms=T0 + 5 * MIN, now_ms=0)
    assert early["pnl"]["total"]["unmarked_fills"] == 5  # A not yet resolved, B not yet evaluated, C never


def test_money_keeps_every_digit() -> None:
    assert money(0) == "0.00"
    assert money(46_320_000_000) == "4.632"
    assert money(-10_000_000_000) == "-1.00"
    assert money(1) == "0.0000000001"


def test_execution_quality(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "x.db")
    led.market("A")
    # four orders finished: two filled (one partly), one cancelled, one expired; one still live
    led.order("O1", "market_maker", T0, "FILLED", "10", "10", updated=T0 + 5000)
    led.order("O2", "market_maker", T0 + 1000, "CANCELLED", "10", "4", updated=T0 + 30_000)
    led.order("O3", "market_maker", T0 + 2000, "CANCELLED", "10", "0", updated=T0 + 61_000)
    led.order("O4", "market_maker", T0 + 3000, "EXPIRED", "10", "0")
    led.order("O5", "market_maker", T0 + 4000, "LIVE", "10", "0")
    t1 = led.fill("market_maker", "A", True, "BUY", "0.50", "10.000000", ts=T0 + 5000, order="O1")
    t2 = led.fill("market_maker", "A", True, "BUY", "0.50", "4.000000", fee="0.02000", ts=T0 + 21_000, order="O2")
    led.markout(t1, "market_maker", 0, 1.0, ts=T0 + 5000)
    led.markout(t2, "market_maker", 0, 0.5, ts=T0 + 21_000)
    for oid, ts in (("O2", T0 + 30_000), ("O3", T0 + 61_000)):
        led.event(oid, ts, "CANCELLED", "CANCELED")
    led.event("O9", T0, "REJECTED", "not enough balance")
    # a value proposal: touch 0.50, expected 20 bps; its order fills 5 @ 0.50 and 5 @ 0.51: VWAP 0.505, 100 bps
    led.proposal("P1", "value", "BUY", 20.0, "0.5000")
    led.order("O6", "value", T0, "FILLED", "10", "10", proposal="P1")
    led.fill("value", "A", True, "BUY", "0.50", "5.000000", ts=T0 + 200, order="O6", maker=False)
    led.fill("value", "A", True, "BUY", "0.51", "5.000000", ts=T0 + 200, order="O6", maker=False)
    led.snapshot(T0, "1000")
    led.close()
    r = build_report(tmp_path / "x.db", now_ms=0)
    mm = r["execution"]["by_strategy"]["market_maker"]
    assert mm["orders"] == 5 and mm["finished"] == 4 and mm["filled_any"] == 2
    assert mm["fill_rate"] == pytest.approx(0.5)
    assert mm["fill_rate_vs_assumed"] == pytest.approx(0.5 / 0.6 - 1)
    assert mm["mean_filled_share"] == pytest.approx((1 + 0.4) / 5)
    assert (mm["cancels"], mm["expired"]) == (2, 1)
    assert mm["time_to_fill_s"]["n"] == 1 and mm["time_to_fill_s"]["median"] == pytest.approx(5.0)  # O2 never filled
    spread = mm["realized_spread_cents"]
    assert spread["n"] == 2
    assert spread["median"] == pytest.approx(0.75) and spread["mean"] == pytest.approx(0.75)  # mid - price
    slip = r["execution"]["by_strategy"]["value"]["slippage_bps"]
    assert slip["n"] == 1 and slip["expected_mean"] == 20.0 and slip["realized_mean"] == pytest.approx(100.0)
    mut = r["execution"]["mutations"]
    # placements: 6 in minute 0; cancels: one in minute 0, one in minute 1 -> 7 and 1 a minute
    assert mut["placements"] == 6 and mut["cancels"] == 2
    assert mut["peak_per_min"] == 7 and mut["peak_share_of_budget"] == pytest.approx(0.7)
    assert mut["minutes_over_90pct"] == 0
    assert r["health"]["rejections_by_reason"] == {"not enough balance": 1}


def test_markouts_mean_median_and_significance(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "m.db")
    led.market("A")
    bad = [-1.0 + 0.1 * ((i % 5) - 2) for i in range(40)]  # mean -1, small spread: significantly negative
    for i, c in enumerate(bad):
        t = led.fill("market_maker", "A", True, "BUY", "0.50", "1.000000", ts=T0 + i * 1000)
        led.markout(t, "market_maker", 30, c, ts=T0 + i * 1000)
        led.markout(t, "market_maker", 120, (-1) ** i * 2.0, ts=T0 + i * 1000)  # mean 0: not significant
    t = led.fill("value", "A", True, "BUY", "0.50", "1.000000", ts=T0, maker=False)
    led.markout(t, "value", 600, -3.0, maker=False)
    led.snapshot(T0, "1000")
    led.close()
    r = build_report(tmp_path / "m.db", now_ms=0)
    m30 = r["markouts"]["total"]["30s"]
    assert m30["n"] == 40
    assert m30["mean"] == pytest.approx(statistics.fmean(bad))
    assert m30["median"] == pytest.approx(statistics.median(bad))
    assert m30["std"] == pytest.approx(statistics.stdev(bad))
    assert m30["t_stat"] == pytest.approx(statistics.fmean(bad) / (statistics.stdev(bad) / math.sqrt(40)))
    assert m30["significantly_negative"] is True and m30["ci_high"] < 0
    assert sum(m30["histogram"]["counts"]) == 40
    assert r["markouts"]["total"]["2m"]["significantly_negative"] is False
    ten = r["markouts"]["total"]["10m"]
    assert ten["n"] == 1 and ten["significantly_negative"] is None  # one value says nothing
    assert r["markouts"]["taker"]["10m"]["n"] == 1 and r["markouts"]["maker"]["10m"]["n"] == 0
    assert set(r["markouts"]["by_strategy"]) == {"market_maker", "value"}


EQUITY = ["1000", "1010", "1005", "1020", "1030", "1025", "1040", "1050", "1045"]


def _returns_ledger(path: Path, equity: list[str] = EQUITY) -> None:
    led = Ledger(path)
    led.market("A")
    for d, e in enumerate(equity):
        led.snapshot(T0 + d * DAY + (0 if d == 0 else -MIN), e)  # the last point of each day, just before midnight
    led.close()


def test_risk_adjusted_returns_by_hand(tmp_path: Path) -> None:
    _returns_ledger(tmp_path / "r.db")
    r = build_report(tmp_path / "r.db", now_ms=0)
    e = [float(x) for x in EQUITY]
    daily = [e[i] / e[i - 1] - 1 for i in range(1, len(e))]
    d = r["returns"]["daily"]
    # the first day holds the starting point and the first close (1000 -> 1010), then one close a day
    assert [x["r"] for x in d["returns"]] == pytest.approx(daily, abs=1e-8)
    mean, sd = statistics.fmean(daily), statistics.stdev(daily)
    assert d["periods"] == 8
    assert d["sharpe"] == pytest.approx(mean / sd * math.sqrt(365))
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in daily) / len(daily))
    assert d["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    dd = r["returns"]["drawdown"]
    assert dd["max_drawdown"] == pytest.approx(1005 / 1010 - 1)  # deeper than 1025/1030 and 1045/1050
    assert dd["recovered"] and dd["duration_s"] == pytest.approx(2 * 86_400)  # from 1010 to 1020, two closes on
    assert d["calmar"] == pytest.approx(mean * 365 / abs(1005 / 1010 - 1))
    assert d["positive_share"] == pytest.approx(5 / 8)


def test_stress_lowers_sharpe(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "s.db")
    led.market("A")
    for d, e in enumerate(EQUITY):
        led.snapshot(T0 + d * DAY + (0 if d == 0 else -MIN), e)
        led.fill("market_maker", "A", True, "BUY", "0.50", "100.000000", fee="0.10000", ts=T0 + d * DAY + MIN)
    led.close()
    r = build_report(tmp_path / "s.db", now_ms=0)
    d = r["returns"]["daily"]
    assert d["sharpe_stressed"] < d["sharpe"]
    # each day: one more fee (0.10) and 0.5 cents on 100 shares (0.50): 0.60 off that day's return
    calm = build_report(tmp_path / "s.db", now_ms=0, stress_fee_multiple=1.0, stress_cents=0.0)
    assert calm["returns"]["daily"]["sharpe_stressed"] == pytest.approx(calm["returns"]["daily"]["sharpe"])


def test_win_rate_profit_factor_and_concentration(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "w.db")
    nets = {"M1": "3", "M2": "2", "M3": "-1", "M4": "1", "M5": "-0.5", "M6": "0.5"}
    for i, (cid, _) in enumerate(nets.items()):
        led.market(cid, cluster=f"c{i % 2}", resolved_ts=T0 + MIN, yes_payout="1")
    for cid, net in nets.items():  # buy 1 share at 1 - net/10... simpler: a settled YES at price p earns 1 - p
        p = Decimal("0.5") - Decimal(net) / 10
        led.fill("market_maker", cid, True, "BUY", str(p), "10.000000", ts=T0)
    led.snapshot(T0, "1000")
    led.close()
    r = build_report(tmp_path / "w.db", now_ms=0)
    ret = r["returns"]
    # each market nets 10 x (1 - p) = 10 x (0.5 + net/10) = 5 + net
    per = [5 + float(n) for n in nets.values()]
    assert ret["win_rate"] == 1.0 and ret["profit_factor"] is None  # every market made money: no losses
    conc = ret["concentration"]
    assert conc["markets_traded"] == 6
    assert conc["top5_share"] == pytest.approx(sum(sorted(per)[1:]) / sum(per))
    assert conc["clusters_traded"] == 2


def test_calibration_by_hand(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "c.db")
    led.market("A")
    led.market("B")
    led.evaluation("A", "microprice", 0.8, 0.7, 1.0)
    led.evaluation("B", "microprice", 0.3, 0.4, 0.0)
    led.evaluation("B", "microprice", 0.5, None, None)  # unresolved: not scored
    led.snapshot(T0, "1000")
    led.close()
    cal = build_report(tmp_path / "c.db", now_ms=0)["calibration"]
    b = cal["brains"]["microprice"]
    assert b["n"] == 2 and b["markets"] == 2
    assert b["brier"] == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert b["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert b["brier_market"] == pytest.approx((0.3**2 + 0.4**2) / 2)
    assert b["brier_skill"] == pytest.approx(1 - 0.065 / 0.125)
    assert [(x["bin"], x["count"]) for x in b["reliability"]] == [(3, 1), (8, 1)]
    assert cal["market"]["brier"] == pytest.approx(0.125)


def test_health_uptime_stale_books_reconnects_and_halts(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "h.db")
    led.market("A")
    led.health(T0, 4, 0, 0, 0)
    led.health(T0 + MIN, 4, 1, 40_000, 2)  # the feed silent 40 s (> 30 s): this minute counts as down
    led.health(T0 + 2 * MIN, 4, 0, 0, 3)
    led.halt(T0, "daily_loss", "day loss 5%", T0 + 3_600_000, "operator")
    led.halt(T0 + MIN, "reconcile", "position X: engine 5 venue 3", None, None)
    led.snapshot(T0, "1000")
    led.close()
    h = build_report(tmp_path / "h.db", now_ms=0)["health"]
    assert h["feed"]["uptime"] == pytest.approx(0.5)
    assert h["feed"]["stale_book_share"] == pytest.approx(60 / 480)
    assert h["feed"]["reconnects"] == 3
    assert h["breaker_trips"] == {"daily_loss": 1, "reconcile": 1}
    assert h["resumed_by"] == {"operator": 1, "(not resumed)": 1}
    assert h["halts"][0]["duration_s"] == 3600
    assert h["reconciliation"]["mismatch_halts"] == 1
    assert h["refusals_by_rule"] == {"ZONE_STRATEGY": 3}


# --- gates -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("gates") / "g.db"
    _attribution_ledger(path).close()
    return build_report(path, now_ms=0)


def _status(report: dict[str, Any], gate: str, line: str) -> str:
    return next(ln["status"] for ln in evaluate_gates(report)[gate]["lines"] if ln["name"] == line)


def _with(report: dict[str, Any], **paths: Any) -> dict[str, Any]:
    out = copy.deepcopy(report)
    for dotted, value in paths.items():
        *head, last = dotted.split("__")
        node = out
        for key in head:
            node = node[key]
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("gate", "line", "path", "passing", "failing"),
    [
        ("B", "duration_days", "period__days", 7.0, 6.99),
        ("B", "fills", "pnl__total__fills", 3000, 2999),
        ("B", "clusters_traded", "returns__concentration__clusters_traded", 8, 7),
        ("B", "largest_cluster_share", "returns__concentration__largest_cluster_share", 0.1999, 0.20),
        ("B", "median_realized_spread_cents", "execution__total__realized_spread_cents__median", 0.01, 0.0),
        ("B", "fill_rate_within_20pct_of_assumed", "execution__total__fill_rate_vs_assumed", -0.20, 0.21),
        ("B", "top5_markets_share", "returns__concentration__top5_share", 0.2999, 0.30),
        ("C", "max_drawdown", "returns__drawdown__max_drawdown", -0.15, -0.1501),
    ],
)
def test_gate_lines_at_their_thresholds(
    base_report: dict[str, Any], gate: str, line: str, path: str, passing: Any, failing: Any
) -> None:
    measured = _with(base_report, execution__total__realized_spread_cents__n=10, execution__total__fill_rate=0.5,
                     execution__total__finished=30)  # fmt: skip
    assert _status(_with(measured, **{path: passing}), gate, line) == "PASS"
    assert _status(_with(measured, **{path: failing}), gate, line) == "FAIL"


def test_sharpe_lines_need_enough_returns(base_report: dict[str, Any]) -> None:
    few = _with(base_report, returns__daily__periods=6, returns__daily__sharpe=5.0, returns__hourly__periods=23,
                returns__hourly__sharpe_stressed=5.0)  # fmt: skip
    assert _status(few, "B", "sharpe") == "NOT ENOUGH DATA"
    assert _status(few, "A", "sharpe_after_cost_stress") == "NOT ENOUGH DATA"
    hourly = _with(few, returns__hourly__periods=24, returns__hourly__sharpe_stressed=1.2)
    assert _status(hourly, "A", "sharpe_after_cost_stress") == "PASS"
    assert _status(_with(hourly, returns__hourly__sharpe_stressed=1.19), "A", "sharpe_after_cost_stress") == "FAIL"
    daily = _with(base_report, returns__daily__periods=7, returns__daily__sharpe=1.2, returns__daily__sharpe_stressed=1.19)
    assert _status(daily, "B", "sharpe") == "PASS"
    assert _status(daily, "A", "sharpe_after_cost_stress") == "FAIL"  # daily basis wins when there are 7 days


def test_spread_and_fill_rate_lines_without_data(base_report: dict[str, Any]) -> None:
    r = _with(base_report, execution__total__realized_spread_cents__n=0,
              execution__total__realized_spread_cents__median=None, execution__total__fill_rate=None,
              execution__total__fill_rate_vs_assumed=None)  # fmt: skip
    assert _status(r, "B", "median_realized_spread_cents") == "NOT ENOUGH DATA"
    assert _status(r, "B", "fill_rate_within_20pct_of_assumed") == "NOT ENOUGH DATA"
    few = _with(base_report, execution__total__fill_rate=0.6, execution__total__fill_rate_vs_assumed=0.0,
                execution__total__finished=29)  # fmt: skip
    assert _status(few, "B", "fill_rate_within_20pct_of_assumed") == "NOT ENOUGH DATA"


def test_markout_line_needs_30_and_fails_on_a_significantly_negative_horizon(base_report: dict[str, Any]) -> None:
    def horizon(n: int, negative: bool | None) -> dict[str, Any]:
        return {"n": n, "mean": -1.0, "significantly_negative": negative}

    few = _with(base_report, markouts__total={"30s": horizon(29, True), "2m": horizon(29, True), "10m": horizon(5, True)})
    assert _status(few, "B", "markout_not_significantly_negative") == "NOT ENOUGH DATA"
    ok = _with(base_report, markouts__total={"30s": horizon(30, False), "2m": horizon(30, False), "10m": horizon(30, False)})
    assert _status(ok, "B", "markout_not_significantly_negative") == "PASS"
    bad = _with(ok, markouts__total__10m=horizon(30, True))
    assert _status(bad, "B", "markout_not_significantly_negative") == "FAIL"


def test_gate_c_needs_90_and_30_days(tmp_path: Path) -> None:
    # 91 days: up 0.1% a day with a 1% fall every tenth day
    equity = [1000.0]
    for d in range(1, 92):
        equity.append(equity[-1] * (0.99 if d % 10 == 0 else 1.001))
    _returns_ledger(tmp_path / "c.db", [f"{x:.6f}" for x in equity])
    r = build_report(tmp_path / "c.db", now_ms=0)
    gates = evaluate_gates(r)
    lines = {ln["name"]: ln for ln in gates["C"]["lines"]}
    assert lines["sharpe_90d"]["status"] in ("PASS", "FAIL") and lines["sharpe_90d"]["value"] is not None
    last90 = [x["r"] for x in r["returns"]["daily"]["returns"] if x["ts"] > r["returns"]["daily"]["returns"][-1]["ts"] - 90 * DAY]
    expected = statistics.fmean(last90) / statistics.stdev(last90) * math.sqrt(365)
    assert lines["sharpe_90d"]["value"] == pytest.approx(expected)
    assert lines["calmar_30d"]["value"] is not None
    short = build_report(tmp_path / "c.db", until_ms=T0 + 29 * DAY, now_ms=0)
    short_lines = {ln["name"]: ln["status"] for ln in evaluate_gates(short)["C"]["lines"]}
    assert short_lines["sharpe_90d"] == "NOT ENOUGH DATA" and short_lines["calmar_30d"] == "NOT ENOUGH DATA"


def test_gate_verdict_is_fail_over_not_enough_over_pass(base_report: dict[str, Any]) -> None:
    gates = evaluate_gates(base_report)
    assert gates["B"]["status"] == "FAIL"  # 5 fills over minutes: a run this small fails B
    assert gates["A"]["status"] == "NOT ENOUGH DATA"
    assert all(ln["status"] in ("PASS", "FAIL", "NOT ENOUGH DATA") for g in gates.values() for ln in g["lines"])


def test_empty_ledger_reports_without_inventing_numbers(tmp_path: Path) -> None:
    Ledger(tmp_path / "e.db").close()
    r = build_report(tmp_path / "e.db", now_ms=0)
    assert r["pnl"]["total"]["fills"] == 0 and r["pnl"]["total"]["net_pnl"] == "0.00"
    assert r["returns"]["daily"]["sharpe"] is None and r["markouts"]["total"]["2m"]["mean"] is None
    assert r["execution"]["total"]["fill_rate"] is None
    assert {g["status"] for g in r["gates"].values()} <= {"FAIL", "NOT ENOUGH DATA"}
    assert "Promotion gates" in render_text(r)


def test_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no such file"):
        build_report(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="not an SQLite database"):
        build_report(junk)


def test_a_large_ledger_read_by_two_processes_reports_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.analytics import truth_report

    led = _attribution_ledger(tmp_path / "p.db")
    for i in range(40):
        t = led.fill("market_maker", "A", True, "BUY", "0.50", "1.000000", ts=T0 + i * 1000)
        led.markout(t, "market_maker", 0, 0.5, ts=T0 + i * 1000)
        led.markout(t, "market_maker", 30, -0.25 * (i % 3), ts=T0 + i * 1000)
    led.close()
    inline = build_report(tmp_path / "p.db", now_ms=0)
    monkeypatch.setattr(truth_report, "PARALLEL_MIN_ROWS", 0)  # the second process for any ledger
    assert build_report(tmp_path / "p.db", now_ms=0) == inline
