"""The console: panes over one engine, pulled at a fixed rate, steered with keys.

The UI never sees individual market messages. It pulls `engine.snapshot()` on a timer, skips it when
the sequence number has not moved, and hands each pane only its part. Commands go to the engine, and the
snapshot is pulled again at once so their effect is on screen immediately.

The top row shows one view at a time: Markets and Book (the default), Strategies (key s: the keys that pause,
resume and revoke act on its rows), the Blotter (key b: fills and settlements, filterable) or Charts (key g:
the selected market's mid with our fills and resting orders, and the equity curve). Positions and P&L can be
narrowed to one strategy (key f). Hand orders go through the order ticket (key o) with a live what-if; the
selected proposal's what-if is key w; Positions cancels one order (c) or flattens a position (x); key F
searches the venue's catalogue and adds or removes markets from the watchlist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from engine.commands import (
    Approve,
    ArmLive,
    CancelAll,
    CancelOrder,
    Command,
    EditSize,
    Flatten,
    Halt,
    PauseStrategy,
    PlaceOrder,
    Reject,
    Resume,
    ResumeStrategy,
    RevokeMandate,
    SetMode,
)
from engine.domain import Mode, Outcome, Side
from engine.queries import MarketHistory
from engine.snapshot import EngineSnapshot, MarketRow, StrategyRow
from engine.units import SIZE_SCALE
from widgets.blotter import BlotterTable
from widgets.book import BookView
from widgets.charts import EquityChart, PriceChart
from widgets.confirm_bar import ConfirmBar
from widgets.event_log import EventLog
from widgets.format import clip, clip_middle, countdown, px, shares
from widgets.key_bar import KeyBar, KeyItem
from widgets.markets import MarketList
from widgets.markets import detail_line as market_detail
from widgets.pnl import PnLPane
from widgets.positions import PositionTable
from widgets.proposals import ProposalTable, detail_line
from widgets.risk import RiskPane
from widgets.status_bar import StatusBar
from widgets.strategies import StrategiesView

from .report_screen import ReportScreen
from .screens import ArmLiveScreen, HelpScreen, SizeScreen
from .search import MarketSearchScreen
from .ticket import OrderTicketScreen, ProposalWhatIfScreen

MODE_CYCLE = {Mode.SEMI: Mode.AUTO, Mode.AUTO: Mode.OBSERVE, Mode.OBSERVE: Mode.SEMI}

# The top row's views: the widgets each shows (ids), in place of the others.
VIEWS = {"markets": "#row-top", "strategies": "#strategies-view", "blotter": "#blotter-view", "charts": "#charts-view"}
# The key bar is one line, sized for 140 columns: it shows the keys that matter in the view on screen. Every key
# works in any view; help (?) lists them all.
VIEW_ONLY_KEYS = {
    "strategies": frozenset({"pause_strategy", "resume_strategy", "revoke_mandate"}),
}
HIDDEN_IN_BAR = frozenset({"toggle_outcome", "filter", "edit_size", "strategy_filter", "what_if"})
HISTORY_EVERY_S = 1.0  # the Chart pane asks the engine for the selected market's history at most this often


class ConsoleCommands(Provider):
    """Every console command in the palette (ctrl+p)."""

    # (what it does, in plain words; the action it runs; its key, shown as the hit's help)
    COMMANDS = (
        ("Approve selected proposal", "approve", "a"),
        ("Reject selected proposal", "reject", "r"),
        ("Edit size of selected proposal", "edit_size", "e"),
        ("What-if of selected proposal", "what_if", "w"),
        ("Order ticket: place an order by hand", "order_ticket", "o"),
        ("Cancel the order under the cursor in Positions", "cancel_order", "c"),
        ("Flatten the position under the cursor in Positions", "flatten", "x"),
        ("HALT: stop new risk", "halt", "H"),
        ("Resume trading", "resume", "R"),
        ("Cancel all orders", "cancel_all", "X"),
        ("Mode: semi (approve every trade)", "set_mode('semi')", "m cycles"),
        ("Mode: auto", "set_mode('auto')", "m cycles"),
        ("Mode: observe (send nothing)", "set_mode('observe')", "m cycles"),
        ("Book: show the other outcome", "toggle_outcome", "t"),
        ("Filter the market list", "filter", "/"),
        ("Find a market in the venue's catalogue (add or remove from the watchlist)", "find_market", "F"),
        ("Strategies: show or hide (in place of Markets and Book)", "toggle_strategies", "s"),
        ("Blotter: fills and settlements", "toggle_blotter", "b"),
        ("Charts: the selected market's mid and the equity curve", "toggle_charts", "g"),
        ("Truth report: gates, P&L, execution, markouts, calibration (text and plots)", "report", "T"),
        ("Pause selected strategy", "pause_strategy", "P"),
        ("Resume selected strategy", "resume_strategy", "U"),
        ("Revoke selected mandate", "revoke_mandate", "V"),
        ("Positions and P&L: next strategy (all, each strategy, all)", "strategy_filter", "f"),
        ("Arm LIVE venue (type LIVE)", "arm_live", ""),
        ("Help: keys", "help", "?"),
        ("Quit", "quit_console", "q"),
    )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        for label, action, key in self.COMMANDS:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.run_action, action), help=_key_help(key))

    async def discover(self) -> Hits:
        app = self.app
        for label, action, key in self.COMMANDS:
            yield Hit(1.0, label, partial(app.run_action, action), help=_key_help(key))


def _key_help(key: str) -> str:
    return f"key {key}" if key else ""


class BigEarnApp(App[int]):
    CSS_PATH = "console.tcss"
    TITLE = "Big Earn"
    AUTO_FOCUS = "#markets"  # never the filter box: an Input would swallow the single-letter keys
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approve"),
        Binding("r", "reject", "Reject", id="reject"),
        Binding("e", "edit_size", "Edit size", id="edit_size"),
        Binding("H", "halt", "HALT", priority=True, id="halt"),
        Binding("X", "cancel_all", "Cancel all", priority=True, id="cancel_all"),
        Binding("R", "resume", "Resume", id="resume"),
        Binding("m", "cycle_mode", "Mode", id="cycle_mode"),
        Binding("t", "toggle_outcome", "Other outcome", id="toggle_outcome"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "toggle_strategies", "Strats", id="strategies"),
        Binding("f", "strategy_filter", "By strategy", id="strategy_filter"),
        Binding("P", "pause_strategy", "Pause", id="pause_strategy"),
        Binding("U", "resume_strategy", "Unpause", id="resume_strategy"),
        Binding("V", "revoke_mandate", "Revoke", id="revoke_mandate"),
        Binding("o", "order_ticket", "Order", id="order_ticket"),
        Binding("w", "what_if", "What-if", id="what_if"),
        Binding("c", "cancel_order", "Cancel", id="cancel_order"),
        Binding("x", "flatten", "Flatten", id="flatten"),
        Binding("b", "toggle_blotter", "Blotter", id="blotter"),
        Binding("g", "toggle_charts", "Charts", id="charts"),
        Binding("F", "find_market", "Find", id="find_market"),
        # Not in the key bar (one line, full at 140 columns): a rare look, listed in help (?) and the palette.
        Binding("T", "report", "Report", id="report", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit_console", "Quit", id="quit"),
    ]

    def __init__(self, engine: Any, *, refresh_hz: float = 5.0, keymap: dict[str, str] | None = None,
                 live_armed: bool = False, wall: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000, detaches: bool = False,
                 bell: bool = True) -> None:
        super().__init__()
        # Attached to a headless engine (`bigearn-tui attach`): quitting detaches and the engine runs on.
        self.detaches = detaches
        self._wall = wall
        self._wall_ms = wall_ms  # the operator's clock: proposals count down in real seconds
        self.engine = engine
        self.refresh_hz = refresh_hz
        self._keymap = keymap or {}
        self.live_armed = live_armed
        self.snap: EngineSnapshot | None = None
        self._binding_state: tuple[bool, bool, bool] | None = None
        self._log_seen = 0
        self._selected: str | None = None
        self.last_result = ""
        self._commands_out = 0
        self.strategy_filter: str | None = None  # Positions and P&L narrowed to this strategy (key f)
        self.bell_on = bell  # the terminal bell on a new proposal, a halt, a trip or an error ([ui] bell)
        self.view = "markets"
        self._known_pending: set[str] | None = None  # pending ids at the last pull (None: none seen yet)
        self._alarm: tuple[str, frozenset[str]] | None = None  # (engine state, tripped breakers) last seen
        self._history_at = 0.0  # wall time of the last history request (the Chart pane)
        self._history_for: str | None = None

    # --- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(wall=self._wall, id="status")
        with Horizontal(id="row-top"):
            with Vertical(id="markets-pane", classes="pane") as v:
                v.border_title = "Markets"
                yield Input(placeholder="filter markets (enter to apply, escape to clear)", id="market-filter")
                yield MarketList(id="markets")
                yield Static("", id="market-detail", markup=False)
            with Vertical(id="book-pane", classes="pane") as v:
                v.border_title = "Book"
                yield BookView(id="book")
        # In place of Markets and Book while the operator works on strategies (key s): the tallest row, at full
        # width, and the panes that decide (Proposals, Positions, P&L, Risk) stay where they were.
        strategies = StrategiesView(id="strategies-view")
        strategies.display = False
        yield strategies
        with Vertical(id="blotter-view", classes="pane") as v:
            v.border_title = "Blotter: fills and settlements (newest first)"
            v.display = False
            yield Input(placeholder="filter the blotter: words (enter to apply, escape to clear)", id="blotter-filter")
            yield BlotterTable(id="blotter")
        with Horizontal(id="charts-view") as h:
            h.display = False
            with Vertical(id="price-chart-pane", classes="pane") as v:
                v.border_title = "Mid, our fills and resting orders"
                yield PriceChart(id="price-chart")
            with Vertical(id="equity-chart-pane", classes="pane") as v:
                v.border_title = "Equity"
                yield EquityChart(id="equity-chart")
        with Horizontal(id="row-mid"):
            with Vertical(id="proposals-pane", classes="pane") as v:
                v.border_title = "Proposals"
                yield ProposalTable(wall_ms=self._wall_ms, id="proposals")
            with Vertical(id="positions-pane", classes="pane") as v:
                v.border_title = "Positions"
                yield PositionTable(id="positions")
        with Horizontal(id="row-bottom"):
            pnl = PnLPane(id="pnl-pane", classes="pane")
            pnl.border_title = "P&L"
            yield pnl
            risk = RiskPane(id="risk-pane", classes="pane")
            risk.border_title = "Risk"
            yield risk
            with Vertical(id="log-pane", classes="pane") as v:
                v.border_title = "Log"
                yield EventLog(max_lines=500, id="log")
        yield ConfirmBar(id="confirm")
        yield KeyBar(hint="^p palette", id="keys")

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        # Held once: while a modal is up, queries would search the modal, not the main screen.
        self.status = self.query_one(StatusBar)
        self.markets = self.query_one(MarketList)
        self.book = self.query_one(BookView)
        self.proposal_table = self.query_one(ProposalTable)
        self.proposals_pane = self.query_one("#proposals-pane")
        self.positions_pane = self.query_one("#positions-pane")
        self.row_top = self.query_one("#row-top")
        self.strategies_view = self.query_one(StrategiesView)
        self.position_table = self.query_one(PositionTable)
        self.pnl_pane = self.query_one(PnLPane)
        self.risk_pane = self.query_one(RiskPane)
        self.log_pane = self.query_one(EventLog)
        self.confirm_bar = self.query_one(ConfirmBar)
        self.key_bar = self.query_one(KeyBar)
        self.filter_box = self.query_one("#market-filter", Input)
        self.filter_box.display = False
        self.market_detail = self.query_one("#market-detail", Static)
        self.blotter = self.query_one(BlotterTable)
        self.blotter_filter = self.query_one("#blotter-filter", Input)
        self.blotter_filter.display = False
        self.price_chart = self.query_one(PriceChart)
        self.equity_chart = self.query_one(EquityChart)
        self.views = {name: self.query_one(sel) for name, sel in VIEWS.items()}
        self.pull(force=True)
        self.set_interval(1 / self.refresh_hz, self.pull)
        if self.snap is not None and self.snap.venue == "LIVE" and not (self.snap.live_armed or self.live_armed):
            self.arm_live()

    def action_arm_live(self) -> None:
        self.arm_live()

    @work(exclusive=True, group="modal")
    async def arm_live(self) -> None:
        word = await self.push_screen_wait(ArmLiveScreen())
        if word is None:
            self.notify("LIVE venue not armed: proposals are refused and nothing is sent", severity="warning", timeout=8)
            return
        await self._command(ArmLive(word))

    def get_system_commands(self, screen: Screen) -> Any:
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit", "Keys"):
                yield cmd
        yield SystemCommand("Help: Big Earn keys", "Every key of the console", self.action_help)

    # --- pulling the read model --------------------------------------------------------------------
    def pull(self, force: bool = False) -> None:
        if self._exit:  # quitting: the panes may already be coming down
            return
        if self._commands_out and not force:
            return
        snap = self.engine.snapshot(force=force)
        if not force and self.snap is not None and snap.seq == self.snap.seq:
            self.status.show(snap, live_armed=self.live_armed)  # keeps the snapshot age honest
            if snap.pending_proposals:  # the time left counts down in real seconds even when nothing moves
                self.proposal_table.update_rows(snap.proposals, snap.ts)
                self._show_proposal_detail()
            return
        self.snap = snap
        with self.batch_update():
            self.status.show(snap, received=True, live_armed=self.live_armed)
            markets = self.markets
            markets.update_rows(snap.markets)
            if self._selected is None and snap.markets:
                self._selected = markets.selected = snap.markets[0].condition_id
            title = next((m.title for m in snap.markets if m.condition_id == self._selected), "")
            self.book.show(snap.books.get(self._selected or ""), title)
            self._show_market_detail()
            self.proposal_table.show_strategy(len(self._strategy_ids(snap)) > 1)
            self.proposal_table.update_rows(snap.proposals, snap.ts)
            self._show_proposal_detail()
            self._show_filtered(snap)
            self.risk_pane.show(snap.risk)
            self._show_view_data(snap)  # a hidden view waits: it is filled when shown
            self._append_log(snap)
        self._attention(snap)
        state = (snap.halted, bool(snap.pending_proposals), bool(snap.orders), bool(snap.positions))
        if state != self._binding_state:  # which keys would do something now
            self._binding_state = state
            self._show_keys()

    @staticmethod
    def _strategy_ids(snap: EngineSnapshot) -> list[str]:
        """The strategies of this run, paused ones too (they still hold positions); not those that are off."""
        return [s.strategy_id for s in snap.strategies if s.state != "OFF"]

    def _show_filtered(self, snap: EngineSnapshot) -> None:
        """Positions and P&L, narrowed to the filter's strategy; a filter whose strategy is gone is dropped."""
        row: StrategyRow | None = None
        if self.strategy_filter is not None:
            row = next((s for s in snap.strategies if s.strategy_id == self.strategy_filter), None)
            if row is None:
                self.strategy_filter = None
                self._show_filter_titles()
        sid = None if row is None else row.strategy_id
        closes = {m.condition_id: m.time_to_close_s for m in snap.markets}
        self.position_table.update_rows(snap.positions, snap.orders, snap.ts, sid, closes)
        self.pnl_pane.show(snap.pnl, snap.bankroll, row, snap.strategies)
        self._show_position_detail()

    blotter_text = ""  # the blotter's filter words

    def _show_view_data(self, snap: EngineSnapshot) -> None:
        if self.view == "strategies":
            self.strategies_view.show(snap.strategies, snap.mandates, snap.ts)
        elif self.view == "blotter":
            self.blotter.update_rows(snap.blotter, self.blotter_text, self.strategy_filter)
        elif self.view == "charts":
            self.equity_chart.show(snap.pnl.history, start=float(snap.bankroll))
            self._ask_history()

    def _chart_market(self) -> str | None:
        """The market the price chart follows: the position under the cursor while Positions has the focus,
        else the market selected in the Markets pane."""
        if self.position_table.has_focus:
            pos = self.position_table.selected_position()
            if pos is not None:
                return pos.condition_id
        return self._selected

    def _ask_history(self, now: bool = False) -> None:
        cid = self._chart_market()
        if cid is None:
            self.price_chart.show(None)
            return
        wall = self._wall()
        if not now and cid == self._history_for and wall - self._history_at < HISTORY_EVERY_S:
            return
        self._history_at, self._history_for = wall, cid
        self.run_worker(partial(self._load_history, cid), exclusive=True, group="history")

    async def _load_history(self, cid: str) -> None:
        try:
            history = await self.engine.ask(MarketHistory(cid))
        except ValueError as exc:
            self._say(f"chart: {exc}")
            return
        if self.view == "charts" and cid == self._chart_market():
            self.price_chart.show(history, self.snap.ts if self.snap else None)

    def _show_market_detail(self) -> None:
        row = self.markets.highlighted()
        text = "" if row is None else market_detail(row)
        if str(self.market_detail.content) != text:
            self.market_detail.update(text)

    def on_market_list_highlighted(self, _: MarketList.Highlighted) -> None:
        self._show_market_detail()

    _position_detail = ""

    def _show_position_detail(self) -> None:
        """The row under the cursor in full in the Positions pane's subtitle: its market's name and countdown."""
        table = self.position_table
        key = table.selected_key() if table.has_focus else None
        row = table.positions.get(key or "") or table.orders.get(key or "")
        text = ""
        if row is not None:
            market = self._market_row(row.condition_id)
            left = None if market is None else market.time_to_close_s
            text = f"{row.title} {row.outcome}" + ("" if left is None else f" | closes in {countdown(left)}")
        if text != self._position_detail:
            self._position_detail = text
            self.positions_pane.border_subtitle = Content(clip_middle(text, 56)) if text else None

    def _attention(self, snap: EngineSnapshot) -> None:
        """A new proposal rings the bell and stays highlighted until the operator has looked at it (the
        cursor on it in a focused Proposals pane, or decided); a halt, a breaker trip or an ERROR rings too
        (the status bar turns red for them)."""
        pending = {p.proposal_id for p in snap.pending_proposals}
        ring = False
        if self._known_pending is not None:
            new = pending - self._known_pending
            if new:
                self.proposal_table.mark_new(new)
                ring = True
        self._known_pending = pending
        tripped = frozenset(b.name for b in snap.risk.tripped)
        alarm = (snap.state, tripped)
        if self._alarm is not None and alarm != self._alarm:
            worse = snap.state in ("HALTED", "ERROR") and snap.state != self._alarm[0]
            if worse or tripped - self._alarm[1]:
                ring = True
        self._alarm = alarm
        if ring and self.bell_on:
            self.bell()

    def _show_filter_titles(self) -> None:
        sid = self.strategy_filter
        self.positions_pane.border_title = Content("Positions" if sid is None else f"Positions: {sid}")
        self.pnl_pane.border_title = Content("P&L" if sid is None else f"P&L: {sid}")

    _proposal_detail = ""

    def _show_proposal_detail(self) -> None:
        """A selected MANDATE row's bounds, or a multi-leg row's legs, in full in the Proposals pane's subtitle."""
        row = self.proposal_table.selected()
        text = "" if row is None else detail_line(row)
        if text != self._proposal_detail:
            self._proposal_detail = text
            # Content, not a str: a str title is parsed as markup, and a strategy's reason may hold "[...]".
            self.proposals_pane.border_subtitle = Content(text) if text else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.proposal_table:
            self._show_proposal_detail()
            if self.proposal_table.has_focus:  # the operator is looking at it
                self.proposal_table.mark_seen(event.row_key.value)
        elif event.data_table is self.position_table:
            self._show_position_detail()
            if self.view == "charts":
                self._ask_history(now=True)

    def _show_keys(self) -> None:
        items = []
        for b in self.BINDINGS:
            if not isinstance(b, Binding) or not b.show or b.action in HIDDEN_IN_BAR:
                continue
            only = next((view for view, keys in VIEW_ONLY_KEYS.items() if b.action in keys), None)
            if only is not None and only != self.view:
                continue
            if b.action == "resume" and not (self.snap is not None and self.snap.halted):
                continue  # only while halted: the bar has room for the keys that act now
            key = self._keymap.get(b.id or "", b.key)
            shown = b if key == b.key else Binding(key, b.action, b.description)
            items.append(KeyItem(self.get_key_display(shown), b.description, b.action, self._key_useful(b.action)))
        self.key_bar.set_keys(items)

    def _key_useful(self, action: str) -> bool:
        """Whether the key would do something now (the bar dims it otherwise; pressed, it says why not)."""
        snap = self.snap
        if action in ("approve", "reject", "edit_size", "what_if"):
            return snap is not None and bool(snap.pending_proposals) and not (snap.halted and action == "approve")
        if action == "resume":
            return snap is not None and snap.halted
        if action in ("cancel_order", "flatten"):
            return snap is not None and bool(snap.orders if action == "cancel_order" else snap.positions)
        return True

    def _append_log(self, snap: EngineSnapshot) -> None:
        total = snap.counters.get("log_lines", 0)
        new = total - self._log_seen
        if new > 0:
            self.log_pane.write_lines(list(snap.log[-min(new, len(snap.log)):]))
            self._log_seen = total

    # --- actions ---------------------------------------------------------------------------------
    def _nothing_pending(self) -> bool:
        """True (and says so) when there is no proposal for a proposal key to act on."""
        snap = self.snap
        if snap is not None and snap.pending_proposals:
            return False
        self._say("nothing pending: no proposal waits for a decision")
        return True

    async def _command(self, command: Command) -> None:
        # While the command is out, the periodic pull waits: a whole-screen repaint starting meanwhile would
        # hold the loop when the answer arrives, and the key's effect would wait for it.
        self._commands_out += 1
        try:
            result = await self.engine.execute(command)
        finally:
            self._commands_out -= 1
        self.last_result = result.message
        if not self.confirm_bar.asking:
            self.confirm_bar.show_message(f"{type(command).__name__}: {result.message}")
        if not result.ok:
            self.notify(result.message, severity="warning", timeout=4)
        # The engine's state first: the status bar alone is the next frame (a few ms), the panes follow in the
        # frame after. Repainting every pane at once made the key's effect wait ~20-40 ms for the whole
        # screen under a busy feed (bench/ui.py).
        self.status.show(self.engine.snapshot(force=True), received=True, live_armed=self.live_armed)
        self.call_after_refresh(self.pull, True)

    def _target_proposal(self) -> str | None:
        snap = self.snap
        if snap is None:
            return None
        pending = {p.proposal_id for p in snap.pending_proposals}
        selected = self.proposal_table.selected_id()
        if selected in pending:
            return selected
        first = sorted(snap.pending_proposals, key=lambda p: p.created_ts)
        return first[0].proposal_id if first else None

    async def action_approve(self) -> None:
        if self._nothing_pending():
            return
        if self.snap is not None and self.snap.halted:
            self._say(f"halted ({self.snap.halt_reason}): approvals are disabled; R resumes")
            return
        pid = self._target_proposal()
        if pid is not None:
            self.proposal_table.mark_seen(pid)
            await self._command(Approve(pid))

    async def action_reject(self) -> None:
        if self._nothing_pending():
            return
        pid = self._target_proposal()
        if pid is not None:
            self.proposal_table.mark_seen(pid)
            await self._command(Reject(pid))

    @work(exclusive=True, group="modal")
    async def action_edit_size(self) -> None:
        if self._nothing_pending():
            return
        pid = self._target_proposal()
        if pid is None or self.snap is None:
            return
        row = next(p for p in self.snap.proposals if p.proposal_id == pid)
        if row.kind == "MANDATE":
            self._say(f"mandate {pid[-7:]} has bounds, not a size: approve (a) or reject (r) it as it is")
            return
        if row.legs:  # the engine refuses it too; asking for a size first would waste the operator's time
            self._say(f"{pid[-7:]} has legs that go together: its size is not edited; approve or reject it")
            return
        value = await self.push_screen_wait(SizeScreen(f"New size (shares) for {pid[-7:]} {row.title[:30]}",
                                                       row.size / SIZE_SCALE))
        if value is not None:
            await self._command(EditSize(pid, int(round(value * 100)) * 10_000))

    async def action_halt(self) -> None:
        await self._command(Halt("operator halt (console)"))

    async def action_cancel_all(self) -> None:
        await self._command(CancelAll())

    @work(exclusive=True, group="modal")
    async def action_resume(self) -> None:
        if self.snap is not None and not self.snap.halted:
            self._say(f"not halted ({self.snap.state}): nothing to resume")
            return
        if await self.confirm_bar.ask("Resume trading? New risk will be taken again."):
            await self._command(Resume())

    @work(exclusive=True, group="modal")
    async def _switch_mode(self, target: Mode) -> None:
        if target is Mode.AUTO and not await self.confirm_bar.ask(
            "Switch to AUTO? Orders that pass the gates will be sent without approval."
        ):
            return
        await self._command(SetMode(target))

    def action_cycle_mode(self) -> None:
        current = Mode(self.snap.mode) if self.snap else Mode.SEMI
        self._switch_mode(MODE_CYCLE[current])

    def action_set_mode(self, mode: str) -> None:
        self._switch_mode(Mode(mode))

    def action_toggle_outcome(self) -> None:
        self.book.toggle_outcome()

    def action_filter(self) -> None:
        if self.view == "blotter":  # / filters what is on screen: here, the blotter
            self.blotter_filter.display = True
            self.blotter_filter.focus()
            return
        self._show_view("markets")  # the filter box is in the Markets pane
        self.filter_box.display = True
        self.filter_box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "blotter-filter":
            self.blotter_text = event.value.strip()
            if not self.blotter_text:
                event.input.display = False
            if self.snap is not None:
                self.blotter.update_rows(self.snap.blotter, self.blotter_text, self.strategy_filter)
            self.blotter.focus()
            return
        if event.input.id == "market-filter":
            markets = self.markets
            markets.filter_text = event.value.strip()
            if not event.value.strip():
                event.input.display = False
            markets.update_rows(self.snap.markets if self.snap else ())
            markets.focus()

    def on_key(self, event: events.Key) -> None:
        # An open yes/no question takes y / n / escape before anything else sees them.
        if self.confirm_bar.answer_key(event.key):
            event.stop()
            event.prevent_default()
            return
        if event.key == "escape" and self.blotter_filter.has_focus:
            self.blotter_filter.value = ""
            self.blotter_filter.display = False
            self.blotter_text = ""
            if self.snap is not None:
                self.blotter.update_rows(self.snap.blotter, "", self.strategy_filter)
            self.blotter.focus()
            return
        box = self.filter_box
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            markets = self.markets
            markets.filter_text = ""
            markets.update_rows(self.snap.markets if self.snap else ())
            markets.focus()

    def on_market_list_selected(self, message: MarketList.Selected) -> None:
        self._selected = message.condition_id
        self.pull(force=True)
        title = next((m.title for m in self.snap.markets if m.condition_id == self._selected), "") if self.snap else ""
        self.book.show(self.snap.books.get(self._selected) if self.snap else None, title)

    # --- strategies ------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        """A key's answer that needs no engine command (nothing selected, nothing to do): on the message line."""
        self.last_result = text
        if not self.confirm_bar.asking:
            self.confirm_bar.show_message(text)

    def action_toggle_strategies(self) -> None:
        self._show_view("markets" if self.view == "strategies" else "strategies")

    def action_toggle_blotter(self) -> None:
        self._show_view("markets" if self.view == "blotter" else "blotter")

    def action_toggle_charts(self) -> None:
        self._show_view("markets" if self.view == "charts" else "charts")

    def _show_view(self, name: str) -> None:
        """One view in the top row, in place of the others (the rows below never move)."""
        if name == self.view:
            return
        old = self.views[self.view]
        with self.batch_update():
            for view, widget in self.views.items():
                widget.display = view == name
            self.view = name
            if self.snap is not None:
                self._show_view_data(self.snap)
            if name == "strategies":
                self.strategies_view.strategy_table.focus()
            elif name == "blotter":
                self.blotter.focus()
            elif name == "charts":
                self._ask_history(now=True)
            if name in ("markets", "charts") and (self.focused is None or old in self.focused.ancestors_with_self):
                (self.markets if name == "markets" else self.proposal_table).focus()
        self._show_keys()

    def _strategies_on_screen(self, what: str) -> bool:
        """The strategy keys act on the row under a cursor in the Strategies view. With the view hidden there is
        no row on screen to act on, and a guess could pause the wrong strategy: the view opens instead."""
        if self.view == "strategies":
            return True
        self._show_view("strategies")
        self._say(f"Strategies shown: select the {what}, then press the key again")
        return False

    def _off(self, row: StrategyRow, verb: str) -> None:
        self._say(f"{row.strategy_id} is OFF (not enabled in this run): nothing to {verb}; it runs when"
                  f" [strategies.{row.strategy_id}] enabled = true at start")

    async def action_pause_strategy(self) -> None:
        if not self._strategies_on_screen("strategy"):
            return
        row = self.strategies_view.strategy_table.selected()
        if row is None:
            self._say("no strategy to pause")
        elif row.state == "OFF":
            self._off(row, "pause")
        elif row.state == "PAUSED":
            self._say(f"{row.strategy_id} is already paused: {row.reason}")
        else:
            # No question: a pause only takes risk away (its exits may still go), like HALT.
            await self._command(PauseStrategy(row.strategy_id))

    @work(exclusive=True, group="modal")
    async def action_resume_strategy(self) -> None:
        if not self._strategies_on_screen("strategy"):
            return
        row = self.strategies_view.strategy_table.selected()
        if row is None:
            self._say("no strategy to resume")
        elif row.state == "OFF":
            self._off(row, "resume")
        elif row.state != "PAUSED":
            self._say(f"{row.strategy_id} is not paused")
        elif await self.confirm_bar.ask(
            f"Resume {row.strategy_id}? It takes new risk again. Paused: {clip(row.reason, 50)}"
        ):
            await self._command(ResumeStrategy(row.strategy_id))

    @work(exclusive=True, group="modal")
    async def action_cancel_order(self) -> None:
        """Withdraw the order under the cursor in Positions, after a one-key confirmation."""
        # Only the row the operator can see the cursor on: the Positions pane must have the focus.
        oid = self.position_table.selected_order_id() if self.position_table.has_focus else None
        order = next((o for o in self.snap.orders if o.client_order_id == oid), None) if self.snap and oid else None
        if order is None:
            self._say("select an order in Positions (tab to the pane, arrows to the row), then c to cancel it")
            return
        what = f"{order.side} {order.outcome} {px(order.price)} x{shares(order.size - order.filled)}"
        if await self.confirm_bar.ask(f"Cancel order {oid[-7:]} ({what}, {clip_middle(order.title, 30)})?"):
            # The id asked about, not the row under the cursor now: the list may have moved meanwhile.
            await self._command(CancelOrder(order.client_order_id))

    def _market_row(self, condition_id: str | None) -> MarketRow | None:
        snap = self.snap
        if snap is None or condition_id is None:
            return None
        return next((m for m in snap.markets if m.condition_id == condition_id), None)

    @work(exclusive=True, group="modal")
    async def action_order_ticket(self) -> None:
        """The order ticket for the market in front of the operator: the position under the cursor in
        Positions (prefilled to sell it), else the market under the cursor in Markets (or the selected one)."""
        pos = self.position_table.selected_position() if self.position_table.has_focus else None
        row = self._market_row(pos.condition_id) if pos is not None else self.markets.highlighted()
        if row is None:
            self._say("no market to trade: select one in Markets (enter), or a position in Positions")
            return
        if pos is not None:
            outcome = Outcome.YES if pos.outcome == row.yes_label else Outcome.NO
            screen = OrderTicketScreen(self.engine, row, side=Side.SELL, outcome=outcome,
                                       size_text=f"{pos.size / SIZE_SCALE:g}")  # fmt: skip
        else:
            screen = OrderTicketScreen(self.engine, row)
        ticket = await self.push_screen_wait(screen)
        if ticket is not None:
            await self._command(PlaceOrder(ticket))

    @work(exclusive=True, group="modal")
    async def action_what_if(self) -> None:
        """The selected proposal's what-if (fee, walk, caps, every rule), with approve and reject at hand."""
        if self._nothing_pending():
            return
        pid = self._target_proposal()
        row = next((p for p in self.snap.proposals if p.proposal_id == pid), None) if self.snap else None
        market = self._market_row(row.condition_id) if row is not None else None
        if row is None or market is None:
            self._say("the proposal's market is no longer on the watchlist")
            return
        self.proposal_table.mark_seen(row.proposal_id)
        choice = await self.push_screen_wait(ProposalWhatIfScreen(self.engine, row, market))
        if choice == "approve":
            await self._command(Approve(row.proposal_id))
        elif choice == "reject":
            await self._command(Reject(row.proposal_id))

    @work(exclusive=True, group="modal")
    async def action_flatten(self) -> None:
        """Close the position under the cursor in Positions: its orders cancelled, its shares sold at the bids."""
        pos = self.position_table.selected_position() if self.position_table.has_focus else None
        if pos is None:
            self._say("select a position in Positions (tab to the pane, arrows to the row), then x to flatten it")
            return
        book = self.snap.books.get(pos.condition_id) if self.snap else None
        market = self._market_row(pos.condition_id)
        yes = market is not None and pos.outcome == market.yes_label
        bids = () if book is None else (book.bids if yes else tuple((10_000 - p, q) for p, q in book.asks))
        best = f"best bid {px(bids[0][0])}" if bids else "NO BIDS"
        if await self.confirm_bar.ask(
            f"Flatten {shares(pos.size)} {pos.outcome} of {clip_middle(pos.title, 30)}? Sold at the bids ({best});"
            " its working orders are cancelled."
        ):
            await self._command(Flatten(pos.token_id))

    @work(exclusive=True, group="modal")
    async def action_find_market(self) -> None:
        await self.push_screen_wait(MarketSearchScreen(self.engine))
        self.pull(force=True)  # the watchlist may have changed

    @work(exclusive=True, group="modal")
    async def action_revoke_mandate(self) -> None:
        if not self._strategies_on_screen("mandate"):
            return
        m = self.strategies_view.mandate_table.selected()
        if m is None:
            self._say("no mandate to revoke")
        elif m.status == "PENDING":
            self._say(f"mandate {m.mandate_id[-7:]} is pending: approve (a) or reject (r) it in Proposals")
        elif m.status != "ACTIVE":
            self._say(f"mandate {m.mandate_id[-7:]} is {m.status}: nothing to revoke")
        elif await self.confirm_bar.ask(
            f"Revoke mandate {m.mandate_id[-7:]} of {m.strategy_id} in {clip_middle(m.title, 30)}?"
            f" Its {plural(m.orders, 'working order')} {'is' if m.orders == 1 else 'are'} cancelled."
        ):
            # The id asked about, not the row under the cursor now: the list may have moved meanwhile.
            await self._command(RevokeMandate(m.mandate_id))

    def action_strategy_filter(self) -> None:
        """all -> each strategy of the run, in the engine's order -> all."""
        snap = self.snap
        if snap is None:
            return
        ids = self._strategy_ids(snap)
        current = self.strategy_filter
        if current in ids:
            i = ids.index(current) + 1
            self.strategy_filter = ids[i] if i < len(ids) else None
        else:
            self.strategy_filter = ids[0] if ids else None
        self._show_filter_titles()
        self._show_filtered(snap)
        self._show_view_data(snap)  # the blotter narrows with them

    def action_help(self) -> None:
        keys = []
        for b in self.BINDINGS:
            if isinstance(b, Binding):
                key = self._keymap.get(b.id or "", b.key)
                keys.append((self.get_key_display(b if key == b.key else Binding(key, b.action)), b.description))
        self.push_screen(HelpScreen(keys))

    def action_report(self) -> None:
        """The truth report of the engine's ledger, on a screen of its own (asked in a worker there)."""
        if isinstance(self.screen, ReportScreen):  # from the palette while it is open: ask again
            self.screen.load()
            return
        self.push_screen(ReportScreen(self.engine))

    @work(exclusive=True, group="modal")
    async def action_quit_console(self) -> None:
        open_orders = len(self.snap.orders) if self.snap else 0
        if self.detaches:
            self.exit(0)  # the engine is not ours to stop: its orders stay with it
            return
        if open_orders and not await self.confirm_bar.ask(
            f"{plural(open_orders, 'order')} {'is' if open_orders == 1 else 'are'} open. Quit? The engine cancels"
            f" {'it' if open_orders == 1 else 'them'} on the way out."
        ):
            return
        self.exit(0)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
