"""The order gateway on the official SDK against the local exchange: placement of every order type, batches,
cancels, queries, wallet types, verbatim refusals, retries by error class and posts whose outcome is unknown.

Waits on the network are bounded; faults are switched from the gateway's own observer callbacks, so each
scenario takes the same path on every run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from engine.domain import Liquidity, OrderRequest, OrderType, Outcome, Side
from engine.venues.polymarket.clob.amounts import limit_amounts
from engine.venues.polymarket.gateway import (
    BatchTooLarge,
    GatewayError,
    GatewayEvent,
    GatewaySettings,
    OrderGateway,
    PlaceStatus,
)
from engine.venues.polymarket.keys import LiveCredentials, load_credentials
from engine.venues.polymarket.ratelimit import ORDER
from engine.venues.polymarket.retry import RetryPolicy
from engine.venues.polymarket.user_ws import parse_fills
from localexchange import ExchangeConfig, ExchangeHandle, start_exchange
from tests.test_sim_exchange_support import ADDRS, CID, KEYS, NO, YES, market

WAIT_S = 5.0


def policy(**overrides: Any) -> RetryPolicy:
    values: dict[str, Any] = {
        "attempts": 4,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.1,
        "restart_deadline_s": 10.0,
        "rate_limit_max_wait_s": 5.0,
        # Generous: a loaded CI machine must not turn an ordinary post into an unknown outcome. The tests
        # of unknown outcomes set their own short timeouts.
        "request_timeout_s": 10.0,
        "post_soft_timeout_s": 5.0,
        "post_hard_timeout_s": 10.0,
        "unknown_settle_s": 0.1,
        "unknown_poll_s": 0.05,
        "unknown_deadline_s": 10.0,
    }
    values.update(overrides)
    return RetryPolicy(**values)


def gateway_settings(
    ex: ExchangeHandle, *, signature_type: int = 0, relayer_url: str | None = None, **retry: Any
) -> GatewaySettings:
    return GatewaySettings(
        clob_url=ex.base_url,
        market_ws_url=ex.market_ws_url,
        user_ws_url=ex.user_ws_url,
        gamma_url=ex.gamma_url,
        data_url=ex.data_url,
        # never reached by an EOA account; on loopback so nothing can leave the machine
        relayer_url=relayer_url or ex.base_url + "/relayer",
        rpc_url=ex.base_url + "/rpc",
        signature_type=signature_type,
        retry=policy(**retry),
    )


def credentials(i: int = 0, funder: str | None = None) -> LiveCredentials:
    return load_credentials(env={"BIGEARN_PRIVATE_KEY": KEYS[i]}, funder=funder)


def order(
    coid: str,
    *,
    side: Side = Side.BUY,
    price: int = 5000,
    size: int = 10_000_000,
    token: str = YES,
    order_type: OrderType = OrderType.GTC,
    post_only: bool = False,
    expiration: int | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=coid,
        condition_id=CID,
        token_id=token,
        outcome=Outcome.YES if token == YES else Outcome.NO,
        side=side,
        price=price,
        size=size,
        order_type=order_type,
        post_only=post_only,
        expiration=expiration,
    )


@asynccontextmanager
async def local_exchange(**config: Any) -> AsyncIterator[ExchangeHandle]:
    cfg = ExchangeConfig(
        mined_delay_ms=config.pop("mined_delay_ms", 50),
        confirmed_delay_ms=config.pop("confirmed_delay_ms", 50),
        retry_delay_ms=config.pop("retry_delay_ms", 50),
        **config,
    )
    async with start_exchange(markets=[market()], lines=[], speed=None, config=cfg) as ex:
        ex.exchange.set_background(CID, [("0.45", "100")], [("0.55", "100")])
        yield ex


@asynccontextmanager
async def connected(
    ex: ExchangeHandle,
    *,
    key: int = 0,
    funder: str | None = None,
    on_event: Callable[[GatewayEvent], None] | None = None,
    **settings: Any,
) -> AsyncIterator[OrderGateway]:
    gw = await OrderGateway.connect(
        credentials(key, funder), gateway_settings(ex, **settings), on_event=on_event
    )
    try:
        yield gw
    finally:
        await gw.close()


@asynccontextmanager
async def relayer_stub() -> AsyncIterator[str]:
    """The relayer's `GET /deployed` only: the SDK asks it whether a deposit wallet exists."""

    async def deployed(request: web.Request) -> web.Response:
        return web.json_response({"deployed": True})

    app = web.Application()
    app.router.add_get("/deployed", deployed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def exchange_order_ids(ex: ExchangeHandle, address: str) -> list[str]:
    return [o.id for o in ex.exchange.orders.values() if o.account == address.lower()]


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


# --- placement, queries, cancels ---------------------------------------------------------------------


def test_gtc_is_placed_listed_and_cancelled_with_exact_amounts():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            assert gw.signature_type == 0 and gw.wallet == ADDRS[0] == gw.signer
            # an odd size and price: the signed amounts are the exact limit-order math
            req = order("c1", price=4700, size=12_340_000)
            prepared = await gw.prepare(req)
            assert (prepared.signed.maker_amount, prepared.signed.taker_amount) == limit_amounts(
                "BUY", Decimal("0.47"), Decimal("12.34"), Decimal("0.01")
            )
            result = await gw.submit(prepared)
            assert result.status is PlaceStatus.ACCEPTED and result.exchange_status == "live"
            assert result.order_id == prepared.order_id and not result.resolved
            (listed,) = await gw.open_orders()
            assert (listed.order_id, listed.price, listed.original_size, listed.side) == (
                result.order_id,
                4700,
                12_340_000,
                Side.BUY,
            )
            assert (await gw.get_order(result.order_id)).status == "LIVE"  # type: ignore[union-attr]
            assert await gw.get_order("0x" + "12" * 32) is None
            cancelled = await gw.cancel(result.order_id)
            assert cancelled.canceled == (result.order_id,)
            again = await gw.cancel(result.order_id)
            assert again.not_canceled == {result.order_id: "already canceled or matched"}
            assert await gw.open_orders() == []
            assert await gw.balance() == 10_000 * 10**6
            first = await gw.heartbeat()
            assert await gw.heartbeat() != first

    run(go())


def test_gtd_carries_its_expiration():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            expires = int(time.time()) + 600
            result = await gw.place(order("gtd", order_type=OrderType.GTD, expiration=expires))
            assert result.status is PlaceStatus.ACCEPTED
            (listed,) = await gw.open_orders()
            assert listed.expiration == expires and listed.order_type == "GTD"
            too_soon = await gw.place(
                order("gtd2", order_type=OrderType.GTD, expiration=int(time.time()) + 90)
            )
            assert too_soon.status is PlaceStatus.REJECTED and "180 seconds" in too_soon.reason

    run(go())


def test_fok_fak_and_post_only():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            # 100 shares rest at 0.55 on the ask
            killed = await gw.place(order("fok-big", price=5500, size=200_000_000, order_type=OrderType.FOK))
            assert killed.status is PlaceStatus.REJECTED
            assert killed.reason == "order couldn't be fully filled. FOK orders are fully filled or killed."
            fok = await gw.place(order("fok", price=5500, size=10_000_000, order_type=OrderType.FOK))
            assert (fok.status, fok.exchange_status, fok.matched) == (
                PlaceStatus.ACCEPTED,
                "matched",
                10_000_000,
            )
            fak = await gw.place(order("fak", price=5500, size=150_000_000, order_type=OrderType.FAK))
            assert (fak.status, fak.matched) == (PlaceStatus.ACCEPTED, 90_000_000)  # the rest of the ask
            empty = await gw.place(order("fak-empty", price=5500, size=10_000_000, order_type=OrderType.FAK))
            assert empty.status is PlaceStatus.REJECTED
            assert empty.reason.startswith("no orders found to match with FAK order.")
            sold = await gw.place(
                order("fak-sell", side=Side.SELL, price=4500, size=5_000_000, order_type=OrderType.FAK)
            )
            assert (sold.status, sold.matched) == (PlaceStatus.ACCEPTED, 5_000_000)
            ex.exchange.set_background(CID, [("0.45", "100")], [("0.55", "100")])
            crosses = await gw.place(order("po-x", price=5600, post_only=True))
            assert (crosses.status, crosses.reason) == (
                PlaceStatus.REJECTED,
                "invalid post-only order: order crosses book",
            )
            rests = await gw.place(order("po-ok", price=5000, post_only=True))
            assert rests.status is PlaceStatus.ACCEPTED and rests.exchange_status == "live"
            not_allowed = await gw.place(
                order("po-fok", price=5500, post_only=True, order_type=OrderType.FOK)
            )
            assert not_allowed.status is PlaceStatus.REJECTED and not_allowed.order_id == ""
            assert "post-only" in not_allowed.reason

    run(go())


def test_batch_of_15_is_placed_and_16_refused_client_side():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            batch = [order(f"b{i}", price=3000 + 100 * i, size=5_000_000) for i in range(15)]
            results = await gw.place_many(batch)
            assert [r.status for r in results] == [PlaceStatus.ACCEPTED] * 15
            assert [r.client_order_id for r in results] == [f"b{i}" for i in range(15)]
            assert len(await gw.open_orders()) == 15
            before = len(ex.exchange.orders)
            with pytest.raises(BatchTooLarge, match="at most 15 orders, got 16"):
                await gw.place_many([order(f"x{i}", price=2000, size=5_000_000) for i in range(16)])
            assert len(ex.exchange.orders) == before
            mixed = await gw.place_many([order("ok", price=2000), order("small", price=2000, size=1_000_000)])
            assert mixed[0].status is PlaceStatus.ACCEPTED and mixed[1].status is PlaceStatus.REJECTED
            assert (
                mixed[1].reason == f"order {mixed[1].order_id} is invalid. Size (1) lower than the minimum: 5"
            )
            everything = await gw.cancel_all()
            assert len(everything.canceled) == 16
            assert gw.limiter.buckets["cancel"].tokens < 120 - 16  # charged per cancelled order

    run(go())


def test_batch_with_a_lost_answer_is_resolved_order_by_order():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            first = await gw.place_many([order("p0", price=3000)])
            assert first[0].status is PlaceStatus.ACCEPTED
            ex.faults.http_error_routes = ("/orders",)  # the batch route fails, single posts work
            ex.faults.http_error_rate = 1.0
            results = await gw.place_many([order("p1", price=3100), order("p2", price=3200)])
            assert [r.status for r in results] == [PlaceStatus.ACCEPTED, PlaceStatus.ACCEPTED]
            mine = sorted(exchange_order_ids(ex, ADDRS[0]))
            assert mine == sorted([first[0].order_id, results[0].order_id, results[1].order_id])

    run(go())


def test_trade_rows_feed_the_user_stream_parser():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            taken = await gw.place(order("t", price=5500, size=10_000_000, order_type=OrderType.FOK))
            (row,) = await gw.trades()
            (fill,) = parse_fills(row, gw.api_credentials.key.reveal())
            assert (fill.trade_id, fill.order_id, fill.side, fill.price, fill.size) == (
                taken.trade_ids[0],
                taken.order_id,
                Side.BUY,
                5500,
                10_000_000,
            )
            assert fill.liquidity is Liquidity.TAKER and row["match_time"].isdigit()
            assert await gw.trades_since(int(time.time()) + 3600) == []

    run(go())


def test_exchange_refusals_come_back_verbatim():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            small = await gw.place(order("small", size=1_000_000))
            assert small.status is PlaceStatus.REJECTED
            assert small.reason == f"order {small.order_id} is invalid. Size (1) lower than the minimum: 5"
            broke = await gw.place(order("broke", size=100_000_000_000))
            assert broke.reason.startswith("not enough balance / allowance")
            ex.faults.trading_mode = "cancel_only"
            closed = await gw.place(order("closed"))
            assert closed.reason == (
                "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
            )
            fine = await gw.place(order("fine", size=10_005_000))  # finer than 0.01 share: never sent
            assert fine.status is PlaceStatus.REJECTED and fine.order_id == ""
            assert fine.reason == "size 10.005 is not a positive multiple of 0.01 shares"
            assert exchange_order_ids(ex, ADDRS[0]) == []

    run(go())


def test_market_cancel_and_cancel_many():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            a = await gw.place(order("a", price=4000))
            b = await gw.place(order("b", price=4100, token=NO))
            c = await gw.place(order("c", price=4200))
            by_token = await gw.cancel_market(token_id=NO)
            assert by_token.canceled == (b.order_id,)
            many = await gw.cancel_many([a.order_id, c.order_id, "0x" + "34" * 32])
            assert sorted(many.canceled) == sorted([a.order_id, c.order_id])
            assert list(many.not_canceled.values()) == ["order not found"]
            with pytest.raises(ValueError):
                await gw.cancel_market()
            # existing L2 credentials (from the environment) are used as given
            api = gw.api_credentials
            env = {
                "BIGEARN_PRIVATE_KEY": KEYS[0],
                "BIGEARN_API_KEY": api.key.reveal(),
                "BIGEARN_API_SECRET": api.secret.reveal(),
                "BIGEARN_API_PASSPHRASE": api.passphrase.reveal(),
            }
            again = await OrderGateway.connect(load_credentials(env=env), gateway_settings(ex))
            try:
                assert again.api_credentials == api
                assert (await again.place(order("d", price=4300))).status is PlaceStatus.ACCEPTED
            finally:
                await again.close()

    run(go())


def test_deposit_wallet_signature_type_3():
    async def go() -> None:
        async with local_exchange() as ex, relayer_stub() as relayer:
            async with connected(ex, key=1, signature_type=3, relayer_url=relayer) as gw:
                assert gw.signature_type == 3 and gw.wallet != gw.signer == ADDRS[1]
                result = await gw.place(order("dw", price=4800))
                assert result.status is PlaceStatus.ACCEPTED
                assert result.order_id in exchange_order_ids(ex, gw.wallet)
                assert (await gw.open_orders())[0].order_id == result.order_id
                assert ex.exchange.orders[result.order_id].signer.lower() == gw.wallet.lower()
                assert (await gw.cancel(result.order_id)).canceled == (result.order_id,)
                wallet = gw.wallet
            # the same deposit wallet configured as an EOA account is refused with the reason
            with pytest.raises(GatewayError, match="signature_type 0"):
                await OrderGateway.connect(credentials(1, wallet), gateway_settings(ex, signature_type=0))
            with pytest.raises(GatewayError, match="DEPOSIT_WALLET wallet .* but signature_type = 1"):
                await OrderGateway.connect(
                    credentials(1, wallet), gateway_settings(ex, signature_type=1, relayer_url=relayer)
                )
            with pytest.raises(GatewayError, match="needs the wallet address: set BIGEARN_FUNDER"):
                await OrderGateway.connect(credentials(1), gateway_settings(ex, signature_type=2))

    run(go())


# --- retries and unknown outcomes ---------------------------------------------------------------------


def test_restart_425_is_retried_until_the_engine_is_back():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []

            def observe(event: GatewayEvent) -> None:
                events.append(event)
                if event.kind == "retry" and sum(e.kind == "retry" for e in events) == 2:
                    ex.faults.restarting = False

            async with connected(ex, on_event=observe) as gw:
                ex.faults.restarting = True
                result = await gw.place(order("r"))
                assert result.status is PlaceStatus.ACCEPTED
                retries = [e.detail for e in events if e.kind == "retry"]
                assert len(retries) == 2 and all(d.startswith("restarting") for d in retries)
                assert exchange_order_ids(ex, ADDRS[0]) == [result.order_id]
                # an idempotent call rides out a restart the same way
                ex.faults.restarting = True
                events.clear()
                cancelled = await gw.cancel(result.order_id)
                assert cancelled.canceled == (result.order_id,)

    run(go())


def test_server_errors_are_retried_without_duplicates():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []

            def observe(event: GatewayEvent) -> None:
                events.append(event)
                if event.kind == "not_placed" and sum(e.kind == "not_placed" for e in events) == 2:
                    ex.faults.http_error_rate = 0.0

            async with connected(ex, on_event=observe) as gw:
                ex.faults.http_error_status = 500
                ex.faults.http_error_rate = 1.0
                result = await gw.place(order("s"))
                assert result.status is PlaceStatus.ACCEPTED
                kinds = [e.kind for e in events]
                assert kinds.count("unknown") == 2 and kinds.count("resend") == 2
                assert exchange_order_ids(ex, ADDRS[0]) == [result.order_id]
                # cancels (idempotent) are simply retried
                ex.faults.http_error_status = 502
                ex.faults.http_error_rate = 1.0
                events.clear()

                def heal(event: GatewayEvent) -> None:
                    ex.faults.http_error_rate = 0.0

                gw.on_event = heal
                assert (await gw.cancel(result.order_id)).canceled == (result.order_id,)

    run(go())


def test_server_errors_give_up_after_the_attempts():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex, attempts=2) as gw:
            ex.faults.http_error_rate = 1.0
            result = await gw.place(order("s"))
            assert (
                result.status is PlaceStatus.REJECTED and result.reason == "not placed: Internal server error"
            )
            assert result.order_id.lower() in gw.abandoned
            assert exchange_order_ids(ex, ADDRS[0]) == []

    run(go())


