"""Resolution risk: each contribution on both sides, ten real Gamma markets, the 15-minute crypto rules."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analytics.resolution_risk import (
    AMBIGUITY_CAP,
    CATCH_ALL_WEIGHT,
    FALLBACK_CAP,
    MAKER_MAX,
    NEAR_CLOSE_WEIGHT,
    SATELLITE_MAX,
    UNKNOWN_CLOSE_WEIGHT,
    ResolutionRisk,
    resolution_risk,
)

GAMMA_MARKETS = Path(__file__).resolve().parent / "data/gamma/ten_markets.json"  # ten real Gamma markets, MIT

CRYPTO_QUESTION = "Bitcoin Up or Down - September 28, 5:00AM-5:15AM ET"
CRYPTO_SOURCE = "https://www.binance.com/en/trade/BTC_USDT"
CRYPTO_RULES = (
    'This market will resolve to "Up" if the Bitcoin price at the end of the time range specified in the'
    " title is greater than or equal to the price at the beginning of that range. Otherwise, it will resolve"
    ' to "Down". The resolution source for this market is information from Binance, specifically the'
    " BTC/USDT pair..."
)
# The same rules carried on in the longer form these markets use (written from memory, not a stored copy),
# with the note that refuses other sources: a refusal must not read as a fallback.
CRYPTO_RULES_FULL = (
    'This market will resolve to "Up" if the Bitcoin price at the end of the time range specified in the'
    " title is greater than or equal to the price at the beginning of that range. Otherwise, it will resolve"
    ' to "Down".\n\nThe resolution source for this market is information from Binance, specifically the'
    " BTC/USDT pair (https://www.binance.com/en/trade/BTC_USDT). The close prices of the 1 minute candles at"
    " the start and end of the range will be used.\n\nPlease note that this market is about the price"
    " according to Binance BTC/USDT, not according to other sources or spot markets."
)

# A plain binary with one named source: the baseline each component test changes one thing of.
PLAIN_RULES = (
    'This market will resolve to "Yes" if Brian Kim wins the 2024 WSOP Main Event. Otherwise, this market'
    ' will resolve to "No". The resolution source will be official information from the WSOP.'
)


def risk(
    *,
    question: str = "Will Brian Kim win the WSOP main event?",
    rules: str = PLAIN_RULES,
    resolution_source: str = "",
    neg_risk: bool = False,
    outcome_labels: tuple[str, str] = ("Yes", "No"),
    hours_to_close: float | None = 48.0,
    short_lived: bool = False,
) -> ResolutionRisk:
    return resolution_risk(
        question=question,
        rules=rules,
        resolution_source=resolution_source,
        neg_risk=neg_risk,
        outcome_labels=outcome_labels,
        hours_to_close=hours_to_close,
        short_lived=short_lived,
    )


def has_reason(r: ResolutionRisk, start: str) -> bool:
    return any(reason.startswith(start) for reason in r.reasons)


# --- the policy constants and the result


def test_the_policy_thresholds() -> None:
    assert MAKER_MAX == 0.35
    assert SATELLITE_MAX == 0.25


def test_a_plain_single_source_market_scores_nothing_and_has_no_reason() -> None:
    r = risk()
    assert r == ResolutionRisk(0.0, ())
    assert r.first_reason() == ""


def test_reasons_are_largest_first() -> None:
    r = risk(
        question="2024 Balance of Power: Other",
        neg_risk=True,
        rules=PLAIN_RULES + " Ties may be resolved at the discretion of the market's resolver.",
        hours_to_close=None,
    )
    assert r.first_reason() == "neg-risk 'Other' outcome"
    assert r.reasons[1] == "ambiguous wording: 'discretion', 'may be resolved'"
    assert r.reasons[-1] == "close time unknown"


# --- ambiguity / subjectivity wording


def test_ambiguous_wording_adds_and_is_named_in_the_reason() -> None:
    clean = risk()
    worded = risk(
        rules=PLAIN_RULES + " The market may be resolved AT ITS DISCRETION if the result is unclear."
    )
    assert worded.score > clean.score
    assert worded.first_reason() == "ambiguous wording: 'discretion', 'may be resolved', 'unclear'"


def test_ambiguous_wording_in_the_question_counts_too() -> None:
    assert has_reason(risk(question="Will the match be postponed?"), "ambiguous wording: 'postponed'")


def test_each_further_ambiguous_word_adds_less_and_the_total_is_capped() -> None:
    words = ["subjective", "interpretation", "50-50", "canceled", "delayed", "in the spirit", "reasonable"]
    scores = [risk(rules=PLAIN_RULES + " " + " ".join(words[:n])).score for n in range(len(words) + 1)]
    steps = [b - a for a, b in zip(scores, scores[1:], strict=False)]
    assert all(step > 0 for step in steps)
    assert steps == sorted(steps, reverse=True)
    assert scores[-1] <= AMBIGUITY_CAP
    everything = " ".join(
        words + ["discretion", "sole judgment", "ambiguous", "credible reporting", "unclear"]
    )
    assert risk(rules=PLAIN_RULES + " " + everything).score <= AMBIGUITY_CAP


def test_wording_counts_only_as_a_whole_word() -> None:
    assert risk(question="Will the senator's indiscretion cost him the primary?").score == 0
    assert risk(question="Will the senator's discretion cost him the primary?").score > 0


def test_a_repeated_word_counts_once() -> None:
    once = risk(rules=PLAIN_RULES + " If this is ambiguous, see below.")
    twice = risk(rules=PLAIN_RULES + " If this is ambiguous or ambiguous again, see below.")
    assert once.score == twice.score


# --- several sources or a fallback chain


def test_a_fallback_source_adds() -> None:
    fallback = (
        'This market will resolve to "Yes" if TikTok is banned. Otherwise, this market will resolve to "No".'
        " The primary resolution source will be the US federal government, however the official website of"
        " the app will also be used."
    )
    r = risk(rules=fallback)
    assert r.score > 0
    assert r.first_reason() == "fallback sources: a 'primary' or 'secondary' source, reporting also used"


def test_a_source_that_may_be_replaced_when_data_is_missing_adds() -> None:
    rules = PLAIN_RULES + " If there is no final data available by August 5, another source is chosen."
    assert (
        risk(rules=rules).first_reason()
        == "fallback sources: another source if needed, if data is unavailable"
    )


def test_the_binarys_otherwise_is_not_a_second_source() -> None:
    # "Otherwise, this market will resolve to No" and "greater than or equal" are about the outcome.
    assert risk().score == 0
    assert risk(rules=CRYPTO_RULES).score == 0


def test_refusing_other_sources_is_not_a_fallback() -> None:
    assert not has_reason(risk(rules=CRYPTO_RULES_FULL), "fallback")
    assert has_reason(risk(rules=PLAIN_RULES + " Other credible sources may be used."), "fallback")


def test_fallback_signals_are_capped() -> None:
    rules = (
        "The primary resolution source is X; a secondary source is Y. If X is not available, another source"
        " will be chosen. If both sources fail to publish, the resolution source will be Z or W."
    )
    r = risk(rules=rules)
    assert r.score == FALLBACK_CAP
    assert len(r.first_reason().split(", ")) >= 3


# --- no source, no rules


def test_no_resolution_source_named_adds_a_little() -> None:
    no_source = 'This market will resolve to "Yes" if the fight ends in a knockout. Otherwise "No".'
    r = risk(rules=no_source)
    assert r.reasons == ("no resolution source named",)
    assert 0 < r.score < SATELLITE_MAX
    assert risk(rules=no_source, resolution_source="https://www.espn.com/boxing/").score == 0
    assert risk(rules=no_source + " See https://www.espn.com/boxing/ for the result.").score == 0
    assert risk(rules=no_source + " The result as listed on boxrec.com decides.").score == 0


def test_empty_rules_add_more_than_a_missing_source() -> None:
    missing_source = risk(rules='Resolves "Yes" if the fight ends in a knockout.')
    empty = risk(rules="", resolution_source="https://www.espn.com/boxing/")
    assert empty.reasons == ("no resolution rules text",)
    assert empty.score > missing_source.score
    blank = risk(rules="  \n ")
    assert blank.reasons == ("no resolution rules text", "no resolution source named")
    assert blank.score > SATELLITE_MAX  # nothing known: no satellite bets


# --- neg-risk catch-all


def test_a_neg_risk_other_outcome_is_above_the_maker_limit_and_a_named_candidate_is_not() -> None:
    other = risk(question="2024 Balance of Power: Other", neg_risk=True)
    named = risk(question="2024 Balance of Power: Democrats sweep", neg_risk=True)
    assert other.score == CATCH_ALL_WEIGHT > MAKER_MAX
    assert other.reasons == ("neg-risk 'Other' outcome",)
    assert named.score == 0


@pytest.mark.parametrize(
    ("question", "yes_label"),
    [
        ("Who will win the Masters?", "Other"),
        ("Who will win the Masters?", "Field"),
        ("Will any other candidate win the 2024 US Presidential Election?", "Yes"),
        ("Will another person win the 2024 Nobel Peace Prize?", "Yes"),
        ("Democratic nominee 2024 - Field", "Yes"),
    ],
)
def test_catch_alls_by_label_or_question(question: str, yes_label: str) -> None:
    r = risk(question=question, neg_risk=True, outcome_labels=(yes_label, "No"))
    assert r.score == CATCH_ALL_WEIGHT
    assert r.first_reason().startswith("neg-risk '")


@pytest.mark.parametrize(
    "question",
    ["Will Kamala Harris win the 2024 US Presidential Election?", "Will a Democrat win Wisconsin US Senate?"],
)
def test_named_neg_risk_legs_are_not_catch_alls(question: str) -> None:
    assert risk(question=question, neg_risk=True).score == 0


def test_an_other_market_outside_neg_risk_stands_on_its_own_rules() -> None:
    assert risk(question="2024 Balance of Power: Other", neg_risk=False).score == 0


# --- time to close


def test_near_close_adds_more_the_nearer_and_nothing_from_six_hours() -> None:
    scores = [risk(hours_to_close=h).score for h in (0.0, 0.5, 3.0, 5.9, 6.0, 100.0)]
    assert scores[0] == NEAR_CLOSE_WEIGHT
    assert scores == sorted(scores, reverse=True)
    assert scores[2] > 0 and scores[4] == scores[5] == 0
    assert risk(hours_to_close=3.0).reasons == ("closes in 3.0 h",)
    assert risk(hours_to_close=-2.0).reasons == ("past its close",)


def test_an_unknown_close_adds_a_little() -> None:
    for unknown in (None, math.nan):
        r = risk(hours_to_close=unknown)
        assert r.score == UNKNOWN_CLOSE_WEIGHT
        assert r.reasons == ("close time unknown",)


def test_a_short_lived_market_is_not_penalised_for_its_clock() -> None:
    for hours in (0.1, 0.0, None):
        assert risk(hours_to_close=hours, short_lived=True).score == 0
    assert risk(hours_to_close=0.1).score > 0  # the same clock on a long-lived market
    assert risk(hours_to_close=0.1, short_lived=True) == risk(hours_to_close=100.0)


# --- the bundled 15-minute crypto markets


@pytest.mark.parametrize("rules", [CRYPTO_RULES, CRYPTO_RULES_FULL])
@pytest.mark.parametrize("hours", [0.2, None])
def test_the_fifteen_minute_crypto_market_is_quotable(rules: str, hours: float | None) -> None:
    r = risk(
        question=CRYPTO_QUESTION,
        rules=rules,
        resolution_source=CRYPTO_SOURCE,
        outcome_labels=("Up", "Down"),
        hours_to_close=hours,
        short_lived=True,
    )
    assert r.score < SATELLITE_MAX
    assert r.score == 0, r.reasons


# --- the ten real Gamma markets


@pytest.fixture(scope="module")
def gamma() -> dict[str, dict[str, Any]]:
    return {m["question"]: m for m in json.loads(GAMMA_MARKETS.read_text())}


def gamma_risk(m: dict[str, Any], hours_to_close: float | None = None) -> ResolutionRisk:
    yes, no = json.loads(m["outcomes"])
    return resolution_risk(
        question=m["question"],
        rules=m.get("description") or "",
        resolution_source=m.get("resolutionSource") or "",
        neg_risk=bool(m.get("negRisk")),
        outcome_labels=(yes, no),
        hours_to_close=hours_to_close,
    )


def test_all_ten_gamma_markets_score_within_bounds(gamma: dict[str, dict[str, Any]]) -> None:
    assert len(gamma) == 10
    for m in gamma.values():
        r = gamma_risk(m)
        assert 0 <= r.score <= 1
        assert r.reasons[-1] == "close time unknown"  # their endDates are past: the tests pass no clock


@pytest.mark.parametrize("hours", [None, 48.0])
def test_gamma_balance_of_power_other_is_not_quoted(
    gamma: dict[str, dict[str, Any]], hours: float | None
) -> None:
    r = gamma_risk(gamma["2024 Balance of Power: Other"], hours)
    assert r.score > MAKER_MAX
    assert r.first_reason() == "neg-risk 'Other' outcome"
    assert has_reason(r, "ambiguous wording: 'ambiguous'")  # "If control of the House is ambiguous ..."


@pytest.mark.parametrize("hours", [None, 48.0])
def test_gamma_a_fight_that_may_be_canceled_is_riskier_than_a_market_cap_ranking(
    gamma: dict[str, dict[str, Any]], hours: float | None
) -> None:
    fight = gamma_risk(gamma["Will Jake Paul vs. Mike Tyson have no official winner?"], hours)
    nvidia = gamma_risk(gamma["NVIDIA largest company in July?"], hours)
    assert fight.score > nvidia.score
    assert fight.first_reason() == "ambiguous wording: 'canceled', 'moved to a date'"
    assert "no resolution source named" in fight.reasons  # its rules name none, its resolutionSource is ""
    assert nvidia.reasons[0] == "ambiguous wording: 'credible reporting'"  # the only source it names


@pytest.mark.parametrize(
    "question",
    [
        "Will Brian Kim win the WSOP main event?",  # "official information from the WSOP"
        "Will there be more than 25 named storms during Atlantic Hurricane Season?",  # NOAA, with its URL
        "Will 'Deadpool & Wolverine' gross more than $170m opening weekend?",  # Box Office Mojo URL
        "Will a Democrat win Wisconsin US Senate Election?",  # a named party, not a catch-all
    ],
)
@pytest.mark.parametrize("hours", [None, 48.0])
def test_gamma_markets_with_a_clear_source_allow_satellite_bets(
    gamma: dict[str, dict[str, Any]], question: str, hours: float | None
) -> None:
    r = gamma_risk(gamma[question], hours)
    assert r.score < SATELLITE_MAX, r.reasons
    assert not has_reason(r, "neg-risk")


def test_gamma_the_binarys_otherwise_is_no_fallback(gamma: dict[str, dict[str, Any]]) -> None:
    for question in ("Will Brian Kim win the WSOP main event?", "NVIDIA largest company in July?"):
        assert not has_reason(gamma_risk(gamma[question]), "fallback")  # "Otherwise ... 'No'" is the outcome
    wsop = gamma_risk(gamma["Will Brian Kim win the WSOP main event?"], 48.0)
    assert wsop.score == 0


@pytest.mark.parametrize(
    "question", ["TikTok banned in the US in 2024?", "Eigenlayer airdrop by September 30?"]
)
def test_gamma_a_primary_source_backed_by_reporting_is_riskier_than_a_single_source(
    gamma: dict[str, dict[str, Any]], question: str
) -> None:
    r = gamma_risk(gamma[question], 48.0)
    assert has_reason(r, "fallback sources: a 'primary' or 'secondary' source, reporting also used")
    assert r.score > gamma_risk(gamma["Will Brian Kim win the WSOP main event?"], 48.0).score
    assert r.score > gamma_risk(gamma["NVIDIA largest company in July?"], 48.0).score


def test_gamma_near_close_adds_to_every_market(gamma: dict[str, dict[str, Any]]) -> None:
    for m in gamma.values():
        far, near = gamma_risk(m, 48.0), gamma_risk(m, 1.0)
        assert near.score > far.score or near.score == 1.0
        assert "closes in 1.0 h" in near.reasons


# --- always within [0, 1]


def test_every_component_at_once_is_clipped_to_one() -> None:
    r = risk(
        question="Subjective, ambiguous, unclear, 50-50, postponed or canceled: Other",
        rules="",
        neg_risk=True,
        hours_to_close=0.0,
    )
    assert r.score == 1.0
    assert len(r.reasons) == 5


_WORDS = st.sampled_from(
    [
        "other",
        "Other",
        "field",
        "source",
        "sources",
        "resolution source",
        "primary",
        "however",
        "otherwise",
        "or",
        "not",
        "available",
        "discretion",
        "ambiguous",
        "50/50",
        "canceled",
        "credible reporting",
        "https://example.com",
        "will",
        "any other candidate",
        ".",
        ",",
        ":",
        "\n",
    ]
)
_TEXT = st.one_of(st.text(max_size=300), st.lists(_WORDS, max_size=60).map(" ".join))


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    question=_TEXT,
    rules=_TEXT,
    resolution_source=st.text(max_size=40),
    neg_risk=st.booleans(),
    yes_label=st.one_of(_WORDS, st.text(max_size=20)),
    hours=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    short_lived=st.booleans(),
)
def test_the_score_is_always_within_zero_and_one(
    question: str,
    rules: str,
    resolution_source: str,
    neg_risk: bool,
    yes_label: str,
    hours: float | None,
    short_lived: bool,
) -> None:
    r = resolution_risk(
        question=question,
        rules=rules,
        resolution_source=resolution_source,
        neg_risk=neg_risk,
        outcome_labels=(yes_label, "No"),
        hours_to_close=hours,
        short_lived=short_lived,
    )
    assert 0.0 <= r.score <= 1.0
    assert all(isinstance(reason, str) and reason for reason in r.reasons)
    assert r.first_reason() == (r.reasons[0] if r.reasons else "")
    if not r.reasons:
        assert r.score == 0
