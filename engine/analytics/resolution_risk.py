"""How risky a market's resolution looks from its metadata, as a score in [0, 1], so a maker stays out of it.

A market maker holds inventory into resolution; when the rules leave room for argument (subjective
wording, several or fallback sources, a neg-risk "Other" leg that resolves on everyone else's outcomes) or
the market is about to close, the spread it earns does not pay for the chance of a surprise at settlement.
The score adds simple, documented contributions read from the question, the rules (Gamma `description`),
the named resolution source (Gamma `resolutionSource`), the neg-risk flag, the outcome labels and the time
to close.

Policy: above MAKER_MAX (0.35) no maker quotes; above SATELLITE_MAX (0.25) no satellite bets.

Pure and fast: the text part is cached per market (the rules do not change between re-ranks), only the
time-to-close part is computed on each call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

MAKER_MAX = 0.35  # above this, no maker quotes
SATELLITE_MAX = 0.25  # above this, no satellite bets

# Ambiguity / subjectivity: the resolver has room to choose. Distinct concepts found in the question or the
# rules, each contributing less than the one before: AMBIGUITY_CAP * (1 - AMBIGUITY_DECAY ** hits) gives
# 0.12, 0.19, 0.24, ... and never more than 0.30, because a long legal text repeats the same caveats and one
# such word alone should not close a market to the maker.
# The text patterns here leave out a leading \b (word starts are checked by _word_matches) and mostly begin
# with literal text: Python's re then jumps between occurrences of it, ten to thirty times faster on a page of
# rules than trying a \b at every position.
AMBIGUITY_CAP = 0.30
AMBIGUITY_DECAY = 0.6
_AMBIGUITY_WORDING = tuple(
    re.compile(p)
    for p in (
        r"discretion\w*",  # "at its discretion", "sole discretion"
        r"subjective\w*",
        r"sole judge?ment\b",
        r"ambigu\w*",  # "ambiguous", "ambiguity"
        r"credible report\w*",  # "a consensus of credible reporting": nobody names who decides
        r"may (?:be resolved|resolve)\b",
        r"in the spirit\b",
        r"unclear\b",
        r"interpret\w*",
        r"reasonabl[ey]\b",
        r"50[-/ ]50\b",  # a split payout: the event did not happen the way the question assumed
        r"cancel+(?:ed|ation)\b",
        r"postpone\w*",
        r"delay(?:ed|s)?\b",
        r"(?:reschedul\w*|moved to a (?:later )?date\b)",
        r"no[- ]contest\b",
        r"clarification\w*",  # rules amended while the market trades
    )
)

# Several sources or a fallback chain: which source decides may only be known at the end, and the switch is
# somebody's call. Kept conservative: only explicit signals count (a binary's "Otherwise, it will resolve to
# 'No'" is the other outcome, not a second source), 0.07 each and at most 0.15, since a fallback is usually
# an ordered, written-down chain.
FALLBACK_WEIGHT = 0.07
FALLBACK_CAP = 0.15
_FALLBACK_SIGNALS = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("a 'primary' or 'secondary' source", r"(?:primary|secondary) (?:resolution )?sources?\b"),
        ("another source if needed", r"(?:another|alternative|backup|other)(?: \w+){0,2} sources?\b"),
        ("if data is unavailable", r"(?:(?:not|no longer) (?:be )?|un|no [^.\n]{0,40})available\b"),
        ("several sources", r"(?:resolution|both|all|two|three|four|multiple|several) sources\b"),
        (
            "if the sources disagree",
            r"sources?\b[^.\n]{0,80}\b(?:do not|does not|don['’]t|doesn['’]t|haven['’]t|have not|fail\w*)",
        ),
        ("reporting also used", r"sources?\b[^.\n]{0,120}\b(?:however|also be used|may (?:also )?suffice)\b"),
        ("a source, otherwise another", r"sources?\b[^.\n]{0,80}\botherwise\b(?!,? (?:this|the|it)\b)"),
        ("one source or another", r"sources? (?:for this market )?(?:is|are|will be) [^.\n]{0,60}\bor\b"),
    )
)
_NEGATION_BEFORE = re.compile(r"\bnot(?: according to)?(?: \w+){0,2} $")  # "not according to other sources"

# Where the rules name a source: a URL or a sentence that says who or what settles it.
_NAMED_SOURCE = re.compile(
    r"https?://|www\.|resolution source\b|resolve[sd]? (?:according to|based on)\b"
    r"|official (?:information|data|results?|announcement|certification|website|statement)\b"
)
_DOMAIN = re.compile(r"(?<=[a-z0-9])\.(?:com|org|gov|io|net)\b")  # "per boxofficemojo.com"
NO_SOURCE_WEIGHT = 0.08  # nobody named to settle it: a little, the rules may still be clear
EMPTY_RULES_WEIGHT = 0.25  # no rules text at all: we know nothing about how it settles

# A neg-risk leg named "Other" / "Field" resolves YES on everyone else's outcomes: its meaning depends on the
# whole event's list (which can change as candidates are added) and on every other leg's resolution. Alone it
# puts the market above MAKER_MAX.
CATCH_ALL_WEIGHT = 0.40
_CATCH_ALL_LABEL = re.compile(
    r"^\s*(?:other|others|the field|field|any other\b.*|anyone else|someone else|none of the above)\s*$"
)
_CATCH_ALL_QUESTION = re.compile(
    r"(?:^|[:\-–—(]\s*)(?:other|others|field|the field)\s*\)?\s*\??\s*$"  # "2024 Balance of Power: Other"
    r"|^\s*will (?:an?other|any other|the field|someone else|anyone else)\b"
    r"|\bany other (?:candidate|person|player|team|party|country|company|nominee|driver|club)\b"
    r"|\bnone of the above\b",
    re.IGNORECASE,  # on the question as written, so the reason quotes it
)
_LEADING_WILL = re.compile(r"^\s*will\s+", re.IGNORECASE)

# Time to close: the last hours carry informed flow and leave no time to get out before the outcome is fixed.
# A linear ramp from nothing at NEAR_CLOSE_H to NEAR_CLOSE_WEIGHT at (or past) the close; an unknown close may
# be the next minute, so a little. Short-lived markets (15-minute crypto up/down, settled by a price feed)
# always close within minutes: the clock says nothing about them.
NEAR_CLOSE_H = 6.0
NEAR_CLOSE_WEIGHT = 0.25
UNKNOWN_CLOSE_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class ResolutionRisk:
    score: float  # 0..1, clipped
    reasons: tuple[str, ...]  # one short phrase per contribution, largest first

    def first_reason(self) -> str:
        """The largest contribution's phrase, "" when nothing contributed."""
        return self.reasons[0] if self.reasons else ""


