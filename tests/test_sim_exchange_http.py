"""The exchange's REST surface on loopback: public market-data shapes, L1/L2 auth and their refusals, V2
order intake (V1 rejection, owner/signer binding, batch limits), cancels and queries with cursors,
balances, heartbeats, Gamma and the Data API. Raw HTTP, so the exact bodies are what is checked."""

from __future__ import annotations

import json
from decimal import Decimal

from engine.book import book_hash
from engine.venues.polymarket.clob.signing import OrderV2, sign_order
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
    l1_headers,
    order_json,
    place,
    post_body,
    run,
    serve,
)

TS = START // 1000


def test_public_market_data_shapes():
    async def go():
        async with serve() as (h, http):
            h.exchange.set_background(
                CID, [("0.45", "100"), ("0.44", "50")], [("0.55", "100"), ("0.56", "10")]
            )
            status, body, _ = await call(http, "GET", "/ok")
            assert (status, body) == (200, "OK")
            assert (await call(http, "GET", "/time"))[1] == TS
            assert (await call(http, "GET", "/version"))[1] == {"version": 2}

            status, book, _ = await call(http, "GET", "/book", params={"token_id": YES})
            assert status == 200
            assert book["bids"] == [{"price": "0.44", "size": "50"}, {"price": "0.45", "size": "100"}]
            assert book["asks"] == [{"price": "0.56", "size": "10"}, {"price": "0.55", "size": "100"}]
            assert list(book) == [
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
            ]
            assert book["hash"] == book_hash(book) and book["timestamp"] == str(START)
            assert (book["min_order_size"], book["tick_size"], book["neg_risk"]) == ("5", "0.01", False)
            again = (await call(http, "GET", "/book", params={"token_id": YES}))[1]
            assert again["hash"] == book["hash"]  # unchanged book, unchanged hash: a cheap change check
            h.exchange.set_background(
                CID, [("0.45", "90"), ("0.44", "50")], [("0.55", "100"), ("0.56", "10")]
            )
            changed = (await call(http, "GET", "/book", params={"token_id": YES}))[1]
            assert changed["hash"] != book["hash"] and changed["hash"] == book_hash(changed)
            h.exchange.set_background(
                CID, [("0.45", "100"), ("0.44", "50")], [("0.55", "100"), ("0.56", "10")]
            )
            _, no_book, _ = await call(http, "GET", "/book", params={"token_id": NO})
            assert no_book["bids"][-1] == {"price": "0.45", "size": "100"}  # NO bid = 1 - YES ask
            assert no_book["asks"][-1] == {"price": "0.55", "size": "100"}
            _, books, _ = await call(http, "POST", "/books", body=[{"token_id": YES}, {"token_id": NO}])
            assert [b["asset_id"] for b in books] == [YES, NO]

            assert (await call(http, "GET", "/midpoint", params={"token_id": YES}))[1] == {"mid": "0.5"}
            assert (await call(http, "POST", "/midpoints", body=[{"token_id": YES}]))[1] == {YES: "0.5"}
            assert (await call(http, "GET", "/price", params={"token_id": YES, "side": "BUY"}))[1] == {
                "price": "0.45"
            }
            assert (await call(http, "GET", "/price", params={"token_id": YES, "side": "SELL"}))[1] == {
                "price": "0.55"
            }
            prices = await call(
                http,
                "POST",
                "/prices",
                body=[{"token_id": YES, "side": "BUY"}, {"token_id": YES, "side": "SELL"}],
            )
            assert prices[1] == {YES: {"BUY": "0.45", "SELL": "0.55"}}
            assert (await call(http, "GET", "/spread", params={"token_id": YES}))[1] == {"spread": "0.1"}
            assert (await call(http, "POST", "/spreads", body=[{"token_id": NO}]))[1] == {NO: "0.1"}
            assert (await call(http, "GET", "/tick-size", params={"token_id": YES}))[1] == {
                "minimum_tick_size": 0.01
            }
            assert (await call(http, "GET", "/neg-risk", params={"token_id": YES}))[1] == {"neg_risk": False}
            assert (await call(http, "GET", "/fee-rate", params={"token_id": YES}))[1] == {"base_fee": 0}
            ltp = await call(http, "GET", "/last-trade-price", params={"token_id": YES})
            assert ltp[1]["side"] == ""

            _, markets, _ = await call(http, "GET", "/markets")
            assert markets["next_cursor"] == "LTE=" and markets["count"] == 2
            full = markets["data"][0]
            assert full["condition_id"] == CID and full["minimum_tick_size"] == 0.01
            assert [t["token_id"] for t in full["tokens"]] == [YES, NO] and full["accepting_orders"] is True
            assert (await call(http, "GET", f"/markets/{CID}"))[1] == full
            _, compact, _ = await call(http, "GET", f"/clob-markets/{CID}")
            assert compact["c"] == CID and compact["t"] == [{"t": YES, "o": "Yes"}, {"t": NO, "o": "No"}]
            assert (
                compact["mts"] == 0.01
                and compact["fd"] == {"r": 0, "e": 1, "to": True}
                and "nr" not in compact
            )
            by_token = await call(http, "GET", f"/markets-by-token/{NO}")
            assert by_token[1] == {"condition_id": CID, "primary_token_id": YES, "secondary_token_id": NO}

    run(go())


