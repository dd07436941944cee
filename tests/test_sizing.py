"""Kelly sizing behind gates (`engine/risk/sizing.py`).

Books are YES books in price units (1e-4) and micro-shares. Hand-computed cases use prices whose floats
are exact (0.5, 0.546875, ...) so each threshold can be hit exactly and missed by one float step.
Expected Kelly sizes are computed independently with `Fraction`. Property tests run derandomized.
"""

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book import OrderBook
from engine.domain import Estimate, FeeSchedule, Market, OrderType, Outcome, Side
from engine.risk.sizing import Exposure, Gate, SizingLimits, SizingResult, size_trade
from engine.units import ONE, SIZE_SCALE, notional

PROP = settings(derandomize=True, deadline=None, max_examples=300)

S = SIZE_SCALE  # one share in size units
CENT = S // 100  # order sizes are multiples of 0.01 shares
FEES = FeeSchedule(rate=Decimal("0.25"), exponent=2)


def make_market(fees: FeeSchedule = FEES) -> Market:
    return Market(
        condition_id="0x" + "ab" * 32,
        question="q",
        slug="s",
        yes_token="1",
        no_token="2",
        tick=100,
        min_order_size=5_000_000,
        fees=fees,
    )


FEE_MKT = make_market()
FREE_MKT = make_market(FeeSchedule())

ALL_GATES = [
    "ci_width",
    "edge",
    "depth",
    "kelly",
    "position_cap",
    "bankroll",
    "depth_share",
    "slippage",
    "cluster_cap",
    "aggregate_cap",
    "min_size",
    "min_notional",
]


def make_book(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook()
    book.replace(bids, asks, 1)
    return book


def exposure(
    free_cash: float | str = "1000",
    *,
    bankroll: str = "1000",
    market: str = "0",
    cluster: str = "0",
    aggregate: str = "0",
    held: dict[Outcome, int] | None = None,
) -> Exposure:
    return Exposure(
        bankroll=Decimal(bankroll),
        free_cash=Decimal(str(free_cash)),
        market=Decimal(market),
        cluster=Decimal(cluster),
        aggregate=Decimal(aggregate),
        held=held or {},
    )


def est(lo: float, hi: float) -> Estimate:
    return Estimate("test", (lo + hi) / 2, lo, hi)


def gate(result: SizingResult, name: str) -> Gate:
    found = [g for g in result.gates if g.name == name]
    assert len(found) == 1, (name, result.gates)
    return found[0]


def kelly_shares(
    q: float,
    px: int,
    fees: FeeSchedule,
    *,
    fraction: Fraction = Fraction(1, 4),
    bankroll: int = 1000,
    room: Fraction | None = None,
) -> int:
    """The documented rule in exact arithmetic: stake = fraction x (q - cost)/(1 - cost) x bankroll with
    cost = price + fee per share, capped by `room` USDC; shares = stake / cost floored to 0.01."""
    p = Fraction(px, ONE)
    cost = p + Fraction(fees.rate) * (p * (1 - p)) ** fees.exponent
    stake = fraction * (Fraction(q) - cost) / (1 - cost) * bankroll
    if room is not None:
        stake = min(stake, room)
    return math.floor(stake / cost * 100) * CENT


# A deep, calm book around 0.495: depth 0.49 x 3000 + 0.50 x 3000 = 2970 USDC.
STD_BIDS = [(4900, 3000 * S)]
STD_ASKS = [(5000, 3000 * S)]
# At the 0.50 ask the fee is 0.25 x 0.25^2 = 0.015625, so the cost per share is 0.515625 = 33/64.
COST_50 = 0.515625
# ci_low 0.703125 = 45/64: full Kelly (45/64 - 33/64)/(31/64) = 12/31, stake 250 x 12/31 = 96.774 USDC,
# 187.683 shares -> 187.68.
KELLY_EST = est(0.703125, 0.8)
KELLY_SIZE = 187_680_000


# --- ci_width -------------------------------------------------------------------------------------


def test_ci_width_exactly_at_max_passes() -> None:
    limits = SizingLimits(max_ci_width=0.375)
    r = size_trade(est(0.5625, 0.9375), make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), limits)
    g = r.gates[0]
    assert (g.name, g.value, g.threshold, g.passed) == ("ci_width", 0.375, 0.375, True)
    assert r.ok and r.reason == "OK"