def test_rate_limited_429_waits_retry_after():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []

            def observe(event: GatewayEvent) -> None:
                events.append(event)
                ex.faults.http_error_rate = 0.0

            async with connected(ex, on_event=observe) as gw:
                ex.faults.http_error_status = 429
                ex.faults.retry_after_s = 1
                ex.faults.http_error_rate = 1.0
                started = time.monotonic()
                result = await gw.place(order("rl"))
                assert result.status is PlaceStatus.ACCEPTED
                assert time.monotonic() - started >= 1.0
                assert [e.kind for e in events] == ["retry"] and events[0].detail.startswith("rate_limited")
                assert gw.limiter.buckets[ORDER].paused_until > 0

    run(go())


def test_rate_limit_headers_update_the_order_bucket():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex) as gw:
            bucket = gw.limiter.buckets[ORDER]
            bucket.tokens = bucket.burst
            await gw.place(order("h1", price=4000))
            await gw.place(order("h2", price=4100))
            # the exchange's own bucket (Standard: burst 60) reported 58 remaining after two posts
            assert 57.9 <= bucket.tokens <= 58.5
            assert gw.limiter.tier.name == "standard"

    run(go())


def test_timed_out_post_that_the_exchange_accepted_is_resolved_not_duplicated():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []
            async with connected(ex, on_event=events.append, post_soft_timeout_s=0.05) as gw:
                prepared = await gw.prepare(order("t"))
                ex.faults.http_delay_ms = 200  # the answer comes after the client stopped waiting
                result = await gw.submit(prepared)
                assert result.status is PlaceStatus.ACCEPTED and result.resolved
                kinds = [e.kind for e in events if e.kind != "retry"]
                assert kinds == ["unknown", "resolved"]
                ex.faults.http_delay_ms = 0
                await asyncio.sleep(0.05)
                assert exchange_order_ids(ex, ADDRS[0]) == [result.order_id]
                assert [o.order_id for o in await gw.open_orders()] == [result.order_id]

    run(go())


