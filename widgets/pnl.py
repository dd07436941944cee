"""Total P&L in large digits, an equity sparkline, day and week P&L and drawdown from the high-water mark; or,
filtered to one strategy, that strategy's P&L from its own book (realized after fees, unrealized, fees)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Label, Sparkline

from engine.snapshot import PnLView, StrategyRow
from widgets.format import usd
from widgets.strategies import used


class PnLPane(Vertical):
    DEFAULT_CSS = """
    PnLPane Digits { width: auto; }
    PnLPane Digits.-loss { color: $error; }
    PnLPane Digits.-gain { color: $success; }
    PnLPane Sparkline { height: 2; }
    PnLPane #pnl-detail { width: 1fr; }  /* the pane's width, not its first text's: later lines may be longer */
    """

    _detail = ""

    def compose(self) -> ComposeResult:
        # Held, not queried on every refresh: a refresh can race the app's teardown, when the children are
        # already being removed.
        self._digits = Digits("+0.00", id="pnl-total")
        self._spark = Sparkline([], id="pnl-spark", summary_function=max)
        self._label = Label("", id="pnl-detail")
        yield self._digits
        yield self._spark
        yield self._label

    def show(self, pnl: PnLView, bankroll, strategy: StrategyRow | None = None) -> None:
        if strategy is None:
            total = pnl.equity - bankroll
            data = list(pnl.history[-120:])
            detail = (f"day {usd(pnl.day, signed=True)}  week {usd(pnl.week, signed=True)}\n"
                      f"drawdown {pnl.drawdown:.1%} of {usd(pnl.high_water)}\n"
                      f"real {usd(pnl.realized, signed=True)} unreal {usd(pnl.unrealized, signed=True)}")
        else:
            # Its realized P&L is after fees already (the engine's books), so the two add up to its total.
            total = strategy.realized + strategy.unrealized
            data = []  # the equity curve is the account's, not one strategy's: no curve rather than a wrong one
            detail = (f"{strategy.strategy_id} {strategy.state.lower()}, used {used(strategy)}\n"
                      f"fees {usd(strategy.fees)}  (in real)\n"
                      f"real {usd(strategy.realized, signed=True)} unreal {usd(strategy.unrealized, signed=True)}")
        digits = self._digits
        text = usd(total, signed=True).replace(",", "")
        if digits.value != text:
            digits.update(text)
            digits.set_class(total < 0, "-loss")
            digits.set_class(total > 0, "-gain")
        spark = self._spark
        # A flat series would draw solid full-height bars, which reads as "at the maximum": show a curve
        # only once equity has actually moved.
        spark.display = len(set(data)) > 1
        if spark.display and list(spark.data or []) != data:
            spark.data = data
        if detail != self._detail:
            self._detail = detail
            self._label.update(detail, layout=False)
