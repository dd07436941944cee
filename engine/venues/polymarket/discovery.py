"""Which Polymarket markets to trade: the Gamma listing, ranked, completed from the CLOB.

    markets = await discover_markets(gamma_url, clob_url, max_markets=50)

Gamma (`GET /markets/keyset`, cursor-paged) lists every market with its liquidity and volume, so it is
where markets are found and ranked. Its `outcomes` and `clobTokenIds` are JSON text inside strings and
are parsed here. The CLOB's compact market (`GET /clob-markets/{condition_id}`) is what the matching
engine applies, so for every market kept its tick (`mts`), minimum size (`mos`), neg-risk flag (`nr`,
omitted when false) and taker fee (`fd`: rate, exponent, taker-only) override Gamma's copies; Gamma's
`feeSchedule` is used only where the CLOB has no `fd`.

Only binary markets that are active, not closed or archived, accepting orders and on the order book are
kept. A malformed row (a missing or unreadable field) is skipped with a logged reason naming the field;
it never stops the scan. Only a listing that cannot be read at all raises `DiscoveryError`.

Ranking: markets named in `include_ids` (condition id, slug or Gamma id) first, whatever their liquidity
or category, then the rest by liquidity, then volume (24 h, then all time), best first, up to
`max_markets` in all. Neg-risk markets of one event share `event_id`, which the engine uses as their
exposure cluster.

Times (unix ms): `end_ts` is Gamma's `endDate`, when trading closes; a market whose `endDate` cannot be
read is skipped, since without a close time no close window would ever stop its quotes. `start_ts` is
the start of the market's trading window, which sets its life length and so its market-state clocks (a
15-minute market gets a 60-second close window, a long one 24 hours). For crypto up/down markets
(`btc-updown-15m-1790586000`, `bitcoin-up-or-down-...`) that is the window start: `eventStartTime`, else
the event's `startTime`, else the slug's unix time; their `startDate` is when the market was created,
about a day earlier. For every other market it is `startDate`, else `acceptingOrdersTimestamp`, else
the event's `startDate`: `eventStartTime` there is when the real-world event (a game) starts, while
trading began at listing. A candidate that cannot be read or is not before `endDate` is passed over; a
start that stays unknown is None, which the clocks treat as a long market (the wider close window).
Either is logged once per market, naming the field.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import orjson

from engine.domain import FeeSchedule, Market, RewardParams
from engine.logs import log_event
from engine.units import UnitError, qty_from_str, tick_from_str

LOG = logging.getLogger("bigearn.venues.polymarket.discovery")

PAGE_LIMIT = 100  # Gamma's keyset maximum
MAX_PAGES = 1_000  # a guard against a cursor that never ends
DETAIL_CONCURRENCY = 8
HTTP_TIMEOUT_S = 10.0
ATTEMPTS = 3
RETRY_DELAY_S = 0.25

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_UPDOWN_SLUG = re.compile(r"(?:^|-)(?:updown|up-or-down)(?:-|$)")
_SLUG_START = re.compile(r"-(\d{9,11})$")  # btc-updown-15m-1790586000: the window start, unix seconds


class DiscoveryError(Exception):
    """The market listing itself could not be read; the message is one line for the operator."""


class MarketFormatError(ValueError):
    """One market's data is unusable; `field` names the field at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotTradable(Exception):
    """A well-formed market that cannot be traded now (closed, not accepting orders, ...)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A Gamma market, parsed: the provisional `Market` plus what ranking and filtering need."""

    market: Market
    gamma_id: str
    liquidity: Decimal
    volume_24h: Decimal
    volume: Decimal
    labels: frozenset[str]  # category and tags, lower case, for the category filter
    rebate_rate: Decimal
    date_note: str = ""  # why start_ts or end_ts is None, or which start fields were passed over
    date_level: int = logging.INFO  # WARNING when a date field was present but unusable

    def matches(self, ids: frozenset[str]) -> bool:
        m = self.market
        return bool(ids) and bool({m.condition_id, m.slug, self.gamma_id} & ids)


