"""Reference data of the local exchange: one `ExMarket` per binary condition, and the JSON shapes in which
Polymarket serves it (CLOB `/markets/{cid}`, compact `/clob-markets/{cid}`, `/markets-by-token`, Gamma
market and event objects with their stringified `outcomes` / `outcomePrices` / `clobTokenIds`).

Markets come from the replay catalog (`engine.feeds.replay.load_markets`) or any `engine.domain.Market`
list (the synthetic flow); times are shifted with the replay so a run always starts "now".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from engine.domain import FeeSchedule, Market, Resolution
from engine.units import ONE, px_to_str, qty_to_str

# Production contracts (protocol notes section 2): balance-allowance answers name these spenders.
STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"
MAX_UINT256 = str(2**256 - 1)
MAKER_BASE_FEE = 1000  # the CLOB's fee caps, not charged rates (protocol notes 6.1)


@dataclass(slots=True)
class ExMarket:
    """A binary market as the exchange holds it. Prices are price units (1e-4), sizes 1e-6 shares."""

    condition_id: str
    question: str
    slug: str
    yes_token: str
    no_token: str
    yes_label: str
    no_label: str
    category: str
    tick: int
    min_order_size: int
    neg_risk: bool
    fees: FeeSchedule
    start_ts: int | None  # ms, exchange time
    end_ts: int | None  # ms, exchange time
    resolution: Resolution | None
    gamma_id: str
    event_id: str
    question_id: str
    created_ts: int
    base_tick: int = 0  # the listing tick; `tick` may go finer near the price extremes
    accepting_orders: bool = True
    closed: bool = False
    winner: str | None = None  # winning token id once resolved
    last_trade_px: int | None = None
    book_ts: int = 0  # ms of the last change to the book: the `timestamp` (and so the hash) of /book
    last_trade_side: str = ""
    history: list[tuple[int, int]] = field(default_factory=list)  # (unix s, YES price units)

    def __post_init__(self) -> None:
        if not self.base_tick:
            self.base_tick = self.tick
        if not self.book_ts:
            self.book_ts = self.created_ts

    def is_yes(self, token_id: str) -> bool:
        return token_id == self.yes_token

    def other(self, token_id: str) -> str:
        return self.no_token if token_id == self.yes_token else self.yes_token

    def label(self, token_id: str) -> str:
        return self.yes_label if token_id == self.yes_token else self.no_label

    @property
    def tick_str(self) -> str:
        return px_to_str(self.tick)

    @property
    def min_size_str(self) -> str:
        return qty_to_str(self.min_order_size)


def _digest_id(*parts: str, digits: int = 64) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:digits]


def build_markets(
    catalog: Mapping[str, Any] | Iterable[Any],
    *,
    time_map: Callable[[int], int] = lambda ts: ts,
    created_ts: int = 0,
    first_index: int = 0,
) -> dict[str, ExMarket]:
    """Normalise a replay catalog (`{cid: ReplayMarket}`), or any iterable of `ReplayMarket` / `Market`,
    into exchange markets, with every recorded time moved onto the exchange's clock by `time_map`."""
    items = catalog.values() if isinstance(catalog, Mapping) else catalog
    out: dict[str, ExMarket] = {}
    for index, item in enumerate(items, start=first_index):
        market: Market = getattr(item, "market", item)
        resolution: Resolution | None = getattr(item, "resolution", None)
        cid = market.condition_id.lower()
        if resolution is not None:
            resolution = Resolution(cid, time_map(resolution.ts), resolution.yes_payout)
        out[cid] = ExMarket(
            condition_id=cid,
            question=market.question or f"Market {cid[:10]}",
            slug=market.slug or f"market-{cid[2:10]}",
            yes_token=market.yes_token,
            no_token=market.no_token,
            yes_label=market.yes_label,
            no_label=market.no_label,
            category=market.category,
            tick=market.tick,
            min_order_size=market.min_order_size,
            neg_risk=market.neg_risk,
            fees=market.fees,
            start_ts=None if market.start_ts is None else time_map(market.start_ts),
            end_ts=None if market.end_ts is None else time_map(market.end_ts),
            resolution=resolution,
            gamma_id=str(500_000 + index),
            event_id=market.event_id or str(90_000 + index),
            question_id="0x" + _digest_id(cid, "question"),
            created_ts=created_ts,
        )
    return out