def test_ci_width_a_hair_above_max_skips() -> None:
    limits = SizingLimits(max_ci_width=0.375)
    r = size_trade(
        est(0.5625, math.nextafter(0.9375, 1)), make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), limits
    )
    assert not r.ok and r.reason == "SKIP_CI_TOO_WIDE"
    assert [g.name for g in r.gates] == ["ci_width"] and not r.gates[0].passed
    assert r.gates[0].value > 0.375 and r.candidate is None and r.size == 0


# --- edge and the choice of candidate ------------------------------------------------------------


def test_taker_edge_formula_yes() -> None:
    book = make_book([(4800, 3000 * S)], [(5200, 3000 * S)])
    r = size_trade(est(0.6, 0.7), book, FEE_MKT, exposure(), SizingLimits())
    c = r.candidate
    fee = 0.25 * (0.52 * 0.48) ** 2
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.liquidity, c.price) == (Outcome.YES, Side.BUY, "TAKER", 5200)
    assert c.fee_per_share == pytest.approx(fee, abs=1e-15)
    assert c.edge_cons == pytest.approx(0.6 - 0.52 - fee, abs=1e-12)
    assert c.edge_point == pytest.approx(0.65 - 0.52 - fee, abs=1e-12)
    assert gate(r, "edge").value == c.edge_cons


def test_edge_exactly_min_edge_passes_yes() -> None:
    # ci_low 0.546875 - ask 0.5 - fee 0.015625 = 0.03125 exactly.
    limits = SizingLimits(min_edge=0.03125, allow_maker=False)
    r = size_trade(est(0.546875, 0.65), make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), limits)
    assert r.ok and r.candidate is not None
    assert r.candidate.edge_cons == 0.03125
    g = gate(r, "edge")
    assert (g.value, g.threshold, g.passed) == (0.03125, 0.03125, True)


def test_edge_just_below_min_edge_skips_yes() -> None:
    limits = SizingLimits(min_edge=0.03125, allow_maker=False)
    r = size_trade(
        est(math.nextafter(0.546875, 0), 0.65), make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), limits
    )
    assert not r.ok and r.reason == "SKIP_NO_EDGE"
    assert r.deciding is not None and r.deciding.name == "edge" and not r.deciding.passed
    assert r.candidate is not None and r.candidate.edge_cons < 0.03125
    assert [g.name for g in r.gates] == ["ci_width", "edge"]


def test_edge_exactly_min_edge_passes_no() -> None:
    # NO: (1 - ci_high) - (1 - best bid) - fee = 0.546875 - 0.5 - 0.015625 = 0.03125.
    book = make_book([(5000, 3000 * S)], [(5100, 3000 * S)])
    limits = SizingLimits(min_edge=0.03125, allow_maker=False)
    r = size_trade(est(0.3, 0.453125), book, FEE_MKT, exposure(), limits)
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.liquidity, c.price) == (Outcome.NO, Side.BUY, "TAKER", 5000)
    assert c.edge_cons == 0.03125 and c.q_cons == 0.546875


def test_edge_just_below_min_edge_skips_no() -> None:
    book = make_book([(5000, 3000 * S)], [(5100, 3000 * S)])
    limits = SizingLimits(min_edge=0.03125, allow_maker=False)
    # 1 - nextafter(0.453125, 1) rounds back to 0.546875; step the NO bound itself down by one float instead.
    r = size_trade(est(0.3, 1 - math.nextafter(0.546875, 0)), book, FEE_MKT, exposure(), limits)
    assert not r.ok and r.reason == "SKIP_NO_EDGE"
    assert r.candidate is not None and r.candidate.outcome is Outcome.NO and r.candidate.edge_cons < 0.03125


def test_taker_preferred_when_it_clears_min_edge_though_maker_edge_is_larger() -> None:
    book = make_book([(4800, 3000 * S)], [(5200, 3000 * S)])
    fee = FEES.fee_per_share(5200)
    taker_edge, maker_edge = 0.56 - 0.52 - fee, 0.56 - 0.48
    assert 0.02 <= taker_edge < maker_edge
    r = size_trade(est(0.56, 0.66), book, FEE_MKT, exposure(), SizingLimits())
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.liquidity, c.price) == (Outcome.YES, "TAKER", 5200)
    assert r.order_type is OrderType.FAK and not r.post_only
    assert [g.name for g in r.gates] == ALL_GATES


