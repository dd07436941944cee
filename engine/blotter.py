"""The blotter: the trade history the operator reads, one row per fill and per settlement, newest first.

An in-memory, bounded read model (the snapshot never queries the database): the order manager records each
event as it applies it (engine.execution.order_manager.apply_venue_event), and a restart refills it from
the ledger's fills and settlements as they are replayed (engine.restore.restore), so the history and the
realized P&L of positions that have since settled survive both the settlement and a restart.

`realized` on a row is the P&L that event booked, before fees, in the account's one portfolio: proceeds less
the average cost of the shares it took out (a sell, or a settlement's payout). A buy books none (None). Fees
are in their own column, so over a closed position sum(realized) - sum(fee) is its net result exactly.
A fill whose trade later fails on chain is taken out again (`reverse_fill`), as the ledger forgets it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from engine.accounting import StrategyBooks
from engine.domain import Fill, Market, Outcome
from engine.execution.orders import FOREIGN
from engine.snapshot import BlotterRow
from engine.units import ONE

MAX_ROWS = 200


def holders(accounts: StrategyBooks, token_id: str, size: int) -> list[str]:
    """Who a settlement of `size` shares pays, read before it is applied: the strategies holding the token,
    and FOREIGN for shares no strategy's book holds (as StrategyBooks.apply_settlement splits it)."""
    held = accounts.holders(token_id)
    names = [sid for sid, _ in held]
    if size > sum(n for _, n in held):
        names.append(FOREIGN)
    return names


def fill_row(fill: Fill, market: Market, strategy_id: str, realized: Decimal | None) -> BlotterRow:
    return BlotterRow(
        ts=fill.ts,
        kind="FILL",
        condition_id=fill.condition_id,
        title=market.question or market.slug,
        outcome=market.label(fill.outcome),
        side=fill.side.value,
        price=fill.price,
        size=fill.size,
        fee=fill.fee,
        liquidity=fill.liquidity.value,
        strategy_id=strategy_id,
        realized=realized,
        order_id=fill.client_order_id,
        trade_id=fill.trade_id,
    )


def settlement_row(
    ts: int,
    market: Market,
    outcome: Outcome,
    size: int,
    payout_per_share: Decimal,
    holders: Iterable[str],
    realized: Decimal,
) -> BlotterRow:
    return BlotterRow(
        ts=ts,
        kind="SETTLEMENT",
        condition_id=market.condition_id,
        title=market.question or market.slug,
        outcome=market.label(outcome),
        side="",
        price=int((payout_per_share * ONE).to_integral_value()),
        size=size,
        fee=Decimal(0),
        liquidity="",
        strategy_id="+".join(holders),
        realized=realized,
    )


class Blotter:
    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self._rows: deque[BlotterRow] = deque(maxlen=max_rows)  # oldest first
        self._view: tuple[BlotterRow, ...] | None = ()  # newest first; None once a change invalidates it

    def __len__(self) -> int:
        return len(self._rows)

    def record(self, row: BlotterRow) -> BlotterRow:
        self._rows.append(row)
        self._view = None
        return row

    def record_fill(self, fill: Fill, market: Market, strategy_id: str, realized: Decimal | None) -> BlotterRow:
        return self.record(fill_row(fill, market, strategy_id, realized))

    def record_settlement(
        self,
        ts: int,
        market: Market,
        outcome: Outcome,
        size: int,
        payout_per_share: Decimal,
        holders: Iterable[str],
        realized: Decimal,
    ) -> BlotterRow:
        return self.record(settlement_row(ts, market, outcome, size, payout_per_share, holders, realized))

    def reverse_fill(self, trade_id: str, client_order_id: str) -> bool:
        """Take out the row of a fill whose trade failed; False if it is no longer (or never was) shown."""
        for row in self._rows:
            if row.kind == "FILL" and row.trade_id == trade_id and row.order_id == client_order_id:
                self._rows.remove(row)
                self._view = None
                return True
        return False

    def load(self, rows: Iterable[BlotterRow]) -> None:
        """Replace the history with `rows` (a restart's replay of the ledger), ordered by time (stable, so
        events of one moment keep the order they were applied in); the newest `max_rows` are kept."""
        self._rows.clear()
        self._rows.extend(sorted(rows, key=lambda r: r.ts))
        self._view = None

    def rows(self) -> tuple[BlotterRow, ...]:
        """Newest first. The same tuple until the next change, so a snapshot costs nothing when idle."""
        if self._view is None:
            self._view = tuple(reversed(self._rows))
        return self._view