# --- JSON shapes -----------------------------------------------------------------------------------


def _iso(ts_ms: int | None) -> str | None:
    if ts_ms is None:
        return None
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gamma_time(ts_ms: int | None) -> str | None:
    """Gamma's form: whole seconds as `...:00Z`, milliseconds as `...:56.805Z` when there are any."""
    if ts_ms is None:
        return None
    stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ts_ms % 1000:03d}Z" if ts_ms % 1000 else f"{text}Z"


def _num(value: Decimal | int) -> float | int:
    """JSON number from an exact value (Polymarket sends some fields as numbers, e.g. minimum_tick_size)."""
    if isinstance(value, int):
        return value
    as_int = int(value)
    return as_int if value == as_int else float(value)


def _price_num(px: int) -> float | int:
    return _num(Decimal(px).scaleb(-4))


def yes_price(m: ExMarket, mid_px: int | None) -> int:
    """The displayed YES price: the winner's payout once resolved, else the mid, else the last trade."""
    if m.winner is not None:
        return ONE if m.winner == m.yes_token else 0
    if mid_px is not None:
        return mid_px
    if m.last_trade_px is not None:
        return m.last_trade_px
    return ONE // 2


def clob_market_json(m: ExMarket, mid_px: int | None) -> dict[str, Any]:
    yes = yes_price(m, mid_px)
    return {
        "enable_order_book": True,
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "accepting_orders": m.accepting_orders,
        "accepting_order_timestamp": _iso(m.start_ts if m.start_ts is not None else m.created_ts),
        "minimum_order_size": _num(Decimal(m.min_order_size).scaleb(-6)),
        "minimum_tick_size": _price_num(m.tick),
        "condition_id": m.condition_id,
        "question_id": m.question_id,
        "question": m.question,
        "description": m.question,
        "market_slug": m.slug,
        "end_date_iso": _iso(m.end_ts),
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": MAKER_BASE_FEE,
        "taker_base_fee": MAKER_BASE_FEE,
        "notifications_enabled": True,
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": m.question_id if m.neg_risk else "",
        "neg_risk_request_id": ("0x" + _digest_id(m.condition_id, "request")) if m.neg_risk else "",
        "icon": "",
        "image": "",
        "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
        "is_50_50_outcome": False,
        "tokens": [
            {
                "token_id": m.yes_token,
                "outcome": m.yes_label,
                "price": _price_num(yes),
                "winner": m.winner == m.yes_token,
            },
            {
                "token_id": m.no_token,
                "outcome": m.no_label,
                "price": _price_num(ONE - yes),
                "winner": m.winner == m.no_token,
            },
        ],
        "tags": [m.category.capitalize()] if m.category else [],
        "version": "v1",
    }


def clob_compact_json(m: ExMarket) -> dict[str, Any]:
    """`GET /clob-markets/{cid}`: the SDK reads `t`, `mts`, `nr` and `fd` from it to build orders."""
    body: dict[str, Any] = {
        "c": m.condition_id,
        "t": [{"t": m.yes_token, "o": m.yes_label}, {"t": m.no_token, "o": m.no_label}],
        "mts": _price_num(m.tick),
    }
    if m.neg_risk:
        body["nr"] = True
    if not m.closed:
        fd: dict[str, Any] = {"r": _num(m.fees.rate), "e": m.fees.exponent}
        if m.fees.taker_only:
            fd["to"] = True
        body["fd"] = fd
    body.update(
        {
            "mbf": MAKER_BASE_FEE,
            "tbf": MAKER_BASE_FEE,
            "r": {"mi": 0, "ma": 0, "e": False},
            "ao": m.accepting_orders,
            "mos": _num(Decimal(m.min_order_size).scaleb(-6)),
            "sd": 0,
            "gst": None,
            "cbos": False,
            "aot": _iso(m.start_ts if m.start_ts is not None else m.created_ts),
            "rfqe": False,
            "itode": False,
            "ibce": False,
            "oas": 0,
        }
    )
    return body


