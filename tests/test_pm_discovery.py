"""Market discovery against the local exchange's Gamma and CLOB on loopback.

The exchange serves well-formed markets; to rank by liquidity, filter by category and meet malformed
data, a transport between our client and the exchange edits its answers (the exchange still serves
every request).
"""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from engine.domain import FeeSchedule, Market, Resolution
from engine.feeds.replay import ReplayMarket
from engine.risk.market_state import MarketStates, Phase
from engine.venues.polymarket.discovery import (
    LOG,
    DiscoveryError,
    MarketFormatError,
    NotTradable,
    discover_markets,
    parse_gamma_market,
)
from localexchange import ManualClock, start_exchange
from tests.test_sim_exchange_support import CID, CID2, NO2, START, YES2, market

Edit = Callable[[Any], Any]


class Tamper(httpx.AsyncBaseTransport):
    """Forwards to the exchange; rewrites the JSON of Gamma listings and CLOB compact markets."""

    def __init__(self, gamma: Edit | None = None, clob: Edit | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.gamma, self.clob = gamma, clob
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        self.paths.append(path)
        edit = (
            self.gamma
            if path.endswith("/markets/keyset")
            else self.clob
            if "/clob-markets/" in path
            else None
        )
        if edit is None or response.status_code != 200:
            return response
        body = orjson.loads(await response.aread())
        return httpx.Response(
            200, content=orjson.dumps(edit(body)), headers={"content-type": "application/json"}
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class Reasons(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.skipped: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {})
        if record.getMessage() == "market_skipped" and record.levelno >= logging.WARNING:
            self.skipped[fields["market"]] = fields["reason"]


async def discover(handle: Any, transport: Tamper | None = None, **kw: Any) -> list[Market]:
    async with httpx.AsyncClient(transport=transport) as http:
        return await discover_markets(handle.gamma_url, handle.base_url, http=http, **kw)


def serve(markets: list[Any]) -> Any:
    return start_exchange(markets=markets, lines=[], speed=None, clock=ManualClock(START))


CID3, CID4 = "0x" + "ef" * 32, "0x" + "12" * 32
YES3, NO3, YES4, NO4 = "31", "32", "41", "42"


def test_discovery_returns_the_exchanges_tradable_markets_with_their_details() -> None:
    async def go() -> None:
        catalog = [
            replace(market(fee_rate="0.04", neg_risk=True), event_id="evt-7"),
            replace(market(CID2, YES2, NO2, neg_risk=True), event_id="evt-7"),  # same neg-risk event
            market(CID3, YES3, NO3, tick=10, fee_rate="0.25", exponent=2, end_ts=START + 3_600_000),
            market(CID4, YES4, NO4, end_ts=START - 1_000),  # closed before the scan: not accepting orders
            ReplayMarket(
                market("0x" + "34" * 32, "51", "52"), Resolution("0x" + "34" * 32, START - 500, Decimal(1))
            ),
        ]
        async with serve(catalog) as h:
            found = await discover(h)
            assert [m.condition_id for m in found] == [CID, CID2, CID3]
            for m in found:
                ex = h.exchange.markets[m.condition_id]
                assert (m.yes_token, m.no_token, m.yes_label, m.no_label) == (
                    ex.yes_token,
                    ex.no_token,
                    "Yes",
                    "No",
                )
                assert (m.tick, m.min_order_size, m.neg_risk) == (ex.tick, ex.min_order_size, ex.neg_risk)
                assert (m.fees.rate, m.fees.exponent, m.fees.taker_only) == (
                    ex.fees.rate,
                    ex.fees.exponent,
                    True,
                )
                assert (m.question, m.slug, m.category) == (ex.question, ex.slug, "weather")
            a, b, c = found
            assert a.event_id == b.event_id == "evt-7" and a.neg_risk and b.neg_risk  # one cluster
            assert a.fees == FeeSchedule(rate=Decimal("0.04"), exponent=1)
            assert (c.tick, c.fees.rate, c.fees.exponent, c.neg_risk) == (10, Decimal("0.25"), 2, False)
            assert c.end_ts == START + 3_600_000 and a.end_ts is None

    asyncio.run(go())


def test_the_clob_wins_where_gamma_is_out_of_date() -> None:
    async def go() -> None:
        def stale_gamma(body: Any) -> Any:
            for row in body["markets"]:
                row.update(orderPriceMinTickSize=0.1, orderMinSize=1, negRisk=False)
                row["feeSchedule"] = {"exponent": 1, "rate": 0.5, "takerOnly": True, "rebateRate": 0.2}
            return body

        async with serve([market(fee_rate="0.04", neg_risk=True)]) as h:
            (m,) = await discover(h, Tamper(gamma=stale_gamma))
            assert (m.tick, m.min_order_size, m.neg_risk) == (100, 5_000_000, True)
            assert m.fees == FeeSchedule(
                rate=Decimal("0.04"), exponent=1, taker_only=True, rebate_rate=Decimal("0.2")
            )

    asyncio.run(go())


def test_ranking_by_liquidity_then_volume_with_filters_and_pinned_markets() -> None:
    async def go() -> None:
        numbers = {  # condition id -> (liquidity, 24 h volume, category)
            CID: ("100", 5.0, "Politics"),
            CID2: ("5000.5", 1.0, "Sports"),
            CID3: ("300", 2.0, "Politics"),
            CID4: ("300", 9.0, "Weather"),
        }

        def listed(body: Any) -> Any:
            for row in body["markets"]:
                liquidity, volume, category = numbers[row["conditionId"]]
                row.update(liquidity=liquidity, volume24hr=volume, category=category)
            return body

        catalog = [market(), market(CID2, YES2, NO2), market(CID3, YES3, NO3), market(CID4, YES4, NO4)]
        async with serve(catalog) as h:

            async def ids(**kw: Any) -> list[str]:
                return [m.condition_id for m in await discover(h, Tamper(gamma=listed), **kw)]

            assert await ids() == [CID2, CID4, CID3, CID]  # 300 vs 300: more volume first
            assert await ids(max_markets=2) == [CID2, CID4]
            assert await ids(min_liquidity_usdc=Decimal(300)) == [CID2, CID4, CID3]
            assert await ids(categories=frozenset({"politics"})) == [CID3, CID]
            pinned = h.exchange.markets[CID].slug
            assert await ids(max_markets=2, include_ids=frozenset({pinned})) == [CID, CID2]
            assert await ids(max_markets=0, include_ids=frozenset({CID3.upper()})) == [CID3]
            assert await ids(max_markets=0) == []

    asyncio.run(go())


def test_malformed_markets_are_skipped_with_a_reason_naming_the_field() -> None:
    async def go() -> None:
        def broken(cid: str, **fields: Any) -> Callable[[dict], dict]:
            def make(good: dict) -> dict:
                row = {**good, "conditionId": cid, **fields}
                return {k: v for k, v in row.items() if v is not None}

            return make

        bad = [
            broken("0x" + "a1" * 32, clobTokenIds='["1", '),
            broken("0x" + "a2" * 32, outcomes='["Yes", "No", "Maybe"]'),
            broken("0x" + "a3" * 32, orderPriceMinTickSize=0.003),
            broken("0x" + "a4" * 32, endDate="next tuesday"),
            broken("0x" + "a5" * 32, feeSchedule={"rate": "lots", "exponent": 1}),
            broken("0x" + "a6" * 32, orderMinSize=None),
            broken("not-hex"),
        ]

        def gamma(body: Any) -> Any:
            good = body["markets"][0]
            body["markets"] += [make(good) for make in bad] + [42]
            return body

        def clob(body: Any) -> Any:
            if body["c"] == CID2:
                body["t"][0]["t"] = "999"  # a token Gamma never listed
            return body

        reasons, level = Reasons(), LOG.level
        LOG.addHandler(reasons)
        LOG.setLevel(logging.INFO)  # whatever another test configured for the "bigearn" logger
        try:
            async with serve([market(), market(CID2, YES2, NO2)]) as h:
                found = await discover(h, Tamper(gamma=gamma, clob=clob))
        finally:
            LOG.removeHandler(reasons)
            LOG.setLevel(level)
        assert [m.condition_id for m in found] == [CID]
        why = reasons.skipped
        assert why["0x" + "a1" * 32].startswith("clobTokenIds: not a JSON list")
        assert why["0x" + "a2" * 32] == "outcomes: expected 2 outcomes (binary market), got 3"
        assert why["0x" + "a3" * 32].startswith("orderPriceMinTickSize: tick size '0.003' is not one of")
        assert why["0x" + "a4" * 32].startswith("endDate: expected an ISO-8601 time")
        assert why["0x" + "a5" * 32].startswith("feeSchedule.rate: expected a number")
        assert why["0x" + "a6" * 32].startswith("orderMinSize: expected a number")
        assert why["not-hex"].startswith("conditionId: expected 0x-prefixed hex")
        assert why["?"] == "market: expected an object, got int"
        assert why[CID2] == f"clob-markets t: tokens ['999', '{NO2}'] differ from Gamma's clobTokenIds"

    asyncio.run(go())


def test_every_listing_page_is_read() -> None:
    async def go() -> None:
        catalog = [
            replace(market(f"0x{i:064x}", str(10_000 + 2 * i), str(10_001 + 2 * i)), slug=f"m-{i}")
            for i in range(105)
        ]
        async with serve(catalog) as h:
            transport = Tamper()
            found = await discover(h, transport, max_markets=500)
            assert len(found) == 105 and len({m.condition_id for m in found}) == 105
            assert transport.paths.count("/gamma/markets/keyset") == 2

    asyncio.run(go())


def test_a_listing_that_cannot_be_read_is_one_clear_error() -> None:
    async def go() -> None:
        async with serve([market()]) as h:
            async with httpx.AsyncClient() as http:
                with pytest.raises(
                    DiscoveryError, match=r"market listing: GET .*/nowhere/markets/keyset: HTTP 404"
                ):
                    await discover_markets(h.base_url + "/nowhere", h.base_url, http=http)
            with pytest.raises(DiscoveryError, match="expected an object with a 'markets' list"):
                await discover(h, Tamper(gamma=lambda body: body["markets"]))

    asyncio.run(go())


# The real Gamma object captured in the protocol notes (section 6.3), with the fields discovery reads.
CAPTURED = {
    "id": "559652",
    "question": "Will Gavin Newsom win the 2028 Democratic presidential nomination?",
    "conditionId": "0x0f49db97f71c68b1e42a6d16e3de93d85dbf7d4148e3f018eb79e88554be9f75",
    "slug": "will-gavin-newsom-win-the-2028-democratic-presidential-nomination-568",
    "endDate": "2028-11-08T04:59:00Z",
    "startDate": "2025-07-11T18:35:56.805Z",
    "liquidity": "234338.14646",
    "volume": "27987344.82",
    "outcomes": '["Yes", "No"]',
    "outcomePrices": '["0.1545", "0.8455"]',
    "clobTokenIds": '["54533043819946592547517511176940999955633860128497669742211153063842200957669", '
    '"87854174148074652060467921081181402357467303721471806610111179101805869578687"]',
    "active": True,
    "closed": False,
    "archived": False,
    "restricted": True,
    "enableOrderBook": True,
    "acceptingOrders": True,
    "orderPriceMinTickSize": 0.001,
    "orderMinSize": 5,
    "volumeNum": 27987344.82,
    "liquidityNum": 234338.14,
    "volume24hr": 2489.2,
    "negRisk": True,
    "negRiskMarketID": "0x2c3d",
    "feesEnabled": True,
    "feeSchedule": {"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0.25},
    "events": [{"id": "30829", "slug": "democratic-presidential-nominee-2028"}],
    "version": "v1",
}


def test_parse_the_captured_gamma_market() -> None:
    listing = parse_gamma_market(CAPTURED)
    m = listing.market
    assert m.yes_token.startswith("5453") and m.no_token.startswith("8785")
    assert (m.tick, m.min_order_size, m.neg_risk, m.event_id) == (10, 5_000_000, True, "30829")
    assert m.fees == FeeSchedule(
        rate=Decimal("0.04"), exponent=1, taker_only=True, rebate_rate=Decimal("0.25")
    )
    assert m.end_ts == 1_857_272_340_000  # 2028-11-08T04:59:00Z
    assert (listing.liquidity, listing.volume_24h, listing.volume) == (
        Decimal("234338.14"),
        Decimal("2489.2"),
        Decimal("27987344.82"),
    )


def test_parse_v2_position_ids_disabled_fees_and_untradable_markets() -> None:
    v2 = {**CAPTURED, "clobTokenIds": None, "positionIds": ["11", "12"], "feesEnabled": False, "events": []}
    m = parse_gamma_market(v2).market
    assert (m.yes_token, m.no_token, m.fees.rate, m.event_id) == ("11", "12", 0, "0x2c3d")
    for flags, why in (
        ({"closed": True}, "closed"),
        ({"acceptingOrders": False}, "not accepting orders"),
        ({"enableOrderBook": False}, "not on the order book"),
        ({"active": False}, "not active"),
    ):
        with pytest.raises(NotTradable, match=why):
            parse_gamma_market({**CAPTURED, **flags})
    with pytest.raises(MarketFormatError, match="acceptingOrders: expected true or false") as info:
        parse_gamma_market({**CAPTURED, "acceptingOrders": "yes"})
    assert info.value.field == "acceptingOrders"


# --- start and end times -----------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "gamma"


def gamma_rows(name: str) -> dict[str, dict[str, Any]]:
    """Fixture Gamma market objects by slug (see tests/fixtures/gamma/README.md)."""
    return {row["slug"]: row for row in json.loads((FIXTURES / name).read_text(encoding="utf-8"))}


def utc_ms(*parts: int, milli: int = 0) -> int:
    return calendar.timegm((*parts, 0, 0, 0)) * 1000 + milli


REAL = gamma_rows("real_2024_markets.json")
UPDOWN = gamma_rows("updown_markets.json")
M15, H1, H4 = (
    "btc-updown-15m-1790586000",
    "bitcoin-up-or-down-september-28-5am-et",
    "btc-updown-4h-1790582400",
)


@pytest.mark.parametrize(
    ("rows", "slug", "start", "end"),
    [
        # the 15-minute window, not startDate (listed the day before)
        (UPDOWN, M15, utc_ms(2026, 9, 28, 9, 0, 0), utc_ms(2026, 9, 28, 9, 15, 0)),
        (UPDOWN, H1, utc_ms(2026, 9, 28, 9, 0, 0), utc_ms(2026, 9, 28, 10, 0, 0)),
        # no eventStartTime: the slug's unix time; times written with +00:00
        (UPDOWN, H4, 1_790_582_400_000, utc_ms(2026, 9, 28, 12, 0, 0)),
        # a month-long market: startDate, milliseconds kept exactly
        (
            REAL,
            "nvidia-largest-company-in-july",
            utc_ms(2024, 7, 1, 17, 48, 35, milli=918),
            utc_ms(2024, 7, 31, 12, 0, 0),
        ),
        # no startDate on the market: acceptingOrdersTimestamp, ahead of the event's startDate
        (
            REAL,
            "will-brian-kim-win-the-wsop-main-event",
            utc_ms(2024, 7, 15, 16, 19, 39),
            utc_ms(2024, 7, 17, 12, 0, 0),
        ),
    ],
)
def test_start_and_end_come_from_the_gamma_fields_that_bound_trading(
    rows: dict[str, dict[str, Any]], slug: str, start: int, end: int
) -> None:
    listing = parse_gamma_market(rows[slug])
    assert (listing.market.start_ts, listing.market.end_ts) == (start, end)
    assert listing.date_note == ""


def test_a_discovered_15_minute_market_gets_the_short_close_window_and_a_long_one_24_hours() -> None:
    short = parse_gamma_market(UPDOWN[M15]).market
    long = parse_gamma_market(REAL["nvidia-largest-company-in-july"]).market
    states = MarketStates()
    states.add_market(short)
    states.add_market(long)
    assert short.end_ts is not None and long.end_ts is not None
    assert states.is_short(short.condition_id) and states.close_window_ms(short.condition_id) == 60_000
    assert states.phase(short.condition_id, short.end_ts - 61_000) is Phase.NORMAL
    assert states.phase(short.condition_id, short.end_ts - 60_000) is Phase.CLOSE_WINDOW
    assert not states.is_short(long.condition_id)
    assert states.close_window_ms(long.condition_id) == 24 * 3_600_000

    # Without its start the same market would be in its close window (no maker quotes) from the first second.
    unknown = MarketStates()
    unknown.add_market(replace(short, start_ts=None))
    assert unknown.phase(short.condition_id, short.end_ts - 15 * 60_000) is Phase.CLOSE_WINDOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-28T09:00:00Z", utc_ms(2026, 9, 28, 9, 0, 0)),
        ("2026-09-28T09:00:00.000Z", utc_ms(2026, 9, 28, 9, 0, 0)),
        ("2026-09-28T09:00:00.5Z", utc_ms(2026, 9, 28, 9, 0, 0, milli=500)),
        ("2026-09-28T09:00:00.123456+00:00", utc_ms(2026, 9, 28, 9, 0, 0, milli=123)),
        ("2026-09-28T05:00:00-04:00", utc_ms(2026, 9, 28, 9, 0, 0)),
        ("2026-09-28 09:00:00+00", utc_ms(2026, 9, 28, 9, 0, 0)),
    ],
)
def test_iso_times_with_or_without_fractions_and_with_z_or_an_offset(text: str, expected: int) -> None:
    assert parse_gamma_market({**UPDOWN[M15], "eventStartTime": text}).market.start_ts == expected


def test_an_unusable_start_field_is_passed_over_and_named() -> None:
    row = UPDOWN[M15]
    event = row["events"][0]
    cases = [
        # unreadable eventStartTime: the event's startTime
        ({"eventStartTime": "soon"}, utc_ms(2026, 9, 28, 9, 0, 0), "eventStartTime: expected an ISO-8601"),
        # a window start after the end is not a start: the next field
        ({"eventStartTime": "2026-09-28T09:15:00Z"}, utc_ms(2026, 9, 28, 9, 0, 0), "not before endDate"),
        # no window field at all, and a slug without a time: startDate, the listing
        (
            {"eventStartTime": None, "events": [{**event, "startTime": None}], "slug": "btc-updown-15m"},
            utc_ms(2026, 9, 27, 9, 2, 41, milli=117),
            "",
        ),
        # nothing usable: None, which the clocks treat as a long market
        (
            {
                "eventStartTime": 1790586000,
                "events": [],
                "slug": "btc-updown-15m",
                "startDate": "2026-09-27",
                "acceptingOrdersTimestamp": None,
            },
            None,
            "no start time",
        ),
    ]
    for change, start, note in cases:
        listing = parse_gamma_market({**row, **change})
        assert listing.market.start_ts == start, change
        assert note in listing.date_note
        assert listing.market.end_ts == utc_ms(2026, 9, 28, 9, 15, 0)
    dateless = parse_gamma_market(
        {
            **row,
            "eventStartTime": "x",
            "startDate": "y",
            "acceptingOrdersTimestamp": None,
            "events": [],
            "slug": "btc-updown-15m",
        }
    )
    assert dateless.market.start_ts is None
    assert dateless.date_note == (
        "eventStartTime: expected an ISO-8601 time, got 'x'; startDate: expected an ISO-8601 time, got 'y'; "
        "no start time: treated as a long market"
    )
    assert dateless.date_level == logging.WARNING
    assert parse_gamma_market({**row, "endDate": None}).date_note == "endDate missing: no close time"


class Notes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.notes: list[tuple[str, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "market_dates":
            fields = getattr(record, "fields", {})
            self.notes.append((fields["market"], fields["note"], record.levelno))


def test_discovery_from_the_local_exchange_sets_the_window_and_logs_a_bad_date_once() -> None:
    window = START + 10 * 60_000  # listed 10 minutes before its window opens
    updown = replace(
        market(CID3, YES3, NO3),
        slug=f"btc-updown-15m-{window // 1000}",
        start_ts=window,
        end_ts=window + 15 * 60_000,
    )
    long = replace(market(CID4, YES4, NO4), start_ts=START - 30 * 86_400_000, end_ts=START + 30 * 86_400_000)

    def garble(body: Any) -> Any:
        for row in body["markets"]:
            if row["conditionId"] == CID4:
                row["startDate"] = "last month"
        return body

    async def go() -> list[Market]:
        async with serve([updown, long]) as h:
            async with httpx.AsyncClient() as http:
                response = await http.get(h.gamma_url + "/markets/keyset")
            served = {row["conditionId"]: row for row in response.json()["markets"]}
            # As on Gamma: the listing time in startDate, the window in eventStartTime and the event's startTime.
            row = served[CID3]
            assert (row["startDate"], row["eventStartTime"], row["endDate"]) == (
                "2027-01-15T08:00:00Z",
                "2027-01-15T08:10:00Z",
                "2027-01-15T08:25:00Z",
            )
            assert row["events"][0]["startTime"] == row["eventStartTime"]
            assert "eventStartTime" in served[CID4] and served[CID4]["startDate"] == "2026-12-16T08:00:00Z"
            return await discover(h, Tamper(gamma=garble))

    notes, level = Notes(), LOG.level
    LOG.addHandler(notes)
    LOG.setLevel(logging.INFO)
    try:
        found = {m.condition_id: m for m in asyncio.run(go())}
    finally:
        LOG.removeHandler(notes)
        LOG.setLevel(level)
    assert (found[CID3].start_ts, found[CID3].end_ts) == (updown.start_ts, updown.end_ts)
    # startDate unreadable: the event's startDate, which the exchange serves as the same listing time
    assert (found[CID4].start_ts, found[CID4].end_ts) == (long.start_ts, long.end_ts)
    assert notes.notes == [(CID4, "startDate: expected an ISO-8601 time, got 'last month'", logging.WARNING)]
    states = MarketStates()
    for m in found.values():
        states.add_market(m)
    assert states.close_window_ms(CID3) == 60_000 and states.close_window_ms(CID4) == 24 * 3_600_000
