"""Matching of our orders against an externally driven book (`engine.sim.matching`).

Every test drives a `SimClock` by hand: orders reach the exchange only when `run_until` passes their
arrival time, and the data book changes only through `MatchingEngine.apply` with deltas derived by
`OrderBook.diff`. Prices are ints of 1e-4 (5000 = 0.50), sizes ints of 1e-6 shares (S = one share).
pytest-asyncio is not installed: the clock's coroutine is run with `asyncio.run` inside sync tests.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.clock import SimClock
from engine.domain import FeeSchedule, Fill, Liquidity, Market, OrderRequest, OrderType, Outcome, Side
from engine.sim.matching import (
    LatencyModel,
    MatchingEngine,
    SimAccount,
    venue_order_id,
)
from engine.units import notional
from engine.venues.base import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    Settled,
)

S = 1_000_000  # one share in size units
CID = "0x" + "ab" * 32
YES_TOKEN, NO_TOKEN = "1", "2"
FEES = FeeSchedule(rate=Decimal("0.25"), exponent=2)
BUY, SELL = Side.BUY, Side.SELL
YES, NO = Outcome.YES, Outcome.NO
GTC, GTD, FOK, FAK = OrderType.GTC, OrderType.GTD, OrderType.FOK, OrderType.FAK

# The exchange's messages, written out here rather than imported, so a change to a constant is caught.
TICK_MSG = "order {vid} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"
MIN_SIZE_MSG = "order {vid} is invalid. Size ({size}) lower than the minimum: {min}"
DUPLICATE_MSG = "order {vid} is invalid. Duplicated."
BALANCE_MSG = "not enough balance / allowance"
EXPIRATION_MSG = "invalid expiration"
POST_ONLY_CROSS_MSG = "invalid post-only order: order crosses book"
POST_ONLY_TYPE_MSG = "invalid post-only order type: post-only is only allowed with GTC or GTD"
FOK_MSG = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_MSG = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
CLOSED_MSG = "the market is not accepting orders"


def make_market(**over: object) -> Market:
    fields: dict[str, object] = dict(
        condition_id=CID,
        question="q",
        slug="s",
        yes_token=YES_TOKEN,
        no_token=NO_TOKEN,
        tick=100,
        min_order_size=5 * S,
        fees=FEES,
        end_ts=10_000_000,
    )
    fields.update(over)
    return Market(**fields)  # type: ignore[arg-type]


class Sim:
    """One matching engine, one market, a hand-driven clock."""

    def __init__(
        self,
        cash: str = "1000",
        tokens: dict[str, int] | None = None,
        latency: LatencyModel | None = None,
        market: Market | None = None,
        start_ms: int = 0,
        seed: int = 1,
    ) -> None:
        self.clock = SimClock(start_ms)
        self.account = SimAccount(cash=Decimal(cash), tokens=dict(tokens or {}))
        latency = latency or LatencyModel(submit_ms=100, cancel_ms=50, jitter_ms=0)
        self.me = MatchingEngine(self.clock, self.account, latency, seed=seed)
        self.market = market or make_market()
        self.me.add_market(self.market)

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def run(self, ts: int) -> None:
        asyncio.run(self.clock.run_until(ts))

    def book(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts: int | None = None) -> None:
        """Run what is due up to `ts`, then turn the data book into this snapshot at `ts`."""
        ts = self.now if ts is None else ts
        self.run(ts)
        cid = self.market.condition_id
        self.me.apply(cid, self.me.books[cid].diff(bids, asks), ts)

    def request(
        self,
        oid: str,
        side: Side,
        price: int,
        size: int,
        outcome: Outcome = YES,
        order_type: OrderType = GTC,
        post_only: bool = False,
        expiration: int | None = None,
    ) -> OrderRequest:
        return OrderRequest(
            client_order_id=oid,
            condition_id=self.market.condition_id,
            token_id=self.market.token(outcome),
            outcome=outcome,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            post_only=post_only,
            expiration=expiration,
        )

    def submit(self, oid: str, side: Side, price: int, size: int, **kw: object) -> None:
        self.me.submit(self.request(oid, side, price, size, **kw))  # type: ignore[arg-type]

    def place(self, oid: str, side: Side, price: int, size: int, **kw: object) -> None:
        """Submit now and let the (jitter-free, 100 ms) submit latency elapse."""
        self.submit(oid, side, price, size, **kw)
        self.run(self.now + 100)

    # --- outbox inspection ---------------------------------------------------------------------
    def events(self, kind: type | None = None, oid: str | None = None) -> list[object]:
        out = []
        for ev in self.me.outbox:
            if kind is not None and not isinstance(ev, kind):
                continue
            if oid is not None and _oid(ev) != oid:
                continue
            out.append(ev)
        return out

    def fills(self, oid: str | None = None) -> list[Fill]:
        return [ev.fill for ev in self.events(OrderFilled, oid)]  # type: ignore[attr-defined]

    def filled(self, oid: str) -> int:
        return sum(f.size for f in self.fills(oid))

    def rejection(self, oid: str) -> str:
        rejected = self.events(OrderRejected, oid)
        assert len(rejected) == 1, self.me.outbox
        assert not self.events(OrderAccepted, oid)
        return rejected[0].reason  # type: ignore[attr-defined]

    def accepted(self, oid: str) -> bool:
        return bool(self.events(OrderAccepted, oid)) and not self.events(OrderRejected, oid)


def _oid(ev: object) -> str | None:
    if isinstance(ev, OrderFilled):
        return ev.fill.client_order_id
    return getattr(ev, "client_order_id", None)


def vid(oid: str) -> str:
    return venue_order_id(oid)


# ================================================================================================
# Latency
# ================================================================================================


def test_nothing_happens_before_submit_latency_elapses() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5100, 100 * S)], 0)
    sim.submit("a", BUY, 5000, 10 * S)
    sim.run(99)
    assert sim.me.outbox == []
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0
    sim.run(100)
    assert sim.me.outbox == [OrderAccepted("a", vid("a"), 100)]
    assert sim.me.open_orders() == ["a"]
    assert sim.account.reserved_cash == Decimal("5")


def test_marketable_order_fills_at_arrival_not_at_submission() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5000, 100 * S)], 0)
    sim.submit("a", BUY, 5000, 10 * S)
    sim.run(99)
    assert sim.fills() == []
    assert sim.account.cash == Decimal("1000")
    sim.run(100)
    (fill,) = sim.fills("a")
    assert fill.ts == 100 and fill.size == 10 * S and fill.liquidity is Liquidity.TAKER


def test_submit_latency_uses_jitter_deterministically() -> None:
    stamps = []
    for _ in range(2):
        sim = Sim(latency=LatencyModel(submit_ms=100, cancel_ms=50, jitter_ms=20), seed=7)
        for i in range(5):
            sim.submit(f"o{i}", BUY, 1000, 5 * S)
        sim.run(1000)
        ts = [ev.ts for ev in sim.events(OrderAccepted)]  # type: ignore[attr-defined]
        assert len(ts) == 5
        assert all(100 <= t <= 120 for t in ts)
        stamps.append(sorted(ts))
    assert stamps[0] == stamps[1]


def test_cancel_takes_effect_after_cancel_latency_and_fills_can_happen_meanwhile() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5100, 100 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S)
    assert sim.account.reserved_cash == Decimal("10")
    sim.run(1000)
    sim.me.cancel("a")  # effective at 1050
    # An ask arrives at our price before the cancel lands: we are still working and get filled.
    sim.book([(4900, 100 * S)], [(5000, 5 * S), (5100, 100 * S)], 1049)
    assert [(f.price, f.size, f.ts) for f in sim.fills("a")] == [(5000, 5 * S, 1049)]
    assert sim.events(OrderCancelled) == []
    assert sim.me.open_orders() == ["a"]
    assert sim.account.reserved_cash == Decimal("7.5")
    sim.run(1050)
    assert sim.events(OrderCancelled) == [OrderCancelled("a", 1050, "CANCELED")]
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0
    assert sim.account.cash == Decimal("997.5")
    # Once cancelled, crossing liquidity no longer fills it.
    sim.book([(4900, 100 * S)], [(4900, 50 * S)], 2000)
    assert sim.filled("a") == 5 * S


def test_cancel_that_overtakes_the_order_is_a_no_op() -> None:
    sim = Sim()
    sim.submit("a", BUY, 5000, 10 * S)  # arrives at 100
    sim.run(10)
    sim.me.cancel("a")  # lands at 60, before the order exists
    sim.run(1000)
    assert sim.events(OrderCancelled) == []
    assert sim.me.open_orders() == ["a"]


def test_cancel_all_cancels_every_resting_order_after_latency() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    sim.submit("b", BUY, 4000, 10 * S)
    sim.submit("s", SELL, 6000, 10 * S)
    sim.run(100)
    assert sorted(sim.me.open_orders()) == ["b", "s"]
    sim.me.cancel_all()
    sim.run(149)
    assert sim.events(OrderCancelled) == []
    sim.run(150)
    assert sorted(ev.client_order_id for ev in sim.events(OrderCancelled)) == ["b", "s"]  # type: ignore[attr-defined]
    assert sim.account.reserved_cash == 0
    assert sim.account.free_tokens(YES_TOKEN) == 10 * S


# ================================================================================================
# Exchange rejections
# ================================================================================================


@pytest.mark.parametrize(
    ("price", "shown"),
    [(5050, "0.505"), (5001, "0.5001"), (0, "0"), (10_000, "1"), (99, "0.0099"), (9_950, "0.995")],
)
def test_price_off_tick_or_outside_range_is_rejected(price: int, shown: str) -> None:
    sim = Sim()
    sim.place("a", BUY, price, 10 * S)
    assert sim.rejection("a") == TICK_MSG.format(vid=vid("a"), price=shown, tick="0.01")
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0


@pytest.mark.parametrize("price", [100, 9_900, 5_000])
def test_prices_on_tick_within_range_are_accepted(price: int) -> None:
    sim = Sim()
    sim.place("a", BUY, price, 10 * S)
    assert sim.accepted("a")
    assert sim.me.open_orders() == ["a"]


def test_tick_change_applies_to_later_orders() -> None:
    sim = Sim()
    sim.me.set_tick(CID, 50)
    sim.place("fine", BUY, 5050, 10 * S)
    sim.place("edge", BUY, 50, 10 * S)
    sim.place("top", BUY, 9950, 5 * S)
    sim.place("off", BUY, 5025, 10 * S)
    assert sim.accepted("fine") and sim.accepted("edge") and sim.accepted("top")
    assert sim.rejection("off") == TICK_MSG.format(vid=vid("off"), price="0.5025", tick="0.005")


@pytest.mark.parametrize(("size", "shown"), [(4_990_000, "4.99"), (4_999_999, "4.999999"), (0, "0")])
def test_size_below_minimum_is_rejected(size: int, shown: str) -> None:
    sim = Sim()
    sim.place("a", BUY, 5000, size)
    assert sim.rejection("a") == MIN_SIZE_MSG.format(vid=vid("a"), size=shown, min="5")


def test_size_at_minimum_is_accepted() -> None:
    sim = Sim()
    sim.place("a", BUY, 5000, 5 * S)
    assert sim.accepted("a")


@pytest.mark.parametrize("order_type", [FOK, FAK])
def test_post_only_with_immediate_order_types_is_rejected(order_type: OrderType) -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5100, 100 * S)], 0)
    sim.place("a", BUY, 5100, 10 * S, order_type=order_type, post_only=True)
    assert sim.rejection("a") == POST_ONLY_TYPE_MSG
    assert sim.fills() == []


def test_post_only_gtc_and_gtd_are_allowed_when_not_crossing() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5100, 100 * S)], 0)
    sim.place("gtc", BUY, 5000, 10 * S, post_only=True)
    sim.place("gtd", BUY, 5000, 10 * S, order_type=GTD, post_only=True, expiration=3600)
    assert sim.accepted("gtc") and sim.accepted("gtd")


def test_post_only_that_crosses_is_rejected_and_one_tick_away_is_accepted() -> None:
    sim = Sim(tokens={YES_TOKEN: 100 * S})
    sim.book([(5000, 100 * S)], [(5200, 100 * S)], 0)
    sim.place("buy_at_ask", BUY, 5200, 10 * S, post_only=True)
    sim.place("buy_below", BUY, 5100, 10 * S, post_only=True)
    sim.place("sell_at_bid", SELL, 5000, 10 * S, post_only=True)
    sim.place("sell_above", SELL, 5100, 10 * S, post_only=True)
    # NO side: BUY NO at 0.50 is a YES ask at 0.50, which locks the YES bid; at 0.49 it rests at 0.51.
    sim.place("no_cross", BUY, 5000, 10 * S, outcome=NO, post_only=True)
    sim.place("no_rest", BUY, 4900, 10 * S, outcome=NO, post_only=True)
    for oid in ("buy_at_ask", "sell_at_bid", "no_cross"):
        assert sim.rejection(oid) == POST_ONLY_CROSS_MSG
    for oid in ("buy_below", "sell_above", "no_rest"):
        assert sim.accepted(oid)
    assert sim.fills() == []


def test_gtd_expiration_boundary_and_expiry() -> None:
    sim = Sim(start_ms=900)  # orders submitted now arrive at exactly 1000 ms
    sim.submit("late", BUY, 5000, 10 * S, order_type=GTD, expiration=60)  # 60 000 < 1000 + 60 000
    sim.submit("none", BUY, 5000, 10 * S, order_type=GTD, expiration=None)
    sim.submit("ok", BUY, 5000, 10 * S, order_type=GTD, expiration=61)  # 61 000 == 1000 + 60 000
    sim.run(1000)
    assert sim.rejection("late") == EXPIRATION_MSG
    assert sim.rejection("none") == EXPIRATION_MSG
    assert sim.accepted("ok")
    assert sim.account.reserved_cash == Decimal("5")
    sim.run(60_999)
    assert sim.events(OrderExpired) == []
    assert sim.me.open_orders() == ["ok"]
    sim.run(61_000)
    assert sim.events(OrderExpired) == [OrderExpired("ok", 61_000)]
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0


def test_gtd_expiry_after_full_fill_emits_nothing() -> None:
    sim = Sim(start_ms=900)
    sim.book([(4900, 100 * S)], [(5100, 100 * S)], 900)
    sim.place("a", BUY, 5000, 10 * S, order_type=GTD, expiration=61)
    sim.book([(4900, 100 * S)], [(5000, 10 * S)], 2000)
    assert sim.filled("a") == 10 * S
    sim.run(100_000)
    assert sim.events(OrderExpired) == []


def test_duplicate_client_id_is_rejected() -> None:
    sim = Sim()
    sim.place("a", BUY, 4000, 10 * S)
    sim.place("a", BUY, 4100, 10 * S)
    accepted = sim.events(OrderAccepted, "a")
    rejected = sim.events(OrderRejected, "a")
    assert len(accepted) == 1 and len(rejected) == 1
    assert rejected[0].reason == DUPLICATE_MSG.format(vid=vid("a"))  # type: ignore[attr-defined]
    assert sim.account.reserved_cash == Decimal("4")  # only the first one rests
    # Still a duplicate after the original is gone.
    sim.me.cancel("a")
    sim.run(sim.now + 50)
    sim.place("a", BUY, 4000, 10 * S)
    assert len(sim.events(OrderRejected, "a")) == 2
    assert sim.me.open_orders() == []


def test_buy_needs_free_cash_for_the_full_notional() -> None:
    sim = Sim(cash="1000")
    sim.place("over", BUY, 5000, 2000 * S + 1)  # 1000.00000005
    assert sim.rejection("over") == BALANCE_MSG
    sim.place("exact", BUY, 5000, 2000 * S)  # exactly 1000
    assert sim.accepted("exact")
    assert sim.account.free_cash() == 0
    sim.place("more", BUY, 100, 5 * S)  # 0.05, nothing free any more
    assert sim.rejection("more") == BALANCE_MSG


def test_marketable_buy_needs_cash_for_notional_plus_taker_fee() -> None:
    # 10 @ 0.50: notional 5, fee 10 * 0.25 * 0.25^2 = 0.15625.
    book = ([(4900, 100 * S)], [(5000, 100 * S)])
    short = Sim(cash="5.15624")
    short.book(*book, 0)
    short.place("a", BUY, 5000, 10 * S)
    assert short.rejection("a") == BALANCE_MSG
    enough = Sim(cash="5.15625")
    enough.book(*book, 0)
    enough.place("a", BUY, 5000, 10 * S)
    assert enough.filled("a") == 10 * S
    assert enough.account.cash == 0


def test_per_fill_fee_rounding_cannot_overdraw_the_account() -> None:
    # 5.39 @ 0.70 passes the limit-based check with exactly 3.77 + 0.06242 = 3.83242 of cash, but the
    # walk fills 875 units at 0.69 (fee rounds up to 0.00001) and 5.389125 at 0.70 (fee 0.05942):
    # 0.60375 + 3.7723875 + 0.00001 + 0.05942 = 3.83242125, which is 0.00000125 more than we have.
    book = ([(3000, 100 * S)], [(6900, 875), (7000, 100 * S)])
    assert notional(7000, 5_390_000) + FEES.taker_fee(7000, 5_390_000) == Decimal("3.83242")
    short = Sim(cash="3.83242")
    short.book(*book, 0)
    short.place("a", BUY, 7000, 5_390_000)
    assert short.rejection("a") == BALANCE_MSG
    assert short.account.cash == Decimal("3.83242")
    enough = Sim(cash="3.83242125")
    enough.book(*book, 0)
    enough.place("a", BUY, 7000, 5_390_000)
    assert [(f.price, f.size, f.fee) for f in enough.fills("a")] == [
        (6900, 875, Decimal("0.00001")),
        (7000, 5_389_125, Decimal("0.05942")),
    ]
    assert enough.account.cash == 0


def test_sell_needs_free_tokens() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    sim.place("too_many", SELL, 6000, 10 * S + 1)
    assert sim.rejection("too_many") == BALANCE_MSG
    sim.place("no_tokens", SELL, 6000, 5 * S, outcome=NO)
    assert sim.rejection("no_tokens") == BALANCE_MSG
    sim.place("all", SELL, 6000, 10 * S)
    assert sim.accepted("all")
    # The resting sell holds the tokens back.
    sim.place("again", SELL, 6000, 5 * S)
    assert sim.rejection("again") == BALANCE_MSG


def test_marketable_buy_under_one_dollar_is_rejected_and_one_dollar_accepted() -> None:
    sim = Sim(tokens={YES_TOKEN: 5 * S})
    sim.book([(1000, 100 * S)], [(1900, 100 * S)], 0)
    sim.place("small", BUY, 1900, 5 * S)  # 0.95
    assert sim.rejection("small") == "invalid amount for a marketable BUY order ($0.95), min size: 1"
    # The rule is on the order's amount (limit x size), even though it fills at the maker's 0.19.
    sim.place("dollar", BUY, 2000, 5 * S)
    assert [(f.price, f.size) for f in sim.fills("dollar")] == [(1900, 5 * S)]
    # Not marketable: no minimum amount. A SELL has no such rule either.
    sim.place("resting", BUY, 1500, 5 * S)
    assert sim.accepted("resting")
    sim.place("sell", SELL, 1000, 5 * S)
    assert [(f.price, f.size) for f in sim.fills("sell")] == [(1000, 5 * S)]


def test_orders_arriving_at_or_after_market_end_are_rejected() -> None:
    sim = Sim(market=make_market(end_ts=10_000))
    sim.run(9_899)
    sim.submit("in_time", BUY, 5000, 10 * S)  # arrives 9 999
    sim.run(9_900)
    sim.submit("too_late", BUY, 5000, 10 * S)  # arrives 10 000
    sim.run(20_000)
    assert sim.accepted("in_time")
    assert sim.rejection("too_late") == CLOSED_MSG


def test_orders_after_close_market_are_rejected() -> None:
    sim = Sim(market=make_market(end_ts=None))
    sim.place("before", BUY, 5000, 10 * S)
    sim.me.close_market(CID)
    sim.place("after", BUY, 5000, 10 * S)
    assert sim.accepted("before")
    assert sim.rejection("after") == CLOSED_MSG


def test_unknown_market_is_rejected() -> None:
    sim = Sim()
    req = OrderRequest("x", "0x" + "cd" * 32, YES_TOKEN, YES, BUY, 5000, 10 * S)
    sim.me.submit(req)
    sim.run(100)
    assert sim.me.outbox == [OrderRejected("x", 100, "market not found")]


def test_fok_that_cannot_fully_fill_is_killed() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 5 * S), (5300, 100 * S)], 0)
    sim.place("over", BUY, 5100, 15 * S + 1, order_type=FOK)
    sim.place("limit", BUY, 5000, 15 * S, order_type=FOK)  # only 10 at or below 0.50
    for oid in ("over", "limit"):
        assert sim.rejection(oid) == FOK_MSG
    assert sim.fills() == []
    assert sim.account.cash == Decimal("1000") and sim.account.reserved_cash == 0
    assert sim.me.open_orders() == []


def test_fok_that_can_fully_fill_is_filled() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 5 * S), (5300, 100 * S)], 0)
    sim.place("a", BUY, 5100, 15 * S, order_type=FOK)
    assert [(f.price, f.size) for f in sim.fills("a")] == [(5000, 10 * S), (5100, 5 * S)]
    assert sim.events(OrderCancelled) == []
    assert sim.me.open_orders() == []
    assert sim.account.tokens[YES_TOKEN] == 15 * S


def test_fak_without_liquidity_is_rejected() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5500, 100 * S)], 0)
    sim.place("a", BUY, 5000, 10 * S, order_type=FAK)
    assert sim.rejection("a") == FAK_MSG
    empty = Sim()
    empty.place("b", BUY, 5000, 10 * S, order_type=FAK)
    assert empty.rejection("b") == FAK_MSG


def test_fak_fills_what_it_can_and_cancels_the_remainder() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 8 * S), (5500, 100 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S, order_type=FAK)
    assert [(f.price, f.size) for f in sim.fills("a")] == [(5000, 8 * S)]
    assert sim.events(OrderFilled, "a")[0].remaining == 12 * S  # type: ignore[attr-defined]
    assert sim.events(OrderCancelled) == [OrderCancelled("a", 100, "FAK remainder")]
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0
    assert sim.account.cash == Decimal("1000") - Decimal("4") - FEES.taker_fee(5000, 8 * S)


def test_fak_fully_filled_has_no_remainder_cancel() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 20 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S, order_type=FAK)
    assert sim.filled("a") == 20 * S
    assert sim.events(OrderCancelled) == []


# ================================================================================================
# Taker walk
# ================================================================================================


def test_buy_walks_ask_levels_at_maker_prices_and_pays_taker_fee() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5200, 10 * S), (5400, 5 * S), (5600, 100 * S)], 0)
    sim.place("t", BUY, 5500, 30 * S)
    fills = sim.fills("t")
    assert [(f.price, f.size) for f in fills] == [(5000, 10 * S), (5200, 10 * S), (5400, 5 * S)]
    assert [ev.remaining for ev in sim.events(OrderFilled)] == [20 * S, 10 * S, 5 * S]  # type: ignore[attr-defined]
    assert all(f.liquidity is Liquidity.TAKER and f.ts == 100 for f in fills)
    assert all(f.token_id == YES_TOKEN and f.outcome is YES and f.side is BUY for f in fills)
    assert [f.fee for f in fills] == [FEES.taker_fee(f.price, f.size) for f in fills]
    assert [f.fee for f in fills] == [Decimal("0.15625"), Decimal("0.15575"), Decimal("0.07713")]
    assert len({f.trade_id for f in fills}) == 3
    # cash -= notional + fee; the unfilled 5 rest at 0.55 and reserve 2.75.
    assert sim.account.cash == Decimal("986.71087")
    assert sim.account.tokens[YES_TOKEN] == 25 * S
    assert sim.me.open_orders() == ["t"]
    assert sim.account.reserved_cash == Decimal("2.75")
    assert sim.account.free_cash() == Decimal("983.96087")


def test_sell_walks_bid_levels_at_maker_prices() -> None:
    sim = Sim(tokens={YES_TOKEN: 20 * S})
    sim.book([(6000, 5 * S), (5800, 10 * S), (5000, 100 * S)], [(6500, 100 * S)], 0)
    sim.place("t", SELL, 5800, 12 * S)
    fills = sim.fills("t")
    assert [(f.price, f.size) for f in fills] == [(6000, 5 * S), (5800, 7 * S)]
    assert [f.fee for f in fills] == [Decimal("0.072"), Decimal("0.10385")]
    assert [f.fee for f in fills] == [FEES.taker_fee(f.price, f.size) for f in fills]
    # cash += notional - fee
    assert sim.account.cash == Decimal("1000") + Decimal("3") + Decimal("4.06") - Decimal("0.17585")
    assert sim.account.tokens[YES_TOKEN] == 8 * S
    assert sim.me.open_orders() == []
    assert sim.account.reserved_tokens.get(YES_TOKEN, 0) == 0


def test_taker_walk_stops_at_limit_price() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 10 * S)], 0)
    sim.place("t", BUY, 5000, 15 * S)
    assert [(f.price, f.size) for f in sim.fills("t")] == [(5000, 10 * S)]
    assert sim.me.open_orders() == ["t"]
    assert sim.account.reserved_cash == Decimal("2.5")


def test_taken_liquidity_is_not_available_again_until_the_level_updates() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 10 * S)], 0)
    sim.place("a", BUY, 5000, 10 * S, order_type=FAK)
    assert sim.filled("a") == 10 * S
    # Same snapshot: the 0.50 level is still displayed but we already took it.
    sim.place("b", BUY, 5000, 5 * S, order_type=FOK)
    assert sim.rejection("b") == FOK_MSG
    sim.place("c", BUY, 5000, 5 * S, order_type=FAK)
    assert sim.rejection("c") == FAK_MSG
    sim.place("d", BUY, 5100, 6 * S)
    assert [(f.price, f.size) for f in sim.fills("d")] == [(5100, 6 * S)]
    # Re-sending an identical snapshot changes no level, so nothing is replenished.
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 10 * S)])
    sim.place("e", BUY, 5100, 5 * S, order_type=FOK)
    assert sim.rejection("e") == FOK_MSG  # 4 left at 0.51 and none at 0.50
    # An update of another level leaves the 0.50 level consumed.
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5100, 9 * S)])
    sim.place("f", BUY, 5000, 5 * S, order_type=FOK)
    assert sim.rejection("f") == FOK_MSG
    sim.place("g", BUY, 5100, 9 * S, order_type=FOK)  # 0.51 was updated: all 9 available again
    assert [(f.price, f.size) for f in sim.fills("g")] == [(5100, 9 * S)]
    # The data updates the 0.50 level: exactly its new size is available.
    sim.book([(4800, 100 * S)], [(5000, 7 * S), (5100, 9 * S)])
    sim.place("h", BUY, 5000, 7 * S + 1, order_type=FOK)
    assert sim.rejection("h") == FOK_MSG
    sim.place("i", BUY, 5000, 7 * S, order_type=FOK)
    assert [(f.price, f.size) for f in sim.fills("i")] == [(5000, 7 * S)]


# ================================================================================================
# Resting orders and queue position
# ================================================================================================


def test_resting_order_waits_for_the_queue_ahead_then_fills_as_maker() -> None:
    sim = Sim()
    bids_below = [(4900, 50 * S)]
    asks = [(5200, 100 * S)]
    sim.book([(5000, 100 * S), *bids_below], asks, 0)
    sim.place("a", BUY, 5000, 20 * S)  # joins behind 100
    sim.book([(5000, 1 * S), *bids_below], asks, 200)  # 99 traded: 1 still ahead of us
    assert sim.fills() == []
    sim.book([(5000, 50 * S), *bids_below], asks, 300)  # others join behind us: ahead stays 1
    assert sim.fills() == []
    sim.book([(5000, 49 * S), *bids_below], asks, 400)  # the last one ahead of us trades
    assert sim.fills() == []
    sim.book([(5000, 48 * S), *bids_below], asks, 500)  # now it is us
    (fill,) = sim.fills("a")
    assert (fill.price, fill.size, fill.fee, fill.liquidity, fill.ts) == (
        5000,
        1 * S,
        Decimal(0),
        Liquidity.MAKER,
        500,
    )
    assert sim.events(OrderFilled)[0].remaining == 19 * S  # type: ignore[attr-defined]
    assert sim.account.cash == Decimal("999.5")
    assert sim.account.reserved_cash == Decimal("9.5")
    sim.book([(5000, 30 * S), *bids_below], asks, 600)
    assert sim.filled("a") == 19 * S
    sim.book([(5000, 20 * S), *bids_below], asks, 700)  # 10 leave but only 1 is ours to fill
    assert sim.filled("a") == 20 * S
    assert sim.events(OrderFilled)[-1].remaining == 0  # type: ignore[attr-defined]
    assert sim.me.open_orders() == []
    assert sim.account.cash == Decimal("990")  # maker: zero fee, at our price
    assert sim.account.reserved_cash == 0
    assert sim.account.tokens[YES_TOKEN] == 20 * S
    assert all(f.fee == 0 and f.liquidity is Liquidity.MAKER for f in sim.fills())


def test_resting_sell_at_the_touch_fills_from_depletion() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    bids = [(5000, 100 * S)]
    sim.book(bids, [(5200, 30 * S), (5300, 100 * S)], 0)
    sim.place("s", SELL, 5200, 10 * S)
    assert sim.account.free_tokens(YES_TOKEN) == 0
    sim.book(bids, [(5200, 20 * S), (5300, 100 * S)], 200)  # 10 of the 30 ahead trade
    assert sim.fills() == []
    sim.book(bids, [(5200, 40 * S), (5300, 100 * S)], 300)  # 20 join behind us
    assert sim.fills() == []
    sim.book(bids, [(5200, 20 * S), (5300, 100 * S)], 400)  # 20 trade: the rest of the queue ahead
    assert sim.fills() == []
    sim.book(bids, [(5200, 16 * S), (5300, 100 * S)], 500)  # 4 more: ours
    assert [(f.price, f.size, f.side, f.liquidity) for f in sim.fills("s")] == [
        (5200, 4 * S, SELL, Liquidity.MAKER)
    ]
    assert sim.account.cash == Decimal("1002.08")
    assert sim.account.tokens[YES_TOKEN] == 6 * S
    assert sim.account.reserved_tokens[YES_TOKEN] == 6 * S


def test_depletion_away_from_the_touch_moves_us_up_pro_rata_without_filling() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    above = [(5000, 10 * S), (4900, 10 * S)]
    sim.book([*above, (4800, 100 * S)], asks, 0)
    sim.place("a", BUY, 4800, 10 * S)  # ahead 100, two levels below the touch
    sim.book([*above, (4800, 200 * S)], asks, 200)  # 100 join behind us
    sim.book([*above, (4800, 100 * S)], asks, 300)  # half the level cancels: ahead 100 -> 50, no fill
    assert sim.fills() == []
    sim.book([(4800, 100 * S)], asks, 400)  # the levels above vanish: we are the touch now
    assert sim.fills() == []
    sim.book([(4800, 50 * S)], asks, 500)  # 50 trade: exactly the queue ahead
    assert sim.fills() == []
    sim.book([(4800, 49 * S)], asks, 600)
    assert [(f.price, f.size) for f in sim.fills("a")] == [(4800, 1 * S)]


def test_ask_depletion_away_from_the_touch_is_pro_rata() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    bids = [(4500, 100 * S)]
    below = [(5000, 10 * S)]
    sim.book(bids, [*below, (5200, 40 * S)], 0)
    sim.place("s", SELL, 5200, 10 * S)  # ahead 40, one level above the touch
    sim.book(bids, [*below, (5200, 80 * S)], 200)
    sim.book(bids, [*below, (5200, 20 * S)], 300)  # ahead 40 * 20 // 80 = 10
    assert sim.fills() == []
    sim.book(bids, [(5200, 20 * S)], 400)  # touch
    sim.book(bids, [(5200, 10 * S)], 500)  # 10 trade: the queue ahead
    assert sim.fills() == []
    sim.book(bids, [(5200, 7 * S)], 600)
    assert [(f.price, f.size, f.side) for f in sim.fills("s")] == [(5200, 3 * S, SELL)]


def test_pro_rata_queue_rounds_down() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    sim.book([(5000, 10 * S), (4800, 3)], asks, 0)
    sim.place("a", BUY, 4800, 10 * S)  # ahead 3 units
    sim.book([(5000, 10 * S), (4800, 2)], asks, 200)  # ahead 3 * 2 // 3 = 2
    sim.book([(4800, 2)], asks, 300)  # touch now
    sim.book([(4800, 1)], asks, 400)  # 1 of 2 ahead trades
    assert sim.fills() == []
    sim.book([(4800, 10)], asks, 500)
    sim.book([(4800, 8)], asks, 600)  # 2 leave: 1 ahead, 1 ours
    assert [f.size for f in sim.fills("a")] == [1]


def test_size_increase_at_our_level_does_not_push_us_back() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    sim.book([(5000, 10 * S)], asks, 0)
    sim.place("a", BUY, 5000, 10 * S)  # ahead 10
    sim.book([(5000, 500 * S)], asks, 200)
    sim.book([(5000, 489 * S)], asks, 300)  # 11 leave: 10 ahead, 1 ours
    assert [f.size for f in sim.fills("a")] == [1 * S]


def test_book_trading_through_our_price_fills_the_full_remainder() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    sim.book([(5000, 100 * S), (4900, 50 * S)], asks, 0)
    sim.place("a", BUY, 5000, 20 * S)  # 100 ahead
    sim.book([(4900, 50 * S)], asks, 200)  # our level vanishes and the best bid is now below us
    assert [(f.price, f.size, f.liquidity, f.fee) for f in sim.fills("a")] == [
        (5000, 20 * S, Liquidity.MAKER, 0)
    ]
    assert sim.me.open_orders() == []
    assert sim.account.cash == Decimal("990")


def test_ask_side_trade_through_fills_the_full_remainder() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    bids = [(5000, 100 * S)]
    sim.book(bids, [(5500, 100 * S), (5600, 50 * S)], 0)
    sim.place("s", SELL, 5500, 10 * S)
    sim.book(bids, [(5600, 50 * S)], 200)
    assert [(f.price, f.size, f.side) for f in sim.fills("s")] == [(5500, 10 * S, SELL)]
    assert sim.account.tokens[YES_TOKEN] == 0
    assert sim.account.reserved_tokens[YES_TOKEN] == 0
    assert sim.account.cash == Decimal("1005.5")


def test_level_vanishing_without_a_lower_bid_is_depletion_not_trade_through() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    sim.book([(5000, 100 * S)], asks, 0)
    sim.place("a", BUY, 5000, 20 * S)
    sim.book([], asks, 200)  # whole bid side gone: 100 left, all of them ahead of us
    assert sim.fills() == []
    assert sim.me.open_orders() == ["a"]


def test_level_vanishing_while_best_bid_moves_up_is_not_trade_through() -> None:
    sim = Sim()
    asks = [(5500, 100 * S)]
    sim.book([(5000, 100 * S), (4900, 50 * S)], asks, 0)
    sim.place("a", BUY, 5000, 20 * S)
    sim.book([(5100, 10 * S), (4900, 50 * S)], asks, 200)
    assert sim.fills() == []


def test_order_improving_the_touch_is_not_filled_by_unrelated_updates() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    sim.book([(4900, 100 * S)], [(5300, 100 * S)], 0)
    sim.place("b", BUY, 5000, 10 * S)  # alone at 0.50, above the data's best bid
    sim.place("s", SELL, 5200, 10 * S)  # alone at 0.52, below the data's best ask
    sim.book([(4900, 80 * S), (4800, 10 * S)], [(5300, 90 * S)], 300)
    sim.book([(4700, 10 * S)], [(5400, 90 * S)], 400)
    assert sim.fills() == []
    assert sorted(sim.me.open_orders()) == ["b", "s"]
    # Only crossing fills them.
    sim.book([(4700, 10 * S)], [(5000, 4 * S), (5400, 90 * S)], 500)
    assert [(f.price, f.size) for f in sim.fills("b")] == [(5000, 4 * S)]
    sim.book([(5200, 3 * S), (4700, 10 * S)], [(5400, 90 * S)], 600)
    assert [(f.price, f.size) for f in sim.fills("s")] == [(5200, 3 * S)]
    assert sim.filled("b") == 4 * S


def test_opposite_side_crossing_fills_at_our_price_after_better_priced_orders() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5300, 100 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S)  # ahead 0
    # Asks come down through us (4.9 x6, 5.0 x6) while a better bid of 5 sits at 0.51: it goes first.
    sim.book([(5100, 5 * S), (4900, 100 * S)], [(4900, 6 * S), (5000, 6 * S), (5300, 100 * S)], 200)
    assert [(f.price, f.size, f.liquidity, f.fee) for f in sim.fills("a")] == [
        (5000, 7 * S, Liquidity.MAKER, 0)
    ]
    assert sim.account.cash == Decimal("996.5")


def test_opposite_side_crossing_serves_the_queue_ahead_first_and_only_once() -> None:
    sim = Sim()
    sim.book([(5000, 10 * S)], [(5300, 100 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S)  # ahead 10
    sim.book([(5000, 10 * S)], [(5000, 15 * S), (5300, 100 * S)], 200)  # 15 offered: 10 ahead, 5 us
    assert sim.filled("a") == 5 * S
    # An update elsewhere must not hand us the 10 the queue ahead already took.
    sim.book([(5000, 10 * S)], [(5000, 15 * S), (5300, 90 * S)], 300)
    assert sim.filled("a") == 5 * S
    # A fresh update of that ask level offers its new size to us (the queue ahead is served).
    sim.book([(5000, 10 * S)], [(5000, 12 * S), (5300, 90 * S)], 400)
    assert sim.filled("a") == 17 * S


def test_crossing_liquidity_is_not_reused_on_later_updates() -> None:
    sim = Sim()
    sim.book([(4900, 100 * S)], [(5300, 100 * S)], 0)
    sim.place("a", BUY, 5000, 20 * S)
    sim.book([(4900, 100 * S)], [(5000, 6 * S), (5300, 100 * S)], 200)
    assert sim.filled("a") == 6 * S
    sim.book([(4800, 100 * S)], [(5000, 6 * S), (5300, 100 * S)], 300)
    assert sim.filled("a") == 6 * S
    sim.book([(4800, 100 * S)], [(5000, 8 * S), (5300, 100 * S)], 400)
    assert sim.filled("a") == 14 * S


def test_our_orders_cross_in_price_priority() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5500, 100 * S)], 0)
    sim.place("low", BUY, 5000, 10 * S)  # earlier, worse price
    sim.place("high", BUY, 5200, 10 * S)
    sim.book([(4800, 100 * S)], [(5000, 12 * S), (5500, 100 * S)], 300)
    assert sim.filled("high") == 10 * S
    assert sim.filled("low") == 2 * S
    assert sim.account.cash == Decimal("1000") - Decimal("5.2") - Decimal("1")


def test_our_orders_at_the_same_price_cross_in_time_priority() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5500, 100 * S)], 0)
    sim.place("first", BUY, 5000, 10 * S)
    sim.place("second", BUY, 5000, 10 * S)
    sim.book([(4800, 100 * S)], [(5000, 12 * S), (5500, 100 * S)], 300)
    assert sim.filled("first") == 10 * S
    assert sim.filled("second") == 2 * S


def test_taker_remainder_does_not_refill_from_liquidity_it_took() -> None:
    sim = Sim()
    sim.book([(4800, 100 * S)], [(5000, 10 * S), (5600, 100 * S)], 0)
    sim.place("a", BUY, 5500, 30 * S)  # takes 10, rests 20 at 0.55 with the 0.50 ask still displayed
    assert sim.filled("a") == 10 * S
    sim.book([(4700, 100 * S)], [(5000, 10 * S), (5600, 100 * S)], 300)
    assert sim.filled("a") == 10 * S
    # New size at 0.50 trades against our resting 0.55 bid: as maker, at our price.
    sim.book([(4700, 100 * S)], [(5000, 4 * S), (5600, 100 * S)], 400)
    last = sim.fills("a")[-1]
    assert (last.price, last.size, last.liquidity, last.fee) == (5500, 4 * S, Liquidity.MAKER, 0)


# ================================================================================================
# NO-token orders
# ================================================================================================


def test_buy_no_rests_on_the_yes_ask_side_and_reports_no_terms() -> None:
    sim = Sim()
    bids = [(5500, 100 * S)]
    sim.book(bids, [(6000, 50 * S), (6500, 100 * S)], 0)
    sim.place("n", BUY, 4000, 10 * S, outcome=NO)  # a YES ask at 0.60, behind 50
    assert sim.fills() == []
    assert sim.account.reserved_cash == Decimal("4")  # reserved at the NO price
    sim.book(bids, [(6000, 30 * S), (6500, 100 * S)], 200)  # 20 of the 50 ahead trade
    assert sim.fills() == []
    sim.book(bids, [(6500, 100 * S)], 300)  # the YES ask level at 0.60 is traded through
    (fill,) = sim.fills("n")
    assert (fill.price, fill.size, fill.token_id, fill.outcome, fill.side) == (
        4000,
        10 * S,
        NO_TOKEN,
        NO,
        BUY,
    )
    assert fill.liquidity is Liquidity.MAKER and fill.fee == 0
    assert sim.account.cash == Decimal("996")
    assert sim.account.tokens[NO_TOKEN] == 10 * S
    assert sim.account.tokens.get(YES_TOKEN, 0) == 0
    assert sim.account.reserved_cash == 0


def test_buy_no_is_filled_when_yes_bids_cross_its_complement() -> None:
    sim = Sim()
    sim.book([(5500, 100 * S)], [(6500, 100 * S)], 0)
    sim.place("n", BUY, 4000, 10 * S, outcome=NO)  # YES ask 0.60, ahead 0
    sim.book([(5900, 100 * S)], [(6500, 100 * S)], 200)  # YES bid 0.59 does not reach 0.60
    assert sim.fills() == []
    sim.book([(6000, 3 * S), (5900, 100 * S)], [(6500, 100 * S)], 300)
    assert [(f.price, f.size, f.token_id) for f in sim.fills("n")] == [(4000, 3 * S, NO_TOKEN)]
    assert sim.account.cash == Decimal("998.8")


def test_marketable_buy_no_walks_the_yes_bids() -> None:
    sim = Sim()
    sim.book([(6200, 5 * S), (6100, 5 * S), (5800, 100 * S)], [(7000, 100 * S)], 0)
    sim.place("n", BUY, 4000, 12 * S, outcome=NO)  # YES-equivalent ask at 0.60: hits bids >= 0.60
    fills = sim.fills("n")
    assert [(f.price, f.size) for f in fills] == [(3800, 5 * S), (3900, 5 * S)]
    assert all(f.token_id == NO_TOKEN and f.outcome is NO and f.liquidity is Liquidity.TAKER for f in fills)
    assert [f.fee for f in fills] == [FEES.taker_fee(3800, 5 * S), FEES.taker_fee(3900, 5 * S)]
    assert [f.fee for f in fills] == [Decimal("0.06938"), Decimal("0.07075")]
    assert sim.account.cash == Decimal("1000") - Decimal("1.9") - Decimal("1.95") - Decimal("0.14013")
    assert sim.account.tokens[NO_TOKEN] == 10 * S
    assert sim.me.open_orders() == ["n"]
    assert sim.account.reserved_cash == Decimal("0.8")


def test_sell_no_walks_the_yes_asks() -> None:
    sim = Sim(tokens={NO_TOKEN: 10 * S})
    sim.book([(4000, 100 * S)], [(5400, 6 * S), (5600, 100 * S)], 0)
    sim.place("n", SELL, 4500, 10 * S, outcome=NO)  # YES bid at 0.55: lifts the 0.54 ask only
    fills = sim.fills("n")
    assert [(f.price, f.size, f.side, f.token_id) for f in fills] == [(4600, 6 * S, SELL, NO_TOKEN)]
    assert sim.account.cash == Decimal("1000") + Decimal("2.76") - FEES.taker_fee(4600, 6 * S)
    assert sim.account.tokens[NO_TOKEN] == 4 * S
    assert sim.account.reserved_tokens[NO_TOKEN] == 4 * S


# ================================================================================================
# Reservations
# ================================================================================================


def test_resting_buy_reserves_cash_and_cancel_releases_it() -> None:
    sim = Sim(cash="100")
    sim.place("a", BUY, 4000, 50 * S)
    assert sim.account.reserved_cash == Decimal("20")
    assert sim.account.free_cash() == Decimal("80")
    assert sim.account.cash == Decimal("100")
    sim.place("b", BUY, 4000, 200 * S + 1)  # 80.00000004 > 80 free
    assert sim.rejection("b") == BALANCE_MSG
    sim.me.cancel("a")
    sim.run(sim.now + 50)
    assert sim.account.reserved_cash == 0
    assert sim.account.free_cash() == Decimal("100")
    sim.place("c", BUY, 4000, 250 * S)
    assert sim.accepted("c")


def test_resting_sell_reserves_tokens_and_cancel_releases_them() -> None:
    sim = Sim(tokens={YES_TOKEN: 30 * S, NO_TOKEN: 7 * S})
    sim.place("a", SELL, 6000, 20 * S)
    assert sim.account.reserved_tokens[YES_TOKEN] == 20 * S
    assert sim.account.free_tokens(YES_TOKEN) == 10 * S
    assert sim.account.free_tokens(NO_TOKEN) == 7 * S
    assert sim.account.reserved_cash == 0
    sim.me.cancel("a")
    sim.run(sim.now + 50)
    assert sim.account.free_tokens(YES_TOKEN) == 30 * S
    assert sim.account.reserved_tokens[YES_TOKEN] == 0


# ================================================================================================
# Market close and settlement
# ================================================================================================


def test_close_market_cancels_resting_orders() -> None:
    sim = Sim(tokens={YES_TOKEN: 10 * S})
    sim.place("b", BUY, 4000, 10 * S)
    sim.place("s", SELL, 6000, 10 * S)
    sim.me.cancel("b")  # in flight when the market closes
    sim.me.close_market(CID)
    now = sim.now
    assert sim.events(OrderCancelled) == [
        OrderCancelled("b", now, "CANCELED_MARKET_CLOSED"),
        OrderCancelled("s", now, "CANCELED_MARKET_CLOSED"),
    ]
    assert sim.me.open_orders() == []
    assert sim.account.reserved_cash == 0
    assert sim.account.free_tokens(YES_TOKEN) == 10 * S
    sim.run(now + 1000)
    assert len(sim.events(OrderCancelled)) == 2  # the late cancel finds nothing


@pytest.mark.parametrize(
    ("payout", "yes_cash", "no_cash"),
    [
        (Decimal(1), Decimal("10"), Decimal("0")),
        (Decimal(0), Decimal("0"), Decimal("7.5")),
        (Decimal("0.5"), Decimal("5"), Decimal("3.75")),
    ],
)
def test_settle_pays_each_token_its_payout(payout: Decimal, yes_cash: Decimal, no_cash: Decimal) -> None:
    sim = Sim(cash="100", tokens={YES_TOKEN: 10 * S, NO_TOKEN: 7_500_000})
    sim.run(5000)
    sim.me.settle(CID, payout)
    assert sim.events(Settled) == [
        Settled(CID, YES_TOKEN, YES, 5000, 10 * S, payout, yes_cash),
        Settled(CID, NO_TOKEN, NO, 5000, 7_500_000, 1 - payout, no_cash),
    ]
    assert sim.account.cash == Decimal("100") + yes_cash + no_cash
    assert sim.account.tokens == {YES_TOKEN: 0, NO_TOKEN: 0}


def test_settle_skips_empty_balances_and_rejects_later_orders() -> None:
    sim = Sim(cash="100", tokens={YES_TOKEN: 3 * S})
    sim.me.settle(CID, Decimal(1))
    (ev,) = sim.events(Settled)
    assert ev.token_id == YES_TOKEN and ev.cash == Decimal("3")  # type: ignore[attr-defined]
    sim.place("a", BUY, 5000, 10 * S)
    assert sim.rejection("a") == CLOSED_MSG


def test_settle_after_trading_cancels_resting_orders_then_pays_out() -> None:
    sim = Sim()
    sim.book([(4000, 100 * S)], [(6000, 20 * S), (6500, 100 * S)], 0)
    sim.place("yes", BUY, 6000, 20 * S)  # takes 20 @ 0.60, fee 0.288
    sim.place("no", BUY, 5000, 10 * S, outcome=NO)  # YES ask 0.50, not marketable, rests
    sim.place("rest", BUY, 3000, 10 * S)
    assert sim.account.reserved_cash == Decimal("8")
    cash_before = sim.account.cash
    assert cash_before == Decimal("1000") - Decimal("12") - Decimal("0.288")
    sim.me.settle(CID, Decimal(1))
    cancelled = sim.events(OrderCancelled)
    assert sorted(ev.client_order_id for ev in cancelled) == ["no", "rest"]  # type: ignore[attr-defined]
    assert {ev.reason for ev in cancelled} == {"CANCELED_MARKET_CLOSED"}  # type: ignore[attr-defined]
    assert [(ev.token_id, ev.cash) for ev in sim.events(Settled)] == [(YES_TOKEN, Decimal("20"))]  # type: ignore[attr-defined]
    assert sim.account.cash == cash_before + Decimal("20")
    assert sim.account.reserved_cash == 0
    assert sim.account.tokens[YES_TOKEN] == 0


# ================================================================================================
# Property: fills, reservations and cash reconcile for any data and any orders
# ================================================================================================

# Mostly whole cents of a share (0.01 .. 40), sometimes any base-unit size (dust levels exist in real data).
SIZE = st.one_of(st.integers(1, 4000).map(lambda c: c * 10_000), st.integers(1, 40 * S))


@st.composite
def snapshot_step(draw: st.DrawFn, center: int) -> tuple[object, ...]:
    split = center + draw(st.integers(-3, 3))
    overlap = draw(st.sampled_from([0, 0, 0, 0, 1, 2]))  # sometimes the data itself is locked/crossed
    bid_px = draw(st.sets(st.integers(max(1, split - 5), split), max_size=4))
    ask_px = draw(st.sets(st.integers(split + 1 - overlap, min(99, split + 6)), max_size=4))
    bids = sorted(((p * 100, draw(SIZE)) for p in bid_px), reverse=True)
    asks = sorted((p * 100, draw(SIZE)) for p in ask_px if p >= 1)
    return ("book", draw(st.integers(0, 400)), bids, asks)


@st.composite
def order_step(draw: st.DrawFn, center: int) -> tuple[object, ...]:
    yes_px = min(99, max(1, center + draw(st.integers(-5, 5)))) * 100
    outcome = draw(st.sampled_from([YES, NO]))
    price = yes_px if outcome is YES else 10_000 - yes_px
    side = draw(st.sampled_from([BUY, SELL]))
    too_small = draw(st.sampled_from([False] * 9 + [True]))
    size = 4_990_000 if too_small else draw(st.integers(500, 3000)) * 10_000  # 5 .. 30 shares
    order_type = draw(st.sampled_from([GTC, GTC, GTD, FOK, FAK]))
    post_only = order_type.rests and draw(st.booleans())
    return ("order", draw(st.integers(0, 400)), side, outcome, price, size, order_type, post_only)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[tuple[object, ...]], Decimal]:
    center = draw(st.integers(10, 90))
    step = st.one_of(
        snapshot_step(center),
        snapshot_step(center),
        order_step(center),
        order_step(center),
        st.tuples(st.just("cancel"), st.integers(0, 400), st.integers(0, 30)),
        st.tuples(st.just("wait"), st.integers(1_000, 40_000)),
    )
    steps = [draw(snapshot_step(center)), *draw(st.lists(step, min_size=3, max_size=40))]
    payout = draw(st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]))
    return center, steps, payout


class Ledger:
    """Follows the outbox and checks the account against what the events say after every callback."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.requests: dict[str, OrderRequest] = {}
        self.filled: dict[str, int] = defaultdict(int)
        self.seen = 0
        self.cash_flow = Decimal(0)
        self.token_flow: dict[str, int] = defaultdict(int)

    def check(self) -> None:
        sim, acct = self.sim, self.sim.account
        for ev in sim.me.outbox[self.seen :]:
            if isinstance(ev, OrderFilled):
                f = ev.fill
                req = self.requests[f.client_order_id]
                self.filled[f.client_order_id] += f.size
                assert ev.remaining == req.size - self.filled[f.client_order_id]
                assert f.size > 0 and self.filled[f.client_order_id] <= req.size  # (a)
                assert f.token_id == req.token_id and f.side is req.side and f.outcome is req.outcome
                # Never worse than our limit; makers pay nothing and trade at our price.
                assert f.price <= req.price if req.side is BUY else f.price >= req.price
                if f.liquidity is Liquidity.MAKER:
                    assert f.fee == 0 and f.price == req.price
                else:
                    assert f.fee == FEES.taker_fee(f.price, f.size)
                value = notional(f.price, f.size)
                sign = -1 if f.side is BUY else 1
                self.cash_flow += sign * value - f.fee
                self.token_flow[f.token_id] -= sign * f.size
            elif isinstance(ev, Settled):
                self.cash_flow += ev.cash
        self.seen = len(sim.me.outbox)
        # (b) nothing goes negative, and reservations are exactly what open orders hold back.
        assert acct.cash >= 0
        assert acct.reserved_cash >= 0
        assert acct.free_cash() >= 0
        open_ids = sim.me.open_orders()
        want_cash = Decimal(0)
        want_tokens: dict[str, int] = defaultdict(int)
        for oid in open_ids:
            req = self.requests[oid]
            left = req.size - self.filled[oid]
            assert left > 0 and req.order_type.rests
            if req.side is BUY:
                want_cash += notional(req.price, left)
            else:
                want_tokens[req.token_id] += left
        assert acct.reserved_cash == want_cash
        for token in (YES_TOKEN, NO_TOKEN):
            assert acct.reserved_tokens.get(token, 0) == want_tokens[token]
            assert acct.tokens.get(token, 0) >= 0
            assert acct.free_tokens(token) >= 0


