"""The fitted brains (`calibrated`, `base_rate`): their contract, their shipped params, and the fit script.

Expected values are computed here from the JSON coefficients with the formulas of tools/fit_brains.py
(written out again, independently of the brains' code), so a refit that changes the params keeps these tests
meaningful: they check that the brain applies whatever ships.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.book import OrderBook
from engine.brains.base import BrainInput, NoEstimate
from engine.brains.base_rate import BaseRateBrain
from engine.brains.calibrated import CalibratedBrain, load_params
from engine.domain import Estimate, Market
from engine.units import ONE

ROOT = Path(__file__).parents[1]
CAL = load_params("calibrated.json")
BR = load_params("base_rate.json")
LO, HI = CAL["mid_clip"]


def market(category: str = "sports") -> Market:
    return Market(
        condition_id="0x" + "cd" * 32,
        question="Who wins?",
        slug="who-wins",
        yes_token="1",
        no_token="2",
        category=category,
    )


def book(bid: float | None, ask: float | None) -> OrderBook:
    b = OrderBook()
    if bid is not None:
        b.set_bid(round(bid * ONE), 100_000_000)
    if ask is not None:
        b.set_ask(round(ask * ONE), 100_000_000)
    b.touch(1)
    return b


def ask_brain(
    brain: Any,
    bid: float | None,
    ask: float | None,
    *,
    event_mids: tuple[float, ...] = (),
    category: str = "sports",
) -> Estimate:
    return brain.estimate(BrainInput(market(category), book(bid, ask), 1_790_000_000_000, event_mids))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def lg(p: float) -> float:
    return math.log(p / (1 - p))


def clip(p: float) -> float:
    return min(max(p, LO), HI)


# --- the formulas of the fit, written out ------------------------------------------------------------------
def cal_features(mid: float, spread: float, others: tuple[float, ...]) -> dict[str, float]:
    m = clip(mid)
    x = lg(m)
    total = m + sum(clip(o) for o in others)
    multi = len(others) >= 1
    return {
        "const": 1.0,
        "logit_mid": x,
        "spread": spread,
        "spread_x_logit_mid": spread * x,
        "event_multi": float(multi),
        "event_shift": lg(clip(m / total)) - x if multi else 0.0,
        "event_log_sum": math.log(total) if multi else 0.0,
        "event_multi_x_logit_mid": x if multi else 0.0,
    }


def cal_slope(mid: float, spread: float, others: tuple[float, ...]) -> dict[str, float]:
    """d feature / d mid, analytically (mid inside the clip)."""
    m = clip(mid)
    total = m + sum(clip(o) for o in others)
    multi = len(others) >= 1
    dx = 1 / (m * (1 - m))
    u = m / total
    du = (total - m) / total**2
    return {
        "const": 0.0,
        "logit_mid": dx,
        "spread": 0.0,
        "spread_x_logit_mid": spread * dx,
        "event_multi": 0.0,
        "event_shift": (du / (u * (1 - u)) - dx) if multi and LO < u < HI else (-dx if multi else 0.0),
        "event_log_sum": 1 / total if multi else 0.0,
        "event_multi_x_logit_mid": dx if multi else 0.0,
    }


def cal_expected(bid: float, ask: float, others: tuple[float, ...] = ()) -> tuple[float, float, float]:
    """(p, low, high) from the JSON: eta = beta . x; sd^2 = x' Cov x + (slope * spread)^2 / 12."""
    mid, spread = (bid + ask) / 2, ask - bid
    names = CAL["features"]
    beta = [CAL["coefficients"][n] for n in names]
    v = cal_features(mid, spread, others)
    x = [v[n] for n in names]
    eta = sum(b * xi for b, xi in zip(beta, x, strict=True))
    cov = CAL["covariance"]
    var = sum(x[i] * cov[i][j] * x[j] for i in range(len(x)) for j in range(len(x)))
    ds = cal_slope(mid, spread, others)
    slope = sum(b * ds[n] for b, n in zip(beta, names, strict=True))
    sd = math.sqrt(var + (slope * spread) ** 2 / 12)
    z = 1.6448536269514722
    return sigmoid(eta), sigmoid(eta - z * sd), sigmoid(eta + z * sd)


def base_rate_expected(bid: float, ask: float, category: str) -> float:
    m = clip((bid + ask) / 2)
    if BR["model"] == "blend":
        rates = {c.lower(): r for c, r in BR["category_rate"].items()}
        r = rates.get(category.lower(), BR["overall_rate"])
        return (1 - BR["lambda"]) * m + BR["lambda"] * r
    import numpy as np

    table = BR["tables"].get(category.lower(), BR["tables"]["all"])
    x = lg(m)
    return sigmoid(x + float(np.interp(x, BR["centres_logit_mid"], table["offset"])))


