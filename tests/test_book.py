"""L2 order book: mutation, snapshot diffs, canonical mid, analytics, the NO complement, the hash.

Prices are price units (1e-4 USDC), sizes micro-shares. Property tests run derandomized.
"""

import hashlib
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book import Mid, MidSource, OrderBook, book_hash, mirror_levels
from engine.domain import Outcome, Side
from engine.units import ONE, qty_dec

PROP = settings(derandomize=True, deadline=None, max_examples=100)

S = 1_000_000  # one share in size units

VECTOR_SUMMARY: dict[str, object] = {
    "market": "0xaabbcc",
    "asset_id": "100",
    "timestamp": "123456789",
    "hash": "",
    "bids": [{"price": "0.3", "size": "100"}, {"price": "0.4", "size": "100"}],
    "asks": [{"price": "0.6", "size": "100"}, {"price": "0.7", "size": "100"}],
    "min_order_size": "100",
    "tick_size": "0.01",
    "neg_risk": False,
    "last_trade_price": "0.5",
}
VECTOR_HASH = "0458ea5755c9f73d64a14636fa5c36ed460ec394"


def book_of(bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts: int = 1) -> OrderBook:
    book = OrderBook()
    book.replace(bids, asks, ts)
    return book


def snapshot(book: OrderBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return list(book.iter_bids()), list(book.iter_asks())


# --------------------------------------------------------------------------- strategies

level_px = st.integers(min_value=1, max_value=ONE - 1)
level_qty = st.integers(min_value=1, max_value=10**10)
side_dict = st.dictionaries(level_px, level_qty, max_size=12)
# Snapshot lists as a feed may send them: duplicates (the later wins) and zero sizes (no level).
raw_side = st.lists(st.tuples(level_px, st.integers(min_value=0, max_value=10**10)), max_size=12)


@st.composite
def two_sided(draw: st.DrawFn) -> tuple[dict[int, int], dict[int, int]]:
    """A sane book: at least one level each side and best bid < best ask."""
    split = draw(st.integers(min_value=2, max_value=ONE - 1))
    bids = draw(
        st.dictionaries(st.integers(min_value=1, max_value=split - 1), level_qty, min_size=1, max_size=10)
    )
    asks = draw(
        st.dictionaries(st.integers(min_value=split, max_value=ONE - 1), level_qty, min_size=1, max_size=10)
    )
    return bids, asks


@st.composite
def any_book(draw: st.DrawFn) -> OrderBook:
    """A book with history: possibly a sane snapshot first, then arbitrary (maybe crossed) levels."""
    book = OrderBook()
    if draw(st.booleans()):
        bids, asks = draw(two_sided())
        book.replace(bids.items(), asks.items(), 1)
    if draw(st.booleans()):
        book.replace(draw(side_dict).items(), draw(side_dict).items(), 2)
    return book


# --------------------------------------------------------------------------- mutation


def test_empty_book() -> None:
    book = OrderBook()
    assert book.best_bid is None and book.best_ask is None
    assert book.mid() == Mid(None, MidSource.NONE)
    assert book.mid().value is None and book.mid().exact is None
    assert book.spread() is None
    assert not book.crossed
    assert book.level_count() == 0
    assert book.imbalance() == 0.0
    assert book.microprice() is None
    assert book.depth(10_000) == (0, 0)
    assert book.depth_usdc(10_000) == 0.0
    assert book.levels(Side.BUY, 5) == [] and book.levels(Side.SELL, 5) == []


def test_best_bid_after_set_and_remove() -> None:
    book = OrderBook()
    book.set_bid(4000, 10 * S)
    book.set_bid(4500, 5 * S)
    book.set_bid(4200, 7 * S)
    assert book.best_bid == 4500
    book.set_bid(4500, 0)
    assert book.best_bid == 4200
    book.set_bid(4200, 3 * S)  # resize in place: no duplicate price
    assert list(book.iter_bids()) == [(4200, 3 * S), (4000, 10 * S)]
    book.set_bid(4100, -1)  # removing an absent level is a no-op
    book.set_bid(4200, -5)  # a negative size removes too
    assert list(book.iter_bids()) == [(4000, 10 * S)]
    book.set_bid(4000, 0)
    assert book.best_bid is None and list(book.iter_bids()) == []
    assert book.best_ask is None


def test_best_ask_after_set_and_remove() -> None:
    book = OrderBook()
    book.set_ask(6000, 10 * S)
    book.set_ask(5500, 5 * S)
    book.set_ask(5800, 7 * S)
    assert book.best_ask == 5500
    book.set_ask(5500, 0)
    assert book.best_ask == 5800
    assert book.ask_size(5800) == 7 * S and book.ask_size(5500) == 0
    assert list(book.iter_asks()) == [(5800, 7 * S), (6000, 10 * S)]
    assert book.level_count() == 2
    assert book.best_bid is None


ops = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=1, max_value=60), st.integers(min_value=-2, max_value=5)),
    max_size=80,
)


