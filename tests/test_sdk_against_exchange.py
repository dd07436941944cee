"""The official Polymarket SDK (`polymarket-client` 0.14.0, unchanged) against the local exchange on loopback.

The SDK is pointed at the exchange through its environment override only (every URL; chain, contracts
and signing domains stay production's). Accounts are plain EOAs (`wallet=` the signer's own address),
which the SDK classifies as wallet type EOA / signature type 0, so it needs no relayer, no deposit wallet
and no chain reads. Nothing else is patched.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from polymarket import AsyncPublicClient, AsyncSecureClient
from polymarket._internal.environment import PRODUCTION_CONFIG, with_environment_config
from polymarket.environments import PRODUCTION
from polymarket.errors import OrderHeartbeatMismatchError, RequestRejectedError
from polymarket.streams import MarketSpec, UserSpec

from localexchange import ExchangeConfig, start_exchange
from tests.test_sim_exchange_support import ADDRS, CID, KEYS, NO, YES, market

WAIT_S = 5.0  # bound for one network event on loopback


def sdk_environment(handle: Any) -> Any:
    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        clob_url=handle.base_url,
        clob_market_ws_url=handle.market_ws_url,
        clob_user_ws_url=handle.user_ws_url,
        gamma_url=handle.gamma_url,
        data_url=handle.data_url,
        # never used by an EOA account; pointed at the exchange so nothing can leave the machine
        relayer_url=handle.base_url + "/relayer",
        rpc_url=handle.base_url + "/rpc",
    )
    return with_environment_config(PRODUCTION, config=config)


async def next_event(stream: Any, pred: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
    async def scan() -> Any:
        async for event in stream:
            if pred(event):
                return event
        raise AssertionError("stream ended")

    return await asyncio.wait_for(scan(), timeout)


def test_official_sdk_trades_against_the_local_exchange():
    asyncio.run(_scenario())


async def _scenario() -> None:
    cfg = ExchangeConfig(mined_delay_ms=100, confirmed_delay_ms=100)
    async with start_exchange(markets=[market(fee_rate="0.04")], lines=[], speed=None, config=cfg) as ex:
        env = sdk_environment(ex)
        ex.exchange.set_background(CID, [("0.45", "100")], [("0.55", "100")])

        # public market data through the SDK's models
        public = AsyncPublicClient(environment=env)
        book = await public.get_order_book(token_id=YES)
        assert (book.bids[-1].price, book.asks[-1].price) == (Decimal("0.45"), Decimal("0.55"))
        assert book.tick_size == Decimal("0.01") and book.neg_risk is False and len(book.hash) == 40
        no_book = await public.get_order_book(token_id=NO)
        assert (no_book.bids[-1].price, no_book.asks[-1].price) == (Decimal("0.45"), Decimal("0.55"))
        assert await public.get_midpoint(token_id=YES) == Decimal("0.5")
        assert await public.get_price(token_id=YES, side="BUY") == Decimal("0.45")
        assert await public.get_spread(token_id=YES) == Decimal("0.1")
        page = await public.list_markets(condition_ids=[CID]).first_page()
        (gm,) = page.items
        assert gm.condition_id == CID and gm.outcomes.yes.token_id == YES and gm.outcomes.no.token_id == NO

        # L1: the SDK creates (or derives) its API key with a ClobAuth signature
        alice = await AsyncSecureClient.create(private_key=KEYS[0], wallet=ADDRS[0], environment=env)
        bob = await AsyncSecureClient.create(private_key=KEYS[1], wallet=ADDRS[1], environment=env)
        again = await AsyncSecureClient.create(private_key=KEYS[0], wallet=ADDRS[0], environment=env)
        assert again.credentials.key == alice.credentials.key  # derived on the second run
        await again.close()
        collateral = await alice.get_balance_allowance(asset_type="COLLATERAL")
        assert collateral.balance == 10_000 * 10**6

        market_stream = await alice.subscribe(MarketSpec(asset_ids=[YES]))
        alice_user = await alice.subscribe(UserSpec(markets=[CID]))
        bob_user = await bob.subscribe(UserSpec())
        first = await next_event(market_stream, lambda e: e.type == "book")
        assert first.payload.asset_id == YES

        # a signed GTC order: live, listed, visible on the market channel
        placed = await alice.place_limit_order(token_id=YES, price="0.50", size="10", side="BUY")
        assert placed.ok and placed.status == "live"
        open_orders = (await alice.list_open_orders().first_page()).items
        assert [o.id for o in open_orders] == [placed.order_id]
        assert open_orders[0].price == Decimal("0.5") and open_orders[0].original_size == Decimal("10")
        change = await next_event(market_stream, lambda e: e.type == "price_change")
        yes_change = next(c for c in change.payload.price_changes if c.asset_id == YES)
        assert (yes_change.price, yes_change.size, yes_change.side) == (Decimal("0.5"), Decimal("10"), "BUY")
        assert yes_change.best_bid == Decimal("0.5")
        placement = await next_event(alice_user, lambda e: e.type == "order")
        assert placement.payload.order_event_type == "PLACEMENT" and placement.payload.id == placed.order_id

        # bob crosses it from the NO side (a mint): MATCHED -> MINED -> CONFIRMED for both
        taken = await bob.place_limit_order(token_id=NO, price="0.50", size="10", side="BUY")
        assert taken.ok and taken.status == "matched" and len(taken.trade_ids) == 1
        statuses = []
        for status in ("MATCHED", "MINED", "CONFIRMED"):
            event = await next_event(
                alice_user, lambda e, s=status: e.type == "trade" and e.payload.status == s
            )
            statuses.append(event.payload.status)
            assert event.payload.trader_side == "MAKER"
            assert event.payload.maker_orders[0].order_id == placed.order_id
        assert statuses == ["MATCHED", "MINED", "CONFIRMED"]
        taker_view = await next_event(
            bob_user, lambda e: e.type == "trade" and e.payload.status == "CONFIRMED"
        )
        assert taker_view.payload.trader_side == "TAKER" and taker_view.payload.asset_id == NO
        hashes = await bob.wait_for_order_fill_settlement(taken, timeout_s=WAIT_S)
        assert len(hashes) == 1 and hashes[0].startswith("0x")
        trades = (await alice.list_account_trades().first_page()).items
        assert [(t.status, t.trader_side, t.size) for t in trades] == [("CONFIRMED", "MAKER", Decimal("10"))]
        yes_balance = await alice.get_balance_allowance(asset_type="CONDITIONAL", token_id=YES)
        assert yes_balance.balance == 10 * 10**6
        last = await alice.get_last_trade_price(token_id=YES)
        assert last is not None and last.price == Decimal("0.5")

        # a market (FAK) order: dollar amount in, the SDK's off-tick amounts accepted
        bought = await bob.place_market_order(token_id=YES, side="BUY", amount="5.5")
        assert bought.ok and bought.status == "matched" and bought.taking_amount == Decimal("10")

        # cancels: one, then all
        one = await alice.place_limit_order(token_id=YES, price="0.40", size="5", side="BUY")
        canceled = await alice.cancel_order(order_id=one.order_id)
        assert canceled.canceled == (one.order_id,) and not canceled.not_canceled
        again_canceled = await alice.cancel_order(order_id=one.order_id)
        assert again_canceled.not_canceled == {one.order_id: "already canceled or matched"}
        batch = await alice.post_orders(
            [
                await alice.create_limit_order(token_id=YES, price=p, size="5", side="BUY")
                for p in ("0.41", "0.42")
            ]
        )
        assert all(r.ok for r in batch)
        everything = await alice.cancel_all()
        assert sorted(everything.canceled) == sorted(r.order_id for r in batch)
        assert (await alice.list_open_orders().first_page()).items == ()
        cancellation = await next_event(
            alice_user, lambda e: e.type == "order" and e.payload.order_event_type == "CANCELLATION"
        )
        assert cancellation.payload.status == "CANCELED"

        # heartbeats rotate ids; a stale id is refused with the expected one
        hb = await alice.send_order_heartbeat()
        hb2 = await alice.send_order_heartbeat(heartbeat_id=hb.heartbeat_id)
        with pytest.raises(OrderHeartbeatMismatchError):
            await alice.send_order_heartbeat(heartbeat_id=hb.heartbeat_id)
        assert hb2.heartbeat_id != hb.heartbeat_id

        # the exchange's refusals reach the SDK as Polymarket's
        with pytest.raises(RequestRejectedError) as err:
            await alice.place_limit_order(token_id=YES, price="0.50", size="100000", side="BUY")
        assert err.value.status == 400 and "not enough balance / allowance" in str(err.value)

        for handle in (market_stream, alice_user, bob_user):
            await handle.close()
        for client in (alice, bob):
            await client.close()
        await public.close()
