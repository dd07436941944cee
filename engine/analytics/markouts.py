"""Markouts: how the market moved after each of our fills, signed for our side, in cents.

For every fill, the canonical mid of the token we traded is read 30 s, 2 min and 10 min later (engine time).
A buy marks out at (mid - price), a sell at (price - mid): positive means the fill was good for us. Kept per
strategy and per market. A market is toxic when the mean 2-minute markout of its last N fills is below a
threshold (default -0.2 cents): the informed flow is picking our quotes off there.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from engine.domain import Fill, Outcome, Side
from engine.units import ONE

HORIZONS_MS = (30_000, 120_000, 600_000)
HORIZON_NAMES = {30_000: "30s", 120_000: "2m", 600_000: "10m"}
TOXIC_HORIZON_MS = 120_000
CENTS = 100 / ONE  # price units to cents


def signed_cents(side: Side, price: int, mid: float) -> float:
    """How far the mid stands from a fill's price, in cents, signed for our side (positive: good for us)."""
    return (mid - price if side is Side.BUY else price - mid) * CENTS


@dataclass(frozen=True, slots=True)
class Markout:
    trade_id: str
    strategy_id: str
    condition_id: str
    horizon_ms: int
    cents: float  # signed for our side: positive is good for us
    maker: bool


@dataclass(slots=True)
class _Stat:
    count: int = 0
    total: float = 0.0

    @property
    def mean(self) -> float | None:
        return None if self.count == 0 else self.total / self.count


class Markouts:
    def __init__(self, toxic_window: int = 20, toxic_below_cents: float = -0.2) -> None:
        self.toxic_window = toxic_window
        self.toxic_below_cents = toxic_below_cents
        # (due, seq, horizon, trade id, strategy, market, outcome, side, price, maker): a heap by due time
        self._due: list[tuple[int, int, int, str, str, str, Outcome, Side, int, bool]] = []
        self._seq = 0
        self.by_strategy: dict[str, dict[int, _Stat]] = defaultdict(lambda: {h: _Stat() for h in HORIZONS_MS})
        self.by_market: dict[str, dict[int, _Stat]] = defaultdict(lambda: {h: _Stat() for h in HORIZONS_MS})
        self._recent: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=self.toxic_window))

    def on_fill(self, fill: Fill, strategy_id: str, maker: bool) -> None:
        for h in HORIZONS_MS:
            self._seq += 1
            heapq.heappush(
                self._due,
                (fill.ts + h, self._seq, h, fill.trade_id, strategy_id, fill.condition_id, fill.outcome,
                 fill.side, fill.price, maker),
            )  # fmt: skip

    def on_time(self, now: int, mid: Callable[[str, Outcome], int | None]) -> list[Markout]:
        """Every markout that came due by `now`; `mid(condition_id, outcome)` is the token's canonical mid
        (1e-4) or None when the book has none (then the markout is taken at the next call that has one)."""
        out: list[Markout] = []
        waiting = []
        while self._due and self._due[0][0] <= now:
            item = heapq.heappop(self._due)
            _, _, h, trade_id, sid, cid, outcome, side, price, maker = item
            m = mid(cid, outcome)
            if m is None:
                waiting.append(item)
                continue
            cents = signed_cents(side, price, m)
            self.by_strategy[sid][h].count += 1
            self.by_strategy[sid][h].total += cents
            self.by_market[cid][h].count += 1
            self.by_market[cid][h].total += cents
            if h == TOXIC_HORIZON_MS:
                self._recent[cid].append(cents)
            out.append(Markout(trade_id, sid, cid, h, cents, maker))
        for item in waiting:
            heapq.heappush(self._due, item)
        return out

    def toxic(self, condition_id: str) -> bool:
        """The market's last `toxic_window` 2-minute markouts average below the threshold (a full window)."""
        recent = self._recent.get(condition_id)
        if recent is None or len(recent) < self.toxic_window:
            return False
        mean = self.recent_mean(condition_id)
        return mean is not None and mean < self.toxic_below_cents

    def recent_mean(self, condition_id: str) -> float | None:
        """Mean 2-minute markout of the market's last fills (up to `toxic_window`), cents; None before any."""
        recent = self._recent.get(condition_id)
        if not recent:
            return None
        return sum(recent) / len(recent)

    def summary(self, strategy_id: str | None = None) -> dict[str, dict[str, float | int | None]]:
        """Per horizon: count and mean in cents, for one strategy or every fill."""
        stats: dict[int, _Stat] = {h: _Stat() for h in HORIZONS_MS}
        for sid, per in self.by_strategy.items():
            if strategy_id is None or sid == strategy_id:
                for h, s in per.items():
                    stats[h].count += s.count
                    stats[h].total += s.total
        return {
            HORIZON_NAMES[h]: {"count": s.count, "mean_cents": None if s.mean is None else round(s.mean, 4)}
            for h, s in stats.items()
        }