# --- the contract ------------------------------------------------------------------------------------------
BOOKS = [
    (0.01, 0.02),
    (0.04, 0.06),
    (0.01, 0.49),
    (0.30, 0.34),
    (0.49, 0.51),
    (0.5, 0.5),
    (0.70, 0.90),
    (0.94, 0.96),
    (0.985, 0.995),
    (0.001, 0.003),
    (0.997, 0.999),
]


@pytest.mark.parametrize("make", [CalibratedBrain, BaseRateBrain], ids=["calibrated", "base_rate"])
@pytest.mark.parametrize(("bid", "ask"), BOOKS)
def test_band_contains_estimate_inside_unit_interval(make: Any, bid: float, ask: float) -> None:
    brain = make()
    for event_mids in ((), (0.3, 0.2), (0.9,), (0.25,) * 18):
        est = ask_brain(brain, bid, ask, event_mids=event_mids)
        assert est.brain == brain.name
        assert 0 < est.ci_low <= est.p_hat <= est.ci_high < 1
        assert est.ci_low < est.ci_high  # never a falsely certain point
        for key in (
            "bid",
            "ask",
            "mid",
            "mid_used",
            "spread",
            "sd_logit_params",
            "sd_logit_quote",
            "params_version",
            "params_fitted_on",
            "params_hash",
            "cv_brier_skill_every_quote",
        ):
            assert key in est.features, key
        assert all(isinstance(v, float) and math.isfinite(v) for v in est.features.values())
        assert est.features["params_version"] >= 1
        assert est.features["mid"] == pytest.approx((bid + ask) / 2)


@pytest.mark.parametrize("make", [CalibratedBrain, BaseRateBrain], ids=["calibrated", "base_rate"])
@pytest.mark.parametrize(
    ("bid", "ask", "code"),
    [(None, None, "NO_BOOK"), (0.40, None, "ONE_SIDED"), (None, 0.60, "ONE_SIDED"), (0.60, 0.40, "CROSSED")],
)
def test_declines_without_a_two_sided_book(
    make: Any, bid: float | None, ask: float | None, code: str
) -> None:
    with pytest.raises(NoEstimate) as exc:
        ask_brain(make(), bid, ask)
    assert exc.value.code == code


def test_an_emptied_book_with_history_is_no_book() -> None:
    b = book(0.40, 0.60)
    b.clear(2)  # the book remembers its last mid, but there is no quote to calibrate
    for brain in (CalibratedBrain(), BaseRateBrain()):
        with pytest.raises(NoEstimate) as exc:
            brain.estimate(BrainInput(market(), b, 0))
        assert exc.value.code == "NO_BOOK"


def test_brain_input_keeps_its_old_construction() -> None:
    data = BrainInput(market(), book(0.4, 0.6), 5)
    assert data.event_mids == ()
    assert CalibratedBrain().estimate(data).p_hat == ask_brain(CalibratedBrain(), 0.4, 0.6).p_hat


# --- the shipped params ------------------------------------------------------------------------------------
def test_params_files_load_and_describe_their_fit() -> None:
    for params, brain in ((CAL, "calibrated"), (BR, "base_rate")):
        assert params["brain"] == brain
        assert params["params_version"] >= 1
        assert len(params["fitted_on"]) == 10
        data = params["data"]
        assert len(data["quotes_sha256"]) == 64 and len(data["labels_sha256"]) == 64
        assert data["markets"] > 0 and data["questions"] > 0
        assert "by question" in params["cv_scheme"]
    names = CAL["features"]
    assert names[0] == "const" and "logit_mid" in names
    assert set(names) <= set(CAL["feature_defs"]) | {"const"}
    assert len(CAL["covariance"]) == len(names)
    for i in range(len(names)):  # a covariance: symmetric, positive variances
        assert CAL["covariance"][i][i] > 0
        for j in range(len(names)):
            assert CAL["covariance"][i][j] == pytest.approx(CAL["covariance"][j][i], rel=1e-4, abs=1e-12)
    chosen = CAL["cv"][CAL["chosen"]]["all"]
    for scoring in ("every_quote", "last_quote"):
        s = chosen[scoring]
        assert s["brier_skill"] == pytest.approx(1 - s["brier_model"] / s["brier_mid"], abs=1e-4)
    assert BR["cv_chosen"]["all"]["every_quote"]["brier_mid"] > 0