# --- field readers ---------------------------------------------------------------------------------


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MarketFormatError(key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _optional_text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MarketFormatError(key, f"expected a string, got {value!r}")
    return value.strip()


def _flag(row: Mapping[str, Any], key: str, *, default: bool = False) -> bool:
    value = row.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MarketFormatError(key, f"expected true or false, got {value!r}")
    return value


def _string_list(row: Mapping[str, Any], key: str) -> list[str]:
    """Gamma sends lists such as `clobTokenIds` as JSON text inside a string; v2 markets send arrays."""
    value = row.get(key)
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise MarketFormatError(key, f"not a JSON list: {value[:60]!r}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MarketFormatError(key, f"expected a list of non-empty strings, got {value!r}")
    return [v.strip() for v in value]


def _decimal(value: Any, field: str) -> Decimal:
    """An exact decimal from a JSON number or a numeric string (`0.001`, `"234338.14"`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MarketFormatError(field, f"expected a number, got {value!r}")
    try:
        # repr() of a float is the shortest text that reads back to it: 0.001 stays "0.001".
        out = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise MarketFormatError(field, f"expected a number, got {value!r}") from None
    if not out.is_finite():
        raise MarketFormatError(field, f"expected a finite number, got {value!r}")
    return out


def _amount(row: Mapping[str, Any], *keys: str) -> Decimal:
    """Liquidity and volume: the first present of `keys`, 0 when none is (new markets have neither)."""
    for key in keys:
        value = row.get(key)
        if value is not None and value != "":
            return _decimal(value, key)
    return Decimal(0)


def _rewards(row: Mapping[str, Any]) -> RewardParams | None:
    """The market's liquidity-reward terms, or None when it pays none (no max spread, or no daily pool)."""
    spread = row.get("rewardsMaxSpread")
    if spread in (None, "", 0):
        return None
    max_spread = _decimal(spread, "rewardsMaxSpread")
    if max_spread < 0:
        raise MarketFormatError("rewardsMaxSpread", f"expected cents >= 0, got {spread!r}")
    if max_spread == 0:
        return None
    min_size = row.get("rewardsMinSize")
    size = 0 if min_size in (None, "", 0) else _size(min_size, "rewardsMinSize")
    pools = row.get("clobRewards") or []
    if not isinstance(pools, list) or not all(isinstance(p, Mapping) for p in pools):
        raise MarketFormatError("clobRewards", f"expected a list of reward objects, got {str(pools)[:80]}")
    daily = sum((_amount(p, "rewardsDailyRate") for p in pools), Decimal(0))
    if daily < 0:
        raise MarketFormatError("clobRewards rewardsDailyRate", f"expected USDC >= 0, got {daily}")
    return RewardParams(max_spread_cents=float(max_spread), min_size=size, daily_rate=float(daily))


def _tick(value: Any, field: str) -> int:
    try:
        return tick_from_str(format(_decimal(value, field), "f"))
    except UnitError as exc:
        raise MarketFormatError(field, str(exc)) from None


def _size(value: Any, field: str) -> int:
    try:
        qty = qty_from_str(format(_decimal(value, field), "f"))
    except UnitError as exc:
        raise MarketFormatError(field, str(exc)) from None
    if qty <= 0:
        raise MarketFormatError(field, f"expected a positive size, got {value!r}")
    return qty


def _iso_ms(value: Any, field: str) -> int:
    """Unix ms of an ISO-8601 time with a zone (`Z` or an offset), with or without fractional seconds."""
    shown = repr(value)[:80]
    if not isinstance(value, str):
        raise MarketFormatError(field, f"expected an ISO-8601 time, got {shown}")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MarketFormatError(field, f"expected an ISO-8601 time, got {shown}") from None
    if stamp.tzinfo is None:
        raise MarketFormatError(field, f"time without a zone: {shown}")
    # Exact integer arithmetic: timestamp() * 1000 is a float and can land a millisecond short.
    return (stamp - _EPOCH) // _MS


def _time_ms(row: Mapping[str, Any], key: str) -> int | None:
    value = row.get(key)
    if value in (None, ""):
        return None
    return _iso_ms(value, key)


def _first_event(row: Mapping[str, Any]) -> Mapping[str, Any]:
    events = row.get("events")
    if isinstance(events, list) and events and isinstance(events[0], Mapping):
        return events[0]
    return {}


def _slug_start_ms(slug: str) -> int | None:
    match = _SLUG_START.search(slug)
    return int(match.group(1)) * 1000 if match else None


def _start_ms(row: Mapping[str, Any], slug: str, end_ts: int | None) -> tuple[int | None, list[str]]:
    """The start of the market's trading window (see the module docstring), and the candidates passed
    over with the reason, for the log."""
    event = _first_event(row)
    dates: list[tuple[str, Any]] = []
    if _UPDOWN_SLUG.search(slug):
        dates += [
            ("eventStartTime", row.get("eventStartTime")),
            ("events[0].startTime", event.get("startTime")),
            ("slug", _slug_start_ms(slug)),
        ]
    dates += [
        ("startDate", row.get("startDate")),
        ("acceptingOrdersTimestamp", row.get("acceptingOrdersTimestamp")),
        ("events[0].startDate", event.get("startDate")),
    ]
    passed_over: list[str] = []
    for field, value in dates:
        if value is None or value == "":
            continue
        try:
            start = value if field == "slug" else _iso_ms(value, field)
        except MarketFormatError as exc:
            passed_over.append(str(exc))
            continue
        if end_ts is not None and start >= end_ts:
            passed_over.append(f"{field}: {repr(value)[:80]} is not before endDate")
            continue
        return start, passed_over
    return None, passed_over


def _fees(schedule: Any, field: str) -> tuple[FeeSchedule, Decimal]:
    """Gamma's `feeSchedule` {rate, exponent, takerOnly, rebateRate} -> (fees, rebate rate)."""
    if not isinstance(schedule, Mapping):
        raise MarketFormatError(field, f"expected an object, got {schedule!r}")
    rate = _decimal(schedule.get("rate", 0), f"{field}.rate")
    exponent = _exponent(schedule.get("exponent", 1), f"{field}.exponent")
    taker_only = schedule.get("takerOnly", True)
    if not isinstance(taker_only, bool):
        raise MarketFormatError(f"{field}.takerOnly", f"expected true or false, got {taker_only!r}")
    rebate = _decimal(schedule.get("rebateRate", 0), f"{field}.rebateRate")
    if rate < 0 or rebate < 0:
        raise MarketFormatError(field, "negative rate")
    return FeeSchedule(rate=rate, exponent=exponent, taker_only=taker_only, rebate_rate=rebate), rebate


def _exponent(value: Any, field: str) -> int:
    exp = _decimal(value, field)
    if exp != exp.to_integral_value() or exp < 0:
        raise MarketFormatError(field, f"expected a whole number >= 0, got {value!r}")
    return int(exp)


def _labels(row: Mapping[str, Any]) -> frozenset[str]:
    out: set[str] = set()
    category = row.get("category")
    if isinstance(category, str) and category.strip():
        out.add(category.strip().lower())
    sources: list[Any] = [row.get("tags")]
    events = row.get("events")
    if isinstance(events, list):
        sources += [e.get("tags") for e in events if isinstance(e, Mapping)]
    for tags in sources:
        if not isinstance(tags, list):
            continue
        for tag in tags:
            if isinstance(tag, str):
                out.add(tag.strip().lower())
            elif isinstance(tag, Mapping):
                out.update(str(tag[k]).strip().lower() for k in ("label", "slug") if tag.get(k))
    return frozenset(out)


def _event_id(row: Mapping[str, Any], neg_risk: bool) -> str:
    events = row.get("events")
    if isinstance(events, list) and events:
        first = events[0]
        if not isinstance(first, Mapping) or first.get("id") in (None, ""):
            raise MarketFormatError("events[0].id", f"expected an event id, got {first!r}")
        return str(first["id"])
    if neg_risk:
        return _optional_text(row, "negRiskMarketID")
    return ""


def _ident(row: Any) -> str:
    if isinstance(row, Mapping):
        for key in ("conditionId", "slug", "id"):
            value = row.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
    return "?"


# --- Gamma -----------------------------------------------------------------------------------------


def parse_gamma_market(row: Any) -> Listing:
    """One Gamma market object. Raises `MarketFormatError` (naming the field) for unusable data and
    `NotTradable` for a well-formed market that is closed, inactive or not on the order book."""
    if not isinstance(row, Mapping):
        raise MarketFormatError("market", f"expected an object, got {type(row).__name__}")
    cid = _text(row, "conditionId").lower()
    if not cid.startswith("0x") or len(cid) < 4:
        raise MarketFormatError("conditionId", f"expected 0x-prefixed hex, got {cid!r}")
    active = _flag(row, "active")
    closed = _flag(row, "closed")
    archived = _flag(row, "archived")
    accepting = _flag(row, "acceptingOrders")
    on_book = _flag(row, "enableOrderBook")
    why = (
        "not active" if not active
        else "closed" if closed
        else "archived" if archived
        else "not on the order book" if not on_book
        else "not accepting orders" if not accepting
        else ""
    )  # fmt: skip
    if why:
        raise NotTradable(why)
    outcomes = _string_list(row, "outcomes")
    token_key = "clobTokenIds" if row.get("clobTokenIds") not in (None, "", "[]") else "positionIds"
    tokens = _string_list(row, token_key)
    if len(outcomes) != 2:
        raise MarketFormatError("outcomes", f"expected 2 outcomes (binary market), got {len(outcomes)}")
    if len(tokens) != 2 or tokens[0] == tokens[1]:
        raise MarketFormatError(token_key, f"expected 2 distinct token ids, got {tokens!r}")
    neg_risk = _flag(row, "negRisk")
    fees, rebate = FeeSchedule(), Decimal(0)
    schedule = row.get("feeSchedule")
    if schedule is not None:
        fees, rebate = _fees(schedule, "feeSchedule")
        if not _flag(row, "feesEnabled", default=True):
            fees = FeeSchedule(rebate_rate=rebate)
    slug = _optional_text(row, "slug")
    end_ts = _time_ms(row, "endDate")
    start_ts, passed_over = _start_ms(row, slug, end_ts)
    notes = (
        [*passed_over] if start_ts is not None else [*passed_over, "no start time: treated as a long market"]
    )
    if end_ts is None:
        notes.append("endDate missing: no close time")
    market = Market(
        condition_id=cid,
        question=_optional_text(row, "question") or cid,
        slug=slug,
        yes_token=tokens[0],
        no_token=tokens[1],
        yes_label=outcomes[0],
        no_label=outcomes[1],
        category=_optional_text(row, "category"),
        tick=_tick(row.get("orderPriceMinTickSize"), "orderPriceMinTickSize"),
        min_order_size=_size(row.get("orderMinSize"), "orderMinSize"),
        neg_risk=neg_risk,
        fees=fees,
        start_ts=start_ts,
        end_ts=end_ts,
        event_id=_event_id(row, neg_risk),
        rules=_optional_text(row, "description"),
        resolution_source=_optional_text(row, "resolutionSource"),
        rewards=_rewards(row),
    )
    gamma_id = row.get("id")
    return Listing(
        market=market,
        gamma_id="" if gamma_id is None else str(gamma_id),
        liquidity=_amount(row, "liquidityNum", "liquidity"),
        volume_24h=_amount(row, "volume24hr"),
        volume=_amount(row, "volumeNum", "volume"),
        labels=_labels(row),
        rebate_rate=rebate,
        date_note="; ".join(notes),
        date_level=logging.WARNING if passed_over else logging.INFO,
    )


# --- CLOB ------------------------------------------------------------------------------------------


def apply_clob_details(listing: Listing, body: Any) -> Market:
    """Complete a Gamma market with the CLOB's compact market (`/clob-markets/{cid}`), which wins where
    the two disagree: it is what the matching engine applies."""
    market = listing.market
    if not isinstance(body, Mapping):
        raise MarketFormatError("clob-markets", f"expected an object, got {type(body).__name__}")
    tokens = body.get("t")
    if not isinstance(tokens, list) or not all(isinstance(t, Mapping) for t in tokens):
        raise MarketFormatError("clob-markets t", f"expected a list of tokens, got {tokens!r}")
    ids = [str(t.get("t", "")) for t in tokens]
    if ids != [market.yes_token, market.no_token]:
        raise MarketFormatError("clob-markets t", f"tokens {ids} differ from Gamma's clobTokenIds")
    if body.get("ao") is False:
        raise NotTradable("the CLOB is not accepting orders")
    neg_risk = body.get("nr", False)
    if not isinstance(neg_risk, bool):
        raise MarketFormatError("clob-markets nr", f"expected true or false, got {neg_risk!r}")
    fees = market.fees
    fd = body.get("fd")
    if fd is not None:
        if not isinstance(fd, Mapping):
            raise MarketFormatError("clob-markets fd", f"expected an object, got {fd!r}")
        rate = _decimal(fd.get("r", 0), "clob-markets fd.r")
        if rate < 0:
            raise MarketFormatError("clob-markets fd.r", f"negative rate {rate}")
        taker_only = fd.get("to", False)  # omitted when false
        if not isinstance(taker_only, bool):
            raise MarketFormatError("clob-markets fd.to", f"expected true or false, got {taker_only!r}")
        fees = FeeSchedule(
            rate=rate,
            exponent=_exponent(fd.get("e", 1), "clob-markets fd.e"),
            taker_only=taker_only,
            rebate_rate=listing.rebate_rate,
        )
    return replace(
        market,
        tick=_tick(body["mts"], "clob-markets mts") if body.get("mts") is not None else market.tick,
        min_order_size=_size(body["mos"], "clob-markets mos")
        if body.get("mos") is not None
        else market.min_order_size,
        neg_risk=neg_risk,
        fees=fees,
    )


# --- HTTP ------------------------------------------------------------------------------------------


class _HttpFailure(Exception):
    def __init__(self, url: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"GET {url}: {detail}")
        self.status = status


async def _get_json(client: httpx.AsyncClient, url: str, params: Mapping[str, Any] | None = None) -> Any:
    """GET with a few retries for transport errors, 429 and 5xx; a 4xx other than 429 is final."""
    last: _HttpFailure | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))
        try:
            resp = await client.get(url, params=params)
        except httpx.HTTPError as exc:
            last = _HttpFailure(url, f"{type(exc).__name__}: {exc}")
            continue
        if resp.status_code == 200:
            try:
                return orjson.loads(resp.content)
            except orjson.JSONDecodeError:
                raise _HttpFailure(url, f"response is not JSON: {resp.text[:80]!r}", 200) from None
        last = _HttpFailure(url, f"HTTP {resp.status_code} {resp.text[:120]!r}", resp.status_code)
        if resp.status_code != 429 and resp.status_code < 500:
            break
    assert last is not None
    raise last