def test_public_errors_are_polymarkets():
    async def go():
        async with serve() as (_, http):
            assert await _err(http, "GET", "/book", params={"token_id": "999"}) == (
                404,
                {"error": "No orderbook exists for the requested token id"},
            )
            assert await _err(http, "GET", "/book") == (400, {"error": "Invalid token id"})
            assert await _err(http, "GET", "/price", params={"token_id": YES, "side": "UP"}) == (
                400,
                {"error": "Invalid side"},
            )
            assert await _err(http, "GET", "/markets/0x" + "00" * 32) == (404, {"error": "market not found"})
            assert await _err(http, "POST", "/books", body={"token_id": YES}) == (
                400,
                {"error": "Invalid payload"},
            )
            too_many = [{"token_id": YES}] * 501
            assert await _err(http, "POST", "/books", body=too_many) == (
                400,
                {"error": "Payload exceeds the limit"},
            )

    run(go())


async def _err(http, method, path, **kw):
    status, body, _ = await call(http, method, path, **kw)
    return status, body


def test_l1_key_creation_and_derivation():
    async def go():
        async with serve() as (h, http):
            status, creds, _ = await call(http, "POST", "/auth/api-key", headers=l1_headers(KEYS[0], TS))
            assert status == 200 and set(creds) == {"apiKey", "secret", "passphrase"}
            assert await _err(http, "POST", "/auth/api-key", headers=l1_headers(KEYS[0], TS)) == (
                400,
                {"error": "Could not create api key"},
            )
            derived = await call(http, "GET", "/auth/derive-api-key", headers=l1_headers(KEYS[0], TS))
            assert derived[1] == creds
            assert await _err(http, "GET", "/auth/derive-api-key", headers=l1_headers(KEYS[1], TS)) == (
                400,
                {"error": "Could not derive api key!"},
            )
            other_nonce = await call(http, "POST", "/auth/api-key", headers=l1_headers(KEYS[0], TS, nonce=1))
            assert other_nonce[1]["apiKey"] != creds["apiKey"]
            forged = l1_headers(KEYS[1], TS) | {"POLY_ADDRESS": ADDRS[0]}
            assert await _err(http, "GET", "/auth/derive-api-key", headers=forged) == (
                401,
                {"error": "Invalid L1 Request headers"},
            )
            stale = l1_headers(KEYS[0], TS - 3600)
            assert (await _err(http, "GET", "/auth/derive-api-key", headers=stale))[0] == 401
            # a new account starts with the paper balance
            assert h.exchange.accounts[ADDRS[0].lower()].cash == 10_000 * 10**6

    run(go())


