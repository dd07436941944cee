"""Risk gauges with numbers beside them (so they read in 16 colours), and every breaker's state."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from engine.snapshot import RiskView
from widgets.format import usd

GAUGES = ("exposure", "day", "week", "streak", "cluster")


class RiskPane(Vertical):
    DEFAULT_CSS = """
    RiskPane Horizontal { height: 1; }
    RiskPane .gauge-label { width: 38; height: 1; }
    RiskPane ProgressBar { width: 1fr; height: 1; }
    RiskPane ProgressBar Bar { width: 1fr; }
    RiskPane Bar > .bar--complete { color: $error; }
    RiskPane #risk-breakers { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        for name in GAUGES:
            with Horizontal():
                yield Label("", id=f"risk-{name}-label", classes="gauge-label")
                yield ProgressBar(total=100, show_eta=False, show_percentage=False, id=f"risk-{name}")
        yield Label("", id="risk-breakers")

    def _gauge(self, name: str, value: Decimal | float, limit: Decimal | float, text: str) -> None:
        limit_f = float(limit) or 1.0
        pct = max(0.0, min(100.0, 100.0 * float(value) / limit_f))
        bar = self.query_one(f"#risk-{name}", ProgressBar)
        if bar.progress != pct:
            bar.update(progress=pct)
        if self._texts.get(name) != text:
            self._texts[name] = text
            self.query_one(f"#risk-{name}-label", Label).update(text, layout=False)

    def show(self, risk: RiskView) -> None:
        self._gauge("exposure", risk.exposure, risk.exposure_cap,
                    f"exposure {usd(risk.exposure)} / {usd(risk.exposure_cap)}")
        self._gauge("day", risk.day_loss, risk.day_limit, f"day loss {usd(risk.day_loss)} / {usd(risk.day_limit)}")
        self._gauge("week", risk.week_loss, risk.week_limit, f"week loss {usd(risk.week_loss)} / {usd(risk.week_limit)}")
        self._gauge("streak", risk.consecutive_losses, risk.max_consecutive_losses,
                    f"losing streak {risk.consecutive_losses} / {risk.max_consecutive_losses}")
        cluster = risk.largest_cluster or "-"
        self._gauge("cluster", risk.largest_cluster_exposure, risk.cluster_cap,
                    f"largest cluster {usd(risk.largest_cluster_exposure)} / {usd(risk.cluster_cap)} {cluster[:18]}")
        text = Text()
        for b in risk.breakers:
            style = "bold red" if b.state != "OK" else "green"
            text.append(f"{b.name}:{b.state} ", style=style)
        if self._texts.get("breakers") != text.plain:
            self._texts["breakers"] = text.plain
            self.query_one("#risk-breakers", Label).update(text, layout=False)
