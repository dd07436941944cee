"""Total P&L in large digits; day and week P&L and drawdown from the high-water mark; the money: cash, what
working buys reserve, what is available, and each strategy's share of its budget in use. Filtered to one
strategy, that strategy's P&L from its own book (realized after fees, unrealized, fees). The equity curve is a
chart of its own (key g)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Label

from engine.snapshot import PnLView, StrategyRow
from widgets.format import usd
from widgets.strategies import used


class PnLPane(Vertical):
    DEFAULT_CSS = """
    PnLPane Digits { width: auto; }
    PnLPane Digits.-loss { color: $error; }
    PnLPane Digits.-gain { color: $success; }
    PnLPane #pnl-detail { width: 1fr; }  /* the pane's width, not its first text's: later lines may be longer */
    """

    _detail = ""

    def compose(self) -> ComposeResult:
        # Held, not queried on every refresh: a refresh can race the app's teardown, when the children are
        # already being removed.
        self._digits = Digits("+0.00", id="pnl-total")
        self._label = Label("", id="pnl-detail")
        yield self._digits
        yield self._label

    def show(
        self, pnl: PnLView, bankroll, strategy: StrategyRow | None = None, strategies: tuple[StrategyRow, ...] = ()
    ) -> None:
        if strategy is None:
            total = pnl.equity - bankroll
            budgets = " ".join(f"{short(s.strategy_id)} {budget_share(s)}" for s in strategies if s.state != "OFF")
            detail = (f"day {usd(pnl.day, signed=True)} week {usd(pnl.week, signed=True)} dd {pnl.drawdown:.1%}\n"
                      f"real {usd(pnl.realized, signed=True)} unreal {usd(pnl.unrealized, signed=True)}\n"
                      f"cash {usd(pnl.cash)} reserved {usd(pnl.reserved)}\n"
                      f"available {usd(pnl.available)}\n"
                      f"used {budgets}")
        else:
            # Its realized P&L is after fees already (the engine's books), so the two add up to its total.
            total = strategy.realized + strategy.unrealized
            detail = (f"{strategy.strategy_id} {strategy.state.lower()}, used {used(strategy)}\n"
                      f"fees {usd(strategy.fees)}  (in real)\n"
                      f"real {usd(strategy.realized, signed=True)} unreal {usd(strategy.unrealized, signed=True)}")
        digits = self._digits
        text = usd(total, signed=True).replace(",", "")
        if digits.value != text:
            digits.update(text)
            digits.set_class(total < 0, "-loss")
            digits.set_class(total > 0, "-gain")
        if detail != self._detail:
            self._detail = detail
            self._label.update(detail, layout=False)


SHORT = {"market_maker": "mm", "value": "val", "manual": "man"}


def short(strategy_id: str) -> str:
    return SHORT.get(strategy_id, strategy_id[:4])


def budget_share(row: StrategyRow) -> str:
    """Its committed money as a share of its budget: what is left for new risk at a glance."""
    return f"{float(row.committed / row.budget):.0%}" if row.budget else "-"