def clob_simplified_json(m: ExMarket, mid_px: int | None) -> dict[str, Any]:
    full = clob_market_json(m, mid_px)
    keys = ("condition_id", "rewards", "tokens", "active", "closed", "archived", "accepting_orders")
    return {k: full[k] for k in keys}


def markets_by_token_json(m: ExMarket) -> dict[str, str]:
    return {"condition_id": m.condition_id, "primary_token_id": m.yes_token, "secondary_token_id": m.no_token}


def _fee_schedule_json(fees: FeeSchedule) -> dict[str, Any]:
    return {
        "exponent": fees.exponent,
        "rate": _num(fees.rate),
        "takerOnly": fees.taker_only,
        "rebateRate": _num(fees.rebate_rate),
    }


def gamma_market_json(
    m: ExMarket, *, mid_px: int | None, best_bid: int | None, best_ask: int | None, with_event: bool = True
) -> dict[str, Any]:
    yes = yes_price(m, mid_px)
    body: dict[str, Any] = {
        "id": m.gamma_id,
        "question": m.question,
        "conditionId": m.condition_id,
        "slug": m.slug,
        "endDate": _gamma_time(m.end_ts),
        # As on Gamma: startDate is when the market was listed (here: added, or its start if that was
        # earlier); a timed market's window (a 15-minute up/down market, listed well before it opens)
        # starts at eventStartTime, added below.
        "startDate": _gamma_time(m.created_ts if m.start_ts is None else min(m.created_ts, m.start_ts)),
        "category": m.category,
        "liquidity": "0",
        "volume": "0",
        # Gamma sends these three as JSON text inside strings, with a space after each comma.
        "outcomes": orjson.dumps([m.yes_label, m.no_label]).decode().replace('","', '", "'),
        "outcomePrices": orjson.dumps([px_to_str(yes), px_to_str(ONE - yes)]).decode().replace('","', '", "'),
        "clobTokenIds": orjson.dumps([m.yes_token, m.no_token]).decode().replace('","', '", "'),
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "restricted": False,
        "enableOrderBook": True,
        "acceptingOrders": m.accepting_orders,
        "orderPriceMinTickSize": _price_num(m.tick),
        "orderMinSize": _num(Decimal(m.min_order_size).scaleb(-6)),
        "negRisk": m.neg_risk,
        "questionID": m.question_id,
        "spread": _price_num(best_ask - best_bid) if best_bid is not None and best_ask is not None else None,
        "lastTradePrice": _price_num(m.last_trade_px) if m.last_trade_px is not None else 0,
        "bestBid": _price_num(best_bid) if best_bid is not None else None,
        "bestAsk": _price_num(best_ask) if best_ask is not None else None,
        "makerBaseFee": MAKER_BASE_FEE,
        "takerBaseFee": MAKER_BASE_FEE,
        "feesEnabled": bool(m.fees.rate),
        "feeSchedule": _fee_schedule_json(m.fees),
        "umaResolutionStatus": "resolved" if m.winner is not None else None,
        "version": "v1",
    }
    if m.start_ts is not None:
        body["eventStartTime"] = _gamma_time(m.start_ts)
    if m.neg_risk:
        body["negRiskMarketID"] = m.question_id
    if with_event:
        event: dict[str, Any] = {
            "id": m.event_id,
            "slug": m.slug,
            "title": m.question,
            "startDate": body["startDate"],
            "endDate": body["endDate"],
        }
        if m.start_ts is not None:
            event["startTime"] = body["eventStartTime"]
        body["events"] = [event]
    return body


def gamma_event_json(m: ExMarket, market_json: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m.event_id,
        "ticker": m.slug,
        "slug": m.slug,
        "title": m.question,
        "description": m.question,
        "startDate": market_json["startDate"],
        "endDate": market_json["endDate"],
        **({"startTime": market_json["eventStartTime"]} if "eventStartTime" in market_json else {}),
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "liquidity": 0,
        "volume": 0,
        "openInterest": 0,
        "enableOrderBook": True,
        "negRisk": m.neg_risk,
        "markets": [market_json],
        "tags": [],
        "version": "v1",
    }
