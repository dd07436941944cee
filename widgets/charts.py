"""The Chart pane's plots: the selected market's mid over time with our fills and resting orders, and the
equity curve. Drawn by plotext, through textual-plotext's PlotextPlot.

The console calls `show()` every frame. A chart takes new data only when a cheap key changed (not a deep
compare) and then asks for a refresh; the plotext figure is filled and built in `render()`, which Textual runs
only after a refresh or a resize, so an unchanged chart costs nothing per frame, and the series can be thinned
to what the pane's width can show (a build costs milliseconds and grows with the points). No timers here.

Axes read at a glance in a small pane: the YES price in cents, time in minutes (seconds for a short history,
hours for a long one) before now, so the newest mid sits on the right edge at "now". Colours are named ANSI
ones (plotext sends 256-colour codes 0-15), so a terminal with a limited palette still tells bid from ask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from engine.queries import PriceHistory
from widgets.format import clip_middle

NOW_STEP_MS = 5_000  # a `now` that moves on its own shifts the plot once per engine sample period at most
MIN_SIZE = (16, 5)  # below this plotext has no room for axes: the title as a line of text instead
_MID = "cyan"
_BID = "green"  # resting buy line and buy fills
_ASK = "red"  # resting sell line and sell fills
_BUY_MARK = "▲"
_SELL_MARK = "▼"
_START = "gray"

Series = tuple[list[float], list[float]]


def padded_limits(values: Sequence[float], lo: float | None = None, hi: float | None = None,
                  pad_frac: float = 0.1, min_pad: float = 0.0) -> tuple[float, float]:
    """Axis limits around the data: a tenth of its range each side (at least `min_pad`), clamped to [lo, hi].
    A flat series still gets a band around it, so its line is never drawn on the frame."""
    low, high = min(values), max(values)
    pad = max((high - low) * pad_frac, min_pad) or (abs(high) * 0.001 or 1.0)
    low, high = low - pad, high + pad
    if lo is not None:
        low = max(lo, low)
    if hi is not None:
        high = min(hi, high)
    return low, high


def nice_ticks(low: float, high: float, most: int) -> list[float]:
    """At most `most` (>= 1) round values (1, 2 or 5 times a power of ten apart) inside [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    most = max(1, most)
    mag = 10.0 ** math.floor(math.log10(span / most))
    step = next(m * mag for m in (1, 2, 5, 10, 20) if span / (m * mag) <= most + 1e-9)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    k = first
    while k * step <= high + 1e-9 * step:
        ticks.append(round(k * step, 10))
        k += 1
    return ticks


def time_unit(span_ms: int) -> tuple[str, float]:
    """The time axis unit for a history spanning `span_ms`: seconds under 2 minutes, hours over 3 hours."""
    if span_ms < 120_000:
        return "s", 1_000.0
    if span_ms > 3 * 3_600_000:
        return "h", 3_600_000.0
    return "m", 60_000.0


def thin(xs: list[float], ys: list[float], buckets: int) -> Series:
    """Keep each bucket's lowest and highest point (in time order), and the first and last points: a line
    looks the same at the pane's resolution, spikes included, at a fraction of plotext's build cost."""
    n = len(xs)
    if n <= 2 * buckets:
        return xs, ys
    keep = {0, n - 1}
    for b in range(buckets):
        part = range(b * n // buckets, (b + 1) * n // buckets)
        keep.add(min(part, key=ys.__getitem__))
        keep.add(max(part, key=ys.__getitem__))
    order = sorted(keep)
    return [xs[i] for i in order], [ys[i] for i in order]


def tick_label(v: float) -> str:
    return f"{v:.10g}"


class ChartBase(PlotextPlot):
    """A plot that takes data only when its key changes, and says so in one line when there is nothing to
    draw. `theme` stays "auto": textual-plotext maps it to the app's surface and foreground colours, so the
    plot sits in the console's dark panes. (PlotextPlot.render sets the plotext theme from that reactive on
    every build, so a `self.plt.theme(...)` call would be overwritten.)"""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.replots = 0  # times new data was taken (a show() whose key changed, not an empty state)
        self.builds = 0  # times plotext built the picture (render)
        self.message: str | None = ""  # shown instead of a plot when not None
        self.chart_title = ""
        self._key: object = object()

    def _changed(self, key: object) -> bool:
        if key == self._key:
            return False
        self._key = key
        return True

    def _empty(self, message: str) -> None:
        self.message = message
        self.refresh()

    def _taken(self, title: str) -> None:
        self.replots += 1
        self.message = None
        self.chart_title = title
        self.refresh()

    def render(self) -> RenderResult:
        width, height = self.size
        if self.message is not None:
            return Text(self.message, style="dim", no_wrap=True, overflow="ellipsis")
        if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
            return Text(clip_middle(self.chart_title, width), style="dim", no_wrap=True)
        plt = self.plt
        plt.clear_data()
        plt.title(clip_middle(self.chart_title, max(4, width - 2)))
        self._fill(width, height)
        self.builds += 1
        return super().render()

    def _fill(self, width: int, height: int) -> None:
        raise NotImplementedError


class PriceChart(ChartBase):
    """One market's mid over time (a line), our fills (▲ buy, ▼ sell, in YES terms) and our resting orders (a
    horizontal line each: bid green, ask red). Prices in cents of the YES token; time before now."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.message = "select a market"
        # What the last show() that changed the data will plot: x in `unit` before now, y in cents.
        self.unit = "m"
        self.plotted_mids: Series = ([], [])
        self.plotted_buys: Series = ([], [])
        self.plotted_sells: Series = ([], [])
        self.plotted_lines: list[tuple[float, str]] = []  # (cents, colour) of each resting order's line
        self.plotted_xlim: tuple[float, float] = (-1.0, 0.0)
        self.plotted_ylim: tuple[float, float] = (0.0, 100.0)

    def show(self, history: PriceHistory | None, now_ts: int | None = None) -> None:
        """Plot `history` with time measured back from `now_ts` (engine ms; default, and never before: the
        newest mid or fill). Returns at once when nothing drawn changed; a `now_ts` that moves on its own is
        taken in NOW_STEP_MS steps, so it replots once per step at most."""
        if history is None:
            if self._changed(None):
                self._empty("select a market")
            return
        mids = history.mids
        if not mids:
            if self._changed(("empty", history.title)):
                self._empty(f"no mid yet for {clip_middle(history.title, 60)}")
            return
        fills = history.fills
        newest = max(mids[-1].ts, fills[-1].ts if fills else 0)
        now = newest if now_ts is None else max(newest, now_ts - now_ts % NOW_STEP_MS)
        key = (history.condition_id, history.title, len(mids), mids[0], mids[-1], len(fills),
               fills[-1] if fills else None, history.resting, now)
        if self._changed(key):
            self._take(history, now)

    def _take(self, history: PriceHistory, now: int) -> None:
        first_ts = history.mids[0].ts
        unit, scale = time_unit(now - first_ts)
        xs = [(p.ts - now) / scale for p in history.mids]
        ys = [p.mid * 100 for p in history.mids]
        # Fills before the first kept mid would stretch the time axis over a stretch with no price line.
        window = [f for f in history.fills if f.ts >= first_ts]
        buys = [f for f in window if f.side == "BUY"]
        sells = [f for f in window if f.side != "BUY"]
        self.plotted_buys = ([(f.ts - now) / scale for f in buys], [f.price * 100 for f in buys])
        self.plotted_sells = ([(f.ts - now) / scale for f in sells], [f.price * 100 for f in sells])
        self.plotted_lines = [(p * 100, _BID if side == "BUY" else _ASK) for side, p in history.resting]
        self.plotted_mids, self.unit = (xs, ys), unit
        self.plotted_xlim = (min(xs[0], -1.0), 0.0)  # at least one unit wide: a lone first mid is at "now"
        self.plotted_ylim = padded_limits(
            ys + self.plotted_buys[1] + self.plotted_sells[1] + [c for c, _ in self.plotted_lines],
            0.0, 100.0, min_pad=1.0)
        self._taken(history.title)

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        (left, right), (low, high) = self.plotted_xlim, self.plotted_ylim
        plt.plot(*thin(*self.plotted_mids, buckets=width), marker="braille", color=_MID)
        if self.plotted_buys[0]:
            plt.scatter(*self.plotted_buys, marker=_BUY_MARK, color=_BID)
        if self.plotted_sells[0]:
            plt.scatter(*self.plotted_sells, marker=_SELL_MARK, color=_ASK)
        for cents, colour in self.plotted_lines:
            plt.hline(cents, colour)
        plt.xlim(left, right)
        plt.ylim(low, high)
        xt = nice_ticks(left, right, max(1, (width - 6) // 9))
        plt.xticks(xt, [f"{tick_label(v)}{self.unit}" if v else "now" for v in xt])
        yt = nice_ticks(low, high, max(1, (height - 3) // 2))
        plt.yticks(yt, [f"{tick_label(v)}¢" for v in yt])


class EquityChart(ChartBase):
    """Account equity, one point per engine sample (oldest left, the newest on the right edge), and the
    starting bankroll as a grey line. The curve is green while at or above the start, red below it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.message = "no equity samples yet"
        self.plotted: Series = ([], [])  # x: samples before the newest (<= 0), y: equity in dollars
        self.plotted_start: float | None = None
        self.plotted_ylim: tuple[float, float] = (0.0, 1.0)

    def show(self, history: Sequence[float], start: float | None = None) -> None:
        """Plot the equity samples (oldest first); `start`, the starting bankroll, as a line if given. Returns
        at once when the series looks unchanged (its length, first and last sample, and the start)."""
        if not history:
            if self._changed(None):
                self._empty("no equity samples yet")
            return
        start = None if start is None else float(start)
        if self._changed((len(history), history[0], history[-1], start)):
            n = len(history)
            self.plotted = ([float(i - n + 1) for i in range(n)], [float(v) for v in history])
            self.plotted_start = start
            self.plotted_ylim = padded_limits(self.plotted[1] + ([start] if start is not None else []),
                                              min_pad=0.01)
            last = self.plotted[1][-1]
            title = f"equity {last:,.2f}" + (f"  {last - start:+,.2f}" if start is not None else "")
            self._taken(title)

    def _fill(self, width: int, height: int) -> None:
        plt = self.plt
        xs, ys = self.plotted
        start = self.plotted_start
        low, high = self.plotted_ylim
        plt.plot(*thin(xs, ys, buckets=width), marker="braille",
                 color=_BID if start is None or ys[-1] >= start else _ASK)
        if start is not None:
            plt.hline(start, _START)
        plt.xlim(min(xs[0], -1.0), 0.0)
        plt.ylim(low, high)
        # Samples come at the engine's P&L cadence, not a fixed clock: no time axis, the newest is on the right.
        plt.xticks([], [])
        yt = nice_ticks(low, high, max(1, (height - 3) // 2))
        step = yt[1] - yt[0] if len(yt) > 1 else 1.0
        plt.yticks(yt, [f"{v:,.0f}" if step >= 1 else f"{v:,.2f}" for v in yt])
