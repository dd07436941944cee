"""`base_rate`: how often markets of this category, at this price, settled YES (fitted on settled markets).

Parameters: engine/brains/params/base_rate.json, written by tools/fit_brains.py, which tries two kinds and
ships the one that scored best out of sample (its CV figures are in the file):
- "blend": p = (1 - lambda) mid + lambda r_c, with r_c the category's YES rate shrunk toward the
  all-category rate (a category the fit never saw uses the all-category rate);
- "reliability_table": p = logistic(logit(mid) + o_c(logit(mid))), with o_c the category's smoothed
  reliability offsets (YES rate vs mean mid per price bucket) interpolated between bucket centres.
The mid is (bid + ask) / 2 clipped to [0.005, 0.995], as in the fit. The category is `Market.category`,
compared in lower case.

Band (90%), on the logit scale, two independent errors added in variance:
- parameter uncertainty: "blend": the delta method on lambda and r_c (their variances from the fit: lambda
  cluster-robust by question, r_c binomial over the category's effective number of independent events);
  "reliability_table": the interpolated variance of the offset;
- quote noise: the fair value uniform inside the spread (sd = spread / sqrt(12) in probability), carried
  through the model's slope in the mid.
Both bounds are logistic(logit(p) -+ z sd): inside (0, 1) and around p.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from engine.brains.base import BrainInput
from engine.brains.calibrated import (
    Z90,
    book_quote,
    clip,
    load_params,
    logistic,
    logit,
    numeric_slope,
    provenance,
    quote_noise_var,
    squash,
)
from engine.domain import Estimate

ALL = "all"


def interp(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear through (xs, ys), flat beyond the ends (as numpy.interp)."""
    if x <= xs[0]:
        return float(ys[0])
    if x >= xs[-1]:
        return float(ys[-1])
    i = bisect_right(xs, x) - 1
    t = (x - xs[i]) / (xs[i + 1] - xs[i])
    return float(ys[i] + t * (ys[i + 1] - ys[i]))


class BaseRateBrain:
    name = "base_rate"
    PARAMS = "base_rate.json"

    def __init__(self, *, params: Mapping[str, Any] | None = None, z: float = Z90) -> None:
        p = dict(load_params(self.PARAMS) if params is None else params)
        self.z = z
        self.kind = str(p["model"])
        if self.kind == "blend":
            self.lam = float(p["lambda"])
            self.lam_var = float(p["lambda_var"])
            self.rates = {str(c).lower(): float(r) for c, r in p["category_rate"].items()}
            self.rate_vars = {str(c).lower(): float(v) for c, v in p["category_rate_var"].items()}
            self.rates[ALL] = float(p["overall_rate"])
            self.rate_vars[ALL] = float(p["overall_rate_var"])
            self.categories = set(self.rates) - {ALL}
        elif self.kind == "reliability_table":
            self.centres = [float(v) for v in p["centres_logit_mid"]]
            if any(b <= a for a, b in zip(self.centres, self.centres[1:], strict=False)):
                raise ValueError(f"{self.PARAMS}: bucket centres must increase")
            self.tables = {
                str(c).lower(): ([float(v) for v in t["offset"]], [float(v) for v in t["offset_var"]])
                for c, t in p["tables"].items()
            }
            if ALL not in self.tables:
                raise ValueError(f"{self.PARAMS}: no '{ALL}' table")
            self.categories = set(self.tables) - {ALL}
        else:
            raise ValueError(f"{self.PARAMS}: unknown model {self.kind!r}")
        self.provenance = provenance(self.PARAMS, p, params is None, p.get("cv_chosen", {}).get(ALL, {}))

    def table_key(self, category: str) -> str:
        c = (category or "").strip().lower()
        return c if c in self.categories else ALL

    def p(self, mid: float, category: str) -> float:
        """The model on a raw mid (clipped as in the fit) for this category."""
        return self._p_var(clip(mid), self.table_key(category))[0]

    def _p_var(self, mid: float, key: str) -> tuple[float, float]:
        """(p, parameter variance of p in probability units) for a clipped mid."""
        if self.kind == "blend":
            r, var_r = self.rates[key], self.rate_vars[key]
            p = (1 - self.lam) * mid + self.lam * r
            return p, (r - mid) ** 2 * self.lam_var + self.lam**2 * var_r
        offsets, offset_vars = self.tables[key]
        x = logit(mid)
        p = logistic(x + interp(x, self.centres, offsets))
        var_logit = max(interp(x, self.centres, offset_vars), 0.0)
        return p, var_logit * (p * (1 - p)) ** 2

    def estimate(self, data: BrainInput) -> Estimate:
        bid, ask = book_quote(data.book)
        raw_mid = (bid + ask) / 2
        mid = clip(raw_mid)
        spread = ask - bid
        key = self.table_key(data.market.category)
        p_raw, var_p = self._p_var(mid, key)
        p = squash(p_raw)
        eta = logit(p)
        slope = numeric_slope(lambda m: logit(squash(self._p_var(m, key)[0])), mid)
        d_logit = 1.0 / (p * (1 - p))  # probability -> logit scale
        var_params = var_p * d_logit**2
        var_quote = quote_noise_var(slope, spread)
        sd = math.sqrt(var_params + var_quote)
        features: dict[str, float] = {
            "bid": bid,
            "ask": ask,
            "mid": raw_mid,
            "mid_used": mid,
            "spread": spread,
            "category_known": 1.0 if key != ALL else 0.0,
            "slope_eta_per_mid": slope,
            "sd_logit_params": math.sqrt(var_params),
            "sd_logit_quote": math.sqrt(var_quote),
            **self.provenance,
        }
        if self.kind == "blend":
            features.update({"lambda": self.lam, "category_rate": self.rates[key]})
        else:
            x = logit(mid)
            features["offset_logit"] = interp(x, self.centres, self.tables[key][0])
        return Estimate(
            brain=self.name,
            p_hat=p,
            ci_low=min(p, squash(logistic(eta - self.z * sd))),
            ci_high=max(p, squash(logistic(eta + self.z * sd))),
            features=features,
        )


__all__ = ["BaseRateBrain"]
