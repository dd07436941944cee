"""The truth report as one self-contained HTML page: `render_html(report) -> str`.

It renders the dict of `truth_report.build_report` (read that module's docstring for the keys) as a risk
report: header, gates, P&L attribution, execution quality, markouts, risk-adjusted returns, calibration and
health, each a heading over compact tables, with five plots. The page needs no network: the style sheet is
inline and every plot is an inline <svg> drawn by matplotlib, imported lazily inside `render_html` (a `Figure`
printed by the SVG canvas: no pyplot, so no global figure state and no GUI backend). Text stays text in the
SVG (svg.fonttype "none"), element ids are prefixed per plot so several plots live in one page, and the
output is deterministic (fixed hash salt, no date in the metadata).

Every text value is escaped (market slugs and halt reasons are external input). Money is shown to the cent
with the exact decimal string in the cell's tooltip; a value the report could not measure (null) is an em
dash; times are unix ms shown in UTC. A missing key renders as not measured rather than failing.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

DASH = "\u2014"
GATE_TITLES = {
    "A": "research \u2192 paper",
    "B": "paper \u2192 small live ($500)",
    "C": "scale ($500 \u2192 $5,000)",
}
STATUS_CLASS = {"PASS": "pass", "FAIL": "fail"}  # anything else (NOT ENOUGH DATA): "nodata"
HORIZONS = ("30s", "2m", "10m")
COMPONENTS = ("maker", "taker", "arbitrage", "satellite", "manual")
MARKETS_SHOWN = 10  # top and bottom by net P&L

# an attribution block's columns: key, heading, kind
ATTRIBUTION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("fills", "Fills", "int"),
    ("maker_fills", "Maker fills", "int"),
    ("taker_fills", "Taker fills", "int"),
    ("volume_usdc", "Volume", "money"),
    ("gross_pnl", "Gross P&L", "money"),
    ("gross_pnl_maker", "Gross maker", "money"),
    ("gross_pnl_taker", "Gross taker", "money"),
    ("fees", "Fees", "money"),
    ("net_pnl", "Net P&L", "money"),
    ("settlement_payouts", "Settlement payouts", "money"),
    ("open_value", "Open value", "money"),
    ("rebates_est", "Rebates est.", "money"),
    ("rewards_est", "Rewards est.", "money"),
)

EXECUTION_ROWS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Orders", ("orders",), "int"),
    ("Finished", ("finished",), "int"),
    ("Filled (any)", ("filled_any",), "int"),
    ("Fill rate", ("fill_rate",), "pct"),
    ("Assumed fill rate", ("assumed_fill_rate",), "pct"),
    ("Fill rate vs assumed (relative)", ("fill_rate_vs_assumed",), "pct"),
    ("Mean share filled", ("mean_filled_share",), "pct"),
    ("Cancels", ("cancels",), "int"),
    ("Cancels per order", ("cancel_per_order",), "f2"),
    ("Expired", ("expired",), "int"),
    ("Rejected", ("rejected",), "int"),
    ("Replaces", ("replaces",), "int"),
    ("Time to fill n", ("time_to_fill_s", "n"), "int"),
    ("Time to fill median (s)", ("time_to_fill_s", "median"), "f2"),
    ("Time to fill p90 (s)", ("time_to_fill_s", "p90"), "f2"),
    ("Time to fill mean (s)", ("time_to_fill_s", "mean"), "f2"),
    ("Realized spread n", ("realized_spread_cents", "n"), "int"),
    ("Realized spread mean (\u00a2)", ("realized_spread_cents", "mean"), "f3"),
    ("Realized spread median (\u00a2)", ("realized_spread_cents", "median"), "f3"),
    ("Realized spread maker median (\u00a2)", ("realized_spread_cents", "maker_median"), "f3"),
    ("Realized spread taker median (\u00a2)", ("realized_spread_cents", "taker_median"), "f3"),
    ("Slippage n", ("slippage_bps", "n"), "int"),
    ("Slippage expected mean (bps)", ("slippage_bps", "expected_mean"), "f2"),
    ("Slippage realized mean (bps)", ("slippage_bps", "realized_mean"), "f2"),
    ("Slippage realized \u2212 expected (bps)", ("slippage_bps", "realized_minus_expected_mean"), "f2"),
)

MUTATION_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Budget per minute", "budget_per_min", "int"),
    ("Active minutes", "active_minutes", "int"),
    ("Peak per minute", "peak_per_min", "int"),
    ("Mean per active minute", "mean_per_active_min", "f2"),
    ("p99 per minute", "p99_per_min", "f2"),
    ("Peak share of budget", "peak_share_of_budget", "pct"),
    ("Minutes over 90% of budget", "minutes_over_90pct", "int"),
    ("Placements", "placements", "int"),
    ("Cancels", "cancels", "int"),
)

RETURN_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Periods", "periods", "int"),
    ("Mean return", "mean", "pct3"),
    ("Sharpe (annualised)", "sharpe", "f2"),
    ("Sortino (annualised)", "sortino", "f2"),
    ("Calmar", "calmar", "f2"),
    ("Sharpe after cost stress", "sharpe_stressed", "f2"),
    ("Positive share", "positive_share", "pct"),
    ("Best period", "best", "pct3"),
    ("Worst period", "worst", "pct3"),
)

PALETTE = ("#1f4e79", "#c55a11", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64")
GROUP_COLOURS = {"total": "#1a1a1a", "maker": "#1f4e79", "taker": "#c55a11"}

CSS = """
:root{--ink:#1a1a1a;--muted:#5f6670;--rule:#d5d9de;--head:#f2f4f6;
  --pass:#1e7b34;--fail:#b3261e;--nodata:#80868e}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--ink);
  font:13px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:24px 28px 56px}
