"""Execution firewall (`engine/execution/firewall.py`): every rule with its boundary on both sides, and
properties: nothing leaves off-tick or outside [tick, 1 - tick], the mutation budget is never exceeded."""

import math
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book import OrderBook
from engine.config import Settings
from engine.domain import Market, OrderRequest, OrderType, Outcome, Side
from engine.execution.firewall import (
    Firewall,
    FirewallLimits,
    MutationBudget,
    Refusal,
    chunks,
    gtd_expiration,
    should_requote,
    snap_price,
)
from engine.units import ONE, SIZE_SCALE, VALID_TICKS, is_valid_price

PROP = settings(derandomize=True, deadline=None, max_examples=150)
S = SIZE_SCALE
NOW = 1_790_000_000_000
MKT = Market(
    condition_id="c1", question="q", slug="s", yes_token="Y", no_token="N", tick=100, min_order_size=5 * S
)
# A wide open limit set so each test isolates one rule.
OPEN = FirewallLimits(max_book_share=1.0, max_slippage_bps=10_000)


def book(bids=((4900, 1000 * S),), asks=((5100, 1000 * S),), ts: int = NOW) -> OrderBook:
    b = OrderBook()
    b.replace(list(bids), list(asks), ts)
    return b


BOOK = book()
_ids = iter(range(10**9))


def req(
    price: int = 4800,
    size: int = 10 * S,
    side: Side = Side.BUY,
    otype: OrderType = OrderType.GTC,
    post_only: bool = False,
    expiration: int | None = None,
    coid: str | None = None,
    outcome: Outcome = Outcome.YES,
) -> OrderRequest:
    return OrderRequest(
        coid or f"o{next(_ids)}",
        "c1",
        MKT.token(outcome),
        outcome,
        side,
        price,
        size,
        otype,
        post_only,
        expiration,
    )


def check(fw: Firewall, r: OrderRequest, *, b: OrderBook = BOOK, tick: int = 100, now: int = NOW):
    return fw.check(r, market=MKT, tick=tick, book=b, now=now)


def approve(fw: Firewall, r: OrderRequest, *, b: OrderBook = BOOK, tick: int = 100, now: int = NOW):
    return fw.approve(r, market=MKT, tick=tick, book=b, now=now)


def test_a_plain_resting_order_passes_unchanged() -> None:
    r = req()
    v = approve(Firewall(OPEN), r)
    assert v.ok and v.code == "OK" and v.request == r and v.adjustments == () and v.walk is None


# --- duplicate id --------------------------------------------------------------------------------


def test_duplicate_client_order_id_is_refused_a_new_one_passes() -> None:
    fw = Firewall(OPEN)
    assert approve(fw, req(coid="dup")).ok
    v = approve(fw, req(price=4700, coid="dup"))
    assert not v.ok and v.code == "DUPLICATE_ID"
    assert approve(fw, req(price=4700, coid="other")).ok


# --- guards ----------------------------------------------------------------------------------------


def test_a_guard_refusal_is_reported_with_its_value_and_nothing_is_spent() -> None:
    seen = []

    def halted(r: OrderRequest, now: int):
        seen.append((r.client_order_id, now))
        return Refusal("BREAKER_DAILY_LOSS", 0.06, 0.05, "day loss")

    fw = Firewall(OPEN, guards=[lambda r, now: None, halted])
    r = req()
    v = approve(fw, r)
    assert not v.ok and v.rejection == Refusal("BREAKER_DAILY_LOSS", 0.06, 0.05, "day loss")
    assert seen == [(r.client_order_id, NOW)]
    assert fw.budget.used(NOW) == 0 and not fw.live


# --- order type, post-only, expiry ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("otype", "ok"),
    [(OrderType.GTC, True), (OrderType.GTD, True), (OrderType.FOK, False), (OrderType.FAK, False)],
)
def test_post_only_only_with_resting_types(otype: OrderType, ok: bool) -> None:
    v = check(Firewall(OPEN), req(otype=otype, post_only=True))
    assert v.ok is ok
    if not ok:
        assert v.code == "POST_ONLY_NOT_RESTING"


