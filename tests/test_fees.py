"""Taker fees: fee = shares x rate x (p(1-p))^exponent, half-up to 5 decimals, dust -> 0.

Expected values are computed independently with `Fraction`. Property tests run derandomized.
"""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.domain import CRYPTO_15M_FEES, FeeSchedule
from engine.units import ONE, SIZE_SCALE

PROP = settings(derandomize=True, deadline=None, max_examples=200)

S = SIZE_SCALE  # one share in size units
QUANT = Fraction(1, 100_000)


def expected_fee(rate: Decimal, exponent: int, px: int, qty: int) -> Decimal:
    """The documented rule, in exact rational arithmetic."""
    p = Fraction(px, ONE)
    raw = Fraction(qty, SIZE_SCALE) * Fraction(rate) * (p * (1 - p)) ** exponent
    if raw < QUANT:
        return Decimal(0)
    steps = int(raw / QUANT + Fraction(1, 2))  # half-up (raw >= 0)
    return Decimal(steps).scaleb(-5)


def test_sdk_vector() -> None:
    fees = FeeSchedule(rate=Decimal("0.25"), exponent=2)
    assert fees.taker_fee(5000, 100 * S) == Decimal("1.5625")
    assert CRYPTO_15M_FEES.taker_fee(5000, 100 * S) == Decimal("1.5625")


def test_crypto_15m_schedule() -> None:
    assert CRYPTO_15M_FEES.rate == Decimal("0.25") and CRYPTO_15M_FEES.exponent == 2
    assert CRYPTO_15M_FEES.taker_only
    # 100 shares at 0.30: 100 x 0.25 x 0.21^2 = 1.1025
    assert CRYPTO_15M_FEES.taker_fee(3000, 100 * S) == Decimal("1.1025")


@pytest.mark.parametrize(
    ("px", "qty", "fee"),
    [
        (5000, 100 * S, Decimal("1")),  # 100 x 0.04 x 0.25
        (3000, 50 * S, Decimal("0.42")),  # 50 x 0.04 x 0.21
        (100, 1 * S, Decimal("0.0004")),  # 0.04 x 0.0099 = 0.000396 -> 0.00040
        (9900, 1 * S, Decimal("0.0004")),
        (5000, 2_500, Decimal("0.00003")),  # raw 0.000025: half-UP, not half-even
        (5000, 3_500, Decimal("0.00004")),  # raw 0.000035
        (5000, 2_499, Decimal("0.00002")),  # raw 0.00002499
        (5000, 1_000, Decimal("0.00001")),  # raw exactly 0.00001 is kept
        (1234, 7_654_321, Decimal("0.03312")),  # 7.654321 x 0.04 x 0.1234 x 0.8766 = 0.033119463...
    ],
)
def test_exponent_one_rate_four_percent(px: int, qty: int, fee: Decimal) -> None:
    fees = FeeSchedule(rate=Decimal("0.04"), exponent=1)
    assert fees.taker_fee(px, qty) == fee
    assert fee == expected_fee(Decimal("0.04"), 1, px, qty)


@pytest.mark.parametrize("qty", [999, 600, 1, 0, -5 * S])
def test_dust_and_non_positive_fills_pay_nothing(qty: int) -> None:
    # raw 0.00000999 and 0.000006 are below 0.00001: zero, even though half-up would give 0.00001
    assert FeeSchedule(rate=Decimal("0.04"), exponent=1).taker_fee(5000, qty) == 0


def test_dust_threshold_at_extreme_price() -> None:
    # per share 0.25 x (0.001 x 0.999)^2 = 0.00000024950025
    assert CRYPTO_15M_FEES.taker_fee(10, 40 * S) == 0  # raw 0.00000998001
    assert CRYPTO_15M_FEES.taker_fee(10, 41 * S) == Decimal("0.00001")  # raw 0.00001022951025


@pytest.mark.parametrize("px", [0, ONE])
def test_certain_prices_pay_nothing(px: int) -> None:
    assert CRYPTO_15M_FEES.taker_fee(px, 1000 * S) == 0
    assert FeeSchedule(rate=Decimal("0.04"), exponent=1).taker_fee(px, 1000 * S) == 0