@PROP
@given(ops)
def test_iteration_is_sorted_best_first(operations: list[tuple[bool, int, int]]) -> None:
    book = OrderBook()
    model: dict[bool, dict[int, int]] = {True: {}, False: {}}
    for is_bid, px, qty in operations:
        (book.set_bid if is_bid else book.set_ask)(px, qty)
        if qty > 0:
            model[is_bid][px] = qty
        else:
            model[is_bid].pop(px, None)
    bids, asks = snapshot(book)
    assert bids == sorted(model[True].items(), reverse=True)
    assert asks == sorted(model[False].items())
    assert book.best_bid == max(model[True], default=None)
    assert book.best_ask == min(model[False], default=None)
    assert book.level_count() == len(model[True]) + len(model[False])
    for px in range(1, 61):
        assert book.bid_size(px) == model[True].get(px, 0)
        assert book.ask_size(px) == model[False].get(px, 0)


def test_levels_top_n() -> None:
    book = book_of([(4000, 1), (3900, 2), (3800, 3)], [(6000, 4), (6100, 5)])
    assert book.levels(Side.BUY, 2) == [(4000, 1), (3900, 2)]
    assert book.levels(Side.SELL, 5) == [(6000, 4), (6100, 5)]
    assert book.levels(Side.BUY, 0) == []


def test_replace_drops_empty_levels_and_stamps_time() -> None:
    book = book_of([(4000, 5), (3900, 0)], [(6000, 0)], ts=42)
    assert snapshot(book) == ([(4000, 5)], [])
    assert book.ts == 42
    book.apply([], 43)
    assert book.ts == 43


# --------------------------------------------------------------------------- diff / apply


@PROP
@given(raw_side, raw_side, raw_side, raw_side)
def test_replace_diff_apply_reaches_target(b0: list, a0: list, b1: list, a1: list) -> None:
    book = book_of(b0, a0)
    deltas = book.diff(b1, a1)
    book.apply(deltas, 2)
    target = book_of(b1, a1)
    assert snapshot(book) == snapshot(target)
    assert book.bids == target.bids and book.asks == target.asks
    assert book.diff(b1, a1) == []


@PROP
@given(side_dict, side_dict, side_dict, side_dict)
def test_diff_is_minimal(b0: dict, a0: dict, b1: dict, a1: dict) -> None:
    book = book_of(list(b0.items()), list(a0.items()))
    deltas = book.diff(list(b1.items()), list(a1.items()))
    expected = {(True, px, b1.get(px, 0)) for px in b0.keys() | b1.keys() if b0.get(px, 0) != b1.get(px, 0)}
    expected |= {(False, px, a1.get(px, 0)) for px in a0.keys() | a1.keys() if a0.get(px, 0) != a1.get(px, 0)}
    assert len(deltas) == len(set(deltas))
    assert set(deltas) == expected


@PROP
@given(raw_side, raw_side)
def test_diff_of_identical_snapshot_is_empty(bids: list, asks: list) -> None:
    book = book_of(bids, asks)
    assert book.diff(bids, asks) == []
    assert book.diff(*snapshot(book)) == []