def resolution_risk(
    *,
    question: str,
    rules: str,
    resolution_source: str,
    neg_risk: bool,
    outcome_labels: tuple[str, str],
    hours_to_close: float | None,
    short_lived: bool = False,
) -> ResolutionRisk:
    """The market's resolution risk.

    `rules` is Gamma `description`, `resolution_source` Gamma `resolutionSource` ("" when missing) and
    `outcome_labels` (YES label, NO label); `hours_to_close` None when the close is unknown; `short_lived`
    for markets whose whole life is minutes (15-minute crypto up/down): the clock is not held against them.
    """
    parts = [*_text_contributions(question, rules, resolution_source, neg_risk, outcome_labels[0])]
    if not short_lived:
        parts.extend(_time_contribution(hours_to_close))
    parts.sort(key=lambda part: -part[0])  # stable: equal weights keep the order above
    # Rounded so that float sums of the weights do not land a hair above a threshold (0.25 + 0.05 + 0.05).
    score = round(min(1.0, max(0.0, sum(w for w, _ in parts))), 6)
    return ResolutionRisk(score, tuple(reason for _, reason in parts))


@lru_cache(maxsize=4096)
def _text_contributions(
    question: str, rules: str, resolution_source: str, neg_risk: bool, yes_label: str
) -> tuple[tuple[float, str], ...]:
    q, r = question.lower(), rules.lower()
    parts: list[tuple[float, str]] = []

    hits = _ambiguity_hits(f"{q}\n{r}")
    if hits:
        weight = AMBIGUITY_CAP * (1 - AMBIGUITY_DECAY ** len(hits))
        parts.append((weight, "ambiguous wording: " + ", ".join(f"'{h}'" for h in hits)))

    signals = _fallback_signals(r)
    if signals:
        weight = min(FALLBACK_CAP, FALLBACK_WEIGHT * len(signals))
        parts.append((weight, "fallback sources: " + ", ".join(signals)))

    if not r.strip():
        parts.append((EMPTY_RULES_WEIGHT, "no resolution rules text"))
    if not resolution_source.strip() and not _names_a_source(r):
        parts.append((NO_SOURCE_WEIGHT, "no resolution source named"))

    if neg_risk:
        catch_all = _catch_all(question, yes_label)
        if catch_all:
            parts.append((CATCH_ALL_WEIGHT, f"neg-risk '{catch_all}' outcome"))
    return tuple(parts)


def _ambiguity_hits(text: str) -> list[str]:
    """The first wording found for each distinct ambiguity concept, in list order."""
    hits = []
    for pattern in _AMBIGUITY_WORDING:
        m = next(_word_matches(pattern, text), None)
        if m:
            hits.append(m.group(0))
    return hits


def _fallback_signals(rules: str) -> list[str]:
    """The labels of the fallback / multi-source signals in the (lower-cased) rules, skipping negated ones."""
    found = []
    for label, pattern in _FALLBACK_SIGNALS:
        for m in _word_matches(pattern, rules):
            # "about the price according to Binance, not according to other sources": a refusal, not a source.
            if not _NEGATION_BEFORE.search(rules, max(0, m.start() - 40), m.start()):
                found.append(label)
                break
    return found


def _names_a_source(rules: str) -> bool:
    return next(_word_matches(_NAMED_SOURCE, rules), None) is not None or _DOMAIN.search(rules) is not None


def _word_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """The matches of `pattern` that begin a word (the \b its pattern leaves out, see above)."""
    for m in pattern.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if not (before.isalnum() or before == "_"):
            yield m


def _catch_all(question: str, yes_label: str) -> str:
    """The catch-all word ("Other", "Field", ...) of the YES label or the question, "" when neither is one."""
    if _CATCH_ALL_LABEL.match(yes_label.lower()):
        return yes_label.strip()
    m = _CATCH_ALL_QUESTION.search(question)
    return _LEADING_WILL.sub("", m.group(0)).strip(" :-–—()?\t\n") if m else ""


def _time_contribution(hours_to_close: float | None) -> list[tuple[float, str]]:
    if hours_to_close is None or math.isnan(hours_to_close):
        return [(UNKNOWN_CLOSE_WEIGHT, "close time unknown")]
    if hours_to_close >= NEAR_CLOSE_H:
        return []
    if hours_to_close <= 0:
        return [(NEAR_CLOSE_WEIGHT, "past its close")]
    return [(NEAR_CLOSE_WEIGHT * (1 - hours_to_close / NEAR_CLOSE_H), f"closes in {hours_to_close:.1f} h")]
