"""The paper venue against the local exchange on loopback: live books, our orders matched in-process by
engine.sim.matching, settlement at the exchange's resolution, and nothing sent to the exchange.

"Nothing sent" is checked three ways: every request our HTTP client made is a GET of market data, the
exchange's trading-route rate limiter (which every POST/DELETE of /order, /orders, /cancel-all and
/cancel-market-orders passes, authenticated or not) never saw a caller, and the exchange holds no order
but its own background liquidity.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from engine.clock import WallClock
from engine.domain import Liquidity, OrderRequest, OrderType, Outcome, Resolution, Side
from engine.engine import Engine
from engine.feeds.events import MarketEvent, MarketResolved
from engine.feeds.replay import ReplayMarket
from engine.sim.matching import LatencyModel
from engine.store import Store
from engine.venues.base import OrderAccepted, OrderFilled, Settled, VenueEvent
from engine.venues.polymarket.discovery import discover_markets
from engine.venues.polymarket.paper import PolymarketPaperVenue
from localexchange import ExchangeHandle, ManualClock, start_exchange
from tests.conftest import FixedBrain, settings_for
from tests.test_pm_market_data import FAST, WAIT_S, until
from tests.test_sim_exchange_support import CID, START, YES, market

SHARES = 1_000_000
# A two-sided book deep enough for the sizer's depth gate (USDC near the mid).
BIDS = [(4900, 3000 * SHARES), (4800, 3000 * SHARES)]
ASKS = [(5000, 3000 * SHARES), (5100, 3000 * SHARES)]


class Recorder:
    """An EventSink that keeps everything, in arrival order."""

    def __init__(self) -> None:
        self.market: list[MarketEvent] = []
        self.venue: list[VenueEvent] = []

    async def on_market(self, event: MarketEvent) -> None:
        self.market.append(event)

    async def on_venue(self, event: VenueEvent) -> None:
        self.venue.append(event)

    def fills(self) -> list[OrderFilled]:
        return [e for e in self.venue if isinstance(e, OrderFilled)]


@dataclass
class Traffic:
    """Every HTTP request our client sent."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    async def hook(self, request: httpx.Request) -> None:
        self.requests.append((request.method, request.url.path))


def assert_nothing_sent(handle: ExchangeHandle, traffic: Traffic) -> None:
    assert traffic.requests, "the venue made no request at all"
    assert {method for method, _ in traffic.requests} == {"GET"}
    paths = {path for _, path in traffic.requests}
    assert all(
        p in ("/book", "/gamma/markets/keyset") or p.startswith(("/markets/", "/clob-markets/"))
        for p in paths
    ), paths
    server = handle.server
    assert server.order_buckets == {} and server.cancel_buckets == {}  # no POST/DELETE on a trading route
    assert all(o.background for o in handle.exchange.orders.values())
    assert handle.exchange.keys == {}  # no API key was ever created or derived


@asynccontextmanager
async def paper(
    handle: ExchangeHandle, traffic: Traffic, *, markets: list[Any] | None = None, **options: Any
) -> AsyncIterator[PolymarketPaperVenue]:
    async with httpx.AsyncClient(event_hooks={"request": [traffic.hook]}) as http:
        if markets is None:
            markets = await discover_markets(handle.gamma_url, handle.base_url, http=http)
        venue = PolymarketPaperVenue(
            markets,
            clob_url=handle.base_url,
            market_ws_url=handle.market_ws_url,
            clock=WallClock(),
            starting_cash=Decimal(1000),
            latency=LatencyModel(10, 10, 0),
            seed=5,
            http=http,
            **{**FAST, **options},
        )
        yield venue


def order(
    coid: str, side: Side, price: int, size: int, order_type: OrderType = OrderType.GTC
) -> OrderRequest:
    return OrderRequest(coid, CID, YES, Outcome.YES, side, price, size * SHARES, order_type)


