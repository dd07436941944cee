"""The Report screen (key T, or "Truth report" in the palette): the truth report of the engine's ledger.

The engine builds the report (engine/analytics/truth_report.py) when asked (`engine.ask(RunReport())`, in process
or over the control socket); the screen asks in a worker, so the console never waits: the status line says
"building the report..." meanwhile, and the error in red if the engine cannot (an in-memory ledger:
ReportUnavailable; attached, the engine's words as a ValueError). `r` asks again; escape or q closes.

Two tabs, Text (t) and Plots (p), rather than plots beside the text: the report's text is tables 80 to 200
columns wide (P&L attribution ~125, execution quality ~170), and four plots need about 45x11 each to read.
Side by side at 100x30 the text would get ~55 columns (the gate verdicts cut off) and the plots ~7 rows each;
a tab gives either the whole screen. The text is `report_text.sections()` as it is (the numbers rounded there,
not here): titles bold, gate lines green (PASS), red (FAIL) or dim (n/a), scrolled both ways.

A modal screen with an opaque background: it covers the console, and the console's single-letter keys
(approve, reject, mode, ...) do not act on panes the operator cannot see; the priority keys H (halt) and X
(cancel all) still work here, as on every screen.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, ScrollableContainer, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TabbedContent, TabPane

from engine.analytics.report_text import sections, when
from engine.queries import RunReport
from widgets.report_plots import (
    REPORT_PLOTS,
    DrawdownPlot,
    EquityPlot,
    MarkoutPlot,
    ReliabilityPlot,
    StrategyPnLPlot,
)

BUILDING = "building the report..."
KEYS = "r refresh  t text  p plots  arrows pgup pgdn home end scroll  esc/q close  H halt  X cancel all"
GATES_TITLE = "Promotion gates"
_GATE_HEADER = re.compile(r"^Gate \S+: (.+)$")
_VERDICT = re.compile(r"(?<=  )(PASS|FAIL|n/a)(?= |$)")  # the verdict column of a gate line (report_text)
VERDICT_STYLE = {"PASS": "green", "FAIL": "red", "n/a": "dim", "NOT ENOUGH DATA": "dim"}


def _gate_line(line: str) -> Text:
    """A line of the gates section, coloured by its verdict: the whole line, the verdict bold."""
    header = _GATE_HEADER.match(line)
    if header is not None:
        style = VERDICT_STYLE.get(header.group(1), "")
        text = Text(line, style="bold")
        text.stylize(style, header.start(1))
        return text
    verdict = _VERDICT.search(line)
    if verdict is None:
        return Text(line)
    text = Text(line, style=VERDICT_STYLE[verdict.group(1)])
    text.stylize("bold", verdict.start(1), verdict.end(1))
    return text


def report_text(report: dict[str, Any]) -> Text:
    """Every section of `sections(report)`: its title bold, its lines as they are (gate lines coloured)."""
    out = Text(no_wrap=True, overflow="ignore", end="")
    for k, (title, lines) in enumerate(sections(report)):
        if k:
            out.append("\n")
        out.append(title, style="bold underline")
        out.append("\n")
        for line in lines:
            out.append_text(_gate_line(line) if title == GATES_TITLE else Text(line))
            out.append("\n")
    return out


class ReportScreen(ModalScreen[None]):
    """The truth report over the whole terminal: a status line, the Text and Plots tabs, a line of keys."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="report_close"),
        Binding("r", "refresh_report", "Refresh", id="report_refresh"),
        Binding("t", "show_tab('report-text-tab')", "Text", id="report_text"),
        Binding("p", "show_tab('report-plots-tab')", "Plots", id="report_plots"),
    ]
    AUTO_FOCUS = "#report-text"

    def __init__(self, engine: Any, report: dict[str, Any] | None = None,
                 query: RunReport | None = None) -> None:  # fmt: skip
        """`report`: show this one (a snapshot test's fixed report) and ask the engine only on `r`."""
        super().__init__()
        self.engine = engine
        self.question = query or RunReport()
        self.report = report
        self.error: str | None = None
        self.asks = 0  # questions sent to the engine (r included)

    def compose(self) -> ComposeResult:
        yield Static("", id="report-status", markup=False)
        with TabbedContent(id="report-tabs", initial="report-text-tab"):
            with TabPane("Text", id="report-text-tab"), ScrollableContainer(id="report-text"):
                yield Static("", id="report-body")
            with TabPane("Plots", id="report-plots-tab"), Grid(id="report-plots"):
                with Vertical(id="report-equity-cell"):  # the drawdown under the equity, on its hour axis
                    yield EquityPlot(id="report-equity")
                    yield DrawdownPlot(id="report-drawdown")
                yield StrategyPnLPlot(id="report-strategy-pnl")
                yield MarkoutPlot(id="report-markouts")
                yield ReliabilityPlot(id="report-reliability")
        yield Static(KEYS, id="report-keys", markup=False)

    def on_mount(self) -> None:
        self.status = self.query_one("#report-status", Static)
        self.body = self.query_one("#report-body", Static)
        self.plots = [self.query_one(cls) for cls in REPORT_PLOTS]
        if self.report is not None:
            self._show(self.report)
        else:
            self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_refresh_report(self) -> None:
        self.load()

    def action_show_tab(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "report-text-tab":  # by key or by a click on the tab: the keys scroll the text
            self.query_one("#report-text").focus()

    @work(exclusive=True, group="report")
    async def load(self) -> None:
        """Ask the engine for the report; the one on screen stays until the new one (or an error) arrives."""
        self.asks += 1
        self._say(BUILDING)
        try:
            answer = await self.engine.ask(self.question)
            text = report_text(answer.report)  # an attached engine of another version may send other keys
        except Exception as exc:  # ReportUnavailable in process, ValueError attached, or the report failed
            self.error = f"could not build the report: {exc}"
            self._say(self.error, error=True)
            if self.report is None:
                self.body.update(Text(self.error, style="bold red"))
            return
        self.error = None
        self._show(answer.report, text)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.update(text)
        self.status.set_class(error, "-error")

    def _show(self, report: dict[str, Any], text: Text | None = None) -> None:
        self.report = report
        period = report.get("period") or {}
        self._say(f"Truth report built {when(report.get('generated_ts'))} UTC, data {when(period.get('start_ts'))}"
                  f" .. {when(period.get('end_ts'))}, ledger {report.get('db', '-')}")  # fmt: skip
        with self.app.batch_update():
            self.body.update(report_text(report) if text is None else text)
            for plot in self.plots:
                plot.show(report)