# The client gives up (closes the connection) before the exchange, slowed down, reads the request.
LOST_POST = {"post_soft_timeout_s": 0.05, "post_hard_timeout_s": 0.1, "unknown_settle_s": 0.1}
# An order the exchange did take but answered late. The client must give up only after the exchange has
# handled the POST (on a loaded 2-core machine that can take a few hundred ms, and a POST cut before the
# server reads it is rightly "not placed"), and well before the late answer comes.
LATE_ANSWER = {"post_soft_timeout_s": 0.3, "post_hard_timeout_s": 0.8, "unknown_settle_s": 1.5}
LATE_ANSWER_MS = 2_500


def test_timed_out_post_that_never_arrived_is_resolved_not_placed_and_resent_once():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []

            def observe(event: GatewayEvent) -> None:
                events.append(event)
                if event.kind == "not_placed":
                    ex.faults.http_delay_ms = 0

            async with connected(ex, on_event=observe, **LOST_POST) as gw:
                prepared = await gw.prepare(order("lost"))
                # the exchange reads the body only after the delay: the abandoned post never lands
                ex.faults.http_delay_ms = 250
                result = await gw.submit(prepared)
                assert result.status is PlaceStatus.ACCEPTED and not result.resolved
                assert [e.kind for e in events] == ["unknown", "not_placed", "resend"]
                assert exchange_order_ids(ex, ADDRS[0]) == [result.order_id]

    run(go())


