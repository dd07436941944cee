"""Exact price/size units: wire parsing and formatting, float intake, notional, tick math.

Prices are integers of 1e-4 USDC, sizes integers of 1e-6 shares (see ``engine.units``). Property
tests run derandomized so the suite is deterministic.
"""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.units import (
    ONE,
    PRICE_SCALE,
    SIZE_SCALE,
    VALID_TICKS,
    UnitError,
    ceil_to_tick,
    clamp_price,
    floor_size,
    floor_to_tick,
    is_valid_price,
    notional,
    px_dec,
    px_from_decimal,
    px_from_float,
    px_from_str,
    px_to_float,
    px_to_str,
    qty_dec,
    qty_from_decimal,
    qty_from_float,
    qty_from_str,
    qty_to_float,
    qty_to_str,
    round_price,
    tick_from_str,
)

PROP = settings(derandomize=True, deadline=None, max_examples=200)

prices = st.integers(min_value=0, max_value=ONE)
sizes = st.integers(min_value=0, max_value=10**15)
ticks = st.sampled_from(VALID_TICKS)


def test_scales() -> None:
    assert (PRICE_SCALE, SIZE_SCALE, ONE) == (10_000, 1_000_000, 10_000)


# --------------------------------------------------------------------------- prices on the wire


@pytest.mark.parametrize(
    ("text", "px"),
    [
        ("0.51", 5100),
        ("1", 10_000),
        ("1.0", 10_000),
        ("1.0000", 10_000),
        (".5", 5000),
        ("0.5", 5000),
        ("0.50", 5000),
        ("0.5000", 5000),
        ("0.50000000", 5000),  # trailing zeros beyond 4 decimals are still exact
        ("0", 0),
        ("0.0001", 1),
        ("0.001", 10),
        ("0.0025", 25),
        ("0.9999", 9999),
        ("1e-4", 1),
    ],
)
def test_px_from_str(text: str, px: int) -> None:
    assert px_from_str(text) == px
    assert px_from_str(text) == px  # second call goes through the cache


@pytest.mark.parametrize(
    "text", ["0.12345", "0.00001", "0.50001", "abc", "", "0.5.1", "NaN", "Infinity", "-Infinity"]
)
def test_px_from_str_rejects(text: str) -> None:
    with pytest.raises(UnitError):
        px_from_str(text)
    with pytest.raises(UnitError):  # a failure is never cached as a success
        px_from_str(text)


@pytest.mark.parametrize(
    ("px", "text"),
    [
        (5100, "0.51"),
        (10_000, "1"),
        (5000, "0.5"),
        (0, "0"),
        (1, "0.0001"),
        (10, "0.001"),
        (25, "0.0025"),
        (9999, "0.9999"),
        (1000, "0.1"),
        (20_000, "2"),
    ],
)
def test_px_to_str(px: int, text: str) -> None:
    assert px_to_str(px) == text


@PROP
@given(prices)
def test_px_str_round_trip(px: int) -> None:
    text = px_to_str(px)
    assert px_from_str(text) == px
    assert "e" not in text.lower()
    if "." in text:
        assert not text.endswith("0") and len(text.split(".")[1]) <= 4
    assert Decimal(text) == Decimal(px) / PRICE_SCALE


@PROP
@given(prices, st.integers(min_value=0, max_value=6))
def test_px_from_str_accepts_zero_padding(px: int, pad: int) -> None:
    padded = format(Decimal(px).scaleb(-4), "f") + "0" * pad  # always has 4 decimals, plus `pad` zeros
    assert px_from_str(padded) == px


def test_px_dec_and_float() -> None:
    assert px_dec(5100) == Decimal("0.51")
    assert px_dec(1) == Decimal("0.0001")
    assert px_to_float(5100) == 0.51
    assert qty_dec(1_930_000) == Decimal("1.93")
    assert qty_to_float(1_930_000) == 1.93


# --------------------------------------------------------------------------- sizes on the wire