def test_engine_in_auto_mode_trades_on_live_books_and_the_exchange_gets_no_order(tmp_path: Path) -> None:
    async def go() -> None:
        traffic = Traffic()
        async with start_exchange(markets=[market(fee_rate="0.02")], lines=[], speed=None) as h:  # wall clock
            h.exchange.set_background(CID, BIDS, ASKS)
            async with paper(h, traffic) as venue:
                settings = settings_for(
                    tmp_path, **{"engine.mode": "auto", "engine.cycle_interval_s": 0.1, "engine.warmup_s": 0}
                )
                store = await Store.open(settings.store.path)
                engine = Engine(settings, venue, WallClock(), store, brain=FixedBrain(p=0.70))
                task = asyncio.create_task(engine.run())
                try:
                    await until(lambda: engine.counters["fills"] > 0, 5.0, "a fill")
                finally:
                    venue.stop()
                    summary = await asyncio.wait_for(task, WAIT_S)
                    await store.close()
            assert venue.kind == "PAPER" and summary["venue"] == "PAPER"
            assert summary["fills"] > 0 and summary["orders"] > 0
            assert venue.matcher.account.tokens.get(YES, 0) > 0
            assert venue.matcher.account.cash < Decimal(1000)
            assert_nothing_sent(h, traffic)

    asyncio.run(go())


def test_queue_position_fills_taker_fees_and_settlement() -> None:
    async def go() -> None:
        traffic = Traffic()
        resolving = ReplayMarket(market(fee_rate="0.02"), Resolution(CID, START + 60_000, Decimal(1)))
        async with start_exchange(markets=[resolving], lines=[], speed=None, clock=ManualClock(START)) as h:
            ex = h.exchange
            ex.set_background(CID, [(4900, 100 * SHARES)], [(5100, 100 * SHARES)])
            async with paper(h, traffic) as venue:
                sink = Recorder()
                task = asyncio.create_task(venue.run(sink))
                await until(lambda: venue.is_synced(CID) and sink.market, what="first book")
                assert [m.condition_id for m in venue.markets()] == [CID]

                await venue.submit(order("bid", Side.BUY, 4900, 10))  # joins 100 shares at the best bid
                await until(lambda: any(isinstance(e, OrderAccepted) for e in sink.venue), what="acceptance")

                async def background(bids: list[tuple[int, int]], ts: int) -> None:
                    before = len(sink.market)
                    ex.advance_to(START + ts)
                    ex.set_background(CID, bids, [(5100, 100 * SHARES)])
                    await until(lambda: len(sink.market) > before, what="the book change")

                await background([(4900, 40 * SHARES)], 10)  # 60 traded ahead of us: still 40 ahead
                await background([(4900, 20 * SHARES)], 20)
                assert sink.fills() == []
                await background([(4800, 100 * SHARES)], 30)  # our level traded away: we were filled
                await until(lambda: len(sink.fills()) == 1, what="the maker fill")
                maker = sink.fills()[0].fill
                assert (maker.price, maker.size, maker.liquidity, maker.fee) == (
                    4900,
                    10 * SHARES,
                    Liquidity.MAKER,
                    0,
                )

                await venue.submit(order("take", Side.BUY, 5100, 10, OrderType.FAK))
                await until(lambda: len(sink.fills()) == 2, what="the taker fill")
                taker = sink.fills()[1].fill
                assert (taker.price, taker.size, taker.liquidity) == (5100, 10 * SHARES, Liquidity.TAKER)
                assert taker.fee == Decimal("0.04998")  # 10 x 0.02 x 0.51 x 0.49

                ex.advance_to(START + 60_000)
                await until(lambda: any(isinstance(e, Settled) for e in sink.venue), what="settlement")
                venue.stop()
                await asyncio.wait_for(task, WAIT_S)
            settled = next(e for e in sink.venue if isinstance(e, Settled))
            assert (settled.token_id, settled.size, settled.cash) == (YES, 20 * SHARES, Decimal(20))
            resolved = [e for e in sink.market if isinstance(e, MarketResolved)]
            assert [e.yes_payout for e in resolved] == [Decimal(1)]
            # 1000 - 10 x 0.49 - (10 x 0.51 + fee) + 20 paid out
            assert (
                venue.matcher.account.cash == Decimal(1000) - Decimal("4.9") - Decimal("5.1") - taker.fee + 20
            )
            assert_nothing_sent(h, traffic)

    asyncio.run(go())


def test_stop_ends_the_run_and_closes_the_feed() -> None:
    async def go() -> None:
        traffic = Traffic()
        async with start_exchange(markets=[market()], lines=[], speed=None, clock=ManualClock(START)) as h:
            async with paper(h, traffic) as venue:
                task = asyncio.create_task(venue.run(Recorder()))
                await until(lambda: venue.is_synced(CID), what="sync")
                venue.stop()
                await asyncio.wait_for(task, WAIT_S)
                assert venue.data.stream.stats.connections == 0
            assert_nothing_sent(h, traffic)

    asyncio.run(go())
