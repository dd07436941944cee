"""Forecast quality: Brier score and log loss of the brain and of the market mid at the same moments.

Each evaluation is held per market until the market resolves; then it is scored against the payout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_EPS = 1e-9


@dataclass(slots=True)
class Calibration:
    _pending: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    n: int = 0
    brier_model_sum: float = 0.0
    brier_market_sum: float = 0.0
    logloss_model_sum: float = 0.0
    logloss_market_sum: float = 0.0
    bins: list[list[float]] = field(default_factory=lambda: [[0.0, 0.0, 0.0] for _ in range(10)])

    def record(self, condition_id: str, p_model: float, p_market: float) -> None:
        self._pending.setdefault(condition_id, []).append((p_model, p_market))

    def resolve(self, condition_id: str, outcome: float) -> int:
        rows = self._pending.pop(condition_id, [])
        for p_model, p_market in rows:
            self.n += 1
            self.brier_model_sum += (p_model - outcome) ** 2
            self.brier_market_sum += (p_market - outcome) ** 2
            self.logloss_model_sum += _logloss(p_model, outcome)
            self.logloss_market_sum += _logloss(p_market, outcome)
            b = self.bins[min(int(p_model * 10), 9)]
            b[0] += 1
            b[1] += p_model
            b[2] += outcome
        return len(rows)

    @property
    def brier_model(self) -> float | None:
        return self.brier_model_sum / self.n if self.n else None

    @property
    def brier_market(self) -> float | None:
        return self.brier_market_sum / self.n if self.n else None

    @property
    def logloss_model(self) -> float | None:
        return self.logloss_model_sum / self.n if self.n else None

    @property
    def logloss_market(self) -> float | None:
        return self.logloss_market_sum / self.n if self.n else None

    def summary(self) -> dict[str, object]:
        """Scores so far and the 10-bin reliability curve (mean predicted, observed, count per bin)."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {
            "n": self.n,
            "brier": r(self.brier_model),
            "brier_market": r(self.brier_market),
            "log_loss": r(self.logloss_model),
            "log_loss_market": r(self.logloss_market),
            "reliability": [
                {"predicted": round(p, 4), "observed": round(o, 4), "count": c} for p, o, c in self.curve()
            ],
        }

    def curve(self) -> list[tuple[float, float, int]]:
        """(mean predicted, observed frequency, count) for each non-empty decile."""
        return [(b[1] / b[0], b[2] / b[0], int(b[0])) for b in self.bins if b[0]]


def _logloss(p: float, y: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))