async def _gamma_rows(client: httpx.AsyncClient, gamma_url: str) -> list[Any]:
    url = gamma_url.rstrip("/") + "/markets/keyset"
    rows: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE_LIMIT, "closed": "false"}
        if cursor:
            params["after_cursor"] = cursor
        try:
            body = await _get_json(client, url, params)
        except _HttpFailure as exc:
            raise DiscoveryError(f"market listing: {exc}") from None
        if not isinstance(body, Mapping) or not isinstance(body.get("markets"), list):
            raise DiscoveryError(f"market listing: GET {url}: expected an object with a 'markets' list")
        page = body["markets"]
        rows.extend(page)
        cursor = body.get("next_cursor")
        if not page or not isinstance(cursor, str) or not cursor or cursor in seen:
            break
        seen.add(cursor)
    return rows


def _normal_id(ident: str) -> str:
    """Condition ids compare in lower case (Gamma and the CLOB both send them so); slugs and Gamma ids as given."""
    ident = ident.strip()
    return ident.lower() if ident[:2].lower() == "0x" else ident


def _skip(ident: str, reason: str, level: int = logging.WARNING) -> None:
    log_event(LOG, "market_skipped", level, market=ident, reason=reason)


async def _details(
    client: httpx.AsyncClient, clob_url: str, listing: Listing, gate: asyncio.Semaphore
) -> Market | None:
    cid = listing.market.condition_id
    url = f"{clob_url.rstrip('/')}/clob-markets/{cid}"
    async with gate:
        try:
            body = await _get_json(client, url)
        except _HttpFailure as exc:
            _skip(cid, f"CLOB market details: {exc}")
            return None
    try:
        return apply_clob_details(listing, body)
    except MarketFormatError as exc:
        _skip(cid, str(exc))
    except NotTradable as exc:
        _skip(cid, str(exc), logging.INFO)
    return None


