"""What a maker earns besides its trades: liquidity-reward estimates and maker rebates, kept apart from trading P&L.

- Rebates: on a fee-bearing market the venue pays makers the market's `rebate_rate` share of the taker fees
  their fills earned. Each of our maker fills adds rebate_rate x the taker fee a taker paid on that size at
  that price (the venue pays daily and pro rata; this is what our fills earned, an estimate until paid).
- Rewards: each minute of venue time, every market that pays liquidity rewards is sampled: our resting
  quotes' Q_min against the visible book's (engine/analytics/rewards.py), our share of that minute's pool.

Both accrue per strategy and per market, in USDC, as their own lines: never mixed into cash or P&L.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from engine.analytics.rewards import RestingOrder, adjusted_midpoint, book_scores, q_min, sample_reward
from engine.book import BookView
from engine.domain import FeeSchedule, Fill, Liquidity, Outcome, RewardParams, Side

SAMPLE_MS = 60_000
_USDC = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class RewardSample:
    strategy_id: str
    condition_id: str
    ts: int
    ours: float  # our Q_min
    others: float  # the visible book's Q_min
    usdc: float


class MakerIncome:
    def __init__(self) -> None:
        self.rebates: dict[str, Decimal] = defaultdict(Decimal)  # strategy -> USDC
        self.rewards: dict[str, float] = defaultdict(float)  # strategy -> USDC (an estimate)
        self.rebates_by_market: dict[str, Decimal] = defaultdict(Decimal)
        self.rewards_by_market: dict[str, float] = defaultdict(float)
        self.fills: dict[str, dict[str, int]] = defaultdict(lambda: {"maker": 0, "taker": 0})
        self.samples = 0

    def on_fill(self, fill: Fill, strategy_id: str, fees: FeeSchedule) -> Decimal:
        """Count the fill by liquidity; a maker fill's rebate (USDC, 6 decimals) is returned and accrued."""
        maker = fill.liquidity is Liquidity.MAKER
        self.fills[strategy_id]["maker" if maker else "taker"] += 1
        if not maker or not fees.rebate_rate:
            return Decimal(0)
        rebate = (fees.rebate_rate * fees.taker_fee(fill.price, fill.size)).quantize(_USDC)
        self.rebates[strategy_id] += rebate
        self.rebates_by_market[fill.condition_id] += rebate
        return rebate

    def sample(
        self,
        strategy_id: str,
        condition_id: str,
        ts: int,
        ours: Iterable[RestingOrder],
        book: BookView,
        params: RewardParams,
    ) -> RewardSample | None:
        """One minute's reward estimate for our resting quotes in one market; None when the book has no
        adjusted midpoint. The visible book stands for everyone else (on a replay it never holds ours)."""
        bids = [(lv[0], lv[1]) for lv in book.iter_bids()]
        asks = [(lv[0], lv[1]) for lv in book.iter_asks()]
        mid = adjusted_midpoint(bids, asks, params.min_size)
        if mid is None:
            return None
        mine = q_min(*book_scores(ours, mid, params), mid)
        visible = [RestingOrder(Outcome.YES, Side.BUY, p, n) for p, n in bids]
        visible += [RestingOrder(Outcome.YES, Side.SELL, p, n) for p, n in asks]
        theirs = q_min(*book_scores(visible, mid, params), mid)
        usdc = sample_reward(mine, theirs, params)
        self.samples += 1
        self.rewards[strategy_id] += usdc
        self.rewards_by_market[condition_id] += usdc
        return RewardSample(strategy_id, condition_id, ts, mine, theirs, usdc)

    def summary(self, strategy_id: str | None = None) -> dict[str, object]:
        sids = [strategy_id] if strategy_id is not None else sorted(set(self.fills) | set(self.rewards))
        return {
            "maker_fills": sum(self.fills[s]["maker"] for s in sids if s in self.fills),
            "taker_fills": sum(self.fills[s]["taker"] for s in sids if s in self.fills),
            "rewards_estimate": f"{sum(self.rewards.get(s, 0.0) for s in sids):.6f}",
            "rebates_estimate": str(sum((self.rebates.get(s, Decimal(0)) for s in sids), Decimal(0))),
        }