def test_diff_examples() -> None:
    book = book_of([(4000, 10), (3900, 20)], [(6000, 5)])
    deltas = book.diff([(4000, 10), (3950, 1)], [])
    assert sorted(deltas) == [(False, 6000, 0), (True, 3900, 0), (True, 3950, 1)]
    # A zero-size level that is not in the book is not a change; a later duplicate wins.
    assert book.diff([(4000, 10), (3900, 20), (3800, 0)], [(6000, 5)]) == []
    assert book.diff([(4000, 7), (4000, 10), (3900, 20)], [(6000, 5)]) == []
    assert book.diff([(4000, 10), (4000, 7), (3900, 20)], [(6000, 5)]) == [(True, 4000, 7)]


def test_diff_to_empty_and_from_empty() -> None:
    book = book_of([(4000, 10)], [(6000, 5)])
    assert sorted(book.diff([], [])) == [(False, 6000, 0), (True, 4000, 0)]
    empty = OrderBook()
    assert sorted(empty.diff([(4000, 10)], [(6000, 5)])) == [(False, 6000, 5), (True, 4000, 10)]
    assert empty.diff([], []) == []


# --------------------------------------------------------------------------- mid


def test_mid_two_sided() -> None:
    book = book_of([(4000, S)], [(6000, S)])
    assert book.mid() == Mid(10_000, MidSource.TWO_SIDED)
    assert book.mid().value == 0.5
    assert book.mid().exact == Decimal("0.5")


def test_mid_between_ticks_is_exact() -> None:
    book = book_of([(4000, S)], [(4100, S)])
    assert book.mid() == Mid(8100, MidSource.TWO_SIDED)
    assert book.mid().exact == Decimal("0.405")


def test_mid_one_sided() -> None:
    assert book_of([(4000, S), (3000, S)], []).mid() == Mid(8000, MidSource.BID_ONLY)
    assert book_of([], [(6000, S), (7000, S)]).mid() == Mid(12_000, MidSource.ASK_ONLY)


def test_mid_crossed_without_history() -> None:
    book = book_of([(6000, S)], [(5000, S)])
    assert book.crossed
    assert book.mid() == Mid(11_000, MidSource.CROSSED)
    locked = book_of([(5000, S)], [(5000, S)])
    assert locked.crossed
    assert locked.mid() == Mid(10_000, MidSource.CROSSED)


def test_mid_crossed_falls_back_to_last_sane() -> None:
    book = book_of([(4000, S)], [(6000, S)])
    book.apply([(True, 4400, S)], 2)  # still sane: the remembered mid moves
    book.apply([(True, 6500, S)], 3)  # crossed
    assert book.crossed
    assert book.mid() == Mid(10_400, MidSource.CROSSED_LAST)
    book.apply([(True, 6500, 0)], 4)  # uncrossed again
    assert book.mid() == Mid(10_400, MidSource.TWO_SIDED)


def test_mid_last_after_emptied() -> None:
    book = book_of([(4000, S)], [(6000, S)])
    book.clear(5)
    assert book.level_count() == 0 and book.ts == 5
    assert book.mid() == Mid(10_000, MidSource.LAST)
    assert book.mid().value == 0.5


def test_mid_none_when_never_two_sided() -> None:
    book = book_of([(4000, S)], [])
    book.clear(2)
    assert book.mid() == Mid(None, MidSource.NONE)
    crossed = book_of([(6000, S)], [(5000, S)])
    crossed.clear(2)
    assert crossed.mid() == Mid(None, MidSource.NONE)


def test_spread() -> None:
    assert book_of([(4000, S)], [(6000, S)]).spread() == 2000
    assert book_of([(4000, S)], [(4001, S)]).spread() == 1
    assert book_of([(6000, S)], [(5000, S)]).spread() == -1000
    assert book_of([(4000, S)], []).spread() is None
    assert book_of([], [(4000, S)]).spread() is None