def test_zero_rate_pays_nothing() -> None:
    free = FeeSchedule()
    assert free.rate == 0
    assert free.taker_fee(5000, 10**12) == 0
    assert FeeSchedule(rate=Decimal(0), exponent=2).taker_fee(5000, 100 * S) == 0
    assert free.fee_per_share(5000) == 0.0


def test_fee_peaks_at_even_odds() -> None:
    fees = FeeSchedule(rate=Decimal("0.04"), exponent=1)
    at_half = fees.taker_fee(5000, 100 * S)
    assert all(fees.taker_fee(px, 100 * S) < at_half for px in (100, 2500, 4900, 5100, 9000))


def test_fee_per_share_examples() -> None:
    assert CRYPTO_15M_FEES.fee_per_share(5000) == pytest.approx(0.015625)
    assert FeeSchedule(rate=Decimal("0.04"), exponent=1).fee_per_share(3000) == pytest.approx(0.0084)
    assert CRYPTO_15M_FEES.fee_per_share(0) == 0.0


rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
exponents = st.sampled_from([1, 2])
prices = st.integers(min_value=0, max_value=ONE)
# Up to 1,000 shares: every product stays within Decimal's 28 digits, so the reference is exact.
quantities = st.integers(min_value=-10, max_value=1_000 * S)


@PROP
@given(rates, exponents, prices, quantities)
@example(Decimal("0.04"), 1, 5000, 2_500)
@example(Decimal("0.25"), 2, 5000, 100 * S)
def test_matches_exact_rule(rate: Decimal, exponent: int, px: int, qty: int) -> None:
    assert FeeSchedule(rate=rate, exponent=exponent).taker_fee(px, qty) == expected_fee(
        rate, exponent, px, qty
    )


@PROP
@given(rates, exponents, prices, quantities)
def test_symmetric_in_complement(rate: Decimal, exponent: int, px: int, qty: int) -> None:
    fees = FeeSchedule(rate=rate, exponent=exponent)
    assert fees.taker_fee(px, qty) == fees.taker_fee(ONE - px, qty)
    assert fees.fee_per_share(px) == pytest.approx(fees.fee_per_share(ONE - px), rel=1e-12, abs=1e-18)


@PROP
@given(rates, exponents, prices, quantities)
def test_at_most_five_decimals(rate: Decimal, exponent: int, px: int, qty: int) -> None:
    fee = FeeSchedule(rate=rate, exponent=exponent).taker_fee(px, qty)
    assert isinstance(fee, Decimal)
    assert fee == 0 or fee >= Decimal("0.00001")
    assert fee == fee.quantize(Decimal("0.00001"))
    assert fee.normalize().as_tuple().exponent >= -5


@PROP
@given(
    rates,
    exponents,
    prices,
    st.integers(min_value=0, max_value=1_000 * S),
    st.integers(min_value=0, max_value=S),
)
def test_monotonic_in_size(rate: Decimal, exponent: int, px: int, qty: int, more: int) -> None:
    fees = FeeSchedule(rate=rate, exponent=exponent)
    assert fees.taker_fee(px, qty) <= fees.taker_fee(px, qty + more)


@PROP
@given(rates, exponents, prices, st.integers(min_value=1, max_value=1_000 * S))
def test_fee_per_share_agrees_with_taker_fee(rate: Decimal, exponent: int, px: int, qty: int) -> None:
    fees = FeeSchedule(rate=rate, exponent=exponent)
    shares = qty / SIZE_SCALE
    per_share = fees.fee_per_share(px)
    assert per_share >= 0.0
    fee = fees.taker_fee(px, qty)
    model_total = per_share * shares
    if fee == 0:
        assert model_total < 0.00001 + 1e-12
    else:
        # The accounting fee is the model total rounded half-up to 5 decimals.
        assert abs(float(fee) - model_total) <= 0.000005 + 1e-9
        assert float(fee) / shares == pytest.approx(per_share, abs=0.000005 / shares + 1e-9)
