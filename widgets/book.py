"""L2 ladder of the selected market: asks above, bids below, depth bars, our resting orders marked.

The engine keeps the unified book in YES terms; the NO view mirrors it here (NO bid at p is a YES ask
at 1-p). Rendered with the Line API: a frame repaints only this pane's lines.
"""

from __future__ import annotations

import textwrap

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from engine.snapshot import BookLadder
from engine.units import ONE
from widgets.format import clip_middle, px, shares

_ASK = Style(color="red")
_BID = Style(color="green")
_OURS = Style(bold=True, color="yellow")
_DIM = Style(dim=True)
_MAKER = Style(color="cyan")
ROWS_PER_SIDE = 8


class BookView(Widget, can_focus=True):
    DEFAULT_CSS = "BookView { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ladder: BookLadder | None = None
        self.outcome_yes = True
        self.label = ""
        self._lines: list[tuple[str, Style, str, Style]] = []

    def toggle_outcome(self) -> None:
        self.outcome_yes = not self.outcome_yes
        self._rebuild()

    def show(self, ladder: BookLadder | None, label: str) -> None:
        if ladder is self.ladder and label == self.label:
            return
        self.ladder, self.label = ladder, label
        self._rebuild()

    def _rebuild(self) -> None:
        lad = self.ladder
        lines: list[tuple[str, Style, str, Style]] = []
        if lad is None:
            self._lines = [("select a market (enter in Markets)", _DIM, "", _DIM)]
            self.refresh()
            return
        bids, asks = list(lad.bids), list(lad.asks)
        ours = {(is_bid, p): q for is_bid, p, q in lad.our_orders}
        if not self.outcome_yes:
            bids, asks = [(ONE - p, q) for p, q in asks], [(ONE - p, q) for p, q in bids]
            ours = {(not is_bid, ONE - p): q for (is_bid, p), q in ours.items()}
        bids, asks = bids[:ROWS_PER_SIDE], asks[:ROWS_PER_SIDE]
        # Our quotes always show, even at a price the visible book has no level at (inside the spread, or a
        # replay's book, which never holds our orders): such a level shows our size and no depth.
        for (is_bid, p), _ in ours.items():
            side = bids if is_bid else asks
            if all(lp != p for lp, _ in side):
                side.append((p, 0))
        bids.sort(key=lambda lv: -lv[0])
        asks.sort(key=lambda lv: lv[0])
        biggest = max((q for _, q in bids + asks), default=1) or 1
        head = f"{'YES' if self.outcome_yes else 'NO'}  {clip_middle(self.label, 44)}"
        lines.append((head, Style(bold=True), "", _DIM))
        # What the market maker does here, on top where the eye lands first (the ladder can run off the pane).
        for part in textwrap.wrap(lad.maker_line, width=max(20, self.size.width or 60)):
            lines.append((part, _MAKER, "", _DIM))
        lines.append((f"{'ours':>9} {'price':>7} {'size':>12}  depth", Style(underline=True), "", _DIM))
        for p, q in reversed(asks):
            mine = ours.get((False, p))
            lines.append((f"{shares(mine) if mine else '':>9} {px(p):>7} {shares(q):>12}  ", _OURS if mine else _ASK,
                          "#" * (max(1, round(20 * q / biggest)) if q else 0), _ASK))
        spread = (asks[0][0] - bids[0][0]) if bids and asks else None
        lines.append((f"{'':>9} {'spread ' + (px(spread) if spread is not None else '-'):>20}", _DIM, "", _DIM))
        for p, q in bids:
            mine = ours.get((True, p))
            lines.append((f"{shares(mine) if mine else '':>9} {px(p):>7} {shares(q):>12}  ", _OURS if mine else _BID,
                          "#" * (max(1, round(20 * q / biggest)) if q else 0), _BID))
        old, self._lines = self._lines, lines
        if len(old) != len(lines):
            self.refresh()
            return
        for y, (a, b) in enumerate(zip(old, lines, strict=True)):
            if a != b:  # only the levels that moved are sent to the terminal
                self.refresh(Region(0, y, self.size.width, 1))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width)
        text, style, bar, bar_style = self._lines[y]
        text = text[:width]
        bar = bar[: max(0, width - len(text))]
        pad = width - len(text) - len(bar)
        return Strip([Segment(text, style), Segment(bar, bar_style), Segment(" " * pad)])
