"""Risk gauges with numbers beside them (so they read in 16 colours), and every breaker's state.

The breakers sit in a grid under the gauges, tripped ones first, each as a short name and its state
(ok / TRIP / COOL); the pane's subtitle says how many block and whether reduce-only mode is on. The value
that tripped a breaker and its threshold are on the status bar and in the log.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from engine.snapshot import BreakerState, RiskView
from widgets.format import usd

GAUGES = ("exposure", "day", "week", "streak", "cluster")

# Short names for the grid and the status bar, in the engine's order.
SHORT = {
    "manual": "manual",
    "kill_switch": "kill",
    "reconcile": "recon",
    "drawdown": "drawdn",
    "daily_loss": "day",
    "weekly_loss": "week",
    "rolling_loss": "roll",
    "consecutive_losses": "streak",
    "fill_rate": "fills",
    "rejections": "reject",
    "stale_feed": "feed",
    "stale_market": "books",
}
STATE = {"OK": "ok", "TRIPPED": "TRIP", "COOLDOWN": "COOL"}
STYLE = {"OK": "green", "TRIPPED": "bold white on red", "COOLDOWN": "bold black on yellow"}
CELL = 12  # "reject COOL" and a space


def breaker_value(b: BreakerState) -> str:
    """What tripped it, against its threshold, in the breaker's own unit."""
    v, t = b.value, b.threshold
    if b.name in ("daily_loss", "weekly_loss", "drawdown"):
        return f"{v:.2%}>={t:.2%}"
    if b.name == "rolling_loss":
        return f"${v:,.2f}>=${t:,.2f}"
    if b.name in ("consecutive_losses", "rejections"):
        return f"{v:.0f}>={t:.0f}"
    if b.name == "fill_rate":
        return f"{v:.0%}<{t:.0%}"
    if b.name in ("stale_feed", "stale_market"):
        return f"{v / 1000:.0f}s>{t / 1000:.0f}s"
    if b.name == "reconcile":
        return f"{v:.0f} mismatches"
    if b.name == "kill_switch":
        return "file present"
    return "halted" if b.name == "manual" else f"{v:g}/{t:g}"


def blocking(breakers: tuple[BreakerState, ...]) -> list[BreakerState]:
    """Breakers that block orders now, tripped before cooling down, in the engine's priority order."""
    return [b for b in breakers if b.state == "TRIPPED"] + [b for b in breakers if b.state == "COOLDOWN"]


class RiskPane(Vertical):
    DEFAULT_CSS = """
    RiskPane Horizontal { height: 1; }
    RiskPane .gauge-label { width: 38; height: 1; }
    RiskPane ProgressBar { width: 1fr; height: 1; }
    RiskPane ProgressBar Bar { width: 1fr; }
    RiskPane Bar > .bar--complete { color: $error; }
    RiskPane #risk-breakers { height: 1fr; width: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._texts: dict[str, str] = {}
        self._risk: RiskView | None = None

    def compose(self) -> ComposeResult:
        # Children are held, not queried on every refresh: a refresh can race the app's start-up or teardown.
        self._bars: dict[str, ProgressBar] = {}
        self._labels: dict[str, Label] = {}
        for name in GAUGES:
            with Horizontal():
                self._labels[name] = Label("", id=f"risk-{name}-label", classes="gauge-label")
                self._bars[name] = ProgressBar(total=100, show_eta=False, show_percentage=False, id=f"risk-{name}")
                yield self._labels[name]
                yield self._bars[name]
        self._breakers_label = Label("", id="risk-breakers")
        yield self._breakers_label

    def _gauge(self, name: str, value: Decimal | float, limit: Decimal | float, text: str) -> None:
        limit_f = float(limit) or 1.0
        pct = max(0.0, min(100.0, 100.0 * float(value) / limit_f))
        bar = self._bars[name]
        if bar.progress != pct:
            bar.update(progress=pct)
        if self._texts.get(name) != text:
            self._texts[name] = text
            self._labels[name].update(text, layout=False)

    def _grid(self, breakers: tuple[BreakerState, ...]) -> Text:
        """Tripped first, then the rest in order; as many rows as the pane has room for (the last cell says
        how many OK ones did not fit)."""
        label = self._breakers_label
        width = max(CELL, label.size.width or self.size.width or 4 * CELL)
        height = max(1, label.size.height or 3)
        per_row = max(1, width // CELL)
        ordered = blocking(breakers) + [b for b in breakers if b.state == "OK"]
        room = per_row * height
        hidden = 0
        if len(ordered) > room:
            hidden = len(ordered) - (room - 1)
            ordered = ordered[: room - 1]
        text = Text(no_wrap=True, overflow="crop")
        for i, b in enumerate(ordered):
            if i and i % per_row == 0:
                text.append("\n")
            name = SHORT.get(b.name, b.name[:6])
            text.append(f"{name} ", style="bold" if b.state != "OK" else "")
            text.append(STATE.get(b.state, b.state), style=STYLE.get(b.state, "bold red"))
            text.append(" " * max(1, CELL - len(name) - 1 - len(STATE.get(b.state, b.state))))
        if hidden:
            if len(ordered) % per_row == 0 and ordered:
                text.append("\n")
            text.append(f"+{hidden} ok", style="green")
        return text

    def on_resize(self) -> None:
        if self._risk is not None:
            self._texts.pop("breakers", None)
            self.call_after_refresh(self.show, self._risk)

    def show(self, risk: RiskView) -> None:
        self._risk = risk
        self._gauge("exposure", risk.exposure, risk.exposure_cap,
                    f"exposure {usd(risk.exposure)} / {usd(risk.exposure_cap)}")
        self._gauge("day", risk.day_loss, risk.day_limit, f"day loss {usd(risk.day_loss)} / {usd(risk.day_limit)}")
        self._gauge("week", risk.week_loss, risk.week_limit, f"week loss {usd(risk.week_loss)} / {usd(risk.week_limit)}")
        self._gauge("streak", risk.consecutive_losses, risk.max_consecutive_losses,
                    f"losing streak {risk.consecutive_losses} / {risk.max_consecutive_losses}")
        cluster = risk.largest_cluster or "-"
        self._gauge("cluster", risk.largest_cluster_exposure, risk.cluster_cap,
                    f"largest cluster {usd(risk.largest_cluster_exposure)} / {usd(risk.cluster_cap)} {cluster[:18]}")
        text = self._grid(risk.breakers)
        blocked = blocking(risk.breakers)
        subtitle = " ".join(
            part for part in (f"{len(blocked)} breaker{'s' if len(blocked) != 1 else ''} tripped" if blocked else "",
                              "REDUCE-ONLY" if risk.reduce_only else "") if part
        )
        if self._texts.get("subtitle") != subtitle:
            self._texts["subtitle"] = subtitle
            self.border_subtitle = subtitle
        key = f"{text.plain}|{[s.style for s in text.spans]}"
        if self._texts.get("breakers") != key:
            self._texts["breakers"] = key
            self._breakers_label.update(text, layout=False)