def test_gtd_expiry_is_now_plus_buffer_plus_lifetime_in_unix_seconds() -> None:
    now = NOW + 500  # a fraction of a second rounds up: the buffer is never shortened
    v = check(
        Firewall(FirewallLimits(gtd_buffer_s=60, gtd_lifetime_s=300)), req(otype=OrderType.GTD), now=now
    )
    assert v.ok and v.request.expiration == NOW // 1000 + 1 + 60 + 300
    assert v.request.expiration == gtd_expiration(now, 60, 300)
    assert gtd_expiration(NOW, 60, 300) == NOW // 1000 + 360


def test_gtd_given_expiry_must_leave_lifetime_past_the_buffer() -> None:
    fw = Firewall(OPEN)
    earliest = NOW // 1000 + 60
    v = check(fw, req(otype=OrderType.GTD, expiration=earliest))
    assert not v.ok and v.code == "GTD_EXPIRY_TOO_SOON"
    assert (v.rejection.value, v.rejection.threshold) == (earliest, earliest + 1)
    ok = check(fw, req(otype=OrderType.GTD, expiration=earliest + 1))
    assert ok.ok and ok.request.expiration == earliest + 1 and ok.adjustments == ()


@pytest.mark.parametrize("otype", [OrderType.GTC, OrderType.FOK, OrderType.FAK])
def test_expiration_only_on_gtd(otype: OrderType) -> None:
    v = check(Firewall(OPEN), req(price=5100, otype=otype, expiration=NOW // 1000 + 999))
    assert not v.ok and v.code == "EXPIRY_WITHOUT_GTD"
    assert check(Firewall(OPEN), req(price=5100, otype=otype)).ok


# --- size ------------------------------------------------------------------------------------------


def test_size_is_floored_to_hundredths_of_a_share() -> None:
    v = check(Firewall(OPEN), req(size=10 * S + 9_999))
    assert v.ok and v.request.size == 10 * S and v.adjustments == (f"size {10 * S + 9_999}->{10 * S}",)


@pytest.mark.parametrize(
    ("size", "code"),
    [
        (4_990_000, "BELOW_MIN_SIZE"),
        (4_999_999, "BELOW_MIN_SIZE"),
        (5 * S, "OK"),
        (9_999, "INVALID_SIZE"),
        (0, "INVALID_SIZE"),
    ],
)
def test_min_size_both_sides(size: int, code: str) -> None:
    v = check(Firewall(OPEN), req(size=size))
    assert v.code == code
    if code == "BELOW_MIN_SIZE":
        assert v.rejection.threshold == 5 * S


# --- ticks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tick", "ok"), [(7, False), (200, False), *[(t, True) for t in VALID_TICKS]])
def test_tick_must_be_a_venue_tick(tick: int, ok: bool) -> None:
    v = check(Firewall(OPEN), req(price=4000), tick=tick)
    assert v.ok is ok
    if not ok:
        assert v.code == "INVALID_TICK"


@pytest.mark.parametrize(
    ("price", "side", "tick", "expected"),
    [
        (4850, Side.BUY, 100, 4800),  # buys round down
        (4850, Side.SELL, 100, 4900),  # sells round up
        (4800, Side.BUY, 100, 4800),
        (4801, Side.SELL, 100, 4900),
        (4825, Side.BUY, 25, 4825),
        (4826, Side.BUY, 25, 4825),
        (50, Side.BUY, 100, 100),  # rounds to 0, then clamps up to the tick
        (150, Side.SELL, 100, 200),
        (9_950, Side.SELL, 100, 9_900),  # rounds to 1.00, then clamps down
        (9_950, Side.BUY, 100, 9_900),
        (-300, Side.BUY, 10, 10),
        (12_345, Side.SELL, 1000, 9_000),
    ],
)
def test_rounding_before_clamping(price: int, side: Side, tick: int, expected: int) -> None:
    assert snap_price(price, tick, side) == expected
    bk = book(bids=((50, 100_000 * S),), asks=((9_990, 100_000 * S),))  # wide: nothing crosses
    v = check(Firewall(OPEN), req(price=price, side=side), tick=tick, b=bk)
    assert v.ok and v.request.price == expected
    assert v.adjustments == (() if price == expected else (f"price {price}->{expected}",))


# --- book freshness, crossing, marketable checks -----------------------------------------------------


def test_stale_book_both_sides() -> None:
    fw = Firewall(FirewallLimits(max_book_age_ms=30_000))
    assert check(fw, req(), b=book(ts=NOW - 30_000)).ok
    v = check(fw, req(), b=book(ts=NOW - 30_001))
    assert (
        not v.ok and v.code == "STALE_BOOK" and (v.rejection.value, v.rejection.threshold) == (30_001, 30_000)
    )


@pytest.mark.parametrize(
    ("side", "price", "ok"),
    [(Side.BUY, 5100, False), (Side.BUY, 5000, True), (Side.SELL, 4900, False), (Side.SELL, 5000, True)],
)
def test_post_only_must_not_cross(side: Side, price: int, ok: bool) -> None:
    v = check(Firewall(OPEN), req(price=price, side=side, post_only=True))
    assert v.ok is ok
    if not ok:
        assert v.code == "POST_ONLY_CROSSES"


def test_post_only_on_the_no_token_judged_on_the_no_book() -> None:
    # NO asks = 1 - YES bids: 0.51; a NO post-only buy at 0.51 crosses, at 0.50 rests.
    assert (
        check(Firewall(OPEN), req(price=5100, post_only=True, outcome=Outcome.NO)).code == "POST_ONLY_CROSSES"
    )
    assert check(Firewall(OPEN), req(price=5000, post_only=True, outcome=Outcome.NO)).ok


@pytest.mark.parametrize("otype", [OrderType.FAK, OrderType.FOK])
@pytest.mark.parametrize(
    ("side", "price", "ok"),
    [(Side.BUY, 5000, False), (Side.BUY, 5100, True), (Side.SELL, 5000, False), (Side.SELL, 4900, True)],
)
def test_fak_fok_must_be_marketable(otype: OrderType, side: Side, price: int, ok: bool) -> None:
    v = check(Firewall(OPEN), req(price=price, side=side, otype=otype))
    assert v.ok is ok
    if not ok:
        assert v.code == "NOT_MARKETABLE"
    else:
        assert v.walk is not None and v.walk.complete


@pytest.mark.parametrize(("size", "ok"), [(19_990_000, False), (20 * S, True)])
def test_marketable_buy_at_least_one_dollar(size: int, ok: bool) -> None:
    bk = book(bids=((400, 10_000 * S),), asks=((500, 10_000 * S),))
    v = check(Firewall(OPEN), req(price=500, size=size, otype=OrderType.FAK), b=bk)
    assert v.ok is ok
    if not ok:
        assert v.code == "BELOW_MIN_NOTIONAL" and v.rejection.value == pytest.approx(0.9995)
    # A resting buy and a marketable sell have no dollar minimum.
    assert check(Firewall(OPEN), req(price=400, size=size), b=bk).ok
    assert check(Firewall(OPEN), req(price=400, size=size, side=Side.SELL, otype=OrderType.FAK), b=bk).ok


def test_slippage_both_sides() -> None:
    bk = book(asks=((5100, 10 * S), (5200, 10 * S)))
    walk = bk.view(Outcome.YES).impact(Side.BUY, 20 * S, limit=5200)
    assert walk.slippage_bps == pytest.approx(98.04, abs=0.01)
    at = check(
        Firewall(replace(OPEN, max_slippage_bps=walk.slippage_bps)), req(price=5200, size=20 * S), b=bk
    )
    assert at.ok and at.walk == walk
    below = replace(OPEN, max_slippage_bps=math.nextafter(walk.slippage_bps, 0))
    v = check(Firewall(below), req(price=5200, size=20 * S), b=bk)
    assert not v.ok and v.code == "SLIPPAGE" and v.rejection.value == walk.slippage_bps


def test_slippage_is_walked_only_to_the_limit_price() -> None:
    # A GTC buy at 0.51 takes the 0.51 level only: no slippage, the rest rests.
    bk = book(asks=((5100, 10 * S), (5200, 10 * S)))
    v = check(Firewall(replace(OPEN, max_slippage_bps=0)), req(price=5100, size=20 * S), b=bk)
    assert v.ok and v.walk is not None and v.walk.filled == 10 * S and v.walk.slippage_bps == 0


@pytest.mark.parametrize(("size", "ok"), [(10 * S, True), (10 * S + 10_000, False)])
def test_book_share_both_sides(size: int, ok: bool) -> None:
    bk = book(asks=((5100, 100 * S),))
    v = check(
        Firewall(replace(OPEN, max_book_share=0.10)), req(price=5100, size=size, otype=OrderType.FAK), b=bk
    )
    assert v.ok is ok
    if not ok:
        assert v.code == "BOOK_SHARE" and v.rejection.value == pytest.approx(0.1001)


@pytest.mark.parametrize(("size", "ok"), [(30 * S, True), (30 * S + 10_000, False)])
def test_fok_must_fill_completely_within_its_limit(size: int, ok: bool) -> None:
    bk = book(asks=((5100, 10 * S), (5200, 20 * S), (5300, 500 * S)))
    v = check(Firewall(OPEN), req(price=5200, size=size, otype=OrderType.FOK), b=bk)
    assert v.ok is ok
    if not ok:
        assert v.code == "FOK_UNFILLABLE" and v.rejection.value == 30 * S


# --- duplicates, requotes, stale orders ------------------------------------------------------------


def test_duplicate_live_order_refused_until_the_first_is_done() -> None:
    fw = Firewall(OPEN)
    first = req(price=4800, size=10 * S)
    assert approve(fw, first).ok
    v = check(fw, req(price=4800, size=10 * S))
    assert not v.ok and v.code == "DUPLICATE_ORDER"
    assert check(fw, req(price=4800, size=10 * S + 10_000)).ok
    assert check(fw, req(price=4700, size=10 * S)).ok
    assert check(fw, req(price=4800, size=10 * S, side=Side.SELL)).ok
    # An off-tick twin is recognised after rounding.
    assert check(fw, req(price=4850, size=10 * S)).code == "DUPLICATE_ORDER"
    fw.on_done(first.client_order_id)
    assert check(fw, req(price=4800, size=10 * S)).ok


@pytest.mark.parametrize(
    ("moved_ticks", "requote"), [(0, False), (1, False), (2, False), (3, True), (-3, True)]
)
def test_requote_only_when_the_target_moved_more_than_two_ticks(moved_ticks: int, requote: bool) -> None:
    assert should_requote(4800, 4800 + moved_ticks * 100, 100) is requote
    fw = Firewall(OPEN)
    r = req(price=4800)
    assert approve(fw, r).ok
    refusal = fw.check_requote(r.client_order_id, 4800 + moved_ticks * 100, 100)
    if requote:
        assert refusal is None
    else:
        assert refusal is not None and refusal.code == "DEBOUNCED"
        assert (refusal.value, refusal.threshold) == (abs(moved_ticks), 2)
    assert fw.check_requote("unknown", 4800, 100) is None


def test_stale_orders_at_the_configured_age() -> None:
    fw = Firewall(replace(OPEN, stale_order_ms=3_600_000))
    a, b = req(price=4800), req(price=4700)
    assert approve(fw, a, now=NOW).ok
    assert approve(fw, b, now=NOW + 10).ok
    assert fw.stale_orders(NOW + 3_599_999) == []
    assert fw.stale_orders(NOW + 3_600_000) == [a.client_order_id]
    assert fw.stale_orders(NOW + 3_600_010) == [a.client_order_id, b.client_order_id]
    fw.on_done(a.client_order_id)
    assert fw.stale_orders(NOW + 3_600_010) == [b.client_order_id]


# --- budget and batches ------------------------------------------------------------------------------


def test_budget_shared_by_places_and_cancels_both_sides_of_the_window() -> None:
    fw = Firewall(replace(OPEN, mutations_per_min=60))
    for i in range(59):
        assert approve(fw, req(price=100 + i * 100 % 4700, size=5 * S + i * 10_000), now=NOW).ok
    assert fw.cancel(["x"], NOW + 1).allowed == ("x",)
    v = check(fw, req(price=4800, size=7 * S), now=NOW + 2)
    assert not v.ok and v.code == "RATE_BUDGET" and (v.rejection.value, v.rejection.threshold) == (60, 60)
    assert fw.cancel(["y"], NOW + 2).refused == ("y",)
    assert fw.budget.resets_at(NOW + 2) == NOW + 60_000
    # The 59 places leave the window exactly one minute later; the cancel one ms after that.
    late = NOW + 59_999
    assert check(fw, req(price=4800, size=7 * S), now=late, b=book(ts=late)).code == "RATE_BUDGET"
    assert fw.budget.available(NOW + 60_000) == 59
    assert approve(fw, req(price=4800, size=7 * S), now=NOW + 60_000, b=book(ts=NOW + 60_000)).ok


def test_check_is_pure_and_commit_spends() -> None:
    fw = Firewall(replace(OPEN, mutations_per_min=1))
    r = req()
    v = check(fw, r)
    assert v.ok and fw.budget.used(NOW) == 0 and not fw.live
    assert fw.commit(v.request, NOW) and fw.budget.used(NOW) == 1 and r.client_order_id in fw.live
    assert not fw.commit(v.request, NOW)  # the same id twice
    later = req(price=4700)
    assert check(fw, later).code == "RATE_BUDGET" and not fw.commit(later, NOW)


def test_cancel_all_is_never_refused_and_costs_nothing() -> None:
    fw = Firewall(replace(OPEN, mutations_per_min=2))
    a, b = req(price=4800), req(price=4700)
    assert approve(fw, a).ok and approve(fw, b).ok
    assert fw.cancel(["z"], NOW).refused == ("z",)
    assert fw.cancel_all() == (a.client_order_id, b.client_order_id)
    assert not fw.live and fw.budget.used(NOW) == 2


def test_cancel_reserve_keeps_room_for_cancels() -> None:
    fw = Firewall(replace(OPEN, mutations_per_min=3, cancel_reserve=1))
    assert approve(fw, req(price=4800)).ok and approve(fw, req(price=4700)).ok
    v = check(fw, req(price=4600))
    assert v.code == "RATE_BUDGET" and v.rejection.threshold == 2
    assert fw.cancel(["a"], NOW).allowed == ("a",)


def test_batches_of_at_most_fifteen_in_input_order() -> None:
    fw = Firewall(OPEN)
    reqs = [req(price=100 * (i + 1)) for i in range(40)]
    result = fw.approve_batch([(r, MKT, 100, BOOK) for r in reqs], NOW)
    assert [len(b) for b in result.batches] == [15, 15, 10]
    assert [r.client_order_id for b in result.batches for r in b] == [r.client_order_id for r in reqs]
    assert all(v.ok for v in result.verdicts)
    assert [len(c) for c in chunks(list(range(15)), 15)] == [15] and [
        len(c) for c in chunks(list(range(16)), 15)
    ] == [15, 1]


def test_batch_beyond_the_budget_is_cut_and_reported() -> None:
    fw = Firewall(replace(OPEN, mutations_per_min=20))
    reqs = [req(price=100 * (i + 1)) for i in range(25)]
    result = fw.approve_batch([(r, MKT, 100, BOOK) for r in reqs], NOW)
    assert [len(b) for b in result.batches] == [15, 5]
    assert [v.code for v in result.verdicts] == ["OK"] * 20 + ["RATE_BUDGET"] * 5


def test_from_settings_uses_the_configured_values() -> None:
    lim = FirewallLimits.from_settings(Settings())
    assert lim == FirewallLimits()
    custom = SimpleNamespace(
        execution=SimpleNamespace(
            batch_max=10,
            mutation_budget_per_min=30,
            requote_min_ticks=3,
            max_slippage_bps=20.0,
            gtd_security_buffer_s=90,
            gtd_lifetime_s=120,
            stale_order_s=60.0,
            mutation_cancel_reserve=5,
        ),
        risk=SimpleNamespace(max_book_impact_pct=0.05, min_order_usdc=Decimal(2)),
        breakers=SimpleNamespace(stale_feed_s=5.0),
    )
    lim = FirewallLimits.from_settings(custom)
    assert (lim.batch_max, lim.mutations_per_min, lim.requote_min_ticks, lim.max_slippage_bps) == (
        10,
        30,
        3,
        20.0,
    )
    assert (lim.gtd_buffer_s, lim.gtd_lifetime_s, lim.stale_order_ms, lim.max_book_age_ms) == (
        90,
        120,
        60_000,
        5_000,
    )
    assert (lim.max_book_share, lim.min_marketable_usdc, lim.cancel_reserve) == (0.05, Decimal(2), 5)


def test_budget_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MutationBudget(0)
    with pytest.raises(ValueError):
        MutationBudget(1).try_spend(-1, 0)


# --- properties ------------------------------------------------------------------------------------


@st.composite
def intents(draw: st.DrawFn):
    tick = draw(st.sampled_from(VALID_TICKS))
    price = draw(
        st.one_of(
            st.integers(-2 * ONE, 3 * ONE), st.integers(0, ONE), st.sampled_from([0, ONE, tick, ONE - tick])
        )
    )
    side = draw(st.sampled_from(list(Side)))
    otype = draw(st.sampled_from([OrderType.GTC, OrderType.GTC, OrderType.GTD, OrderType.FAK, OrderType.FOK]))
    post_only = draw(st.booleans()) and otype.rests
    size = draw(st.one_of(st.integers(5 * S, 200 * S), st.integers(0, 200 * S)))
    bid = draw(st.integers(1, ONE - 2))
    ask = draw(st.integers(bid + 1, ONE - 1))
    bk = book(
        bids=((bid, draw(st.integers(S, 10_000 * S))),), asks=((ask, draw(st.integers(S, 10_000 * S))),)
    )
    return req(price=price, size=size, side=side, otype=otype, post_only=post_only), tick, bk


@PROP
@given(st.lists(intents(), min_size=1, max_size=20))
def test_property_nothing_leaves_off_tick_or_out_of_range(cases) -> None:
    fw = Firewall(FirewallLimits(max_book_share=1.0, max_slippage_bps=10_000, mutations_per_min=10**6))
    for r, tick, bk in cases:
        v = fw.approve(r, market=MKT, tick=tick, book=bk, now=NOW)
        if v.ok:
            out = v.request
            assert is_valid_price(out.price, tick), (r.price, tick, out.price)
            assert out.size % 10_000 == 0 and out.size >= MKT.min_order_size
            assert not out.post_only or out.order_type.rests
            assert (out.expiration is not None) == (out.order_type is OrderType.GTD)
            # rounding never overpays: a buy never goes up, a sell never down, unless the clamp forces it
            if tick <= r.price <= ONE - tick:
                assert out.price <= r.price if r.side is Side.BUY else out.price >= r.price


def test_property_reaches_approvals() -> None:
    approved = 0
    codes: set[str] = set()

    @PROP
    @given(intents())
    def run(case) -> None:
        nonlocal approved
        r, tick, bk = case
        v = Firewall(FirewallLimits(max_book_share=1.0, max_slippage_bps=10_000)).check(
            r, market=MKT, tick=tick, book=bk, now=NOW
        )
        approved += v.ok
        codes.add(v.code)

    run()
    assert approved >= 30, codes
    assert {"OK", "NOT_MARKETABLE", "BELOW_MIN_SIZE", "POST_ONLY_CROSSES"} <= codes


ops = st.lists(
    st.tuples(
        st.integers(0, 400), st.sampled_from(["place", "cancel", "cancel", "cancel_all"]), st.integers(1, 4)
    ),
    min_size=1,
    max_size=120,
)


@PROP
@given(st.integers(1, 8), st.sampled_from([1000, 60_000]), ops)
def test_property_budget_never_exceeded_in_any_rolling_window(limit: int, window: int, steps) -> None:
    fw = Firewall(
        FirewallLimits(
            mutations_per_min=limit, mutation_window_ms=window, max_book_share=1.0, max_slippage_bps=10_000
        )
    )
    now = NOW
    stamps: list[int] = []
    for dt, op, n in steps:
        now += dt * window // 100
        if op == "place":
            for _ in range(n):
                size = 5 * S + len(stamps) * 10_000 + dt * 10_000_000  # distinct, so no duplicate refusals
                if fw.approve(
                    req(price=4800, size=size), market=MKT, tick=100, book=book(ts=now), now=now
                ).ok:
                    stamps.append(now)
        elif op == "cancel":
            stamps.extend([now] * len(fw.cancel([f"c{i}" for i in range(n)], now).allowed))
        else:
            fw.cancel_all()
        assert fw.budget.used(now) <= limit
    for i, t in enumerate(stamps):
        in_window = sum(1 for u in stamps[: i + 1] if t - window < u <= t)
        assert in_window <= limit
