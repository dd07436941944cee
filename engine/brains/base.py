"""What a brain is: a probability for the YES outcome with a confidence band, or a reason it has none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.book import OrderBook
from engine.domain import Estimate, Market


class NoEstimate(Exception):
    """The brain declines to estimate (empty book, not enough history); the reason is recorded."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BrainInput:
    market: Market
    book: OrderBook  # the market's unified book (YES terms)
    now_ms: int
    # Optional context (defaults keep every existing construction valid):
    # the YES mids (probabilities in [0, 1]) of the event's OTHER outcomes (other markets with the same
    # event/question) at this moment; empty when unknown or a single-outcome event. Used by `calibrated`.
    event_mids: tuple[float, ...] = ()


class Brain(Protocol):
    name: str

    def estimate(self, data: BrainInput) -> Estimate:
        """Return an estimate or raise NoEstimate. May keep per-market state between calls."""
