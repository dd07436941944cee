"""The market maker's quote arithmetic: skew direction, the inventory cap, the grid and (0, 1), the reward band."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.strategies.mm_quotes import QuoteParams, half_spread, inventory_shift, quote
from engine.units import ONE

SH = 1_000_000
TICK = 100  # 0.01
P = QuoteParams(base_half_spread=200, skew=1.0, size=20 * SH, max_inventory=100 * SH)


def test_long_yes_lowers_both_quotes_and_long_no_raises_them() -> None:
    flat = quote(5_000, 0, P, TICK, 200)
    long_yes = quote(5_000, 50 * SH, P, TICK, 200)
    long_no = quote(5_000, -50 * SH, P, TICK, 200)
    assert (flat.bid, flat.ask) == (4_800, 5_200)
    assert long_yes.bid < flat.bid and long_yes.ask < flat.ask and long_yes.shift < 0
    assert long_no.bid > flat.bid and long_no.ask > flat.ask and long_no.shift > 0
    assert inventory_shift(100 * SH, P, 200) == -200 == -inventory_shift(-100 * SH, P, 200)
    assert inventory_shift(500 * SH, P, 200) == -200  # beyond the cap: the full shift, no more


def test_the_side_that_would_grow_inventory_shrinks_to_zero_at_the_cap() -> None:
    near = quote(5_000, 90 * SH, P, TICK, 200)
    assert near.bid_size == 10 * SH and near.ask_size == 20 * SH  # only 10 more YES may be bought
    at = quote(5_000, 100 * SH, P, TICK, 200)
    assert at.bid_size == 0 and at.ask_size == 20 * SH
    short = quote(5_000, -100 * SH, P, TICK, 200)
    assert short.ask_size == 0 and short.bid_size == 20 * SH


def test_half_spread_is_at_least_a_tick_and_inside_the_reward_band() -> None:
    assert half_spread(QuoteParams(base_half_spread=0), 0.0, 0.0, TICK, None) == TICK
    wide = QuoteParams(base_half_spread=200, k_vol=10.0, k_tox=1_000.0)
    assert half_spread(wide, 20.0, 0.5, TICK, None) == 200 + 200 + 500
    assert half_spread(wide, 20.0, 0.5, TICK, 350) == 250  # kept a tick inside a 3.5c band
    # A band no wider than a tick cannot be met on the grid: the rewards are out of reach, the width stands.
    assert half_spread(wide, 20.0, 0.5, TICK, 100) == 900


@given(
    fair=st.integers(min_value=1, max_value=ONE - 1),
    net=st.integers(min_value=-300 * SH, max_value=300 * SH),
    half=st.integers(min_value=TICK, max_value=3_000),
)
def test_quotes_stay_on_the_grid_inside_tick_and_one_minus_tick_bid_below_ask(
    fair: int, net: int, half: int
) -> None:
    q = quote(fair, net, P, TICK, half)
    assert TICK <= q.bid < q.ask <= ONE - TICK
    assert q.bid % TICK == 0 and q.ask % TICK == 0
    assert 0 <= q.bid_size <= P.size and 0 <= q.ask_size <= P.size


def test_params_refuse_negative_values() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        QuoteParams(base_half_spread=-1)
