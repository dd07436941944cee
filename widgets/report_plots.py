"""The Report screen's plots, from the truth report's dict (engine/analytics/truth_report.py): the equity curve
with its drawdown, markouts by horizon, the brains' reliability against the market's, and P&L by strategy.

Each plot takes the whole report in `show(report)` and picks its part; a part that is missing or empty is said
in one line ("... : no data"), never an exception. The console shows a report when it arrives (once, or on the
operator's refresh), so there is no change detection here: plotext builds the picture in `render()`, which
Textual runs only after `show()` or a resize (see widgets/charts.py for the base and the axis helpers).

Equity and drawdown are two plots, one over the other on the same hour axis (not one plot with two y axes: the
drawdown is the equity's own shape below its peak, and on a second axis the two lines lie over each other).
Time runs in hours since the series' first point. Colours are named ANSI ones, as in the Chart pane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from widgets.charts import ChartBase, nice_ticks, padded_limits, thin, tick_label

_UP = "green"
_DOWN = "red"
_DRAWDOWN = "magenta"
_GUIDE = "gray"  # the start line, zero, the diagonal
_GROUPS = (("total", "cyan"), ("maker", "green"), ("taker", "yellow"))
# Brains take these in order; the market (the mid as a forecast) is always the last series, in white.
_SERIES = ("cyan", "green", "yellow", "magenta", "blue", "red")
_MARKET = "white"
_MEAN_MARK = "●"
Y_LABEL = 9  # equity's and drawdown's y labels, padded to one width ("-1,234.56"): their canvases line up


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _part(node: Any, *keys: str) -> dict[str, Any]:
    """node[k1][k2]... as a dict: {} when a step is missing or not a dict (a part the report does not have)."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _seq(node: Any) -> list[Any]:
    return list(node) if isinstance(node, list | tuple) else []


def hours_series(ts: Sequence[Any], ys: Sequence[Any], t0: float | None = None) -> tuple[list[float], list[float]]:
    """(hours since `t0` (default: the first point), y) of the points where both are numbers, in order."""
    pairs = [(float(t), float(y)) for t, y in zip(_seq(ts), _seq(ys), strict=False) if _finite(t) and _finite(y)]
    if not pairs:
        return [], []
    origin = pairs[0][0] if t0 is None else t0
    return [(t - origin) / 3_600_000 for t, _ in pairs], [y for _, y in pairs]