def test_maker_chosen_when_only_maker_edge_clears() -> None:
    book = make_book([(4800, 3000 * S)], [(5200, 3000 * S)])
    assert 0.55 - 0.52 - FEES.fee_per_share(5200) < 0.02  # the taker does not clear
    r = size_trade(est(0.55, 0.65), book, FEE_MKT, exposure(), SizingLimits())
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.liquidity, c.price, c.fee_per_share) == (
        Outcome.YES,
        Side.BUY,
        "MAKER",
        4800,
        0.0,
    )
    assert c.edge_cons == pytest.approx(0.07, abs=1e-12)
    assert r.order_type is OrderType.GTC and r.post_only and r.limit_price == 4800
    assert "slippage" not in [g.name for g in r.gates] and "min_notional" not in [g.name for g in r.gates]
    # Maker Kelly has no fee: (0.55 - 0.48)/0.52 x 250 = 33.65 USDC -> 70.11 shares.
    assert r.size == kelly_shares(0.55, 4800, FeeSchedule())


def test_maker_on_no_side_posts_at_the_no_bid() -> None:
    book = make_book([(4800, 3000 * S)], [(5200, 3000 * S)])
    r = size_trade(est(0.35, 0.45), book, FEE_MKT, exposure(), SizingLimits())
    c = r.candidate
    assert r.ok and c is not None
    # NO bid = 1 - YES ask 0.52.
    assert (c.outcome, c.liquidity, c.price) == (Outcome.NO, "MAKER", 4800)
    assert r.limit_price == book.view(Outcome.NO).best_bid == 4800
    assert r.order_type is OrderType.GTC and r.post_only


def test_no_taker_chosen_when_estimate_is_below_the_bid() -> None:
    book = make_book([(4800, 3000 * S)], [(5200, 3000 * S)])
    r = size_trade(est(0.30, 0.40), book, FEE_MKT, exposure(), SizingLimits())
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.liquidity, c.price) == (Outcome.NO, Side.BUY, "TAKER", 5200)
    assert c.edge_cons == pytest.approx(0.60 - 0.52 - FEES.fee_per_share(5200), abs=1e-12)
    assert r.limit_price == 5200 and r.order_type is OrderType.FAK
    assert r.size == kelly_shares(0.60, 5200, FEES)


def test_empty_book_has_no_candidate() -> None:
    r = size_trade(est(0.4, 0.6), make_book([], []), FEE_MKT, exposure(), SizingLimits())
    assert not r.ok and r.reason == "SKIP_NO_BOOK" and r.candidate is None


# --- depth ----------------------------------------------------------------------------------------

# Mid 0.50. Inside the default band (0.05): 0.49 x 1000 + 0.51 x 1000 = 1000 USDC exactly; 0.60 x 10000
# sits exactly 0.10 (1000 units) from the mid.
DEPTH_BIDS = [(4900, 1000 * S)]
DEPTH_ASKS = [(5100, 1000 * S), (6000, 10_000 * S)]


def test_depth_exactly_at_min_passes() -> None:
    r = size_trade(
        est(0.6, 0.7),
        make_book(DEPTH_BIDS, DEPTH_ASKS),
        FEE_MKT,
        exposure(),
        SizingLimits(min_depth_usdc=1000.0),
    )
    g = gate(r, "depth")
    assert (g.value, g.threshold, g.passed) == (1000.0, 1000.0, True)
    assert r.ok


def test_depth_just_below_min_skips() -> None:
    limits = SizingLimits(min_depth_usdc=math.nextafter(1000.0, 2000))
    r = size_trade(est(0.6, 0.7), make_book(DEPTH_BIDS, DEPTH_ASKS), FEE_MKT, exposure(), limits)
    assert not r.ok and r.reason == "SKIP_THIN_BOOK"
    assert r.deciding is not None and r.deciding.name == "depth" and r.deciding.value == 1000.0


def test_depth_band_edge_counts_on_the_band_and_not_beyond() -> None:
    book = make_book(DEPTH_BIDS, DEPTH_ASKS)
    inside = size_trade(
        est(0.6, 0.7), book, FEE_MKT, exposure(), SizingLimits(min_depth_usdc=7000, depth_band=1000)
    )
    assert inside.ok and gate(inside, "depth").value == 7000.0
    outside = size_trade(
        est(0.6, 0.7), book, FEE_MKT, exposure(), SizingLimits(min_depth_usdc=7000, depth_band=999)
    )
    assert outside.reason == "SKIP_THIN_BOOK" and gate(outside, "depth").value == 1000.0


# --- Kelly ----------------------------------------------------------------------------------------


def test_kelly_hand_computed_with_fee() -> None:
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), SizingLimits())
    assert r.ok and r.binding_cap == "kelly"
    assert r.kelly_full == pytest.approx(12 / 31, rel=1e-12)
    assert r.kelly_applied == pytest.approx(3 / 31, rel=1e-12)
    assert gate(r, "kelly").value == pytest.approx(3000 / 31, rel=1e-12)
    assert r.size == KELLY_SIZE == kelly_shares(0.703125, 5000, FEES)
    assert r.stake_usdc == pytest.approx(3000 / 31, abs=COST_50 / 1e6)
    assert r.limit_price == 5000 and r.expected_slippage_bps == 0.0
    assert [g.passed for g in r.gates] == [True] * len(ALL_GATES)