# --------------------------------------------------------------------------- depth


def ladder() -> OrderBook:
    return book_of([(4900, 10), (4800, 20), (4700, 40)], [(5100, 1), (5200, 2), (5300, 4)])


@pytest.mark.parametrize(
    ("band", "expected"),
    [
        (0, (0, 0)),
        (99, (0, 0)),
        (100, (10, 1)),
        (199, (10, 1)),
        (200, (30, 3)),
        (300, (70, 7)),
        (10_000, (70, 7)),
    ],
)
def test_depth_band_is_inclusive(band: int, expected: tuple[int, int]) -> None:
    assert ladder().depth(band) == expected


def test_depth_usdc() -> None:
    book = book_of([(4900, 10 * S), (4800, 20 * S)], [(5100, 1 * S), (5200, 2 * S)])
    assert book.depth_usdc(99) == 0.0
    assert book.depth_usdc(100) == pytest.approx(4900 * 10 / ONE + 5100 * 1 / ONE)
    assert book.depth_usdc(200) == pytest.approx(4.9 + 9.6 + 0.51 + 1.04)


def test_depth_around_half_unit_mid() -> None:
    book = book_of([(4999, 1), (4998, 2)], [(5000, 10), (5001, 20)])  # mid 4999.5
    assert book.mid().x2 == 9999
    assert book.depth(0) == (0, 0)
    assert book.depth(1) == (1, 10)
    assert book.depth(2) == (3, 30)


def test_depth_one_sided_and_emptied() -> None:
    book = book_of([(4000, 5), (3990, 7)], [])
    assert book.depth(0) == (5, 0)  # the mid is the bid itself
    assert book.depth(10) == (12, 0)
    sane = book_of([(4000, 5)], [(6000, 7)])
    sane.clear(2)
    assert sane.depth(10_000) == (0, 0)  # a LAST mid but nothing resting
    assert sane.depth_usdc(10_000) == 0.0


def test_depth_in_crossed_book_ignores_levels_outside_band() -> None:
    book = book_of([(4900, 10)], [(5100, 1)])  # remembered mid 5000
    book.apply([(True, 5600, 100), (False, 4400, 1000)], 2)  # stale levels cross the book
    assert book.mid() == Mid(10_000, MidSource.CROSSED_LAST)
    assert book.depth(100) == (10, 1)
    assert book.depth_usdc(100) == pytest.approx((4900 * 10 + 5100 * 1) / 1e10)
    assert book.depth(600) == (110, 1001)


def brute_depth(book: OrderBook, band: int) -> tuple[int, int, Fraction]:
    x2 = book.mid().x2
    if x2 is None:
        return 0, 0, Fraction(0)
    near_b = [(p, q) for p, q in book.bids.items() if abs(2 * p - x2) <= 2 * band]
    near_a = [(p, q) for p, q in book.asks.items() if abs(2 * p - x2) <= 2 * band]
    usdc = sum((Fraction(p * q, 10**10) for p, q in near_b + near_a), Fraction(0))
    return sum(q for _, q in near_b), sum(q for _, q in near_a), usdc