def _hour_axis(plt: Any, right: float, width: int) -> None:
    """x from 0 to `right` hours (at least a tiny span: a lone point still gets an axis), ticks in hours."""
    right = right if right > 0 else 1.0
    plt.xlim(0.0, right)
    xt = nice_ticks(0.0, right, max(1, (width - 8) // 9))
    plt.xticks(xt, [f"{tick_label(v)}h" for v in xt])


def _y_axis(plt: Any, low: float, high: float, height: int, fmt: str = "{:,.2f}", width: int = 0) -> int:
    """y from `low` to `high`, a tick every other row at most (two at least), labels right-aligned in `width`.
    Returns the labels' width."""
    plt.ylim(low, high)
    yt = nice_ticks(low, high, max(2, (height - 4) // 2))
    labels = [fmt.format(v).rjust(width) for v in yt]
    plt.yticks(yt, labels)
    return max(map(len, labels), default=0)


class _ReportChart(ChartBase):
    """A chart with a title that shrinks to fit: plotext leaves out a title wider than the plot's canvas (which
    is the widget less the y labels), so `show()` gives titles longest first and `_fill()` picks one that fits."""

    titles: tuple[str, ...] = ()

    def _titled(self, *titles: str) -> None:
        self.titles = titles
        self._taken(titles[0])

    def _fit_title(self, width: int, label_width: int) -> None:
        room = width - label_width - 3  # the y labels, the axis column and the frame's corners
        self.plt.title(next((t for t in self.titles if len(t) <= room), self.titles[-1][:max(room, 0)]))


def _money_format(low: float, high: float, height: int, sign: str = "") -> str:
    """Whole dollars when the ticks are a dollar or more apart, else cents (no two ticks read the same)."""
    ticks = nice_ticks(low, high, max(2, (height - 4) // 2))  # the ticks _y_axis will put
    whole = len(ticks) < 2 or ticks[1] - ticks[0] >= 1
    return "{:" + sign + (",.0f}" if whole else ",.2f}")


class EquityPlot(_ReportChart):
    """The account's equity in dollars, hours since the first sample: green while at or above its start, red
    below; the start as a grey line. The hour labels are on the drawdown plot under it (DrawdownPlot)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = "equity: no data"
        self.equity: tuple[list[float], list[float]] = ([], [])

    def show(self, report: dict[str, Any] | None) -> None:
        eq = _part(report, "series", "equity")
        self.equity = hours_series(eq.get("ts"), eq.get("equity"))
        if not self.equity[0]:
            self._empty("equity: no data")
            return
        first, last = self.equity[1][0], self.equity[1][-1]
        drawdown = hours_series(eq.get("ts"), eq.get("drawdown"))[1]
        equity = f"equity {last:,.2f} ({last - first:+,.2f})"
        if drawdown:
            worst = f"{min(drawdown) * 100:.2f}%"
            self._titled(f"{equity}, max drawdown {worst}", f"equity {last:,.2f}, max drawdown {worst}", equity)
        else:
            self._titled(equity)

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        xs, ys = self.equity
        start = ys[0]
        plt.plot(*thin(xs, ys, buckets=width), marker="braille", color=_UP if ys[-1] >= start else _DOWN)
        plt.horizontal_line(start, _GUIDE)
        low, high = padded_limits(ys, min_pad=1.0)  # a flat curve in a band of a dollar either side
        self._fit_title(width, _y_axis(plt, low, high, height, _money_format(low, high, height), width=Y_LABEL))
        plt.xlim(0.0, xs[-1] if xs[-1] > 0 else 1.0)
        plt.xticks([], [])


class DrawdownPlot(_ReportChart):
    """The drawdown from the running peak of equity, in percent (0 at the top, the curve hangs from it), under
    the equity plot on the same hour axis: an "underwater" plot. Its y labels have the equity plot's width, so
    the two canvases line up; it has no title (the equity plot's names the worst drawdown)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = "drawdown: no data"
        self.drawdown: tuple[list[float], list[float]] = ([], [])  # percent (<= 0)

    def show(self, report: dict[str, Any] | None) -> None:
        eq = _part(report, "series", "equity")
        ts = _seq(eq.get("ts"))
        xs, dd = hours_series(ts, eq.get("drawdown"), float(ts[0]) if ts and _finite(ts[0]) else None)
        self.drawdown = (xs, [d * 100 for d in dd])
        if not xs:
            self._empty("drawdown: no data")
            return
        self._titled("")  # no title row: a row of curve instead, the worst is in the equity plot's title

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        xs, ys = self.drawdown
        plt.plot(*thin(xs, ys, buckets=width), marker="braille", color=_DRAWDOWN)
        worst = min(ys)
        _y_axis(plt, worst * 1.1 if worst < 0 else -1.0, 0.0, height, "{:.1f}%", width=Y_LABEL)
        _hour_axis(plt, xs[-1], width)


class MarkoutPlot(_ReportChart):
    """Mean markout at each horizon (30s, 2m, 10m) for all fills, maker and taker fills, each with its 95%
    interval as a vertical bar; cents a share for our side (above zero: the market moved our way)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = "markouts: no data"
        self.horizons: list[str] = []
        # group -> [(x, mean, ci_low | None, ci_high | None)], x the horizon's index shifted per group
        self.points: dict[str, list[tuple[float, float, float | None, float | None]]] = {}

    def show(self, report: dict[str, Any] | None) -> None:
        mk = _part(report, "markouts")
        self.horizons = [str(h) for h in _seq(mk.get("horizons"))]
        self.points = {}
        for g, (group, _) in enumerate(_GROUPS):
            for i, h in enumerate(self.horizons):
                s = _part(mk, group, h)
                if not s.get("n") or not _finite(s.get("mean")):
                    continue
                lo, hi = s.get("ci_low"), s.get("ci_high")
                ci = (float(lo), float(hi)) if _finite(lo) and _finite(hi) else (None, None)
                self.points.setdefault(group, []).append((i + (g - 1) * 0.22, float(s["mean"]), *ci))
        if not self.points:
            self._empty("markouts: no data")
            return
        n = _part(mk, "total", self.horizons[0]).get("n")
        self._titled("markouts, cents a share: mean and 95% interval" + (f" ({n} fills)" if n else ""),
                     "markouts (cents): mean and 95% CI" + (f", n {n}" if n else ""), "markouts (cents), 95% CI")

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        colours = dict(_GROUPS)
        values = [0.0]
        for group, pts in self.points.items():
            colour = colours[group]
            for x, mean, lo, hi in pts:
                if lo is not None and hi is not None:
                    plt.plot([x, x], [lo, hi], marker="braille", color=colour)
                    values += [lo, hi]
                values.append(mean)
            plt.scatter([p[0] for p in pts], [p[1] for p in pts], marker=_MEAN_MARK, color=colour, label=group)
        plt.horizontal_line(0.0, _GUIDE)
        plt.xlim(-0.6, len(self.horizons) - 0.4)
        plt.xticks(list(range(len(self.horizons))), self.horizons)
        low, high = padded_limits(values, min_pad=0.5)
        self._fit_title(width, _y_axis(plt, low, high, height, "{:+.1f}"))


class ReliabilityPlot(_ReportChart):
    """Reliability: observed frequency against predicted probability, per bin, for each brain and for the
    market's mid; the diagonal (perfect calibration) in grey. Both axes 0 to 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = "reliability: no data"
        self.curves: list[tuple[str, list[float], list[float], str]] = []  # (name, predicted, observed, colour)

    def show(self, report: dict[str, Any] | None) -> None:
        brains = _part(report, "calibration", "brains")
        named = [(name, _part(brains, name).get("reliability")) for name in sorted(brains)]
        named.append(("market", _part(report, "calibration", "market").get("reliability")))
        self.curves = []
        for k, (name, bins) in enumerate(named):
            pts = sorted(
                (float(b["predicted"]), float(b["observed"]))
                for b in _seq(bins)
                if isinstance(b, dict) and _finite(b.get("predicted")) and _finite(b.get("observed"))
            )
            if pts:
                colour = _MARKET if name == "market" else _SERIES[k % len(_SERIES)]
                self.curves.append((name, [p for p, _ in pts], [o for _, o in pts], colour))
        if not self.curves:
            self._empty("reliability: no data (no market resolved)")
            return
        self._titled("reliability: observed frequency against predicted", "reliability: observed vs predicted",
                     "reliability")  # fmt: skip

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        plt.plot([0.0, 1.0], [0.0, 1.0], marker="braille", color=_GUIDE)
        for name, xs, ys, colour in self.curves:
            plt.plot(xs, ys, marker="braille", color=colour)
            plt.scatter(xs, ys, marker=_MEAN_MARK, color=colour, label=name)
        plt.xlim(0.0, 1.0)
        xt = nice_ticks(0.0, 1.0, max(1, (width - 8) // 6))
        plt.xticks(xt, [f"{v:.1f}" for v in xt])
        self._fit_title(width, _y_axis(plt, 0.0, 1.0, height, "{:.1f}"))


class StrategyPnLPlot(_ReportChart):
    """Net P&L of each strategy over time (USDC), hours since the first sample; zero in grey. Strategies whose
    P&L stayed at zero the whole window are named in the title, not drawn: flat lines would hide each other."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = "P&L by strategy: no data"
        self.lines: list[tuple[str, list[float], list[float], str]] = []
        self.flat: list[str] = []
        self.span = 0.0  # hours, over every strategy's series (flat ones too)

    def show(self, report: dict[str, Any] | None) -> None:
        per = _part(report, "series", "pnl_by_strategy")
        firsts = [_seq(_part(per, name).get("ts"))[:1] for name in per]
        t0 = min((float(f[0]) for f in firsts if f and _finite(f[0])), default=None)
        self.lines, self.flat, self.span = [], [], 0.0
        for k, name in enumerate(sorted(per)):
            s = _part(per, name)
            xs, ys = hours_series(s.get("ts"), s.get("pnl"), t0)
            if not xs:
                continue
            self.span = max(self.span, xs[-1])
            if all(y == 0 for y in ys):
                self.flat.append(name)
            else:
                self.lines.append((name, xs, ys, _SERIES[k % len(_SERIES)]))
        if not self.lines and not self.flat:
            self._empty("P&L by strategy: no data")
            return
        title = "P&L by strategy, USDC"
        self._titled(*([f"{title} (at 0: {', '.join(self.flat)})"] if self.flat else []), title, "P&L by strategy")

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        values = [0.0]
        for name, xs, ys, colour in self.lines:
            plt.plot(*thin(xs, ys, buckets=width), marker="braille", color=colour, label=name)
            values += ys
        # Zero as a line of data, not only a guide: with every strategy flat it is all there is to draw.
        plt.plot([0.0, self.span], [0.0, 0.0], marker="braille", color=_GUIDE)
        low, high = padded_limits(values, min_pad=1.0)
        self._fit_title(width, _y_axis(plt, low, high, height, _money_format(low, high, height, sign="+")))
        _hour_axis(plt, self.span, width)


REPORT_PLOTS = (EquityPlot, DrawdownPlot, StrategyPnLPlot, MarkoutPlot, ReliabilityPlot)