@pytest.mark.parametrize(
    ("text", "qty"),
    [
        ("200", 200_000_000),
        ("514.99", 514_990_000),
        ("0.000001", 1),
        ("1.93", 1_930_000),
        ("1.930000", 1_930_000),
        ("1.9300000000", 1_930_000),  # zero padding past 6 decimals is exact
        ("1.1234560", 1_123_456),
        (".5", 500_000),
        ("5.", 5_000_000),
        ("0", 0),
        ("0.0", 0),
        ("007.25", 7_250_000),
        ("123456789.123456", 123_456_789_123_456),
        ("-1.5", -1_500_000),
        ("+2", 2_000_000),
    ],
)
def test_qty_from_str(text: str, qty: int) -> None:
    assert qty_from_str(text) == qty


@pytest.mark.parametrize("text", ["0.0000001", "1.1234567", "1.12345670", "0.0000000001"])
def test_qty_from_str_rejects_seventh_decimal(text: str) -> None:
    with pytest.raises(UnitError, match="more than 6 decimals"):
        qty_from_str(text)


@pytest.mark.parametrize(
    "text", ["", ".", "-", "abc", "1e3", "1.2.3", "1.5_0", "1_000", "1.-5", "-1.-5", " 1.5", "1.5 ", "--1"]
)
def test_qty_from_str_rejects_garbage(text: str) -> None:
    with pytest.raises(UnitError, match="not a decimal number"):
        qty_from_str(text)


@PROP
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_qty_str_round_trip(qty: int) -> None:
    text = qty_to_str(qty)
    assert qty_from_str(text) == qty
    assert "e" not in text.lower()
    if "." in text:
        assert not text.endswith("0") and len(text.split(".")[1]) <= 6
    assert Decimal(text) == Decimal(qty) / SIZE_SCALE


@PROP
@given(sizes, st.integers(min_value=0, max_value=8))
def test_qty_from_str_accepts_zero_padding(qty: int, pad: int) -> None:
    whole, frac = divmod(qty, SIZE_SCALE)
    assert qty_from_str(f"{whole}.{frac:06d}{'0' * pad}") == qty


@PROP
@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_qty_from_str_agrees_with_decimal(value: Decimal) -> None:
    assert qty_from_str(format(value, "f")) == int(value * SIZE_SCALE)


# --------------------------------------------------------------------------- floats and decimals


@pytest.mark.parametrize(
    ("value", "px"),
    [
        (0.51, 5100),
        (0.1, 1000),
        (0.0001, 1),
        (1.0, 10_000),
        (0.0, 0),
        (0.1 + 0.2, 3000),
        (0.57, 5700),
        (0.29, 2900),
    ],
)
def test_px_from_float(value: float, px: int) -> None:
    assert px_from_float(value) == px


@pytest.mark.parametrize("value", [0.12345, 0.00005, 0.51001, 0.333333])
def test_px_from_float_rejects_off_grid(value: float) -> None:
    with pytest.raises(UnitError):
        px_from_float(value)


@PROP
@given(prices)
def test_px_from_float_round_trip(px: int) -> None:
    assert px_from_float(px / PRICE_SCALE) == px
    assert px_from_float(float(px_to_str(px))) == px  # what a JSON recorder writes


def test_qty_from_float_absorbs_noise() -> None:
    assert qty_from_float(1.9300000000000002) == 1_930_000
    assert qty_from_float(514.99) == 514_990_000
    assert qty_from_float(0.000001) == 1
    assert qty_from_float(0.0) == 0


@PROP
@given(st.integers(min_value=0, max_value=10**12))
def test_qty_from_float_round_trip(qty: int) -> None:
    assert qty_from_float(qty / SIZE_SCALE) == qty


def test_from_decimal() -> None:
    assert px_from_decimal(Decimal("0.51")) == 5100
    assert px_from_decimal(Decimal("0.510000")) == 5100
    assert qty_from_decimal(Decimal("1.93")) == 1_930_000
    with pytest.raises(UnitError):
        px_from_decimal(Decimal("0.00005"))
    with pytest.raises(UnitError):
        qty_from_decimal(Decimal("0.0000005"))


# --------------------------------------------------------------------------- notional