@PROP
@given(any_book(), st.integers(min_value=0, max_value=ONE))
def test_depth_matches_brute_force(book: OrderBook, band: int) -> None:
    bids, asks, usdc = brute_depth(book, band)
    assert book.depth(band) == (bids, asks)
    assert book.depth_usdc(band) == pytest.approx(float(usdc), rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- imbalance, microprice


def test_imbalance_sign() -> None:
    assert book_of([(4000, 30)], [(6000, 10)]).imbalance() == 0.5
    assert book_of([(4000, 10)], [(6000, 30)]).imbalance() == -0.5
    assert book_of([(4000, 10)], [(6000, 10)]).imbalance() == 0.0
    assert book_of([(4000, 10)], []).imbalance() == 1.0
    assert book_of([], [(6000, 10)]).imbalance() == -1.0


def test_imbalance_counts_top_levels_only() -> None:
    book = book_of([(4000, 10), (3900, 10), (3800, 10), (3700, 1000)], [(6000, 30)])
    assert book.imbalance() == 0.0
    assert book.imbalance(n_levels=1) == -0.5
    assert book.imbalance(n_levels=4) == pytest.approx((1030 - 30) / 1060)


@PROP
@given(any_book(), st.integers(min_value=1, max_value=15))
def test_imbalance_range_and_mirror(book: OrderBook, n: int) -> None:
    value = book.imbalance(n)
    assert -1.0 <= value <= 1.0
    bid_q = sum(q for _, q in book.levels(Side.BUY, n))
    ask_q = sum(q for _, q in book.levels(Side.SELL, n))
    assert (value > 0) == (bid_q > ask_q) and (value < 0) == (bid_q < ask_q)
    assert book.view(Outcome.NO).imbalance(n) == -value


def test_microprice_examples() -> None:
    # The heavier ask pulls the microprice toward the bid.
    assert book_of([(4000, 100)], [(6000, 300)]).microprice() == pytest.approx(0.45)
    assert book_of([(4000, 300)], [(6000, 100)]).microprice() == pytest.approx(0.55)
    assert book_of([(4000, 100)], [(6000, 100)]).microprice() == pytest.approx(0.5)
    assert book_of([(4000, 100)], []).microprice() == 0.4
    assert book_of([(6000, 1)], [(5000, 1)]).microprice() == 0.55  # crossed: the canonical mid


@PROP
@given(two_sided())
def test_microprice_within_touch(levels: tuple[dict[int, int], dict[int, int]]) -> None:
    book = book_of(*(list(side.items()) for side in levels))
    bid, ask = book.best_bid, book.best_ask
    assert bid is not None and ask is not None
    micro = book.microprice()
    assert micro is not None
    assert bid / ONE <= micro <= ask / ONE
    assert micro + book.view(Outcome.NO).microprice() == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------- impact


def impact_book() -> OrderBook:
    return book_of([(5000, 100 * S), (4900, 100 * S)], [(5200, 100 * S), (5300, 200 * S), (5500, 300 * S)])


def test_impact_partial_first_level() -> None:
    imp = impact_book().impact(Side.BUY, 50 * S)
    assert imp.complete and imp.filled == 50 * S and imp.requested == 50 * S
    assert imp.levels == 1
    assert imp.cost == Decimal(26)
    assert imp.avg_price == pytest.approx(0.52)
    assert imp.reference_price == 5200 and imp.worst_price == 5200
    assert imp.slippage_bps == pytest.approx(0.0, abs=1e-9)
    assert imp.depth_share == pytest.approx(50 / 600)


def test_impact_walks_levels() -> None:
    imp = impact_book().impact(Side.BUY, 250 * S)
    assert imp.complete and imp.levels == 2
    assert imp.cost == Decimal("52") + Decimal("79.5")  # 100 @ 0.52 + 150 @ 0.53
    assert imp.avg_price == pytest.approx(131.5 / 250)
    assert imp.worst_price == 5300
    assert imp.slippage_bps == pytest.approx((131.5 / 250 - 0.52) / 0.52 * 1e4)


def test_impact_exhausts_side() -> None:
    imp = impact_book().impact(Side.BUY, 1000 * S)
    assert not imp.complete
    assert imp.filled == 600 * S and imp.levels == 3
    assert imp.cost == Decimal(52 + 106 + 165)
    assert imp.worst_price == 5500
    assert imp.depth_share == pytest.approx(1000 / 600)


def test_impact_limit_stops_walk() -> None:
    imp = impact_book().impact(Side.BUY, 1000 * S, limit=5300)
    assert imp.filled == 300 * S and imp.levels == 2 and imp.worst_price == 5300
    assert imp.cost == Decimal(52 + 106)
    assert imp.depth_share == pytest.approx(1000 / 600)  # visible depth still counts the whole side
    sell = impact_book().impact(Side.SELL, 150 * S, limit=5000)
    assert sell.filled == 100 * S and sell.levels == 1 and sell.worst_price == 5000
    assert sell.cost == Decimal(50)


def test_impact_limit_through_touch_fills_nothing() -> None:
    imp = impact_book().impact(Side.BUY, 10 * S, limit=5100)
    assert imp.filled == 0 and imp.levels == 0 and imp.cost == 0
    assert imp.avg_price is None and imp.reference_price is None and imp.worst_price is None
    assert imp.slippage_bps == 0.0
    assert not imp.complete


def test_impact_sell_hits_bids() -> None:
    imp = impact_book().impact(Side.SELL, 150 * S)
    assert imp.complete and imp.levels == 2
    assert imp.cost == Decimal("50") + Decimal("24.5")
    assert imp.avg_price == pytest.approx(74.5 / 150)
    assert imp.reference_price == 5000 and imp.worst_price == 4900
    assert imp.slippage_bps == pytest.approx((0.5 - 74.5 / 150) / 0.5 * 1e4)
    assert imp.depth_share == pytest.approx(150 / 200)


def test_impact_on_empty_side() -> None:
    imp = book_of([(4000, S)], []).impact(Side.BUY, 5 * S)
    assert imp.filled == 0 and imp.levels == 0 and imp.cost == 0
    assert imp.avg_price is None and imp.reference_price is None and imp.worst_price is None
    assert imp.slippage_bps == 0.0
    assert imp.depth_share == float("inf")
    assert not imp.complete


@PROP
@given(
    side_dict,
    st.integers(min_value=0, max_value=10**11),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.one_of(st.none(), level_px),
)
def test_impact_matches_brute_force(levels: dict[int, int], qty: int, side: Side, limit: int | None) -> None:
    book = book_of([], list(levels.items())) if side is Side.BUY else book_of(list(levels.items()), [])
    ordered = sorted(levels.items(), reverse=side is Side.SELL)
    if limit is not None:
        usable = [(p, q) for p, q in ordered if (p <= limit if side is Side.BUY else p >= limit)]
    else:
        usable = ordered
    remaining, cost, touched = qty, Fraction(0), []
    for px, size in usable:
        if remaining == 0:
            break
        take = min(size, remaining)
        cost += Fraction(px * take, 10**10)
        remaining -= take
        touched.append(px)
    imp = book.impact(side, qty, limit)
    assert imp.filled == qty - remaining
    assert Fraction(imp.cost) == cost
    assert imp.levels == len(touched)
    assert imp.worst_price == (touched[-1] if touched else None)
    assert imp.reference_price == (touched[0] if touched else None)
    assert imp.slippage_bps >= 0.0
    if touched:
        lo, hi = min(touched) / ONE, max(touched) / ONE
        assert imp.avg_price is not None
        assert lo - 1e-12 <= imp.avg_price <= hi + 1e-12
    total = sum(levels.values())
    assert imp.depth_share == (qty / total if total else float("inf"))


# --------------------------------------------------------------------------- NO complement


def test_complement_view_mirrors_levels() -> None:
    book = book_of([(4000, 10), (3900, 20)], [(6000, 5), (6100, 7)])
    no = book.view(Outcome.NO)
    assert book.view(Outcome.YES) is book
    assert book.view(Outcome.NO) is no
    assert no.best_bid == ONE - book.best_ask == 4000
    assert no.best_ask == ONE - book.best_bid == 6000
    assert list(no.iter_bids()) == [(4000, 5), (3900, 7)]
    assert list(no.iter_asks()) == [(6000, 10), (6100, 20)]
    assert no.spread() == book.spread()
    book.set_ask(5500, 1)  # the view is live
    assert no.best_bid == 4500
    assert no.levels(Side.BUY, 1) == [(4500, 1)]


def test_complement_mid_sources() -> None:
    bid_only = book_of([(4000, S)], [])
    assert bid_only.view(Outcome.NO).mid() == Mid(12_000, MidSource.ASK_ONLY)
    ask_only = book_of([], [(7000, S)])
    assert ask_only.view(Outcome.NO).mid() == Mid(6000, MidSource.BID_ONLY)
    sane = book_of([(4000, S)], [(4500, S)])
    sane.apply([(True, 4800, S)], 2)
    assert sane.view(Outcome.NO).mid() == Mid(2 * ONE - 8500, MidSource.CROSSED_LAST)
    sane.clear(3)
    assert sane.view(Outcome.NO).mid() == Mid(2 * ONE - 8500, MidSource.LAST)
    assert OrderBook().view(Outcome.NO).mid() == Mid(None, MidSource.NONE)


MIRRORED = {MidSource.BID_ONLY: MidSource.ASK_ONLY, MidSource.ASK_ONLY: MidSource.BID_ONLY}


@PROP
@given(two_sided())
def test_complement_mid_sums_to_one(levels: tuple[dict[int, int], dict[int, int]]) -> None:
    book = book_of(*(list(side.items()) for side in levels))
    yes, no = book.mid(), book.view(Outcome.NO).mid()
    assert yes.source is MidSource.TWO_SIDED and no.source is MidSource.TWO_SIDED
    assert yes.x2 is not None and no.x2 is not None
    assert yes.x2 + no.x2 == 2 * ONE
    assert yes.exact + no.exact == 1


@PROP
@given(any_book())
def test_complement_mid_mirrors_every_source(book: OrderBook) -> None:
    yes, no = book.mid(), book.view(Outcome.NO).mid()
    assert no.source == MIRRORED.get(yes.source, yes.source)
    if yes.x2 is None:
        assert no.x2 is None
    else:
        assert yes.x2 + no.x2 == 2 * ONE


@PROP
@given(any_book(), st.integers(min_value=0, max_value=ONE))
def test_complement_depth_and_impact(book: OrderBook, band: int) -> None:
    no = book.view(Outcome.NO)
    bids, asks = book.depth(band)
    assert no.depth(band) == (asks, bids)
    # Buying n NO shares at 1-p is selling n YES shares at p: cost_no + proceeds_yes = n.
    yes_sell = book.impact(Side.SELL, 50 * S)
    no_buy = no.impact(Side.BUY, 50 * S)
    assert no_buy.filled == yes_sell.filled and no_buy.levels == yes_sell.levels
    assert no_buy.cost + yes_sell.cost == qty_dec(yes_sell.filled)


@PROP
@given(any_book())
def test_complement_of_complement(book: OrderBook) -> None:
    no = book.view(Outcome.NO)
    as_yes = book_of(list(no.iter_bids()), list(no.iter_asks()))  # the NO levels as a book of their own
    back = as_yes.view(Outcome.NO)
    assert list(back.iter_bids()) == list(book.iter_bids())
    assert list(back.iter_asks()) == list(book.iter_asks())
    assert back.best_bid == book.best_bid and back.best_ask == book.best_ask
    assert mirror_levels(mirror_levels(book.iter_bids())) == list(book.iter_bids())
    assert mirror_levels(book.iter_asks()) == list(no.iter_bids())


# --------------------------------------------------------------------------- wire form and hash


def test_wire_levels_best_last() -> None:
    book = book_of([(4000, 10 * S), (3900, 20 * S), (3850, 1_500_000)], [(6000, 5 * S), (6100, 7 * S)])
    bids, asks = book.wire_levels()
    assert bids == [
        {"price": "0.385", "size": "1.5"},
        {"price": "0.39", "size": "20"},
        {"price": "0.4", "size": "10"},
    ]
    assert asks == [{"price": "0.61", "size": "7"}, {"price": "0.6", "size": "5"}]
    no_bids, no_asks = book.view(Outcome.NO).wire_levels()
    assert no_bids == [{"price": "0.39", "size": "7"}, {"price": "0.4", "size": "5"}]
    assert no_asks[-1] == {"price": "0.6", "size": "10"}


def test_book_hash_known_vector() -> None:
    assert book_hash(VECTOR_SUMMARY) == VECTOR_HASH


def test_book_hash_ignores_hash_field_and_key_order() -> None:
    stamped = dict(VECTOR_SUMMARY, hash=VECTOR_HASH)
    assert book_hash(stamped) == VECTOR_HASH
    reordered = dict(reversed(list(VECTOR_SUMMARY.items())))
    assert book_hash(reordered) == VECTOR_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("market", "0xaabbcd"),
        ("asset_id", "101"),
        ("timestamp", "123456790"),
        ("min_order_size", "5"),
        ("tick_size", "0.001"),
        ("neg_risk", True),
        ("last_trade_price", "0.51"),
        ("bids", [{"price": "0.4", "size": "100"}, {"price": "0.3", "size": "100"}]),
        ("asks", [{"price": "0.6", "size": "100"}, {"price": "0.7", "size": "101"}]),
    ],
)
def test_book_hash_depends_on_every_field(field: str, value: object) -> None:
    assert book_hash(dict(VECTOR_SUMMARY, **{field: value})) != VECTOR_HASH


