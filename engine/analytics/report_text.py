"""The truth report as plain text: for `bigearn-tui report` in a terminal and the console's Report screen.

`sections(report)` gives (title, body) pairs, each body lines of fixed-width columns; `render_text` joins them.
Numbers are rounded for reading (money to cents, ratios to 2-3 places); `--json` has them exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

VERDICT_MARK = {"PASS": "PASS", "FAIL": "FAIL", "NOT ENOUGH DATA": "n/a "}


def when(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def usd(text: str | None) -> str:
    if text is None:
        return "-"
    d = Decimal(text)
    return f"{d:,.2f}"


def num(x: float | int | None, places: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{places}f}"


def pct(x: float | None, places: int = 1) -> str:
    return "-" if x is None else f"{x * 100:.{places}f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 86_400:
        return f"{s // 86_400}d {s % 86_400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}m {s % 60:02d}s"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "l") -> list[str]:
    """Columns sized to their widest cell; `align` gives each column's side ("l" or "r"; columns past its end
    are right-aligned: numbers)."""
    body = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < len(align) and align[i] == "l" else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]


def _gates(report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, gate in report["gates"].items():
        out.append(f"Gate {name}: {gate['status']}")
        rows = []
        for ln in gate["lines"]:
            v = ln["value"]
            value = num(v, 3) if isinstance(v, float) else ("-" if v is None else str(v))
            rows.append([f"  {ln['name']}", value, f"{ln['op']} {ln['threshold']}", VERDICT_MARK[ln["status"]],
                         ln["detail"]])  # fmt: skip
        out += table(["  line", "value", "needs", "", "detail"], rows, align="lrrll")[2:]
    return out


_PNL_HEADER = ["", "fills", "maker", "taker", "volume", "gross", "gross mkr", "gross tkr", "fees", "net",
               "settled", "open", "rebates~", "rewards~"]  # fmt: skip


def _pnl_row(label: str, a: dict[str, Any]) -> list[str]:
    return [label, num(a["fills"]), num(a["maker_fills"]), num(a["taker_fills"]), usd(a["volume_usdc"]),
            usd(a["gross_pnl"]), usd(a["gross_pnl_maker"]), usd(a["gross_pnl_taker"]), usd(a["fees"]),
            usd(a["net_pnl"]), usd(a["settlement_payouts"]), usd(a["open_value"]), usd(a["rebates_est"]),
            usd(a["rewards_est"])]  # fmt: skip


def _pnl(report: dict[str, Any]) -> list[str]:
    p = report["pnl"]
    rows = [_pnl_row("total", p["total"])]
    rows += [_pnl_row(f"  {k}", v) for k, v in p["by_strategy"].items()]
    out = table(_PNL_HEADER, rows)
    comp = [_pnl_row(k, v) for k, v in p["by_component"].items() if v["fills"]]
    if comp:
        out += ["", "By component", *table(_PNL_HEADER, comp)]
    clusters = sorted(p["by_cluster"].items(), key=lambda kv: Decimal(kv[1]["net_pnl"]))
    if clusters:
        shown = clusters if len(clusters) <= 10 else clusters[:5] + clusters[-5:]
        out += ["", f"By cluster ({len(clusters)}; worst and best)" if len(clusters) > 10 else "By cluster",
                *table(_PNL_HEADER, [_pnl_row(k[:28], v) for k, v in shown])]  # fmt: skip
    markets = p["by_market"]
    if markets:
        shown = markets if len(markets) <= 10 else markets[:5] + markets[-5:]
        out += ["", f"By market ({len(markets)}; best and worst)" if len(markets) > 10 else "By market",
                *table(_PNL_HEADER, [_pnl_row(m["slug"][:28], m) for m in shown])]  # fmt: skip
    c = p["check"]
    out += ["", f"settlement cash recorded {usd(c['settlement_cash_recorded'])}, attributed "
            f"{usd(c['settlement_payouts_attributed'])} ({c['note']}); merges: none recorded"]  # fmt: skip
    return out


def _execution_rows(label: str, x: dict[str, Any]) -> list[str]:
    t, s, sl = x["time_to_fill_s"], x["realized_spread_cents"], x["slippage_bps"]
    return [label, num(x["orders"]), pct(x["fill_rate"]), pct(x["assumed_fill_rate"], 0), pct(x["mean_filled_share"]),
            num(x["cancels"]), num(x["expired"]), num(x["rejected"]), num(x["replaces"]), num(t["median"], 1),
            num(t["p90"], 1), num(s["median"], 2), num(s["mean"], 2), num(sl["expected_mean"], 1),
            num(sl["realized_mean"], 1)]  # fmt: skip


def _execution(report: dict[str, Any]) -> list[str]:
    e = report["execution"]
    header = ["", "orders", "fill rate", "assumed", "filled share", "cancels", "expired", "rejected", "replaces",
              "ttf med s", "ttf p90 s", "spread med c", "spread mean c", "slip exp bp", "slip real bp"]  # fmt: skip
    rows = [_execution_rows("total", e["total"])]
    rows += [_execution_rows(f"  {k}", v) for k, v in e["by_strategy"].items()]
    m = e["mutations"]
    return [
        *table(header, rows),
        "",
        f"mutations (placements + cancels a minute): budget {m['budget_per_min']}, peak {num(m['peak_per_min'])}"
        f" ({pct(m['peak_share_of_budget'])} of budget), mean {num(m['mean_per_active_min'], 1)} over"
        f" {num(m['active_minutes'])} active minutes, {m['minutes_over_90pct']} minutes at >= 90%",
        f"realized spread: {e['total']['realized_spread_cents']['definition']}",
    ]


def _markouts(report: dict[str, Any]) -> list[str]:
    mk = report["markouts"]
    header = ["", "n", "mean", "median", "std", "p05", "p95", "95% interval", "t", "sig. negative"]
    rows = []
    for group in ("total", "maker", "taker"):
        for h in mk["horizons"]:
            s = mk[group][h]
            if group != "total" and not s["n"]:
                continue
            ci = "-" if s["ci_low"] is None else f"[{s['ci_low']:+.2f}, {s['ci_high']:+.2f}]"
            sig = {True: "YES", False: "no", None: "-"}[s["significantly_negative"]]
            rows.append([f"{group} {h}", num(s["n"]), num(s["mean"]), num(s["median"]), num(s["std"]),
                         num(s["p05"]), num(s["p95"]), ci, num(s["t_stat"]), sig])  # fmt: skip
    for name, per in mk["by_strategy"].items():
        for h in mk["horizons"]:
            s = per[h]
            ci = "-" if s["ci_low"] is None else f"[{s['ci_low']:+.2f}, {s['ci_high']:+.2f}]"
            sig = {True: "YES", False: "no", None: "-"}[s["significantly_negative"]]
            rows.append([f"{name} {h}", num(s["n"]), num(s["mean"]), num(s["median"]), num(s["std"]),
                         num(s["p05"]), num(s["p95"]), ci, num(s["t_stat"]), sig])  # fmt: skip
    return [f"in {mk['unit']}", *table(header, rows)]


def _returns(report: dict[str, Any]) -> list[str]:
    r = report["returns"]
    header = ["", "periods", "mean", "Sharpe", "Sortino", "Calmar", "Sharpe stressed", "up share", "best", "worst"]
    rows = [
        [name, num(b["periods"]), pct(b["mean"], 3), num(b["sharpe"]), num(b["sortino"]), num(b["calmar"]),
         num(b["sharpe_stressed"]), pct(b["positive_share"], 0), pct(b["best"], 2), pct(b["worst"], 2)]
        for name, b in (("daily", r["daily"]), ("hourly", r["hourly"]))
    ]  # fmt: skip
    dd = r["drawdown"]
    c = r["concentration"]
    return [
        f"basis: {r['basis']}, capital {num(r['capital_usdc'])} USDC; ratios annualised (365 days)",
        *table(header, rows),
        "",
        f"max drawdown {pct(dd['max_drawdown'], 2)} from {when(dd['peak_ts'])} to {when(dd['trough_ts'])},"
        f" lasting {duration(dd['duration_s'])}{'' if dd['recovered'] else ' (not recovered)'}",
        f"win rate {pct(r['win_rate'])}, profit factor {num(r['profit_factor'])} ({r['win_basis']})",
        f"concentration: {c['markets_traded']} markets, top 5 hold {pct(c['top5_share'])} of |P&L|;"
        f" {c['clusters_traded']} clusters, largest {(c['largest_cluster'] or '-')[:40]} at {pct(c['largest_cluster_share'])}"
        f" of notional",
    ]


def _calibration(report: dict[str, Any]) -> list[str]:
    cal = report["calibration"]
    header = ["", "samples", "markets", "Brier", "log loss", "Brier market", "skill"]
    rows = [
        [name, num(b["n"]), num(b["markets"]), num(b["brier"], 4), num(b["log_loss"], 4), num(b.get("brier_market"), 4),
         pct(b.get("brier_skill"), 2)]
        for name, b in cal["brains"].items()
    ]  # fmt: skip
    m = cal["market"]
    rows.append(["market (mid)", num(m["n"]), num(m["markets"]), num(m["brier"], 4), num(m["log_loss"], 4), "-", "-"])
    out = table(header, rows)
    for name, b in [*cal["brains"].items(), ("market (mid)", m)]:
        if b["reliability"]:
            cells = "  ".join(f"{x['predicted']:.2f}->{x['observed']:.2f} ({x['count']})" for x in b["reliability"])
            out.append(f"reliability {name}: {cells}")
    out.append(cal["note"])
    return out


def _health(report: dict[str, Any]) -> list[str]:
    h = report["health"]
    f = h["feed"]
    out = [
        f"feed: uptime {pct(f['uptime'], 2)}, reconnects {num(f['reconnects'])}, stale books {pct(f['stale_book_share'], 2)}"
        f" of book time ({num(f['stale_book_hours'], 2)} of {num(f['book_hours'], 1)} book-hours), {f['samples']} samples",
        "breaker trips: " + (", ".join(f"{k} {v}" for k, v in h["breaker_trips"].items()) or "none"),
        "resumed by: " + (", ".join(f"{k} {v}" for k, v in h["resumed_by"].items()) or "-"),
        "venue rejections: " + (", ".join(f"{k} ({v})" for k, v in h["rejections_by_reason"].items()) or "none"),
        "risk refusals: " + (", ".join(f"{k} {v}" for k, v in h["refusals_by_rule"].items()) or "none"),
        f"reconciliation mismatch halts: {h['reconciliation']['mismatch_halts']}",
    ]
    if h["halts"]:
        rows = [[when(x["ts"]), x["kind"], x["reason"][:60], x["resumed_by"] or "-", duration(x["duration_s"])]
                for x in h["halts"][-15:]]  # fmt: skip
        out += ["", *table(["halted", "kind", "reason", "resumed by", "lasted"], rows, align="llll")]
    return out


def sections(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    p = report["period"]
    runs = report["runs"]
    w = report["window"]
    head = [
        f"ledger {report['db']}: {len(runs)} run(s) "
        + ", ".join(f"{r['venue']}/{r['mode']} {when(r['started_ts'])}" for r in runs[-3:]),
        f"window {when(w['since_ts'])} .. {when(w['until_ts'])}, strategy {w['strategy'] or 'all'};"
        f" data {when(p['start_ts'])} .. {when(p['end_ts'])} ({num(p['days'], 2)} days)",
    ]
    return [
        ("Truth report", head),
        ("Promotion gates", _gates(report)),
        ("P&L attribution (USDC; ~ = estimate)", _pnl(report)),
        ("Execution quality", _execution(report)),
        ("Markouts", _markouts(report)),
        ("Risk-adjusted returns", _returns(report)),
        ("Calibration", _calibration(report)),
        ("Health", _health(report)),
    ]


def render_text(report: dict[str, Any]) -> str:
    out: list[str] = []
    for title, body in sections(report):
        out += [title, "=" * len(title), *body, ""]
    return "\n".join(out)


__all__ = ["render_text", "sections", "table", "when"]