def test_post_placed_but_answered_after_the_client_gave_up_is_found_by_hash_not_resent():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []
            async with connected(ex, on_event=events.append, **LATE_ANSWER) as gw:
                prepared = await gw.prepare(order("placed-then-silent"))
                ex.faults.http_delay_after_ms = LATE_ANSWER_MS  # the order is on the book; its answer is not
                result = await gw.submit(prepared)
                ex.faults.http_delay_after_ms = 0
                assert result.status is PlaceStatus.ACCEPTED and result.resolved
                kinds = [e.kind for e in events if e.kind != "retry"]
                assert "resend" not in kinds and kinds[0] == "unknown"
                assert exchange_order_ids(ex, ADDRS[0]) == [result.order_id] == [prepared.order_id]

    run(go())


def test_matched_post_answered_after_the_client_gave_up_carries_its_size_and_trade_ids():
    async def go() -> None:
        async with local_exchange() as ex, connected(ex, **LATE_ANSWER) as gw:
            prepared = await gw.prepare(order("taken-then-silent", price=5500, order_type=OrderType.FOK))
            ex.faults.http_delay_after_ms = LATE_ANSWER_MS  # matched on the exchange; the answer never arrives
            result = await gw.submit(prepared)
            ex.faults.http_delay_after_ms = 0
            assert result.status is PlaceStatus.ACCEPTED and result.resolved
            assert result.matched == 10_000_000
            (row,) = await gw.trades()
            assert result.trade_ids == (row["id"],)

    run(go())


