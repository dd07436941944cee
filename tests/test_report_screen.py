"""The Report screen (key T, bigearn_tui/report_screen.py) and its plots (widgets/report_plots.py): the engine's
truth report asked in a worker, shown as text (gate lines coloured) and plots, refreshed with r, closed with
escape or q; an engine that cannot report says why, in red."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import TabbedContent

from bigearn_tui.app import ConsoleCommands
from bigearn_tui.report_screen import BUILDING, ReportScreen, report_text
from engine.queries import RunReport
from tests.conftest import START, FixedBrain
from tests.ui_harness import make_app, make_runtime
from widgets.report_plots import (
    REPORT_PLOTS,
    DrawdownPlot,
    EquityPlot,
    MarkoutPlot,
    ReliabilityPlot,
)

SIZE = (140, 40)
EDGE = FixedBrain(p=0.70)  # the market is cheap: the value strategy buys each market
TRADED = {"engine.mode": "auto", "strategies.value.budget_pct": 90, "strategies.manual.enabled": True}
PLOTS = REPORT_PLOTS


def run(coro):
    return asyncio.run(coro)


def traded(tmp_path: Path, until_s: float = 20, **overrides: Any):
    """Three markets bought in auto mode, the ledger in a file (a report needs one: ReportUnavailable else)."""
    return make_runtime(tmp_path, brain=EDGE, until_s=until_s,
                        **{"store.path": str(tmp_path / "ledger.db"), **TRADED, **overrides})  # fmt: skip


async def answered(pilot) -> None:
    """The report's worker has finished and what it set is on screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def body(screen: ReportScreen) -> Text:
    content = screen.body.content
    assert isinstance(content, Text)
    return content


def status(screen: ReportScreen) -> str:
    return str(screen.status.content)


def fills_of(engine) -> int:
    return sum(1 for r in engine.snapshot(force=True).blotter if r.kind == "FILL")


class Gated:
    """The engine, with its answers held until the test opens the gate (or replaced by an error)."""

    def __init__(self, engine: Any, error: Exception | None = None) -> None:
        self._engine = engine
        self.error = error
        self.gate = asyncio.Event()
        self.asked: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    async def ask(self, query: Any) -> Any:
        self.asked.append(query)
        if self.error is not None:
            raise self.error
        await self.gate.wait()
        return await self._engine.ask(query)


def test_T_opens_the_report_with_the_gate_lines_and_the_pnl(tmp_path: Path) -> None:
    rt = traded(tmp_path)
    fills = fills_of(rt.engine)
    assert fills == 6

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            screen = app.screen
            assert isinstance(screen, ReportScreen) and screen.asks == 1
            text = body(screen).plain
            assert screen.report is not None and screen.error is None
            assert status(screen).startswith("Truth report built") and not screen.status.has_class("-error")
            for line in ("Promotion gates", "Gate A: NOT ENOUGH DATA", "Gate B: FAIL", "Gate C:",
                         "P&L attribution (USDC; ~ = estimate)", "Execution quality", "Markouts", "Calibration"):
                assert line in text, line  # fmt: skip
            # The P&L table's total row counts the ledger's fills.
            total = re.search(r"^total\s+(\d+)\s", text, re.M)
            assert total is not None and int(total.group(1)) == fills, text
            # The text tab is on screen and has the keys (arrows scroll it); the plots have their data.
            assert screen.query_one(TabbedContent).active == "report-text-tab"
            assert app.focused is screen.query_one("#report-text")
            assert screen.query_one(EquityPlot).message is None
            assert screen.query_one(MarkoutPlot).message == "markouts: no data"  # 20 s in: no 30 s markout yet

    run(main())


def test_the_gate_lines_are_coloured_by_verdict_and_the_titles_bold(tmp_path: Path) -> None:
    rt = traded(tmp_path, until_s=620)  # settled: a drawdown is measured (PASS), most lines FAIL, some n/a
    report = run(rt.engine.ask(RunReport())).report
    text = report_text(report)

    def style_of(pattern: str) -> set[str]:
        line = next(ln for ln in text.split() if re.search(pattern, ln.plain))
        return {str(s.style) for s in line.spans} | {str(line.style)}

    assert "red" in style_of(r"^\s+fills\s.*FAIL")
    assert "green" in style_of(r"^\s+max_drawdown\s.*PASS")
    assert "dim" in style_of(r"^\s+sharpe\s.*n/a")
    assert "bold" in style_of(r"^Gate B: FAIL$") and "red" in style_of(r"^Gate B: FAIL$")
    assert "bold underline" in style_of(r"^P&L attribution")
    # Only the gates are coloured: the P&L table below is the text as report_text made it.
    assert style_of(r"^total\s") == {""}


