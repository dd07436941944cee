"""Which markets the market maker quotes: a score for each watched market, hard vetoes, and the active set.

A veto is a rule a good score cannot overrule; each has its threshold and says which side of it the market
is on (the Markets pane shows the first; codes are short because that cell is narrow). In the order they are checked:

- `RES_RISK`: the rules read as ambiguous or multi-source (engine/analytics/resolution_risk.py);
- `STATE`: the market is in its close window or beyond (no new maker quotes there);
- `NO_BOOK` / `CROSSED` / `WIDE`: nothing to quote around, a crossed book, a spread too wide to trust;
- `STALE`: the book is older than the staleness limit (5 s live, 120 s on paper and replay);
- `THIN`: too little visible depth near the mid to lean on;
- `CLOSING`: too little time left to work a quote out of inventory;
- `TOXIC`: our recent fills here marked out badly (the override beats any score until it recovers).

The score (higher is better) weighs what a maker earns against what hurts it: rewards potential (the
market's daily pool, if any), spread (more edge per round trip), depth (a book that absorbs us), minus
volatility (quotes picked off when the price jumps) and toxicity (informed flow). Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from engine.refusal import Refusal

# What each term of the score is worth at most; they add to 1 for an ideal market.
W_REWARDS = 0.30
W_SPREAD = 0.25
W_DEPTH = 0.25
W_CALM = 0.10  # low volatility
W_CLEAN = 0.10  # no adverse markouts


@dataclass(frozen=True, slots=True)
class ScorerLimits:
    max_resolution_risk: float = 0.35
    max_spread_cents: float = 10.0
    max_book_age_s: float = 120.0
    min_depth_usdc: float = 100.0
    min_time_to_close_s: float = 120.0


@dataclass(frozen=True, slots=True)
class MarketFacts:
    """What the scorer needs to know about one market now."""

    condition_id: str
    maker_allowed: bool  # the market's state admits new maker quotes (not in its close window or later)
    phase: str
    best_bid: int | None  # YES terms, 1e-4
    best_ask: int | None
    depth_usdc: float  # visible depth near the mid, both sides
    book_age_s: float
    seconds_to_close: float | None
    resolution_risk: float
    resolution_reason: str
    sigma_cents: float  # recent mid volatility, cents per evaluation
    markout_cents: float | None  # mean 2-minute markout of recent fills here (None: none yet)
    toxic: bool
    reward_daily_usdc: float = 0.0


@dataclass(frozen=True, slots=True)
class Quoteability:
    condition_id: str
    score: float
    vetoes: tuple[Refusal, ...]

    @property
    def quotable(self) -> bool:
        return not self.vetoes

    @property
    def first_veto(self) -> str:
        return "" if not self.vetoes else self.vetoes[0].code


def vetoes(f: MarketFacts, lim: ScorerLimits) -> tuple[Refusal, ...]:
    out: list[Refusal] = []
    if f.resolution_risk > lim.max_resolution_risk:
        out.append(Refusal("RES_RISK", f.resolution_risk, lim.max_resolution_risk, f.resolution_reason))
    if not f.maker_allowed:
        out.append(Refusal("STATE", 0, 1, f"{f.phase}: no new maker quotes"))
    if f.best_bid is None or f.best_ask is None:
        out.append(Refusal("NO_BOOK", 0, 1, "a side of the book is empty"))
    else:
        spread_cents = (f.best_ask - f.best_bid) / 100
        if spread_cents <= 0:
            out.append(Refusal("CROSSED", spread_cents, 0, "best bid at or above best ask"))
        elif spread_cents > lim.max_spread_cents:
            out.append(Refusal("WIDE", spread_cents, lim.max_spread_cents, "spread in cents"))
    if f.book_age_s > lim.max_book_age_s:
        out.append(Refusal("STALE", f.book_age_s, lim.max_book_age_s, "seconds since the book last moved"))
    if f.depth_usdc < lim.min_depth_usdc:
        out.append(Refusal("THIN", f.depth_usdc, lim.min_depth_usdc, "USDC visible near the mid"))
    if f.seconds_to_close is not None and f.seconds_to_close < lim.min_time_to_close_s:
        out.append(Refusal("CLOSING", f.seconds_to_close, lim.min_time_to_close_s, "seconds to close"))
    if f.toxic:
        out.append(
            Refusal("TOXIC", f.markout_cents or 0.0, -0.2, "recent fills mark out below the threshold, cents")
        )
    return tuple(out)


def score(f: MarketFacts) -> float:
    """In [0, 1]: each term saturates, so no single number can buy a market into the set."""
    rewards = min(1.0, f.reward_daily_usdc / 50.0)  # a $50/day pool is as good as it gets for our size
    spread = 0.0
    if f.best_bid is not None and f.best_ask is not None and f.best_ask > f.best_bid:
        spread = min(1.0, (f.best_ask - f.best_bid) / 100 / 4.0)  # 4 cents or more: full marks
    depth = min(1.0, math.log1p(max(0.0, f.depth_usdc)) / math.log1p(20_000.0))
    calm = 1.0 / (1.0 + max(0.0, f.sigma_cents))
    clean = 1.0 if f.markout_cents is None else max(0.0, min(1.0, 1.0 + f.markout_cents / 0.5))
    return W_REWARDS * rewards + W_SPREAD * spread + W_DEPTH * depth + W_CALM * calm + W_CLEAN * clean


def rank(facts: Iterable[MarketFacts], lim: ScorerLimits) -> list[Quoteability]:
    """Every market scored, best first (vetoed ones after the quotable, still in score order)."""
    out = [Quoteability(f.condition_id, score(f), vetoes(f, lim)) for f in facts]
    out.sort(key=lambda q: (not q.quotable, -q.score, q.condition_id))
    return out


def active_set(ranked: list[Quoteability], n: int) -> frozenset[str]:
    """The top `n` quotable markets."""
    return frozenset([q.condition_id for q in ranked if q.quotable][:n])