def test_notional_examples() -> None:
    assert notional(5100, 1_930_000) == Decimal("0.9843")
    assert notional(1, 1) == Decimal("0.0000000001")
    assert notional(ONE, 100 * SIZE_SCALE) == Decimal(100)
    assert notional(3333, 3 * SIZE_SCALE) == Decimal("0.9999")
    assert notional(0, 10**12) == 0


@PROP
@given(prices, sizes)
def test_notional_exact(px: int, qty: int) -> None:
    value = notional(px, qty)
    assert Fraction(value) == Fraction(px, PRICE_SCALE) * Fraction(qty, SIZE_SCALE)
    assert value == px_dec(px) * qty_dec(qty)


# --------------------------------------------------------------------------- ticks


@pytest.mark.parametrize(
    ("text", "tick"),
    [
        ("0.1", 1000),
        ("0.01", 100),
        ("0.005", 50),
        ("0.0025", 25),
        ("0.001", 10),
        ("0.0001", 1),
        ("0.010", 100),
    ],
)
def test_tick_from_str(text: str, tick: int) -> None:
    assert tick_from_str(text) == tick


@pytest.mark.parametrize("text", ["0.02", "0.05", "0.002", "1", "0", "0.5", "0.00001", "tick"])
def test_tick_from_str_rejects(text: str) -> None:
    with pytest.raises(UnitError):
        tick_from_str(text)


def test_valid_ticks_divide_one() -> None:
    for tick in VALID_TICKS:
        assert ONE % tick == 0
        assert tick_from_str(px_to_str(tick)) == tick


@pytest.mark.parametrize(
    ("px", "tick", "floor", "ceil"),
    [
        (5150, 100, 5100, 5200),
        (5100, 100, 5100, 5100),
        (5149, 50, 5100, 5150),
        (5126, 25, 5125, 5150),
        (1, 1000, 0, 1000),
        (0, 100, 0, 0),
        (-50, 100, -100, 0),
        (10_050, 100, 10_000, 10_100),
    ],
)
def test_floor_ceil_examples(px: int, tick: int, floor: int, ceil: int) -> None:
    assert floor_to_tick(px, tick) == floor
    assert ceil_to_tick(px, tick) == ceil


@PROP
@given(st.integers(min_value=-(2 * ONE), max_value=2 * ONE), ticks)
def test_floor_ceil_bracket(px: int, tick: int) -> None:
    lo, hi = floor_to_tick(px, tick), ceil_to_tick(px, tick)
    assert lo % tick == 0 and hi % tick == 0
    assert lo <= px <= hi
    assert hi - lo == (0 if px % tick == 0 else tick)


@pytest.mark.parametrize(
    ("price", "tick", "buy", "expected"),
    [
        (0.515, 100, True, 5100),
        (0.515, 100, False, 5200),
        (0.51, 100, True, 5100),
        (0.51, 100, False, 5100),  # the float's shortest repr is exact: no spurious tick up
        (0.57, 100, False, 5700),
        (Decimal("0.5125"), 25, True, 5125),
        (Decimal("0.5125"), 25, False, 5125),
        (Decimal("0.51249"), 25, True, 5100),
        (Decimal("0.51251"), 25, False, 5150),
        (0.5123, 1, True, 5123),
        (-0.3, 100, True, 100),  # clamped up into range
        (-0.3, 100, False, 100),
        (1.7, 100, True, 9900),  # clamped down into range
        (1.7, 100, False, 9900),
        (0.0, 100, False, 100),
        (1.0, 100, True, 9900),
        (0.05, 1000, True, 1000),  # floors to 0, then clamps to the first tick
        (0.96, 1000, False, 9000),  # ceils to 1, then clamps to the last tick
        (0.9951, 50, False, 9950),
        (0.0049, 50, True, 50),
        (Decimal("0.0001"), 1, True, 1),
        (Decimal("0.9999"), 1, False, 9999),
    ],
)
def test_round_price_examples(price: float | Decimal, tick: int, buy: bool, expected: int) -> None:
    assert round_price(price, tick, side_is_buy=buy) == expected


