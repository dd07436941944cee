"""`calibrated`: the market's mid re-mapped by a logistic curve fitted on settled Polymarket markets.

Parameters: engine/brains/params/calibrated.json, written by tools/fit_brains.py (features, coefficients,
their cluster-robust covariance, the cross-validated scores). Read once per process.

Point estimate: p = logistic(sum_j beta_j x_j) over the shipped features, computed from the book exactly as
the fit computed them from quotes: mid = (bid + ask) / 2 clipped to [0.005, 0.995], logit(mid), the spread,
and, when `BrainInput.event_mids` holds the other outcomes of the event, the event terms (S = the sum of the
event's mids; log S, the overround; the normalised share mid / S; the curve's own slope inside events): the
params say which. Without `event_mids` the market is scored as a single-outcome one (the event terms are 0),
as the fit scored a market whose event had no other outcome quoted. In the fit an "event" was the markets
sharing a question text (see tools/fit_brains.py): pass the other outcomes of the same event, not sibling
markets of another kind (a game's spread next to its total).

Band (90%), on the logit scale, as two independent errors added in variance:
- parameter uncertainty: the delta method, var = x' Cov x, with the fit's covariance clustered by question
  (markets of one event, and quotes of one market, are not independent draws);
- quote noise: the fair value can sit anywhere inside the spread (uniform: sd = spread / sqrt(12) in
  probability), carried through the curve by its slope d(logit p) / d(mid).
p and the band are logistic(eta), logistic(eta -+ z sd): always inside (0, 1), and around p. It is a band on
the probability, not on the outcome; no time-to-resolution term (the fit's data had no end times).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from engine.book import OrderBook
from engine.brains.base import BrainInput, NoEstimate
from engine.domain import Estimate
from engine.units import ONE

Z90 = 1.6448536269514722
MID_LO, MID_HI = 0.005, 0.995  # the fit's clip of the mid (params "mid_clip" must agree)
P_EPS = 1e-6  # p and the band stay inside [P_EPS, 1 - P_EPS]
_H = 1e-6  # step of the numerical slope d(eta)/d(mid)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def logistic(x: float) -> float:
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


def clip(p: float, lo: float = MID_LO, hi: float = MID_HI) -> float:
    return min(max(p, lo), hi)


def squash(p: float) -> float:
    return min(max(p, P_EPS), 1 - P_EPS)


@functools.cache
def _read(name: str) -> tuple[dict[str, Any], float]:
    text = resources.files("engine.brains").joinpath("params", name).read_text(encoding="utf-8")
    digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    return json.loads(text), float(int(digest, 16))


def load_params(name: str) -> dict[str, Any]:
    """The shipped params file `name` (e.g. "calibrated.json"), parsed once per process."""
    return _read(name)[0]


def params_hash(name: str) -> float:
    """8 hex digits of the shipped file's hash, as a float (features are floats; exact)."""
    return _read(name)[1]


def date_number(text: str) -> float:
    """'2026-07-12' -> 20260712.0 (a date as a feature value); 0 when absent."""
    digits = "".join(ch for ch in str(text) if ch.isdigit())
    return float(digits[:8]) if len(digits) >= 8 else 0.0


def provenance(name: str, p: Mapping[str, Any], from_file: bool, cv: Mapping[str, Any]) -> dict[str, float]:
    """What every fitted brain records about its parameters with each estimate (features are floats), after
    checking the fit clipped the mid as the brain does. `cv`: the chosen model's scores on all markets."""
    lo, hi = p.get("mid_clip", [MID_LO, MID_HI])
    if (float(lo), float(hi)) != (MID_LO, MID_HI):
        raise ValueError(f"{name}: mid_clip {lo, hi} differs from the brain's {MID_LO, MID_HI}")
    return {
        "params_version": float(p.get("params_version", 0)),
        "params_fitted_on": date_number(p.get("fitted_on", "")),
        "params_hash": params_hash(name) if from_file else 0.0,
        "cv_brier_skill_every_quote": float(cv.get("every_quote", {}).get("brier_skill", float("nan"))),
        "cv_brier_skill_last_quote": float(cv.get("last_quote", {}).get("brier_skill", float("nan"))),
    }


def book_quote(book: OrderBook) -> tuple[float, float]:
    """(bid, ask) as probabilities, or NoEstimate: the fits saw only two-sided, uncrossed quotes."""
    bid, ask = book.best_bid, book.best_ask
    if bid is None and ask is None:
        raise NoEstimate("NO_BOOK", "the book is empty")
    if bid is None or ask is None:
        raise NoEstimate("ONE_SIDED", "only one side is quoted; the fit saw two-sided quotes only")
    if bid > ask:
        raise NoEstimate("CROSSED", f"bid {bid / ONE} above ask {ask / ONE}")
    return bid / ONE, ask / ONE


def quote_noise_var(slope: float, spread: float) -> float:
    """Variance, on the logit scale, of a fair value uniform inside the spread (through slope d eta/d mid)."""
    return (slope * spread) ** 2 / 12