def run_scenario(steps: list[tuple[object, ...]], payout: Decimal) -> Sim:
    sim = Sim(cash="300", tokens={YES_TOKEN: 40 * S, NO_TOKEN: 40 * S})
    cash_start = sim.account.cash
    tokens_start = dict(sim.account.tokens)
    ledger = Ledger(sim)

    async def after() -> None:
        ledger.check()

    def run(ts: int) -> None:
        asyncio.run(sim.clock.run_until(ts, after=after))
        ledger.check()

    ids: list[str] = []
    for step in steps:
        kind = step[0]
        if kind == "book":
            _, dt, bids, asks = step
            run(sim.now + dt)  # type: ignore[operator]
            sim.me.apply(CID, sim.me.books[CID].diff(bids, asks), sim.now)  # type: ignore[arg-type]
            ledger.check()
        elif kind == "order":
            _, dt, side, outcome, price, size, order_type, post_only = step
            run(sim.now + dt)  # type: ignore[operator]
            oid = f"o{len(ids)}"
            expiration = (sim.now // 1000) + 61 if order_type is GTD else None
            req = sim.request(oid, side, price, size, outcome, order_type, post_only, expiration)  # type: ignore[arg-type]
            ledger.requests[oid] = req
            ids.append(oid)
            sim.me.submit(req)
        elif kind == "cancel":
            _, dt, which = step
            run(sim.now + dt)  # type: ignore[operator]
            if ids:
                sim.me.cancel(ids[which % len(ids)])  # type: ignore[operator]
        else:
            run(sim.now + step[1])  # type: ignore[operator]
    run(sim.now + 200_000)  # every arrival, cancel and GTD expiry is due by now
    assert sim.clock.pending() == 0

    # Every order got exactly one answer.
    for oid in ids:
        answers = sim.events(OrderAccepted, oid) + sim.events(OrderRejected, oid)
        assert len(answers) == 1
        assert ledger.filled[oid] <= ledger.requests[oid].size
    for token in (YES_TOKEN, NO_TOKEN):
        assert sim.account.tokens.get(token, 0) == tokens_start[token] + ledger.token_flow[token]

    sim.me.settle(CID, payout)
    ledger.check()
    # (c) cash_end - cash_start == sells - buys - fees + settlement, exactly.
    assert sim.account.cash - cash_start == ledger.cash_flow
    assert sim.account.reserved_cash == 0
    assert sim.account.tokens.get(YES_TOKEN, 0) == 0 and sim.account.tokens.get(NO_TOKEN, 0) == 0
    settled = sum((ev.cash for ev in sim.events(Settled)), Decimal(0))  # type: ignore[attr-defined]
    held = {YES_TOKEN: tokens_start[YES_TOKEN] + ledger.token_flow[YES_TOKEN]}
    held[NO_TOKEN] = tokens_start[NO_TOKEN] + ledger.token_flow[NO_TOKEN]
    assert settled == (payout * held[YES_TOKEN] + (1 - payout) * held[NO_TOKEN]).scaleb(-6)
    return sim


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_random_books_and_orders_reconcile(scenario: tuple[int, list[tuple[object, ...]], Decimal]) -> None:
    _, steps, payout = scenario
    run_scenario(steps, payout)


def test_reconciliation_scenario_exercises_fills_of_every_kind() -> None:
    """A fixed scenario through the same checker: taker and maker fills, a cancel, an expiry, settlement."""
    steps: list[tuple[object, ...]] = [
        ("book", 0, [(5000, 20 * S), (4900, 50 * S)], [(5200, 20 * S), (5300, 50 * S)]),
        ("order", 0, BUY, YES, 5200, 10 * S, GTC, False),  # o0 takes 10 @ 0.52
        ("order", 0, BUY, YES, 5000, 10 * S, GTD, False),  # o1 rests behind 20
        ("order", 0, BUY, NO, 4700, 10 * S, GTC, False),  # o2: YES ask 0.53, behind 50
        ("order", 0, SELL, YES, 5000, 5 * S, FAK, False),  # o3 hits 5 @ 0.50
        ("order", 0, BUY, YES, 4000, 5 * S, GTD, False),  # o4 rests until it expires
        ("book", 200, [(5000, 5 * S), (4900, 50 * S)], [(5200, 20 * S), (5300, 50 * S)]),
        ("book", 200, [(4900, 50 * S)], [(5300, 20 * S)]),  # 0.50 traded through: o1 fills
        ("cancel", 10, 2),
        ("wait", 70_000),
    ]
    sim = run_scenario(steps, Decimal("0.5"))
    fills = sim.fills()
    assert [(f.client_order_id, f.liquidity) for f in fills] == [
        ("o0", Liquidity.TAKER),
        ("o3", Liquidity.TAKER),
        ("o1", Liquidity.MAKER),
    ]
    assert sim.events(OrderCancelled) == [OrderCancelled("o2", 460, "CANCELED")]
    assert sim.events(OrderExpired) == [OrderExpired("o4", 61_000)]
    assert [(ev.outcome, ev.size) for ev in sim.events(Settled)] == [(YES, 55 * S), (NO, 40 * S)]  # type: ignore[attr-defined]
    # 300 - 5.2 - 0.15575 + 2.5 - 0.07813 - 5 + 0.5 * 55 + 0.5 * 40
    assert sim.account.cash == Decimal("339.56612")
