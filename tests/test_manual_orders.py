"""The operator's own orders: the ticket's what-if against a hand-computed book walk and fee, every rule that
would refuse it, a refused hand order that sends nothing, a post-only order placed and cancelled, a flatten,
the watchlist, market search, and the same questions over the control socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.commands import CancelOrder, Flatten, PlaceOrder, SetMode, UnwatchMarket, WatchMarket
from engine.control import ControlClient, ControlServer, RemoteEngine
from engine.domain import Mode, OrderType, Outcome, Side
from engine.queries import MarketHistory, OrderTicket, PreviewOrder, SearchMarkets, ticket_from_wire
from engine.runtime import Runtime, build
from tests.conftest import CID, START, FixedBrain, settings_for, write_dataset

T = TypeVar("T")
TIMEOUT_S = 60


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, TIMEOUT_S)  # a failure must not hang the suite

    return asyncio.run(bounded())


def thin_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    """Two thin levels over a deep third on each side, so a walk of 150 shares takes two levels."""
    return [[0.49, 100.0], [0.48, 100.0], [0.47, 5000.0]], [[0.50, 100.0], [0.51, 100.0], [0.52, 5000.0]]


def manual_settings(tmp_path: Path, **extra: Any) -> Any:
    books, markets = write_dataset(tmp_path, seconds=300, end_offset_s=250, markets_count=2, book=thin_book)
    overrides: dict[str, Any] = {
        "store.path": ":memory:",
        "bankroll.starting_usdc": "100000",
        "execution.max_slippage_bps": 100.0,
        "strategies.value.enabled": False,
        "strategies.manual.budget_pct": 10,
    }
    overrides.update(extra)
    return settings_for(tmp_path, books, markets, **overrides)


async def at(tmp_path: Path, seconds: float, **extra: Any) -> Runtime:
    rt = await build(manual_settings(tmp_path, **extra), brain=FixedBrain(p=0.5), run_id="manual",
                     ttl_on_engine_clock=True)  # fmt: skip
    await rt.engine.start()
    await rt.venue.run(rt.engine, until_ts=START + int(seconds * 1000))
    return rt


async def close(rt: Runtime) -> None:
    await rt.engine.shutdown()
    await rt.store.close()


def with_engine(tmp_path: Path, body: Callable[[Runtime], Awaitable[T]], seconds: float = 20, **extra: Any) -> T:
    async def main() -> T:
        rt = await at(tmp_path, seconds, **extra)
        try:
            return await body(rt)
        finally:
            await close(rt)

    return run(main())


def buy_up(size_shares: float, price: float | None = None, **kw: Any) -> OrderTicket:
    return OrderTicket(CID, Outcome.YES, Side.BUY, None if price is None else int(round(price * 10_000)),
                       int(size_shares * 1_000_000), **kw)  # fmt: skip


def test_what_if_matches_a_hand_computed_walk_and_fee(tmp_path: Path) -> None:
    """150 Up, marketable FAK: 100 at 0.50 and 50 at 0.51. Effective (50 + 25.5) / 150 = 0.503333, 66.67 bps
    from the best ask, 2 levels, 150 of 5,200 visible shares. The 15-minute crypto fee is 0.25 x (p(1-p))^2
    per share, charged per match and rounded to 5 decimals: 100 x 0.25 x 0.0625 = 1.56250 and
    50 x 0.25 x 0.2499^2 = 0.780625125 -> 0.78063; 2.34313 in all."""
    w = with_engine(tmp_path, lambda rt: rt.engine.ask(PreviewOrder(buy_up(150, order_type=OrderType.FAK))))
    assert w.ok, w.summary
    assert (w.outcome_label, w.side, w.limit_price, w.size, w.size_after_caps) == ("Up", "BUY", 5100, 150_000_000,
                                                                                   150_000_000)  # fmt: skip
    assert w.effective_price == pytest.approx(75.5 / 150)
    assert w.slippage_bps == pytest.approx((75.5 / 150 - 0.5) / 0.5 * 1e4)
    assert (w.levels, w.fills_now, w.rests, w.crosses) == (2, 150_000_000, 0, True)
    assert w.depth_share == pytest.approx(150 / 5200)
    assert w.fee == Decimal("2.34313")
    assert w.notional == Decimal("76.5")  # limit x size: what a buy at 0.51 may cost at most
    # Reserved as the exposure book does: the notional and the largest fee (p(1-p) at its 0.25 peak).
    assert w.reserves == Decimal("76.5") + Decimal("150") * Decimal("0.25") * Decimal("0.0625")
    passed = {r.name for r in w.rules if r.passed}
    assert {"engine", "mode", "armed", "strategy", "breakers", "market_state", "zone", "headroom", "budget",
            "firewall"} <= passed  # fmt: skip


def test_what_if_lists_every_rule_that_refuses(tmp_path: Path) -> None:
    """0.85 is in zone_5, where hand orders may not buy; the manual budget (0.001% of 100,000 = 1 USDC) leaves
    no room either: both are named, not only the first."""
    w = with_engine(tmp_path, lambda rt: rt.engine.ask(PreviewOrder(buy_up(10, 0.85))),
                    **{"strategies.manual.budget_pct": 0.001})  # fmt: skip
    assert not w.ok and w.size_after_caps == 0
    refused = [r.name for r in w.rules if not r.passed]
    assert "ZONE_STRATEGY" in refused and "NO_ROOM_BUDGET" in refused, refused
    assert w.summary.startswith("refused: ZONE_STRATEGY")


def test_a_hand_order_refused_by_a_cap_sends_nothing(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        before = (len(e.orders), e.counters["orders"], e.counters["proposals"])
        result = await e.execute(PlaceOrder(buy_up(20, 0.45, post_only=True)))
        assert not result.ok
        assert "NO_ROOM_BUDGET" in result.message and "budget room" in result.message, result.message
        assert (len(e.orders), e.counters["orders"], e.counters["proposals"]) == before
        assert e.refusals.get("NO_ROOM_BUDGET") == 1

    with_engine(tmp_path, body, **{"strategies.manual.budget_pct": 0.001})


def test_a_post_only_hand_order_rests_shows_and_cancels(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        result = await e.execute(PlaceOrder(buy_up(20, 0.45, post_only=True)))
        assert result.ok, result.message
        oid = result.message.split()[1].rstrip(":")
        await rt.venue.run(e, until_ts=START + 22_000)  # the venue acknowledges it
        snap = e.snapshot(force=True)
        row = next(o for o in snap.orders if o.client_order_id == oid)
        assert (row.strategy_id, row.side, row.outcome, row.price, row.state) == ("manual", "BUY", "Up", 4500, "LIVE")
        assert (True, 4500, 20_000_000) in snap.books[CID].our_orders
        p = next(p for p in snap.proposals if p.strategy_id == "manual")
        assert p.status == "APPROVED"  # the ticket was the approval, in semi mode
        cancelled = await e.execute(CancelOrder(oid[-5:]))
        assert cancelled.ok, cancelled.message
        await rt.venue.run(e, until_ts=START + 24_000)
        assert oid not in e.working and e.orders[oid].state.value == "CANCELLED"

    with_engine(tmp_path, body)


def test_flatten_sells_what_each_holder_holds(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        bought = await e.execute(PlaceOrder(buy_up(30, order_type=OrderType.FAK)))
        assert bought.ok, bought.message
        await rt.venue.run(e, until_ts=START + 22_000)
        token = e.markets[CID].market.yes_token
        assert e.portfolio.held(token) == 30_000_000
        resting = await e.execute(PlaceOrder(OrderTicket(CID, Outcome.YES, Side.SELL, 6000, 10_000_000,
                                                         post_only=True)))  # fmt: skip
        assert resting.ok, resting.message
        await rt.venue.run(e, until_ts=START + 24_000)
        result = await e.execute(Flatten(f"{e.markets[CID].market.slug}:up"))
        assert result.ok, result.message
        assert "1 orders cancelled" in result.message or "orders cancelled" in result.message
        await rt.venue.run(e, until_ts=START + 30_000)  # the cancel is confirmed; the cycle sells the rest
        assert e.portfolio.held(token) == 0
        sells = [r for r in e.snapshot(force=True).blotter if r.side == "SELL"]
        assert sum(r.size for r in sells) == 30_000_000 and all(r.strategy_id == "manual" for r in sells)
        nothing = await e.execute(Flatten(token))
        assert not nothing.ok and "nothing held" in nothing.message

    with_engine(tmp_path, body)


def test_observe_mode_sends_no_hand_order(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        await e.execute(SetMode(Mode.OBSERVE))
        result = await e.execute(PlaceOrder(buy_up(20, 0.45, post_only=True)))
        assert not result.ok and "OBSERVE_MODE" in result.message and not e.orders

    with_engine(tmp_path, body)


def test_watchlist_and_search(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        found = await e.ask(SearchMarkets(words="bitcoin test 1"))
        assert found.total == 1 and found.rows[0].slug == "btc-updown-test-1" and found.rows[0].watched
        assert found.source == "the replay's data file" and found.rows[0].outcomes == "Up/Down"
        other = found.rows[0].condition_id
        off = await e.execute(UnwatchMarket(other[-6:]))
        assert off.ok, off.message
        assert other not in {m.condition_id for m in e.snapshot(force=True).markets}
        again = await e.ask(SearchMarkets(words="btc-updown-test-1"))
        assert not again.rows[0].watched
        on = await e.execute(WatchMarket(other))
        assert on.ok and other in {m.condition_id for m in e.snapshot(force=True).markets}
        assert not (await e.execute(WatchMarket(other))).ok  # already on it: said, not silently done
        assert (await e.ask(SearchMarkets(words="ethereum"))).total == 0

    with_engine(tmp_path, body)


def test_history_has_mids_and_our_fills(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        e = rt.engine
        await e.execute(PlaceOrder(buy_up(10, order_type=OrderType.FAK)))
        await rt.venue.run(e, until_ts=START + 40_000)
        h = await e.ask(MarketHistory(CID))
        assert len(h.mids) >= 7 and all(p.mid == pytest.approx(0.495) for p in h.mids)
        assert [(f.side, f.price, f.size) for f in h.fills] == [("BUY", 0.5, 10.0)]

    with_engine(tmp_path, body)


def test_queries_and_hand_orders_over_the_control_socket(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        sock_dir = tmp_path / "ctl"
        sock_dir.mkdir(mode=0o700)
        server = ControlServer(rt.engine, sock_dir / "s.sock")
        await server.start()
        remote = RemoteEngine(ControlClient(server.path))
        try:
            await remote.refresh()
            w = await remote.ask(PreviewOrder(buy_up(150, order_type=OrderType.FAK)))
            assert w.ok and w.fee == Decimal("2.34313") and w.rules and w.rules[0].name == "engine"
            placed = await remote.execute(PlaceOrder(buy_up(20, 0.45, post_only=True)))
            assert placed.ok, placed.message
            with pytest.raises(ValueError, match="not a watched market"):
                await remote.ask(MarketHistory("0xnope"))
        finally:
            await remote.close()
            await server.close()

    with_engine(tmp_path, body)


def test_a_bad_ticket_names_the_field_and_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="ticket side: 'BUYY' is not accepted: accepted: BUY, SELL"):
        ticket_from_wire({"condition_id": CID, "outcome": "YES", "side": "BUYY", "size": 1_000_000})
    with pytest.raises(ValueError, match="ticket size: give shares or dollars"):
        ticket_from_wire({"condition_id": CID, "outcome": "YES", "side": "BUY"})
    with pytest.raises(ValueError, match="post-only order needs a limit price"):
        OrderTicket(CID, Outcome.YES, Side.BUY, None, 1_000_000, post_only=True)
    with pytest.raises(ValueError, match="ticket price: 1.2 is not strictly between 0 and 1"):
        OrderTicket(CID, Outcome.YES, Side.BUY, 12_000, 1_000_000)
