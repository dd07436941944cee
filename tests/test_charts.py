"""The Chart pane's plots (widgets/charts.py): what reaches plotext, what the pane shows, and that a show()
with unchanged data (the console calls it every frame) neither replots nor rebuilds."""

from __future__ import annotations

import asyncio
import math

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from engine.queries import FillMark, PriceHistory, PricePoint
from widgets.charts import EquityChart, PriceChart, nice_ticks, padded_limits, thin, time_unit

T0 = 1_790_000_000_000
TITLE = "Bitcoin Up or Down - September 28, 3:00PM-3:15PM ET"


def history(n: int = 12, step_ms: int = 60_000, fills=(), resting=(), title: str = TITLE) -> PriceHistory:
    """n mids one `step_ms` apart, rising from 0.50 by a cent a step."""
    mids = tuple(PricePoint(T0 + i * step_ms, round(0.50 + 0.01 * i, 4)) for i in range(n))
    return PriceHistory("0xab", title, mids, tuple(fills), tuple(resting))


class ChartApp(App[None]):
    def __init__(self, size: tuple[int, int] = (68, 16)) -> None:
        type(self).CSS = f"PriceChart, EquityChart {{ width: {size[0]}; height: {size[1]}; }}"
        super().__init__()

    def compose(self) -> ComposeResult:
        yield PriceChart()
        yield EquityChart()


def run(test, size: tuple[int, int] = (68, 16)) -> None:
    async def main() -> None:
        app = ChartApp(size)
        async with app.run_test(size=(80, 2 * size[1] + 2)) as pilot:
            await pilot.pause()
            await test(pilot, app.query_one(PriceChart), app.query_one(EquityChart))

    asyncio.run(main())


def rows(chart) -> list[str]:
    return chart.render().plain.splitlines()


def rendered(chart) -> Text:
    out = chart.render()
    assert isinstance(out, Text)
    return out


# --- PriceChart ------------------------------------------------------------------------------------


def test_chart_price_plots_mids_fills_and_resting_orders() -> None:
    fills = [FillMark(T0 + 3 * 60_000, 0.53, "BUY", 10.0), FillMark(T0 + 8 * 60_000, 0.58, "SELL", 4.0),
             FillMark(T0 - 3_600_000, 0.40, "BUY", 1.0)]  # before the first mid: left out, not an axis stretch

    async def test(pilot, chart: PriceChart, _eq) -> None:
        chart.show(history(fills=fills, resting=[("BUY", 0.48), ("SELL", 0.65)]))
        await pilot.pause()
        xs, ys = chart.plotted_mids
        assert chart.unit == "m"
        assert xs == [float(i - 11) for i in range(12)]  # minutes before the newest mid
        assert ys == pytest.approx([50.0 + i for i in range(12)])  # cents
        assert chart.plotted_buys == ([-8.0], [pytest.approx(53.0)])
        assert chart.plotted_sells == ([-3.0], [pytest.approx(58.0)])
        assert chart.plotted_lines == [(pytest.approx(48.0), "green"), (pytest.approx(65.0), "red")]
        low, high = chart.plotted_ylim
        assert 0 <= low < 48 and 65 < high <= 100  # padded around every price drawn, clamped
        # ...and it reached plotext: the line, the two fill markers, the horizontal lines.
        mon = chart.plt.monitor
        assert mon.x[0] == xs and mon.y[0] == pytest.approx(ys)
        assert (mon.x[1], mon.marker[1]) == ([-8.0], ["▲"])
        assert (mon.x[2], mon.marker[2]) == ([-3.0], ["▼"])
        assert mon.hcoord[0] == pytest.approx([48.0, 65.0]) and mon.hcolors[0] == ["green", "red"]
        assert chart.builds == 1
        text = "\n".join(rows(chart))
        assert "Bitcoin Up" in text and "▲" in text and "▼" in text and "now" in text

    run(test)