async def discover_markets(
    gamma_url: str,
    clob_url: str,
    *,
    http: httpx.AsyncClient | None = None,
    max_markets: int = 50,
    min_liquidity_usdc: Decimal = Decimal(0),
    categories: frozenset[str] = frozenset(),
    include_ids: frozenset[str] = frozenset(),
) -> list[Market]:
    """The markets to trade, best first. See the module docstring."""
    if max_markets < 0:
        raise ValueError(f"max_markets must be >= 0, got {max_markets}")
    client = http if http is not None else httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)
    try:
        rows = await _gamma_rows(client, gamma_url)
        pinned_ids = frozenset(_normal_id(i) for i in include_ids)
        wanted = frozenset(c.strip().lower() for c in categories if c.strip())
        pinned, others = _select(rows, pinned_ids, wanted, Decimal(min_liquidity_usdc))
        others.sort(key=lambda item: (-item.liquidity, -item.volume_24h, -item.volume))  # stable: Gamma order
        gate = asyncio.Semaphore(DETAIL_CONCURRENCY)
        out = [m for m in await _complete(client, clob_url, pinned, gate) if m is not None]
        queue = list(others)
        while queue and len(out) < max_markets:
            batch, queue = queue[: max_markets - len(out)], queue[max_markets - len(out) :]
            out.extend(m for m in await _complete(client, clob_url, batch, gate) if m is not None)
        # Only for the markets kept, so each note is logged once per scan and not for the whole listing.
        noted = {item.market.condition_id: item for item in (*pinned, *others) if item.date_note}
        for m in out:
            item = noted.get(m.condition_id)
            if item is not None:
                log_event(LOG, "market_dates", item.date_level, market=m.condition_id, note=item.date_note)
        log_event(
            LOG, "markets_discovered", logging.INFO, markets=len(out), listed=len(rows), pinned=len(pinned)
        )
        return out
    finally:
        if http is None:
            await client.aclose()


