"""The active market set as a Line-API list: cheap to redraw at UI rate, one row per market."""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.snapshot import MarketRow
from widgets.format import age, clip_middle, compact_usd, countdown, prob, px, shares

# Narrow columns so the time to close and the market maker's word (its score, ON when quoted, else its first
# veto) fit at 140 columns. The selected row's full name, window and countdown are on the detail line below.
_HEADER = (
    f"{'Market':<20} {'Mid':>5} {'Sprd':>4} {'Dep$':>5} {'Edge':>6} {'State':<6} {'Pos':>6} {'Close':>6}"
    f" {'Age':>3} {'Maker':<11}"
)
STATE = {"OPEN": "OPEN", "CLOSED": "CLOSED", "RESOLVED": "RSLVD"}


def detail_line(row: MarketRow) -> str:
    """The full name of a market, its window and its countdown: what a clipped row cannot say."""
    parts = [row.title]
    if row.start_ts is not None and row.end_ts is not None:
        parts.append(f"window {clock_hm(row.start_ts)}-{clock_hm(row.end_ts)} UTC")
    elif row.end_ts is not None:
        parts.append(f"ends {time.strftime('%Y-%m-%d %H:%M', time.gmtime(row.end_ts / 1000))} UTC")
    left = row.time_to_close_s
    if left is not None:
        parts.append("closed" if left <= 0 else f"closes in {countdown(left)}")
    if row.book_age_ms is None:
        parts.append("waiting for its first book" + (" (opens when its window starts)" if row.start_ts else ""))
    parts.append(f"{row.yes_label}/{row.no_label}")
    return " | ".join(parts)


def clock_hm(ts_ms: int) -> str:
    return time.strftime("%H:%M", time.gmtime(ts_ms / 1000))


class MarketList(ScrollView, can_focus=True):
    """Rows come from the snapshot; only the rows whose text changed are repainted."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("enter", "select", "Select market", show=False),
    ]
    DEFAULT_CSS = "MarketList { height: 1fr; }"

    cursor = reactive(0, always_update=False)

    class Selected(Message):
        def __init__(self, condition_id: str) -> None:
            super().__init__()
            self.condition_id = condition_id

    class Highlighted(Message):
        """The cursor moved to another row (the detail line follows it)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[MarketRow] = []
        self._lines: list[str] = []
        self.filter_text = ""
        self.selected: str | None = None

    @staticmethod
    def _line(row: MarketRow) -> str:
        pos = row.yes_position - row.no_position
        score = "-" if row.score is None else f"{row.score:+.3f}"
        state = STATE.get(row.state, row.state) if row.book_age_ms is not None else "WAIT"
        spread = px(row.spread)[1:] if row.spread is not None else "-"
        return (f"{clip_middle(row.title, 20):<20} {prob(row.mid):>5} {spread:>4} {compact_usd(row.depth_usdc):>5} "
                f"{score:>6} {state[:6]:<6} {shares(pos) if pos else '':>6} {countdown(row.time_to_close_s):>6} "
                f"{age(row.book_age_ms):>3} {row.maker[:11]:<11}")

    def highlighted(self) -> MarketRow | None:
        """The row under the cursor while the list has focus, else the selected market's row."""
        if self.has_focus and 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return next((r for r in self.rows if r.condition_id == self.selected), None)

    def update_rows(self, rows: tuple[MarketRow, ...]) -> None:
        f = self.filter_text.lower()
        # Markets with live books first, then those waiting for data, then closed ones; stable within.
        rank = {"OPEN": 0, "CLOSED": 2, "RESOLVED": 3}
        ordered = sorted(rows, key=lambda r: (rank.get(r.state, 1) + (1 if r.book_age_ms is None else 0), r.time_to_close_s or 0))
        visible = [r for r in ordered if not f or f in r.title.lower() or f in r.condition_id]
        lines = [self._line(r) for r in visible]
        if len(lines) != len(self._lines):
            self._show_range(int(self.scroll_offset.y), int(self.scroll_offset.y) + self.size.height, len(lines))
            self.virtual_size = self.virtual_size.__class__(len(_HEADER), len(lines) + 1)
            self.rows, self._lines = visible, lines
            self.cursor = min(self.cursor, max(0, len(lines) - 1))
            self.refresh()
            return
        # Repaint only rows that changed and are on screen (row i is line i + 1, under the header).
        top = int(self.scroll_offset.y)
        bottom = top + self.size.height
        self._show_range(top, bottom, len(lines))
        self.rows, old, self._lines = visible, self._lines, lines
        for i in range(max(0, top - 1), min(len(lines), bottom)):
            if old[i] != lines[i]:
                self.refresh_line(i + 1)

    def _show_range(self, top: int, bottom: int, total: int) -> None:
        """'1-17 of 100' under the pane, since the list has no scrollbar."""
        rows_on_screen = max(0, bottom - top - 1)  # under the header
        if not total:
            text = ""
        elif rows_on_screen == 0 or (top == 0 and total <= rows_on_screen):
            text = f"{total} markets"  # not laid out yet, or every row fits
        else:
            text = f"{top + 1}-{min(total, top + rows_on_screen)} of {total}"
        if self.parent is not None and getattr(self.parent, "border_subtitle", None) != text:
            self.parent.border_subtitle = text

    def render_line(self, y: int) -> Strip:
        scroll_y = int(self.scroll_offset.y)
        index = y + scroll_y - 1
        width = self.size.width
        if y == 0:
            return Strip([Segment(_HEADER[:width].ljust(width), Style(bold=True, underline=True))])
        if not 0 <= index < len(self._lines):
            return Strip.blank(width)
        text = self._lines[index][:width].ljust(width)
        row = self.rows[index]
        style = Style()
        if row.book_age_ms is None:
            style += Style(dim=True)
        if row.condition_id == self.selected:
            style += Style(bold=True)
        if index == self.cursor and self.has_focus:
            style += Style(reverse=True)
        elif row.state != "OPEN":
            style += Style(dim=True)
        return Strip([Segment(text, style)])

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        self.post_message(self.Highlighted())

    def action_cursor(self, delta: int) -> None:
        if self._lines:
            self.cursor = max(0, min(len(self._lines) - 1, self.cursor + delta))
            self.scroll_to_region_cursor()

    def scroll_to_region_cursor(self) -> None:
        visible = self.size.height - 1
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def action_select(self) -> None:
        if self.rows:
            self.selected = self.rows[self.cursor].condition_id
            self.post_message(self.Selected(self.selected))
            self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
