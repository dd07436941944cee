"""The truth report: is it making money, from what, and may it scale? Built from any run's ledger.

`build_report(db, since_ms=, until_ms=, strategy=)` returns one JSON-ready dict with stable keys (below). The
terminal text (`report_text`), the HTML page (`report_html`), the console's Report screen and the daily files
all render this one dict.

P&L attribution is by fill, and exact. A fill of `size` shares at `price` (sign +1 buy, -1 sell) of a token
worth `v` at the end of the window contributes sign x size x (v - price) - fee. Summed over every fill this is
the account's whole P&L: the cash the fills moved plus what the shares they left are worth (gross_pnl =
fill_cash_flow + settlement_payouts + open_value; net_pnl = gross_pnl - fees). v is the token's
settlement payout when it settled in the window, else its last mid seen by an evaluation (a mark), else the
fill's own price (the fill counts as unmarked). Shares bought and sold again cancel v out, so only what is
still held depends on a mark. The split is then a sum over any grouping: strategy, maker/taker, component,
market, cluster. Money is summed in integer 1e-10 USDC units and printed as exact decimals.

Keys (every section is always present; a value that cannot be measured is null, never a made-up number):
- report_version, generated_ts, db, window {since_ts, until_ts, strategy}, runs [...], strategies [names in the
  ledger], period {start_ts,
  end_ts, days}, assumptions {...}
- pnl {total, by_strategy {id: A}, by_component {maker|taker|arbitrage|satellite|manual: A}, by_cluster
  {name: A}, by_market [A + condition_id, slug, cluster], check {...}} where A = attribution (`_attribution`)
- execution {total: X, by_strategy {id: X}, mutations {...}} where X = `_execution_block`
- markouts {horizons, total {30s|2m|10m: M}, maker {...}, taker {...}, by_strategy {id: {...}}} where M =
  distribution + significance (`_markout_stats`)
- returns {basis, capital_usdc, daily R, hourly R, drawdown {...}, win_rate, profit_factor, concentration}
- calibration {brains {name: C}, market C} where C = Brier, log loss, skill, reliability
- health {feed, breaker_trips, halts, resumed_by, rejections_by_reason, refusals_by_rule, reconciliation}
- gates {A, B, C} (engine/analytics/gates.py)
- series {equity {ts, equity, drawdown}, pnl_by_strategy {id: {ts, pnl}}} for plots (at most 400 points)
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from engine.analytics import stats
from engine.analytics.gates import evaluate_gates
from engine.analytics.ledger_frame import (
    MONEY_UNITS,
    PRICE_UNITS,
    LedgerFrame,
    Window,
    case_codes,
    connect,
    has_table,
    numeric,
    read_fills,
    read_meta,
)

REPORT_VERSION = 1
MARKOUT_HORIZONS = {30: "30s", 120: "2m", 600: "10m"}
MARKOUT_EDGES = np.array([-10, -5, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 10], dtype=np.float64)  # cents
SERIES_POINTS = 400
# What each strategy's fills are, for the design documents' component attribution. A market maker's fills
# split by their liquidity (maker / taker); a strategy not listed is its own component.
COMPONENT_OF = {
    "market_maker": None,  # by liquidity
    "value": "satellite",
    "crypto_updown": "satellite",
    "arbitrage": "arbitrage",
    "manual": "manual",
}
COMPONENTS = ("maker", "taker", "arbitrage", "satellite", "manual")
# Order states as the ledger writes them (engine/execution/orders.py); index 0 is any other (still working)
ORDER_STATES = ("WORKING", "FILLED", "CANCELLED", "EXPIRED", "REJECTED", "FAILED")
TERMINAL_STATES = frozenset(ORDER_STATES[1:])


def build_report(
    db_path: str | Path,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    strategy: str | None = None,
    now_ms: int | None = None,
    stress_fee_multiple: float | None = None,
    stress_cents: float | None = None,
) -> dict[str, Any]:
    window = Window(since_ms, until_ms, strategy)
    frame, conn = read_meta(db_path, window)
    try:
        reports_cfg = frame.config.get("reports") or {}
        stress = (
            float(stress_fee_multiple if stress_fee_multiple is not None else reports_cfg.get("stress_fee_multiple", 2.0)),
            float(stress_cents if stress_cents is not None else reports_cfg.get("stress_cents", 0.5)),
        )
        # A large ledger is read by two processes at once (the fetch holds the interpreter lock, so threads
        # would not help): the markouts, calibration and health in one, the fills, P&L and orders here.
        large = _large(conn)
        after_fill = _start(_after_fill_sections, db_path, frame, large)
        orders = _start(_execution_section, db_path, frame, large)
        frame.fills = read_fills(conn, frame)
        values = _token_values(conn, frame)
        pnl, spread = _pnl(conn, frame, values)
        returns, series = _returns(conn, frame, spread, stress)
        period = _period(frame, conn)
        execution = orders()
        markouts, spreads, calibration, health = after_fill()
        _add_realized_spread(execution, spreads)
        report: dict[str, Any] = {
            "report_version": REPORT_VERSION,
            "generated_ts": int(time.time() * 1000) if now_ms is None else now_ms,
            "db": str(db_path),
            "window": {"since_ts": since_ms, "until_ts": until_ms, "strategy": strategy},
            "runs": frame.runs,
            "strategies": frame.strategies,
            "period": period,
            "assumptions": _assumptions(frame, stress),
            "pnl": pnl,
            "execution": execution,
            "markouts": markouts,
            "returns": returns,
            "calibration": calibration,
            "health": health,
            "series": series,
        }
        report["gates"] = evaluate_gates(report)
        return report
    finally:
        conn.close()


PARALLEL_MIN_ROWS = 400_000  # orders + markouts above which a second process reads half the ledger


def _large(conn: sqlite3.Connection) -> bool:
    rows = sum(
        conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {t}").fetchone()[0]
        for t in ("order_intents", "markouts")
        if has_table(conn, t)
    )
    return rows >= PARALLEL_MIN_ROWS


def _start(section: Any, db_path: str | Path, frame: LedgerFrame, parallel: bool) -> Any:
    """Run `section(db_path, frame)` now (a small ledger) or in a process of its own (a large one); returns a
    function that gives its result."""
    if not parallel:
        result = section(str(db_path), frame)
        return lambda: result
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    future = pool.submit(section, str(db_path), frame)

    def wait() -> Any:
        try:
            return future.result()
        finally:
            pool.shutdown()

    return wait


def _execution_section(db_path: str, frame: LedgerFrame) -> dict[str, Any]:
    conn = connect(db_path)
    try:
        return _execution(conn, frame)
    finally:
        conn.close()


def _after_fill_sections(db_path: str, frame: LedgerFrame) -> tuple[Any, ...]:
    conn = connect(db_path)
    try:
        markouts, spread = _markouts(conn, frame)
        spreads = {"total": _spread_block(spread)}
        for code, name in enumerate(frame.strategies):
            sel = spread[:, 0] == code
            if sel.any():
                spreads[name] = _spread_block(spread[sel])
        return markouts, spreads, _calibration(conn, frame), _health(conn, frame)
    finally:
        conn.close()


# --- money -----------------------------------------------------------------------------------------------


def money(units: int) -> str:
    """1e-10 USDC units as an exact decimal string with at least 2 decimals."""
    d = Decimal(units).scaleb(-10).normalize()
    if d == 0:
        return "0.00"
    text = format(d, "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _f(units: int) -> float:
    return units / MONEY_UNITS


def _assumptions(frame: LedgerFrame, stress: tuple[float, float]) -> dict[str, Any]:
    cfg = frame.config
    ex = cfg.get("execution") or {}
    br = cfg.get("breakers") or {}
    return {
        "source": "the latest run's settings",
        "bankroll_usdc": str((cfg.get("bankroll") or {}).get("starting_usdc", "")) or None,
        "assumed_fill_rate": ex.get("min_fill_rate"),
        "assumed_fill_rate_from": "execution.min_fill_rate",
        "mutation_budget_per_min": ex.get("mutation_budget_per_min"),
        "stale_feed_global_s": br.get("stale_feed_global_s"),
        "cost_stress": {"fee_multiple": stress[0], "cents_per_share": stress[1]},
        "annualisation": {"1d": stats.PERIODS_PER_YEAR["1d"], "1h": stats.PERIODS_PER_YEAR["1h"]},
        "marks": "settlement payout, else the last evaluated mid, else the fill price (unmarked)",
    }


def _period(frame: LedgerFrame, conn: sqlite3.Connection) -> dict[str, Any]:
    where, args = frame.window.clause("ts", None)
    row = conn.execute(f"SELECT MIN(ts), MAX(ts) FROM pnl_snapshots WHERE 1=1{where}", args).fetchone()
    start, end = row if row else (None, None)
    if len(frame.fills):
        start = min(x for x in (start, int(frame.fills.ts.min())) if x is not None)
        end = max(x for x in (end, int(frame.fills.ts.max())) if x is not None)
    days = None if start is None or end is None else (end - start) / stats.DAY_MS
    return {"start_ts": start, "end_ts": end, "days": days}


def _token_values(conn: sqlite3.Connection, frame: LedgerFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per market: the YES token's end value (1e-4, -1 unknown), whether it is a settlement (exact) or a mark,
    and settlement cash per market is read separately. NO is worth 1 - YES."""
    m = frame.markets
    n = len(m.condition_ids)
    value = np.full(n, -1, dtype=np.int64)
    settled = np.zeros(n, dtype=bool)
    until = frame.window.until_ms
    resolved = (m.yes_payout >= 0) & (m.resolved_ts >= 0)
    if until is not None:
        resolved &= m.resolved_ts < until
    value[resolved] = m.yes_payout[resolved]
    settled[resolved] = True
    # payouts the ledger recorded as settlements (a market the venue settled but the markets row lacks)
    where, args = frame.window.clause("s.ts", None)
    for cid, token, payout in conn.execute(
        "SELECT s.condition_id, s.token_id = mk.yes_token_id, CAST(s.payout_per_share AS REAL) FROM settlements s"
        f" JOIN markets mk ON mk.condition_id = s.condition_id WHERE 1=1{where}",
        args,
    ):
        i = m.index.get(cid)
        if i is not None and not settled[i]:
            p = round(payout * PRICE_UNITS)
            value[i] = p if token else PRICE_UNITS - p
            settled[i] = True
    marked = np.zeros(n, dtype=bool)
    uwhere, uargs = ("", []) if until is None else (" AND ts < ?", [until])
    for cid, mid in conn.execute(
        "SELECT condition_id, market_mid FROM evaluations WHERE id IN (SELECT MAX(id) FROM evaluations"
        f" WHERE market_mid IS NOT NULL{uwhere} GROUP BY condition_id)",
        uargs,
    ):
        i = m.index.get(cid)
        if i is not None and not settled[i]:
            value[i] = round(mid * PRICE_UNITS)
            marked[i] = True
    return value, settled, marked