def test_l2_hmac_is_checked_on_every_private_route():
    async def go():
        async with serve() as (h, http):
            creds = h.exchange.create_api_key(ADDRS[0], 0)
            ok = await call(http, "GET", "/auth/api-keys", creds=creds)
            assert ok[:2] == (200, {"apiKeys": [creds.key]})
            unauthorized = (401, {"error": "Unauthorized/Invalid api key"})
            for path in ("/data/orders", "/data/trades", "/balance-allowance", "/auth/api-keys"):
                assert await _err(http, "GET", path) == unauthorized
            from localexchange.core import ApiCreds

            bad_secret = ApiCreds(creds.key, "QUJD" * 11, creds.passphrase, creds.address, 0)
            assert await _err(http, "GET", "/auth/api-keys", creds=bad_secret) == unauthorized
            bad_pass = ApiCreds(creds.key, creds.secret, "nope", creds.address, 0)
            assert await _err(http, "GET", "/auth/api-keys", creds=bad_pass) == unauthorized
            other_addr = ApiCreds(creds.key, creds.secret, creds.passphrase, ADDRS[1], 0)
            assert await _err(http, "GET", "/auth/api-keys", creds=other_addr) == unauthorized
            assert await _err(http, "GET", "/auth/api-keys", creds=creds, ts=TS - 301) == unauthorized
            # the signed path has no query string
            status, page, _ = await call(
                http, "GET", "/data/orders", creds=creds, params={"next_cursor": "MA=="}
            )
            assert status == 200 and page == {"data": [], "next_cursor": "LTE=", "limit": 100, "count": 0}
            # the signature covers the raw body: a changed body is refused
            from tests.test_sim_exchange_support import auth

            headers, _ = auth(creds, "DELETE", "/order", {"orderID": "0xabc"})
            async with http.delete("/order", data='{"orderID":"0xabd"}', headers=headers) as resp:
                assert resp.status == 401
            assert (await call(http, "DELETE", "/order", creds=creds, body={"orderID": "0xabc"}))[1] == {
                "canceled": [],
                "not_canceled": {"0xabc": "order not found"},
            }
            assert (await call(http, "GET", "/auth/ban-status/closed-only", creds=creds))[1] == {
                "closed_only": False
            }

    run(go())


def test_order_intake_rules_over_http():
    async def go():
        async with serve() as (h, http):
            ex = h.exchange
            alice = ex.create_api_key(ADDRS[0], 0)
            bob = ex.create_api_key(ADDRS[1], 0)
            good = order_json(KEYS[0], YES, "BUY", "0.40", "10")
            v1 = {k: v for k, v in good.items() if k not in ("timestamp", "metadata", "builder")}
            v1 |= {"taker": "0x" + "00" * 20, "nonce": "0", "feeRateBps": "0"}
            assert await _err(http, "POST", "/order", creds=alice, body=post_body(v1, alice.key)) == (
                400,
                {"error": "order_version_mismatch"},
            )
            assert await _err(http, "POST", "/order", creds=alice, body=post_body(good, bob.key)) == (
                400,
                {"error": "the order owner has to be the owner of the API KEY"},
            )
            assert await _err(http, "POST", "/order", creds=bob, body=post_body(good, bob.key)) == (
                400,
                {"error": "the order signer address has to be the address of the API KEY"},
            )
            tampered = dict(good, makerAmount="5000000")
            assert await _err(http, "POST", "/order", creds=alice, body=post_body(tampered, alice.key)) == (
                400,
                {"error": "invalid signature"},
            )
            assert await _err(http, "POST", "/order", creds=alice, body={"order": "x"}) == (
                400,
                {"error": "Invalid order payload"},
            )
            status, resp, headers = await call(
                http, "POST", "/order", creds=alice, body=post_body(good, alice.key)
            )
            assert status == 200 and resp["success"] is True and resp["status"] == "live"
            assert resp["orderID"].startswith("0x") and len(resp["orderID"]) == 66
            assert {"Poly-RateLimit-Remaining", "Poly-RateLimit-Reset", "Poly-RateLimit-Tier"} <= set(headers)

            batch = [post_body(order_json(KEYS[0], YES, "BUY", "0.30", "5"), alice.key) for _ in range(16)]
            assert await _err(http, "POST", "/orders", creds=alice, body=batch) == (
                400,
                {"error": "Too many orders in payload: 16, max allowed: 15"},
            )
            mixed = [
                post_body(order_json(KEYS[0], YES, "BUY", "0.30", "5"), alice.key),
                post_body(order_json(KEYS[0], YES, "BUY", "0.305", "5"), alice.key),
            ]
            status, results, _ = await call(http, "POST", "/orders", creds=alice, body=mixed)
            assert status == 200 and results[0]["status"] == "live"
            assert results[1]["errorMsg"].endswith("breaks minimum tick size rule: 0.01")
            assert results[1]["orderID"] == "" and results[1]["status"] == ""

    run(go())