def _select(
    rows: Iterable[Any], pinned_ids: frozenset[str], categories: frozenset[str], min_liquidity: Decimal
) -> tuple[list[Listing], list[Listing]]:
    pinned: list[Listing] = []
    others: list[Listing] = []
    seen: set[str] = set()
    for row in rows:
        try:
            listing = parse_gamma_market(row)
        except MarketFormatError as exc:
            _skip(_ident(row), str(exc))
            continue
        except NotTradable as exc:
            _skip(_ident(row), str(exc), logging.DEBUG)
            continue
        cid = listing.market.condition_id
        if cid in seen:
            continue  # a keyset page boundary can repeat a row
        seen.add(cid)
        if listing.matches(pinned_ids):
            pinned.append(listing)
        elif (not categories or listing.labels & categories) and listing.liquidity >= min_liquidity:
            others.append(listing)
    return pinned, others


async def _complete(
    client: httpx.AsyncClient, clob_url: str, listings: list[Listing], gate: asyncio.Semaphore
) -> list[Market | None]:
    return list(await asyncio.gather(*(_details(client, clob_url, item, gate) for item in listings)))


__all__ = [
    "DiscoveryError",
    "Listing",
    "MarketFormatError",
    "NotTradable",
    "apply_clob_details",
    "discover_markets",
    "parse_gamma_market",
]