def test_building_shows_until_the_answer_and_r_asks_again_for_the_new_fills(tmp_path: Path) -> None:
    rt = traded(tmp_path, until_s=20)

    async def main() -> None:
        app = make_app(rt)
        engine = Gated(rt.engine)
        app.engine = engine
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ReportScreen)
            assert status(screen) == BUILDING and screen.report is None  # asked; the console is not waiting
            await pilot.press("p", "t")  # keys still work meanwhile
            await pilot.pause()
            engine.gate.set()
            await answered(pilot)
            first = screen.report
            assert first is not None and status(screen).startswith("Truth report built")
            assert first["pnl"]["total"]["settlement_payouts"] == "0.00"
            assert screen.query_one(ReliabilityPlot).message is not None  # nothing resolved yet
            # The replay goes on past the markets' end (570 s): they settle; r shows it.
            await rt.venue.run(rt.engine, until_ts=START + 620_000)
            engine.gate.clear()
            await pilot.press("r")
            await pilot.pause()
            assert status(screen) == BUILDING and screen.report is first  # the old one stays until the new
            engine.gate.set()
            await answered(pilot)
            assert len(engine.asked) == 2 and screen.asks == 2
            second = screen.report
            assert second is not first and second["period"]["end_ts"] > first["period"]["end_ts"]
            assert second["pnl"]["total"]["settlement_payouts"] != "0.00"
            assert "settled" in body(screen).plain
            assert screen.query_one(ReliabilityPlot).message is None
            assert screen.query_one(MarkoutPlot).message is None

    run(main())


def test_escape_and_q_close_the_report_and_the_console_runs_on(tmp_path: Path) -> None:
    rt = traded(tmp_path)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            for close in ("escape", "q"):
                await pilot.press("T")
                await answered(pilot)
                assert isinstance(app.screen, ReportScreen)
                await pilot.press(close)
                await pilot.pause()
                assert not isinstance(app.screen, ReportScreen) and app.is_running, close
                assert len(app.screen_stack) == 1

    run(main())


def test_an_in_memory_ledger_says_the_report_is_unavailable_in_red(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=20, **TRADED)  # the harness's store: ":memory:"

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            screen = app.screen
            assert isinstance(screen, ReportScreen) and screen.report is None
            said = status(screen)
            assert said.startswith("could not build the report:") and "a report needs a database file" in said
            assert screen.status.has_class("-error")
            assert body(screen).plain == said and "red" in str(body(screen).style)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, ReportScreen)

    run(main())


def test_an_attached_engines_refusal_is_shown_and_a_refresh_that_works_clears_it(tmp_path: Path) -> None:
    rt = traded(tmp_path)

    async def main() -> None:
        app = make_app(rt)
        engine = Gated(rt.engine, error=ValueError("the engine refused the query"))  # RemoteEngine.ask's words
        app.engine = engine
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            screen = app.screen
            assert isinstance(screen, ReportScreen)
            assert status(screen) == "could not build the report: the engine refused the query"
            assert screen.status.has_class("-error")
            engine.error = None
            engine.gate.set()
            await pilot.press("r")
            await answered(pilot)
            assert screen.error is None and not screen.status.has_class("-error")
            assert "Gate A:" in body(screen).plain

    run(main())