h1{font-size:21px;margin:0 0 2px;letter-spacing:-.01em}
h2{font-size:16px;margin:30px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--ink)}
h3{font-size:12px;margin:16px 0 6px;color:#333;text-transform:uppercase;letter-spacing:.05em}
nav{margin:6px 0 14px;font-size:12px}
nav a{color:var(--muted);margin-right:14px;text-decoration:none}
nav a:hover{text-decoration:underline}
table{border-collapse:collapse;margin:0 0 8px;font-size:12px}
th,td{padding:3px 9px;border-bottom:1px solid var(--rule);vertical-align:top;text-align:left}
thead th{background:var(--head);font-weight:600;white-space:nowrap;border-bottom:1px solid #aeb4bb}
th.num,td.num{text-align:right;white-space:nowrap;
  font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
td.ts{text-align:left}
td.neg{color:#9f1d1d}
td.name{max-width:420px;overflow-wrap:anywhere}
td.key{color:#333;white-space:nowrap}
tr.total td{font-weight:600;border-top:1.5px solid var(--ink)}
tbody tr:hover td{background:#fafbfc}
.badge{display:inline-block;padding:0 7px;border-radius:3px;color:#fff;white-space:nowrap;
  font:600 11px/18px ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
.badge.pass{background:var(--pass)}
.badge.fail{background:var(--fail)}
.badge.nodata{background:var(--nodata)}
.flag-yes{color:var(--fail);font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:6px 36px;align-items:flex-start}
.gates{display:flex;gap:18px;margin:8px 0 4px;font-size:12px}
figure{margin:8px 0 18px}
figure svg{max-width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:11.5px;margin-top:2px}
.note{color:var(--muted);font-size:11.5px;margin:2px 0 10px}
.empty{color:var(--muted);font-style:italic;margin:2px 0 10px}
.plot-empty{border:1px dashed var(--rule);color:var(--muted);padding:20px 28px;margin:8px 0 18px;
  display:inline-block}
@media print{main{max-width:none;padding:0}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


# --- formatting ------------------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ts_text(ms: Any) -> str:
    """Unix ms as 'YYYY-MM-DD HH:MM:SSZ' (UTC); null as a dash."""
    if not _is_number(ms) or not math.isfinite(ms):
        return DASH if ms is None else str(ms)
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_utc(ms: Any) -> str:
    if not _is_number(ms) or not math.isfinite(ms):
        return DASH if ms is None else str(ms)
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration_text(seconds: Any) -> str:
    if not _is_number(seconds) or not math.isfinite(seconds):
        return DASH if seconds is None else str(seconds)
    s = float(seconds)
    sign, s = ("-" if s < 0 else ""), abs(s)
    if s < 60:
        return f"{sign}{s:.1f}s"
    whole = int(round(s))
    if whole >= 86_400:
        return f"{sign}{whole // 86_400}d {whole % 86_400 // 3600:02d}h {whole % 3600 // 60:02d}m"
    if whole >= 3600:
        return f"{sign}{whole // 3600}h {whole % 3600 // 60:02d}m {whole % 60:02d}s"
    return f"{sign}{whole // 60}m {whole % 60:02d}s"


def _significant(value: float) -> str:
    """About four significant digits, without an exponent for ordinary magnitudes."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5:
        return f"{value:,.0f}"
    if magnitude < 1e-4:
        return f"{value:.3e}"
    decimals = max(0, 3 - math.floor(math.log10(magnitude)))
    return f"{value:,.{decimals}f}"


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _money_text(value: Any) -> tuple[str, str]:
    """(shown to the cent, exact) for an exact decimal string or a number."""
    if value is None:
        return DASH, ""
    try:
        exact = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value), ""
    if not exact.is_finite():
        return str(value), ""
    cents = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == 0:
        cents = abs(cents)  # no "-0.00"
    return f"{cents:,.2f}", str(value)


def fmt(value: Any, kind: str = "auto") -> str:
    """A value as plain (unescaped) text.

    Kinds: auto, int, g, f2, f3, f4, pct, pct3, money, ts, dur, text (a bool is yes/no, null a dash)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "money":
        return _money_text(value)[0]
    if kind == "ts":
        return ts_text(value)
    if kind == "dur":
        return duration_text(value)
    if not _is_number(value) or kind == "text":
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return DASH
    if isinstance(value, float) and math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if kind == "int":
        return f"{int(round(value)):,}"
    if kind == "g":  # as written: a threshold
        return f"{value:,g}"
    if kind in ("f2", "f3", "f4"):
        return f"{value:,.{kind[1]}f}"
    if kind in ("pct", "pct3"):
        return f"{value * 100:,.{3 if kind == 'pct3' else 2}f}%"
    if isinstance(value, int):
        return f"{value:,}"
    return _significant(float(value))


def _negative(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if _is_number(value):
        return value < 0
    return isinstance(value, str) and value.startswith("-") and value.strip("-0.") != ""


def td(value: Any, kind: str = "auto", *, bold: bool = False) -> str:
    """One cell: numbers right-aligned in monospace (negatives marked), text left-aligned and escaped."""
    title = ""
    if kind == "money":
        shown, exact = _money_text(value)
        if exact and _decimal(exact) != _decimal(exact).quantize(Decimal("0.01")):  # finer than a cent
            title = f' title="{_esc(exact)}"'
    else:
        shown = fmt(value, kind)
    numeric = kind != "text" and (_is_number(value) or kind in ("money", "ts", "dur") or value is None)
    classes = (["num", "ts"] if kind == "ts" else ["num"]) if numeric else ["name"]
    if numeric and _negative(shown if kind == "money" else value):
        classes.append("neg")
    body = f"<b>{_esc(shown)}</b>" if bold else _esc(shown)
    return f'<td class="{" ".join(classes)}"{title}>{body}</td>'


def td_html(markup: str, numeric: bool = False) -> str:
    """A cell of markup built here (already escaped)."""
    return f'<td class="{"num" if numeric else "name"}">{markup}</td>'


def badge(status: Any) -> str:
    text = str(status) if status is not None else "NOT ENOUGH DATA"
    return f'<span class="badge {STATUS_CLASS.get(text, "nodata")}">{_esc(text)}</span>'


def table(
    head: Sequence[str], rows: Sequence[Sequence[str] | tuple[str, Sequence[str]]], *, text_cols: int = 1
) -> str:
    """`head` plain-text headings; each row a list of <td> markup, or a tuple (row class, cells). A heading is
    right-aligned over a numeric column (as the first row's cell is; without rows, past the first `text_cols`)."""
    first = rows[0][1] if rows and isinstance(rows[0], tuple) else rows[0] if rows else None

    def numeric(i: int) -> bool:
        if first is not None and i < len(first):
            return re.match(r'<td class="num(?! ts)', first[i]) is not None
        return i >= text_cols

    ths = "".join(
        (f'<th class="num">{_esc(h)}</th>' if numeric(i) else f"<th>{_esc(h)}</th>")
        for i, h in enumerate(head)
    )
    body = []
    for row in rows:
        if isinstance(row, tuple):
            cls, cells = row
            body.append(f'<tr class="{_esc(cls)}">{"".join(cells)}</tr>')
        else:
            body.append(f"<tr>{''.join(row)}</tr>")
    rows_html = "".join(body)
    return f'<div class="scroll"><table><thead><tr>{ths}</tr></thead><tbody>{rows_html}</tbody></table></div>'


def kv_table(pairs: Sequence[tuple[str, Any, str]], title: str = "") -> str:
    """A two-column table of labelled values."""
    rows = "".join(
        f'<tr><td class="key">{_esc(label)}</td>{td(value, kind)}</tr>' for label, value, kind in pairs
    )
    caption = f"<h3>{_esc(title)}</h3>" if title else ""
    return f"<div>{caption}<table><tbody>{rows}</tbody></table></div>"


def count_table(counts: Any, label: str, empty: str) -> str:
    items = list(_map(counts).items())
    if not items:
        return f'<p class="empty">{_esc(empty)}</p>'
    return table([label, "Count"], [[td(k, "text"), td(v, "int")] for k, v in items])


def note(text: Any) -> str:
    return f'<p class="note">{_esc(text)}</p>' if text else ""


# --- plots -----------------------------------------------------------------------------------------------


class _Plots:
    """matplotlib figures printed as inline <svg>, each with its own id prefix."""

    RC = {
        "svg.fonttype": "none",
        "svg.hashsalt": "bigearn-truth-report",
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.labelsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#d5d9de",
        "grid.linewidth": 0.6,
        "legend.fontsize": 7.5,
        "legend.frameon": False,
        "timezone": "UTC",
    }

    def __init__(self) -> None:
        import matplotlib  # lazily: importing the engine loads no plotting library
        import numpy as np
        from matplotlib import dates
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
        from matplotlib.rcsetup import cycler

        self.mpl = matplotlib
        self.np = np
        self.dates = dates
        self.Figure = Figure
        self.Canvas = FigureCanvasSVG
        self.rc = {**self.RC, "axes.prop_cycle": cycler(color=list(PALETTE))}
        self.count = 0

    def render(
        self, label: str, draw: Callable[[Any], bool], size: tuple[float, float], caption: str = ""
    ) -> str:
        """`draw(figure)` adds the axes and returns False when there is nothing to plot."""
        with self.mpl.rc_context(self.rc):
            fig = self.Figure(figsize=size, layout="constrained")
            self.Canvas(fig)
            if not draw(fig):
                return f'<div class="plot-empty">{_esc(label)}: no data</div>'
            buf = io.BytesIO()
            fig.savefig(
                buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
            )
        self.count += 1
        svg = self._inline(buf.getvalue().decode("utf-8"), f"p{self.count}-", label)
        cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
        return f"<figure>{svg}{cap}</figure>"

    @staticmethod
    def _inline(svg: str, prefix: str, label: str) -> str:
        svg = svg[svg.index("<svg") :]  # no XML prolog, no DOCTYPE
        svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
        svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m[1]}"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m[1]})", svg)
        svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m[1]}"', svg)
        return svg.replace("<svg ", f'<svg role="img" aria-label="{_esc(label)}" ', 1).strip()

    def floats(self, values: Any) -> Any:
        return self.np.array([v if _is_number(v) else math.nan for v in _list(values)], dtype=float)

    def timeline(self, ts: Any, *columns: Any) -> tuple[Any, ...]:
        """Unix-ms times as datetime64 with their columns as floats (a null value is a gap), the rows without
        a time dropped; the columns are cut to the shortest length."""
        ts = _list(ts)
        cols = [_list(c) for c in columns]
        n = min(len(ts), *(len(c) for c in cols)) if cols else len(ts)
        keep = [i for i in range(n) if _is_number(ts[i]) and math.isfinite(ts[i])]
        t = self.np.array([int(ts[i]) for i in keep], dtype="datetime64[ms]")
        return (t, *(self.floats([c[i] for i in keep]) for c in cols))

    def time_axis(self, ax: Any) -> None:
        locator = self.dates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        offsets = ["", "%Y", "%Y-%m", "%Y-%m-%d UTC", "%Y-%m-%d UTC", "%Y-%m-%d %H:%M UTC"]
        ax.xaxis.set_major_formatter(self.dates.ConciseDateFormatter(locator, offset_formats=offsets))


def _equity_plot(plots: _Plots, series: Mapping[str, Any]) -> str:
    eq_series = _map(series.get("equity"))
    np = plots.np

    def draw(fig: Any) -> bool:
        ts, eq, dd = eq_series.get("ts"), _list(eq_series.get("equity")), _list(eq_series.get("drawdown"))
        if len(dd) >= len(eq):
            t, equity, dd = plots.timeline(ts, eq, dd)
        else:  # no drawdown column: from the running peak
            t, equity = plots.timeline(ts, eq)
            with np.errstate(divide="ignore", invalid="ignore"):
                dd = equity / np.fmax.accumulate(equity) - 1.0
        if not np.isfinite(equity).any():
            return False
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        marker = "o" if len(t) == 1 else None
        top.plot(t, equity, color="#1f4e79", linewidth=1.3, marker=marker)
        top.set_ylabel("equity (USDC)")
        top.set_title("Equity and drawdown", loc="left")
        bottom.fill_between(t, dd * 100, 0, color="#b3261e", alpha=0.25, linewidth=0)
        bottom.plot(t, dd * 100, color="#b3261e", linewidth=0.9, marker=marker)
        bottom.set_ylabel("drawdown %")
        plots.time_axis(bottom)
        return True

    return plots.render(
        "Equity curve and drawdown",
        draw,
        (10.0, 4.4),
        "Equity (top) and drawdown from the running peak (bottom).",
    )


def _strategy_pnl_plot(plots: _Plots, series: Mapping[str, Any]) -> str:
    by_strategy = _map(series.get("pnl_by_strategy"))

    def draw(fig: Any) -> bool:
        lines = []
        for name, s in by_strategy.items():
            t, pnl = plots.timeline(_get(s, "ts"), _get(s, "pnl"))
            if plots.np.isfinite(pnl).any():
                lines.append((str(name), t, pnl))
        if not lines:
            return False
        ax = fig.subplots()
        for name, t, pnl in lines:
            ax.plot(t, pnl, linewidth=1.2, label=name, marker="o" if len(t) == 1 else None)
        ax.axhline(0, color="#80868e", linewidth=0.8)
        ax.set_ylabel("P&L (USDC)")
        ax.set_title("P&L by strategy over time", loc="left")
        ax.legend(loc="best")
        plots.time_axis(ax)
        return True

    return plots.render("P&L by strategy over time", draw, (10.0, 3.2))


def _markout_plot(plots: _Plots, markouts: Mapping[str, Any], horizons: Sequence[str]) -> str:
    def draw(fig: Any) -> bool:
        groups = []
        for offset, group in zip((-0.15, 0.0, 0.15), ("total", "maker", "taker"), strict=True):
            xs, means, lo, hi = [], [], [], []
            for i, h in enumerate(horizons):
                m = _map(_get(markouts, group, h))
                mean = m.get("mean")
                if not _is_number(mean) or not math.isfinite(mean):
                    continue
                xs.append(i + offset)
                means.append(mean)
                low, high = m.get("ci_low"), m.get("ci_high")
                lo.append(max(0.0, mean - low) if _is_number(low) else 0.0)
                hi.append(max(0.0, high - mean) if _is_number(high) else 0.0)
            if xs:
                groups.append((group, xs, means, lo, hi))
        if not groups:
            return False
        ax = fig.subplots()
        ax.axhline(0, color="#80868e", linewidth=0.8)
        for group, xs, means, lo, hi in groups:
            ax.errorbar(
                xs,
                means,
                yerr=[lo, hi],
                fmt="o",
                capsize=3,
                markersize=4,
                linewidth=1.1,
                color=GROUP_COLOURS[group],
                label=group,
            )
        ax.set_xticks(range(len(horizons)), [str(h) for h in horizons])
        ax.set_xlim(-0.5, len(horizons) - 0.5)
        ax.set_xlabel("horizon after the fill")
        ax.set_ylabel("cents a share")
        ax.set_title("Markout mean with 95% CI", loc="left")
        ax.legend(loc="best")
        return True

    return plots.render("Markout means by horizon", draw, (5.2, 3.3))


def _histogram_plot(plots: _Plots, markouts: Mapping[str, Any]) -> str:
    hist = _map(_get(markouts, "total", "2m", "histogram"))

    def draw(fig: Any) -> bool:
        edges, counts = _list(hist.get("edges")), _list(hist.get("counts"))
        if (
            len(counts) == 0
            or len(edges) != len(counts) + 1
            or not any(_is_number(c) and c > 0 for c in counts)
        ):
            return False
        labels = []
        for i in range(len(counts)):
            if i == 0 and len(counts) > 1:
                labels.append(f"<{edges[1]:g}")
            elif i == len(counts) - 1 and len(counts) > 1:
                labels.append(f"\u2265{edges[i]:g}")
            else:
                labels.append(f"{edges[i]:g}..{edges[i + 1]:g}")
        colours = [
            "#b3261e" if _is_number(b) and b <= 0 else "#1e7b34" if _is_number(a) and a >= 0 else "#80868e"
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
        ax = fig.subplots()
        ax.bar(range(len(counts)), [c if _is_number(c) else 0 for c in counts], color=colours, width=0.85)
        ax.set_xticks(range(len(counts)), labels, rotation=45, ha="right")
        ax.set_xlabel("cents a share (end bins hold everything beyond)")
        ax.set_ylabel("fills")
        ax.grid(axis="x", visible=False)
        ax.set_title(f"2m markout distribution (n={sum(c for c in counts if _is_number(c)):,})", loc="left")
        return True

    return plots.render("2m markout distribution", draw, (5.2, 3.3))


def _reliability_plot(plots: _Plots, calibration: Mapping[str, Any]) -> str:
    def points(block: Any) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for row in _list(_get(block, "reliability")):
            p, o = _get(row, "predicted"), _get(row, "observed")
            if _is_number(p) and _is_number(o):
                xs.append(p)
                ys.append(o)
        return xs, ys

    def draw(fig: Any) -> bool:
        curves = [(str(name), *points(block)) for name, block in _map(calibration.get("brains")).items()]
        curves.append(("market (mid)", *points(calibration.get("market"))))
        curves = [c for c in curves if c[1]]
        if not curves:
            return False
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], linestyle="--", color="#80868e", linewidth=0.9, label="perfectly calibrated")
        for name, xs, ys in curves:
            market = name == "market (mid)"
            ax.plot(
                xs,
                ys,
                marker="s" if market else "o",
                markersize=3.5,
                linewidth=1.1,
                label=name,
                color="#1a1a1a" if market else None,
                linestyle=":" if market else "-",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title("Reliability", loc="left")
        ax.legend(loc="upper left")
        return True

    return plots.render("Reliability curves", draw, (4.6, 4.3))


# --- sections --------------------------------------------------------------------------------------------


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{body}</section>'


def _header(report: Mapping[str, Any]) -> str:
    window, period = _map(report.get("window")), _map(report.get("period"))
    since, until = window.get("since_ts"), window.get("until_ts")
    window_text = (
        f"{ts_text(since) if since is not None else 'start of ledger'} \u2192 "
        f"{ts_text(until) if until is not None else 'end of ledger'}"
        f"; {('strategy ' + str(window['strategy'])) if window.get('strategy') else 'all strategies'}"
    )
    generated = report.get("generated_ts")
    if not _is_number(generated):
        generated = datetime.now(tz=UTC).timestamp() * 1000
    info = kv_table(
        [
            ("Ledger", report.get("db"), "text"),
            ("Window", window_text, "text"),
            ("Period start", period.get("start_ts"), "ts"),
            ("Period end", period.get("end_ts"), "ts"),
            ("Days", period.get("days"), "f2"),
            ("Generated (UTC)", iso_utc(generated), "text"),
            ("Report version", report.get("report_version"), "text"),
        ]
    )
    a = _map(report.get("assumptions"))
    stress = _map(a.get("cost_stress"))
    assumptions = kv_table(
        [
            ("Bankroll (USDC)", a.get("bankroll_usdc"), "money"),
            ("Assumed fill rate", a.get("assumed_fill_rate"), "pct"),
            ("Mutation budget / min", a.get("mutation_budget_per_min"), "int"),
            ("Stale feed limit (s)", a.get("stale_feed_global_s"), "f2"),
            ("Cost stress: fee multiple", stress.get("fee_multiple"), "f2"),
            ("Cost stress: cents a share", stress.get("cents_per_share"), "f2"),
            ("Marks", a.get("marks"), "text"),
        ],
        "Assumptions",
    )
    runs = _list(report.get("runs"))
    runs_html = (
        table(
            ["Run", "Venue", "Mode", "Started", "Ended", "Account", "Seed"],
            [
                [
                    td(_get(r, "run_id"), "text"),
                    td(_get(r, "venue"), "text"),
                    td(_get(r, "mode"), "text"),
                    td(_get(r, "started_ts"), "ts"),
                    td(_get(r, "ended_ts"), "ts"),
                    td(_get(r, "account"), "text"),
                    td(_get(r, "seed"), "text"),
                ]
                for r in runs
            ],
            text_cols=3,
        )
        if runs
        else '<p class="empty">no runs in the window</p>'
    )
    gates = _map(report.get("gates"))
    summary = "".join(
        f"<span>Gate {_esc(k)} {badge(_get(gates, k, 'status'))}</span>"
        for k in ("A", "B", "C")
        if k in gates
    )
    nav = "".join(
        f'<a href="#{a}">{_esc(t)}</a>'
        for a, t in (
            ("gates", "Gates"),
            ("pnl", "P&L"),
            ("execution", "Execution"),
            ("markouts", "Markouts"),
            ("returns", "Returns"),
            ("calibration", "Calibration"),
            ("health", "Health"),
        )
    )
    return (
        "<header><h1>Big Earn \u2014 truth report</h1>"
        f'<div class="gates">{summary}</div><nav>{nav}</nav>'
        f'<div class="grid">{info}{assumptions}</div><h3>Runs</h3>{runs_html}</header>'
    )


def _gates(report: Mapping[str, Any]) -> str:
    gates = _map(report.get("gates"))
    if not gates:
        return '<p class="empty">no gates evaluated</p>'
    parts = []
    for key, gate in gates.items():
        gate = _map(gate)
        title = gate.get("title") or GATE_TITLES.get(str(key), "")
        parts.append(f"<h3>Gate {_esc(key)} \u2014 {_esc(title)} {badge(gate.get('status'))}</h3>")
        rows = []
        for line in _list(gate.get("lines")):
            line = _map(line)
            test = f"{line.get('op') or ''} {fmt(line.get('threshold'), 'g')}".strip()
            rows.append(
                [
                    td(line.get("name"), "text"),
                    td(line.get("value")),
                    td(test, "text"),
                    td_html(badge(line.get("status"))),
                    td(line.get("detail") or "", "text"),
                ]
            )
        parts.append(table(["Check", "Value", "Test", "Status", "Detail"], rows, text_cols=1))
    return "".join(parts)


def _attribution_cells(block: Any) -> list[str]:
    block = _map(block)
    return [td(block.get(key), kind, bold=key == "net_pnl") for key, _, kind in ATTRIBUTION_COLUMNS]


def _attribution_table(label: str, blocks: Sequence[tuple[str, Any]], total: Any = None) -> str:
    if not blocks and total is None:
        return '<p class="empty">none</p>'
    rows: list[Any] = [[td(name, "text"), *_attribution_cells(b)] for name, b in blocks]
    if total is not None:
        rows.append(("total", [td("Total", "text"), *_attribution_cells(total)]))
    return table([label, *(h for _, h, _ in ATTRIBUTION_COLUMNS)], rows)


def _pnl(report: Mapping[str, Any], plots: _Plots) -> str:
    pnl = _map(report.get("pnl"))
    total = pnl.get("total")
    parts = ["<h3>Total</h3>", _attribution_table("Scope", [], _map(total))]
    t = _map(total)
    check = _map(pnl.get("check"))
    merges = _map(t.get("merges_redemptions"))
    recorded = fmt(check.get("settlement_cash_recorded"), "money")
    attributed = fmt(check.get("settlement_payouts_attributed"), "money")
    sentences = [
        f"Unmarked fills: {fmt(t.get('unmarked_fills'), 'int')}.",
        f"Redemptions {fmt(merges.get('redemptions'), 'money')},",
        f"merges {fmt(merges.get('merges'), 'money')}.",
        f"Settlement cash recorded {recorded} vs attributed {attributed}"
        + (f" ({check['note']})." if check.get("note") else "."),
        "Money to the cent; hover a cell for the exact value.",
    ]
    parts.append(note(" ".join(sentences)))
    parts.append("<h3>By strategy</h3>")
    parts.append(_attribution_table("Strategy", list(_map(pnl.get("by_strategy")).items())))
    parts.append(_strategy_pnl_plot(plots, _map(report.get("series"))))
    by_component = _map(pnl.get("by_component"))
    components = [(c, by_component[c]) for c in COMPONENTS if c in by_component]
    components += [(c, b) for c, b in by_component.items() if c not in COMPONENTS]
    parts.append("<h3>By component</h3>")
    parts.append(_attribution_table("Component", components))
    parts.append("<h3>By cluster</h3>")
    clusters = sorted(
        _map(pnl.get("by_cluster")).items(), key=lambda kv: _decimal(_get(kv[1], "net_pnl")), reverse=True
    )
    parts.append(_attribution_table("Cluster", clusters))
    markets = sorted(
        (_map(m) for m in _list(pnl.get("by_market"))), key=lambda m: _decimal(m.get("net_pnl")), reverse=True
    )
    if len(markets) <= 2 * MARKETS_SHOWN:
        parts.append(f"<h3>By market (all {len(markets)}, by net P&amp;L)</h3>")
        parts.append(_market_table(markets))
    else:
        parts.append(f"<h3>By market: top {MARKETS_SHOWN} of {len(markets)} by net P&amp;L</h3>")
        parts.append(_market_table(markets[:MARKETS_SHOWN]))
        parts.append(f"<h3>By market: bottom {MARKETS_SHOWN} of {len(markets)} by net P&amp;L</h3>")
        parts.append(_market_table(markets[-MARKETS_SHOWN:]))
    return "".join(parts)


def _market_table(markets: Sequence[Mapping[str, Any]]) -> str:
    if not markets:
        return '<p class="empty">no markets traded</p>'
    rows = []
    for m in markets:
        state = "settlement" if m.get("settled") else "mark" if m.get("marked") else DASH
        cid = m.get("condition_id")
        name = _esc(m.get("slug") or cid or DASH)
        cell = f'<td class="name" title="{_esc(cid)}">{name}</td>' if cid else f'<td class="name">{name}</td>'
        rows.append([cell, td(state, "text"), *_attribution_cells(m)])
    return table(["Market", "Valued by", *(h for _, h, _ in ATTRIBUTION_COLUMNS)], rows, text_cols=2)


def _execution(report: Mapping[str, Any]) -> str:
    ex = _map(report.get("execution"))
    columns = [("Total", _map(ex.get("total")))]
    columns += [(str(name), _map(b)) for name, b in _map(ex.get("by_strategy")).items()]
    rows = [
        [td(label, "text"), *(td(_get(b, *path), kind) for _, b in columns)]
        for label, path, kind in EXECUTION_ROWS
    ]
    parts = [table(["Measure", *(name for name, _ in columns)], rows)]
    definition = _get(ex, "total", "realized_spread_cents", "definition")
    if definition:
        parts.append(note(f"Realized spread: {definition}."))
    mut = _map(ex.get("mutations"))
    parts.append(
        kv_table([(label, mut.get(key), kind) for label, key, kind in MUTATION_ROWS], "Order mutations")
    )
    return "".join(parts)


def _markout_row(label: str, horizon: str, m: Mapping[str, Any]) -> list[str]:
    lo, hi = m.get("ci_low"), m.get("ci_high")
    ci = f"{fmt(lo, 'f2')} \u2026 {fmt(hi, 'f2')}" if lo is not None or hi is not None else DASH
    sig = m.get("significantly_negative")
    flag = '<span class="flag-yes">yes</span>' if sig is True else ("no" if sig is False else DASH)
    return [
        td(label, "text"),
        td(horizon, "text"),
        td(m.get("n"), "int"),
        *(td(m.get(k), "f2") for k in ("mean", "median", "std", "p05", "p25", "p75", "p95")),
        td_html(_esc(ci), numeric=True),
        td(m.get("t_stat"), "f2"),
        td_html(flag, numeric=True),
    ]


def _markouts(report: Mapping[str, Any], plots: _Plots) -> str:
    mk = _map(report.get("markouts"))
    horizons = [str(h) for h in _list(mk.get("horizons"))] or list(HORIZONS)
    groups = [(g, _map(mk.get(g))) for g in ("total", "maker", "taker")]
    groups += [(f"strategy {name}", _map(b)) for name, b in _map(mk.get("by_strategy")).items()]
    rows = [_markout_row(g, h, _map(block.get(h))) for g, block in groups for h in horizons]
    head = [
        "Fills",
        "Horizon",
        "n",
        "Mean",
        "Median",
        "Std",
        "p05",
        "p25",
        "p75",
        "p95",
        "95% CI",
        "t",
        "Sig. negative",
    ]
    methods = sorted(
        {str(_get(b, h, "ci_method")) for _, b in groups for h in horizons if _get(b, h, "ci_method")}
        - {"none"}
    )
    parts = [
        note(f"Unit: {mk.get('unit') or 'cents a share'}."),
        table(head, rows, text_cols=2),
        note(f"95% CI of the mean by {', '.join(methods)}." if methods else ""),
        f'<div class="grid">{_markout_plot(plots, mk, horizons)}{_histogram_plot(plots, mk)}</div>',
    ]
    return "".join(parts)


def _returns(report: Mapping[str, Any], plots: _Plots) -> str:
    r = _map(report.get("returns"))
    blocks = [("Daily", _map(r.get("daily"))), ("Hourly", _map(r.get("hourly")))]
    rows = [
        [td(label, "text"), *(td(b.get(key), kind) for _, b in blocks)] for label, key, kind in RETURN_ROWS
    ]
    returns_table = f"<div><h3>Returns</h3>{table(['Measure', 'Daily', 'Hourly'], rows)}</div>"
    dd = _map(r.get("drawdown"))
    drawdown = kv_table(
        [
            ("Max drawdown", dd.get("max_drawdown"), "pct"),
            ("Peak", dd.get("peak_ts"), "ts"),
            ("Trough", dd.get("trough_ts"), "ts"),
            ("Duration", dd.get("duration_s"), "dur"),
            ("Recovered", dd.get("recovered"), "text"),
        ],
        "Drawdown",
    )
    conc = _map(r.get("concentration"))
    other = kv_table(
        [
            ("Basis", r.get("basis"), "text"),
            ("Capital (USDC)", r.get("capital_usdc"), "money"),
            ("Win rate", r.get("win_rate"), "pct"),
            ("Profit factor", r.get("profit_factor"), "f2"),
            ("Markets traded", conc.get("markets_traded"), "int"),
            ("Top 5 markets' share", conc.get("top5_share"), "pct"),
            ("Clusters traded", conc.get("clusters_traded"), "int"),
            ("Largest cluster", conc.get("largest_cluster"), "text"),
            ("Largest cluster share", conc.get("largest_cluster_share"), "pct"),
        ],
        "Win rate and concentration",
    )
    notes = "; ".join(
        str(x)
        for x in (
            f"win rate over {r['win_basis']}" if r.get("win_basis") else "",
            f"top 5: {conc['top5_basis']}" if conc.get("top5_basis") else "",
            f"cluster share: {conc['cluster_basis']}" if conc.get("cluster_basis") else "",
        )
        if x
    )
    plot = _equity_plot(plots, _map(report.get("series")))
    return f'<div class="grid">{returns_table}{drawdown}{other}</div>{note(notes)}{plot}'


def _calibration(report: Mapping[str, Any], plots: _Plots) -> str:
    cal = _map(report.get("calibration"))
    rows = []
    for name, block in _map(cal.get("brains")).items():
        b = _map(block)
        rows.append(
            [
                td(f"brain {name}", "text"),
                td(b.get("n"), "int"),
                td(b.get("markets"), "int"),
                td(b.get("brier"), "f4"),
                td(b.get("log_loss"), "f4"),
                td(b.get("brier_market"), "f4"),
                td(b.get("brier_skill"), "f4"),
            ]
        )
    market = _map(cal.get("market"))
    if market:
        rows.append(
            [
                td("market (mid)", "text"),
                td(market.get("n"), "int"),
                td(market.get("markets"), "int"),
                td(market.get("brier"), "f4"),
                td(market.get("log_loss"), "f4"),
                td(None),
                td(None),
            ]
        )
    body = (
        table(["Forecaster", "n", "Markets", "Brier", "Log loss", "Brier market", "Skill"], rows)
        if rows
        else '<p class="empty">no resolved evaluations</p>'
    )
    explain = (
        "Skill = 1 \u2212 Brier / Brier of the market mid on the same samples (above 0: better than it)."
    )
    return body + note(explain) + note(cal.get("note")) + _reliability_plot(plots, cal)


def _health(report: Mapping[str, Any]) -> str:
    h = _map(report.get("health"))
    feed = _map(h.get("feed"))
    feed_table = kv_table(
        [
            ("Samples", feed.get("samples"), "int"),
            ("Uptime", feed.get("uptime"), "pct"),
            ("Reconnects", feed.get("reconnects"), "int"),
            ("Stale-book share", feed.get("stale_book_share"), "pct"),
            ("Stale-book hours", feed.get("stale_book_hours"), "f2"),
            ("Book hours", feed.get("book_hours"), "f2"),
        ],
        "Feed",
    )
    recon = _map(h.get("reconciliation"))
    recon_table = kv_table([("Mismatch halts", recon.get("mismatch_halts"), "int")], "Reconciliation")
    trips_table = count_table(h.get("breaker_trips"), "Breaker", "no breaker trips")
    trips = f"<div><h3>Breaker trips</h3>{trips_table}</div>"
    resumed = f"<div><h3>Resumed by</h3>{count_table(h.get('resumed_by'), 'Resumed by', 'no halts')}</div>"
    parts = [f'<div class="grid">{feed_table}{trips}{resumed}{recon_table}</div>', "<h3>Halts</h3>"]
    halts = [_map(x) for x in _list(h.get("halts"))]
    if halts:
        rows = [
            [
                td(x.get("ts"), "ts"),
                td(x.get("kind"), "text"),
                td(x.get("reason"), "text"),
                td(x.get("trigger_value"), "text"),
                td(x.get("threshold"), "text"),
                td(x.get("action"), "text"),
                td(x.get("resumed_ts"), "ts"),
                td(x.get("resumed_by") or "(not resumed)", "text"),
                td(x.get("duration_s"), "dur"),
            ]
            for x in halts
        ]
        head = [
            "Halted (UTC)",
            "Kind",
            "Reason",
            "Trigger",
            "Threshold",
            "Action",
            "Resumed (UTC)",
            "Resumed by",
        ]
        parts.append(table([*head, "Duration"], rows, text_cols=8))
    else:
        parts.append('<p class="empty">no halts</p>')
    details = _list(recon.get("details"))
    if details:
        items = "".join(f"<li>{_esc(d)}</li>" for d in details)
        parts.append(f"<h3>Reconciliation mismatches</h3><ul>{items}</ul>")
    rejections = count_table(h.get("rejections_by_reason"), "Reason", "no rejections")
    refusals = count_table(h.get("refusals_by_rule"), "Rule", "no refusals")
    parts.append(
        f'<div class="grid"><div><h3>Rejections by reason</h3>{rejections}</div>'
        f"<div><h3>Risk refusals by rule</h3>{refusals}{note(h.get('refusals_note'))}</div></div>"
    )
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The truth report as one self-contained HTML page (no network: inline CSS, plots as inline SVG)."""
    report = _map(report)
    plots = _Plots()
    sections = [
        _section("gates", "Gates", _gates(report)),
        _section("pnl", "P&L attribution", _pnl(report, plots)),
        _section("execution", "Execution quality", _execution(report)),
        _section("markouts", "Markouts", _markouts(report, plots)),
        _section("returns", "Risk-adjusted returns", _returns(report, plots)),
        _section("calibration", "Calibration", _calibration(report, plots)),
        _section("health", "Health", _health(report)),
    ]
    generated = report.get("generated_ts")
    title = f"Truth report \u2014 {iso_utc(generated) if _is_number(generated) else 'Big Earn'}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{_header(report)}{''.join(sections)}</main></body></html>\n"
    )


__all__ = ["render_html"]
