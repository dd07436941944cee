"""The market and user WebSockets on loopback, and every injectable fault: WS drop / duplicate / reorder /
delay / close / no PONG, REST 425 / 429 / 5xx, trading modes, rate limits. Faults are seeded: the same seed
and the same traffic give the same outcome. Waits are bounded and only for network delivery."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from localexchange import FaultConfig
from tests.test_sim_exchange_support import (
    ADDRS,
    CID,
    CID2,
    KEYS,
    NO,
    START,
    YES,
    YES2,
    call,
    market,
    place,
    run,
    serve,
)

WAIT_S = 3.0
QUIET_S = 0.15  # how long "nothing arrives" is watched for


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = WAIT_S):
    msg = await ws.receive(timeout=timeout)
    if msg.type != aiohttp.WSMsgType.TEXT:
        return msg.type
    return msg.data if msg.data == "PONG" else orjson.loads(msg.data)


async def quiet(ws: aiohttp.ClientWebSocketResponse) -> bool:
    try:
        await ws.receive(timeout=QUIET_S)
    except TimeoutError:
        return True
    return False


async def subscribe(http, h, assets, **extra):
    ws = await http.ws_connect(h.market_ws_url)
    await ws.send_str(orjson.dumps({"type": "market", "assets_ids": assets, **extra}).decode())
    return ws


def test_market_channel_subscribe_ping_updates_unsubscribe():
    async def go():
        async with serve() as (h, http):
            ex = h.exchange
            ex.set_background(CID, [("0.45", "100")], [("0.55", "100")])
            ws = await subscribe(http, h, [YES])
            dump = await recv(ws)
            assert isinstance(dump, list) and [b["event_type"] for b in dump] == ["book"]
            assert dump[0]["asset_id"] == YES and dump[0]["bids"] == [{"price": "0.45", "size": "100"}]
            await ws.send_str("PING")
            assert await recv(ws) == "PONG"
            await ws.send_str(orjson.dumps({"operation": "subscribe", "assets_ids": [NO, YES]}).decode())
            added = await recv(ws)
            assert [b["asset_id"] for b in added] == [NO]  # an already-subscribed asset gets nothing
            alice = ex.create_api_key(ADDRS[0], 0)
            place(ex, alice, KEYS[0], YES, "BUY", "0.50", "10")
            change = await recv(ws)
            assert change["event_type"] == "price_change" and change["market"] == CID
            assert {(c["asset_id"], c["price"], c["side"]) for c in change["price_changes"]} == {
                (YES, "0.5", "BUY"),
                (NO, "0.5", "SELL"),
            }
            assert await quiet(ws)  # no custom events without the flag
            await ws.send_str(orjson.dumps({"operation": "unsubscribe", "assets_ids": [YES, NO]}).decode())
            await asyncio.sleep(0.05)
            ex.set_background(CID, [("0.46", "100")], [("0.55", "100")])
            assert await quiet(ws)
            await ws.close()

    run(go())


def test_custom_feature_events():
    async def go():
        async with serve() as (h, http):
            ex = h.exchange
            ws = await subscribe(http, h, [YES2], custom_feature_enabled=True)
            await recv(ws)  # book
            ex.set_background(CID2, [("0.40", "10")], [("0.60", "10")])
            kinds = [(await recv(ws))["event_type"] for _ in range(2)]
            assert kinds == ["price_change", "best_bid_ask"]
            ex.add_markets([market("0x" + "ef" * 32, "11", "12")])
            announced = await recv(ws)
            assert announced["event_type"] == "new_market" and announced["assets_ids"] == ["11", "12"]
            await ws.close()

    run(go())


def test_user_channel_auth_orders_trades_and_filters():
    async def go():
        async with serve() as (h, http):
            ex = h.exchange
            alice = ex.create_api_key(ADDRS[0], 0)
            bob = ex.create_api_key(ADDRS[1], 0)
            bad = await http.ws_connect(h.user_ws_url)
            await bad.send_str(
                orjson.dumps(
                    {
                        "type": "user",
                        "auth": {"apiKey": alice.key, "secret": "x", "passphrase": alice.passphrase},
                    }
                ).decode()
            )
            assert await recv(bad) == aiohttp.WSMsgType.CLOSE
            auth = {"apiKey": alice.key, "secret": alice.secret, "passphrase": alice.passphrase}
            ws = await http.ws_connect(h.user_ws_url)
            await ws.send_str(orjson.dumps({"type": "user", "auth": auth}).decode())
            only2 = await http.ws_connect(h.user_ws_url)
            await only2.send_str(orjson.dumps({"type": "user", "auth": auth, "markets": [CID2]}).decode())
            await ws.send_str("PING")
            assert await recv(ws) == "PONG"

            oid = place(ex, alice, KEYS[0], YES, "BUY", "0.50", "10")["orderID"]
            placement = await recv(ws)
            assert (placement["event_type"], placement["type"], placement["id"]) == (
                "order",
                "PLACEMENT",
                oid,
            )
            assert (
                placement["owner"] == alice.key
                and placement["status"] == "LIVE"
                and placement["size_matched"] == "0"
            )
            place(ex, bob, KEYS[1], NO, "BUY", "0.50", "5")
            first, second = await recv(ws), await recv(ws)
            trade, update = (first, second) if first["event_type"] == "trade" else (second, first)
            assert (
                trade["type"] == "TRADE" and trade["status"] == "MATCHED" and trade["trader_side"] == "MAKER"
            )
            assert trade["owner"] == alice.key and trade["maker_orders"][0]["matched_amount"] == "5"
            assert update["type"] == "UPDATE" and update["size_matched"] == "5"
            ex.advance_to(START + 1000)
            assert (await recv(ws))["status"] == "MINED"
            ex.advance_to(START + 3000)
            assert (await recv(ws))["status"] == "CONFIRMED"
            assert await quiet(only2)  # its filter names the other market
            await only2.send_str(orjson.dumps({"operation": "subscribe", "markets": [CID]}).decode())
            await asyncio.sleep(0.05)
            await call(http, "DELETE", "/cancel-all", creds=alice)
            assert (await recv(only2))["type"] == "CANCELLATION"
            for sock in (ws, only2, bad):
                await sock.close()

    run(go())


def test_ws_drop_duplicate_no_pong_and_close():
    async def go():
        faults = FaultConfig(seed=1)
        async with serve(faults=faults) as (h, http):
            faults.ws_drop_rate = 1.0
            ws = await subscribe(http, h, [YES])
            assert await quiet(ws)  # the initial book was lost
            await ws.send_str("PING")
            assert await recv(ws) == "PONG"  # the socket itself is alive
            faults.ws_drop_rate = 0.0
            faults.ws_duplicate_rate = 1.0
            await ws.send_str(orjson.dumps({"operation": "subscribe", "assets_ids": [NO]}).decode())
            assert await recv(ws) == await recv(ws)
            faults.ws_duplicate_rate = 0.0
            faults.ws_no_pong = True
            await ws.send_str("PING")
            assert await quiet(ws)
            faults.ws_no_pong = False
            faults.ws_close_after = 1
            ws2 = await subscribe(http, h, [YES])
            assert isinstance(await recv(ws2), list)
            assert await recv(ws2) == aiohttp.WSMsgType.CLOSE
            await ws.close()

    run(go())


def test_ws_reorder_and_delay():
    async def go():
        faults = FaultConfig(seed=1, ws_reorder_rate=1.0)
        async with serve(faults=faults) as (h, http):
            ws = await subscribe(http, h, [YES])
            await asyncio.sleep(0.05)  # the book is held back...
            h.exchange.set_background(CID, [("0.45", "100")], [])
            assert (await recv(ws))["event_type"] == "price_change"
            assert (await recv(ws))[0]["event_type"] == "book"  # ...and arrives after the next message
            faults.ws_reorder_rate = 0.0
            faults.ws_delay_ms = 200
            started = time.monotonic()
            h.exchange.set_background(CID, [("0.44", "100")], [])
            await recv(ws)
            assert time.monotonic() - started >= 0.19
            await ws.close()

    run(go())


def test_ws_faults_are_reproducible_with_a_seed():
    async def session(seed: int) -> list[str]:
        faults = FaultConfig(seed=seed, ws_drop_rate=0.5, ws_duplicate_rate=0.2)
        async with serve(faults=faults) as (h, http):
            ws = await subscribe(http, h, [YES])
            await ws.send_str("PING")  # the server handles frames in order: after PONG we are subscribed
            while (await ws.receive(timeout=WAIT_S)).data != "PONG":
                pass
            for i in range(20):
                h.exchange.set_background(CID, [(f"0.{10 + i}", "100")], [])
            got = []
            while True:
                try:
                    msg = await ws.receive(timeout=QUIET_S)
                except TimeoutError:
                    break
                got.append(msg.data)
            await ws.close()
            return [
                orjson.loads(g)["event_type"] if g.startswith("{") else "dump" for g in got if g != "PONG"
            ]

    async def go():
        first, again, other = await session(7), await session(7), await session(8)
        assert first == again
        assert 0 < len(first) < 25 and first != other

    run(go())


def test_http_error_injection_and_restart():
    async def go():
        faults = FaultConfig(seed=2)
        async with serve(faults=faults) as (h, http):
            alice = h.exchange.create_api_key(ADDRS[0], 0)
            faults.http_error_rate = 1.0
            faults.http_error_status = 429
            faults.retry_after_s = 3
            status, body, headers = await call(http, "POST", "/order", creds=alice, body={})
            assert (status, body, headers["Retry-After"]) == (429, {"error": "Too Many Requests"}, "3")
            assert (await call(http, "GET", "/book", params={"token_id": YES}))[
                0
            ] == 200  # not a chosen route
            faults.http_error_status = 500
            faults.http_error_routes = ()
            assert (await call(http, "GET", "/book", params={"token_id": YES}))[:2] == (
                500,
                {"error": "Internal server error"},
            )
            faults.http_error_rate = 0.0
            faults.restarting = True
            assert (await call(http, "POST", "/order", creds=alice, body={}))[0] == 425
            assert (await call(http, "DELETE", "/cancel-all", creds=alice))[0] == 425
            assert (await call(http, "GET", "/data/orders", creds=alice))[0] == 200
            faults.restarting = False

            faults.trading_mode = "cancel_only"
            from tests.test_sim_exchange_support import order_json, post_body

            body = post_body(order_json(KEYS[0], YES, "BUY", "0.40", "10"), alice.key)
            assert (await call(http, "POST", "/order", creds=alice, body=body))[:2] == (
                503,
                {
                    "error": "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
                },
            )
            assert (await call(http, "DELETE", "/cancel-all", creds=alice))[0] == 200
            faults.trading_mode = "post_only"
            status, body_, headers = await call(http, "POST", "/order", creds=alice, body=body)
            assert status == 503 and body_["code"] == "post_only_mode" and headers["Retry-After"] == "79"
            faults.trading_mode = "disabled"
            assert (await call(http, "DELETE", "/cancel-all", creds=alice))[:2] == (
                503,
                {"error": "Trading is currently disabled. Check polymarket.com for updates"},
            )

    run(go())


def test_http_faults_are_reproducible_with_a_seed():
    async def statuses(seed: int) -> list[int]:
        faults = FaultConfig(
            seed=seed, http_error_rate=0.5, http_error_status=502, http_error_routes=("/ok",)
        )
        async with serve(faults=faults) as (_, http):
            return [(await call(http, "GET", "/ok"))[0] for _ in range(16)]

    async def go():
        first = await statuses(11)
        assert first == await statuses(11)
        assert set(first) == {200, 502}

    run(go())


def test_rate_limit_headers_warning_and_enforcement():
    async def go():
        faults = FaultConfig()
        async with serve(faults=faults) as (h, http):
            alice = h.exchange.create_api_key(ADDRS[0], 0)
            seen = []
            for _ in range(100):  # the bucket refills at 40/s meanwhile; 100 is beyond any refill here
                _, _, headers = await call(http, "POST", "/order", creds=alice, body={})
                seen.append(headers)
            assert (
                seen[0]["Poly-RateLimit-Tier"] == "standard"
                and int(seen[0]["Poly-RateLimit-Remaining"]) >= 58
            )
            assert int(seen[0]["Poly-RateLimit-Reset"]) >= int(time.time())
            assert seen[-1].get("Poly-RateLimit-Warning") == "true"  # warning mode: still answered
            faults.enforce_rate_limits = True
            status, body, headers = await call(http, "POST", "/order", creds=alice, body={})
            assert (status, body, headers["Retry-After"]) == (429, {"error": "Too Many Requests"}, "1")

    run(go())


def test_slow_responses():
    async def go():
        faults = FaultConfig(http_delay_ms=150)
        async with serve(faults=faults) as (_, http):
            started = time.monotonic()
            assert (await call(http, "GET", "/ok"))[0] == 200
            assert time.monotonic() - started >= 0.14

    run(go())
