"""The Log pane: the engine's event lines, newest at the bottom, in a view that never changes size.

Why not Textual's Log: every line it appends grows its virtual size, and a size change lays out the whole
screen again: 20-60 ms of the UI process on the 140x40 console under a busy feed (bench/ui.py), right after
a command, whose effect is itself a log line, so the operator's next key waited for it. This widget only
repaints its own rows. It shows the last lines that fit; up / down / page up / page down / home and the
mouse wheel scroll back, and lines that arrive meanwhile wait below without moving what is being read
(the bottom row then says how many); end follows the newest lines again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.strip import Strip
from textual.widget import Widget

from widgets.format import plain


class EventLog(Widget, can_focus=True):
    BINDINGS = [
        Binding("up", "scroll_back(1)", "Older", show=False),
        Binding("down", "scroll_back(-1)", "Newer", show=False),
        Binding("pageup", "page(1)", "Page older", show=False),
        Binding("pagedown", "page(-1)", "Page newer", show=False),
        Binding("home", "scroll_back(1_000_000)", "Oldest", show=False),
        Binding("end", "follow", "Newest", show=False),
    ]
    DEFAULT_CSS = "EventLog { height: 1fr; }"
    WHEEL_LINES = 3

    def __init__(self, max_lines: int = 500, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._back = 0  # how many lines lie between the bottom of the view and the newest line

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    @property
    def back(self) -> int:
        """0 while following the newest line; otherwise how far the view is scrolled back, in lines."""
        return self._back

    def write_lines(self, lines: Iterable[str]) -> None:
        new = [plain(line.rstrip("\n")) for line in lines]  # a line can quote an exchange's error text
        if not new:
            return
        self._lines.extend(new)
        if self._back:  # reading older lines: keep them where they are
            self._back = min(self._back + len(new), self._max_back())
        self.refresh()

    def _max_back(self) -> int:
        return max(0, len(self._lines) - self.size.height)

    def action_scroll_back(self, n: int) -> None:
        back = min(max(0, self._back + n), self._max_back())
        if back != self._back:
            self._back = back
            self.refresh()

    def action_page(self, direction: int) -> None:
        self.action_scroll_back(direction * max(1, self.size.height - 1))

    def action_follow(self) -> None:
        self.action_scroll_back(-self._back)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_scroll_back(self.WHEEL_LINES)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_scroll_back(-self.WHEEL_LINES)

    def on_resize(self, _event: events.Resize) -> None:
        self._back = min(self._back, self._max_back())

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        style = self.rich_style
        lines = self._lines
        if self._back and y == height - 1:
            note = f" ↓ {self._back} newer (end) "
            return Strip([Segment(note.rjust(width)[-width:], style + Style(reverse=True))], width)
        # Fewer lines than rows: from the top, as a terminal fills. Otherwise the window ending `back`
        # lines before the newest.
        first = max(0, len(lines) - self._back - height)
        i = first + y
        if i >= len(lines) - self._back:
            return Strip.blank(width, style)
        return Strip([Segment(lines[i], style)]).adjust_cell_length(width, style)
