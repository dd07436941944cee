"""Polymarket's liquidity-rewards score (engine/analytics/rewards.py): the order score, the two books, the
two-sided rule on both sides of 0.10 and 0.90, the min incentive size, and a worked example by hand."""

from __future__ import annotations

import pytest

from engine.analytics.rewards import (
    RestingOrder,
    RewardParams,
    adjusted_midpoint,
    book_scores,
    order_score,
    q_min,
    sample_reward,
)
from engine.domain import Outcome, Side

SH = 1_000_000
YES, NO, BUY, SELL = Outcome.YES, Outcome.NO, Side.BUY, Side.SELL


def test_order_score_is_quadratic_inside_the_max_spread_and_nothing_at_or_beyond_it() -> None:
    assert order_score(3.0, 0.0) == 1.0
    assert order_score(3.0, 1.0) == pytest.approx(4 / 9)
    assert order_score(3.0, 2.0) == pytest.approx(1 / 9)
    assert order_score(3.0, 2.999) > 0
    assert order_score(3.0, 3.0) == 0.0 and order_score(3.0, 4.0) == 0.0
    assert order_score(3.0, 1.0, multiplier=2.0) == pytest.approx(8 / 9)
    with pytest.raises(ValueError, match="distance"):
        order_score(3.0, -0.5)


def test_worked_example_by_hand() -> None:
    # v = 3c, min size 50, adjusted mid 0.50. Book one: a YES bid 100 @ 0.49 (s = 1c, S = 4/9) and a NO ask
    # 200 @ 0.52 (a YES bid at 0.48: s = 2c, S = 1/9). Book two: a YES ask 100 @ 0.51 (s = 1c, S = 4/9) and a
    # NO bid 40 @ 0.49 (40 < 50: nothing).
    params = RewardParams(max_spread_cents=3.0, min_size=50 * SH, daily_rate=1_440.0)
    orders = [
        RestingOrder(YES, BUY, 4_900, 100 * SH),
        RestingOrder(NO, SELL, 5_200, 200 * SH),
        RestingOrder(YES, SELL, 5_100, 100 * SH),
        RestingOrder(NO, BUY, 4_900, 40 * SH),
    ]
    q_one, q_two = book_scores(orders, 5_000, params)
    assert q_one == pytest.approx(100 * 4 / 9 + 200 * 1 / 9)  # 66.67
    assert q_two == pytest.approx(100 * 4 / 9)  # 44.44
    assert q_min(q_one, q_two, 5_000) == pytest.approx(44.444, rel=1e-4)  # min beats max/3 (22.2)
    # Against 100 points of others' liquidity, a minute of a 1,440 USDC/day pool: 1 USDC x 44.4 / 144.4.
    assert sample_reward(q_min(q_one, q_two, 5_000), 100.0, params) == pytest.approx(
        44.444 / 144.444, rel=1e-4
    )


def test_min_incentive_size_on_both_sides_of_the_cutoff() -> None:
    params = RewardParams(max_spread_cents=3.0, min_size=50 * SH)
    at = book_scores([RestingOrder(YES, BUY, 4_900, 50 * SH)], 5_000, params)
    below = book_scores([RestingOrder(YES, BUY, 4_900, 50 * SH - 1)], 5_000, params)
    assert at[0] == pytest.approx(50 * 4 / 9) and below == (0.0, 0.0)


@pytest.mark.parametrize(
    ("mid", "two_sided_only"),
    [(999, True), (1_000, False), (5_000, False), (9_000, False), (9_001, True)],
)
def test_one_sided_scores_a_third_inside_010_090_and_nothing_outside(mid: int, two_sided_only: bool) -> None:
    assert q_min(90.0, 0.0, mid) == (0.0 if two_sided_only else pytest.approx(30.0))
    assert q_min(0.0, 90.0, mid) == (0.0 if two_sided_only else pytest.approx(30.0))
    assert q_min(60.0, 30.0, mid) == pytest.approx(30.0)  # two-sided: the smaller book, either way


def test_an_order_through_the_midpoint_or_beyond_the_spread_scores_nothing() -> None:
    params = RewardParams(max_spread_cents=2.0, min_size=0)
    assert book_scores([RestingOrder(YES, BUY, 5_100, 10 * SH)], 5_000, params) == (0.0, 0.0)
    assert book_scores([RestingOrder(YES, SELL, 5_200, 10 * SH)], 5_000, params) == (0.0, 0.0)  # s = v


def test_adjusted_midpoint_skips_levels_smaller_than_the_cutoff() -> None:
    bids = [(4_900, 10 * SH), (4_800, 100 * SH)]
    asks = [(5_100, 100 * SH)]
    assert adjusted_midpoint(bids, asks, 0) == 5_000
    assert adjusted_midpoint(bids, asks, 50 * SH) == 4_950  # the 10-share bid is too thin: 0.48 counts
    assert adjusted_midpoint([], asks, 0) is None


def test_reward_params_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_spread_cents"):
        RewardParams(max_spread_cents=0.0, min_size=0)
    with pytest.raises(ValueError, match="min_size"):
        RewardParams(max_spread_cents=3.0, min_size=-1)
