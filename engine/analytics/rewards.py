"""Polymarket's liquidity rewards, as the exchange scores them, so a maker can estimate what its quotes earn.

The published method (docs: market makers, liquidity rewards), in the market's own units:

- an order's score is S(v, s) = ((v - s) / v)^2 * b, with v the market's max incentive spread (cents), s the
  order's distance from the size-cutoff-adjusted midpoint (cents) and b the in-game multiplier; an order at or
  beyond v, or smaller than the market's min incentive size, scores nothing;
- book one, Q_one, sums S * size over YES bids and NO asks; book two, Q_two, over YES asks and NO bids (a NO
  ask at p is a YES bid at 1 - p, and so on);
- with the midpoint inside [0.10, 0.90], Q_min = max(min(Q_one, Q_two), max(Q_one / c, Q_two / c)), c = 3:
  one-sided quoting still scores, at a third; outside it Q_min = min(Q_one, Q_two): two-sided or nothing;
- Q_min is sampled each minute; a maker's share of a sample is its Q_min over everyone's, and the market's
  daily pool is paid out over the day's samples.

Prices are the integers of engine.units (1e-4), sizes shares in 1e-6; scores are floats (an estimate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.domain import Outcome, RewardParams, Side
from engine.units import ONE, SIZE_SCALE

TWO_SIDED_LOW = 1_000  # 0.10: outside [0.10, 0.90] only two-sided quoting scores
TWO_SIDED_HIGH = 9_000
SCALING_C = 3.0  # "currently 3.0 on all markets"
SAMPLES_PER_DAY = 1_440  # one sample a minute
CENT = ONE // 100  # one cent in price units

__all__ = ["RewardParams", "RestingOrder", "adjusted_midpoint", "book_scores", "order_score", "q_min", "sample_reward"]


@dataclass(frozen=True, slots=True)
class RestingOrder:
    outcome: Outcome
    side: Side
    price: int  # 1e-4, in its own token's terms
    size: int  # shares, 1e-6

    def yes_terms(self) -> tuple[bool, int]:
        """(is a bid in YES terms, YES-terms price): a NO ask at p is a YES bid at 1 - p."""
        if self.outcome is Outcome.YES:
            return self.side is Side.BUY, self.price
        return self.side is Side.SELL, ONE - self.price


def order_score(max_spread_cents: float, spread_cents: float, multiplier: float = 1.0) -> float:
    """S(v, s) = ((v - s) / v)^2 * b for 0 <= s < v; nothing at or beyond v."""
    if spread_cents < 0:
        raise ValueError(f"spread_cents: {spread_cents} is a distance, >= 0")
    if spread_cents >= max_spread_cents:
        return 0.0
    return ((max_spread_cents - spread_cents) / max_spread_cents) ** 2 * multiplier


def book_scores(orders: Iterable[RestingOrder], midpoint: int, params: RewardParams) -> tuple[float, float]:
    """(Q_one, Q_two) of these orders around a YES-terms `midpoint` (1e-4)."""
    q_one = q_two = 0.0
    for o in orders:
        if o.size < params.min_size or o.size <= 0:
            continue
        is_bid, yes_price = o.yes_terms()
        distance = midpoint - yes_price if is_bid else yes_price - midpoint
        if distance < 0:
            continue  # through the midpoint: it would trade, it does not rest on that side
        s = order_score(params.max_spread_cents, distance / CENT, params.multiplier) * o.size / SIZE_SCALE
        if is_bid:
            q_one += s
        else:
            q_two += s
    return q_one, q_two


def q_min(q_one: float, q_two: float, midpoint: int, c: float = SCALING_C) -> float:
    """The sample's score: single-sided quotes count at 1/c inside [0.10, 0.90], not at all outside it."""
    if TWO_SIDED_LOW <= midpoint <= TWO_SIDED_HIGH:
        return max(min(q_one, q_two), max(q_one / c, q_two / c))
    return min(q_one, q_two)


def adjusted_midpoint(
    bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]], min_size: int
) -> int | None:
    """The size-cutoff-adjusted midpoint: the mid of the best bid and best ask that, with the better levels,
    hold at least `min_size` shares; levels are (price, size), best first. None on an empty side."""

    def reach(levels: Iterable[tuple[int, int]]) -> int | None:
        total, last = 0, None
        for price, size in levels:
            total += size
            last = price
            if total >= max(min_size, 1):
                return price
        return last

    bid, ask = reach(bids), reach(asks)
    if bid is None or ask is None:
        return None
    return (bid + ask) // 2


def sample_reward(ours: float, others: float, params: RewardParams) -> float:
    """Our share of one minute's pool (USDC): our Q_min over everyone's, times the pool's per-sample part."""
    total = ours + others
    if ours <= 0 or total <= 0:
        return 0.0
    return params.daily_rate / SAMPLES_PER_DAY * ours / total
