"""The blotter: every fill and settlement, newest first, with its realized P&L (DataTable, keyed diff).

Rows never change once recorded, so an update only removes the rows gone from view (filtered out, aged out of
the engine's 200, or a reversed fill), appends the new ones, and re-sorts by the snapshot's order when any
were added: a new fill costs one `add_row`, not a rebuild of the whole list.

Columns follow the pane's width, decided on resize: from WIDE_MIN columns on, all of them; below it Strategy and
Fee go first (the Realized column and the trade itself are what a narrow pane must keep), and Market takes
whatever width is left (10 to 40 characters), so the same widget reads at 70 columns and at 140 (at 70:
Time, a 10-character Market, Side, Out, Price, Size, Liq M/T and Realized, nothing scrolled off).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from engine.snapshot import BlotterRow
from widgets.format import cell, clip, clip_middle, clock, px, shares, usd

COLUMNS = ("Time", "Market", "Side", "Out", "Price", "Size", "Fee", "Liq", "Strategy", "Realized")
NARROW_COLUMNS = ("Time", "Market", "Side", "Out", "Price", "Size", "Liq", "Realized")
WIDE_MIN = 100  # pane width (cells) from which Strategy and Fee are shown
# Widest content of each column but Market (headers included); DataTable pads each column by one each side.
WIDTHS = {"Time": 8, "Side": 4, "Out": 4, "Price": 6, "Size": 8, "Fee": 6, "Liq": 3, "Strategy": 10, "Realized": 9}
MARKET_MIN, MARKET_MAX = 10, 40
_KIND = {"SETTLEMENT": "SETL", "MERGE": "MRG", "REDEEM": "RDM"}
_LIQ = {"MAKER": "M", "TAKER": "T"}


class _Stamp(Text):
    """The Time cell, carrying its row's key: DataTable.sort hands the key function cells, not row keys."""

    row_key: str = ""


def layout(width: int) -> tuple[tuple[str, ...], int]:
    """The columns to show in a pane `width` cells wide, and the Market column's width."""
    columns = COLUMNS if width >= WIDE_MIN or width <= 0 else NARROW_COLUMNS
    fixed = sum(WIDTHS[c] for c in columns if c != "Market") + 2 * len(columns) + 2  # + vertical scrollbar
    if width <= 0:
        return columns, 30
    return columns, max(MARKET_MIN, min(MARKET_MAX, width - fixed))


def matches(row: BlotterRow, words: list[str], strategy_id: str | None) -> bool:
    if strategy_id is not None and strategy_id not in row.strategy_id.split("+"):
        return False
    if not words:
        return True
    hay = f"{row.title} {row.outcome} {row.kind} {row.side} {row.strategy_id}".lower()
    return all(w in hay for w in words)


def row_cells(row: BlotterRow, market_width: int) -> dict[str, str]:
    return {
        "Time": clock(row.ts),
        "Market": clip_middle(row.title, market_width),
        "Side": row.side or _KIND.get(row.kind, row.kind[:4]),
        "Out": clip(row.outcome, WIDTHS["Out"]),
        "Price": px(row.price),
        "Size": shares(row.size),
        "Fee": f"{float(row.fee):.2f}" if row.fee else "-",
        "Liq": _LIQ.get(row.liquidity, "-"),
        "Strategy": clip(row.strategy_id, WIDTHS["Strategy"]),
        "Realized": "-" if row.realized is None else usd(row.realized, signed=True),
    }


def row_keys(rows: Iterable[BlotterRow]) -> list[str]:
    """A stable key per row: a fill's trade id, a settlement's market, token and moment (#n if repeated)."""
    keys, seen = [], set()
    for r in rows:
        base = f"F:{r.trade_id}:{r.order_id}" if r.trade_id else f"{r.kind}:{r.condition_id}:{r.outcome}:{r.ts}"
        key, n = base, 1
        while key in seen:
            n += 1
            key = f"{base}#{n}"
        seen.add(key)
        keys.append(key)
    return keys


class BlotterTable(DataTable):
    DEFAULT_CSS = "BlotterTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: dict[str, tuple[str, ...]] = {}
        self._columns: tuple[str, ...] = ()
        self._market_width = 0
        self._last: tuple[tuple[BlotterRow, ...], str, str | None] | None = None
        self.shown: dict[str, BlotterRow] = {}  # key -> row, in display order (newest first)

    def on_mount(self) -> None:
        self._relayout(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._relayout(event.size.width)

    def _relayout(self, width: int) -> None:
        columns, market_width = layout(width)
        if (columns, market_width) == (self._columns, self._market_width):
            return
        self._columns, self._market_width = columns, market_width
        self.clear(columns=True)
        self._rows = {}
        for name in columns:
            self.add_column(name, key=name, width=market_width if name == "Market" else WIDTHS[name])
        if self._last is not None:
            self.update_rows(*self._last, force=True)

    def update_rows(
        self,
        rows: tuple[BlotterRow, ...],
        text_filter: str = "",
        strategy_id: str | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Show `rows` (newest first) that match every word of `text_filter` (case-insensitive, in the
        market title, outcome, kind, side or strategy) and, when given, belong to `strategy_id`."""
        last = (rows, text_filter, strategy_id)
        if not force and last == self._last:
            return
        self._last = last
        if not self._columns:
            return  # not mounted yet: the first layout draws them
        words = text_filter.lower().split()
        kept = [r for r in rows if matches(r, words, strategy_id)]
        keys = row_keys(kept)
        self.shown = dict(zip(keys, kept, strict=True))
        wanted = {k: tuple(row_cells(r, self._market_width)[c] for c in self._columns) for k, r in self.shown.items()}
        for key in [k for k in self._rows if k not in wanted]:
            self.remove_row(key)
            del self._rows[key]
        added = False
        for key, cells in wanted.items():
            if key in self._rows:
                continue
            stamp = _Stamp(cells[0], no_wrap=True, end="")
            stamp.row_key = key
            self.add_row(stamp, *map(cell, cells[1:]), key=key)
            self._rows[key] = cells
            added = True
        if added and list(self._rows) != list(wanted):
            rank = {k: i for i, k in enumerate(wanted)}
            self.sort("Time", key=lambda stamp: rank[stamp.row_key])
        self._rows = dict(wanted)

    def selected(self) -> BlotterRow | None:
        """The row under the cursor, or None."""
        if not self._rows or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return self.shown.get(key) if key else None
