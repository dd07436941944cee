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
from engine.units import px_from_str

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


# --- Polymarket's own worked example --------------------------------------------------------------------------
#
# Source: https://docs.polymarket.com/market-makers/liquidity-rewards, section "Worked Example" (the same orders and
# expressions are under "Steps" on the older https://docs.polymarket.com/developers/market-makers/liquidity-rewards
# and in the older GitBook docs, there as two separate traders). Quoted:
#
#   "Assume an adjusted market midpoint of 0.50 and a max spread config of 3 cents for both m and m'."
#   Step 2 - First Side Score. "A trader has the following open orders:
#     * 100Q bid on m @ 0.49 (spread = 1 cent)
#     * 200Q bid on m @ 0.48 (spread = 2 cents)
#     * 100Q ask on m' @ 0.51 (spread = 1 cent)
#   Q_ne = ((3-1)/3)^2 * 100 + ((3-2)/3)^2 * 200 + ((3-1)/3)^2 * 100"
#   Step 3 - Second Side Score. "The same trader also has:
#     * 100Q bid on m @ 0.485 (spread = 1.5 cents)
#     * 100Q bid on m' @ 0.48 (spread = 2 cents)
#     * 200Q ask on m' @ 0.505 (spread = 0.5 cents)
#   Q_no = ((3-1.5)/3)^2 * 100 + ((3-2)/3)^2 * 100 + ((3-.5)/3)^2 * 200"
#   Steps 4-7. "Take the minimum of Q_ne and Q_no (with single-sided adjustment if midpoint is in [0.10, 0.90])"
#
# The doc prints the sums unevaluated; evaluated they are Q_ne = 400/9 + 200/9 + 400/9 = 1000/9 = 111.11 and
# Q_no = 25 + 100/9 + 1250/9 = 175 exactly. It gives no Q_min; Equation 4a on those two (mid 0.50 is inside
# [0.10, 0.90]) is max(min(111.11, 175), max(111.11/3, 175/3)) = 111.11.
#
# Conventions, converted: m is YES and m' is NO (the doc's "m' = market complement (i.e NO if m = YES)"); v is in
# cents in both the doc and RewardParams.max_spread_cents; "100Q" is 100 shares (100 * SH); prices are the doc's
# decimals in 1e-4 units via px_from_str; a price on m' is in NO's own terms, as RestingOrder.price is (the doc
# measures "ask on m' @ 0.51" as 1 cent from NO's midpoint 1 - 0.50); the example has no multiplier, so b = 1
# (the default); it states no min incentive size, so min_size = 0 (every order is >= 100 shares anyway).
#
# Where the doc contradicts itself: its Equation 3 defines Q_two = asks on m + bids on m', but two of Step 3's three
# orders, "bid on m @ 0.485" and "ask on m' @ 0.505", are bids on m and asks on m', which its Equation 2 (and its
# own Step 2, with "bid on m @ 0.49" and "ask on m' @ 0.51") puts in Q_one. The module follows Equations 2 and 3 (a
# NO ask at p is a YES bid at 1 - p: both buy YES), so every one of the doc's per-order terms is reproduced, but
# the Step 3 total lands 163.89 in Q_one and 11.11 in Q_two, not 175 in Q_two. The last test below scores all six orders by
# the equations.

DOC_MID = px_from_str("0.50")
DOC_PARAMS = RewardParams(max_spread_cents=3.0, min_size=0)
DOC_STEP2 = [  # (order, the doc's spread in cents, the doc's term)
    (RestingOrder(YES, BUY, px_from_str("0.49"), 100 * SH), 1.0, ((3 - 1) / 3) ** 2 * 100),
    (RestingOrder(YES, BUY, px_from_str("0.48"), 200 * SH), 2.0, ((3 - 2) / 3) ** 2 * 200),
    (RestingOrder(NO, SELL, px_from_str("0.51"), 100 * SH), 1.0, ((3 - 1) / 3) ** 2 * 100),
]
DOC_STEP3 = [
    (RestingOrder(YES, BUY, px_from_str("0.485"), 100 * SH), 1.5, ((3 - 1.5) / 3) ** 2 * 100),
    (RestingOrder(NO, BUY, px_from_str("0.48"), 100 * SH), 2.0, ((3 - 2) / 3) ** 2 * 100),
    (RestingOrder(NO, SELL, px_from_str("0.505"), 200 * SH), 0.5, ((3 - 0.5) / 3) ** 2 * 200),
]
DOC_Q_NE = 1000 / 9  # 111.11
DOC_Q_NO = 175.0


