"""The market maker's scorer: each veto on both sides of its threshold, their order, the score's shape, and
the active set (quotable only, best first; a toxic market stays out whatever its score)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.strategies import quoteability as q
from engine.strategies.quoteability import MarketFacts, ScorerLimits, active_set, rank, score, vetoes

LIM = ScorerLimits()  # the defaults: risk 0.35, spread 10c, age 120 s, depth $100, close 120 s

# A market with no vetoes and room on every side of every threshold, so one change trips exactly one rule.
GOOD = MarketFacts(
    condition_id="good",
    maker_allowed=True,
    phase="open",
    best_bid=4900,  # 2 cent spread
    best_ask=5100,
    depth_usdc=1_000.0,
    book_age_s=1.0,
    seconds_to_close=86_400.0,
    resolution_risk=0.10,
    resolution_reason="single clear source",
    sigma_cents=0.5,
    markout_cents=None,
    toxic=False,
    reward_daily_usdc=10.0,
)


def test_good_fixture_has_no_vetoes() -> None:
    assert vetoes(GOOD, LIM) == ()


# (code, change that trips it, expected value, expected threshold, nearest change that does not trip it).
# The boundaries follow the code: RES_RISK/WIDE/STALE use `>`, THIN/CLOSING use `<`, so "at" passes.
VETO_CASES = [
    ("RES_RISK", {"resolution_risk": 0.36}, 0.36, 0.35, {"resolution_risk": 0.35}),
    ("STATE", {"maker_allowed": False, "phase": "closing"}, 0, 1, {"maker_allowed": True}),
    ("NO_BOOK", {"best_bid": None}, 0, 1, {"best_bid": 4900}),
    ("NO_BOOK", {"best_ask": None}, 0, 1, {"best_ask": 5100}),
    ("CROSSED", {"best_bid": 5000, "best_ask": 5000}, 0.0, 0, {"best_bid": 4999, "best_ask": 5000}),
    ("CROSSED", {"best_bid": 5010, "best_ask": 5000}, -0.1, 0, {"best_bid": 4999, "best_ask": 5000}),
    ("WIDE", {"best_bid": 4500, "best_ask": 5501}, 10.01, 10.0, {"best_bid": 4500, "best_ask": 5500}),
    ("STALE", {"book_age_s": 120.001}, 120.001, 120.0, {"book_age_s": 120.0}),
    ("THIN", {"depth_usdc": 99.99}, 99.99, 100.0, {"depth_usdc": 100.0}),
    ("CLOSING", {"seconds_to_close": 119.9}, 119.9, 120.0, {"seconds_to_close": 120.0}),
    ("CLOSING", {"seconds_to_close": 0.0}, 0.0, 120.0, {"seconds_to_close": None}),  # no close time: never
    ("TOXIC", {"toxic": True, "markout_cents": -0.5}, -0.5, -0.2, {"toxic": False, "markout_cents": -0.5}),
    ("TOXIC", {"toxic": True}, 0.0, -0.2, {"toxic": False}),  # no markout yet: value reads 0
]


@pytest.mark.parametrize(("code", "bad", "value", "threshold", "ok"), VETO_CASES)
def test_each_veto_on_both_sides_of_its_threshold(
    code: str, bad: dict, value: float, threshold: float, ok: dict
) -> None:
    tripped = vetoes(replace(GOOD, **bad), LIM)
    assert [r.code for r in tripped] == [code]  # that rule and no other
    assert tripped[0].value == pytest.approx(value)
    assert tripped[0].threshold == pytest.approx(threshold)
    assert vetoes(replace(GOOD, **ok), LIM) == ()


def test_res_risk_carries_the_reason_as_detail() -> None:
    (r,) = vetoes(replace(GOOD, resolution_risk=0.9, resolution_reason="two sources"), LIM)
    assert r.detail == "two sources"


# The module docstring is the documented order (the Markets pane shows the first), so read it from there.
DOC_ORDER = re.findall(r"`([A-Z_]+)`", q.__doc__ or "")
CODES = ["RES_RISK", "STATE", "NO_BOOK", "CROSSED", "WIDE", "STALE", "THIN", "CLOSING", "TOXIC"]


def test_docstring_lists_every_veto_once() -> None:
    assert DOC_ORDER == CODES


# Everything wrong at once; NO_BOOK, CROSSED and WIDE exclude each other, so one of them per market.
ALL_BAD = {
    "resolution_risk": 0.9,
    "maker_allowed": False,
    "book_age_s": 600.0,
    "depth_usdc": 5.0,
    "seconds_to_close": 30.0,
    "toxic": True,
}


@pytest.mark.parametrize(
    ("book", "book_code"),
    [
        ({"best_bid": None}, "NO_BOOK"),
        ({"best_bid": 5100, "best_ask": 4900}, "CROSSED"),
        ({"best_bid": 1000, "best_ask": 9000}, "WIDE"),
    ],
)
def test_vetoes_come_in_documented_order_and_first_veto_is_the_first(book: dict, book_code: str) -> None:
    f = replace(GOOD, **ALL_BAD, **book)
    codes = [r.code for r in vetoes(f, LIM)]
    assert codes == [c for c in DOC_ORDER if c not in {"NO_BOOK", "CROSSED", "WIDE"} - {book_code}]
    (ranked,) = rank([f], LIM)
    assert ranked.first_veto == "RES_RISK" and not ranked.quotable
    # Without the leading problem, the next one in the order takes the cell.
    (ranked,) = rank([replace(f, resolution_risk=0.0)], LIM)
    assert ranked.first_veto == "STATE"


def test_first_veto_is_blank_when_quotable() -> None:
    (ranked,) = rank([GOOD], LIM)
    assert ranked.quotable and ranked.first_veto == "" and ranked.vetoes == ()


# --- score -----------------------------------------------------------------------------------------------


def test_score_spans_zero_to_one() -> None:
    ideal = replace(
        GOOD, reward_daily_usdc=50.0, best_bid=4800, best_ask=5200, depth_usdc=20_000.0, sigma_cents=0.0
    )
    assert score(ideal) == pytest.approx(1.0)  # the weights add to 1, every term saturated
    awful = replace(
        GOOD, reward_daily_usdc=0.0, best_bid=None, depth_usdc=0.0, sigma_cents=1e9, markout_cents=-5.0
    )
    assert 0.0 <= score(awful) < 1e-6


def _spread(cents: float) -> dict:
    half = round(cents * 50)
    return {"best_bid": 5000 - half, "best_ask": 5000 + half}


# Each sequence is ordered from worse to better market; the score must rise strictly along it.
MONOTONE = {
    "rewards": [{"reward_daily_usdc": v} for v in (0.0, 5.0, 25.0, 50.0)],
    "spread": [_spread(c) for c in (0.5, 1.0, 2.0, 4.0)],
    "depth": [{"depth_usdc": v} for v in (0.0, 100.0, 1_000.0, 20_000.0)],
    "volatility": [{"sigma_cents": v} for v in (10.0, 2.0, 0.5, 0.0)],
    "markout": [{"markout_cents": v} for v in (-0.5, -0.3, -0.1, 0.0)],
}


@pytest.mark.parametrize("term", MONOTONE)
def test_score_is_monotone_in_each_term(term: str) -> None:
    scores = [score(replace(GOOD, **change)) for change in MONOTONE[term]]
    assert all(a < b for a, b in zip(scores, scores[1:], strict=False)), scores


@pytest.mark.parametrize(
    ("at_cap", "beyond"),
    [
        (_spread(4.0), _spread(8.0)),  # 4 cents is full marks: a wider book buys no more score
        ({"reward_daily_usdc": 50.0}, {"reward_daily_usdc": 5_000.0}),
        ({"depth_usdc": 20_000.0}, {"depth_usdc": 1e9}),
        ({"markout_cents": 0.0}, {"markout_cents": 3.0}),  # a good markout is as clean as none at all
    ],
)
def test_terms_saturate(at_cap: dict, beyond: dict) -> None:
    assert score(replace(GOOD, **beyond)) == pytest.approx(score(replace(GOOD, **at_cap)))


_ticks = st.integers(min_value=1, max_value=9_999)


@settings(derandomize=True, database=None, deadline=None)  # same examples every run, no stored failures
@given(
    rewards=st.floats(0.0, 1e6),
    bid=st.none() | _ticks,
    ask=st.none() | _ticks,
    depth=st.floats(0.0, 1e9),
    sigma=st.floats(0.0, 1e6),
    markout=st.none() | st.floats(-100.0, 100.0),
)
def test_score_stays_in_unit_interval(
    rewards: float, bid: int | None, ask: int | None, depth: float, sigma: float, markout: float | None
) -> None:
    f = replace(
        GOOD,
        reward_daily_usdc=rewards,
        best_bid=bid,
        best_ask=ask,
        depth_usdc=depth,
        sigma_cents=sigma,
        markout_cents=markout,
    )
    assert 0.0 <= score(f) <= 1.0 + 1e-12  # the weighted sum of saturated terms may round a hair above 1


# --- rank and the active set -----------------------------------------------------------------------------

A = replace(GOOD, condition_id="a", reward_daily_usdc=40.0)
B = replace(GOOD, condition_id="b", reward_daily_usdc=20.0)
C = replace(GOOD, condition_id="c", reward_daily_usdc=0.0)
# Vetoed but scoring above every quotable market: a veto still puts it last.
V = replace(GOOD, condition_id="v", reward_daily_usdc=50.0, book_age_s=500.0)
W = replace(GOOD, condition_id="w", reward_daily_usdc=0.0, depth_usdc=1.0)


def test_rank_puts_quotable_first_in_score_order_then_vetoed() -> None:
    ranked = rank([W, C, V, A, B], LIM)
    assert [r.condition_id for r in ranked] == ["a", "b", "c", "v", "w"]
    assert [r.quotable for r in ranked] == [True, True, True, False, False]
    assert score(V) > score(A)
    quotable, vetoed = ranked[:3], ranked[3:]
    for group in (quotable, vetoed):  # score order within each group
        assert [r.score for r in group] == sorted((r.score for r in group), reverse=True)


def test_rank_breaks_score_ties_by_condition_id() -> None:
    # Determinism: equal scores must not depend on input order.
    ranked = rank([replace(GOOD, condition_id="z"), replace(GOOD, condition_id="m")], LIM)
    assert [r.condition_id for r in ranked] == ["m", "z"]


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, set()), (1, {"a"}), (2, {"a", "b"}), (3, {"a", "b", "c"}), (10, {"a", "b", "c"})],
)
def test_active_set_is_top_n_quotable_and_never_a_vetoed_market(n: int, expected: set[str]) -> None:
    # With n above the quotable count, the free slots stay empty rather than go to v or w.
    assert active_set(rank([A, B, C, V, W], LIM), n) == expected


def test_toxic_overrides_the_best_score_until_it_recovers() -> None:
    best = replace(
        GOOD, condition_id="t", reward_daily_usdc=50.0, depth_usdc=20_000.0, toxic=True, markout_cents=-0.5
    )
    ranked = rank([A, B, C, best], LIM)
    assert max(ranked, key=lambda r: r.score).condition_id == "t"  # best score of all, bad markout and all
    for n in (1, 4):
        assert "t" not in active_set(ranked, n)
    assert ranked[-1].first_veto == "TOXIC"

    recovered = rank([A, B, C, replace(best, toxic=False)], LIM)
    assert active_set(recovered, 1) == {"t"}
