"""Portfolio exposure (`engine/risk/exposure.py`): clusters, the market / cluster / aggregate caps and the
cash and share reservations, each at its boundary on both sides; properties: no sequence of orders, fills,
cancels and settlements takes exposure over a cap or spends the same dollars twice."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.book import OrderBook
from engine.config import Settings
from engine.domain import (
    Estimate,
    FeeSchedule,
    Fill,
    Liquidity,
    Market,
    OrderRequest,
    OrderType,
    Outcome,
    Side,
)
from engine.execution.firewall import Firewall
from engine.risk.exposure import ClusterMap, ExposureBook, ExposureLimits, fee_bound
from engine.risk.sizing import Exposure, SizingLimits, size_trade
from engine.units import SIZE_SCALE, notional

PROP = settings(derandomize=True, deadline=None, max_examples=120)
S = SIZE_SCALE
D = Decimal
CENT = S // 100
FEES = FeeSchedule(rate=D("0.25"), exponent=2)
FREE = FeeSchedule()
ZERO = D(0)


def mk(
    cid: str,
    *,
    event: str = "",
    question: str = "q",
    neg_risk: bool = False,
    fees: FeeSchedule = FREE,
    slug: str = "s",
    category: str = "",
) -> Market:
    return Market(
        condition_id=cid,
        question=question,
        slug=slug,
        yes_token=f"{cid}Y",
        no_token=f"{cid}N",
        event_id=event,
        neg_risk=neg_risk,
        fees=fees,
        category=category,
    )


_ids = iter(range(10**9))


def order(
    m: Market,
    price: int,
    size: int,
    side: Side = Side.BUY,
    outcome: Outcome = Outcome.YES,
    *,
    post_only: bool = False,
    coid: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        coid or f"o{next(_ids)}",
        m.condition_id,
        m.token(outcome),
        outcome,
        side,
        price,
        size,
        OrderType.GTC,
        post_only,
    )


def fill(r: OrderRequest, size: int, price: int | None = None, fee: Decimal = ZERO) -> Fill:
    return Fill(
        f"t{next(_ids)}",
        r.client_order_id,
        r.condition_id,
        r.token_id,
        r.outcome,
        r.side,
        r.price if price is None else price,
        size,
        fee,
        Liquidity.TAKER,
        0,
    )


def book_with(
    *markets: Market,
    cash: str = "1000",
    limits: ExposureLimits | None = None,
    groups: dict[str, list[str]] | None = None,
) -> ExposureBook:
    b = ExposureBook(D(cash), limits, ClusterMap(groups))
    for m in markets:
        b.add_market(m)
    return b


# --- clusters ------------------------------------------------------------------------------------------


def test_each_unlinked_market_is_its_own_cluster() -> None:
    b = book_with(mk("a"), mk("b"))
    assert b.cluster("a") == "market:a" and b.cluster("b") == "market:b"


def test_markets_of_one_event_share_a_cluster() -> None:
    b = book_with(mk("a", event="E1"), mk("b", event="E1"), mk("c", event="E2"))
    assert b.cluster("a") == b.cluster("b") == "event:E1" and b.cluster("c") == "event:E2"


def test_neg_risk_markets_share_a_cluster_by_their_neg_risk_id() -> None:
    clusters = ClusterMap()
    a = clusters.add(mk("a", neg_risk=True), neg_risk_id="NR1")
    clusters.add(mk("b", neg_risk=True), neg_risk_id="NR1")
    assert a == "negrisk:NR1" and clusters.cluster("a") == clusters.cluster("b") == "negrisk:NR1"
    # A neg-risk id on a market that is not neg-risk links nothing.
    assert clusters.add(mk("c"), neg_risk_id="NR1") == "market:c"


def test_keyword_groups_match_whole_words_in_question_slug_and_category() -> None:
    groups = {"ai": ["ai", "openai"], "fed": ["interest rate", "fomc"]}
    b = book_with(
        mk("a", question="Will OpenAI ship GPT-6?"),
        mk("b", question="Will the FOMC cut?"),
        mk("c", question="Who said it?"),
        mk("d", slug="fed-interest-rate-cut"),
        mk("e", question="x", category="AI"),
        groups=groups,
    )
    assert b.cluster("a") == b.cluster("e") == "group:ai"
    assert b.cluster("b") == b.cluster("d") == "group:fed"
    assert b.cluster("c") == "market:c"  # "ai" is not a word of "said"


def test_links_are_transitive_and_names_deterministic() -> None:
    groups = {"btc": ["bitcoin"], "crypto": ["crypto"]}
    markets = [
        mk("a", event="E1", question="Bitcoin above 100k?"),
        mk("b", event="E1", question="Ether flips?"),
        mk("c", question="Crypto ETF approved?"),
        mk("d", question="Bitcoin crypto reserve?"),
    ]
    b1 = book_with(*markets, groups=groups)
    b2 = book_with(*reversed(markets), groups=groups)
    for cid in "abcd":
        assert b1.cluster(cid) == b2.cluster(cid) == "group:btc"


# --- caps, both sides ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "code"), [(200 * S, "OK"), (200 * S + CENT, "MARKET_CAP")])
def test_market_cap_both_sides(size: int, code: str) -> None:
    m = mk("a")
    b = book_with(m)
    v = b.check(order(m, 5000, size), bankroll=D(1000))  # 10% of 1000 = 100 USDC = 200 shares at 0.50
    assert v.code == code and v.ok is (code == "OK")
    if not v.ok:
        assert (v.value, v.threshold) == (100.005, 100.0)


@pytest.mark.parametrize(("size", "code"), [(40 * S, "OK"), (40 * S + CENT, "CLUSTER_CAP")])
def test_cluster_cap_both_sides(size: int, code: str) -> None:
    a, c = mk("a", event="E"), mk("c", event="E")
    b = book_with(a, c)
    assert b.admit(order(a, 5000, 200 * S), bankroll=D(1000)).ok  # 100 of the 120 cluster cap
    v = b.check(order(c, 5000, size), bankroll=D(1000))
    assert v.code == code
    if not v.ok:
        assert v.threshold == 120.0


@pytest.mark.parametrize(("size", "code"), [(100 * S, "OK"), (100 * S + CENT, "AGGREGATE_CAP")])
def test_aggregate_cap_both_sides(size: int, code: str) -> None:
    ms = [mk(c) for c in "abcde"]
    b = book_with(*ms, cash="10000", limits=ExposureLimits(0.10, 0.12, 0.35))
    for m in ms[:3]:
        assert b.admit(order(m, 5000, 200 * S), bankroll=D(1000)).ok
    assert b.aggregate_exposure() == D(300)
    v = b.check(order(ms[3], 5000, size), bankroll=D(1000))
    assert v.code == code
    if not v.ok:
        assert (v.value, v.threshold) == (350.005, 350.0)


@pytest.mark.parametrize(("cash", "code"), [("51.5625", "OK"), ("51.562499", "CASH")])
def test_cash_covers_price_and_the_largest_possible_taker_fee(cash: str, code: str) -> None:
    m = mk("a", fees=FEES)
    b = book_with(m, cash=cash)
    # 100 shares at 0.50: 50 USDC + fee 100 x 0.25 x 0.25^2 = 1.5625.
    v = b.check(order(m, 5000, 100 * S), bankroll=D(10_000))
    assert v.code == code
    # Post-only orders never pay the taker fee.
    assert b.check(order(m, 5000, 100 * S, post_only=True), bankroll=D(10_000)).ok is (D(cash) >= 50)


def test_fee_bound_peaks_at_one_half() -> None:
    assert fee_bound(FEES, 5000, 100 * S) == D("1.5625")
    assert fee_bound(FEES, 8000, 100 * S) == D("1.5625")  # a buy limited at 0.80 may fill at 0.50
    assert fee_bound(FEES, 2000, 100 * S) == D("100") * D("0.25") * D("0.16") ** 2
    assert fee_bound(FeeSchedule(), 5000, 100 * S) == 0 and fee_bound(FEES, 5000, 0) == 0


def test_two_orders_cannot_spend_the_same_dollars() -> None:
    a, c = mk("a"), mk("c")
    b = book_with(a, c, cash="60")
    first = order(a, 5000, 100 * S)
    assert b.admit(first, bankroll=D(10_000)).ok and b.free_cash() == D(10)
    second = order(c, 5000, 100 * S)
    v = b.admit(second, bankroll=D(10_000))
    assert v.code == "CASH" and (v.value, v.threshold) == (50.0, 10.0)
    b.release(first.client_order_id)
    assert b.admit(second, bankroll=D(10_000)).ok


def test_sells_reserve_shares_so_two_sells_cannot_sell_the_same_shares() -> None:
    m = mk("a")
    b = book_with(m)
    buy = order(m, 4000, 30 * S)
    assert b.admit(buy, bankroll=D(1000)).ok
    b.on_fill(fill(buy, 30 * S))
    s1 = order(m, 6000, 20 * S, Side.SELL)
    assert b.reduces(s1) and b.admit(s1).ok
    assert b.free_shares(m.yes_token) == 10 * S
    over = order(m, 6000, 10 * S + CENT, Side.SELL)
    assert not b.reduces(over)
    v = b.admit(over)
    assert v.code == "SHARES" and (v.value, v.threshold) == (10.01, 10.0)
    assert b.admit(order(m, 6000, 10 * S, Side.SELL)).ok
    assert not b.reduces(order(m, 6000, 1 * S, Side.SELL, Outcome.NO))  # nothing held on NO


def test_unknown_market_duplicate_and_bad_size() -> None:
    m = mk("a")
    b = book_with(m)
    assert b.check(order(mk("zz"), 5000, S)).code == "UNKNOWN_MARKET"
    wrong_token = OrderRequest("x", "a", "bY", Outcome.YES, Side.BUY, 5000, S)
    assert b.check(wrong_token).code == "UNKNOWN_MARKET"
    r = order(m, 5000, S, coid="dup")
    assert b.admit(r, bankroll=D(1000)).ok and b.check(r, bankroll=D(1000)).code == "DUPLICATE"
    assert b.check(order(m, 5000, 0)).code == "INVALID_SIZE"


# --- marks, fills, settlements ---------------------------------------------------------------------------


def test_inventory_is_marked_to_the_canonical_mid_and_counts_the_larger_of_cost_and_mark() -> None:
    m = mk("a")
    b = book_with(m)
    r = order(m, 4000, 100 * S)
    assert b.admit(r, bankroll=D(1000)).ok
    assert b.token_exposure(m.yes_token) == D(40)
    bk = OrderBook()
    bk.replace([(4900, 10 * S)], [(5100, 10 * S)], 1)
    b.mark_from_book(m, bk)
    assert b.marks[m.yes_token] == D("0.5") and b.marks[m.no_token] == D("0.5")
    # A resting buy below the mark counts at the mark.
    assert b.token_exposure(m.yes_token) == D(50)
    b.on_fill(fill(r, 100 * S, price=4000))
    row = b.inventory()[0]
    assert (row.shares, row.cost, row.mark, row.value, row.exposure) == (
        100 * S,
        D(40),
        D("0.5"),
        D(50),
        D(50),
    )
    assert b.equity() == D(1000) - D(40) + D(50)
    b.set_mark(m.yes_token, D("0.3"))
    assert b.token_exposure(m.yes_token) == D(40)  # cost when the mark is below it
    b.set_mark(m.yes_token, None)
    assert b.token_exposure(m.yes_token) == D(40) and b.equity() == D(1000)


def test_a_fill_moves_the_reservation_into_inventory_without_raising_exposure() -> None:
    m = mk("a", fees=FEES)
    b = book_with(m)
    b.set_mark(m.yes_token, D("0.49"))
    r = order(m, 5000, 100 * S)
    assert b.admit(r, bankroll=D(1000)).ok
    before = b.market_exposure("a")
    fee = FEES.taker_fee(4900, 40 * S)
    b.on_fill(fill(r, 40 * S, price=4900, fee=fee))
    assert b.reservations[r.client_order_id].remaining == 60 * S
    assert b.market_exposure("a") <= before
    assert b.cash == D(1000) - notional(4900, 40 * S) - fee
    b.on_fill(fill(r, 60 * S, price=5000, fee=FEES.taker_fee(5000, 60 * S)))
    assert r.client_order_id not in b.reservations and b.held(m.yes_token) == 100 * S
    assert b.free_cash() == b.cash


def test_sell_fill_and_settlement_reduce_inventory_at_average_cost() -> None:
    m = mk("a")
    b = book_with(m)
    r = order(m, 4000, 30 * S)
    b.admit(r, bankroll=D(1000))
    b.on_fill(fill(r, 30 * S))
    s = order(m, 6000, 10 * S, Side.SELL)
    b.admit(s)
    b.on_fill(fill(s, 10 * S, fee=D("0.01")))
    h = b.holdings[m.yes_token]
    assert (h.shares, h.cost) == (20 * S, D(8)) and b.cash == D(1000) - 12 + 6 - D("0.01")
    assert s.client_order_id not in b.reservations
    b.on_settlement(m.yes_token, 20 * S, D(20))
    assert (
        b.held(m.yes_token) == 0 and b.holdings[m.yes_token].cost == 0 and b.token_exposure(m.yes_token) == 0
    )
    assert b.inventory() == ()


def test_sync_replaces_cash_and_inventory() -> None:
    m = mk("a")
    b = book_with(m)
    b.sync(D(500), [(m.yes_token, 10 * S, D(4))])
    assert b.cash == D(500) and b.held(m.yes_token) == 10 * S and b.token_exposure(m.yes_token) == D(4)


# --- headroom, sizing view, guard --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cash", "market_used", "binding", "shares"),
    [
        ("1000", 0, "market_cap", 200 * S),
        ("1000", 150 * S, "market_cap", 50 * S),
        ("30", 0, "cash", 58_180_000),
    ],
)
def test_headroom_is_the_smallest_room_and_exactly_admissible(
    cash: str, market_used: int, binding: str, shares: int
) -> None:
    m = mk("a", fees=FEES)
    b = book_with(m, cash=cash)
    if market_used:
        b.admit(order(m, 5000, market_used, post_only=True), bankroll=D(1000))
    h = b.headroom("a", Outcome.YES, 5000, bankroll=D(1000))
    assert (h.binding, h.shares) == (binding, shares)
    assert b.check(order(m, 5000, h.shares), bankroll=D(1000)).ok
    assert not b.check(order(m, 5000, h.shares + CENT), bankroll=D(1000)).ok
    assert set(h.rooms) == {"market_cap", "cluster_cap", "aggregate_cap", "cash"}


def test_headroom_uses_equity_when_no_bankroll_is_given() -> None:
    m = mk("a")
    b = book_with(m, cash="500")
    assert b.headroom("a", Outcome.NO, 5000).shares == 100 * S  # 10% of 500 at 0.50


def test_for_sizing_gives_the_sizer_the_same_measures() -> None:
    a, c = mk("a", event="E"), mk("c", event="E")
    b = book_with(a, c)
    b.admit(order(a, 5000, 20 * S), bankroll=D(1000))
    r = order(c, 4000, 50 * S)
    b.admit(r, bankroll=D(1000))
    b.on_fill(fill(r, 50 * S))
    b.admit(order(c, 6000, 10 * S, Side.SELL))
    e = b.for_sizing("c", bankroll=D(1000))
    assert e == Exposure(
        bankroll=D(1000),
        free_cash=D(1000) - 20 - 10,
        market=D(20),
        cluster=D(30),
        aggregate=D(30),
        held={Outcome.YES: 40 * S, Outcome.NO: 0},
    )


def test_exposure_guard_in_the_firewall_checks_without_reserving() -> None:
    m = mk("a")
    b = book_with(m)
    bk = OrderBook()
    bk.replace([(4900, 1000 * S)], [(5100, 1000 * S)], 0)
    fw = Firewall(guards=[b.guard(bankroll=D(1000))])
    assert fw.check(order(m, 5000, 200 * S), market=m, tick=100, book=bk, now=0).ok
    v = fw.check(order(m, 5000, 201 * S), market=m, tick=100, book=bk, now=0)
    assert not v.ok and v.code == "MARKET_CAP" and v.rejection.threshold == 100.0
    assert b.reservations == {}


def test_limits_from_settings() -> None:
    assert ExposureLimits.from_settings(Settings()) == ExposureLimits(0.10, 0.12, 0.40)


# --- properties ------------------------------------------------------------------------------------------

MARKETS = [
    mk("a", event="E1", fees=FEES),
    mk("b", event="E1"),
    mk("c", question="bitcoin up?", fees=FEES),
    mk("d", question="bitcoin down?"),
    mk("e"),
    mk("f", fees=FEES),
]
GROUPS = {"btc": ["bitcoin"]}
BANKROLL = D(1000)
LIMITS = ExposureLimits(0.10, 0.12, 0.15)

buy_op = st.tuples(
    st.just("buy"),
    st.integers(0, 5),
    st.sampled_from(list(Outcome)),
    st.integers(1, 99),
    st.one_of(st.integers(1, 400), st.integers(1, 40)),
    st.booleans(),
)
fill_op = st.tuples(st.just("fill"), st.integers(0, 10**6), st.integers(1, 100), st.integers(0, 30))
op = st.one_of(
    buy_op,
    buy_op,
    buy_op,
    fill_op,
    fill_op,
    st.tuples(
        st.just("sell"),
        st.integers(0, 5),
        st.sampled_from(list(Outcome)),
        st.integers(1, 99),
        st.integers(1, 100),
    ),
    st.tuples(st.just("release"), st.integers(0, 10**6)),
    st.tuples(st.just("settle"), st.integers(0, 5), st.sampled_from(list(Outcome)), st.sampled_from([0, 1])),
    st.tuples(st.just("mark"), st.integers(0, 5), st.integers(1, 99)),
)


def check_caps(b: ExposureBook) -> None:
    clusters: dict[str, Decimal] = {}
    for m in MARKETS:
        e = b.market_exposure(m.condition_id)
        assert e <= BANKROLL * D(repr(LIMITS.max_market_pct)), (m.condition_id, e)
        clusters[b.cluster(m.condition_id)] = clusters.get(b.cluster(m.condition_id), D(0)) + e
    assert all(e <= BANKROLL * D(repr(LIMITS.max_cluster_pct)) for e in clusters.values()), clusters
    assert sum(clusters.values()) == b.aggregate_exposure() <= BANKROLL * D(repr(LIMITS.max_aggregate_pct))


def check_order_caps(b: ExposureBook, r: OrderRequest) -> None:
    """Right after a BUY is admitted, its market, its cluster and the book are within the caps at the
    current marks (marks that move later can carry older positions past a cap; then no more buys go)."""
    cid = r.condition_id
    assert b.market_exposure(cid) <= BANKROLL * D(repr(LIMITS.max_market_pct))
    assert b.cluster_exposure(b.cluster(cid)) <= BANKROLL * D(repr(LIMITS.max_cluster_pct))
    assert b.aggregate_exposure() <= BANKROLL * D(repr(LIMITS.max_aggregate_pct))


def run_ops(ops, *, marks_move: bool) -> tuple[int, int, set[str]]:
    b = ExposureBook(D(120), LIMITS, ClusterMap(GROUPS))
    for m in MARKETS:
        b.add_market(m)
        for o in Outcome:
            b.set_mark(m.token(o), D("0.5"))
    live: list[OrderRequest] = []
    fills = admitted = 0
    codes: set[str] = set()
    for step in ops:
        kind = step[0]
        if kind in ("buy", "sell"):
            m = MARKETS[step[1]]
            side = Side.BUY if kind == "buy" else Side.SELL
            r = order(m, step[3] * 100, step[4] * S // 2, side, step[2], post_only=kind == "buy" and step[5])
            verdict = b.admit(r, bankroll=BANKROLL)
            codes.add(verdict.code)
            if verdict.ok:
                live.append(r)
                admitted += 1
                if side is Side.BUY:
                    check_order_caps(b, r)
        elif kind == "fill" and live:
            r = live[step[1] % len(live)]
            res = b.reservations.get(r.client_order_id)
            if res is None:
                continue
            qty = max(1, res.remaining * step[2] // 100)
            improve = step[3] * 100
            px = max(100, r.price - improve) if r.side is Side.BUY else min(9900, r.price + improve)
            m = b.markets[r.condition_id]
            fee = D(0) if r.post_only else m.fees.taker_fee(px, qty)
            b.on_fill(fill(r, qty, price=px, fee=fee))
            fills += 1
        elif kind == "release" and live:
            b.release(live[step[1] % len(live)].client_order_id)
        elif kind == "settle":
            m = MARKETS[step[1]]
            token = m.token(step[2])
            held = b.held(token)
            if held and not any(r.token_id == token and r.side is Side.SELL for r in b.reservations.values()):
                b.on_settlement(token, held, D(held * step[3]) / S)
        elif kind == "mark" and marks_move:
            m = MARKETS[step[1]]
            b.set_mark(m.yes_token, D(step[2]) / 100)
            b.set_mark(m.no_token, 1 - D(step[2]) / 100)
        if not marks_move:
            check_caps(b)
        # Free cash never goes below zero, but for the fee's rounding to 5 decimals on each fill.
        assert b.free_cash() >= -D("0.00001") * fills
        for tok in {r.token_id for r in b.reservations.values()}:
            assert b.free_shares(tok) >= 0
    return admitted, fills, codes


@PROP
@given(st.lists(op, min_size=1, max_size=60))
def test_property_no_sequence_exceeds_a_cap_with_marks_fixed(ops) -> None:
    run_ops(ops, marks_move=False)


@PROP
@given(st.lists(op, min_size=1, max_size=60))
def test_property_every_admitted_order_leaves_exposure_under_the_caps_while_marks_move(ops) -> None:
    run_ops(ops, marks_move=True)


def test_property_runs_reach_caps_and_fills() -> None:
    totals = {"admitted": 0, "fills": 0}
    codes: set[str] = set()

    # Random search reaches every code in most orders of test collection, but not all (seen under xdist):
    # one run that is known to reach the cluster cap (exposure at the 0.5 mark, cash at the 0.05 limit).
    @PROP
    @example([("buy", 0, Outcome.YES, 5, 380, False), ("buy", 1, Outcome.YES, 5, 120, False)])
    @given(st.lists(op, min_size=20, max_size=60))
    def run(ops) -> None:
        admitted, fills, seen = run_ops(ops, marks_move=False)
        totals["admitted"] += admitted
        totals["fills"] += fills
        codes.update(seen)

    run()
    assert totals["admitted"] > 200 and totals["fills"] > 50
    assert {"OK", "MARKET_CAP", "CLUSTER_CAP", "AGGREGATE_CAP", "CASH", "SHARES"} <= codes, codes


# --- sizing proposals through the exposure book ------------------------------------------------------------

SIZING = SizingLimits(min_depth_usdc=0, max_position_pct=0.10, max_cluster_pct=0.12, max_aggregate_pct=0.15)


@st.composite
def proposal_steps(draw: st.DrawFn):
    steps = []
    for _ in range(draw(st.integers(5, 25))):
        bid = 100 * draw(st.integers(5, 90))
        ask = bid + 100 * draw(st.integers(1, 4))
        p = draw(st.integers(3, 97)) / 100
        half = draw(st.integers(0, 10)) / 100
        steps.append((draw(st.integers(0, 5)), bid, ask, p, half, draw(st.integers(0, 100))))
    return steps


@PROP
@given(proposal_steps())
def test_property_sized_proposals_cut_to_headroom_are_admitted_and_never_breach_a_cap(steps) -> None:
    b = ExposureBook(D(150), LIMITS, ClusterMap(GROUPS))
    for m in MARKETS:
        b.add_market(m)
    for k, bid, ask, p, half, fill_pct in steps:
        m = MARKETS[k]
        bk = OrderBook()
        bk.replace([(bid, 400 * S)], [(ask, 400 * S)], 0)
        b.mark_from_book(m, bk)
        est = Estimate("t", p, max(0.0, p - half), min(1.0, p + half))
        result = size_trade(est, bk, m, b.for_sizing(m.condition_id, bankroll=BANKROLL), SIZING)
        if not result.ok or result.candidate is None:
            continue
        c = result.candidate
        price = result.limit_price if result.limit_price is not None else c.price
        size = result.size
        if c.side is Side.BUY:
            room = b.headroom(m.condition_id, c.outcome, price, bankroll=BANKROLL, post_only=result.post_only)
            size = min(size, room.shares)
        if size < m.min_order_size:
            continue
        r = order(m, price, size, c.side, c.outcome, post_only=result.post_only)
        verdict = b.admit(r, bankroll=BANKROLL)
        assert verdict.ok, verdict
        if c.side is Side.BUY:
            check_order_caps(b, r)
        qty = size * fill_pct // 100
        if qty:
            before = b.market_exposure(m.condition_id)
            fee = D(0) if r.post_only else m.fees.taker_fee(price, qty)
            b.on_fill(fill(r, qty, price=price, fee=fee))
            assert b.market_exposure(m.condition_id) <= before
        assert b.free_cash() >= -D("0.00001") * len(steps)


# --- reversed fills (the trade FAILED on chain) --------------------------------------------------------------


def test_a_reversed_buy_fill_is_undone_and_a_resting_order_holds_its_reservation_again() -> None:
    m = mk("a", fees=FEES)
    b = book_with(m)
    r = order(m, 4000, 100 * S)
    assert b.admit(r, bankroll=BANKROLL).ok
    before = (b.cash, b.free_cash(), b.market_exposure("a"))
    f = fill(r, 40 * S, fee=D("0.6"))
    b.on_fill(f)
    assert b.held(m.yes_token) == 40 * S and b.reservations[r.client_order_id].remaining == 60 * S
    b.reverse_fill(f)
    assert b.held(m.yes_token) == 0 and b.holdings[m.yes_token].cost == 0
    assert b.reservations[r.client_order_id].remaining == 100 * S
    assert (b.cash, b.free_cash(), b.market_exposure("a")) == before


def test_a_reversed_sell_fill_restores_the_shares_at_their_cost() -> None:
    m = mk("a")
    b = book_with(m)
    buy = order(m, 3000, 90 * S)
    b.admit(buy, bankroll=BANKROLL)
    b.on_fill(fill(buy, 90 * S))
    cost, cash = b.holdings[m.yes_token].cost, b.cash
    sell = order(m, 5000, 30 * S, Side.SELL)
    assert b.admit(sell, bankroll=BANKROLL).ok
    f = fill(sell, 20 * S)
    b.on_fill(f)
    assert b.held(m.yes_token) == 70 * S and b.cash == cash + D(10)
    b.reverse_fill(f)
    assert b.held(m.yes_token) == 90 * S and b.holdings[m.yes_token].cost == cost and b.cash == cash
    assert b.free_shares(m.yes_token) == 60 * S  # the sell still rests for all of its 30 shares


def test_exposure_counts_only_markets_with_something_in_them() -> None:
    b = book_with(*(mk(f"m{i}") for i in range(200)))
    r = order(b.markets["m7"], 5000, 10 * S)
    b.admit(r, bankroll=BANKROLL)
    assert b.aggregate_exposure() == D(5) == b.cluster_exposure("market:m7")
    assert b.clusters_exposure() == {"market:m7": D(5)}