def summary_args() -> dict[str, object]:
    return {
        "market": "0xaabbcc",
        "asset_id": "100",
        "timestamp": 123456789,
        "min_order_size": "100",
        "tick_size": "0.01",
        "neg_risk": False,
        "last_trade_price": "0.5",
    }


def independent_hash(body: dict[str, object]) -> str:
    """SHA-1 of compact JSON in the exchange's key order, built with the standard library."""
    keys = (
        "market",
        "asset_id",
        "timestamp",
        "hash",
        "bids",
        "asks",
        "min_order_size",
        "tick_size",
        "neg_risk",
        "last_trade_price",
    )
    ordered = {key: ("" if key == "hash" else body[key]) for key in keys}
    return hashlib.sha1(json.dumps(ordered, separators=(",", ":")).encode()).hexdigest()


def test_independent_hash_agrees_with_vector() -> None:
    assert independent_hash(VECTOR_SUMMARY) == VECTOR_HASH


def test_summary_of_vector_levels() -> None:
    book = book_of([(3000, 100 * S), (4000, 100 * S)], [(6000, 100 * S), (7000, 100 * S)])
    body = book.summary(**summary_args())
    assert list(body) == list(VECTOR_SUMMARY)  # the exchange's key order
    # Same book as the vector, but asks in wire order (descending, best last).
    expected = dict(VECTOR_SUMMARY, asks=[{"price": "0.7", "size": "100"}, {"price": "0.6", "size": "100"}])
    assert body == dict(expected, hash=body["hash"])
    assert body["hash"] == book_hash(expected) == independent_hash(expected)
    assert body["hash"] != VECTOR_HASH  # level order is part of the hash