def test_chart_price_unchanged_data_does_not_replot() -> None:
    async def test(pilot, chart: PriceChart, _eq) -> None:
        h = history()
        chart.show(h, now_ts=T0 + 11 * 60_000)
        await pilot.pause()
        assert (chart.replots, chart.builds) == (1, 1)
        for _ in range(10):
            chart.show(h, now_ts=T0 + 11 * 60_000)
            chart.show(history(), now_ts=T0 + 11 * 60_000 + 4_000)  # an equal copy, `now` within one step
        await pilot.pause()
        assert (chart.replots, chart.builds) == (1, 1)
        chart.show(h, now_ts=T0 + 11 * 60_000 + 5_000)  # `now` moved a step: the line slides left
        await pilot.pause()
        assert (chart.replots, chart.builds) == (2, 2)
        chart.show(history(n=13), now_ts=T0 + 11 * 60_000 + 5_000)  # a new mid
        chart.show(history(n=13, resting=[("BUY", 0.5)]), now_ts=T0 + 11 * 60_000 + 5_000)  # a new order
        await pilot.pause()
        assert (chart.replots, chart.builds) == (4, 3)  # two replots in one frame: one build

    run(test)


def test_chart_price_empty_states_say_so_in_one_line() -> None:
    async def test(pilot, chart: PriceChart, _eq) -> None:
        assert rows(chart) == ["select a market"]
        chart.show(history(n=0))
        await pilot.pause()
        assert rows(chart) == [f"no mid yet for {TITLE}"]
        chart.show(history(n=3))
        await pilot.pause()
        assert len(rows(chart)) == 16
        builds = chart.builds
        chart.show(None)
        await pilot.pause()
        assert rows(chart) == ["select a market"]
        assert chart.builds == builds  # a message is not a plot: plotext is not asked

    run(test)


def test_chart_resting_order_is_a_horizontal_line_at_its_price() -> None:
    # Mids 50..61c: padded, the axis runs 48.9..62.1c in 5c ticks, so 50c and 60c are labelled rows.
    async def test(pilot, chart: PriceChart, _eq) -> None:
        chart.show(history(resting=[("BUY", 0.50), ("SELL", 0.60)]))
        await pilot.pause()
        text = rendered(chart)
        lines = text.split("\n")
        ruled = [i for i, line in enumerate(lines) if "─" * 30 in line.plain and "┌" not in line.plain
                 and "└" not in line.plain]
        assert [lines[i].plain[:3] for i in ruled] == ["60¢", "50¢"]  # on the row of its price label
        for i, number in zip(ruled, (1, 2), strict=True):  # ANSI red (1) for the ask, green (2) for the bid
            line = lines[i]
            dash = line.plain.index("─" * 30) + 10
            assert {s.style.color.number for s in line.spans if s.start <= dash < s.end and s.style.color} == {number}

    run(test)


def test_chart_price_time_axis_ends_at_now() -> None:
    async def test(pilot, chart: PriceChart, _eq) -> None:
        chart.show(history())
        assert chart.plotted_mids[0][-1] == 0.0 and chart.plotted_xlim == (-11.0, 0.0)
        chart.show(history(), now_ts=T0 + 11 * 60_000 + 92_000)  # no mid for 92 s: the line stops 1.5 min back
        assert chart.plotted_mids[0][-1] == pytest.approx(-1.5) and chart.plotted_xlim[1] == 0.0
        chart.show(history(n=10, step_ms=5_000))  # 45 s of history: the axis counts seconds
        await pilot.pause()
        assert chart.unit == "s" and chart.plotted_mids[0][0] == -45.0 and chart.plotted_mids[0][-1] == 0.0
        bottom = rows(chart)[-1]
        assert bottom.split() == ["-40s", "-30s", "-20s", "-10s", "now"]
        chart.show(history(n=1))  # a lone first mid at "now", on an axis a unit wide
        await pilot.pause()
        assert chart.plotted_mids == ([0.0], [50.0]) and chart.plotted_xlim == (-1.0, 0.0)
        assert rows(chart)[-1].split()[-1] == "now"

    run(test)


@pytest.mark.parametrize("size", [(40, 10), (68, 16), (12, 4)])
def test_chart_renders_at_small_sizes(size: tuple[int, int]) -> None:
    async def test(pilot, chart: PriceChart, eq: EquityChart) -> None:
        chart.show(history(n=720, step_ms=5_000, fills=[FillMark(T0 + 60_000, 0.52, "BUY", 1.0)],
                           resting=[("BUY", 0.45)]))
        eq.show(tuple(1000 + math.sin(i / 9) for i in range(240)), start=1000.0)
        await pilot.pause()
        for widget in (chart, eq):
            lines = rows(widget)
            assert all(len(line) <= size[0] for line in lines)
            if size[0] < 16:
                assert len(lines) == 1  # too small for axes: the title alone
            else:
                assert len(lines) == size[1] and any("⠀" < ch <= "⣿" for line in lines for ch in line)

    run(test, size)


