"""Fit the two fitted brains (`calibrated`, `base_rate`) on labelled Polymarket quotes and write their params.

    .venv/bin/python tools/fit_brains.py                      # fit, print the CV table, write the params
    .venv/bin/python tools/fit_brains.py --dry-run            # fit and print only
    .venv/bin/python tools/fit_brains.py --data-dir DIR --out-dir DIR --folds 5

Input (default /work/shared/data/calibration-dinesh): `quotes.csv.gz` (ts ms, slug, category, bid, ask,
segment) and `labels.csv.gz` (slug, y, question, category). Every market of the data set is polled at the
same `ts` (one poll every ~2 minutes), so the outcomes of one event (one `question`) quoted at the same `ts`
are one snapshot of that event: the event features are computed per (question, ts).

Features per quote (the brains compute the same ones from a live book):
- mid = (bid + ask) / 2 clipped to [0.005, 0.995]; logit_mid = logit(mid); spread = ask - bid;
- event_multi = 1 when at least two outcomes of the event are quoted at this ts (else every event_* is 0);
  event_shift = logit(clip(mid / S)) - logit(mid), S = the sum of those outcomes' mids (the normalisation);
  event_log_sum = log(S) (the overround); event_multi_x_logit_mid = event_multi * logit(mid) (the curve's
  own slope inside multi-outcome events).
Caveat on "event": the question text groups the outcomes of one event (a tournament winner, a draft pick),
but also one proposition repeated over several games (a series' spreads and totals, a player's props). The
fit uses the question, as the data set defines events; a sensitivity line re-runs the chosen model with
events = (question, date in the slug).
Time to resolution is NOT a feature: the data holds no end time per market, and a market's last quote is
where the 27.5-hour collection window (or the listing) stopped, not its resolution.

Weighting: each market counts once (rows weighted 1 / quotes of the market). Cross-validation: K folds of
whole questions (every outcome of an event and every quote of a market in the same fold), assigned after a
seeded shuffle, largest questions first into the lightest fold. Scores out of sample: Brier and log loss of
the model and of the mid, Brier skill = 1 - Brier_model / Brier_mid, (a) on every quote weighted per market
and (b) on each market's last quote, overall and per category.

`calibrated`: a logistic regression (Newton/IRLS in numpy) of the outcome on candidate feature sets. Starting
from the simplest (intercept + logit of the mid: the favourite-longshot curve), a richer set (in order of
size) replaces the current choice only if its out-of-sample Brier is lower on BOTH scorings; the chosen model
is also cross-validated under other fold seeds, and each skill gets a 90% interval by bootstrap over questions
(out-of-sample predictions held fixed). The shipped covariance is cluster-robust (sandwich, clustered by question),
so the brain's band reflects how few independent events the fit really saw.

`base_rate`: a reliability table per category: by mid bucket, the per-market-weighted YES rate, smoothed
toward the bucket's mean mid (pseudo-count m) for the all-category table and toward the all-category
correction for each category (pseudo-count k); stored as a logit offset interpolated over bucket centres.
Also tried: the category's base rate blended with the mid. The best configuration out of sample ships.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path("/work/shared/data/calibration-dinesh")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "engine" / "brains" / "params"
PARAMS_VERSION = 1
SEED = 20260711
MID_LO, MID_HI = 0.005, 0.995
P_EPS = 1e-6  # log loss clip

FEATURES = (
    "const",
    "logit_mid",
    "spread",
    "spread_x_logit_mid",
    "event_multi",
    "event_shift",
    "event_log_sum",
    "event_multi_x_logit_mid",
)
SIMPLE = "logit"
_EVENT_NORM = ("event_multi", "event_shift", "event_log_sum")  # the normalisation mid / S, and the overround
_EVENT_CURVE = (
    "event_multi",
    "event_log_sum",
    "event_multi_x_logit_mid",
)  # own curve for multi-outcome events
_SPREAD = ("spread", "spread_x_logit_mid")
CANDIDATES: dict[str, tuple[str, ...]] = {
    SIMPLE: ("const", "logit_mid"),
    "logit+spread": ("const", "logit_mid", *_SPREAD),
    "logit+event": ("const", "logit_mid", *_EVENT_NORM),
    "logit+event_curve": ("const", "logit_mid", *_EVENT_CURVE),
    "logit+spread+event": ("const", "logit_mid", *_SPREAD, *_EVENT_NORM),
    "logit+spread+event_curve": ("const", "logit_mid", *_SPREAD, *_EVENT_CURVE),
}
ROBUSTNESS_SEEDS = (
    1,
    2,
    3,
)  # other fold assignments, to show the chosen model's gain is not one split's luck
# base_rate configurations: bucket edges on the mid scale, pseudo-counts m (toward the mid) and k (toward all).
BUCKETS: dict[str, tuple[float, ...]] = {
    "coarse": (0.0, 0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95, 1.0),
    "fine": (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0),
}
M_GRID = (25.0, 400.0, 1600.0)
K_GRID = (10.0, 200.0)


# --- data --------------------------------------------------------------------------------------------------
@dataclass
class Data:
    ts: np.ndarray  # int64 ms
    bid: np.ndarray
    ask: np.ndarray
    market: np.ndarray  # index into slugs
    question: np.ndarray  # index into questions (per row)
    category: np.ndarray  # index into categories (per row)
    y: np.ndarray  # float 0/1 per row
    slugs: list[str]
    questions: list[str]
    categories: list[str]
    quotes_sha256: str
    labels_sha256: str


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _open(path: Path):
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")  # noqa: SIM115


def load(quotes_path: Path, labels_path: Path) -> Data:
    with _open(labels_path) as f:
        labels = {r["slug"]: r for r in csv.DictReader(f)}
    ts: list[int] = []
    bid: list[float] = []
    ask: list[float] = []
    slug_of_row: list[str] = []
    with _open(quotes_path) as f:
        reader = csv.reader(f)
        header = next(reader)
        i_ts, i_slug, i_bid, i_ask = (header.index(c) for c in ("ts", "slug", "bid", "ask"))
        for row in reader:
            if row[i_slug] not in labels:
                continue
            ts.append(int(row[i_ts]))
            slug_of_row.append(row[i_slug])
            bid.append(float(row[i_bid]))
            ask.append(float(row[i_ask]))
    slugs = sorted(set(slug_of_row))
    questions = sorted({labels[s]["question"] for s in slugs})
    categories = sorted({labels[s]["category"] or "unknown" for s in slugs})
    s_idx = {s: i for i, s in enumerate(slugs)}
    q_idx = {q: i for i, q in enumerate(questions)}
    c_idx = {c: i for i, c in enumerate(categories)}
    m_q = np.array([q_idx[labels[s]["question"]] for s in slugs], dtype=np.int64)
    m_c = np.array([c_idx[labels[s]["category"] or "unknown"] for s in slugs], dtype=np.int64)
    m_y = np.array([float(labels[s]["y"]) for s in slugs])
    market = np.array([s_idx[s] for s in slug_of_row], dtype=np.int64)
    ts_a = np.array(ts, dtype=np.int64)
    order = np.lexsort((ts_a, market))  # sorted by market, then time: independent of the file's row order
    market = market[order]
    return Data(
        ts=ts_a[order],
        bid=np.array(bid)[order],
        ask=np.array(ask)[order],
        market=market,
        question=m_q[market],
        category=m_c[market],
        y=m_y[market],
        slugs=slugs,
        questions=questions,
        categories=categories,
        quotes_sha256=sha256(quotes_path),
        labels_sha256=sha256(labels_path),
    )


# --- features ----------------------------------------------------------------------------------------------
def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def event_features(d: Data, mid: np.ndarray, group: np.ndarray) -> dict[str, np.ndarray]:
    """Event snapshot: the outcomes of one event (same `group`) quoted at the same poll ts."""
    x = logit(mid)
    _, ts_i = np.unique(d.ts, return_inverse=True)
    key = group * (int(ts_i.max()) + 1) + ts_i
    _, key_i = np.unique(key, return_inverse=True)
    k = np.bincount(key_i)[key_i]
    s = np.bincount(key_i, weights=mid)[key_i]
    multi = (k >= 2).astype(float)
    return {
        "event_k": k.astype(float),
        "event_sum": s,
        "event_multi": multi,
        "event_shift": np.where(k >= 2, logit(np.clip(mid / s, MID_LO, MID_HI)) - x, 0.0),
        "event_log_sum": np.where(k >= 2, np.log(s), 0.0),
        "event_multi_x_logit_mid": multi * x,
    }


def features(d: Data) -> dict[str, np.ndarray]:
    mid = np.clip((d.bid + d.ask) / 2, MID_LO, MID_HI)
    x = logit(mid)
    spread = d.ask - d.bid
    return {
        "mid": mid,
        "spread": spread,
        "const": np.ones_like(mid),
        "logit_mid": x,
        "spread_x_logit_mid": spread * x,
        **event_features(d, mid, d.question),
    }


def question_date_groups(d: Data) -> np.ndarray:
    """Per row: (question, the first YYYY-MM-DD in the slug) as one group. A sensitivity check only: many
    questions repeat one proposition over several games (a series' spreads and totals, a player's props),
    which share the question text but are not outcomes of one event."""
    dates = [re.search(r"20\d\d-\d\d-\d\d", s) for s in d.slugs]
    key = [
        f"{d.questions[q]}|{m.group(0) if m else ''}"
        for q, m in zip(d.question[last_quote_mask(d)], dates, strict=True)
    ]
    _, per_market = np.unique(np.array(key), return_inverse=True)
    return per_market[d.market]


def market_weights(d: Data) -> np.ndarray:
    n = np.bincount(d.market)
    return 1.0 / n[d.market]


def last_quote_mask(d: Data) -> np.ndarray:
    """Each market's last row (rows are sorted by market, then ts)."""
    last = np.ones(len(d.market), dtype=bool)
    last[:-1] = d.market[1:] != d.market[:-1]
    return last


