"""Positions and P&L per strategy: the engine's one portfolio, split by whose order each fill was.

The engine's total portfolio stays the account's truth (cash, reconciliation with the venue). Each strategy
keeps its own book from its own fills, so it can be judged, budgeted and paused alone. Fees and positions
add up exactly to the total; realized P&L does too whenever no two strategies hold the same token at once
(average cost is per book, so two books holding one token at different prices realize it differently).
Settlements are split by what each book holds; any shares no book holds (bought before the ledger knew
them) belong to FOREIGN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from engine.domain import Fill, Outcome
from engine.execution.orders import FOREIGN
from engine.portfolio import Portfolio


class StrategyBooks:
    def __init__(self, strategy_ids: Iterable[str]) -> None:
        self.books: dict[str, Portfolio] = {sid: Portfolio(Decimal(0)) for sid in strategy_ids}

    def book(self, strategy_id: str) -> Portfolio:
        book = self.books.get(strategy_id)
        if book is None:  # an adopted order's fills, or a strategy no longer configured: still accounted
            book = self.books[strategy_id] = Portfolio(Decimal(0))
        return book

    def holders(self, token_id: str) -> tuple[tuple[str, int], ...]:
        """Who holds a token: (strategy id, shares) for each book with shares of it."""
        return tuple((sid, n) for sid, book in self.books.items() if (n := book.held(token_id)) > 0)

    def apply_fill(self, strategy_id: str, fill: Fill) -> None:
        self.book(strategy_id).apply_fill(fill)

    def reverse_fill(self, strategy_id: str, fill: Fill) -> None:
        self.book(strategy_id).reverse_fill(fill)

    def apply_settlement(
        self, token_id: str, condition_id: str, outcome: Outcome, size: int, cash: Decimal, ts: int
    ) -> None:
        """Split one settlement by the shares each book holds; the last share of cash goes to whoever takes
        the remainder, so the parts add up to the venue's figure exactly."""
        holders = [(sid, book.held(token_id)) for sid, book in self.books.items() if book.held(token_id) > 0]
        held = sum(n for _, n in holders)
        if size > held:
            holders.append((FOREIGN, size - held))
        elif size < held:  # the venue settled fewer shares than the books hold: take them pro rata
            holders = _pro_rata(holders, size)
        paid = Decimal(0)
        for i, (sid, shares) in enumerate(holders):
            part = cash - paid if i == len(holders) - 1 else (cash * shares / size if size else Decimal(0))
            paid += part
            self.book(sid).apply_settlement(token_id, condition_id, outcome, shares, part, ts)

    def summary(
        self, mark: Callable[[str], Decimal | None], counts: dict[str, dict[str, int]]
    ) -> dict[str, dict[str, Any]]:
        """Per strategy: proposals, orders, fills, fees, realized and unrealized P&L, open positions."""
        out: dict[str, dict[str, Any]] = {}
        for sid, book in self.books.items():
            unrealized = book.unrealized(mark)
            c = counts.get(sid, {})
            out[sid] = {
                "proposals": c.get("proposals", 0),
                "orders": c.get("orders", 0),
                "fills": c.get("fills", 0),
                "fees": str(book.fees),
                "realized_pnl": str(book.realized_pnl),
                # Marks are exact decimals with long tails: ten places, trailing zeros dropped ("0", not "0E-10").
                "unrealized_pnl": format(unrealized.quantize(Decimal("1e-10")).normalize(), "f"),
                "open_positions": len(book.open_positions()),
            }
        return out


def _pro_rata(holders: list[tuple[str, int]], size: int) -> list[tuple[str, int]]:
    total = sum(n for _, n in holders)
    out, given = [], 0
    for i, (sid, n) in enumerate(holders):
        share = size - given if i == len(holders) - 1 else n * size // total
        given += share
        if share:
            out.append((sid, share))
    return out
