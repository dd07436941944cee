"""Pending and recent proposals with every number that justified them (DataTable, keyed diff)."""

from __future__ import annotations

from textual.widgets import DataTable

from engine.snapshot import ProposalRow
from widgets.format import clip, clip_middle, px, shares

COLUMNS = ("ID", "Market", "Side", "Out", "Price", "Size", "Est [band]", "Edge", "Kelly", "Cap", "Slip", "Left", "Status")


class ProposalTable(DataTable):
    DEFAULT_CSS = "ProposalTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    @staticmethod
    def _cells(p: ProposalRow, now: int) -> tuple[str, ...]:
        left = max(0, p.expires_ts - now) // 1000 if p.status == "PENDING" else 0
        return (
            p.proposal_id[-7:], clip_middle(p.title, 18), p.side, clip(p.outcome, 4), px(p.price), shares(p.size),
            f"{p.p_hat:.3f} [{p.ci_low:.2f},{p.ci_high:.2f}]", f"{p.edge_net:+.3f}", f"{p.kelly:.3f}",
            clip(p.binding_cap, 12), f"{p.expected_slippage_bps:.0f}", f"{left}s" if p.status == "PENDING" else "",
            p.status,
        )

    def update_rows(self, proposals: tuple[ProposalRow, ...], now: int) -> None:
        # Pending first (the ones that need a decision), newest first.
        ordered = sorted(proposals, key=lambda p: (p.status != "PENDING", -p.created_ts))[:30]
        wanted = {p.proposal_id: self._cells(p, now) for p in ordered}
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