def test_docs_example_terms_evaluate_to_the_stated_totals() -> None:
    # The arithmetic of the doc's own expressions, so the constants above are the doc's and not ours.
    assert sum(term for _, _, term in DOC_STEP2) == pytest.approx(DOC_Q_NE)
    assert sum(term for _, _, term in DOC_STEP3) == pytest.approx(DOC_Q_NO)
    assert round(DOC_Q_NE, 2) == 111.11 and DOC_Q_NO == 175.0


def test_docs_example_step2_first_side_score() -> None:
    for order, spread_cents, term in DOC_STEP2:
        is_bid, yes_price = order.yes_terms()
        assert is_bid  # bids on m and asks on m' are book one
        assert (DOC_MID - yes_price) / 100 == pytest.approx(spread_cents)  # the doc's stated spread, in cents
        assert book_scores([order], DOC_MID, DOC_PARAMS) == (pytest.approx(term), 0.0)
    q_one, q_two = book_scores([o for o, _, _ in DOC_STEP2], DOC_MID, DOC_PARAMS)
    assert q_one == pytest.approx(DOC_Q_NE)  # 111.11
    assert q_two == 0.0


def test_docs_example_step3_terms_each_order_scores_the_docs_term() -> None:
    # Every term of the doc's Q_no is reproduced, order by order; the book each lands in follows Equations 2-3
    # (see the note above): the bid on m and the ask on m' are book one, only the bid on m' is book two.
    books = []
    for order, spread_cents, term in DOC_STEP3:
        one, two = book_scores([order], DOC_MID, DOC_PARAMS)
        assert one + two == pytest.approx(term)
        assert order_score(3.0, spread_cents) * order.size / SH == pytest.approx(term)
        books.append("one" if one else "two")
    assert books == ["one", "two", "one"]
    q_one, q_two = book_scores([o for o, _, _ in DOC_STEP3], DOC_MID, DOC_PARAMS)
    assert q_one + q_two == pytest.approx(DOC_Q_NO)  # 175, split 163.89 / 11.11
    assert (q_one, q_two) == (pytest.approx(25 + 1250 / 9), pytest.approx(100 / 9))


def test_docs_example_step4_q_min_of_the_docs_two_side_scores() -> None:
    # Equation 4a on the doc's Q_ne and Q_no at its midpoint of 0.50: the smaller side, 111.11, beats 175/3.
    assert q_min(DOC_Q_NE, DOC_Q_NO, DOC_MID) == pytest.approx(DOC_Q_NE)
    assert q_min(DOC_Q_NO, DOC_Q_NE, DOC_MID) == pytest.approx(DOC_Q_NE)


def test_docs_example_all_six_orders_follow_the_equations_not_the_step3_labels() -> None:
    # One trader holding all six orders, scored by the doc's Equations 2-3 (see the comment above on Step 3's
    # labels): Q_one = 111.11 + 25 + 138.89 = 275, Q_two = 11.11, and Q_min = max(11.11, 275 / 3) = 91.67.
    orders = [o for o, _, _ in DOC_STEP2 + DOC_STEP3]
    q_one, q_two = book_scores(orders, DOC_MID, DOC_PARAMS)
    assert (q_one, q_two) == (pytest.approx(275.0), pytest.approx(100 / 9))
    assert q_min(q_one, q_two, DOC_MID) == pytest.approx(275.0 / 3)
