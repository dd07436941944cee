"""Positions and open orders: average price, mark, unrealized and realized P&L, age. Filtered to one strategy,
only what it holds (its own shares) and its own orders."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import DataTable

from engine.snapshot import OrderRow, PositionRow
from widgets.format import age, cell, clip, clip_middle, px, shares, usd

COLUMNS = ("Kind", "Market", "Out", "Size", "Avg/Px", "Mark", "Unreal", "Real", "Age")


class PositionTable(DataTable):
    DEFAULT_CSS = "PositionTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._rows: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def update_rows(
        self, positions: tuple[PositionRow, ...], orders: tuple[OrderRow, ...], now: int, strategy: str | None = None
    ) -> None:
        """`strategy`: show only the positions it holds, at its own shares, and its own orders (None: all)."""
        wanted: dict[str, tuple[str, ...]] = {}
        for p in sorted(positions, key=lambda p: p.opened_ts):
            size, unreal, real = p.size, usd(p.unrealized, signed=True), usd(p.realized, signed=True)
            if strategy is not None:
                size = dict(p.holders).get(strategy, 0)
                if size <= 0:
                    continue
                if size != p.size:
                    # Shared with another strategy: the row's P&L is the whole position's and no book's own
                    # (average cost is per book). Its part of the unrealized at the row's average is shown as an
                    # estimate (~), and realized not at all: the P&L pane has the strategy's own figures.
                    unreal = "~" + usd(p.unrealized * Decimal(size) / Decimal(p.size), signed=True)
                    real = "-"
            wanted[f"pos:{p.token_id}"] = (
                "POS", clip_middle(p.title, 18), clip(p.outcome, 4), shares(size), f"{float(p.avg_price):.4f}",
                "-" if p.mark is None else f"{float(p.mark):.4f}", unreal, real, age(now - p.opened_ts),
            )
        for o in sorted(orders, key=lambda o: o.created_ts):
            if strategy is not None and o.strategy_id != strategy:
                continue
            wanted[f"ord:{o.client_order_id}"] = (
                f"{o.side} {o.state[:4]}", clip_middle(o.title, 18), o.outcome[:4], f"{shares(o.filled)}/{shares(o.size)}",
                px(o.price), o.order_type, "", "", age(now - o.created_ts),
            )
        if list(wanted) != list(self._rows):
            self.clear()
            for key, cells in wanted.items():
                self.add_row(*map(cell, cells), key=key)
            self._rows = wanted
            return
        for key, cells in wanted.items():
            old = self._rows[key]
            for col, (a, b) in enumerate(zip(old, cells, strict=True)):
                if a != b:
                    self.update_cell(key, COLUMNS[col], cell(b))
        self._rows = wanted

    def selected_order_id(self) -> str | None:
        """The client order id of the order row under the cursor, or None (no rows, or a position row)."""
        if not self._rows or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return key[4:] if key and key.startswith("ord:") else None
