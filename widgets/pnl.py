"""Total P&L in large digits, an equity sparkline, day and week P&L and drawdown from the high-water mark."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Label, Sparkline

from engine.snapshot import PnLView
from widgets.format import usd


class PnLPane(Vertical):
    DEFAULT_CSS = """
    PnLPane Digits { width: auto; }
    PnLPane Digits.-loss { color: $error; }
    PnLPane Digits.-gain { color: $success; }
    PnLPane Sparkline { height: 2; }
    """

    _detail = ""

    def compose(self) -> ComposeResult:
        yield Digits("+0.00", id="pnl-total")
        yield Sparkline([], id="pnl-spark", summary_function=max)
        yield Label("", id="pnl-detail")

    def show(self, pnl: PnLView, bankroll) -> None:
        total = pnl.equity - bankroll
        digits = self.query_one("#pnl-total", Digits)
        text = usd(total, signed=True).replace(",", "")
        if digits.value != text:
            digits.update(text)
            digits.set_class(total < 0, "-loss")
            digits.set_class(total > 0, "-gain")
        spark = self.query_one("#pnl-spark", Sparkline)
        data = list(pnl.history[-120:])
        # A flat series would draw solid full-height bars, which reads as "at the maximum": show a curve
        # only once equity has actually moved.
        spark.display = len(set(data)) > 1
        if spark.display and list(spark.data or []) != data:
            spark.data = data
        detail = (f"day {usd(pnl.day, signed=True)}  week {usd(pnl.week, signed=True)}\n"
                  f"drawdown {pnl.drawdown:.1%} of {usd(pnl.high_water)}\n"
                  f"real {usd(pnl.realized, signed=True)} unreal {usd(pnl.unrealized, signed=True)}")
        if detail != self._detail:
            self._detail = detail
            self.query_one("#pnl-detail", Label).update(detail, layout=False)
