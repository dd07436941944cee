"""Order amount math (protocol notes §4.2), cross-checked against the official SDK's order builder."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polymarket._internal.actions.orders.limit import _compute_limit_order_amounts
from polymarket._internal.actions.orders.market import _compute_market_order_amounts

from engine.domain import Side
from engine.venues.polymarket.clob.amounts import (
    BUY,
    ROUNDING,
    SELL,
    TICK_SIZES,
    AmountError,
    check_price,
    is_on_tick,
    limit_amounts,
    market_amounts,
    price_size_from_amounts,
    rounding_config,
)

D = Decimal


def test_rounding_table() -> None:
    assert {str(t): tuple(c) for t, c in ROUNDING.items()} == {
        "0.1": (1, 2, 3),
        "0.01": (2, 2, 4),
        "0.005": (3, 2, 5),
        "0.0025": (4, 2, 6),
        "0.001": (3, 2, 5),
        "0.0001": (4, 2, 6),
    }
    assert rounding_config(0.001) == rounding_config("0.001") == rounding_config(D("0.0010"))
    with pytest.raises(AmountError, match="tick must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001"):
        rounding_config(D("0.02"))


def test_kat_limit_buy() -> None:
    # The §3.4 order: BUY 100 shares at 0.50 -> 50 USDC for 100 shares.
    assert limit_amounts(BUY, D("0.5"), D("100"), D("0.01")) == (50_000_000, 100_000_000)
    assert limit_amounts("SELL", D("0.5"), D("100"), D("0.01")) == (100_000_000, 50_000_000)
    assert limit_amounts(Side.BUY, "0.0025", "10.129", "0.0025") == (
        25_300,
        10_120_000,
    )  # size floors to 2 dp
    assert price_size_from_amounts(BUY, 50_000_000, 100_000_000) == (D("0.5"), D("100"))
    assert price_size_from_amounts(SELL, 100_000_000, 50_000_000) == (D("0.5"), D("100"))


def test_kat_market() -> None:
    # BUY $10 at 0.3: 33.3333 shares (4 dp on a 0.01 tick), rounded down so the price stays >= 0.30.
    maker, taker = market_amounts(BUY, D("10"), D("0.3"), D("0.01"))
    assert (maker, taker) == (10_000_000, 33_333_300)
    price, _ = price_size_from_amounts(BUY, maker, taker)
    assert price >= D("0.3")
    # Price is rounded down to the tick's decimals first (V2; V1 rounded to nearest).
    assert market_amounts(BUY, D("10"), D("0.309"), D("0.01")) == (10_000_000, 33_333_300)
    assert market_amounts(SELL, D("12.345"), D("0.42"), D("0.01")) == (12_340_000, 5_182_800)


def test_is_on_tick_and_check_price() -> None:
    assert is_on_tick(D("0.01"), D("0.01")) and is_on_tick(D("0.99"), D("0.01"))
    assert is_on_tick("0.0075", "0.0025")
    assert not is_on_tick(D("0.015"), D("0.01"))
    assert not is_on_tick(D("0"), D("0.01")) and not is_on_tick(D("1"), D("0.01"))
    assert not is_on_tick("abc", "0.01")
    with pytest.raises(AmountError, match=r"price must be between 0.01 and 0.99 for tick 0.01, got 1"):
        check_price(D("1"), D("0.01"))
    with pytest.raises(AmountError, match=r"price 0.015 is not a multiple of tick 0.01"):
        check_price(D("0.015"), D("0.01"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: limit_amounts(BUY, D("0.5"), D("0.004"), D("0.01")), "size must be at least 0.01 shares"),
        (lambda: limit_amounts(BUY, D("0.5"), D("-1"), D("0.01")), "size must be positive"),
        (
            lambda: limit_amounts(BUY, 0.5, D("1"), D("0.01")),
            "price must be a Decimal, int or str, not a float",
        ),
        (lambda: limit_amounts(BUY, D("0.5"), D("NaN"), D("0.01")), "size must be a finite number"),
        (lambda: limit_amounts(BUY, "x", D("1"), D("0.01")), "price must be a decimal number"),
        (
            lambda: limit_amounts(BUY, D("0.505"), D("1"), D("0.01")),
            "price 0.505 is not a multiple of tick 0.01",
        ),
        (lambda: limit_amounts("HOLD", D("0.5"), D("1"), D("0.01")), "side must be BUY"),
        (lambda: limit_amounts(BUY, D("0.5"), D("1"), D("0.03")), "tick must be one of"),
        (lambda: market_amounts(BUY, D("0.001"), D("0.5"), D("0.01")), "amount must be at least 0.01 USDC"),
        (lambda: market_amounts(SELL, D("0"), D("0.5"), D("0.01")), "amount must be positive (shares)"),
        (lambda: market_amounts(BUY, D("1"), D("0.009"), D("0.01")), "price must be between 0.01 and 0.99"),
        (lambda: market_amounts(BUY, D("1"), D("0"), D("0.01")), "price must be positive"),
        (lambda: price_size_from_amounts(BUY, 0, 5), "maker_amount must be a positive int"),
        (lambda: price_size_from_amounts(SELL, 5, True), "taker_amount must be a positive int"),
    ],
)
def test_errors_name_the_field(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AmountError) as err:
        call()
    assert message in str(err.value)


# --- cross-check with the SDK ------------------------------------------------------------------

ticks = st.sampled_from(TICK_SIZES)
sides = st.sampled_from(("BUY", "SELL"))
# Sizes with up to 6 decimals (more than the 2 kept) from 0.01 to 10M shares.
sizes = st.builds(lambda n, e: D(n).scaleb(-e), st.integers(1, 10**9), st.integers(0, 6)).filter(
    lambda s: s >= D("0.01")
)


@st.composite
def on_tick_prices(draw: st.DrawFn, tick: Decimal) -> Decimal:
    steps = int((1 - tick) / tick)
    return tick * draw(st.integers(1, steps))


@given(st.data(), ticks, sides, sizes)
@settings(max_examples=400, deadline=None)
def test_limit_amounts_equal_sdk(data: st.DataObject, tick: Decimal, side: str, size: Decimal) -> None:
    price = data.draw(on_tick_prices(tick))
    ours = limit_amounts(side, price, size, tick)
    assert ours == _compute_limit_order_amounts(price=price, size=size, side=side, tick_size=tick)  # type: ignore[arg-type]
    # The exchange reads the price back exactly and the size floored to 2 dp.
    back_price, back_size = price_size_from_amounts(side, *ours)
    assert back_price == price
    assert back_size == size.quantize(D("0.01"), rounding="ROUND_FLOOR")


@given(ticks, sides, sizes, st.integers(1, 999_999).map(lambda n: D(n).scaleb(-6)))
@settings(max_examples=400, deadline=None)
def test_market_amounts_equal_sdk(tick: Decimal, side: str, amount: Decimal, price: Decimal) -> None:
    try:
        ours = market_amounts(side, amount, price, tick)
    except AmountError:
        # We refuse a price that rounds off the [tick, 1 - tick] band; the SDK would send it.
        cfg = ROUNDING[tick]
        rounded = price.quantize(D(1).scaleb(-cfg.price), rounding="ROUND_FLOOR")
        assert not tick <= rounded <= 1 - tick
        return
    assert ours == _compute_market_order_amounts(amount=amount, price=price, side=side, tick_size=tick)  # type: ignore[arg-type]
    if side == "BUY":
        # Shares are rounded down, so the implied price never drops below the limit price.
        implied, _ = price_size_from_amounts(side, *ours)
        assert implied >= price.quantize(D(1).scaleb(-ROUNDING[tick].price), rounding="ROUND_FLOOR")
