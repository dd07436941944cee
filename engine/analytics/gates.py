"""Promotion gates A, B and C, exactly as the design documents set them, judged on a truth report.

A (research -> paper): Sharpe >= 1.2 after a cost stress.
B (paper -> small live, $500): 7-14 days; 3,000+ fills; >= 8 clusters traded; < 20% per cluster; median
  realized spread > 0; markout not significantly negative; fill rate within 20% of assumptions; top 5 markets
  < 30% of P&L; Sharpe >= 1.2.
C (scale, $500 -> $5,000): 90-day Sharpe >= 2.0; 30-day Calmar >= 2.0; max drawdown >= -15%.

Each line carries the measured value, the threshold and PASS, FAIL or NOT ENOUGH DATA. A line about how much
the run did (days, fills, clusters) fails when the run did too little: that is the measurement. A line whose
statistic cannot be measured yet (too few returns, no fills to take a spread from) is NOT ENOUGH DATA. A gate
passes when every line passes, fails when any line fails, and otherwise has not enough data.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import numpy as np

from engine.analytics import stats


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_ENOUGH_DATA = "NOT ENOUGH DATA"


MIN_DAILY_RETURNS = 7  # a daily Sharpe on fewer days says nothing
MIN_HOURLY_RETURNS = 24  # gate A on a short research run: hourly returns, at least a day of them
MIN_MARKOUTS = 30  # a significance verdict on fewer fills is noise
MIN_FINISHED_ORDERS = 30  # a fill rate on fewer finished orders is noise


def _line(name: str, value: Any, op: str, threshold: Any, verdict: Verdict, detail: str = "") -> dict[str, Any]:
    return {"name": name, "value": value, "op": op, "threshold": threshold, "status": verdict.value,
            "detail": detail}  # fmt: skip


def _compare(value: float | None, op: str, threshold: float) -> Verdict:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Verdict.NOT_ENOUGH_DATA
    ok = {">=": value >= threshold, ">": value > threshold, "<": value < threshold, "<=": value <= threshold}[op]
    return Verdict.PASS if ok else Verdict.FAIL


def _measured(name: str, value: float | None, op: str, threshold: float, enough: bool, detail: str) -> dict[str, Any]:
    verdict = _compare(value, op, threshold) if enough else Verdict.NOT_ENOUGH_DATA
    return _line(name, value, op, threshold, verdict, detail)


def _gate(lines: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = {ln["status"] for ln in lines}
    if Verdict.FAIL.value in statuses:
        status = Verdict.FAIL
    elif Verdict.NOT_ENOUGH_DATA.value in statuses:
        status = Verdict.NOT_ENOUGH_DATA
    else:
        status = Verdict.PASS
    return {"status": status.value, "lines": lines}


def _daily(report: dict[str, Any], last_days: int | None = None) -> np.ndarray:
    rows = report["returns"]["daily"]["returns"]
    if last_days is not None and rows:
        end = rows[-1]["ts"]
        rows = [r for r in rows if r["ts"] > end - last_days * stats.DAY_MS]
    return np.array([r["r"] for r in rows], dtype=np.float64)


def gate_a(report: dict[str, Any]) -> dict[str, Any]:
    daily, hourly = report["returns"]["daily"], report["returns"]["hourly"]
    if daily["periods"] >= MIN_DAILY_RETURNS:
        block, basis = daily, f"{daily['periods']} daily returns"
    else:
        block, basis = hourly, f"{hourly['periods']} hourly returns"
    enough = daily["periods"] >= MIN_DAILY_RETURNS or hourly["periods"] >= MIN_HOURLY_RETURNS
    stress = report["assumptions"]["cost_stress"]
    detail = (f"{basis}; stress: fees x{stress['fee_multiple']:g} and {stress['cents_per_share']:g} cents a share"
              f" on every fill; needs >= {MIN_DAILY_RETURNS} daily or >= {MIN_HOURLY_RETURNS} hourly returns")  # fmt: skip
    return _gate([_measured("sharpe_after_cost_stress", block["sharpe_stressed"], ">=", 1.2, enough, detail)])


def gate_b(report: dict[str, Any]) -> dict[str, Any]:
    days = report["period"]["days"]
    fills = report["pnl"]["total"]["fills"]
    conc = report["returns"]["concentration"]
    spread = report["execution"]["total"]["realized_spread_cents"]
    fill_rate = report["execution"]["total"]
    markouts = report["markouts"]["total"]
    tested = {h: m for h, m in markouts.items() if m["n"] >= MIN_MARKOUTS}
    negative = [h for h, m in tested.items() if m["significantly_negative"]]
    two_min = markouts.get("2m", {})
    daily = report["returns"]["daily"]
    lines = [
        _line("duration_days", days, ">=", 7, _compare(days or 0.0, ">=", 7), "the design documents: 7-14 days"),
        _line("fills", fills, ">=", 3000, _compare(fills, ">=", 3000)),
        _line("clusters_traded", conc["clusters_traded"], ">=", 8, _compare(conc["clusters_traded"], ">=", 8)),
        _measured("largest_cluster_share", conc["largest_cluster_share"], "<", 0.20,
                  conc["largest_cluster_share"] is not None,
                  f"{conc['largest_cluster']}; {conc['cluster_basis']}" if conc["largest_cluster"] else "no fills"),
        _measured("median_realized_spread_cents", spread["median"], ">", 0.0, spread["n"] > 0,
                  f"{spread['n']} fills"),
        _line(
            "markout_not_significantly_negative",
            two_min.get("mean"),
            "not <",
            0.0,
            Verdict.NOT_ENOUGH_DATA if not tested else (Verdict.FAIL if negative else Verdict.PASS),
            (f"significantly negative at {', '.join(negative)}" if negative else
             f"95% intervals of the mean at {', '.join(tested)} reach 0 or above" if tested else
             f"fewer than {MIN_MARKOUTS} markouts at every horizon"),
        ),  # fmt: skip
        _measured(
            "fill_rate_within_20pct_of_assumed",
            None if fill_rate["fill_rate_vs_assumed"] is None else abs(fill_rate["fill_rate_vs_assumed"]),
            "<=",
            0.20,
            fill_rate["fill_rate"] is not None and fill_rate["assumed_fill_rate"] is not None
            and fill_rate["finished"] >= MIN_FINISHED_ORDERS,
            "fill rate "
            + ("-" if fill_rate["fill_rate"] is None else f"{fill_rate['fill_rate']:.3f}")
            + f" against {fill_rate['assumed_fill_rate']} assumed (execution.min_fill_rate);"
            f" {fill_rate['finished']} finished orders, needs >= {MIN_FINISHED_ORDERS}",
        ),
        _measured("top5_markets_share", conc["top5_share"], "<", 0.30, conc["top5_share"] is not None,
                  conc["top5_basis"]),
        _measured("sharpe", daily["sharpe"], ">=", 1.2, daily["periods"] >= MIN_DAILY_RETURNS,
                  f"{daily['periods']} daily returns; needs >= {MIN_DAILY_RETURNS}"),
    ]  # fmt: skip
    return _gate(lines)


def gate_c(report: dict[str, Any]) -> dict[str, Any]:
    days = report["period"]["days"] or 0.0
    r90 = _daily(report, 90)
    sharpe90 = stats.sharpe(r90, stats.PERIODS_PER_YEAR["1d"]) if days >= 90 else None
    r30 = _daily(report, 30)
    calmar30: float | None = None
    calmar_verdict = Verdict.NOT_ENOUGH_DATA
    detail30 = f"{days:.1f} days of data; needs >= 30"
    if days >= 30 and len(r30):
        index = np.concatenate(([1.0], np.cumprod(1.0 + r30)))
        mdd = float(stats.drawdown_series(index).min())
        calmar30 = stats.calmar(r30, stats.PERIODS_PER_YEAR["1d"], mdd)
        if calmar30 is None:  # no drawdown in 30 days: the ratio is unbounded, its sign is the mean's
            calmar_verdict = Verdict.PASS if float(np.mean(r30)) > 0 else Verdict.FAIL
            detail30 = "no drawdown in the last 30 days"
        else:
            calmar_verdict = _compare(calmar30, ">=", 2.0)
            detail30 = f"last 30 days: max drawdown {mdd:.4f}"
    dd = report["returns"]["drawdown"]
    have_curve = len(report["series"]["equity"]["ts"]) >= 2
    lines = [
        _measured("sharpe_90d", sharpe90, ">=", 2.0, days >= 90, f"{days:.1f} days of data; needs >= 90"),
        _line("calmar_30d", calmar30, ">=", 2.0, calmar_verdict, detail30),
        _measured("max_drawdown", dd["max_drawdown"], ">=", -0.15, have_curve, "share of the peak, whole window"),
    ]
    return _gate(lines)


def evaluate_gates(report: dict[str, Any]) -> dict[str, Any]:
    return {"A": gate_a(report), "B": gate_b(report), "C": gate_c(report)}


__all__ = ["MIN_DAILY_RETURNS", "MIN_FINISHED_ORDERS", "MIN_HOURLY_RETURNS", "MIN_MARKOUTS", "Verdict", "evaluate_gates"]