def test_matched_post_that_only_the_trade_list_names_is_resolved_from_one_read_of_it():
    # Some exchanges stop listing a fully filled order: then only the account's trades show it was placed.
    async def go() -> None:
        async with local_exchange() as ex, connected(ex, **LOST_POST) as gw:
            reads = 0
            list_trades = gw.trades

            async def unlisted(order_id: str) -> None:
                return None

            async def counted_trades(**kwargs: Any) -> list[dict[str, Any]]:
                nonlocal reads
                reads += 1
                return await list_trades(**kwargs)

            gw.get_order = unlisted  # type: ignore[method-assign]
            gw.trades = counted_trades  # type: ignore[method-assign]
            prepared = await gw.prepare(order("taken-unlisted", price=5500, order_type=OrderType.FOK))
            ex.faults.http_delay_after_ms = 400
            result = await gw.submit(prepared)
            ex.faults.http_delay_after_ms = 0
            assert result.status is PlaceStatus.ACCEPTED and result.resolved
            assert (result.exchange_status, result.matched) == ("MATCHED", 10_000_000)
            assert reads == 1  # the search that found it also gave the trade ids
            (row,) = await list_trades()
            assert result.trade_ids == (row["id"],)

    run(go())


def test_second_unknown_outcome_is_not_resent_again():
    async def go() -> None:
        async with local_exchange() as ex:
            events: list[GatewayEvent] = []
            async with connected(ex, on_event=events.append, **LOST_POST) as gw:
                prepared = await gw.prepare(order("lost"))
                ex.faults.http_delay_ms = 250
                result = await gw.submit(prepared)
                assert result.status is PlaceStatus.REJECTED and result.reason.startswith("not placed")
                assert [e.kind for e in events].count("resend") == 1
                assert exchange_order_ids(ex, ADDRS[0]) == []

    run(go())