# --- folds -------------------------------------------------------------------------------------------------
def question_folds(d: Data, k: int, seed: int) -> np.ndarray:
    """Fold of every row: whole questions per fold, balanced by market count (GroupKFold-style)."""
    n_q = len(d.questions)
    markets_per_q = np.bincount(d.question[last_quote_mask(d)], minlength=n_q)
    perm = np.random.default_rng(seed).permutation(n_q)
    order = perm[np.argsort(-markets_per_q[perm], kind="stable")]
    load_ = np.zeros(k)
    fold_of_q = np.zeros(n_q, dtype=np.int64)
    for q in order:
        f = int(np.argmin(load_))
        fold_of_q[q] = f
        load_[f] += markets_per_q[q]
    return fold_of_q[d.question]


# --- logistic regression -----------------------------------------------------------------------------------
def fit_logistic(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton steps with step halving. Returns (beta, Hessian)."""
    n_feat = X.shape[1]
    pen = np.full(n_feat, ridge)
    pen[0] = 0.0

    def loss(b: np.ndarray) -> float:
        eta = X @ b
        return float(np.sum(w * (np.logaddexp(0, eta) - y * eta)) + 0.5 * np.sum(pen * b * b))

    beta = np.zeros(n_feat)
    cur = loss(beta)
    H = np.eye(n_feat)
    for _ in range(100):
        p = sigmoid(X @ beta)
        g = X.T @ (w * (y - p)) - pen * beta
        H = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(pen)
        step = np.linalg.solve(H, g)
        t = 1.0
        while True:
            new = loss(beta + t * step)
            if new <= cur + 1e-12 or t < 1e-8:
                break
            t /= 2
        beta = beta + t * step
        done = abs(cur - new) < 1e-12 * max(1.0, abs(cur)) or np.max(np.abs(t * step)) < 1e-10
        cur = new
        if done:
            break
    p = sigmoid(X @ beta)
    H = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(pen)
    return beta, H


def cluster_cov(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray, H: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """Sandwich covariance clustered by `groups` (questions), with the G/(G-1) small-sample factor."""
    score = X * (w * (y - sigmoid(X @ beta)))[:, None]
    _, gi = np.unique(groups, return_inverse=True)
    n_g = int(gi.max()) + 1
    sums = np.zeros((n_g, X.shape[1]))
    np.add.at(sums, gi, score)
    meat = sums.T @ sums * (n_g / max(n_g - 1, 1))
    h_inv = np.linalg.inv(H)
    cov = h_inv @ meat @ h_inv
    return (cov + cov.T) / 2


def design(feats: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([feats[n] for n in names])


# --- base-rate table ---------------------------------------------------------------------------------------
def fit_table(
    mid: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    cat: np.ndarray,
    question: np.ndarray,
    n_cat: int,
    edges: tuple[float, ...],
    m: float,
    k: float,
) -> dict[str, Any]:
    """Smoothed reliability table: per bucket a logit offset to add to logit(mid), per category and 'all'."""
    e = np.asarray(edges)
    b = np.clip(np.searchsorted(e, mid, side="right") - 1, 0, len(e) - 2)
    n_b = len(e) - 1
    W = np.bincount(b, weights=w, minlength=n_b)
    WY = np.bincount(b, weights=w * y, minlength=n_b)
    WM = np.bincount(b, weights=w * mid, minlength=n_b)
    keep = W > 0
    mbar = np.where(keep, WM / np.where(keep, W, 1), 0.5)
    r_all = (WY + m * mbar) / (W + m)
    d_all = logit(np.clip(r_all, P_EPS, 1 - P_EPS)) - logit(np.clip(mbar, P_EPS, 1 - P_EPS))
    # Effective number of independent events per bucket: Kish's n_eff over question-level weights.
    _, qi = np.unique(question, return_inverse=True)
    n_q = int(qi.max()) + 1 if len(qi) else 1
    wq = np.bincount(b * n_q + qi, weights=w, minlength=n_b * n_q).reshape(n_b, n_q)
    n_eff_all = np.where(keep, W**2 / np.maximum((wq**2).sum(axis=1), 1e-300), 0.0)
    var_all = 1.0 / ((n_eff_all + m) * np.clip(r_all * (1 - r_all), 1e-4, None))
    tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c in range(n_cat):
        sel = cat == c
        Wc = np.bincount(b[sel], weights=w[sel], minlength=n_b)
        WYc = np.bincount(b[sel], weights=w[sel] * y[sel], minlength=n_b)
        WMc = np.bincount(b[sel], weights=w[sel] * mid[sel], minlength=n_b)
        mc = np.where(Wc > 0, WMc / np.where(Wc > 0, Wc, 1), mbar)
        mc = np.clip(mc, P_EPS, 1 - P_EPS)
        prior = sigmoid(logit(mc) + d_all)
        rc = (WYc + k * prior) / (Wc + k)
        dc = logit(np.clip(rc, P_EPS, 1 - P_EPS)) - logit(mc)
        wqc = np.bincount(b[sel] * n_q + qi[sel], weights=w[sel], minlength=n_b * n_q).reshape(n_b, n_q)
        n_eff_c = np.where(Wc > 0, Wc**2 / np.maximum((wqc**2).sum(axis=1), 1e-300), 0.0)
        # The prior carries the all-category precision, discounted to k pseudo-events.
        var_c = 1.0 / ((n_eff_c + np.minimum(k, n_eff_all + m)) * np.clip(rc * (1 - rc), 1e-4, None))
        tables[c] = (dc[keep], var_c[keep])
    return {
        "centres": logit(np.clip(mbar[keep], P_EPS, 1 - P_EPS)),
        "all": (d_all[keep], var_all[keep]),
        "by_cat": tables,
        "n_eff_all": n_eff_all[keep],
    }


def apply_table(table: dict[str, Any], mid: np.ndarray, cat: np.ndarray | None) -> np.ndarray:
    x = logit(mid)
    c = table["centres"]
    if cat is None:
        return sigmoid(x + np.interp(x, c, table["all"][0]))
    off = np.empty_like(x)
    for ci, (dc, _) in table["by_cat"].items():
        sel = cat == ci
        off[sel] = np.interp(x[sel], c, dc)
    return sigmoid(x + off)


def fit_blend(
    mid: np.ndarray, y: np.ndarray, w: np.ndarray, cat: np.ndarray, question: np.ndarray, n_cat: int, k: float
) -> dict[str, Any]:
    """The category's base rate (shrunk toward the overall rate) blended with the mid by one weight lambda
    (least squares, i.e. minimum Brier). Variances: lambda cluster-robust by question; each base rate
    binomial over its effective number of independent events (Kish, by question) plus k."""
    overall = float(np.sum(w * y) / np.sum(w))
    W = np.bincount(cat, weights=w, minlength=n_cat)
    WY = np.bincount(cat, weights=w * y, minlength=n_cat)
    base = (WY + k * overall) / (W + k)
    dlt = base[cat] - mid
    sxx = max(float(np.sum(w * dlt * dlt)), 1e-300)
    lam = float(np.clip(np.sum(w * (y - mid) * dlt) / sxx, 0.0, 1.0))
    resid = y - mid - lam * dlt
    _, qi = np.unique(question, return_inverse=True)
    g = int(qi.max()) + 1
    per_q = np.bincount(qi, weights=w * dlt * resid, minlength=g)
    var_lam = float(np.sum(per_q**2) / sxx**2 * g / max(g - 1, 1))
    wq = np.bincount(cat * g + qi, weights=w, minlength=n_cat * g).reshape(n_cat, g)
    n_eff = np.where(W > 0, W**2 / np.maximum((wq**2).sum(axis=1), 1e-300), 0.0)
    var_base = base * (1 - base) / (n_eff + k)
    wq_all = np.bincount(qi, weights=w, minlength=g)
    var_overall = overall * (1 - overall) / max(float(np.sum(w) ** 2 / np.sum(wq_all**2)), 1.0)
    return {
        "base": base,
        "lambda": lam,
        "overall": overall,
        "var_lambda": var_lam,
        "var_base": var_base,
        "var_overall": var_overall,
    }


def apply_blend(blend: dict[str, Any], mid: np.ndarray, cat: np.ndarray) -> np.ndarray:
    return (1 - blend["lambda"]) * mid + blend["lambda"] * blend["base"][cat]


# --- scoring -----------------------------------------------------------------------------------------------
def scores(p: np.ndarray, mid: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, float]:
    sw = float(np.sum(w))
    if sw <= 0:
        return {"n": 0.0}
    pc = np.clip(p, P_EPS, 1 - P_EPS)
    mc = np.clip(mid, P_EPS, 1 - P_EPS)
    b_model = float(np.sum(w * (p - y) ** 2) / sw)
    b_mid = float(np.sum(w * (mid - y) ** 2) / sw)
    ll_model = float(-np.sum(w * (y * np.log(pc) + (1 - y) * np.log1p(-pc))) / sw)
    ll_mid = float(-np.sum(w * (y * np.log(mc) + (1 - y) * np.log1p(-mc))) / sw)
    return {
        "n": sw,
        "brier_model": b_model,
        "brier_mid": b_mid,
        "brier_skill": 1 - b_model / b_mid if b_mid > 0 else 0.0,
        "logloss_model": ll_model,
        "logloss_mid": ll_mid,
        "logloss_skill": 1 - ll_model / ll_mid if ll_mid > 0 else 0.0,
    }


def skill_ci(
    p: np.ndarray,
    mid: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    question: np.ndarray,
    seed: int = SEED,
    n_boot: int = 400,
) -> list[float]:
    """90% interval of the Brier skill by a bootstrap over questions (the independent units)."""
    if len(p) == 0:
        return [0.0, 0.0]
    _, qi = np.unique(question, return_inverse=True)
    g = int(qi.max()) + 1
    a = np.bincount(qi, weights=w * (p - y) ** 2, minlength=g)
    b = np.bincount(qi, weights=w * (mid - y) ** 2, minlength=g)
    counts = np.random.default_rng(seed).multinomial(g, np.full(g, 1.0 / g), size=n_boot)
    den = counts @ b
    skill = 1 - (counts @ a) / np.where(den > 0, den, 1.0)
    lo, hi = np.percentile(skill, [5, 95])
    return [float(lo), float(hi)]


def score_table(d: Data, p: np.ndarray, mid: np.ndarray, w: np.ndarray, last: np.ndarray) -> dict[str, Any]:
    """(a) every quote weighted per market and (b) each market's last quote; overall and per category."""
    out: dict[str, Any] = {}
    for scope, sel in [("all", np.ones(len(p), dtype=bool))] + [
        (c, d.category == i) for i, c in enumerate(d.categories)
    ]:
        sl = sel & last
        ones = np.ones(int(np.sum(sl)))
        every = scores(p[sel], mid[sel], d.y[sel], w[sel])
        every["brier_skill_ci90"] = skill_ci(p[sel], mid[sel], d.y[sel], w[sel], d.question[sel])
        final = scores(p[sl], mid[sl], d.y[sl], ones)
        final["brier_skill_ci90"] = skill_ci(p[sl], mid[sl], d.y[sl], ones, d.question[sl])
        out[scope] = {
            "every_quote": every,
            "last_quote": final,
            "markets": int(np.sum(sl)),
            "questions": len(np.unique(d.question[sel])),
        }
    return out


def _r6(v: Any) -> Any:
    """Round floats for the JSON (stable text across platforms)."""
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, dict):
        return {k: _r6(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_r6(x) for x in v]
    return v


# --- the fit -----------------------------------------------------------------------------------------------
def fit(
    quotes_path: Path, labels_path: Path, *, folds: int = 5, seed: int = SEED, log: Any = None
) -> dict[str, Any]:
    """Fit both brains; returns {'calibrated': params, 'base_rate': params, 'report': text}. Deterministic."""
    say = log or (lambda _msg: None)
    d = load(quotes_path, labels_path)
    f = features(d)
    w = market_weights(d)
    last = last_quote_mask(d)
    fold = question_folds(d, folds, seed)
    mid = f["mid"]
    say(
        f"loaded {len(d.ts):,} quotes, {len(d.slugs):,} markets, {len(d.questions):,} questions, "
        f"{len(np.unique(d.ts))} polls"
    )

    # calibrated: CV every candidate on the same folds
    def oos_logistic(cols: tuple[str, ...], fold_of_row: np.ndarray) -> np.ndarray:
        X = design(f, cols)
        oos = np.empty(len(mid))
        for k in range(folds):
            tr, te = fold_of_row != k, fold_of_row == k
            beta, _ = fit_logistic(X[tr], d.y[tr], w[tr])
            oos[te] = sigmoid(X[te] @ beta)
        return oos

    cv: dict[str, dict[str, Any]] = {}
    for name, cols in CANDIDATES.items():
        cv[name] = score_table(d, oos_logistic(cols, fold), mid, w, last)
        say(
            f"  calibrated {name:<20} skill every-quote {cv[name]['all']['every_quote']['brier_skill']:+.4f}"
            f"  last-quote {cv[name]['all']['last_quote']['brier_skill']:+.4f}"
        )

    def brier(name: str, scoring: str) -> float:
        return cv[name]["all"][scoring]["brier_model"]

    # Parsimony: start from the simple curve; a richer feature set (in order of size) replaces the current
    # choice only if it beats it out of sample on BOTH scorings (every quote and each market's last quote).
    chosen, steps = SIMPLE, []
    for name in sorted(CANDIDATES, key=lambda n: (len(CANDIDATES[n]), n)):
        if name == SIMPLE:
            continue
        wins = all(brier(name, s) < brier(chosen, s) for s in ("every_quote", "last_quote"))
        steps.append(f"{name} vs {chosen}: {'better on both scorings' if wins else 'not better on both'}")
        if wins:
            chosen = name
    cols = CANDIDATES[chosen]
    robustness = {}
    for rs in ROBUSTNESS_SEEDS:
        other = question_folds(d, folds, rs)
        robustness[f"seed {rs}"] = {
            name: {
                "every_quote": scores(p, mid, d.y, w)["brier_skill"],
                "last_quote": scores(p[last], mid[last], d.y[last], np.ones(int(np.sum(last))))[
                    "brier_skill"
                ],
            }
            for name in dict.fromkeys((SIMPLE, chosen))
            for p in [oos_logistic(CANDIDATES[name], other)]
        }
    # Sensitivity: the chosen model with events = (question, date in the slug) instead of the question.
    alt = {**f, **event_features(d, mid, question_date_groups(d))}
    X_alt = design(alt, cols)
    p_alt = np.empty(len(mid))
    for k in range(folds):
        tr, te = fold != k, fold == k
        b_alt, _ = fit_logistic(X_alt[tr], d.y[tr], w[tr])
        p_alt[te] = sigmoid(X_alt[te] @ b_alt)
    b_alt, _ = fit_logistic(X_alt, d.y, w)
    event_by_question_date = {
        "every_quote": scores(p_alt, mid, d.y, w)["brier_skill"],
        "last_quote": scores(p_alt[last], mid[last], d.y[last], np.ones(int(np.sum(last))))["brier_skill"],
        "coefficients": {c: float(b) for c, b in zip(cols, b_alt, strict=True)},
    }
    X = design(f, cols)
    beta, H = fit_logistic(X, d.y, w)
    cov = cluster_cov(X, d.y, w, beta, H, d.question)
    calibrated = {
        "brain": "calibrated",
        "params_version": PARAMS_VERSION,
        "model": "logistic",
        "chosen": chosen,
        "why": "forward by size from '"
        + SIMPLE
        + "', a richer set is taken only if its out-of-sample Brier is "
        "lower on both scorings: " + "; ".join(steps),
        "features": list(cols),
        "coefficients": {c: float(b) for c, b in zip(cols, beta, strict=True)},
        "covariance": [[float(v) for v in row] for row in cov],
        "covariance_kind": "cluster-robust sandwich, clustered by question (G/(G-1))",
        "feature_defs": _feature_defs(),
        "cv": {n: cv[n] for n in CANDIDATES},
        "cv_other_fold_seeds": robustness,
        "cv_events_by_question_and_slug_date": event_by_question_date,
    }

    # base_rate: table configurations and the blend
    br_cv: dict[str, dict[str, Any]] = {}
    n_cat = len(d.categories)
    configs: list[tuple[str, dict[str, Any]]] = []
    for bname in BUCKETS:
        for m in M_GRID:
            for k_ in K_GRID:
                configs.append(
                    (f"table/{bname}/m={m:g}/k={k_:g}", {"kind": "table", "buckets": bname, "m": m, "k": k_})
                )
    for k_ in K_GRID:
        configs.append((f"blend/k={k_:g}", {"kind": "blend", "k": k_}))
    for cname, cfg in configs:
        oos = np.empty(len(mid))
        for k in range(folds):
            tr, te = fold != k, fold == k
            if cfg["kind"] == "table":
                t = fit_table(
                    mid[tr],
                    d.y[tr],
                    w[tr],
                    d.category[tr],
                    d.question[tr],
                    n_cat,
                    BUCKETS[cfg["buckets"]],
                    cfg["m"],
                    cfg["k"],
                )
                oos[te] = apply_table(t, mid[te], d.category[te])
            else:
                b_ = fit_blend(mid[tr], d.y[tr], w[tr], d.category[tr], d.question[tr], n_cat, cfg["k"])
                oos[te] = apply_blend(b_, mid[te], d.category[te])
        br_cv[cname] = score_table(d, oos, mid, w, last)
        say(
            f"  base_rate  {cname:<28} skill every-quote {br_cv[cname]['all']['every_quote']['brier_skill']:+.4f}"
            f"  last-quote {br_cv[cname]['all']['last_quote']['brier_skill']:+.4f}"
        )
    br_choice = min(br_cv, key=lambda n: (br_cv[n]["all"]["every_quote"]["brier_model"], n))
    cfg = dict(configs)[br_choice]
    base_rate: dict[str, Any] = {
        "brain": "base_rate",
        "params_version": PARAMS_VERSION,
        "chosen": br_choice,
        "why": "lowest out-of-sample Brier on every quote (weighted per market) among the configurations tried",
        "configurations_tried": [c for c, _ in configs],
        "config": cfg,
        "cv_chosen": br_cv[br_choice],
        "cv_summary": {
            n: {s: br_cv[n]["all"][s]["brier_skill"] for s in ("every_quote", "last_quote")} for n in br_cv
        },
    }
    if cfg["kind"] == "table":
        t = fit_table(mid, d.y, w, d.category, d.question, n_cat, BUCKETS[cfg["buckets"]], cfg["m"], cfg["k"])
        base_rate["model"] = "reliability_table"
        base_rate["bucket_edges"] = list(BUCKETS[cfg["buckets"]])
        base_rate["centres_logit_mid"] = [float(v) for v in t["centres"]]
        base_rate["tables"] = {
            "all": {"offset": [float(v) for v in t["all"][0]], "offset_var": [float(v) for v in t["all"][1]]}
        }
        for ci, c in enumerate(d.categories):
            dc, vc = t["by_cat"][ci]
            base_rate["tables"][c] = {"offset": [float(v) for v in dc], "offset_var": [float(v) for v in vc]}
        base_rate["n_eff_events_per_bucket"] = [float(v) for v in t["n_eff_all"]]
    else:
        b_ = fit_blend(mid, d.y, w, d.category, d.question, n_cat, cfg["k"])
        base_rate["model"] = "blend"
        base_rate["lambda"] = b_["lambda"]
        base_rate["lambda_var"] = b_["var_lambda"]
        base_rate["overall_rate"] = b_["overall"]
        base_rate["overall_rate_var"] = b_["var_overall"]
        base_rate["category_rate"] = {c: float(b_["base"][i]) for i, c in enumerate(d.categories)}
        base_rate["category_rate_var"] = {c: float(b_["var_base"][i]) for i, c in enumerate(d.categories)}
    base_rate["markets_per_category"] = {
        c: int(np.sum(last & (d.category == i))) for i, c in enumerate(d.categories)
    }

    common = {
        "data": {
            "quotes": quotes_path.name,
            "quotes_sha256": d.quotes_sha256,
            "labels": labels_path.name,
            "labels_sha256": d.labels_sha256,
            "rows": int(len(d.ts)),
            "markets": len(d.slugs),
            "questions": len(d.questions),
            "polls": int(len(np.unique(d.ts))),
        },
        "cv_scheme": f"{folds}-fold by question (seed {seed}); rows weighted 1/quotes of the market",
        "mid_clip": [MID_LO, MID_HI],
        "time_to_resolution": "not used: the data has no end time per market (a market's last quote is where "
        "the collection window stopped, not its resolution)",
    }
    calibrated.update(common)
    base_rate.update(common)
    report = render(calibrated, base_rate, d.categories)
    return {"calibrated": _r6(calibrated), "base_rate": _r6(base_rate), "report": report}


def _feature_defs() -> dict[str, str]:
    return {
        "mid": f"(bid + ask) / 2 clipped to [{MID_LO}, {MID_HI}]",
        "const": "1",
        "logit_mid": "log(mid / (1 - mid))",
        "spread": "ask - bid (probability units)",
        "spread_x_logit_mid": "spread * logit_mid",
        "event_multi": "1 if at least two outcomes of the event are quoted (this one included), else 0",
        "event_shift": f"logit(clip(mid / S, {MID_LO}, {MID_HI})) - logit_mid, S = sum of the event's mids "
        "(this one included); 0 without the event",
        "event_log_sum": "log(S); 0 without the event",
        "event_multi_x_logit_mid": "event_multi * logit_mid (a steeper or flatter curve inside multi-outcome events)",
    }


def render(cal: dict[str, Any], br: dict[str, Any], categories: list[str]) -> str:
    lines = []
    hdr = (
        f"{'model':<40}{'scope':<13}{'scoring':<12}{'n':>6}{'Brier':>8}{'mid':>8}{'skill':>8}"
        f"{'90% CI':>17}{'LL':>8}{'LL mid':>8}"
    )
    lines.append(
        "Out-of-sample (cross-validated by question) scores; n = markets (every-quote rows weighted "
        "1/quotes of the market); skill = 1 - Brier/Brier_mid in %, 90% CI by bootstrap over questions"
    )
    lines.append(hdr)
    lines.append("-" * len(hdr))

    def rows(label: str, table: dict[str, Any]) -> None:
        for scope in ["all", *categories]:
            for scoring in ("every_quote", "last_quote"):
                s = table[scope][scoring]
                if not s.get("n"):
                    continue
                lo, hi = s["brier_skill_ci90"]
                ci = f"[{100 * lo:+.2f},{100 * hi:+.2f}]"
                lines.append(
                    f"{label:<40}{scope:<13}{scoring:<12}{s['n']:>6.0f}{s['brier_model']:>8.4f}"
                    f"{s['brier_mid']:>8.4f}{100 * s['brier_skill']:>7.2f}%{ci:>17}{s['logloss_model']:>8.4f}"
                    f"{s['logloss_mid']:>8.4f}"
                )

    for name, table in cal["cv"].items():
        rows(f"calibrated:{name}" + (" *" if name == cal["chosen"] else ""), table)
    rows(f"base_rate:{br['chosen']} *", br["cv_chosen"])
    lines.append("")
    lines.append(f"calibrated ships '{cal['chosen']}': {cal['why']}")
    lines.append("  coefficients: " + ", ".join(f"{k}={v:+.4f}" for k, v in cal["coefficients"].items()))
    se = np.sqrt(np.diag(np.asarray(cal["covariance"])))
    lines.append(
        "  cluster-robust s.e.: "
        + ", ".join(f"{k}={v:.4f}" for k, v in zip(cal["features"], se, strict=True))
    )
    lines.append(
        "  Brier skill with other fold assignments (every quote / last quote): "
        + "; ".join(
            f"{seed}: "
            + ", ".join(
                f"{n} {100 * v['every_quote']:+.2f}%/{100 * v['last_quote']:+.2f}%" for n, v in per.items()
            )
            for seed, per in cal["cv_other_fold_seeds"].items()
        )
    )
    alt = cal["cv_events_by_question_and_slug_date"]
    lines.append(
        f"  events = (question, date in the slug) instead of the question: Brier skill "
        f"{100 * alt['every_quote']:+.2f}%/{100 * alt['last_quote']:+.2f}%, coefficients "
        + ", ".join(f"{k}={v:+.4f}" for k, v in alt["coefficients"].items())
    )
    lines.append(f"base_rate ships '{br['chosen']}': {br['why']}")
    lines.append(
        "  every configuration (Brier skill every quote / last quote): "
        + "; ".join(
            f"{n} {100 * v['every_quote']:+.2f}%/{100 * v['last_quote']:+.2f}%"
            for n, v in br["cv_summary"].items()
        )
    )
    lines.append(f"time to resolution: {cal['time_to_resolution']}")
    return "\n".join(lines)


def write_params(result: dict[str, Any], out_dir: Path, fitted_on: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("calibrated", "base_rate"):
        doc = {"fitted_on": fitted_on, **result[name]}
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--fitted-on", default=dt.date.today().isoformat(), help="date written in the params")
    ap.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    args = ap.parse_args(argv)
    result = fit(
        args.data_dir / "quotes.csv.gz",
        args.data_dir / "labels.csv.gz",
        folds=args.folds,
        seed=args.seed,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(result["report"])
    if not args.dry_run:
        for p in write_params(result, args.out_dir, args.fitted_on):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
