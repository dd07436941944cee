"""Strategies and their quoting mandates: which strategy runs, which is paused and why, how much of its budget
it has committed, what it has working and holds, its P&L and its latest verdict; and the mandates, pending
(waiting in Proposals), active (requoting without asking) and the latest ended.

The console shows them in place of Markets and Book (key s): the tallest row, full width, so both tables fit
at 100x30 and the panes the operator decides from (Proposals, Positions, P&L, Risk) stay on screen. The keys
that act here (pause, resume, revoke) take the row under each table's cursor.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable

from engine.snapshot import MandateRow, StrategyRow
from widgets.format import age, cell, clip, clip_middle, plain, usd


class _KeyedTable(DataTable):
    """A row-cursor table kept in step with keyed rows: changed cells are updated in place, and the rows are
    rebuilt only when the keys or their order change; the cursor then stays on the row it was on, so a row
    arriving above it never moves the operator's selection to another strategy or mandate. Cells are plain
    text (`cell`): reasons and bounds come from strategies and the operator."""

    COLUMNS: tuple[str, ...] = ()
    WIDTHS: dict[str, int] = {}

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._rows: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for name in self.COLUMNS:
            self.add_column(name, key=name, width=self.WIDTHS.get(name))

    def _sync(self, wanted: dict[str, tuple[str, ...]]) -> None:
        if list(wanted) != list(self._rows):
            selected = self.selected_key()
            self.clear()
            for key, cells in wanted.items():
                self.add_row(*map(cell, cells), key=key)
            self._rows = wanted
            if selected in wanted:
                self.move_cursor(row=list(wanted).index(selected), animate=False)
            return
        for key, cells in wanted.items():
            for col, (a, b) in enumerate(zip(self._rows[key], cells, strict=True)):
                if a != b:
                    self.update_cell(key, self.COLUMNS[col], cell(b))
        self._rows = wanted

    def selected_key(self) -> str | None:
        if not self._rows or self.cursor_row < 0:
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:  # the cursor is past the rows while they are being rebuilt
            return None


def used(row: StrategyRow) -> str:
    """Committed of budget in whole dollars ("412/600"): held cost, working and proposed buys against its share."""
    if row.state == "OFF":
        return "-"
    return f"{float(row.committed):,.0f}/{float(row.budget):,.0f}"


def detail(row: StrategyRow) -> str:
    """One line for the selected strategy: why it is paused (in full, the table clips it), or what it does."""
    if row.state == "PAUSED":
        return f"{row.strategy_id} PAUSED: {plain(row.reason)}"
    if row.state == "OFF":
        return f"{row.strategy_id} OFF ({plain(row.reason)}): {plain(row.description)}"
    return f"{row.strategy_id}: {plain(row.description)}"


class StrategyTable(_KeyedTable):
    """One row per strategy, running ones first as the engine lists them. The reason a strategy is paused
    comes right after its state: it is the first thing the operator needs, and narrow terminals clip from the
    right."""

    COLUMNS = ("Strategy", "State", "Why", "Used/Budget", "Ord", "Pos", "Mand", "Real", "Unreal", "Last decision")
    WIDTHS = {"Why": 24}
    DEFAULT_CSS = "StrategyTable { height: auto; max-height: 12; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.strategies: dict[str, StrategyRow] = {}

    def update_rows(self, rows: tuple[StrategyRow, ...]) -> None:
        self.strategies = {r.strategy_id: r for r in rows}
        wanted = {
            r.strategy_id: (
                clip(r.strategy_id, 14), r.state, clip(plain(r.reason) if r.state != "RUNNING" else "", 24), used(r),
                str(r.open_orders), str(r.positions), str(r.mandates), usd(r.realized, signed=True),
                usd(r.unrealized, signed=True), clip(plain(r.last_decision), 40),
            )
            for r in rows
        }
        self._sync(wanted)

    def selected(self) -> StrategyRow | None:
        key = self.selected_key()
        return None if key is None else self.strategies.get(key)


class MandateTable(_KeyedTable):
    """Quoting mandates as the engine lists them: pending and active first, then the latest ended. "Left" is
    an active mandate's remaining lifetime; a pending one's time to decide counts down in Proposals."""

    COLUMNS = ("ID", "Strategy", "Market", "Status", "Orders", "Left", "Bounds")
    DEFAULT_CSS = "MandateTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mandates: dict[str, MandateRow] = {}

    def update_rows(self, rows: tuple[MandateRow, ...], now: int) -> None:
        self.mandates = {m.mandate_id: m for m in rows}
        wanted = {
            m.mandate_id: (
                m.mandate_id[-7:], clip(m.strategy_id, 12), clip_middle(m.title, 18), m.status, str(m.orders),
                age(max(0, m.expires_ts - now)) if m.status == "ACTIVE" and m.expires_ts else "-",
                clip(plain(m.bounds), 70),
            )
            for m in rows
        }
        self._sync(wanted)

    def selected(self) -> MandateRow | None:
        key = self.selected_key()
        return None if key is None else self.mandates.get(key)


class StrategiesView(Vertical):
    """The Strategies pane over the Mandates pane. The Strategies pane's subtitle is the selected strategy's
    line (`detail`): the full reason it is paused, without a row of its own."""

    DEFAULT_CSS = """
    StrategiesView #strategies-pane { height: auto; max-height: 60%; }
    StrategiesView #mandates-pane { height: 1fr; min-height: 4; }
    """

    def compose(self) -> ComposeResult:
        # Held, not queried on every refresh (as the P&L pane does): a refresh can race the app's teardown.
        self.strategy_table = StrategyTable(id="strategies")
        self.mandate_table = MandateTable(id="mandates")
        with Vertical(id="strategies-pane", classes="pane") as v:
            v.border_title = "Strategies"
            self._strategies_pane = v
            yield self.strategy_table
        with Vertical(id="mandates-pane", classes="pane") as v:
            v.border_title = "Mandates"
            yield self.mandate_table

    def show(self, strategies: tuple[StrategyRow, ...], mandates: tuple[MandateRow, ...], now: int) -> None:
        self.strategy_table.update_rows(strategies)
        self.mandate_table.update_rows(mandates, now)
        self._show_detail()

    _detail = ""

    def _show_detail(self) -> None:
        row = self.strategy_table.selected()
        text = "" if row is None else clip(detail(row), 120)
        if text != self._detail:
            self._detail = text
            # Content, not a str: a str title is parsed as markup, and a reason may hold "[...]".
            self._strategies_pane.border_subtitle = Content(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.strategy_table:
            self._show_detail()