def test_kelly_hand_computed_zero_fee() -> None:
    # (0.5 - 0.4)/(1 - 0.4) = 1/6; stake 1000/24 = 41.667 USDC; 104.1667 shares -> 104.16.
    book = make_book([(3900, 3000 * S)], [(4000, 3000 * S)])
    r = size_trade(est(0.5, 0.6), book, FREE_MKT, exposure(), SizingLimits())
    assert r.ok and r.binding_cap == "kelly"
    assert r.kelly_full == pytest.approx(1 / 6, rel=1e-12)
    assert r.size == 104_160_000 == kelly_shares(0.5, 4000, FeeSchedule())


def test_kelly_fraction_scales_the_stake() -> None:
    limits = SizingLimits(kelly_fraction=0.125)
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(), limits)
    assert r.ok and r.size == kelly_shares(0.703125, 5000, FEES, fraction=Fraction(1, 8)) == 93_840_000


# --- caps -----------------------------------------------------------------------------------------


def test_position_cap_binds_on_existing_market_exposure() -> None:
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(market="50"), SizingLimits())
    assert r.ok and r.binding_cap == "position_cap"
    g = gate(r, "position_cap")
    assert g.threshold == 50.0 and not g.passed
    # 50 / 0.515625 = 96.97 shares.
    assert r.size == 96_960_000 == kelly_shares(0.703125, 5000, FEES, room=Fraction(50))
    assert 50 + r.size * COST_50 / S <= 100


@pytest.mark.parametrize(("market", "binding"), [("3.2", "kelly"), ("3.3", "position_cap")])
def test_position_cap_both_sides(market: str, binding: str) -> None:
    # Kelly wants 96.774 USDC; room is 100 - existing.
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(market=market), SizingLimits())
    assert r.ok and r.binding_cap == binding
    assert gate(r, "position_cap").passed is (binding == "kelly")


@pytest.mark.parametrize("mkt", [FEE_MKT, FREE_MKT])
def test_bankroll_binds_on_small_free_cash(mkt: Market) -> None:
    px = 5000
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), mkt, exposure(free_cash="30"), SizingLimits())
    assert r.ok and r.binding_cap == "bankroll"
    g = gate(r, "bankroll")
    assert g.threshold == 30.0 and not g.passed
    # Free cash pays the price and the taker fee, and nothing more than one 0.01 share is left unused.
    cost = Fraction(px, ONE) + Fraction(mkt.fees.rate) * (Fraction(px, ONE) * (1 - Fraction(px, ONE))) ** 2
    assert r.size == math.floor(30 / cost * 100) * CENT
    assert notional(px, r.size) + mkt.fees.taker_fee(px, r.size) <= 30


@pytest.mark.parametrize("mkt", [FEE_MKT, FREE_MKT])
def test_bankroll_covers_a_walk_past_the_touch(mkt: Market) -> None:
    # Free cash binds and the order walks three levels (within the slippage limit): the order, held at its
    # limit price with the fee there, and the walk itself must both fit in free cash.
    asks = [(5000, 20 * S), (5010, 20 * S), (5020, 20 * S), (5030, 3000 * S)]
    book = make_book(STD_BIDS, asks)
    r = size_trade(KELLY_EST, book, mkt, exposure(free_cash="30"), SizingLimits())
    assert r.ok and r.binding_cap == "bankroll" and r.limit_price is not None
    need = notional(r.limit_price, r.size) + mkt.fees.taker_fee(r.limit_price, r.size)
    assert need <= 30
    walk = book.impact(Side.BUY, r.size)
    assert walk.cost <= 30 and walk.worst_price == r.limit_price
    # and it is the largest such order on the 0.01 grid
    bigger = r.size + CENT
    worst = book.impact(Side.BUY, bigger).worst_price
    assert worst is not None and notional(worst, bigger) + mkt.fees.taker_fee(worst, bigger) > 30


def test_depth_share_binds_on_a_thin_opposite_side() -> None:
    # 500 shares of asks visible: at most 10% = 50 shares.
    r = size_trade(KELLY_EST, make_book(STD_BIDS, [(5000, 500 * S)]), FEE_MKT, exposure(), SizingLimits())
    assert r.ok and r.binding_cap == "depth_share"
    assert r.size == 50 * S
    g = gate(r, "depth_share")
    assert not g.passed and g.threshold == 0.10 and g.value == pytest.approx(187.683 / 500, abs=1e-5)
    assert r.depth_share == pytest.approx(0.10)