@pytest.mark.parametrize("others", [(), (0.5, 0.3), (0.04,), (0.25,) * 18, (0.9, 0.9)])
@pytest.mark.parametrize(
    ("bid", "ask"), [(0.04, 0.06), (0.01, 0.49), (0.45, 0.55), (0.93, 0.97), (0.001, 0.002)]
)
def test_calibrated_applies_the_shipped_formula(bid: float, ask: float, others: tuple[float, ...]) -> None:
    p, low, high = cal_expected(bid, ask, others)
    est = ask_brain(CalibratedBrain(), bid, ask, event_mids=others)
    assert est.p_hat == pytest.approx(p, rel=1e-9, abs=1e-12)
    assert est.ci_low == pytest.approx(low, rel=1e-5, abs=1e-9)
    assert est.ci_high == pytest.approx(high, rel=1e-5, abs=1e-9)
    for n in CAL["features"]:
        assert est.features[f"term.{n}"] == pytest.approx(
            CAL["coefficients"][n] * cal_features((bid + ask) / 2, ask - bid, others)[n], abs=1e-12
        )


def test_calibrated_hand_computed_single_outcome() -> None:
    """A 0.05 mid alone: p = logistic(const + logit_mid * logit(0.05)) with the shipped coefficients."""
    c = CAL["coefficients"]
    if set(CAL["features"]) - {
        "const",
        "logit_mid",
        "event_multi",
        "event_shift",
        "event_log_sum",
        "event_multi_x_logit_mid",
    }:
        pytest.skip(
            "the shipped model uses spread terms; covered by test_calibrated_applies_the_shipped_formula"
        )
    expected = 1 / (1 + math.exp(-(c["const"] + c["logit_mid"] * math.log(0.05 / 0.95))))
    assert CalibratedBrain().p(0.05, 0.02) == pytest.approx(expected, rel=1e-12)


def test_favourite_longshot_direction_is_what_the_params_say() -> None:
    """Inside an event whose prices sum to one, the shipped fit marks longshots down and favourites up (the
    favourite-longshot bias): the curve's slope on logit(mid) there is above one."""
    c = CAL["coefficients"]
    slope_in_event = c["logit_mid"] + c.get("event_multi_x_logit_mid", 0.0)
    assert slope_in_event > 1, "the shipped fit found the favourite-longshot bias inside events"
    brain = CalibratedBrain()
    assert ask_brain(brain, 0.04, 0.06, event_mids=(0.60, 0.35)).p_hat < 0.05
    assert ask_brain(brain, 0.94, 0.96, event_mids=(0.05,)).p_hat > 0.95
    # Single-outcome markets: whatever direction the shipped curve has, the brain follows it.
    for mid in (0.05, 0.95):
        implied = sigmoid(c["const"] + c["logit_mid"] * lg(mid))
        got = ask_brain(brain, mid - 0.01, mid + 0.01).p_hat
        assert got == pytest.approx(implied, rel=1e-9)
        assert (got > mid) == (implied > mid)


def test_band_widens_with_the_spread() -> None:
    for brain in (CalibratedBrain(), BaseRateBrain()):
        narrow = ask_brain(brain, 0.29, 0.31)
        wide = ask_brain(brain, 0.10, 0.50)
        assert wide.features["sd_logit_quote"] > narrow.features["sd_logit_quote"]
        assert lg(wide.ci_high) - lg(wide.ci_low) > lg(narrow.ci_high) - lg(narrow.ci_low)


@pytest.mark.parametrize("category", ["sports", "Sports", "culture", "crypto", ""])
@pytest.mark.parametrize(("bid", "ask"), [(0.04, 0.06), (0.30, 0.40), (0.93, 0.97)])
def test_base_rate_applies_the_shipped_table(category: str, bid: float, ask: float) -> None:
    est = ask_brain(BaseRateBrain(), bid, ask, category=category)
    assert est.p_hat == pytest.approx(base_rate_expected(bid, ask, category), rel=1e-9)
    known = category.lower() in {c.lower() for c in BR.get("category_rate", BR.get("tables", {}))} - {"all"}
    assert est.features["category_known"] == float(known)


def test_base_rate_reliability_table_kind() -> None:
    """The other kind the fit may ship: offsets interpolated in logit(mid), per category, else 'all'."""
    params = {
        "model": "reliability_table",
        "mid_clip": [LO, HI],
        "params_version": 1,
        "centres_logit_mid": [-3.0, 0.0, 3.0],
        "tables": {
            "all": {"offset": [-0.5, 0.0, 0.5], "offset_var": [0.04, 0.01, 0.04]},
            "sports": {"offset": [-1.0, 0.0, 1.0], "offset_var": [0.09, 0.01, 0.09]},
        },
    }
    brain = BaseRateBrain(params=params)
    x = lg(0.10)
    off = -1.0 + (x + 3.0) / 3.0 * 1.0
    est = ask_brain(brain, 0.09, 0.11, category="sports")
    assert est.p_hat == pytest.approx(sigmoid(x + off), rel=1e-12)
    off_all = -0.5 + (x + 3.0) / 3.0 * 0.5
    assert ask_brain(brain, 0.09, 0.11, category="politics").p_hat == pytest.approx(sigmoid(x + off_all))
    assert ask_brain(brain, 0.001, 0.003).p_hat == pytest.approx(
        sigmoid(lg(LO) - 1.0)
    )  # flat beyond the ends
    assert 0 < est.ci_low < est.p_hat < est.ci_high < 1


