"""Positions and open orders: average price, mark, unrealized and realized P&L, time to the market's close,
age. Filtered to one strategy, only what it holds (its own shares) and its own orders. Columns fit the pane
(widgets/columns.py): at 140x40 every money column shows; narrower, Age goes first, then Close and Real."""

from __future__ import annotations

from decimal import Decimal

from engine.snapshot import OrderRow, PositionRow
from widgets.columns import Col, FittedTable
from widgets.format import age, countdown, money, shares, short_px

COLUMNS = (
    Col("Kind", 4, 0),
    Col("Market", 14, 0, min_width=7, middle=True),
    Col("Out", 4, 0),
    Col("Size", 6, 0, right=True),
    Col("Avg/Px", 5, 0, right=True, header="Avg"),
    Col("Mark", 5, 1, right=True),
    Col("Unreal", 6, 1, right=True),
    Col("Real", 6, 2, right=True),
    Col("Close", 5, 3, right=True),
    Col("Age", 4, 5, right=True),
)


class PositionTable(FittedTable):
    DEFAULT_CSS = "PositionTable { height: 1fr; }"
    COLUMNS = COLUMNS

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.positions: dict[str, PositionRow] = {}
        self.orders: dict[str, OrderRow] = {}

    def update_rows(
        self,
        positions: tuple[PositionRow, ...],
        orders: tuple[OrderRow, ...],
        now: int,
        strategy: str | None = None,
        closes: dict[str, float | None] | None = None,
    ) -> None:
        """`strategy`: show only the positions it holds, at its own shares, and its own orders (None: all).
        `closes`: seconds to each market's close (from the Markets rows), for the orders' Close cells."""
        wanted: dict[str, dict[str, str]] = {}
        self.positions, self.orders = {}, {}
        for p in sorted(positions, key=lambda p: p.opened_ts):
            size, unreal, real = p.size, money(p.unrealized), money(p.realized)
            if strategy is not None:
                size = dict(p.holders).get(strategy, 0)
                if size <= 0:
                    continue
                if size != p.size:
                    # Shared with another strategy: the row's P&L is the whole position's and no book's own
                    # (average cost is per book). Its part of the unrealized at the row's average is shown as an
                    # estimate (~), and realized not at all: the P&L pane has the strategy's own figures.
                    unreal = "~" + money(p.unrealized * Decimal(size) / Decimal(p.size))
                    real = "-"
            key = f"pos:{p.token_id}"
            self.positions[key] = p
            wanted[key] = {
                "Kind": "POS", "Market": p.title, "Out": p.outcome, "Size": shares(size),
                "Avg/Px": short_px(float(p.avg_price)), "Mark": "-" if p.mark is None else short_px(float(p.mark)),
                "Unreal": unreal, "Real": real, "Close": countdown(p.time_to_close_s), "Age": age(now - p.opened_ts),
            }  # fmt: skip
        for o in sorted(orders, key=lambda o: o.created_ts):
            if strategy is not None and o.strategy_id != strategy:
                continue
            key = f"ord:{o.client_order_id}"
            self.orders[key] = o
            wanted[key] = {
                "Kind": o.side, "Market": o.title, "Out": o.outcome,
                "Size": f"{o.filled / 1e6:g}/{o.size / 1e6:g}", "Avg/Px": short_px(o.price / 10_000),
                "Mark": o.state[:5].lower(), "Unreal": o.order_type, "Real": "",
                "Close": countdown((closes or {}).get(o.condition_id)), "Age": age(now - o.created_ts),
            }  # fmt: skip
        self.show_rows(wanted)

    def selected_order_id(self) -> str | None:
        """The client order id of the order row under the cursor, or None (no rows, or a position row)."""
        key = self.selected_key()
        return key[4:] if key and key.startswith("ord:") else None

    def selected_position(self) -> PositionRow | None:
        key = self.selected_key()
        return None if key is None else self.positions.get(key)