def test_slippage_binds_on_a_walk_through_several_levels() -> None:
    # Kelly wants 187.68 shares; four 50-share levels a cent apart, then a deep level. Visible 2200 shares,
    # so depth_share allows 220. At 150 bps the average may reach 0.5075: 50 @ 0.50, 50 @ 0.51 and 20 @ 0.52.
    asks = [(5000, 50 * S), (5100, 50 * S), (5200, 50 * S), (5300, 50 * S), (5400, 2000 * S)]
    limits = SizingLimits(max_slippage_bps=150)
    book = make_book(STD_BIDS, asks)
    r = size_trade(KELLY_EST, book, FEE_MKT, exposure(), limits)
    assert r.ok and r.binding_cap == "slippage"
    assert not gate(r, "slippage").passed
    assert 119_990_000 <= r.size <= 120_000_000
    walk = book.impact(Side.BUY, r.size)
    assert walk.slippage_bps <= 150 and r.expected_slippage_bps == pytest.approx(walk.slippage_bps)
    assert walk.levels == 3 and r.limit_price == 5200
    assert book.impact(Side.BUY, r.size + 2 * CENT).slippage_bps > 150  # and the cap is tight
    assert r.notes["impact_levels"] == 3.0


@pytest.mark.parametrize(("cap", "field"), [("cluster_cap", "cluster"), ("aggregate_cap", "aggregate")])
def test_cluster_and_aggregate_caps_bind(cap: str, field: str) -> None:
    # Cluster cap 12% and aggregate cap 40% of 1000: existing exposure leaves 20 USDC -> 38.78 shares.
    existing = {"cluster": "100", "aggregate": "380"}[field]
    r = size_trade(
        KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(**{field: existing}), SizingLimits()
    )
    assert r.ok and r.binding_cap == cap
    g = gate(r, cap)
    assert g.threshold == pytest.approx(20.0) and not g.passed
    assert r.size == kelly_shares(0.703125, 5000, FEES, room=Fraction(20)) == 38_780_000
    assert r.stake_usdc <= 20


def test_the_last_cap_to_shrink_is_the_binding_one() -> None:
    r = size_trade(
        KELLY_EST,
        make_book(STD_BIDS, STD_ASKS),
        FEE_MKT,
        exposure(market="50", cluster="100", aggregate="390"),
        SizingLimits(),
    )
    assert r.ok and r.binding_cap == "aggregate_cap"
    assert r.size == kelly_shares(0.703125, 5000, FEES, room=Fraction(10))


def test_no_room_left_skips_below_min_size() -> None:
    r = size_trade(KELLY_EST, make_book(STD_BIDS, STD_ASKS), FEE_MKT, exposure(market="100"), SizingLimits())
    assert not r.ok and r.reason == "SKIP_BELOW_MIN_SIZE" and r.size == 0 and r.binding_cap == "position_cap"


# --- minimum size and notional ---------------------------------------------------------------------


@pytest.mark.parametrize(("visible", "size", "ok"), [(49_900_000, 4_990_000, False), (50 * S, 5 * S, True)])
def test_min_size_both_sides(visible: int, size: int, ok: bool) -> None:
    # depth_share (10% of the visible asks) sets the size: 4.99 shares skips, exactly 5 passes.
    r = size_trade(KELLY_EST, make_book(STD_BIDS, [(5000, visible)]), FEE_MKT, exposure(), SizingLimits())
    assert r.size == size and r.ok is ok and r.binding_cap == "depth_share"
    g = gate(r, "min_size")
    assert (g.value, g.threshold, g.passed) == (size / S, 5.0, ok)
    if not ok:
        assert r.reason == "SKIP_BELOW_MIN_SIZE" and r.deciding == g


@pytest.mark.parametrize(
    ("visible", "size", "ok"),
    [
        (100 * S, 10 * S, False),
        (199_900_000, 19_990_000, False),
        (200 * S, 20 * S, True),
        (300 * S, 30 * S, True),
    ],
)
def test_min_notional_both_sides(visible: int, size: int, ok: bool) -> None:
    # A 0.05 ask in a zero-fee market: 10 and 19.99 shares pass min_size but are under $1; 20 shares is $1.
    book = make_book([(400, 20_000 * S)], [(500, visible)])
    r = size_trade(est(0.2, 0.3), book, FREE_MKT, exposure(), SizingLimits())
    assert r.candidate is not None and r.candidate.liquidity == "TAKER" and r.candidate.price == 500
    assert r.size == size and r.ok is ok
    assert gate(r, "min_size").passed
    g = gate(r, "min_notional")
    assert (g.value, g.threshold, g.passed) == (pytest.approx(size * 0.05 / S), 1.0, ok)
    if not ok:
        assert r.reason == "SKIP_BELOW_MIN_NOTIONAL"
    else:
        assert g.value >= 1.0


