"""`ensemble`: several brains combined in log-odds, with a band that grows when they disagree.

Point: the weighted mean of the members' logits, L = sum(w_i x logit(p_i)) / sum(w_i), over the members that
gave an estimate (a member that declines is left out and its weight with it; none left: no estimate).

Band (90%): on the logit scale, half-width h = sqrt(hbar^2 + (z x s)^2), where hbar is the weighted mean of
the members' own half-widths (each member's band taken in logits, half its width) and s the weighted
standard deviation of their logits (their disagreement). So members that agree keep their own uncertainty,
and members that disagree widen it by as much as they disagree. p = logistic(L), band = logistic(L -+ h).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.brains.base import Brain, BrainInput, NoEstimate
from engine.brains.calibrated import Z90, logistic
from engine.brains.calibrated import logit as plain_logit
from engine.domain import Estimate

_P_MIN, _P_MAX = 1e-4, 1 - 1e-4


def logit(p: float) -> float:
    """Log-odds of a member's probability, kept off 0 and 1 so one sure member cannot be infinite."""
    return plain_logit(min(max(p, _P_MIN), _P_MAX))


def combine(members: Sequence[tuple[Estimate, float]], z: float = Z90) -> tuple[float, float, float, float]:
    """(p, low, high, disagreement in logits) of weighted members; the maths of the module note."""
    total = sum(w for _, w in members)
    mean = sum(w * logit(e.p_hat) for e, w in members) / total
    spread = math.sqrt(sum(w * (logit(e.p_hat) - mean) ** 2 for e, w in members) / total)
    own = sum(w * (logit(e.ci_high) - logit(e.ci_low)) / 2 for e, w in members) / total
    half = math.sqrt(own**2 + (z * spread) ** 2)
    return logistic(mean), logistic(mean - half), logistic(mean + half), spread


class EnsembleBrain:
    name = "ensemble"

    def __init__(self, members: Sequence[tuple[Brain, float]]) -> None:
        if not members:
            raise ValueError("ensemble: at least one member brain")
        bad = [f"{b.name}={w!r}" for b, w in members if not (isinstance(w, int | float) and w > 0)]
        if bad:
            raise ValueError(f"ensemble weights: {', '.join(bad)}: accepted: numbers > 0")
        self.members = list(members)

    def estimate(self, data: BrainInput) -> Estimate:
        got: list[tuple[Estimate, float]] = []
        declined: list[str] = []
        for brain, weight in self.members:
            try:
                got.append((brain.estimate(data), weight))
            except NoEstimate as exc:
                declined.append(f"{brain.name}:{exc.code}")
        if not got:
            raise NoEstimate("NO_MEMBER", "every member declined: " + ", ".join(declined))
        p, low, high, spread = combine(got)
        features: dict[str, float] = {"members": float(len(got)), "declined": float(len(declined)),
                                      "disagreement_logit": spread}  # fmt: skip
        for est, weight in got:
            features[f"{est.brain}.p"] = est.p_hat
            features[f"{est.brain}.weight"] = weight
        return Estimate(self.name, p, low, high, features)


__all__ = ["EnsembleBrain", "combine", "logistic", "logit"]
