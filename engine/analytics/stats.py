"""Numbers the truth report is made of, vectorised with numpy: returns and their ratios, drawdowns, whether
a mean is below zero beyond chance, distributions, forecast scores and reliability curves.

Conventions (stated once, used everywhere):
- Returns are simple period returns. Prediction markets trade every day of the year, so a daily ratio is
  annualised by sqrt(365) and an hourly one by sqrt(365 x 24).
- Sharpe = mean / sample standard deviation (ddof 1) x sqrt(periods a year); risk-free rate 0 (USDC idle earns
  nothing on the venue). Sortino = mean / downside deviation, the root mean square of min(r, 0) over every
  period, x sqrt(periods a year). Both are None on fewer than 2 returns or no dispersion.
- Calmar = annualised return (mean x periods a year) / |max drawdown|; None without a drawdown.
- Max drawdown is the deepest fall from a running peak of the equity series, as a negative share of the peak;
  its duration runs from that peak until equity first regains it (or the end of the series, unrecovered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
PERIODS_PER_YEAR = {"1d": 365.0, "1h": 365.0 * 24}
_EPS = 1e-9
BOOTSTRAP_MAX_N = 20_000  # above this the t-interval is used: the mean is normal enough and a resample costly
BOOTSTRAP_RESAMPLES = 2_000
Z95 = 1.959963984540054


def period_returns(ts: np.ndarray, equity: np.ndarray, period_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """(period start ts, simple return) per calendar period (UTC) of an equity series in time order: each
    period's last equity against the previous period's last (the first period against the first point).
    Periods with no point are skipped, not filled: a gap is not a flat return."""
    if len(ts) < 2:
        return np.empty(0, np.int64), np.empty(0)
    bucket = ts // period_ms
    last = np.flatnonzero(np.append(bucket[1:] != bucket[:-1], True))
    ends = equity[last]
    starts = np.concatenate(([equity[0]], ends[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(starts != 0, (ends - starts) / np.abs(starts), 0.0)
    return bucket[last] * period_ms, r


def sharpe(r: np.ndarray, periods_per_year: float) -> float | None:
    if len(r) < 2:
        return None
    sd = float(np.std(r, ddof=1))
    if sd <= _EPS:
        return None
    return float(np.mean(r)) / sd * math.sqrt(periods_per_year)


def sortino(r: np.ndarray, periods_per_year: float) -> float | None:
    if len(r) < 2:
        return None
    down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if down <= _EPS:
        return None
    return float(np.mean(r)) / down * math.sqrt(periods_per_year)


@dataclass(frozen=True, slots=True)
class Drawdown:
    max_drawdown: float  # <= 0, share of the peak
    peak_ts: int | None
    trough_ts: int | None
    duration_ms: int  # peak to recovery, or to the end when not recovered
    recovered: bool


def max_drawdown(ts: np.ndarray, equity: np.ndarray) -> Drawdown:
    if len(ts) == 0:
        return Drawdown(0.0, None, None, 0, True)
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0)
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return Drawdown(0.0, None, None, 0, True)
    peak_i = int(np.flatnonzero(equity[: trough + 1] == peak[trough])[-1])
    after = np.flatnonzero(equity[trough:] >= peak[trough])
    recovered = len(after) > 0
    end_i = trough + int(after[0]) if recovered else len(ts) - 1
    return Drawdown(float(dd[trough]), int(ts[peak_i]), int(ts[trough]), int(ts[end_i] - ts[peak_i]), recovered)


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, 0.0)


def calmar(r: np.ndarray, periods_per_year: float, mdd: float) -> float | None:
    if len(r) < 2 or mdd >= 0:
        return None
    return float(np.mean(r)) * periods_per_year / abs(mdd)


@dataclass(frozen=True, slots=True)
class MeanTest:
    """Is the mean below zero beyond chance? The 95% interval of the mean: a bootstrap (seeded, percentile)
    up to BOOTSTRAP_MAX_N values, the t-interval (normal quantile) above; significantly negative when the
    whole interval is below zero."""

    n: int
    mean: float | None
    t_stat: float | None
    ci_low: float | None
    ci_high: float | None
    method: str  # bootstrap | t | none
    significantly_negative: bool | None  # None: too few values to say (fewer than 2)


def mean_test(x: np.ndarray, seed: int = 0) -> MeanTest:
    n = len(x)
    if n < 2:
        return MeanTest(n, float(x[0]) if n else None, None, None, None, "none", None)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1))
    se = sd / math.sqrt(n)
    t = mean / se if se > _EPS else None
    if n <= BOOTSTRAP_MAX_N:
        rng = np.random.default_rng(seed)
        means = np.empty(BOOTSTRAP_RESAMPLES)
        chunk = max(1, 4_000_000 // n)  # resamples per draw, so a draw holds at most ~4M indices
        for i in range(0, BOOTSTRAP_RESAMPLES, chunk):
            k = min(chunk, BOOTSTRAP_RESAMPLES - i)
            means[i : i + k] = x[rng.integers(0, n, size=(k, n))].mean(axis=1)
        low, high = (float(v) for v in np.percentile(means, [2.5, 97.5]))
        method = "bootstrap"
    else:
        low, high = mean - Z95 * se, mean + Z95 * se
        method = "t"
    return MeanTest(n, mean, t, low, high, method, high < 0)


def distribution(x: np.ndarray, edges: np.ndarray) -> dict[str, object]:
    """Mean, median, spread and quantiles, with a histogram over `edges` (values outside go to the end bins)."""
    if len(x) == 0:
        return {"n": 0, "mean": None, "median": None, "std": None, "p05": None, "p25": None, "p75": None,
                "p95": None, "histogram": {"edges": [float(e) for e in edges], "counts": [0] * (len(edges) - 1)}}  # fmt: skip
    q = np.percentile(x, [5, 25, 50, 75, 95])
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)
    return {
        "n": int(len(x)),
        "mean": float(np.mean(x)),
        "median": float(q[2]),
        "std": float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
        "p05": float(q[0]),
        "p25": float(q[1]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def brier(p: np.ndarray, y: np.ndarray) -> float | None:
    return float(np.mean((p - y) ** 2)) if len(p) else None


def log_loss(p: np.ndarray, y: np.ndarray) -> float | None:
    if not len(p):
        return None
    q = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float | int]]:
    """Per non-empty decile of the forecast: mean forecast, observed frequency, count."""
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(idx, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    return [
        {"bin": i, "low": i / bins, "high": (i + 1) / bins, "predicted": float(sum_p[i] / count[i]),
         "observed": float(sum_y[i] / count[i]), "count": int(count[i])}
        for i in range(bins)
        if count[i]
    ]  # fmt: skip


def group_sums_exact(codes: np.ndarray, columns: dict[str, np.ndarray], groups: int) -> list[dict[str, int]]:
    """Exact integer sums of int64 columns per group code in [0, groups): one sort of the codes, then each
    column reduced in int64 when no partial sum can overflow, else in Python integers (money in 1e-10 USDC
    units stays exact either way)."""
    out = [dict.fromkeys(columns, 0) for _ in range(groups)]
    if len(codes) == 0:
        return out
    order = np.argsort(codes, kind="stable")
    c = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
    present = c[starts].tolist()
    for name, values in columns.items():
        v = values[order]
        if float(np.abs(v).astype(np.float64).sum()) < 9.0e18:
            sums = np.add.reduceat(v, starts).tolist()
        else:
            bounds = [*starts.tolist(), len(v)]
            sums = [sum(v[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(starts))]
        for g, total in zip(present, sums, strict=True):
            out[g][name] = int(total)
    return out


def downsample_last(ts: np.ndarray, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `points` (ts, value) pairs: the last value of each equal slice of time (the series' shape for a
    plot, its final value kept)."""
    if len(ts) <= points:
        return ts, values
    span = max(int(ts[-1] - ts[0]), 1)
    bucket = ((ts - ts[0]) * (points - 1) // span).astype(np.int64)
    last = np.flatnonzero(np.append(bucket[1:] != bucket[:-1], True))
    return ts[last], values[last]


__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "PERIODS_PER_YEAR",
    "Drawdown",
    "MeanTest",
    "brier",
    "calmar",
    "distribution",
    "downsample_last",
    "drawdown_series",
    "group_sums_exact",
    "log_loss",
    "max_drawdown",
    "mean_test",
    "period_returns",
    "reliability",
    "sharpe",
    "sortino",
]
