"""What a market's chart needs: its mid sampled over engine time, and our fills in it. Bounded per market,
so a run of weeks holds the last hours, not everything; the resting orders come from the engine at the time
of asking."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from engine.book import OrderBook
from engine.domain import Fill, yes_terms
from engine.execution.orders import OrderState
from engine.queries import FillMark, PriceHistory, PricePoint
from engine.units import ONE

if TYPE_CHECKING:
    from engine.engine import Engine

SAMPLE_MS = 5_000  # one mid per market per 5 s of engine time
KEEP_POINTS = 720  # an hour of samples per market
KEEP_FILLS = 200  # our latest fills per market
RESTING = (OrderState.SUBMITTED, OrderState.LIVE, OrderState.PARTIALLY_FILLED)


class PriceHistoryRecorder:
    def __init__(self, sample_ms: int = SAMPLE_MS, keep: int = KEEP_POINTS) -> None:
        self.sample_ms = sample_ms
        self.keep = keep
        self._mids: dict[str, deque[PricePoint]] = {}
        self._fills: dict[str, deque[FillMark]] = {}

    def sample(self, condition_id: str, ts: int, book: OrderBook) -> None:
        """A book moved: keep its mid if the last sample is a period old (a new market's first at once). The
        mid is read only then: this runs on every book message."""
        points = self._mids.get(condition_id)
        if points is not None and ts - points[-1].ts < self.sample_ms:
            return
        mid_x2 = book.mid().x2
        if mid_x2 is None:
            return
        if points is None:
            points = self._mids[condition_id] = deque(maxlen=self.keep)
        points.append(PricePoint(ts, mid_x2 / 2 / ONE))

    def on_fill(self, fill: Fill) -> None:
        fills = self._fills.get(fill.condition_id)
        if fills is None:
            fills = self._fills[fill.condition_id] = deque(maxlen=KEEP_FILLS)
        is_bid, price = yes_terms(fill.outcome, fill.side, fill.price)
        fills.append(FillMark(fill.ts, price / ONE, "BUY" if is_bid else "SELL", fill.size / 1e6))

    def answer(self, e: Engine, condition_id: str) -> PriceHistory:
        ms = e.markets.get(condition_id)
        if ms is None:
            raise ValueError(f"history condition_id: {condition_id!r} is not a watched market")
        resting = []
        for o in e.working.values():
            r = o.request
            if r.condition_id == condition_id and o.state in RESTING:
                is_bid, price = yes_terms(r.outcome, r.side, r.price)
                resting.append(("BUY" if is_bid else "SELL", price / ONE))
        m = ms.market
        return PriceHistory(
            condition_id=condition_id,
            title=m.question or m.slug,
            mids=tuple(self._mids.get(condition_id, ())),
            fills=tuple(self._fills.get(condition_id, ())),
            resting=tuple(resting),
        )