model_prices = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-0.1, max_value=1.1),
    st.decimals(min_value=-5, max_value=5, places=8, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    # exactly on or a hair either side of a fine grid point
    st.builds(
        lambda u, d: Decimal(u).scaleb(-4) + Decimal(d).scaleb(-9),
        st.integers(min_value=-10, max_value=ONE + 10),
        st.integers(min_value=-1, max_value=1),
    ),
)


@PROP
@given(model_prices, ticks, st.booleans())
@example(0.0, 1000, True)
@example(1.0, 1000, False)
@example(Decimal("-0.5"), 25, False)
@example(1e300, 1, True)
@example(-1e300, 1, False)
@example(5e-324, 100, False)
def test_round_price_on_tick_and_in_range(price: float | Decimal, tick: int, buy: bool) -> None:
    px = round_price(price, tick, side_is_buy=buy)
    assert isinstance(px, int)
    assert px % tick == 0
    assert tick <= px <= ONE - tick
    assert is_valid_price(px, tick)
    # Direction: floats are read at their shortest repr, as the function documents.
    exact = Fraction(Decimal(str(price)) if isinstance(price, float) else price) * PRICE_SCALE
    if exact < tick:
        assert px == tick
    elif exact > ONE - tick:
        assert px == ONE - tick
    elif buy:  # never pays more than the model price, and loses less than a tick
        assert px <= exact < px + tick
    else:  # never sells below the model price, and gives up less than a tick
        assert px - tick < exact <= px


@PROP
@given(st.integers(min_value=-ONE, max_value=2 * ONE), ticks)
def test_is_valid_price_matches_rounding_fixpoint(px: int, tick: int) -> None:
    valid = is_valid_price(px, tick)
    assert valid == (px % tick == 0 and tick <= px <= ONE - tick)
    as_decimal = px_dec(px)
    fixed = (
        round_price(as_decimal, tick, side_is_buy=True)
        == px
        == round_price(as_decimal, tick, side_is_buy=False)
    )
    assert valid == fixed


@pytest.mark.parametrize(
    ("px", "tick", "valid"),
    [
        (5100, 100, True),
        (5150, 100, False),
        (5150, 50, True),
        (5125, 25, True),
        (5110, 25, False),
        (0, 100, False),
        (100, 100, True),
        (9900, 100, True),
        (10_000, 100, False),
        (1, 1, True),
        (9999, 1, True),
        (10_000, 1, False),
        (-100, 100, False),
        (9000, 1000, True),
        (9500, 1000, False),
    ],
)
def test_is_valid_price_examples(px: int, tick: int, valid: bool) -> None:
    assert is_valid_price(px, tick) is valid


def test_clamp_price() -> None:
    assert clamp_price(0, 100) == 100
    assert clamp_price(-5, 25) == 25
    assert clamp_price(10_000, 100) == 9900
    assert clamp_price(5000, 100) == 5000
    assert clamp_price(9999, 1) == 9999


# --------------------------------------------------------------------------- sizes for orders


@pytest.mark.parametrize(
    ("qty", "decimals", "expected"),
    [
        (1_234_567, 2, 1_230_000),
        (1_239_999, 2, 1_230_000),
        (1_230_000, 2, 1_230_000),
        (9_999, 2, 0),
        (10_000, 2, 10_000),
        (1_234_567, 0, 1_000_000),
        (1_234_567, 6, 1_234_567),
        (1_234_567, 4, 1_234_500),
    ],
)
def test_floor_size_examples(qty: int, decimals: int, expected: int) -> None:
    assert floor_size(qty, decimals) == expected


def test_floor_size_defaults_to_two_decimals() -> None:
    assert floor_size(5_555_555) == 5_550_000


@PROP
@given(sizes)
def test_floor_size_two_decimals(qty: int) -> None:
    out = floor_size(qty)
    assert out <= qty < out + 10_000
    assert out % 10_000 == 0
    assert floor_size(out) == out
    text = qty_to_str(out)
    assert "." not in text or len(text.split(".")[1]) <= 2