def test_order_id_is_the_eip712_digest_known_answer():
    """Protocol notes 3.4: the py-clob-client-v2 vector (hardhat key #0, salt 123456789, BUY 100 @ 0.50)."""

    async def go():
        async with serve() as (h, http):
            creds = h.exchange.create_api_key(ADDRS[0], 0)
            order = OrderV2(
                salt=123456789,
                maker=ADDRS[0],
                signer=ADDRS[0],
                token_id=int(YES),
                maker_amount=50_000_000,
                taker_amount=100_000_000,
                side=0,
                signature_type=0,
                timestamp=1780000000000,
            )
            sig = sign_order(order, KEYS[0])
            assert sig == (
                "0x823939c1aa99325e39ed32818a4a1c66e49013b34f1ef45520834145d22114632acb8ee52cd9063"
                "afdf96d0b6133086a679ae1dd915071dd5c2992e0ef05ea5c1b"
            )
            body = post_body(order.to_json(sig), creds.key)
            _, resp, _ = await call(http, "POST", "/order", creds=creds, body=body)
            assert resp["orderID"] == "0xc4359d7bc5c3edf00637e55cdc717595d6bd00945e28aa39053dc076ee154050"

    run(go())


def test_cancels_queries_cursors_and_trades():
    async def go():
        async with serve(config=_cfg(page_size=2)) as (h, http):
            ex = h.exchange
            alice = ex.create_api_key(ADDRS[0], 0)
            bob = ex.create_api_key(ADDRS[1], 0)
            ids = [
                place(ex, alice, KEYS[0], YES, "BUY", p, "10")["orderID"] for p in ("0.30", "0.31", "0.32")
            ]
            other = place(ex, alice, KEYS[0], YES2, "BUY", "0.30", "10")["orderID"]
            _, first, _ = await call(http, "GET", "/data/orders", creds=alice)
            assert [o["id"] for o in first["data"]] == ids[:2] and first["next_cursor"] == "Mg=="
            _, second, _ = await call(
                http, "GET", "/data/orders", creds=alice, params={"next_cursor": "Mg=="}
            )
            assert [o["id"] for o in second["data"]] == [ids[2], other] and second["next_cursor"] == "LTE="
            row = first["data"][0]
            assert row | {"created_at": 0} == {
                "id": ids[0],
                "status": "LIVE",
                "owner": alice.key,
                "maker_address": ADDRS[0],
                "market": CID,
                "asset_id": YES,
                "side": "BUY",
                "original_size": "10",
                "size_matched": "0",
                "price": "0.3",
                "associate_trades": [],
                "outcome": "Yes",
                "created_at": 0,
                "expiration": "0",
                "order_type": "GTC",
            }
            assert (await call(http, "GET", f"/data/order/{ids[0]}", creds=alice))[1]["status"] == "LIVE"
            assert (await call(http, "GET", f"/data/order/{ids[0]}", creds=bob))[0] == 404

            one = await call(http, "DELETE", "/order", creds=alice, body={"orderID": ids[0]})
            assert one[1] == {"canceled": [ids[0]], "not_canceled": {}}
            two = await call(http, "DELETE", "/orders", creds=alice, body=[ids[0], ids[1]])
            assert two[1] == {"canceled": [ids[1]], "not_canceled": {ids[0]: "already canceled or matched"}}
            assert (await call(http, "GET", f"/data/order/{ids[0]}", creds=alice))[1]["status"] == "CANCELED"
            by_market = await call(
                http, "DELETE", "/cancel-market-orders", creds=alice, body={"market": CID2}
            )
            assert by_market[1] == {"canceled": [other], "not_canceled": {}}
            rest = await call(http, "DELETE", "/cancel-all", creds=alice)
            assert rest[1] == {"canceled": [ids[2]], "not_canceled": {}}

            maker = place(ex, alice, KEYS[0], YES, "BUY", "0.50", "10")["orderID"]
            taken = place(ex, bob, KEYS[1], NO, "BUY", "0.50", "10")
            _, trades, _ = await call(http, "GET", "/data/trades", creds=alice)
            (t,) = trades["data"]
            assert (
                t["id"] == taken["tradeIDs"][0] and t["trader_side"] == "MAKER" and t["status"] == "MATCHED"
            )
            assert t["maker_orders"][0]["order_id"] == maker and t["maker_orders"][0]["side"] == "BUY"
            assert t["owner"] == alice.key and t["taker_order_id"] == taken["orderID"]
            _, bob_trades, _ = await call(http, "GET", "/data/trades", creds=bob, params={"id": t["id"]})
            assert bob_trades["data"][0]["trader_side"] == "TAKER" and bob_trades["data"][0]["asset_id"] == NO

            _, bal, _ = await call(
                http,
                "GET",
                "/balance-allowance",
                creds=alice,
                params={"asset_type": "COLLATERAL", "signature_type": "0"},
            )
            assert bal["balance"] == str(10_000 * 10**6 - 5 * 10**6) and len(bal["allowances"]) == 3
            _, tok, _ = await call(
                http,
                "GET",
                "/balance-allowance",
                creds=alice,
                params={"asset_type": "CONDITIONAL", "token_id": YES, "signature_type": "0"},
            )
            assert tok["balance"] == "10000000"
            assert await _err(
                http, "GET", "/balance-allowance", creds=alice, params={"asset_type": "GOLD"}
            ) == (400, {"error": "Invalid asset type"})
            assert (
                await call(
                    http, "GET", "/balance-allowance/update", creds=alice, params={"asset_type": "COLLATERAL"}
                )
            )[0] == 200

    run(go())


