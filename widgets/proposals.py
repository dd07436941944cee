"""Pending and recent proposals with the numbers that justified them and, for every one that did not go out,
why: the rule that refused it with its value and threshold, the operator's note, the expiry (DataTable, keyed
diff). BLOCKED rows are the sizer's trades a risk layer stopped before they became proposals (latest per
market). The columns that decide come first (the edge is in "Why"), so a narrow pane still shows them."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.widgets import DataTable

from engine.snapshot import ProposalRow
from widgets.format import clip, clip_middle, px, shares

COLUMNS = ("ID", "Market", "Trade", "Size", "Status", "Why", "Est [band]", "Kelly", "Slip")
WHY_WIDTH = 26

_BREAKERS = {
    "DAILY_LOSS": "day loss", "WEEKLY_LOSS": "week loss", "DRAWDOWN": "drawdown", "ROLLING_LOSS": "rolling loss",
    "CONSECUTIVE_LOSSES": "losing streak", "FILL_RATE": "fill rate", "REJECTIONS": "rejections",
    "STALE_FEED": "stale feed", "STALE_MARKET": "stale book", "RECONCILE": "reconcile", "KILL_SWITCH": "kill switch",
    "REDUCE_ONLY": "reduce-only",
}


def describe(code: str, value: float, threshold: float) -> str:
    """A refusal in a few words, in its rule's unit: `day loss 0.12%>=0.10%`, `cluster cap $130>$120`."""
    if code.startswith("BREAKER_"):
        name = code.removeprefix("BREAKER_")
        label = _BREAKERS.get(name, name.lower())
        if name in ("DAILY_LOSS", "WEEKLY_LOSS", "DRAWDOWN"):
            return f"{label} {value:.2%}>={threshold:.2%}"
        if name == "ROLLING_LOSS":
            return f"{label} ${value:,.2f}>=${threshold:,.2f}"
        if name in ("CONSECUTIVE_LOSSES", "REJECTIONS"):
            return f"{label} {value:.0f}>={threshold:.0f}"
        if name == "FILL_RATE":
            return f"{label} {value:.0%}<{threshold:.0%}"
        if name in ("STALE_FEED", "STALE_MARKET"):
            return f"{label} {value / 1000:.0f}s>{threshold / 1000:.0f}s"
        return label
    if code.startswith("MARKET_"):
        phase = code.removeprefix("MARKET_").lower().replace("_", " ")
        if code == "MARKET_CLOSE_WINDOW":
            return f"close window {value / 1000:.0f}s<={threshold / 1000:.0f}s"
        return f"market {phase}"
    if code.startswith("NO_ROOM_") or code == "SIZE_RATCHET":
        what = "ratchet" if code == "SIZE_RATCHET" else code.removeprefix("NO_ROOM_").lower().replace("_", " ")
        return f"{what}: ${value:,.2f} left<${threshold:,.2f}"
    if code in ("MARKET_CAP", "CLUSTER_CAP", "AGGREGATE_CAP", "CASH"):
        return f"{code.lower().replace('_', ' ')} ${value:,.2f}>${threshold:,.2f}"
    if code == "ZONE_MIN_PROB":
        return f"zone: p {value:.3f}<={threshold:.2f}"
    if code.startswith("ZONE_"):
        return f"{code.lower().replace('_', ' ')} {value / 10_000:.2f}"
    if code in ("STALE_BOOK",):
        return f"stale book {value / 1000:.0f}s>{threshold / 1000:.0f}s"
    if code == "SLIPPAGE":
        return f"slippage {value:.0f}>{threshold:.0f}bps"
    if code == "BOOK_SHARE":
        return f"book share {value:.0%}>{threshold:.0%}"
    if code == "RATE_BUDGET":
        return f"rate budget {value:.0f}>={threshold:.0f}/min"
    if code == "SHARES":
        return f"shares {value:,.2f}>{threshold:,.2f} free"
    return f"{code.lower()} {value:.4g}/{threshold:.4g}"


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def why(p: ProposalRow, now: int, wall_ms: int | None = None) -> str:
    """Refused or blocked: the rule, its value and threshold. Rejected or expired: the note or cause. Otherwise
    what justified it: the conservative net edge, the cap that sized it and, while pending, the time left in
    the operator's (real) seconds, whatever the replay speed."""
    if p.reason_code:
        return describe(p.reason_code, p.reason_value, p.reason_threshold)
    if p.status in ("PENDING", "APPROVED", "OBSERVED"):
        real = p.expires_wall and wall_ms is not None
        remaining = p.expires_wall - wall_ms if real else p.expires_ts - now  # type: ignore[operator]
        left = f" {max(0, remaining) // 1000}s" if p.status == "PENDING" else ""
        return f"edge {p.edge_net:+.3f}{left} {p.binding_cap}".rstrip()
    return p.reason


class ProposalTable(DataTable):
    DEFAULT_CSS = "ProposalTable { height: 1fr; }"

    def __init__(self, wall_ms: Callable[[], int] = _wall_ms, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: dict[str, tuple[str, ...]] = {}
        self._wall_ms = wall_ms  # injectable so screenshots are deterministic

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name, width=WHY_WIDTH if name == "Why" else None)

    @staticmethod
    def _cells(p: ProposalRow, now: int, wall_ms: int) -> tuple[str, ...]:
        blocked = p.status == "BLOCKED"
        return (
            "-" if blocked else p.proposal_id[-7:], clip_middle(p.title, 14),
            f"{p.side} {clip(p.outcome, 4)} {px(p.price)}", shares(p.size), p.status,
            clip(why(p, now, wall_ms), WHY_WIDTH), f"{p.p_hat:.3f} [{p.ci_low:.2f},{p.ci_high:.2f}]", f"{p.kelly:.3f}",
            f"{p.expected_slippage_bps:.0f}",
        )

    def update_rows(self, proposals: tuple[ProposalRow, ...], now: int) -> None:
        # Pending first (the ones that need a decision), newest first.
        ordered = sorted(proposals, key=lambda p: (p.status != "PENDING", -p.created_ts))[:30]
        wall = self._wall_ms()
        wanted = {p.proposal_id: self._cells(p, now, wall) for p in ordered}
        for key in [k for k in self._rows if k not in wanted]:
            self.remove_row(key)
            del self._rows[key]
        order_changed = list(wanted) != list(self._rows)
        if order_changed:
            self.clear()
            self._rows = {}
            for key, cells in wanted.items():
                self.add_row(*cells, key=key)
                self._rows[key] = cells
            return
        for key, cells in wanted.items():
            old = self._rows.get(key)
            for col, (a, b) in enumerate(zip(old, cells, strict=True)):
                if a != b:
                    self.update_cell(key, COLUMNS[col], b)
            self._rows[key] = cells

    def selected_id(self) -> str | None:
        if not self._rows or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return key
