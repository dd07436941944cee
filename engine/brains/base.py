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


class Brain(Protocol):
    name: str

    def estimate(self, data: BrainInput) -> Estimate:
        """Return an estimate or raise NoEstimate. May keep per-market state between calls."""
