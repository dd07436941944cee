"""The local exchange on loopback: Polymarket's CLOB V2 REST API, the market and user WebSockets, Gamma under
`/gamma` and the Data API under `/data-api`, all on one aiohttp port.

Point any client at it by base URL only:
    CLOB REST  http://127.0.0.1:PORT          market WS  ws://127.0.0.1:PORT/ws/market
    Gamma      http://127.0.0.1:PORT/gamma    user WS    ws://127.0.0.1:PORT/ws/user
    Data API   http://127.0.0.1:PORT/data-api

Auth is checked as on Polymarket: L1 (EIP-712 ClobAuth) for creating/deriving API keys, L2 (HMAC over
timestamp + method + path without query + raw body) on every private route. Timestamps must be within
300 s of the wall clock or of the exchange clock (a manual test clock may be far from the wall).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.units import ONE, PRICE_SCALE, SIZE_SCALE, px_to_str
from engine.venues.polymarket.clob.l2auth import verify_l2
from engine.venues.polymarket.clob.signing import recover_clob_auth, to_checksum

from . import errors as E
from .core import ApiCreds, Exchange, ExchangeConfig, ManualClock, MarketMessage, UserMessage
from .faults import TRADING_ROUTES, FaultConfig
from .intake import parse_post_order
from .markets import (
    ExMarket,
    clob_compact_json,
    clob_market_json,
    clob_simplified_json,
    gamma_event_json,
    gamma_market_json,
    markets_by_token_json,
)
from .urls import exchange_urls

_log = logging.getLogger(__name__)
SKEW_S = 300
START_CURSOR = "MA=="
END_CURSOR = "LTE="
MAX_BOOKS = 500  # POST /books and friends: "Payload exceeds the limit" beyond this


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor or cursor == START_CURSOR:
        return 0
    if cursor == END_CURSOR:
        return -1
    try:
        return max(int(base64.b64decode(cursor).decode()), 0)
    except ValueError:
        raise E.bad_request("invalid next_cursor") from None


def _page(items: list[Any], cursor: str | None, size: int) -> tuple[list[Any], str]:
    start = _offset(cursor)
    if start < 0:
        return [], END_CURSOR
    chunk = items[start : start + size]
    end = start + size
    return chunk, _cursor(end) if end < len(items) else END_CURSOR


def _multi(request: web.Request, name: str) -> list[str]:
    """A list query parameter, repeated (`a=1&a=2`) or comma-separated (`a=1,2`)."""
    out: list[str] = []
    for raw in request.query.getall(name, []):
        out.extend(p for p in raw.split(",") if p)
    return out


class _Bucket:
    """A per-signer token bucket (Polymarket's Standard tier by default)."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self, cost: float) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= cost
        return self.tokens >= 0

    def reset_s(self) -> int:
        missing = max(self.burst - self.tokens, 0)
        return int(time.time() + missing / self.rate) + 1


# --- WebSocket connections -----------------------------------------------------------------------


class _Conn:
    """One socket: an outgoing queue drained by a sender that applies the WebSocket faults."""

    def __init__(self, ws: web.WebSocketResponse, faults: FaultConfig) -> None:
        self.ws = ws
        self.faults = faults
        self.queue: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.sent = 0
        self.task: asyncio.Task[None] | None = None

    def send(self, payload: Any) -> None:
        self.queue.put_nowait(orjson.dumps(payload).decode())

    async def run_sender(self) -> None:
        held: str | None = None
        faults = self.faults
        while True:
            item = await self.queue.get()
            if item is None:
                return
            text = item if isinstance(item, str) else item.decode()
            if faults.chance(faults.ws_drop_rate):
                continue
            if held is None and faults.chance(faults.ws_reorder_rate):
                held = text
                continue
            batch = [text] + ([held] if held is not None else [])
            held = None
            if faults.chance(faults.ws_duplicate_rate):
                batch.insert(0, text)
            for out in batch:
                delay = faults.ws_delay_s()
                if delay:
                    await asyncio.sleep(delay)
                if self.ws.closed:
                    return
                await self.ws.send_str(out)
                self.sent += 1
                limit = faults.ws_close_after
                if (limit is not None and self.sent >= limit) or faults.chance(faults.ws_close_rate):
                    await self.ws.close()
                    return

    def close(self) -> None:
        self.queue.put_nowait(None)


class _MarketConn(_Conn):
    def __init__(self, ws: web.WebSocketResponse, faults: FaultConfig) -> None:
        super().__init__(ws, faults)
        self.assets: set[str] = set()
        self.custom = False

    def wants(self, msg: MarketMessage) -> bool:
        if msg.custom and not self.custom:
            return False
        if msg.broadcast:
            return True
        return any(a in self.assets for a in msg.asset_ids)


class _UserConn(_Conn):
    def __init__(self, ws: web.WebSocketResponse, faults: FaultConfig, exchange: Exchange) -> None:
        super().__init__(ws, faults)
        self.exchange = exchange
        self.creds: ApiCreds | None = None
        self.markets: set[str] = set()  # empty: every market

    def wants(self, msg: UserMessage) -> bool:
        if self.creds is None or msg.account not in self.exchange.accounts_of(self.creds):
            return False
        return not self.markets or msg.market.lower() in self.markets


# --- the application -----------------------------------------------------------------------------


class ExchangeServer:
    def __init__(self, exchange: Exchange, faults: FaultConfig) -> None:
        self.exchange = exchange
        self.faults = faults
        self.market_conns: set[_MarketConn] = set()
        self.user_conns: set[_UserConn] = set()
        self.order_buckets: dict[str, _Bucket] = {}
        self.cancel_buckets: dict[str, _Bucket] = {}
        exchange.sinks.append(self._on_message)
        self.app = self._build_app()

    # --- plumbing --------------------------------------------------------------------------------

    def _on_message(self, msg: MarketMessage | UserMessage) -> None:
        if isinstance(msg, MarketMessage):
            for conn in self.market_conns:
                if conn.wants(msg):
                    conn.send(msg.payload)
        else:
            for conn in self.user_conns:
                if conn.wants(msg):
                    conn.send(msg.payload)

    def _now_s(self) -> int:
        return self.exchange.now_s()

    def _fresh(self, ts_text: str | None) -> bool:
        if not ts_text or not ts_text.isascii() or not ts_text.isdigit():
            return False
        ts = int(ts_text)
        return abs(ts - int(time.time())) <= SKEW_S or abs(ts - self._now_s()) <= SKEW_S

    async def _l2(self, request: web.Request) -> ApiCreds:
        headers = request.headers
        creds = self.exchange.keys.get(headers.get("POLY_API_KEY", ""))
        if (
            creds is None
            or headers.get("POLY_PASSPHRASE") != creds.passphrase
            or (headers.get("POLY_ADDRESS") or "").lower() != creds.address.lower()
        ):
            raise E.ExchangeError(401, E.UNAUTHORIZED)
        body = await request.text()
        path = request.raw_path.split("?", 1)[0]
        ts = headers.get("POLY_TIMESTAMP", "")
        if not self._fresh(ts):
            raise E.ExchangeError(401, E.UNAUTHORIZED)
        if not verify_l2(headers, creds.secret, request.method, path, body or None, now_s=int(ts), skew_s=0):
            raise E.ExchangeError(401, E.UNAUTHORIZED)
        return creds

    def _l1(self, request: web.Request) -> tuple[str, int]:
        headers = request.headers
        address = headers.get("POLY_ADDRESS", "")
        signature = headers.get("POLY_SIGNATURE", "")
        ts = headers.get("POLY_TIMESTAMP", "")
        nonce_text = headers.get("POLY_NONCE", "0") or "0"
        if not (address and signature and nonce_text.isdigit() and self._fresh(ts)):
            raise E.ExchangeError(401, E.INVALID_L1)
        nonce = int(nonce_text)
        try:
            recovered = recover_clob_auth(address, ts, nonce, signature)
        except ValueError:
            raise E.ExchangeError(401, E.INVALID_L1) from None
        if recovered.lower() != address.lower():
            raise E.ExchangeError(401, E.INVALID_L1)
        return to_checksum(address), nonce

    async def _json_body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise E.bad_request(E.INVALID_PAYLOAD) from None

    def _market_for_token(self, token_id: str | None) -> ExMarket:
        if not token_id:
            raise E.bad_request(E.INVALID_TOKEN)
        m = self.exchange.market_of(token_id)
        if m is None:
            raise E.ExchangeError(404, E.NO_ORDERBOOK)
        return m

    def _token_list(self, body: Any) -> list[str]:
        if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
            raise E.bad_request(E.INVALID_PAYLOAD)
        if len(body) > MAX_BOOKS:
            raise E.bad_request(E.PAYLOAD_LIMIT)
        return [str(i.get("token_id", "")) for i in body]

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/ws/"):
            return await handler(request)
        faults = self.faults
        if faults.http_delay_ms > 0:
            await asyncio.sleep(faults.http_delay_ms / 1000)
        trading = path in TRADING_ROUTES and request.method in ("POST", "DELETE")
        if trading and faults.restarting:
            return web.Response(status=425)
        if faults.http_fault_applies(path):
            status = faults.http_error_status
            if status == 425:
                return web.Response(status=425)
            headers = {"Retry-After": str(faults.retry_after_s)} if status in (429, 503) else None
            message = E.TOO_MANY_REQUESTS if status == 429 else E.INTERNAL
            return _json({"error": message}, status, headers)
        limit_headers: dict[str, str] = {}
        if trading:
            cost = 1.0
            if request.path == "/orders":  # a batch costs one token per order and is admitted whole
                with contextlib.suppress(orjson.JSONDecodeError):
                    items = orjson.loads(await request.read() or b"[]")
                    cost = float(len(items)) if isinstance(items, list) and items else 1.0
            limited = self._rate_limit(request, limit_headers, cost)
            if limited is not None:
                return limited
        try:
            response = await handler(request)
            if trading and faults.http_delay_after_ms > 0:
                await asyncio.sleep(faults.http_delay_after_ms / 1000)
        except E.ExchangeError as exc:
            headers = None
            retry = exc.body.get("retry_after_seconds")
            if exc.status in (429, 503) and retry is not None:
                headers = {"Retry-After": str(retry)}
            body = exc.body
            if exc.message == E.INVALID_HEARTBEAT:
                body = {"error_msg": exc.message, "heartbeat_id": exc.body.get("heartbeat_id", "")}
            response = _json(body, exc.status, headers)
        response.headers.update(limit_headers)
        return response

    def _rate_limit(self, request: web.Request, headers: dict[str, str], cost: float) -> web.Response | None:
        signer = (request.headers.get("POLY_ADDRESS") or request.remote or "").lower()
        is_cancel = request.method == "DELETE"
        buckets = self.cancel_buckets if is_cancel else self.order_buckets
        bucket = buckets.get(signer)
        if bucket is None:
            bucket = buckets[signer] = _Bucket(80, 120) if is_cancel else _Bucket(40, 60)
        ok = bucket.take(cost)
        headers["Poly-RateLimit-Remaining"] = str(max(int(bucket.tokens), 0))
        headers["Poly-RateLimit-Reset"] = str(bucket.reset_s())
        headers["Poly-RateLimit-Tier"] = "standard"
        if not ok:
            if self.faults.enforce_rate_limits:
                bucket.tokens += cost
                return _json({"error": E.TOO_MANY_REQUESTS}, 429, {**headers, "Retry-After": "1"})
            headers["Poly-RateLimit-Warning"] = "true"
        return None

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        r = app.router
        get, post, delete = r.add_get, r.add_post, r.add_delete
        # public CLOB
        get("/", self.ok)
        get("/ok", self.ok)
        get("/time", self.server_time)
        get("/version", self.version)
        get("/book", self.book)
        post("/books", self.books)
        get("/midpoint", self.midpoint)
        post("/midpoints", self.midpoints)
        get("/price", self.price)
        post("/prices", self.prices)
        get("/spread", self.spread)
        post("/spreads", self.spreads)
        get("/last-trade-price", self.last_trade_price)
        post("/last-trades-prices", self.last_trades_prices)
        get("/tick-size", self.tick_size)
        get("/tick-size/{token_id}", self.tick_size)
        get("/neg-risk", self.neg_risk)
        get("/neg-risk/{token_id}", self.neg_risk)
        get("/fee-rate", self.fee_rate)
        get("/fee-rate/{token_id}", self.fee_rate)
        get("/markets", self.markets)
        get("/sampling-markets", self.markets)
        get("/simplified-markets", self.simplified_markets)
        get("/sampling-simplified-markets", self.simplified_markets)
        get("/markets/{condition_id}", self.market)
        get("/clob-markets/{condition_id}", self.clob_market)
        get("/markets-by-token/{token_id}", self.market_by_token)
        get("/prices-history", self.prices_history)
        get("/fees/builder-fees/{code}", self.builder_fees)
        # auth
        post("/auth/api-key", self.create_api_key)
        get("/auth/derive-api-key", self.derive_api_key)
        get("/auth/api-keys", self.api_keys)
        delete("/auth/api-key", self.delete_api_key)
        get("/auth/ban-status/closed-only", self.closed_only)
        # trading
        post("/order", self.post_order)
        post("/orders", self.post_orders)
        delete("/order", self.cancel_order)
        delete("/orders", self.cancel_orders)
        delete("/cancel-all", self.cancel_all)
        delete("/cancel-market-orders", self.cancel_market_orders)
        get("/data/orders", self.open_orders)
        get("/data/order/{order_id}", self.get_order)
        get("/data/trades", self.trades)
        get("/balance-allowance", self.balance_allowance)
        get("/balance-allowance/update", self.update_balance_allowance)
        post("/v1/heartbeats", self.heartbeat)
        get("/order-scoring", self.order_scoring)
        post("/orders-scoring", self.orders_scoring)
        get("/notifications", self.notifications)
        delete("/notifications", self.drop_notifications)
        # websockets
        get("/ws/market", self.ws_market)
        get("/ws/user", self.ws_user)
        # gamma
        get("/gamma/markets/keyset", self.gamma_markets)
        get("/gamma/markets/slug/{slug}", self.gamma_market_slug)
        get("/gamma/markets/{id}", self.gamma_market)
        get("/gamma/events/keyset", self.gamma_events)
        get("/gamma/events/slug/{slug}", self.gamma_event_slug)
        get("/gamma/events/{id}", self.gamma_event)
        # data api
        get("/data-api/positions", self.data_positions)
        get("/data-api/value", self.data_value)
        get("/data-api/trades", self.data_trades)
        get("/data-api/v2/positions", self.data_positions_v2)
        get("/data-api/v2/value", self.data_value_v2)
        return app

    # --- public CLOB -------------------------------------------------------------------------------

    async def ok(self, request: web.Request) -> web.Response:
        return _json("OK")

    async def server_time(self, request: web.Request) -> web.Response:
        return _json(self._now_s())

    async def version(self, request: web.Request) -> web.Response:
        return _json({"version": 2})

    async def book(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id")
        self._market_for_token(token)
        return _json(self.exchange.book_summary(token or ""))

    async def books(self, request: web.Request) -> web.Response:
        tokens = self._token_list(await self._json_body(request))
        for t in tokens:
            self._market_for_token(t)
        return _json([self.exchange.book_summary(t) for t in tokens])

    async def midpoint(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id")
        self._market_for_token(token)
        return _json({"mid": self.exchange.mid_str(token or "")})

    async def midpoints(self, request: web.Request) -> web.Response:
        tokens = self._token_list(await self._json_body(request))
        for t in tokens:
            self._market_for_token(t)
        return _json({t: self.exchange.mid_str(t) for t in tokens})

    def _side_price(self, token: str, side: str) -> str:
        bid, ask = self.exchange.top(token)
        # side=BUY answers the best bid and SELL the best ask (what a taker of the other side gets)
        if side == "BUY":
            return px_to_str(bid) if bid is not None else "0"
        return px_to_str(ask) if ask is not None else "1"

    async def price(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id")
        side = (request.query.get("side") or "").upper()
        self._market_for_token(token)
        if side not in ("BUY", "SELL"):
            raise E.bad_request(E.INVALID_SIDE)
        return _json({"price": self._side_price(token or "", side)})

    async def prices(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
            raise E.bad_request(E.INVALID_PAYLOAD)
        if len(body) > MAX_BOOKS:
            raise E.bad_request(E.PAYLOAD_LIMIT)
        out: dict[str, dict[str, str]] = {}
        for item in body:
            token = str(item.get("token_id", ""))
            side = str(item.get("side", "")).upper()
            self._market_for_token(token)
            if side not in ("BUY", "SELL"):
                raise E.bad_request(E.INVALID_SIDE)
            out.setdefault(token, {})[side] = self._side_price(token, side)
        return _json(out)

    def _spread(self, token: str) -> str:
        bid, ask = self.exchange.top(token)
        return px_to_str((ONE if ask is None else ask) - (0 if bid is None else bid))

    async def spread(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id")
        self._market_for_token(token)
        return _json({"spread": self._spread(token or "")})

    async def spreads(self, request: web.Request) -> web.Response:
        tokens = self._token_list(await self._json_body(request))
        for t in tokens:
            self._market_for_token(t)
        return _json({t: self._spread(t) for t in tokens})

    async def last_trade_price(self, request: web.Request) -> web.Response:
        token = request.query.get("token_id")
        self._market_for_token(token)
        price, side = self.exchange.last_trade_price(token or "")
        return _json({"price": price or "0.5", "side": side})

    async def last_trades_prices(self, request: web.Request) -> web.Response:
        tokens = self._token_list(await self._json_body(request))
        out = []
        for t in tokens:
            self._market_for_token(t)
            price, side = self.exchange.last_trade_price(t)
            if side:
                out.append({"token_id": t, "price": price, "side": side})
        return _json(out)

    def _token_param(self, request: web.Request) -> str:
        return request.match_info.get("token_id") or request.query.get("token_id") or ""

    async def tick_size(self, request: web.Request) -> web.Response:
        m = self._market_for_token(self._token_param(request))
        return _json({"minimum_tick_size": float(Decimal(m.tick) / PRICE_SCALE)})

    async def neg_risk(self, request: web.Request) -> web.Response:
        m = self._market_for_token(self._token_param(request))
        return _json({"neg_risk": m.neg_risk})

    async def fee_rate(self, request: web.Request) -> web.Response:
        m = self._market_for_token(self._token_param(request))
        return _json({"base_fee": int(m.fees.rate * 10_000)})

    def _market_by_cid(self, cid: str) -> ExMarket:
        m = self.exchange.markets.get(cid.lower())
        if m is None:
            raise E.ExchangeError(404, E.MARKET_NOT_FOUND)
        return m

    async def markets(self, request: web.Request) -> web.Response:
        items = [clob_market_json(m, self.exchange.yes_mid_px(m)) for m in self.exchange.markets.values()]
        page, nxt = _page(items, request.query.get("next_cursor"), 500)
        return _json({"limit": 500, "count": len(page), "next_cursor": nxt, "data": page})

    async def simplified_markets(self, request: web.Request) -> web.Response:
        ex = self.exchange
        items = [clob_simplified_json(m, ex.yes_mid_px(m)) for m in ex.markets.values()]
        page, nxt = _page(items, request.query.get("next_cursor"), 500)
        return _json({"limit": 500, "count": len(page), "next_cursor": nxt, "data": page})

    async def market(self, request: web.Request) -> web.Response:
        m = self._market_by_cid(request.match_info["condition_id"])
        return _json(clob_market_json(m, self.exchange.yes_mid_px(m)))

    async def clob_market(self, request: web.Request) -> web.Response:
        return _json(clob_compact_json(self._market_by_cid(request.match_info["condition_id"])))

    async def market_by_token(self, request: web.Request) -> web.Response:
        m = self.exchange.market_of(request.match_info["token_id"])
        if m is None:
            raise E.ExchangeError(404, E.MARKET_NOT_FOUND)
        return _json(markets_by_token_json(m))

    async def prices_history(self, request: web.Request) -> web.Response:
        token = request.query.get("market") or request.query.get("token_id") or ""
        m = self._market_for_token(token)
        now = self._now_s()
        start = request.query.get("startTs")
        end = request.query.get("endTs")
        interval = request.query.get("interval")
        spans = {"1h": 3600, "6h": 21600, "1d": 86400, "1w": 604800, "1m": 2592000}
        lo = int(start) if start and start.isdigit() else (now - spans[interval] if interval in spans else 0)
        hi = int(end) if end and end.isdigit() else now
        fidelity = request.query.get("fidelity")
        step = int(fidelity) * 60 if fidelity and fidelity.isdigit() and int(fidelity) > 0 else 1
        yes = m.is_yes(token)
        out: list[dict[str, Any]] = []
        last_bucket = None
        for ts, px in m.history:
            if not lo <= ts <= hi:
                continue
            bucket = ts // step
            p = px if yes else ONE - px
            point = {"t": ts, "p": float(Decimal(p) / PRICE_SCALE)}
            if bucket == last_bucket:
                out[-1] = point
            else:
                out.append(point)
                last_bucket = bucket
        return _json({"history": out})

    async def builder_fees(self, request: web.Request) -> web.Response:
        raise E.ExchangeError(404, "builder not found")

    # --- auth --------------------------------------------------------------------------------------

    @staticmethod
    def _creds_json(creds: ApiCreds) -> dict[str, str]:
        return {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase}

    async def create_api_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        return _json(self._creds_json(self.exchange.create_api_key(address, nonce)))

    async def derive_api_key(self, request: web.Request) -> web.Response:
        address, nonce = self._l1(request)
        return _json(self._creds_json(self.exchange.derive_api_key(address, nonce)))

    async def api_keys(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        return _json({"apiKeys": self.exchange.api_keys_of(creds.address)})

    async def delete_api_key(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        self.exchange.delete_api_key(creds)
        return _json("OK")

    async def closed_only(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return _json({"closed_only": False})

    # --- trading -----------------------------------------------------------------------------------

    async def post_order(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request)
        new = parse_post_order(body, creds, self.exchange)
        return _json(self.exchange.place(creds, new))

    async def post_orders(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request)
        if not isinstance(body, list) or not body:
            raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
        limit = self.exchange.config.max_batch
        if len(body) > limit:
            raise E.bad_request(E.too_many_orders(len(body), limit))
        out = []
        for item in body:
            try:
                out.append(self.exchange.place(creds, parse_post_order(item, creds, self.exchange)))
            except E.ExchangeError as exc:
                out.append(
                    {
                        "errorMsg": exc.message,
                        "orderID": "",
                        "takingAmount": "",
                        "makingAmount": "",
                        "status": "",
                        "success": True,
                    }
                )
        return _json(out)

    def _check_cancels_allowed(self) -> None:
        if self.faults.trading_mode == "disabled":
            raise E.ExchangeError(503, E.TRADING_DISABLED)

    async def cancel_order(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("orderID"), str) or not body["orderID"]:
            raise E.bad_request(E.INVALID_ORDER_ID)
        self._check_cancels_allowed()
        return _json(self.exchange.cancel(creds, [body["orderID"]]))

    async def cancel_orders(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request)
        if not isinstance(body, list) or not all(isinstance(i, str) and i for i in body):
            raise E.bad_request(E.INVALID_ORDER_ID)
        limit = self.exchange.config.max_cancel_batch
        if len(body) > limit:
            raise E.bad_request(E.too_many_cancels(limit))
        self._check_cancels_allowed()
        return _json(self.exchange.cancel(creds, body))

    async def cancel_all(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        self._check_cancels_allowed()
        return _json(self.exchange.cancel_all(creds))

    async def cancel_market_orders(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request) or {}
        if not isinstance(body, dict):
            raise E.bad_request(E.INVALID_PAYLOAD)
        market = body.get("market") or None
        asset_id = body.get("asset_id") or None
        if market is None and asset_id is None:
            raise E.bad_request(E.INVALID_MARKET)
        self._check_cancels_allowed()
        return _json(self.exchange.cancel_all(creds, market=market, asset_id=asset_id))

    async def open_orders(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        q = request.query
        orders = self.exchange.open_orders(
            creds, market=q.get("market"), asset_id=q.get("asset_id"), order_id=q.get("id")
        )
        size = self.exchange.config.page_size
        page, nxt = _page([self.exchange.order_json(o) for o in orders], q.get("next_cursor"), size)
        return _json({"data": page, "next_cursor": nxt, "limit": size, "count": len(page)})

    async def get_order(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        order = self.exchange.orders.get(request.match_info["order_id"])
        if order is None or order.account not in self.exchange.accounts_of(creds):
            raise E.ExchangeError(404, "order not found")
        return _json(self.exchange.order_json(order))

    async def trades(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        q = request.query
        ex = self.exchange
        mine = ex.accounts_of(creds)
        maker_address = (q.get("maker_address") or "").lower()
        if maker_address:
            mine = mine & {maker_address}
        after = int(q["after"]) if q.get("after", "").isdigit() else None
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        rows = []
        for t in ex.trades_of(mine):
            if q.get("id") and t.id != q["id"]:
                continue
            if q.get("market") and t.market != q["market"].lower():
                continue
            if (
                q.get("asset_id")
                and t.asset_id != q["asset_id"]
                and all(f.order.token_id != q["asset_id"] for f in t.makers)
            ):
                continue
            match_s = t.match_ms // 1000
            if (after is not None and match_s < after) or (before is not None and match_s > before):
                continue
            rows.append(ex.trade_json(t, ex.viewer_of(t, mine)))
        size = ex.config.page_size
        page, nxt = _page(rows, q.get("next_cursor"), size)
        return _json({"data": page, "next_cursor": nxt, "limit": size, "count": len(page)})

    async def balance_allowance(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        q = request.query
        asset_type = q.get("asset_type", "")
        if asset_type not in ("COLLATERAL", "CONDITIONAL", "CONDITIONAL-V2"):
            raise E.bad_request(E.INVALID_ASSET_TYPE)
        sig_type = q.get("signature_type", "0")
        if sig_type not in ("0", "1", "2", "3"):
            raise E.bad_request(E.INVALID_SIGNATURE_TYPE)
        if asset_type != "COLLATERAL" and not q.get("token_id"):
            raise E.bad_request(E.INVALID_TOKEN)
        acct = self.exchange.funder_for(creds, int(sig_type))
        return _json(self.exchange.balance_allowance(acct, asset_type, q.get("token_id")))

    async def update_balance_allowance(self, request: web.Request) -> web.Response:
        await self.balance_allowance(request)
        return _json("")

    async def heartbeat(self, request: web.Request) -> web.Response:
        creds = await self._l2(request)
        body = await self._json_body(request)
        hb = body.get("heartbeat_id", "") if isinstance(body, dict) else ""
        if not isinstance(hb, str):
            raise E.bad_request(E.INVALID_PAYLOAD)
        return _json({"heartbeat_id": self.exchange.heartbeat(creds, hb)})

    async def order_scoring(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return _json({"scoring": False})

    async def orders_scoring(self, request: web.Request) -> web.Response:
        await self._l2(request)
        body = await self._json_body(request)
        ids = body if isinstance(body, list) else []
        return _json({str(i): False for i in ids})

    async def notifications(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return _json([])

    async def drop_notifications(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return _json("")

    # --- websockets --------------------------------------------------------------------------------

    async def _serve_ws(
        self, request: web.Request, conn: _Conn, on_json: Callable[[Any, Any], None]
    ) -> web.WebSocketResponse:
        ws = conn.ws
        await ws.prepare(request)
        conn.task = asyncio.create_task(conn.run_sender())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                text = msg.data
                if text == "PING":
                    if not self.faults.ws_no_pong:
                        await ws.send_str("PONG")
                    continue
                try:
                    data = orjson.loads(text)
                except orjson.JSONDecodeError:
                    continue
                on_json(conn, data)
                if ws.closed:
                    break
        finally:
            self.market_conns.discard(conn)  # type: ignore[arg-type]
            self.user_conns.discard(conn)  # type: ignore[arg-type]
            conn.close()
            if conn.task is not None:
                conn.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await conn.task
        return ws

    async def ws_market(self, request: web.Request) -> web.WebSocketResponse:
        def on_json(conn: Any, data: Any) -> None:
            if not isinstance(data, dict):
                return
            assets = [str(a) for a in data.get("assets_ids") or data.get("asset_ids") or []]
            known = [a for a in assets if self.exchange.market_of(a) is not None]
            op = data.get("operation")
            if "custom_feature_enabled" in data:
                conn.custom = bool(data["custom_feature_enabled"])
            if op == "unsubscribe":
                conn.assets.difference_update(known)
                return
            fresh = [a for a in dict.fromkeys(known) if a not in conn.assets]
            conn.assets.update(fresh)
            self.market_conns.add(conn)
            dump = data.get("initial_dump", True) if op is None else True
            if fresh and dump:
                conn.send([{"event_type": "book", **self.exchange.book_summary(a)} for a in fresh])

        return await self._serve_ws(request, _MarketConn(web.WebSocketResponse(), self.faults), on_json)

    async def ws_user(self, request: web.Request) -> web.WebSocketResponse:
        def on_json(conn: Any, data: Any) -> None:
            if not isinstance(data, dict):
                return
            op = data.get("operation")
            markets = {str(m).lower() for m in data.get("markets") or []}
            if op is None:
                auth = data.get("auth") if isinstance(data.get("auth"), dict) else {}
                creds = self.exchange.keys.get(str(auth.get("apiKey", "")))
                if (
                    creds is None
                    or auth.get("secret") != creds.secret
                    or auth.get("passphrase") != creds.passphrase
                ):
                    asyncio.get_running_loop().create_task(
                        conn.ws.close(code=1008, message=E.UNAUTHORIZED.encode())
                    )
                    return
                conn.creds = creds
                conn.markets = markets
                self.user_conns.add(conn)
                return
            if conn.creds is None:
                return
            if op == "subscribe":
                conn.markets |= markets
            elif op == "unsubscribe":
                conn.markets -= markets

        conn = _UserConn(web.WebSocketResponse(), self.faults, self.exchange)
        return await self._serve_ws(request, conn, on_json)

    # --- gamma -------------------------------------------------------------------------------------

    def _gamma_market(self, m: ExMarket, with_event: bool = True) -> dict[str, Any]:
        bid, ask = self.exchange.books[m.condition_id].top(True)
        return gamma_market_json(
            m, mid_px=self.exchange.yes_mid_px(m), best_bid=bid, best_ask=ask, with_event=with_event
        )

    def _gamma_filtered(self, request: web.Request) -> list[ExMarket]:
        q = request.query
        markets = list(self.exchange.markets.values())
        cids = {c.lower() for c in _multi(request, "condition_ids")}
        tokens = set(_multi(request, "clob_token_ids"))
        slugs = set(_multi(request, "slug"))
        ids = set(_multi(request, "id"))
        closed = q.get("closed")
        out = []
        for m in markets:
            if cids and m.condition_id not in cids:
                continue
            if tokens and not tokens & {m.yes_token, m.no_token}:
                continue
            if slugs and m.slug not in slugs:
                continue
            if ids and m.gamma_id not in ids:
                continue
            if closed is not None and (closed.lower() == "true") != m.closed:
                continue
            out.append(m)
        return out

    @staticmethod
    def _keyset(items: list[Any], request: web.Request, key: str, max_limit: int) -> web.Response:
        raw_limit = request.query.get("limit", "")
        limit = min(int(raw_limit), max_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else max_limit
        cursor = request.query.get("after_cursor")
        start = _offset(cursor) if cursor else 0
        chunk = items[start : start + limit]
        body: dict[str, Any] = {key: chunk}
        if start + limit < len(items):
            body["next_cursor"] = _cursor(start + limit)
        return _json(body)

    async def gamma_markets(self, request: web.Request) -> web.Response:
        items = [self._gamma_market(m) for m in self._gamma_filtered(request)]
        return self._keyset(items, request, "markets", 100)

    def _gamma_lookup(self, pred: Callable[[ExMarket], bool]) -> ExMarket:
        for m in self.exchange.markets.values():
            if pred(m):
                return m
        raise E.ExchangeError(404, "not found")

    async def gamma_market(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        m = self._gamma_lookup(lambda m: m.gamma_id == ident or m.condition_id == ident.lower())
        return _json(self._gamma_market(m))

    async def gamma_market_slug(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        return _json(self._gamma_market(self._gamma_lookup(lambda m: m.slug == slug)))

    def _event(self, m: ExMarket) -> dict[str, Any]:
        return gamma_event_json(m, self._gamma_market(m, with_event=False))

    async def gamma_events(self, request: web.Request) -> web.Response:
        q = request.query
        closed = q.get("closed")
        ids = set(_multi(request, "id"))
        slugs = set(_multi(request, "slug"))
        items = []
        for m in self.exchange.markets.values():
            if closed is not None and (closed.lower() == "true") != m.closed:
                continue
            if (ids and m.event_id not in ids) or (slugs and m.slug not in slugs):
                continue
            items.append(self._event(m))
        return self._keyset(items, request, "events", 500)

    async def gamma_event(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]
        return _json(self._event(self._gamma_lookup(lambda m: m.event_id == ident)))

    async def gamma_event_slug(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        return _json(self._event(self._gamma_lookup(lambda m: m.slug == slug)))

    # --- data api ----------------------------------------------------------------------------------

    def _positions(self, user: str) -> list[dict[str, Any]]:
        ex = self.exchange
        acct = ex.accounts.get(user.lower())
        if acct is None:
            return []
        rows = []
        for token, qty in acct.positions.items():
            m = ex.market_of(token)
            if m is None or qty <= 0:
                continue
            yes = m.is_yes(token)
            mid = ex.yes_mid_px(m)
            if m.winner is not None:
                cur_px = ONE if m.winner == token else 0
            elif mid is not None:
                cur_px = mid if yes else ONE - mid
            else:
                cur_px = 0
            size = Decimal(qty) / SIZE_SCALE
            cost = acct.cost.get(token, Decimal(0))
            cur = Decimal(cur_px) / PRICE_SCALE
            value = size * cur
            rows.append(
                {
                    "token": token,
                    "m": m,
                    "yes": yes,
                    "size": size,
                    "cost": cost,
                    "cur": cur,
                    "value": value,
                    "avg": cost / size if size else Decimal(0),
                    "realized": acct.realized.get(token, Decimal(0)),
                    "fees": acct.fees_paid.get(token, Decimal(0)),
                    "bought": Decimal(acct.bought.get(token, 0)) / SIZE_SCALE,
                    "address": acct.address,
                }
            )
        return rows

    @staticmethod
    def _f(value: Decimal) -> float:
        return float(round(value, 6))

    async def data_positions(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        market = request.query.get("market", "").lower()
        out = []
        for r in self._positions(user):
            m: ExMarket = r["m"]
            if market and m.condition_id not in market.split(","):
                continue
            pnl = r["value"] - r["cost"]
            out.append(
                {
                    "proxyWallet": r["address"],
                    "asset": r["token"],
                    "conditionId": m.condition_id,
                    "size": self._f(r["size"]),
                    "avgPrice": self._f(r["avg"]),
                    "initialValue": self._f(r["cost"]),
                    "currentValue": self._f(r["value"]),
                    "cashPnl": self._f(pnl),
                    "percentPnl": self._f(pnl / r["cost"] * 100) if r["cost"] else 0.0,
                    "totalBought": self._f(r["bought"]),
                    "realizedPnl": self._f(r["realized"]),
                    "percentRealizedPnl": 0.0,
                    "curPrice": self._f(r["cur"]),
                    "redeemable": m.winner is not None,
                    "mergeable": False,
                    "title": m.question,
                    "slug": m.slug,
                    "icon": "",
                    "eventSlug": m.slug,
                    "outcome": m.label(r["token"]),
                    "outcomeIndex": 0 if r["yes"] else 1,
                    "oppositeOutcome": m.label(m.other(r["token"])),
                    "oppositeAsset": m.other(r["token"]),
                    "endDate": (
                        gamma_market_json(m, mid_px=None, best_bid=None, best_ask=None)["endDate"] or ""
                    ),
                    "negativeRisk": m.neg_risk,
                }
            )
        return _json(out)

    async def data_positions_v2(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        out = []
        for r in self._positions(user):
            m: ExMarket = r["m"]
            pnl = r["value"] - r["cost"]
            out.append(
                {
                    "proxy_wallet": r["address"],
                    "token_id": r["token"],
                    "condition_id": m.condition_id,
                    "current_size": self._f(r["size"]),
                    "avg_price": self._f(r["avg"]),
                    "entry_cost_usdc": self._f(r["cost"]),
                    "entry_fees_usdc": self._f(r["fees"]),
                    "total_cost_usdc": self._f(r["cost"] + r["fees"]),
                    "current_price": self._f(r["cur"]),
                    "current_value": self._f(r["value"]),
                    "total_size": self._f(r["bought"]),
                    "realized_pnl": self._f(r["realized"]),
                    "unrealized_pnl": self._f(pnl),
                    "total_pnl": self._f(pnl + r["realized"]),
                    "percent_pnl": self._f(pnl / r["cost"] * 100) if r["cost"] else 0.0,
                    "percent_realized_pnl": 0.0,
                    "status": "REDEEMABLE" if m.winner == r["token"] else "OPEN",
                    "redeemable": m.winner is not None,
                    "mergeable": False,
                    "negative_risk": m.neg_risk,
                    "archived": False,
                    "verified": True,
                    "title": m.question,
                    "slug": m.slug,
                    "outcome": m.label(r["token"]),
                    "outcome_index": 0 if r["yes"] else 1,
                    "opposite_outcome": m.label(m.other(r["token"])),
                    "opposite_token_id": m.other(r["token"]),
                }
            )
        return _json(
            {
                "data": out,
                "pagination": {"limit": len(out), "offset": 0, "has_more": False, "next_cursor": None},
            }
        )

    def _value(self, user: str) -> Decimal:
        return sum((r["value"] for r in self._positions(user)), Decimal(0))

    async def data_value(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        return _json([{"user": user, "value": self._f(self._value(user))}])

    async def data_value_v2(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        return _json({"data": {"proxy_wallet": user, "value": self._f(self._value(user))}})

    async def data_trades(self, request: web.Request) -> web.Response:
        ex = self.exchange
        q = request.query
        user = q.get("user", "").lower()
        market = q.get("market", "").lower()
        taker_only = q.get("takerOnly", "true").lower() == "true"
        raw_limit = q.get("limit", "")
        limit = min(int(raw_limit), 10_000) if raw_limit.isdigit() else 100
        out = []
        for tid in reversed(ex._trade_order):
            t = ex.trades[tid]
            if market and t.market != market:
                continue
            m = ex.markets[t.market]
            parties = [(t.taker, t.side, t.asset_id, t.price, t.size)]
            if not taker_only:
                parties += [(f.order, f.order.side, f.order.token_id, f.price, f.qty) for f in t.makers]
            for order, side, token, price, size in parties:
                if order.background or (user and order.account != user):
                    continue
                out.append(
                    {
                        "proxyWallet": order.maker_address,
                        "side": side,
                        "asset": token,
                        "conditionId": t.market,
                        "size": float(Decimal(size) / SIZE_SCALE),
                        "price": float(Decimal(price) / PRICE_SCALE),
                        "timestamp": t.match_ms // 1000,
                        "title": m.question,
                        "slug": m.slug,
                        "icon": "",
                        "eventSlug": m.slug,
                        "outcome": m.label(token),
                        "outcomeIndex": 0 if m.is_yes(token) else 1,
                        "name": "",
                        "pseudonym": "",
                        "transactionHash": t.transaction_hash,
                    }
                )
        return _json(out[:limit])


# --- lifecycle -----------------------------------------------------------------------------------


@dataclass
class ExchangeHandle:
    base_url: str
    market_ws_url: str
    user_ws_url: str
    gamma_url: str
    data_url: str
    exchange: Exchange
    faults: FaultConfig
    server: ExchangeServer

    @property
    def urls(self) -> dict[str, str]:
        return {
            "CLOB": self.base_url,
            "market WS": self.market_ws_url,
            "user WS": self.user_ws_url,
            "Gamma": self.gamma_url,
            "Data API": self.data_url,
        }


def _default_feed(
    venue: str, seed: int, markets: Any, lines: Iterable[Any] | None
) -> tuple[Any, Iterable[Any]]:
    if venue == "replay":
        if markets is None and lines is None:
            from engine.feeds.replay import bundled_paths, load_markets, read_lines

            books_path, markets_path = bundled_paths()
            catalog = load_markets(markets_path)
            return catalog, read_lines(books_path, catalog)
        return markets, lines or ()
    if venue == "sim":
        if markets is None and lines is None:
            from engine.feeds.synthetic import SyntheticConfig, synthetic_feed

            return None, synthetic_feed(SyntheticConfig(seed=seed), rounds=None)
        return markets, lines or ()
    raise ValueError(f"venue {venue!r}: accepted: replay, sim")


async def _pump(exchange: Exchange) -> None:
    while True:
        try:
            exchange.pump()
        except Exception:  # a bad line must not stop the market; the next pump moves on
            _log.exception("exchange pump failed")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def start_exchange(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    venue: str = "replay",
    markets: Any = None,
    lines: Iterable[Any] | None = None,
    speed: float | None = 1.0,
    seed: int = 0,
    paper_balance: Decimal = Decimal("10000"),
    faults: FaultConfig | None = None,
    clock: Any = None,
    config: ExchangeConfig | None = None,
) -> AsyncIterator[ExchangeHandle]:
    """Serve an exchange on `host:port` (0 = any free port) until the context exits.

    `speed=None` is manual: the background market moves only through `exchange.advance_to(ts)` /
    `exchange.set_background(...)`; timers still run on the clock (pass a `ManualClock` to freeze them).
    """
    faults = faults if faults is not None else FaultConfig(seed=seed)
    cfg = config or ExchangeConfig()
    cfg.paper_balance = Decimal(paper_balance)
    catalog, feed = _default_feed(venue, seed, markets, lines)
    exchange = Exchange(catalog, feed, clock=clock, speed=speed, seed=seed, config=cfg, faults=faults)
    server = ExchangeServer(exchange, faults)
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    urls = exchange_urls(f"http://{host}:{bound}")
    pump = asyncio.create_task(_pump(exchange)) if not isinstance(exchange.clock, ManualClock) else None
    handle = ExchangeHandle(
        base_url=urls.base_url,
        market_ws_url=urls.market_ws_url,
        user_ws_url=urls.user_ws_url,
        gamma_url=urls.gamma_url,
        data_url=urls.data_url,
        exchange=exchange,
        faults=faults,
        server=server,
    )
    try:
        yield handle
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        for conn in list(server.market_conns) + list(server.user_conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        await runner.cleanup()