def test_min_notional_does_not_apply_to_makers() -> None:
    # Maker at the 0.04 bid: 10 shares is $0.40 and still fine as a resting order.
    book = make_book([(400, 100 * S)], [(600, 20_000 * S)])
    r = size_trade(est(0.07, 0.3), book, FREE_MKT, exposure(), SizingLimits(min_depth_usdc=0))
    assert r.ok and r.candidate is not None and r.candidate.liquidity == "MAKER"
    assert r.size == 10 * S and "min_notional" not in [g.name for g in r.gates]


# --- exits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bid", [1600, 4000, 6000, 8000])
def test_exit_sells_the_full_yes_position_at_the_bid(bid: int) -> None:
    # Estimate far below the bid: selling YES and buying NO carry the same edge; the exit is preferred.
    book = make_book([(bid, 1000 * S)], [(bid + 200, 1000 * S)])
    held = {Outcome.YES: 30 * S}
    r = size_trade(
        Estimate("t", 0.07, 0.05, 0.1), book, FEE_MKT, exposure(held=held), SizingLimits(min_depth_usdc=0)
    )
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.liquidity, c.price) == (Outcome.YES, Side.SELL, "TAKER", bid)
    assert c.edge_cons == pytest.approx(bid / ONE - FEES.fee_per_share(bid) - 0.1, abs=1e-12)
    assert r.size == 30 * S and r.limit_price == bid
    assert r.order_type is OrderType.FAK and not r.post_only
    assert "kelly" not in [g.name for g in r.gates]


def test_exit_sells_no_position() -> None:
    book = make_book([(3000, 1000 * S)], [(3200, 1000 * S)])
    held = {Outcome.NO: 12_345_678}
    r = size_trade(est(0.9, 0.95), book, FEE_MKT, exposure(held=held), SizingLimits(min_depth_usdc=0))
    c = r.candidate
    assert r.ok and c is not None
    assert (c.outcome, c.side, c.price) == (Outcome.NO, Side.SELL, 6800)  # NO bid = 1 - YES ask 0.32
    assert r.size == 12_340_000 and r.limit_price == 6800


def test_sell_only_returns_the_exit_and_never_a_buy() -> None:
    book = make_book([(6000, 1000 * S)], [(6200, 1000 * S)])
    held = {Outcome.YES: 30 * S}
    limits = SizingLimits(min_depth_usdc=0)
    r = size_trade(est(0.2, 0.3), book, FEE_MKT, exposure(held=held), limits, sell_only=True)
    assert r.ok and r.candidate is not None and r.candidate.side is Side.SELL and r.size == 30 * S
    # A buy with a huge edge is not taken under reduce-only.
    flat = size_trade(est(0.8, 0.9), book, FEE_MKT, exposure(), limits, sell_only=True)
    assert not flat.ok and flat.reason == "SKIP_NO_BOOK" and flat.candidate is None
    # Holding YES while the estimate says buy more YES: the exit has no edge, nothing is bought.
    hold = size_trade(est(0.8, 0.9), book, FEE_MKT, exposure(held=held), limits, sell_only=True)
    assert not hold.ok and hold.reason == "SKIP_NO_EDGE"
    assert hold.candidate is not None and hold.candidate.side is Side.SELL


def test_no_exit_while_the_estimate_is_above_the_bid() -> None:
    book = make_book([(6000, 1000 * S)], [(6200, 1000 * S)])
    r = size_trade(
        est(0.7, 0.8), book, FEE_MKT, exposure(held={Outcome.YES: 30 * S}), SizingLimits(min_depth_usdc=0)
    )
    assert r.candidate is not None and r.candidate.side is Side.BUY


# --- properties -----------------------------------------------------------------------------------

sizes = st.one_of(st.integers(100 * S, 5000 * S), st.integers(CENT, 50 * S), st.integers(CENT, 5000 * S))


