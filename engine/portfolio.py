"""Cash, positions and P&L from fills and settlements, exact to the last 1e-10 USDC.

Realized P&L on a position is proceeds minus the average cost of what was sold; the last share out takes
the remaining cost, so summed over a closed position it equals proceeds + payouts - cost exactly. Fees are
kept apart and subtracted once, which gives the ledger identity the tests check:
    realized_pnl = sum(fill cash flows) + sum(settlement payouts) - sum(fees).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from engine.domain import Fill, Outcome, Side
from engine.units import notional

_COST_QUANT = Decimal(1).scaleb(-10)


@dataclass(slots=True)
class Position:
    token_id: str
    condition_id: str
    outcome: Outcome
    size: int = 0
    cost: Decimal = Decimal(0)  # cost basis of the shares still held
    realized: Decimal = Decimal(0)  # before fees
    fees: Decimal = Decimal(0)  # fees paid since the position was opened
    opened_ts: int = 0
    updated_ts: int = 0

    @property
    def avg_price(self) -> Decimal:
        return (self.cost / self.size * 1_000_000) if self.size else Decimal(0)


class Portfolio:
    def __init__(self, starting_cash: Decimal) -> None:
        self.starting_cash = starting_cash
        self.cash = starting_cash
        self.positions: dict[str, Position] = {}
        self.fees = Decimal(0)
        self.fill_cash_flows = Decimal(0)
        self.settlement_payouts = Decimal(0)
        self.realized_gross = Decimal(0)
        self.closed_results: list[Decimal] = []  # net P&L of each fully closed position, oldest first
        # What each sell did to its position, so a sell whose trade later FAILS can be undone exactly.
        self._sell_effects: dict[str, tuple[Decimal, Decimal, bool]] = {}

    @property
    def realized_pnl(self) -> Decimal:
        return self.realized_gross - self.fees

    def position(self, token_id: str, condition_id: str, outcome: Outcome) -> Position:
        pos = self.positions.get(token_id)
        if pos is None:
            pos = self.positions[token_id] = Position(token_id, condition_id, outcome)
        return pos

    def apply_fill(self, fill: Fill) -> Position:
        pos = self.position(fill.token_id, fill.condition_id, fill.outcome)
        value = notional(fill.price, fill.size)
        self.fees += fill.fee
        pos.fees += fill.fee
        self.fill_cash_flows += fill.cash_flow
        if fill.side is Side.BUY:
            if pos.size == 0:
                pos.opened_ts = fill.ts
                pos.realized = Decimal(0)
                pos.fees = Decimal(0)
            self.cash -= value + fill.fee
            pos.size += fill.size
            pos.cost += value
        else:
            self.cash += value - fill.fee
            self._sell_effects[self._key(fill)] = self._reduce(pos, fill.size, value)
        pos.updated_ts = fill.ts
        return pos

    @staticmethod
    def _key(fill: Fill) -> str:
        return f"{fill.trade_id}:{fill.client_order_id}"

    def reverse_fill(self, fill: Fill) -> Position:
        """Undo a fill whose trade failed on chain: the exact inverse of `apply_fill` (cash, fees, size,
        cost, realized P&L and the closed-position record), so the ledger reads as if it never happened."""
        pos = self.position(fill.token_id, fill.condition_id, fill.outcome)
        value = notional(fill.price, fill.size)
        self.fees -= fill.fee
        pos.fees -= fill.fee
        self.fill_cash_flows -= fill.cash_flow
        if fill.side is Side.BUY:
            self.cash += value + fill.fee
            removed = min(value, pos.cost) if fill.size < pos.size else pos.cost
            pos.size -= min(fill.size, pos.size)
            pos.cost -= removed
        else:
            self.cash -= value - fill.fee
            removed, pnl, closed = self._sell_effects.pop(self._key(fill), (value, Decimal(0), False))
            if closed and self.closed_results:
                self.closed_results.pop()
            pos.size += fill.size
            pos.cost += removed
            pos.realized -= pnl
            self.realized_gross -= pnl
        pos.updated_ts = fill.ts
        return pos

    def apply_settlement(
        self, token_id: str, condition_id: str, outcome: Outcome, size: int, cash: Decimal, ts: int
    ) -> Position:
        pos = self.position(token_id, condition_id, outcome)
        self.cash += cash
        self.settlement_payouts += cash
        self._reduce(pos, size, cash)
        pos.updated_ts = ts
        return pos

    def _reduce(self, pos: Position, size: int, proceeds: Decimal) -> tuple[Decimal, Decimal, bool]:
        """Take `size` shares out at `proceeds`; returns (cost removed, P&L, whether the position closed)."""
        if size >= pos.size:
            removed = pos.cost
        else:
            removed = (pos.cost * size / pos.size).quantize(_COST_QUANT, rounding=ROUND_HALF_EVEN)
        pnl = proceeds - removed
        pos.cost -= removed
        pos.size -= size
        pos.realized += pnl
        self.realized_gross += pnl
        if pos.size == 0:
            self.closed_results.append(pos.realized - pos.fees)
        return removed, pnl, pos.size == 0

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.size > 0]

    def marked_value(self, mark: Callable[[str], Decimal | None]) -> Decimal:
        """Open positions at their mark (1 share = 1e6 units), at cost where there is no mark."""
        value = Decimal(0)
        for pos in self.open_positions():
            m = mark(pos.token_id)
            value += pos.cost if m is None else m * pos.size / 1_000_000
        return value

    def unrealized(self, mark: Callable[[str], Decimal | None]) -> Decimal:
        """Marked value less cost, over the open positions that have a mark."""
        total = Decimal(0)
        for pos in self.open_positions():
            m = mark(pos.token_id)
            if m is not None:
                total += m * pos.size / 1_000_000 - pos.cost
        return total

    def held(self, token_id: str) -> int:
        pos = self.positions.get(token_id)
        return pos.size if pos else 0