def _cfg(**kw):
    from localexchange import ExchangeConfig

    return ExchangeConfig(**kw)


def test_heartbeats_over_http():
    async def go():
        async with serve() as (h, http):
            creds = h.exchange.create_api_key(ADDRS[0], 0)
            _, first, _ = await call(http, "POST", "/v1/heartbeats", creds=creds, body={"heartbeat_id": ""})
            assert set(first) == {"heartbeat_id"}
            status, wrong, _ = await call(
                http, "POST", "/v1/heartbeats", creds=creds, body={"heartbeat_id": "x"}
            )
            assert status == 400 and wrong == {
                "error_msg": "Invalid Heartbeat ID",
                "heartbeat_id": first["heartbeat_id"],
            }
            _, nxt, _ = await call(http, "POST", "/v1/heartbeats", creds=creds, body=first)
            assert nxt["heartbeat_id"] != first["heartbeat_id"]

    run(go())


def test_gamma_keyset_and_data_api():
    async def go():
        async with serve() as (h, http):
            ex = h.exchange
            ex.set_background(CID, [("0.45", "100")], [("0.55", "100")])
            _, page1, _ = await call(http, "GET", "/gamma/markets/keyset", params={"limit": "1"})
            (m,) = page1["markets"]
            assert json.loads(m["outcomes"]) == ["Yes", "No"] and json.loads(m["clobTokenIds"]) == [YES, NO]
            assert json.loads(m["outcomePrices"]) == ["0.5", "0.5"] and m["conditionId"] == CID
            assert m["feeSchedule"] == {"exponent": 1, "rate": 0, "takerOnly": True, "rebateRate": 0}
            _, page2, _ = await call(
                http,
                "GET",
                "/gamma/markets/keyset",
                params={"limit": "1", "after_cursor": page1["next_cursor"]},
            )
            assert page2["markets"][0]["conditionId"] == CID2 and "next_cursor" not in page2
            _, filtered, _ = await call(http, "GET", "/gamma/markets/keyset", params={"clob_token_ids": YES2})
            assert [x["conditionId"] for x in filtered["markets"]] == [CID2]
            assert (await call(http, "GET", f"/gamma/markets/{m['id']}"))[1]["conditionId"] == CID
            _, events, _ = await call(http, "GET", "/gamma/events/keyset")
            assert [e["markets"][0]["conditionId"] for e in events["events"]] == [CID, CID2]

            alice = ex.create_api_key(ADDRS[0], 0)
            place(ex, alice, KEYS[0], YES, "BUY", "0.55", "20")
            _, positions, _ = await call(http, "GET", "/data-api/positions", params={"user": ADDRS[0]})
            (p,) = positions
            assert (p["asset"], p["size"], p["avgPrice"], p["curPrice"]) == (YES, 20.0, 0.55, 0.5)
            assert p["outcome"] == "Yes" and p["oppositeAsset"] == NO
            _, value, _ = await call(http, "GET", "/data-api/value", params={"user": ADDRS[0]})
            assert value == [{"user": ADDRS[0], "value": 10.0}]
            _, v2, _ = await call(http, "GET", "/data-api/v2/positions", params={"user": ADDRS[0]})
            assert v2["pagination"]["has_more"] is False and v2["data"][0]["current_size"] == 20.0
            _, trades, _ = await call(http, "GET", "/data-api/trades", params={"user": ADDRS[0]})
            assert [(t["side"], t["size"], t["price"]) for t in trades] == [("BUY", 20.0, 0.55)]
            assert Decimal(str(value[0]["value"])) == Decimal("10")

    run(go())
