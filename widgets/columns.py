"""Columns that fit the pane: each has a width it would like, a width it may shrink to, and a priority. When a
pane is too narrow, the columns that may shrink (market names, reasons) give up width first; only then do the
least important columns go, one at a time, in priority order. Every pane keeps its most important columns at
140x40 and stays usable at 100x30.

`FittedTable` is a DataTable on top of it: cells are given by column name; on a resize it refits and rebuilds
only if the set of columns or their widths changed; between resizes it updates only the cells that changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from widgets.format import clip, clip_middle

GAP = 1  # a space between columns (cell padding 0, so the table spends exactly what is computed here)
SCROLLBAR = 1  # kept free for the vertical scrollbar, which appears once the rows outgrow the pane


@dataclass(frozen=True, slots=True)
class Col:
    name: str
    width: int  # what it would like
    priority: int  # lower stays longer: 0 never goes
    min_width: int | None = None  # may shrink to this before any column goes (None: fixed)
    right: bool = False  # numbers: right-aligned
    middle: bool = False  # market names: clipped in the middle (their distinguishing end is kept)
    header: str | None = None  # the header text, when it is not the name


def fit(columns: Sequence[Col], width: int) -> tuple[tuple[Col, int], ...]:
    """The columns that fit in `width` cells, in their order, with their widths."""
    kept = list(columns)
    widths = {c.name: c.width for c in columns}

    def total() -> int:
        return sum(widths[c.name] + GAP for c in kept)

    while kept and total() > width:
        over = total() - width
        for c in sorted((c for c in kept if c.min_width is not None), key=lambda c: widths[c.name] - c.min_width,
                        reverse=True):  # fmt: skip
            give = min(over, widths[c.name] - (c.min_width or 0))
            widths[c.name] -= give
            over -= give
            if over <= 0:
                break
        if over <= 0:
            break
        droppable = [c for c in kept if c.priority > 0]
        if not droppable:
            break  # the essentials stay: the rest is clipped by the pane
        gone = max(droppable, key=lambda c: (c.priority, kept.index(c)))
        kept.remove(gone)
        widths[gone.name] = gone.width
        for c in kept:  # a column gone gives room back: shrunken columns grow again first
            widths[c.name] = c.width
    return tuple((c, widths[c.name]) for c in kept)


def fit_text(col: Col, width: int, text: str) -> str:
    text = clip_middle(text, width) if col.middle else clip(text, width)
    return text.rjust(width) if col.right else text.ljust(width)


class FittedTable(DataTable):
    """A DataTable whose columns are fitted to its width. Subclasses set COLUMNS and call `show_rows`."""

    DEFAULT_CSS = "FittedTable { scrollbar-size-vertical: 1; }"
    COLUMNS: Sequence[Col] = ()

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(cell_padding=0, **kwargs)
        self._fitted: tuple[tuple[Col, int], ...] = ()
        self._wanted: dict[str, Mapping[str, str]] = {}
        self._shown: dict[str, tuple[str, ...]] = {}
        self.columns_for_width = 140  # the design width until the first resize says otherwise

    def on_mount(self) -> None:
        self._refit(self.size.width or self.columns_for_width)

    def on_resize(self, event: events.Resize) -> None:
        self._refit(event.size.width)

    @property
    def shown_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c, _ in self._fitted)

    def _refit(self, width: int) -> None:
        fitted = fit(self.COLUMNS, max(1, width - SCROLLBAR))
        if fitted == self._fitted:
            return
        self._fitted = fitted
        cursor = self.cursor_row
        self.clear(columns=True)
        for c, w in fitted:
            self.add_column(fit_text(c, w, c.header or c.name) + " " * GAP, key=c.name, width=w + GAP)
        self._shown = {}
        self._apply(self._wanted, rebuild=True)
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))

    def _fit_cells(self, values: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(fit_text(c, w, values.get(c.name, "")) for c, w in self._fitted)

    def show_rows(self, rows: Mapping[str, Mapping[str, str]]) -> None:
        """Rows by key, in display order; each a mapping of column name -> text."""
        self._wanted = dict(rows)
        self._apply(self._wanted, rebuild=list(rows) != list(self._shown))

    def _apply(self, rows: Mapping[str, Mapping[str, str]], rebuild: bool) -> None:
        if not self._fitted:
            return
        wanted = {key: self._fit_cells(values) for key, values in rows.items()}
        if rebuild:
            cursor = self.cursor_row
            self.clear()
            for key, cells in wanted.items():
                self.add_row(*(self._text(key, t) for t in cells), key=key)
            self._shown = wanted
            if self.row_count:
                self.move_cursor(row=min(max(cursor, 0), self.row_count - 1), animate=False)
            return
        for key, cells in wanted.items():
            old = self._shown.get(key)
            for (c, _), a, b in zip(self._fitted, old or (), cells, strict=False):
                if a != b:
                    self.update_cell(key, c.name, self._text(key, b))
        self._shown = wanted

    def _text(self, key: str, text: str) -> Text:
        """A cell as plain text (a str cell would be read as markup), styled by `row_style`."""
        return Text(text + " " * GAP, no_wrap=True, end="", style=self.row_style(key))

    def row_style(self, key: str) -> str:
        return ""

    def restyle(self, key: str) -> None:
        """Repaint one row's cells with its current `row_style` (a highlight set or cleared)."""
        cells = self._shown.get(key)
        if cells is None:
            return
        for (c, _), text in zip(self._fitted, cells, strict=False):
            self.update_cell(key, c.name, self._text(key, text))

    def selected_key(self) -> str | None:
        if not self._shown or self.cursor_row < 0:
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 - no row under the cursor (the table is being rebuilt)
            return None
