"""The LIVE venue against the local exchange: orders out through the gateway, fills back over the user
WebSocket (provisional, confirmed, reversed), causal event order, reconciliation, heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from engine.clock import WallClock
from engine.domain import Liquidity, OrderType, Side
from engine.feeds.events import BookSnapshot, MarketEvent
from engine.venues.base import (
    FillReversed,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderUnknown,
)
from engine.venues.polymarket.gateway import GatewayEvent, OrderGateway, PlaceStatus
from engine.venues.polymarket.live import LiveSettings, PolymarketLiveVenue
from localexchange import ExchangeHandle
from tests.test_pm_gateway import connected, local_exchange, order
from tests.test_sim_exchange_support import ADDRS, CID, NO, YES, market

WAIT_S = 5.0


class FakeMarketData:
    """The market-data interface: `run(on_event)`, `close()`, `stale_markets(now_ms)`."""

    def __init__(self, events: list[MarketEvent]) -> None:
        self.events = events
        self.closed = asyncio.Event()

    async def run(self, on_event: Callable[[MarketEvent], Any]) -> None:
        for event in self.events:
            await on_event(event)
        await self.closed.wait()

    async def close(self) -> None:
        self.closed.set()

    def stale_markets(self, now_ms: int) -> set[str]:
        return {CID} if now_ms > 0 else set()

    def reconnects(self) -> int:
        return 0


class Sink:
    def __init__(self) -> None:
        self.market: list[MarketEvent] = []
        self.venue: list[Any] = []
        self._changed = asyncio.Condition()

    async def on_market(self, event: MarketEvent) -> None:
        self.market.append(event)

    async def on_venue(self, event: Any) -> None:
        async with self._changed:
            self.venue.append(event)
            self._changed.notify_all()

    async def wait_for(self, pred: Callable[[list[Any]], bool], timeout: float = WAIT_S) -> None:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: pred(self.venue))

        await asyncio.wait_for(until(), timeout)

    def of(self, coid: str) -> list[Any]:
        return [e for e in self.venue if _coid(e) == coid]


def _coid(event: Any) -> str:
    return event.fill.client_order_id if isinstance(event, OrderFilled) else event.client_order_id


async def bounded(pred: Callable[[], bool], timeout: float = WAIT_S) -> None:
    async def poll() -> None:
        while not pred():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


@asynccontextmanager
async def live_venue(
    ex: ExchangeHandle,
    gw: OrderGateway,
    *,
    settings: LiveSettings | None = None,
    events: list[MarketEvent] | None = None,
    is_healthy: Callable[[], bool] | None = None,
    before_run: Callable[[PolymarketLiveVenue], None] | None = None,
) -> AsyncIterator[tuple[PolymarketLiveVenue, Sink]]:
    venue = PolymarketLiveVenue(
        gateway=gw,
        market_data=FakeMarketData(events or []),
        markets=[market()],
        clock=WallClock(),
        settings=settings or LiveSettings(heartbeat_interval_s=0.05, cancel_confirm_s=0.5),
        is_healthy=is_healthy,
    )
    if before_run is not None:
        before_run(venue)
    sink = Sink()
    task = asyncio.create_task(venue.run(sink))
    try:
        await bounded(lambda: venue.user_stream is not None and venue.user_stream.connected)
        yield venue, sink
    finally:
        venue.stop()
        await asyncio.wait_for(task, WAIT_S)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_fills_are_provisional_then_confirmed_and_a_failed_trade_reverses():
    async def go() -> None:
        snapshot = BookSnapshot(CID, 1, [(4500, 100_000_000)], [(5500, 100_000_000)])
        async with (
            local_exchange() as ex,
            connected(ex) as gw,
            connected(ex, key=1) as bob,
            live_venue(ex, gw, events=[snapshot]) as (venue, sink),
        ):
            assert venue.kind == "LIVE" and [m.condition_id for m in venue.markets()] == [CID]
            assert venue.reconciliation is not None and venue.reconciliation.cash == 10_000 * 10**6
            await bounded(lambda: sink.market == [snapshot])
            assert venue.stale_markets(1) == {CID}

            await venue.submit(order("o1", price=5000, size=10_000_000))
            await sink.wait_for(lambda v: any(isinstance(e, OrderAccepted) for e in v))
            (accepted,) = sink.of("o1")
            assert accepted.venue_order_id == venue.order_id_of("o1")
            assert ex.exchange.orders[accepted.venue_order_id].status == "LIVE"

            # bob buys NO at 0.50: a mint against our YES bid; the fill arrives at MATCHED
            taken = await bob.place(order("b1", price=5000, size=10_000_000, token=NO))
            assert taken.status is PlaceStatus.ACCEPTED and taken.exchange_status == "matched"
            await sink.wait_for(lambda v: any(isinstance(e, OrderFilled) for e in v))
            accepted_again, filled = sink.of("o1")
            fill = filled.fill
            assert (fill.side, fill.price, fill.size, fill.liquidity, fill.fee) == (
                Side.BUY,
                5000,
                10_000_000,
                Liquidity.MAKER,
                Decimal(0),
            )
            assert filled.remaining == 0 and fill.token_id == YES and fill.condition_id == CID
            # A maker fill's id is the trade's and the order's: the same in every process, one per order.
            assert fill.trade_id == f"{taken.trade_ids[0]}:{accepted.venue_order_id.lower()}"
            # ...and is confirmed once the trade is CONFIRMED on chain
            await bounded(lambda: venue.fill_status(fill.trade_id) == "CONFIRMED")

            # the next trade FAILS: reported provisionally, then reversed
            ex.exchange.fail_next_trades(1)
            await venue.submit(order("o2", price=5000, size=5_000_000))
            await sink.wait_for(lambda v: any(isinstance(e, OrderAccepted) for e in sink.of("o2")))
            failing = await bob.place(order("b2", price=5000, size=5_000_000, token=NO))
            assert failing.status is PlaceStatus.ACCEPTED
            await sink.wait_for(lambda v: any(isinstance(e, FillReversed) for e in v))
            kinds = [type(e).__name__ for e in sink.of("o2")]
            assert kinds == ["OrderAccepted", "OrderFilled", "FillReversed"]
            reversed_ = sink.of("o2")[-1]
            assert reversed_.reason == "FAILED" and reversed_.fill == sink.of("o2")[1].fill
            assert venue.fill_status(reversed_.fill.trade_id) == "REVERSED"
            assert len(sink.of("o1")) == 2  # nothing more for the confirmed order
            await bounded(lambda: venue.heartbeats >= 1)

    run(go())


def test_fak_remainder_cancel_and_refusals_arrive_in_causal_order():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw, live_venue(ex, gw) as (venue, sink):
            # 100 shares rest at 0.55: a FAK for 150 fills 100, the rest is cancelled after the fills
            await venue.submit(order("fak", price=5500, size=150_000_000, order_type=OrderType.FAK))
            await sink.wait_for(lambda v: any(isinstance(e, OrderCancelled) for e in sink.of("fak")))
            events = sink.of("fak")
            assert isinstance(events[0], OrderAccepted) and isinstance(events[-1], OrderCancelled)
            fills = [e for e in events if isinstance(e, OrderFilled)]
            assert sum(f.fill.size for f in fills) == 100_000_000 and fills[-1].remaining == 50_000_000
            assert all(f.fill.liquidity is Liquidity.TAKER for f in fills)
            assert events[-1].reason == "FAK unfilled remainder"

            await venue.submit(order("rest", price=4000))
            await sink.wait_for(lambda v: bool(sink.of("rest")))
            await venue.cancel("rest")
            await sink.wait_for(lambda v: len(sink.of("rest")) == 2)
            assert isinstance(sink.of("rest")[1], OrderCancelled) and sink.of("rest")[1].reason == "CANCELED"

            await venue.submit(order("r2", price=4100))
            await sink.wait_for(lambda v: bool(sink.of("r2")))
            await venue.cancel_all()
            await sink.wait_for(lambda v: len(sink.of("r2")) == 2)
            assert isinstance(sink.of("r2")[1], OrderCancelled)

            await venue.submit(order("tiny", price=4000, size=1_000_000))
            await sink.wait_for(lambda v: bool(sink.of("tiny")))
            (refused,) = sink.of("tiny")
            assert isinstance(refused, OrderRejected)
            assert refused.reason.endswith("is invalid. Size (1) lower than the minimum: 5")

    run(go())


def test_timed_out_post_is_unknown_then_known_exactly_once():
    async def go() -> None:
        async with local_exchange() as ex:
            seen: list[GatewayEvent] = []
            async with (
                connected(ex, on_event=seen.append, post_soft_timeout_s=0.05) as gw,
                live_venue(ex, gw) as (venue, sink),
            ):
                unknown: list[list[str]] = []
                gw.on_event = _chain(gw.on_event, lambda e: unknown.append(venue.unknown_orders()))
                await gw.prepare(order("warm"))  # market metadata cached before the slow part
                ex.faults.http_delay_ms = 200
                await venue.submit(order("slow", price=4400))
                await sink.wait_for(lambda v: any(isinstance(e, OrderAccepted) for e in sink.of("slow")))
                ex.faults.http_delay_ms = 0
                told, accepted = sink.of("slow")  # the engine hears UNKNOWN first, then the lookup's answer
                assert isinstance(told, OrderUnknown) and told.venue_order_id == accepted.venue_order_id
                assert isinstance(accepted, OrderAccepted)
                assert ["slow"] in unknown  # UNKNOWN while it was being resolved
                assert [e.kind for e in seen if e.kind in ("unknown", "resend")] == ["unknown"]
                await bounded(lambda: not venue.unknown_orders())
                mine = [o.id for o in ex.exchange.orders.values() if o.account == ADDRS[0].lower()]
                assert mine == [accepted.venue_order_id]

    run(go())


def _chain(first: Any, second: Callable[[GatewayEvent], None]) -> Callable[[GatewayEvent], None]:
    def both(event: GatewayEvent) -> None:
        if first is not None:
            first(event)
        second(event)

    return both


def test_reconciliation_at_start_and_heartbeats_only_while_healthy():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            ex.exchange.deposit(ADDRS[0], Decimal(7), YES)
            earlier = await gw.place(order("earlier", price=3000))  # left by an unknown earlier run
            known = await gw.place(order("known", price=3100))  # the engine's store knows this one
            healthy = False
            settings = LiveSettings(heartbeat_interval_s=0.02, cancel_foreign_orders=True)
            async with live_venue(
                ex,
                gw,
                settings=settings,
                is_healthy=lambda: healthy,
                before_run=lambda v: v.adopt(order("known", price=3100), known.order_id),
            ) as (venue, sink):
                rec = venue.reconciliation
                assert rec is not None
                assert rec.positions == {YES: 7_000_000}
                assert sorted(o.order_id for o in rec.open_orders) == sorted(
                    [earlier.order_id, known.order_id]
                )
                assert [o.order_id for o in rec.foreign_orders] == [earlier.order_id]
                assert ex.exchange.orders[earlier.order_id].status == "CANCELED"
                await venue.cancel("known")
                await sink.wait_for(lambda v: [type(e) for e in sink.of("known")] == [OrderCancelled])
                await bounded(lambda: venue.heartbeats_skipped >= 2)
                assert venue.heartbeats == 0
                healthy = True
                await bounded(lambda: venue.heartbeats >= 2)

    run(go())
