"""Pending and recent proposals with the numbers that justified them and, for every one that did not go out,
why: the rule that refused it with its value and threshold, the operator's note, the expiry (DataTable, keyed
diff). BLOCKED rows are the sizer's trades a risk layer stopped before they became proposals (latest per
market). The columns that decide come first (the edge is in "Why"), so a narrow pane still shows them.

A MANDATE row is a strategy asking for leave to requote one market within bounds (no single order): "Trade"
says MANDATE, "Why" shows its bounds, and the pane's subtitle has them in full while the row is selected.
A multi-leg proposal (its legs go together or not at all) says how many in "Trade", and lists them in the
subtitle likewise.
With more than one strategy running, a short "Strat" column after "Status" says whose each row is (at 100
columns the status still shows); with one it would say the same name on every row, so it is left out and
"Why" keeps its width."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.snapshot import ProposalRow
from widgets.columns import Col, FittedTable
from widgets.format import clip, clip_middle, px, shares

# Priorities: 0 always shown; higher goes first when the pane is narrow (Market and Why shrink before that).
# At 140x40 everything but ID fits; at 100x30 the decision columns (Trade, Size, Status, Why, Est) stay.
COLUMNS = (
    Col("ID", 7, 6),
    Col("Market", 14, 4, min_width=8, middle=True),
    Col("Trade", 13, 0, min_width=11),
    Col("Size", 7, 0, right=True),
    Col("Status", 8, 0),
    Col("Strat", 6, 5),  # shown only with several strategies (show_strategy)
    Col("Why", 26, 1, min_width=8),
    Col("Est [band]", 11, 2),
    Col("Kelly", 5, 3, right=True),
    Col("Slip", 4, 3, right=True),
)
STRATEGY_NAMES = {"market_maker": "maker", "value": "value", "manual": "manual"}

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
        if p.kind == "MANDATE":  # no edge to show: its bounds are what the operator approves
            return f"{left.strip()} {p.bounds}".strip()
        # The edge first, then the time left: a narrow pane keeps both (the column is "Why": it is the edge).
        if p.strategy_id == "manual":  # the operator's own order: no estimate, no edge, the ticket decided it
            return f"by hand{left}"
        return f"{p.edge_net:+.3f}{left} {p.binding_cap}".rstrip()
    return p.reason


def legs(p: ProposalRow) -> int:
    return p.legs.count("|") + 1 if p.legs else 1


def detail_line(p: ProposalRow) -> str:
    """What a row cannot show in its cells, for the pane's subtitle: a MANDATE row's bounds in full (whose,
    and the strategy's reason), or every leg of a multi-leg proposal; "" for an ordinary proposal."""
    if p.kind == "MANDATE":
        # The strategy's reason first (the row's Why cell already shows the bounds): what the operator weighs.
        why = f"{p.reason} | " if p.reason else ""
        return clip(f"mandate {p.proposal_id[-7:]} {p.strategy_id}: {why}{p.bounds}", 120)
    if p.legs:
        return clip_middle(f"{p.proposal_id[-7:]} {p.strategy_id}: {legs(p)} legs, all or none: {p.legs}", 120)
    return ""


class ProposalTable(FittedTable):
    """Pending first, newest first. A pending row the operator has not looked at yet (the cursor has not been
    on it) is highlighted until seen."""

    DEFAULT_CSS = "ProposalTable { height: 1fr; }"
    COLUMNS = tuple(c for c in COLUMNS if c.name != "Strat")

    def __init__(self, wall_ms: Callable[[], int] = _wall_ms, **kwargs) -> None:
        super().__init__(zebra_stripes=False, **kwargs)
        self._wall_ms = wall_ms  # injectable so screenshots are deterministic
        self.proposals: dict[str, ProposalRow] = {}
        self.unseen: set[str] = set()  # pending rows not yet under the cursor

    def show_strategy(self, show: bool) -> None:
        """Show the Strat column (more than one strategy runs) or leave it out; refits on a change."""
        columns = COLUMNS if show else tuple(c for c in COLUMNS if c.name != "Strat")
        if columns != self.COLUMNS:
            self.COLUMNS = columns
            self._fitted = ()
            self._refit(self.size.width or self.columns_for_width)

    def _cells(self, p: ProposalRow, now: int, wall_ms: int) -> dict[str, str]:
        blocked = p.status == "BLOCKED"
        mandate = p.kind == "MANDATE"
        no_estimate = mandate or p.strategy_id == "manual"  # a mandate's band is in its bounds; a hand order has none
        return {
            "ID": "-" if blocked else p.proposal_id[-7:],
            "Strat": STRATEGY_NAMES.get(p.strategy_id, p.strategy_id),
            "Market": p.title,
            "Trade": "MANDATE" if mandate else f"{legs(p)} LEGS" if p.legs else f"{p.side} {clip(p.outcome, 4)} {px(p.price)}",
            "Size": shares(p.size),
            "Status": p.status,
            "Why": why(p, now, wall_ms),
            # A mandate has no estimate of its own: its band is in its bounds.
            "Est [band]": "-" if no_estimate else f"{p.p_hat:.2f}[{p.ci_low * 100:.0f}-{p.ci_high * 100:.0f}]",
            "Kelly": "-" if no_estimate else f"{p.kelly:.3f}",
            "Slip": "-" if no_estimate else f"{p.expected_slippage_bps:.0f}",
        }

    def update_rows(self, proposals: tuple[ProposalRow, ...], now: int) -> None:
        # Pending first (the ones that need a decision), newest first.
        ordered = sorted(proposals, key=lambda p: (p.status != "PENDING", -p.created_ts))[:30]
        self.proposals = {p.proposal_id: p for p in ordered}
        self.unseen &= {p.proposal_id for p in ordered if p.status == "PENDING"}
        wall = self._wall_ms()
        self.show_rows({p.proposal_id: self._cells(p, now, wall) for p in ordered})

    def row_style(self, key: str) -> str:
        return "bold black on yellow" if key in self.unseen else ""

    def mark_new(self, ids: set[str]) -> None:
        self.unseen |= ids
        for key in ids:
            self.restyle(key)

    def mark_seen(self, key: str | None) -> None:
        if key is not None and key in self.unseen:
            self.unseen.discard(key)
            self.restyle(key)

    def selected_id(self) -> str | None:
        return self.selected_key()

    def selected(self) -> ProposalRow | None:
        key = self.selected_id()
        return None if key is None else self.proposals.get(key)