# --- EquityChart -----------------------------------------------------------------------------------


def test_chart_equity_curve_and_start_line() -> None:
    async def test(pilot, _pc, eq: EquityChart) -> None:
        assert rows(eq) == ["no equity samples yet"]
        samples = (1000.0, 1002.5, 1001.0, 1004.0)
        eq.show(samples, start=1000.0)
        await pilot.pause()
        assert eq.plotted == ([-3.0, -2.0, -1.0, 0.0], list(samples))
        mon = eq.plt.monitor
        assert mon.y[0] == list(samples) and set(mon.color[0]) == {"green"}  # above the start: green
        assert mon.hcoord[0] == [1000.0] and mon.hcolors[0] == ["gray"]
        low, high = eq.plotted_ylim
        assert low < 1000.0 and high > 1004.0
        assert "equity 1,004.00  +4.00" in rows(eq)[0]  # (a build of its own)
        assert (eq.replots, eq.builds) == (1, 2)
        for _ in range(5):
            eq.show(samples, start=1000.0)
            eq.show(list(samples), start=1000)  # equal data, another container and number type
        await pilot.pause()
        assert (eq.replots, eq.builds) == (1, 2)
        eq.show((*samples, 990.0), start=1000.0)
        await pilot.pause()
        assert (eq.replots, eq.builds) == (2, 3)
        assert set(eq.plt.monitor.color[0]) == {"red"}  # below the start: red
        eq.show(())
        await pilot.pause()
        assert rows(eq) == ["no equity samples yet"]
        eq.show((5.0,))  # one sample, no start: a flat band around it
        await pilot.pause()
        assert eq.plotted_ylim[0] < 5.0 < eq.plotted_ylim[1] and len(rows(eq)) == 16

    run(test)


# --- helpers ---------------------------------------------------------------------------------------


def test_chart_helpers() -> None:
    assert nice_ticks(44, 56, 6) == [44, 46, 48, 50, 52, 54, 56]
    assert nice_ticks(44, 56.000000001, 6) == [44, 46, 48, 50, 52, 54, 56]  # float fuzz at the edge
    assert nice_ticks(-45, 0, 5) == [-40, -30, -20, -10, 0]
    assert nice_ticks(998.3, 1014.3, 5) == [1000, 1005, 1010]
    assert padded_limits([0.0, 100.0], 0.0, 100.0) == (0.0, 100.0)
    assert padded_limits([50.0], min_pad=1.0) == (49.0, 51.0)
    assert time_unit(45_000) == ("s", 1_000.0) and time_unit(3_600_000) == ("m", 60_000.0)
    assert time_unit(6 * 3_600_000)[0] == "h"
    xs = [float(i) for i in range(1000)]
    ys = [0.0] * 1000
    ys[417], ys[600] = 9.0, -9.0
    tx, ty = thin(xs, ys, buckets=50)
    assert len(tx) <= 102 and tx[0] == 0.0 and tx[-1] == 999.0 and tx == sorted(tx)
    assert 9.0 in ty and -9.0 in ty  # spikes survive the thinning
    assert thin(xs[:80], ys[:80], buckets=50) == (xs[:80], ys[:80])


# --- snapshot --------------------------------------------------------------------------------------


def test_chart_snapshot(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    fills = [FillMark(T0 + 60 * 5_000, 0.53, "BUY", 10.0), FillMark(T0 + 400 * 5_000, 0.47, "SELL", 5.0)]
    mids = tuple(PricePoint(T0 + i * 5_000, round(0.5 + 0.04 * math.sin(i / 60), 4)) for i in range(540))
    h = PriceHistory("0xab", TITLE, mids, tuple(fills), (("BUY", 0.45), ("SELL", 0.55)))

    def before(pilot) -> None:
        pilot.app.query_one(PriceChart).show(h)
        pilot.app.query_one(EquityChart).show(tuple(1000 + 5 * math.sin(i / 20) + i / 20 for i in range(240)), 1000.0)

    assert snap_compare(ChartApp((68, 16)), terminal_size=(80, 34), run_before=before)