def test_a_report_the_console_cannot_read_is_an_error_not_a_crash(tmp_path: Path) -> None:
    from engine.queries import TruthReport

    rt = traded(tmp_path)

    class OtherVersion(Gated):
        async def ask(self, query: Any) -> Any:
            return TruthReport({"report_version": 99})  # an attached engine's report with other keys

    async def main() -> None:
        app = make_app(rt)
        app.engine = OtherVersion(rt.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            screen = app.screen
            assert isinstance(screen, ReportScreen) and app.is_running
            assert status(screen).startswith("could not build the report:") and screen.report is None

    run(main())


def test_the_consoles_keys_wait_behind_the_report_but_halt_goes_through(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12, **{"store.path": str(tmp_path / "ledger.db")})  # semi
    pending = len(rt.engine.snapshot(force=True).pending_proposals)
    assert pending == 3

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            await pilot.press("a", "m", "T")  # approve, mode, the report again: not behind this screen
            await pilot.pause()
            assert len(rt.engine.snapshot(force=True).pending_proposals) == pending
            assert not app.confirm_bar.asking and len(app.screen_stack) == 2
            await pilot.press("H")  # a priority key: it halts from any screen
            await pilot.pause()
            assert rt.engine.state == "HALTED" and isinstance(app.screen, ReportScreen)

    run(main())


def test_the_palette_offers_the_truth_report(tmp_path: Path) -> None:
    assert ("report", "T") in [(action, key) for _, action, key in ConsoleCommands.COMMANDS]
    rt = traded(tmp_path)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await pilot.press(*"truth report")
            from textual.command import CommandList

            options = app.screen.query_one(CommandList)
            for _ in range(50):  # the palette searches in a worker of its own: until its first hit is listed
                await pilot.pause(0.05)
                if options.option_count and "Truth report" in str(options.get_option_at_index(0).prompt):
                    break
            assert options.option_count and "Truth report" in str(options.get_option_at_index(0).prompt)
            assert options.highlighted == 0  # the best hit, highlighted by the palette
            await pilot.press("enter")
            await pilot.pause()
            await answered(pilot)
            assert isinstance(app.screen, ReportScreen) and app.screen.report is not None

    run(main())


def test_p_and_t_switch_between_the_plots_and_the_text(tmp_path: Path) -> None:
    rt = traded(tmp_path)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("T")
            await answered(pilot)
            tabs = app.screen.query_one(TabbedContent)
            await pilot.press("p")
            await pilot.pause()
            assert tabs.active == "report-plots-tab"
            assert all(plot.display and plot.size.width > 20 for plot in app.screen.query("PlotextPlot"))
            await pilot.press("t")
            await pilot.pause()
            assert tabs.active == "report-text-tab" and app.focused is app.screen.query_one("#report-text")

    run(main())


# --- the plots ------------------------------------------------------------------------------------------------


class PlotsApp(App[None]):
    CSS = "PlotextPlot { width: 60; height: 16; }"

    def compose(self) -> ComposeResult:
        for cls in PLOTS:
            yield cls()


def plotted(report: dict[str, Any] | None) -> dict[str, tuple[str | None, str]]:
    """Each plot's message (None: it drew) and its rendered text, after show(report)."""

    async def main() -> dict[str, tuple[str | None, str]]:
        app = PlotsApp()
        async with app.run_test(size=(60, 70)) as pilot:
            out = {}
            for cls in PLOTS:
                plot = app.query_one(cls)
                plot.show(report)
                await pilot.pause()
                rendered = plot.render()
                out[cls.__name__] = (plot.message, rendered.plain if isinstance(rendered, Text) else str(rendered))
            return out

    return run(main())


def test_each_plot_says_no_data_for_an_empty_or_missing_part() -> None:
    empty = {
        "series": {"equity": {"ts": [], "equity": [], "drawdown": []}, "pnl_by_strategy": {}},
        "markouts": {"horizons": ["30s", "2m", "10m"], "total": {h: {"n": 0, "mean": None} for h in ("30s", "2m", "10m")}},
        "calibration": {"brains": {}, "market": {"reliability": []}},
    }  # fmt: skip
    for report in (empty, {}, None, {"series": None, "markouts": [], "calibration": "?"}):
        for name, (message, shown) in plotted(report).items():
            assert message is not None and "no data" in message and "no data" in shown, (name, report)


def test_the_plots_draw_a_real_report(tmp_path: Path) -> None:
    rt = traded(tmp_path, until_s=620)  # bought, marked out and settled
    report = run(rt.engine.ask(RunReport())).report
    out = plotted(report)
    assert all(message is None for message, _ in out.values()), out
    equity, drawdown, pnl, markouts, reliability = (out[cls.__name__][1] for cls in PLOTS)
    last = report["series"]["equity"]["equity"][-1]
    worst = min(report["series"]["equity"]["drawdown"]) * 100
    assert f"equity {last:,.2f} (+257.83), max drawdown {worst:.2f}%" in equity
    assert "0.0%" in drawdown and "0h" in drawdown and "0.1h" in drawdown  # the hour axis is under the drawdown
    assert "value" in pnl and "(at 0: manual)" in pnl  # the hand orders' strategy never traded
    assert "30s" in markouts and "10m" in markouts and "taker" in markouts and "maker" not in markouts
    assert "fixed" in reliability and "market" in reliability


def test_a_lone_point_and_missing_values_still_plot() -> None:
    report = {
        "series": {"equity": {"ts": [START], "equity": [1000.0], "drawdown": [None]},
                   "pnl_by_strategy": {"value": {"ts": [START, START + 60_000], "pnl": [0.0, float("nan")]}}},
        "markouts": {"horizons": ["30s"], "total": {"30s": {"n": 1, "mean": 1.5, "ci_low": None, "ci_high": None}}},
        "calibration": {"brains": {"b": {"reliability": [{"predicted": 0.3, "observed": None, "count": 1}]}},
                        "market": {"reliability": [{"predicted": 0.5, "observed": 1.0, "count": 3}]}},
    }  # fmt: skip
    out = plotted(report)
    assert out.pop(DrawdownPlot.__name__)[0] == "drawdown: no data"  # its one value is missing
    assert all(message is None for message, _ in out.values()), out
    assert "(at 0: value)" in out["StrategyPnLPlot"][1]  # the NaN is left out, the zero before it kept
    assert "equity 1,000.00 (+0.00)" in out["EquityPlot"][1]
