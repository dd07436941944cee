"""One line on top: mode, venue, engine state, breakers, feed health, snapshot age, bankroll, clock.

Breakers: "breakers ok" while none blocks; otherwise the first blocking one (the engine's priority order)
with the value that tripped it against its threshold, and how many more block."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from engine.snapshot import EngineSnapshot
from widgets.format import age, clock, usd
from widgets.risk import SHORT, STATE, STYLE, blocking, breaker_value


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-halted { background: $error; color: $text; text-style: bold; }
    """

    def __init__(self, wall: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._wall = wall  # injectable so screenshots are deterministic
        self._received = wall()
        self._last = ""

    def show(self, snap: EngineSnapshot, received: bool = False, live_armed: bool = False) -> None:
        if received:
            self._received = self._wall()
        error = snap.state == "ERROR"
        self.set_class(snap.halted or error, "-halted")
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {snap.mode.upper()} ", style="bold reverse")
        t.append(" ")
        armed = live_armed or snap.live_armed
        venue = snap.venue + ((" ARMED" if armed else " not armed") if snap.venue == "LIVE" else "")
        t.append(f" {venue} ", style="bold white on red" if snap.venue == "LIVE" else "bold")
        t.append("  ")
        if snap.state in ("HALTED", "ERROR"):
            t.append(snap.state, style="bold")
        else:
            t.append(snap.state, style="bold green" if snap.state == "RUNNING" else "bold yellow")
        blocked = [b for b in blocking(snap.risk.breakers) if not (b.name == "manual" and snap.state == "HALTED")]
        if blocked:
            first = blocked[0]
            t.append("  ")
            t.append(f" {SHORT.get(first.name, first.name)} {STATE.get(first.state, first.state)} "
                     f"{breaker_value(first)} ", style=STYLE.get(first.state, "bold red"))
            if len(blocked) > 1:
                t.append(f" +{len(blocked) - 1}", style="bold")
        elif snap.state != "HALTED":
            t.append("  breakers ok", style="green")
        if snap.risk.reduce_only:
            t.append("  REDUCE-ONLY", style="bold yellow")
        t.append(f"  orders {len(snap.orders)}", style="bold" if snap.orders else "")
        if snap.state == "HALTED":
            t.append(f"  ({snap.halt_reason})", style="bold")
        elif error:
            t.append(f"  ({snap.error}; restart to resume)", style="bold")
        feed = snap.feed
        stale = feed.stale_books > 0 and not snap.data_ended
        if snap.data_ended:  # nothing more will come: no rate to count, no book to wait for
            t.append("  FEED ENDED: the recording has played out", style="bold cyan")
        else:
            rate = float(f"{feed.messages_per_s:.2g}") if feed.messages_per_s >= 10 else feed.messages_per_s
            t.append(f"  feed {rate:,.0f} msg/s  oldest book {age(feed.oldest_book_age_ms)}",
                     style="bold red" if stale else "")
        if stale:
            t.append(f" STALE x{feed.stale_books}", style="bold red")
        t.append(f"  snap #{snap.seq} {age(int((self._wall() - self._received) * 1000))}")
        t.append(f"  equity ${usd(snap.pnl.equity)} / ${usd(snap.bankroll)}")
        t.append(f"  {clock(snap.ts)} UTC")
        if t.plain != self._last:
            self._last = t.plain
            self.update(t, layout=False)  # one fixed line: never worth a layout pass