def test_bad_params_are_refused() -> None:
    bad = dict(
        CAL,
        features=["const", "moon_phase"],
        coefficients={"const": 0.0, "moon_phase": 1.0},
        covariance=[[1.0, 0.0], [0.0, 1.0]],
    )
    with pytest.raises(ValueError, match="unknown features"):
        CalibratedBrain(params=bad)
    with pytest.raises(ValueError, match="mid_clip"):
        CalibratedBrain(params=dict(CAL, mid_clip=[0.01, 0.99]))
    with pytest.raises(ValueError, match="unknown model"):
        BaseRateBrain(params=dict(BR, model="oracle"))


def test_registry_builds_the_fitted_brains() -> None:
    from engine.brains.registry import build_brain

    assert build_brain(["calibrated"], env={}).name == "calibrated"
    assert build_brain(["base_rate"], env={}).name == "base_rate"


# --- the fit script ----------------------------------------------------------------------------------------
def load_fit_module() -> Any:
    spec = importlib.util.spec_from_file_location("fit_brains", ROOT / "tools" / "fit_brains.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_brains"] = module
    spec.loader.exec_module(module)
    return module


def write_synthetic(root: Path, *, shuffle: bool = False) -> Path:
    """Forty questions (single markets and 3-outcome events), 25 polls, quotes around a known curve."""
    rng = random.Random(7)
    root.mkdir(parents=True, exist_ok=True)
    labels, quotes = [], []
    t0 = 1_783_715_146_000
    for q in range(40):
        cat = "sports" if q % 4 else "culture"
        n = 3 if q % 3 == 0 else 1
        probs = [rng.uniform(0.05, 0.95)] if n == 1 else [p / 1.0 for p in (0.6, 0.3, 0.1)]
        winner = rng.choices(range(n), weights=probs)[0] if n > 1 else None
        for j in range(n):
            slug = f"q{q:02d}-o{j}"
            y = int(j == winner) if n > 1 else int(rng.random() < probs[0])
            labels.append([slug, y, f"Question {q}", cat])
            for k in range(25):
                p = min(max(probs[j] + rng.gauss(0, 0.03), 0.01), 0.99)
                half = rng.choice([0.005, 0.01, 0.05])
                bid, ask = round(max(p - half, 0.001), 3), round(min(p + half, 0.999), 3)
                quotes.append([t0 + 122_000 * k, slug, cat, bid, ask, 1])
    if shuffle:
        random.Random(1).shuffle(quotes)
        random.Random(2).shuffle(labels)
    with gzip.open(root / "quotes.csv.gz", "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "slug", "category", "bid", "ask", "segment"])
        w.writerows(quotes)
    with gzip.open(root / "labels.csv.gz", "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(["slug", "y", "question", "category"])
        w.writerows(labels)
    return root


def test_fit_script_is_deterministic(tmp_path: Path) -> None:
    fb = load_fit_module()
    data = write_synthetic(tmp_path / "data")
    runs = [fb.fit(data / "quotes.csv.gz", data / "labels.csv.gz", folds=3) for _ in range(2)]
    assert json.dumps(runs[0], sort_keys=True) == json.dumps(runs[1], sort_keys=True)
    # Sorted inputs: the same rows in another order give the same fit (only the file hashes differ).
    shuffled = write_synthetic(tmp_path / "shuffled", shuffle=True)
    other = fb.fit(shuffled / "quotes.csv.gz", shuffled / "labels.csv.gz", folds=3)
    for name in ("calibrated", "base_rate"):
        a, b = dict(runs[0][name]), dict(other[name])
        a.pop("data"), b.pop("data")
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    # The whole script, twice, writes the same files.
    for out in ("out1", "out2"):
        assert (
            fb.main(
                [
                    "--data-dir",
                    str(data),
                    "--out-dir",
                    str(tmp_path / out),
                    "--folds",
                    "3",
                    "--fitted-on",
                    "2026-07-12",
                ]
            )
            == 0
        )
    for name in ("calibrated.json", "base_rate.json"):
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()
    # What it writes is what the brains read.
    written = json.loads((tmp_path / "out1" / "calibrated.json").read_text())
    est = CalibratedBrain(params=written).estimate(BrainInput(market(), book(0.2, 0.3), 0))
    assert 0 < est.ci_low <= est.p_hat <= est.ci_high < 1
    BaseRateBrain(params=json.loads((tmp_path / "out1" / "base_rate.json").read_text()))