def _component_codes(frame: LedgerFrame) -> np.ndarray:
    f = frame.fills
    names = frame.strategies
    comp = np.empty(len(f), dtype=np.int64)
    for code, name in enumerate(names):
        sel = f.strategy == code
        kind = COMPONENT_OF.get(name, "manual" if name == "manual" else "satellite")
        if kind is None:
            comp[sel & f.maker] = COMPONENTS.index("maker")
            comp[sel & ~f.maker] = COMPONENTS.index("taker")
        else:
            comp[sel] = COMPONENTS.index(kind)
    comp[f.strategy < 0] = COMPONENTS.index("manual")
    return comp


@dataclass(frozen=True, slots=True)
class PnlSpread:
    net_by_market: list[int]  # 1e-10 USDC, one per market (and one for fills of an unknown market)
    notional_by_cluster: dict[str, int]


def _pnl(
    conn: sqlite3.Connection, frame: LedgerFrame, values: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[dict[str, Any], PnlSpread]:
    """The P&L section, and how it spreads over markets and clusters (the returns' concentration lines)."""
    f = frame.fills
    yes_value, settled, marked = values
    known = f.market >= 0
    mv = np.where(known, yes_value[np.clip(f.market, 0, None)], -1)
    v = np.where(mv < 0, -1, np.where(f.yes, mv, PRICE_UNITS - mv))
    unmarked = v < 0
    v = np.where(unmarked, f.price, v)
    is_settled = known & settled[np.clip(f.market, 0, None)]
    trading = f.sign * f.size * (v - f.price)  # 1e-10 USDC
    payout = np.where(is_settled, f.sign * f.size * v, 0)  # what settlement paid (or took back) for these shares
    notional = f.size * f.price
    open_value = np.where(~is_settled, f.sign * f.size * v, 0)  # marked, or at cost when unmarked
    columns = {
        "trading": trading, "cash": -f.sign * f.size * f.price, "fees": f.fee, "payout": payout, "notional": notional, "open_value": open_value,
        "maker_trading": np.where(f.maker, trading, 0), "maker_fees": np.where(f.maker, f.fee, 0),
        "fills": np.ones(len(f), dtype=np.int64), "maker_fills": f.maker.astype(np.int64),
        "unmarked": unmarked.astype(np.int64), "volume_shares": f.size,
    }  # fmt: skip
    income = _income(conn, frame)

    def groups(codes: np.ndarray, count: int) -> list[dict[str, int]]:
        return stats.group_sums_exact(codes, columns, count)

    names = frame.strategies
    strat_codes = np.where(f.strategy >= 0, f.strategy, len(names))
    by_strategy = groups(strat_codes, len(names) + 1)
    total = groups(np.zeros(len(f), dtype=np.int64), 1)[0]
    comp = groups(_component_codes(frame), len(COMPONENTS))
    mk = frame.markets
    mcodes = np.where(f.market >= 0, f.market, len(mk.condition_ids))
    by_market_raw = groups(mcodes, len(mk.condition_ids) + 1)
    clusters = sorted(set(mk.clusters))
    cluster_of = np.array([clusters.index(c) for c in mk.clusters] + [len(clusters)], dtype=np.int64)
    by_cluster_raw = groups(cluster_of[mcodes], len(clusters) + 1)

    def attribution(g: dict[str, int], rebates: int | None = None, rewards: int | None = None) -> dict[str, Any]:
        return {
            "fills": g["fills"],
            "maker_fills": g["maker_fills"],
            "taker_fills": g["fills"] - g["maker_fills"],
            "volume_usdc": money(g["notional"]),
            "gross_pnl": money(g["trading"]),
            "gross_pnl_maker": money(g["maker_trading"]),
            "gross_pnl_taker": money(g["trading"] - g["maker_trading"]),
            "fill_cash_flow": money(g["cash"]),
            "settlement_payouts": money(g["payout"]),
            "open_value": money(g["open_value"]),
            "fees": money(g["fees"]),
            "fees_maker": money(g["maker_fees"]),
            "fees_taker": money(g["fees"] - g["maker_fees"]),
            "net_pnl": money(g["trading"] - g["fees"]),
            "net_pnl_maker": money(g["maker_trading"] - g["maker_fees"]),
            "net_pnl_taker": money(g["trading"] - g["maker_trading"] - g["fees"] + g["maker_fees"]),
            "unmarked_fills": g["unmarked"],
            "rebates_est": None if rebates is None else money(rebates),
            "rewards_est": None if rewards is None else money(rewards),
            "merges_redemptions": {"redemptions": money(g["payout"]), "merges": None},
        }

    reb_s, rew_s = income["REBATE_strategy"], income["REWARD_strategy"]
    reb_m, rew_m = income["REBATE_market"], income["REWARD_market"]
    out_strat = {
        name: attribution(by_strategy[i], reb_s.get(name, 0), rew_s.get(name, 0))
        for i, name in enumerate(names)
        if by_strategy[i]["fills"] or (frame.window.strategy in (None, name))
    }
    if by_strategy[len(names)]["fills"]:
        out_strat["(unknown)"] = attribution(by_strategy[len(names)], 0, 0)
    markets_out = []
    for i in range(len(mk.condition_ids) + 1):
        g = by_market_raw[i]
        if not g["fills"]:
            continue
        cid = mk.condition_ids[i] if i < len(mk.condition_ids) else "(unknown)"
        row = attribution(g, reb_m.get(cid, 0), rew_m.get(cid, 0))
        row.update(
            condition_id=cid,
            slug=mk.slugs[i] if i < len(mk.slugs) else "(unknown)",
            cluster=mk.clusters[i] if i < len(mk.clusters) else "(none)",
            settled=bool(i < len(mk.condition_ids) and settled[i]),
            marked=bool(i < len(mk.condition_ids) and marked[i]),
            net_pnl_units=g["trading"] - g["fees"],
        )
        markets_out.append(row)
    markets_out.sort(key=lambda r: (-r["net_pnl_units"], r["condition_id"]))
    for r in markets_out:
        r.pop("net_pnl_units")
    cluster_names = [*clusters, "(none)"]
    by_cluster = {
        cluster_names[i]: attribution(by_cluster_raw[i])
        for i in range(len(cluster_names))
        if by_cluster_raw[i]["fills"]
    }
    settlement_cash = _settlement_cash(conn, frame)
    spread = PnlSpread(
        net_by_market=[g["trading"] - g["fees"] for g in by_market_raw],
        notional_by_cluster={cluster_names[i]: g["notional"] for i, g in enumerate(by_cluster_raw)},
    )
    return {
        "total": attribution(total, sum(reb_s.values()), sum(rew_s.values())),
        "by_strategy": out_strat,
        "by_component": {c: attribution(comp[i]) for i, c in enumerate(COMPONENTS)},
        "by_cluster": by_cluster,
        "by_market": markets_out,
        "check": {
            "settlement_cash_recorded": settlement_cash,
            "settlement_payouts_attributed": money(total["payout"]),
            "note": "the two agree when every settled share was bought in the window",
        },
    }, spread


def _settlement_cash(conn: sqlite3.Connection, frame: LedgerFrame) -> str:
    where, args = frame.window.clause("ts", None)
    total = sum((Decimal(r[0]) for r in conn.execute(f"SELECT cash FROM settlements WHERE 1=1{where}", args)), Decimal(0))
    return money(int(total.scaleb(10)))


def _income(conn: sqlite3.Connection, frame: LedgerFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {f"{k}_{b}": {} for k in ("REBATE", "REWARD") for b in ("strategy", "market")}
    if not has_table(conn, "maker_income"):
        return out
    where, args = frame.window.clause("ts")
    for sid, cid, kind, amount in conn.execute(
        "SELECT strategy_id, condition_id, kind, SUM(CAST(amount AS REAL)) FROM maker_income"
        f" WHERE 1=1{where} GROUP BY 1, 2, 3",
        args,
    ):
        units = round(amount * 1_000_000) * (MONEY_UNITS // 1_000_000)  # amounts carry 6 decimals
        for key, by in ((sid, "strategy"), (cid, "market")):
            d = out.setdefault(f"{kind}_{by}", {})
            d[key] = d.get(key, 0) + units
    return out


# --- returns ---------------------------------------------------------------------------------------------


def _capital(frame: LedgerFrame) -> float | None:
    cfg = frame.config
    bankroll = (cfg.get("bankroll") or {}).get("starting_usdc")
    if bankroll is None:
        return None
    if frame.window.strategy is None:
        return float(bankroll)
    share = ((cfg.get("strategies") or {}).get(frame.window.strategy) or {}).get("budget_pct")
    return None if share is None else float(bankroll) * float(share) / 100


def _returns(
    conn: sqlite3.Connection, frame: LedgerFrame, spread: PnlSpread, stress: tuple[float, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    where, args = frame.window.clause("s.ts", None)
    line = frame.window.strategy or ""
    rows = numeric(
        conn,
        "SELECT r.started_ts, s.ts, CAST(s.equity AS REAL) FROM pnl_snapshots s JOIN runs r ON r.run_id = s.run_id"
        f" WHERE s.strategy_id = ?{where} ORDER BY r.started_ts, s.run_id, s.ts",
        [line, *args],
        3,
    )
    capital = _capital(frame)
    ts = rows[:, 1].astype(np.int64)
    eq = rows[:, 2]
    if line and capital is not None:
        eq = eq + capital  # a strategy's line is its P&L from 0: on top of its budget
    # chain runs: step returns inside each run, compounded into one index (a restart's first point is a base)
    new_run = np.concatenate(([True], rows[1:, 0] != rows[:-1, 0])) if len(rows) else np.empty(0, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(new_run | (np.roll(eq, 1) == 0), 0.0, eq / np.roll(eq, 1) - 1.0)
    index = np.cumprod(1.0 + step) if len(step) else step
    base = float(eq[0]) if len(eq) else (capital or 0.0)
    curve = index * base
    # stress: each day's fills pay their fee (multiple - 1) more times and stress cents a share, off the curve
    fills = frame.fills
    extra = (fills.fee / MONEY_UNITS) * (stress[0] - 1.0) + (fills.size / 1e6) * stress[1] / 100
    blocks: dict[str, Any] = {}
    for name, period in (("daily", stats.DAY_MS), ("hourly", stats.HOUR_MS)):
        key = "1d" if name == "daily" else "1h"
        starts, r = stats.period_returns(ts, curve, period)
        blocks[name] = _return_block(starts, r, key, ts, curve, fills.ts, extra, period)
    dd = stats.max_drawdown(ts, curve)
    net_by_market = np.array([x for x in spread.net_by_market if x != 0], dtype=np.float64)
    gains = float(net_by_market[net_by_market > 0].sum()) / MONEY_UNITS if len(net_by_market) else 0.0
    losses = -float(net_by_market[net_by_market < 0].sum()) / MONEY_UNITS if len(net_by_market) else 0.0
    notional = {k: v for k, v in spread.notional_by_cluster.items() if v}
    total_notional = sum(notional.values())
    absolute = np.sort(np.abs(net_by_market))[::-1]
    largest = max(notional.items(), key=lambda kv: kv[1]) if notional else None
    returns = {
        "basis": f"strategy:{line}" if line else "account",
        "capital_usdc": capital,
        "daily": blocks["daily"],
        "hourly": blocks["hourly"],
        "drawdown": {
            "max_drawdown": dd.max_drawdown,
            "peak_ts": dd.peak_ts,
            "trough_ts": dd.trough_ts,
            "duration_s": dd.duration_ms / 1000,
            "recovered": dd.recovered,
        },
        "win_rate": float((net_by_market > 0).mean()) if len(net_by_market) else None,
        "profit_factor": (gains / losses) if losses > 0 else None,
        "win_basis": "markets traded (each market's net P&L)",
        "concentration": {
            "markets_traded": int(len(net_by_market)),
            "top5_share": float(absolute[:5].sum() / absolute.sum()) if absolute.sum() > 0 else None,
            "top5_basis": "top 5 markets' |net P&L| over all markets' |net P&L|",
            "clusters_traded": len(notional),
            "largest_cluster": largest[0] if largest else None,
            "largest_cluster_share": (largest[1] / total_notional) if largest and total_notional else None,
            "cluster_basis": "share of traded notional",
        },
    }
    s_ts, s_eq = stats.downsample_last(ts, curve, SERIES_POINTS)
    series: dict[str, Any] = {
        "equity": {
            "ts": s_ts.tolist(),
            "equity": [round(float(x), 6) for x in s_eq],
            "drawdown": [round(float(x), 6) for x in stats.drawdown_series(s_eq)],
        },
        "pnl_by_strategy": _strategy_series(conn, frame),
    }
    return returns, series


def _return_block(
    starts: np.ndarray,
    r: np.ndarray,
    key: str,
    ts: np.ndarray,
    curve: np.ndarray,
    f_ts: np.ndarray,
    extra: np.ndarray,
    period: int,
) -> dict[str, Any]:
    per_year = stats.PERIODS_PER_YEAR[key]
    mdd = stats.max_drawdown(ts, curve).max_drawdown
    stressed = r.copy()
    if len(r):
        # the period's stress cost against the period's starting equity
        bucket_of_fill = f_ts // period
        buckets = starts // period
        cost = np.zeros(len(r))
        pos = np.searchsorted(buckets, bucket_of_fill)
        ok = (pos < len(buckets)) & (buckets[np.clip(pos, 0, len(buckets) - 1)] == bucket_of_fill)
        np.add.at(cost, pos[ok], extra[ok])
        start_eq = curve[np.searchsorted(ts, starts, side="left").clip(0, len(curve) - 1)]
        with np.errstate(divide="ignore", invalid="ignore"):
            stressed = r - np.where(start_eq != 0, cost / np.abs(start_eq), 0.0)
    return {
        "period": key,
        "periods": int(len(r)),
        "mean": float(np.mean(r)) if len(r) else None,
        "sharpe": stats.sharpe(r, per_year),
        "sortino": stats.sortino(r, per_year),
        "calmar": stats.calmar(r, per_year, mdd),
        "sharpe_stressed": stats.sharpe(stressed, per_year),
        "positive_share": float((r > 0).mean()) if len(r) else None,
        "best": float(r.max()) if len(r) else None,
        "worst": float(r.min()) if len(r) else None,
        "returns": [{"ts": int(t), "r": round(float(x), 8)} for t, x in zip(starts[-400:], r[-400:], strict=True)],
    }


def _strategy_series(conn: sqlite3.Connection, frame: LedgerFrame) -> dict[str, Any]:
    where, args = frame.window.clause("ts")
    names = frame.strategies
    rows = numeric(
        conn,
        f"SELECT {case_codes('strategy_id', names)}, ts, CAST(equity AS REAL) FROM pnl_snapshots"
        f" WHERE strategy_id != ''{where} ORDER BY ts",
        args,
        3,
    )
    out: dict[str, Any] = {}
    for code, name in enumerate(names):
        sel = rows[:, 0] == code
        if not sel.any():
            continue
        t, v = stats.downsample_last(rows[sel, 1].astype(np.int64), rows[sel, 2], SERIES_POINTS)
        out[name] = {"ts": t.tolist(), "pnl": [round(float(x), 6) for x in v]}
    return out


# --- execution -------------------------------------------------------------------------------------------


def _execution(conn: sqlite3.Connection, frame: LedgerFrame) -> dict[str, Any]:
    names = frame.strategies
    codes = case_codes("strategy_id", names)
    where, args = frame.window.clause("ts")
    per: dict[int, dict[str, Any]] = {}

    def slot(code: int) -> dict[str, Any]:
        return per.setdefault(code, {"orders": 0, "finished": 0, "filled_any": 0, "share": 0.0,
                                     "by_state": Counter(), "replaces": 0})  # fmt: skip

    # One pass over the orders (a week is millions): strategy, state and "filled at all" packed in one number
    states = "(CASE state " + " ".join(f"WHEN '{st}' THEN {i}" for i, st in enumerate(ORDER_STATES)) + " ELSE 0 END)"
    orders = numeric(
        conn,
        f"SELECT ({codes} + 1) * 64 + {states} * 2 + (CAST(filled AS REAL) > 0), ts, updated_ts,"
        f" COALESCE(CAST(filled AS REAL) / NULLIF(CAST(size AS REAL), 0), 0) FROM order_intents WHERE 1=1{where}",
        args,
        4,
    )
    packed = orders[:, 0].astype(np.int64)
    key = packed // 2  # (strategy + 1) * 32 + state
    counts = np.bincount(key, minlength=32 * (len(names) + 1))
    filled_any = np.bincount(key, weights=(packed & 1).astype(np.float64), minlength=len(counts))
    share = np.bincount(key, weights=orders[:, 3], minlength=len(counts))
    for k in np.flatnonzero(counts):
        code, state = int(k) // 32 - 1, ORDER_STATES[int(k) % 32]
        sl = slot(code)
        n = int(counts[k])
        sl["orders"] += n
        sl["by_state"][state] += n
        sl["share"] += float(share[k])
        if state in TERMINAL_STATES:
            sl["finished"] += n
            sl["filled_any"] += int(filled_any[k])
    cancelled = (packed // 2) % 32 == ORDER_STATES.index("CANCELLED")
    if has_table(conn, "mandates"):
        for code, replaces in conn.execute(
            f"SELECT {codes}, COUNT(*) - COUNT(DISTINCT proposal_id || ':' || token_id || ':' || side)"
            f" FROM order_intents WHERE proposal_id IN (SELECT id FROM mandates){where} GROUP BY 1",
            args,
        ):
            slot(code)["replaces"] += replaces
    # time to fill: placement to the last fill of an order that filled completely (its final update)
    done = (packed // 2) % 32 == ORDER_STATES.index("FILLED")
    ttf = np.column_stack(((packed[done] >> 6) - 1, orders[done, 2] - orders[done, 1]))
    pwhere, pargs = frame.window.clause("p.ts", "p.strategy_id")
    slip = numeric(
        conn,
        f"SELECT {case_codes('p.strategy_id', names)}, p.side = 'BUY', p.expected_slippage_bps,"
        " CAST(json_extract(p.rationale_json, '$.touch') AS REAL),"
        " SUM(CAST(f.price AS REAL) * CAST(f.size AS REAL)) / SUM(CAST(f.size AS REAL))"
        " FROM proposals p JOIN order_intents o ON o.proposal_id = p.id"
        " JOIN fills f ON f.client_order_id = o.client_order_id"
        " WHERE p.expected_slippage_bps IS NOT NULL AND json_extract(p.rationale_json, '$.touch') IS NOT NULL"
        f"{pwhere} GROUP BY p.id",
        pargs,
        5,
    )
    assumed = (frame.config.get("execution") or {}).get("min_fill_rate")
    blocks: dict[str, Any] = {}
    all_codes = sorted(set(per) | set(np.unique(ttf[:, 0]).astype(int)))
    total = _execution_block(per.values(), ttf[:, 1], slip, assumed)
    for code in all_codes:
        if code < 0:
            continue
        name = names[code]
        if frame.window.strategy not in (None, name):
            continue
        blocks[name] = _execution_block(
            [per[code]] if code in per else [],
            ttf[ttf[:, 0] == code, 1],
            slip[slip[:, 0] == code],
            assumed,
        )
    return {"total": total, "by_strategy": blocks, "mutations": _mutations(frame, orders[:, 1], orders[cancelled, 2])}


def _execution_block(
    slots: Any, ttf: np.ndarray, slip: np.ndarray, assumed: float | None
) -> dict[str, Any]:
    orders = finished = filled_any = replaces = 0
    share = 0.0
    states: Counter[str] = Counter()
    for s in slots:
        orders += s["orders"]
        finished += s["finished"]
        filled_any += s["filled_any"]
        replaces += s["replaces"]
        share += s["share"]
        states.update(s["by_state"])
    fill_rate = filled_any / finished if finished else None
    ttf_s = ttf / 1000
    if len(slip):
        touch, vwap, buy = slip[:, 3], slip[:, 4], slip[:, 1] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            realized = np.where(touch > 0, np.where(buy, vwap - touch, touch - vwap) / touch * 1e4, 0.0)
        expected = slip[:, 2]
    else:
        realized = expected = np.empty(0)
    return {
        "orders": orders,
        "finished": finished,
        "filled_any": filled_any,
        "fill_rate": fill_rate,
        "assumed_fill_rate": assumed,
        "fill_rate_vs_assumed": (fill_rate / assumed - 1.0) if fill_rate is not None and assumed else None,
        "mean_filled_share": (share / orders) if orders else None,
        "cancels": states.get("CANCELLED", 0),
        "expired": states.get("EXPIRED", 0),
        "rejected": states.get("REJECTED", 0),
        "replaces": replaces,
        "cancel_per_order": states.get("CANCELLED", 0) / orders if orders else None,
        "time_to_fill_s": {
            "definition": "placement to the last fill, orders that filled completely",
            "n": int(len(ttf_s)),
            "median": float(np.median(ttf_s)) if len(ttf_s) else None,
            "p90": float(np.percentile(ttf_s, 90)) if len(ttf_s) else None,
            "mean": float(np.mean(ttf_s)) if len(ttf_s) else None,
        },
        "slippage_bps": {
            "n": int(len(realized)),
            "expected_mean": float(np.mean(expected)) if len(expected) else None,
            "realized_mean": float(np.mean(realized)) if len(realized) else None,
            "realized_minus_expected_mean": float(np.mean(realized - expected)) if len(realized) else None,
        },
    }


def _mutations(frame: LedgerFrame, placed_ts: np.ndarray, cancel_ts: np.ndarray) -> dict[str, Any]:
    """Placements and cancels a minute of engine time against the budget (the firewall counts both); a
    cancel is counted at its order's last update (the venue's confirmation)."""
    placed = placed_ts.astype(np.int64) // 60_000
    cancels = cancel_ts.astype(np.int64) // 60_000
    minutes = np.concatenate((placed, cancels))
    budget = (frame.config.get("execution") or {}).get("mutation_budget_per_min")
    if not len(minutes):
        return {"budget_per_min": budget, "active_minutes": 0, "peak_per_min": None, "mean_per_active_min": None,
                "p99_per_min": None, "peak_share_of_budget": None, "minutes_over_90pct": 0,
                "placements": 0, "cancels": 0}  # fmt: skip
    _, per_min = np.unique(minutes, return_counts=True)
    return {
        "budget_per_min": budget,
        "active_minutes": int(len(per_min)),
        "peak_per_min": int(per_min.max()),
        "mean_per_active_min": float(per_min.mean()),
        "p99_per_min": float(np.percentile(per_min, 99)),
        "peak_share_of_budget": float(per_min.max() / budget) if budget else None,
        "minutes_over_90pct": int((per_min >= 0.9 * budget).sum()) if budget else 0,
        "placements": int(len(placed)),
        "cancels": int(len(cancels)),
    }


# --- markouts --------------------------------------------------------------------------------------------


def _markout_stats(x: np.ndarray) -> dict[str, Any]:
    d = stats.distribution(x, MARKOUT_EDGES)
    t = stats.mean_test(x)
    d.update(t_stat=t.t_stat, ci_low=t.ci_low, ci_high=t.ci_high, ci_method=t.method,
             significantly_negative=t.significantly_negative)  # fmt: skip
    return d


def _markouts(conn: sqlite3.Connection, frame: LedgerFrame) -> tuple[dict[str, Any], np.ndarray]:
    """The markouts section, and the fill-time rows (horizon 0: strategy, maker, cents) for the realized
    spread; one pass over the table, horizon, side and strategy packed in one number."""
    names = frame.strategies
    if not has_table(conn, "markouts"):
        rows = np.empty((0, 2))
    else:
        where, args = frame.window.clause("(ts - horizon_s * 1000)")
        rows = numeric(
            conn,
            f"SELECT horizon_s * 1024 + maker * 512 + {case_codes('strategy_id', names)} + 1, cents FROM markouts"
            f" WHERE 1=1{where}",
            args,
            2,
        )
    packed = rows[:, 0].astype(np.int64)
    h, maker, strat, cents = packed // 1024, (packed & 512) > 0, (packed & 511) - 1, rows[:, 1]
    at_fill = h == 0
    spread = np.column_stack((strat[at_fill], maker[at_fill], cents[at_fill]))

    def per_horizon(sel: np.ndarray) -> dict[str, Any]:
        return {name: _markout_stats(cents[sel & (h == secs)]) for secs, name in MARKOUT_HORIZONS.items()}

    later = ~at_fill
    return {
        "horizons": list(MARKOUT_HORIZONS.values()),
        "unit": "cents a share, for our side (positive: the market moved our way after the fill)",
        "total": per_horizon(later),
        "maker": per_horizon(later & maker),
        "taker": per_horizon(later & ~maker),
        "by_strategy": {
            name: per_horizon(later & (strat == code))
            for code, name in enumerate(names)
            if (later & (strat == code)).any() and frame.window.strategy in (None, name)
        },
    }, spread


def _add_realized_spread(execution: dict[str, Any], spreads: dict[str, Any]) -> None:
    execution["total"]["realized_spread_cents"] = spreads["total"]
    for name, block in execution["by_strategy"].items():  # strategies with orders (fills come from orders)
        block["realized_spread_cents"] = spreads.get(name) or _spread_block(np.empty((0, 3)))


def _spread_block(spread: np.ndarray) -> dict[str, Any]:
    net = spread[:, 2]
    maker = spread[:, 1] > 0
    return {
        "definition": "per fill: the token's mid when the fill arrived against the fill price, for our side"
        " (fees are in the P&L section)",
        "n": int(len(net)),
        "mean": float(np.mean(net)) if len(net) else None,
        "median": float(np.median(net)) if len(net) else None,
        "maker_median": float(np.median(net[maker])) if maker.any() else None,
        "taker_median": float(np.median(net[~maker])) if (~maker).any() else None,
    }


# --- calibration -----------------------------------------------------------------------------------------


def _calibration(conn: sqlite3.Connection, frame: LedgerFrame) -> dict[str, Any]:
    brains = [r[0] for r in conn.execute("SELECT DISTINCT brain FROM evaluations")]
    where, args = frame.window.clause("ts")
    rows = numeric(
        conn,
        f"SELECT {case_codes('brain', brains)}, p_hat, COALESCE(market_mid, -1), outcome,"
        " (SELECT rowid FROM markets m WHERE m.condition_id = e.condition_id)"
        f" FROM evaluations e WHERE outcome IS NOT NULL AND p_hat IS NOT NULL{where}",
        args,
        5,
    )
    out: dict[str, Any] = {}
    for code, name in enumerate(brains):
        sel = rows[:, 0] == code
        if not sel.any():
            continue
        r = rows[sel]
        out[name] = _calibration_block(r[:, 1], r[:, 3], r[:, 2], r[:, 4])
    have_mid = rows[:, 2] >= 0
    return {
        "brains": out,
        "market": _calibration_block(rows[have_mid, 2], rows[have_mid, 3], None, rows[have_mid, 4]),
        "note": "each evaluation is a sample (a market is evaluated every cycle until it resolves)",
    }


def _calibration_block(p: np.ndarray, y: np.ndarray, mid: np.ndarray | None, market: np.ndarray) -> dict[str, Any]:
    block: dict[str, Any] = {
        "n": int(len(p)),
        "markets": int(len(np.unique(market))) if len(market) else 0,
        "brier": stats.brier(p, y),
        "log_loss": stats.log_loss(p, y),
        "reliability": stats.reliability(p, y) if len(p) else [],
    }
    if mid is not None:
        ok = mid >= 0
        bm = stats.brier(mid[ok], y[ok])
        block["brier_market"] = bm
        block["log_loss_market"] = stats.log_loss(mid[ok], y[ok])
        block["brier_skill"] = (1 - block["brier"] / bm) if bm and block["brier"] is not None else None
    return block


# --- health ----------------------------------------------------------------------------------------------


def _health(conn: sqlite3.Connection, frame: LedgerFrame) -> dict[str, Any]:
    where, args = frame.window.clause("ts", None)
    feed: dict[str, Any] = {"samples": 0, "uptime": None, "reconnects": None, "stale_book_share": None,
                            "stale_book_hours": None, "book_hours": None}  # fmt: skip
    if has_table(conn, "health"):
        rows = conn.execute(
            f"SELECT run_id, ts, books, stale_books, feed_age_ms, reconnects FROM health WHERE 1=1{where}"
            " ORDER BY run_id, ts",
            args,
        ).fetchall()
        if rows:
            limit = float((frame.config.get("breakers") or {}).get("stale_feed_global_s", 30.0)) * 1000
            up = total = stale = books = 0.0
            reconnects: dict[str, int] = {}
            for i, (run, ts, nb, ns, age, rc) in enumerate(rows):
                nxt = rows[i + 1] if i + 1 < len(rows) else None
                dt = (nxt[1] - ts) if nxt is not None and nxt[0] == run else 0
                total += dt
                up += dt if age <= limit else 0
                stale += dt * ns
                books += dt * nb
                reconnects[run] = max(reconnects.get(run, 0), rc)
            feed = {
                "samples": len(rows),
                "uptime": (up / total) if total else None,
                "reconnects": sum(reconnects.values()),
                "stale_book_share": (stale / books) if books else None,
                "stale_book_hours": stale / stats.HOUR_MS,
                "book_hours": books / stats.HOUR_MS,
            }
    halts = [
        {"ts": r[0], "kind": r[1], "reason": r[2], "trigger_value": r[3], "threshold": r[4], "action": r[5],
         "resumed_ts": r[6], "resumed_by": r[7], "duration_s": None if r[6] is None else (r[6] - r[0]) / 1000}
        for r in conn.execute(
            "SELECT ts, kind, reason, trigger_value, threshold, action, resumed_ts, resumed_by FROM halts"
            f" WHERE 1=1{where} ORDER BY ts",
            args,
        )
    ]  # fmt: skip
    rejections = dict(
        conn.execute(
            f"SELECT cause, COUNT(*) FROM order_events WHERE state_to = 'REJECTED'{where} GROUP BY cause"
            " ORDER BY 2 DESC",
            args,
        ).fetchall()
    )
    refusals: Counter[str] = Counter()
    rwhere, rargs = frame.window.clause("started_ts", None)
    for (summary,) in conn.execute(f"SELECT summary_json FROM runs WHERE summary_json IS NOT NULL{rwhere}", rargs):
        refusals.update((orjson.loads(summary) or {}).get("refusals") or {})
    trips = Counter(h["kind"] for h in halts)
    return {
        "feed": feed,
        "breaker_trips": dict(sorted(trips.items())),
        "halts": halts,
        "resumed_by": dict(Counter(h["resumed_by"] or "(not resumed)" for h in halts)),
        "rejections_by_reason": rejections,
        "refusals_by_rule": dict(refusals.most_common()),
        "refusals_note": "risk refusals are counted per run (whole runs that started in the window)",
        "reconciliation": {
            "mismatch_halts": sum(1 for h in halts if h["kind"] == "reconcile"),
            "details": [h["reason"] for h in halts if h["kind"] == "reconcile"][:20],
        },
    }


__all__ = ["COMPONENTS", "MARKOUT_HORIZONS", "REPORT_VERSION", "build_report", "money"]