@st.composite
def levels(draw: st.DrawFn, best: int, step_sign: int, ladder: bool) -> list[tuple[int, int]]:
    """Up to four levels from `best` outward; a ladder has small levels so that orders walk it."""
    level_size = st.integers(S, 40 * S) if ladder else sizes
    out: list[tuple[int, int]] = []
    px = best
    for _ in range(draw(st.sampled_from([4, 3, 2, 1, 4, 0]))):
        if not 100 <= px <= 9900:
            break
        out.append((px, draw(level_size)))
        px += step_sign * 100 * draw(st.integers(1, 2))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Estimate, OrderBook, Market, Exposure, SizingLimits]:
    market = draw(st.sampled_from([FEE_MKT, FREE_MKT]))
    best_bid = 100 * draw(st.integers(1, 97))
    best_ask = best_bid + 100 * draw(st.integers(1, min(5, 99 - best_bid // 100)))
    ladder = draw(st.booleans())
    book = make_book(draw(levels(best_bid, -1, ladder)), draw(levels(best_ask, 1, ladder)))
    # The estimate sits anywhere from well below the bid to well above the ask.
    offset = (
        draw(st.sampled_from([-1, 1])) * draw(st.one_of(st.integers(300, 3000), st.integers(0, 3000))) / ONE
    )
    p = min(0.999, max(0.001, (best_bid + best_ask) / (2 * ONE) + offset))
    lo = max(0.0, p - draw(st.integers(0, 1000)) / ONE)
    hi = min(1.0, p + draw(st.integers(0, 1000)) / ONE)
    bankroll = draw(st.one_of(st.integers(500, 10_000), st.integers(10, 10_000)))
    cents = st.one_of(st.just(0), st.integers(0, bankroll * 15))
    mkt_e = Decimal(draw(cents)) / 100
    cluster = mkt_e + Decimal(draw(cents)) / 100
    aggregate = cluster + Decimal(draw(cents)) / 100
    held = {
        Outcome.YES: draw(st.sampled_from([0, 0, 3 * S, 40 * S, 40 * S + 5, draw(sizes)])),
        Outcome.NO: draw(st.sampled_from([0, 0, 40 * S])),
    }
    free_cents = draw(
        st.one_of(
            st.integers(bankroll * 50, bankroll * 100), st.integers(500, 5000), st.integers(0, bankroll * 100)
        )
    )
    exp = Exposure(
        bankroll=Decimal(bankroll),
        free_cash=Decimal(free_cents) / 100,
        market=mkt_e,
        cluster=cluster,
        aggregate=aggregate,
        held=held,
    )
    pct = st.integers(2, 60).map(lambda n: n / 100)
    limits = SizingLimits(
        kelly_fraction=draw(st.integers(5, 100)) / 100,
        max_ci_width=draw(st.one_of(st.just(0.5), st.integers(500, 5000).map(lambda n: n / ONE))),
        min_edge=draw(st.integers(0, 500)) / ONE,
        min_depth_usdc=draw(st.sampled_from([0.0, 0.0, 0.0, 10.0, 200.0])),
        max_position_pct=draw(pct),
        max_book_impact_pct=draw(st.integers(1, 100)) / 100,
        max_slippage_bps=draw(st.one_of(st.integers(1, 500), st.floats(1.0, 500.0))),
        max_cluster_pct=draw(pct),
        max_aggregate_pct=draw(pct),
        allow_maker=draw(st.booleans()),
    )
    return Estimate("prop", p, lo, hi), book, market, exp, limits


def independent_edge(
    e: Estimate, book: OrderBook, market: Market, outcome: Outcome, side: Side, liquidity: str
) -> float:
    """The conservative edge from the docstring's definitions, not from the candidate's own fields."""
    yes_bid, yes_ask = book.best_bid, book.best_ask
    if outcome is Outcome.YES:
        q_low, q_high, ask, bid = e.ci_low, e.ci_high, yes_ask, yes_bid
    else:
        q_low, q_high = 1 - e.ci_high, 1 - e.ci_low
        ask = None if yes_bid is None else ONE - yes_bid
        bid = None if yes_ask is None else ONE - yes_ask
    if side is Side.SELL:
        assert bid is not None
        return bid / ONE - market.fees.fee_per_share(bid) - q_high
    if liquidity == "TAKER":
        assert ask is not None
        return q_low - ask / ONE - market.fees.fee_per_share(ask)
    assert bid is not None
    return q_low - bid / ONE


def check_invariants(
    r: SizingResult, e: Estimate, book: OrderBook, market: Market, exp: Exposure, limits: SizingLimits
) -> None:
    assert r.ok == (r.reason == "OK")
    names = [g.name for g in r.gates]
    assert names == [n for n in ALL_GATES if n in names]  # recorded in the documented order
    if not r.ok:
        return
    c = r.candidate
    assert c is not None
    # (c) whole cents of a share, at least the market minimum
    assert r.size % CENT == 0 and r.size >= market.min_order_size
    # (e) the conservative edge clears min_edge, by the docstring's formulas too
    assert c.edge_cons >= limits.min_edge
    assert independent_edge(e, book, market, c.outcome, c.side, c.liquidity) >= limits.min_edge - 1e-12
    assert all(
        g.passed for g in r.gates if g.name in ("ci_width", "edge", "depth", "min_size", "min_notional")
    )
    view = book.view(c.outcome)
    if c.liquidity == "TAKER":
        # (d) a marketable limit on the tick grid, inside the valid range
        assert r.limit_price is not None and r.limit_price % market.tick == 0
        assert market.tick <= r.limit_price <= ONE - market.tick
        assert r.order_type is OrderType.FAK and not r.post_only
    else:
        assert r.limit_price == view.best_bid == c.price
        assert r.order_type is OrderType.GTC and r.post_only and c.side is Side.BUY
    if c.side is Side.SELL:
        assert r.size <= exp.held[c.outcome]
        assert r.size == exp.held[c.outcome] - exp.held[c.outcome] % CENT
        return
    bankroll = float(exp.bankroll)
    cost = c.price / ONE + c.fee_per_share
    spent = max(r.stake_usdc, r.size * cost / S)
    slack = cost + 1e-9  # one share's cost of rounding
    # (a) no cap is exceeded
    assert float(exp.market) + spent <= limits.max_position_pct * bankroll + slack
    assert float(exp.cluster) + spent <= limits.max_cluster_pct * bankroll + slack
    assert float(exp.aggregate) + spent <= limits.max_aggregate_pct * bankroll + slack
    assert r.size <= int(
        sum(q for _, q in (view.iter_asks() if c.liquidity == "TAKER" else view.iter_bids()))
        * limits.max_book_impact_pct
    )
    # (b) never more than free cash: what the order holds at its limit price (with the taker fee there), which
    # also bounds what the walk through the book pays.
    assert r.limit_price is not None
    fee = market.fees.taker_fee(r.limit_price, r.size) if c.liquidity == "TAKER" else Decimal(0)
    assert notional(r.limit_price, r.size) + fee <= exp.free_cash
    if c.liquidity == "TAKER":
        walk = view.impact(Side.BUY, r.size)
        assert walk.complete and walk.worst_price == r.limit_price
        assert walk.slippage_bps <= limits.max_slippage_bps + 1e-9
        assert walk.cost <= exp.free_cash
        assert notional(c.price, r.size) >= limits.min_order_usdc


@PROP
@given(scenarios())
def test_property_invariants(case: tuple[Estimate, OrderBook, Market, Exposure, SizingLimits]) -> None:
    e, book, market, exp, limits = case
    r = size_trade(e, book, market, exp, limits)
    check_invariants(r, e, book, market, exp, limits)


@PROP
@given(scenarios())
def test_property_sell_only_never_buys(
    case: tuple[Estimate, OrderBook, Market, Exposure, SizingLimits],
) -> None:
    e, book, market, exp, limits = case
    r = size_trade(e, book, market, exp, limits, sell_only=True)
    assert r.candidate is None or r.candidate.side is Side.SELL
    check_invariants(r, e, book, market, exp, limits)


@PROP
@given(scenarios())
def test_property_holding_a_token_never_buys_its_complement_instead_of_selling(
    case: tuple[Estimate, OrderBook, Market, Exposure, SizingLimits],
) -> None:
    # Selling YES at the bid and buying NO at 1 - bid are the same trade with the same edge: exit first.
    e, book, market, exp, limits = case
    r = size_trade(e, book, market, exp, limits)
    c = r.candidate
    if c is not None and c.side is Side.BUY and c.liquidity == "TAKER":
        assert exp.held.get(c.outcome.other, 0) == 0 or book.view(c.outcome.other).best_bid is None


def test_property_strategy_reaches_approvals() -> None:
    """Guard against a vacuous property: the scenario strategy yields approved buys, sells and makers."""
    seen: set[tuple[str, str]] = set()

    @settings(derandomize=True, deadline=None, max_examples=300)
    @given(scenarios())
    def collect(case: tuple[Estimate, OrderBook, Market, Exposure, SizingLimits]) -> None:
        r = size_trade(*case)
        if r.ok and r.candidate is not None:
            seen.add((r.candidate.side.value, r.candidate.liquidity))

    collect()
    assert {("BUY", "TAKER"), ("BUY", "MAKER"), ("SELL", "TAKER")} <= seen
