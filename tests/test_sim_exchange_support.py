"""Shared helpers for the sim-exchange tests: markets, keys, signed V2 orders, L1/L2 headers (no tests here).

Orders are signed with `engine.venues.polymarket.clob.signing` (pinned to eth_account and the official SDK by
its own tests), so every order in these tests passes the exchange's real signature check.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from engine.domain import FeeSchedule, Market
from engine.venues.polymarket.clob.l2auth import l2_headers, serialize_body
from engine.venues.polymarket.clob.signing import OrderV2, address_of, sign_clob_auth, sign_order
from localexchange.core import (
    ApiCreds,
    Exchange,
    ExchangeConfig,
    ManualClock,
    MarketMessage,
    UserMessage,
)
from localexchange.faults import FaultConfig
from localexchange.intake import parse_post_order

# hardhat's well-known development keys
KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]
ADDRS = [address_of(k) for k in KEYS]
START = 1_800_000_000_000  # ms
CID = "0x" + "ab" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
CID2 = "0x" + "cd" * 32
YES2 = "81321045679252212594626385532706912750332728571942532289631379312455583992561"
NO2 = "62114319501245915516055106046884209969926127482827954674443846427813813222427"

_salts = itertools.count(1000)


def market(
    cid: str = CID,
    yes: str = YES,
    no: str = NO,
    *,
    fee_rate: str = "0",
    exponent: int = 1,
    tick: int = 100,
    neg_risk: bool = False,
    end_ts: int | None = None,
) -> Market:
    return Market(
        condition_id=cid,
        question="Will it rain?",
        slug=f"rain-{cid[2:6]}",
        yes_token=yes,
        no_token=no,
        yes_label="Yes",
        no_label="No",
        category="weather",
        tick=tick,
        neg_risk=neg_risk,
        fees=FeeSchedule(rate=Decimal(fee_rate), exponent=exponent),
        start_ts=None,
        end_ts=end_ts,
    )


def make_exchange(
    *markets: Market, faults: FaultConfig | None = None, **config: Any
) -> tuple[Exchange, ManualClock, list]:
    clock = ManualClock(START)
    ex = Exchange(
        list(markets) or [market()], clock=clock, speed=None, config=ExchangeConfig(**config), faults=faults
    )
    events: list[MarketMessage | UserMessage] = []
    ex.sinks.append(events.append)
    return ex, clock, events


def amounts(side: str, price: str, size: str) -> tuple[int, int]:
    p, q = Decimal(price), Decimal(size)
    shares = int(q * 10**6)
    cash = int(p * q * 10**6)
    return (cash, shares) if side == "BUY" else (shares, cash)


def order_json(
    key: str,
    token: str,
    side: str,
    price: str,
    size: str,
    *,
    neg_risk: bool = False,
    expiration: int = 0,
    maker: str | None = None,
    signature_type: int = 0,
    maker_amount: int | None = None,
    taker_amount: int | None = None,
) -> dict[str, Any]:
    ma, ta = amounts(side, price, size)
    addr = address_of(key)
    order = OrderV2(
        salt=next(_salts),
        maker=maker or addr,
        signer=addr,
        token_id=int(token),
        maker_amount=maker_amount if maker_amount is not None else ma,
        taker_amount=taker_amount if taker_amount is not None else ta,
        side=0 if side == "BUY" else 1,
        signature_type=signature_type,
        timestamp=START + next(_salts),
    )
    return order.to_json(sign_order(order, key, neg_risk=neg_risk), expiration=expiration)


def post_body(
    order: dict[str, Any], owner: str, order_type: str = "GTC", post_only: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {"order": order, "owner": owner, "orderType": order_type, "deferExec": False}
    if post_only:
        body["postOnly"] = True
    return body


def place(
    ex: Exchange,
    creds: ApiCreds,
    key: str,
    token: str,
    side: str,
    price: str,
    size: str,
    order_type: str = "GTC",
    post_only: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    """Sign, parse (with the exchange's signature check) and place one order."""
    m = ex.market_of(token)
    body = post_body(
        order_json(key, token, side, price, size, neg_risk=bool(m and m.neg_risk), **kw),
        creds.key,
        order_type,
        post_only,
    )
    return ex.place(creds, parse_post_order(body, creds, ex))


def l1_headers(key: str, ts: int, nonce: int = 0) -> dict[str, str]:
    return {
        "POLY_ADDRESS": address_of(key),
        "POLY_SIGNATURE": sign_clob_auth(key, ts, nonce),
        "POLY_TIMESTAMP": str(ts),
        "POLY_NONCE": str(nonce),
    }


def auth(
    creds: ApiCreds, method: str, path: str, body: Any = None, ts: int | None = None
) -> tuple[dict[str, str], str | None]:
    """L2 headers and the exact body text to send."""
    text = None if body is None else serialize_body(body)
    headers = l2_headers(
        creds.address,
        creds.key,
        creds.secret,
        creds.passphrase,
        START // 1000 if ts is None else ts,
        method,
        path,
        text,
    )
    if text is not None:
        headers["Content-Type"] = "application/json"
    return headers, text


def user_events(events: list, account: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        e.payload
        for e in events
        if isinstance(e, UserMessage)
        and e.account == account.lower()
        and (kind is None or e.payload["event_type"] == kind)
    ]


def market_events(events: list, kind: str) -> list[dict[str, Any]]:
    return [e.payload for e in events if isinstance(e, MarketMessage) and e.payload["event_type"] == kind]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@asynccontextmanager
async def serve(**kw: Any) -> AsyncIterator[tuple[Any, aiohttp.ClientSession]]:
    """A loopback exchange on a ManualClock (nothing moves unless the test says so) and an HTTP client."""
    from localexchange import start_exchange

    kw.setdefault("markets", [market(), market(CID2, YES2, NO2)])
    kw.setdefault("lines", [])
    kw.setdefault("speed", None)
    kw.setdefault("clock", ManualClock(START))
    async with start_exchange(**kw) as handle, aiohttp.ClientSession(base_url=handle.base_url) as http:
        yield handle, http


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    creds: ApiCreds | None = None,
    body: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    ts: int | None = None,
) -> tuple[int, Any, Any]:
    """One request; L2-signed when `creds` is given. Returns (status, decoded JSON or text, headers)."""
    hdrs = dict(headers or {})
    text = None
    if creds is not None:
        signed, text = auth(creds, method, path, body, ts)
        hdrs.update(signed)
    elif body is not None:
        text = serialize_body(body)
        hdrs["Content-Type"] = "application/json"
    async with http.request(method, path, params=params, data=text, headers=hdrs) as resp:
        raw = await resp.read()
        try:
            payload: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            payload = raw.decode()
        return resp.status, payload, resp.headers