@PROP
@given(any_book(), st.integers(min_value=0, max_value=2**62))
def test_summary_hash_is_consistent(book: OrderBook, ts: int) -> None:
    args = summary_args() | {"timestamp": ts}
    body = book.summary(**args)
    assert body["timestamp"] == str(ts)
    assert body["hash"] == book_hash(body) == book_hash(dict(body, hash="")) == independent_hash(body)
    bids, asks = book.wire_levels()
    assert body["bids"] == bids and body["asks"] == asks
    # The NO view hashes exactly like a YES book holding the NO levels.
    no = book.view(Outcome.NO)
    twin = book_of(list(no.iter_bids()), list(no.iter_asks()))
    assert no.summary(**args)["hash"] == twin.summary(**args)["hash"]


@settings(max_examples=200, deadline=None)
@given(side_dict, side_dict, st.integers(min_value=0, max_value=ONE))
def test_bisected_depth_equals_the_level_walk(bids: dict[int, int], asks: dict[int, int], band: int) -> None:
    """OrderBook's bisection shortcut counts exactly the levels BookView's walk does, crossed books included."""
    from engine.book import BookView

    book = OrderBook()
    book.replace(bids.items(), asks.items(), 1)
    assert book.depth(band) == BookView.depth(book, band)
    assert book.depth_usdc(band) == pytest.approx(BookView.depth_usdc(book, band), rel=1e-12)