def event_terms(mid: float, event_mids: Sequence[float]) -> tuple[int, float]:
    """(outcomes quoted including this one, S = the sum of their clipped mids); bad values are left out."""
    others = [clip(float(m)) for m in event_mids if isinstance(m, int | float) and 0.0 <= m <= 1.0]
    return 1 + len(others), mid + sum(others)


def feature_values(mid: float, spread: float, k: int, total: float) -> dict[str, float]:
    """Every feature tools/fit_brains.py may ship, from an already clipped mid (the definitions in the fit)."""
    x = logit(mid)
    multi = k >= 2
    return {
        "const": 1.0,
        "logit_mid": x,
        "spread": spread,
        "spread_x_logit_mid": spread * x,
        "event_multi": 1.0 if multi else 0.0,
        "event_shift": logit(clip(mid / total)) - x if multi else 0.0,
        "event_log_sum": math.log(total) if multi else 0.0,
        "event_multi_x_logit_mid": x if multi else 0.0,
    }


class CalibratedBrain:
    name = "calibrated"
    PARAMS = "calibrated.json"

    def __init__(self, *, params: Mapping[str, Any] | None = None, z: float = Z90) -> None:
        p = dict(load_params(self.PARAMS) if params is None else params)
        self.z = z
        self.features: list[str] = list(p["features"])
        coefs = p["coefficients"]
        self.beta = [float(coefs[f]) for f in self.features]
        self.cov = [[float(v) for v in row] for row in p["covariance"]]
        n = len(self.features)
        if len(self.cov) != n or any(len(row) != n for row in self.cov):
            raise ValueError(f"{self.PARAMS}: covariance is not {n}x{n}")
        known = feature_values(0.5, 0.0, 1, 0.5)
        unknown = [f for f in self.features if f not in known]
        if unknown:
            raise ValueError(
                f"{self.PARAMS}: unknown features {unknown} (fitted by a newer tools/fit_brains.py?)"
            )
        cv = p.get("cv", {}).get(p.get("chosen", ""), {}).get("all", {})
        self.provenance = provenance(self.PARAMS, p, params is None, cv)

    def eta(self, mid: float, spread: float, event_mids: Sequence[float] = ()) -> float:
        """The linear predictor (log-odds) for a clipped mid."""
        k, total = event_terms(mid, event_mids)
        v = feature_values(mid, spread, k, total)
        return sum(b * v[f] for f, b in zip(self.features, self.beta, strict=True))

    def p(self, mid: float, spread: float, event_mids: Sequence[float] = ()) -> float:
        """The model on a raw mid (clipped as in the fit): the point estimate, before the final squash."""
        return logistic(self.eta(clip(mid), spread, event_mids))

    def estimate(self, data: BrainInput) -> Estimate:
        bid, ask = book_quote(data.book)
        raw_mid = (bid + ask) / 2
        mid = clip(raw_mid)
        spread = ask - bid
        k, total = event_terms(mid, data.event_mids)
        v = feature_values(mid, spread, k, total)
        x = [v[f] for f in self.features]
        eta = sum(b * xi for b, xi in zip(self.beta, x, strict=True))
        var_params = sum(x[i] * self.cov[i][j] * x[j] for i in range(len(x)) for j in range(len(x)))
        slope = self._slope(mid, spread, data.event_mids)
        var_quote = quote_noise_var(slope, spread)
        sd = math.sqrt(max(var_params, 0.0) + var_quote)
        p = squash(logistic(eta))
        features: dict[str, float] = {
            "bid": bid,
            "ask": ask,
            "mid": raw_mid,
            "mid_used": mid,
            "spread": spread,
            "event_outcomes": float(k),
            "event_sum": total if k >= 2 else 0.0,
            "event_share": mid / total if k >= 2 else 0.0,
            "eta": eta,
            "slope_eta_per_mid": slope,
            "sd_logit_params": math.sqrt(max(var_params, 0.0)),
            "sd_logit_quote": math.sqrt(var_quote),
            **self.provenance,
        }
        for f, b, xi in zip(self.features, self.beta, x, strict=True):
            features[f"x.{f}"] = xi
            features[f"term.{f}"] = b * xi
        return Estimate(
            brain=self.name,
            p_hat=p,
            ci_low=min(p, squash(logistic(eta - self.z * sd))),
            ci_high=max(p, squash(logistic(eta + self.z * sd))),
            features=features,
        )

    def _slope(self, mid: float, spread: float, event_mids: Sequence[float]) -> float:
        return numeric_slope(lambda m: self.eta(m, spread, event_mids), mid)


def numeric_slope(f: Callable[[float], float], mid: float) -> float:
    """Central difference of f at a clipped mid (steps stay inside (0, 1))."""
    return (f(mid + _H) - f(mid - _H)) / (2 * _H)


__all__ = ["CalibratedBrain", "load_params", "logistic", "logit"]
