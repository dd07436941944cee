"""`--venue quotes`: top-of-book quotes with settled outcomes (engine/feeds/quotes.py, engine/venues/quotes.py).

Small hand-made quote and label files: parsing and every refusal, the one-level books, fills at the quoted
price up to the assumed depth, resting orders crossed by a later quote, collector series, withdrawn quotes,
settlement at the label, events, unlabelled markets, and the CLI end to end.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.clock import SimClock
from engine.config import load_settings
from engine.domain import Liquidity, OrderRequest, OrderType, Outcome, Side
from engine.feeds.events import BookDeltas, BookSnapshot, MarketClosed, MarketEvent, MarketResolved
from engine.feeds.quotes import (
    COARSE_TICK,
    FINE_TICK,
    QuoteData,
    QuoteDataError,
    event_id,
    load_labels,
    load_quotes,
    quote_condition_id,
)
from engine.runtime import SetupError, build
from engine.sim.matching import MSG_FAK, LatencyModel
from engine.venues.base import OrderCancelled, OrderFilled, OrderRejected, Settled, VenueEvent
from engine.venues.quotes import SERIES_CHANGED, QuoteVenue
from tests.test_replay_e2e import AGGRESSIVE, ANY_PRICE, REQUIRED, replay

T0 = 1_783_700_000_000
CAD = 120_000  # the collector's cadence in these files
SHARES = 1_000_000
HEADER = "ts,slug,category,bid,ask,segment"
LABELS = [
    ("alpha", "1", "Who wins the final?", "sports"),
    ("beta", "0", "Who wins the final?", "sports"),
    ("gamma", "0", "Will it rain, tomorrow?", "climate"),
]



def q(k: float, slug: str, bid: str, ask: str, segment: int = 1, category: str = "sports") -> str:
    """One quote line, `k` cadences after T0."""
    return f"{T0 + int(k * CAD)},{slug},{category},{bid},{ask},{segment}"


def write(path: Path, lines: Sequence[str], header: str = HEADER) -> Path:
    text = "\n".join([header, *lines]) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_labels(path: Path, rows: Sequence[tuple[str, str, str, str]] = LABELS) -> Path:
    lines = [f'{slug},{y},"{question}",{category}' for slug, y, question, category in rows]
    return write(path, lines, header="slug,y,question,category")


def load(tmp_path: Path, lines: Sequence[str], gz: bool = False) -> QuoteData:
    quotes = write(tmp_path / ("quotes.csv.gz" if gz else "quotes.csv"), lines)
    return load_quotes(quotes, load_labels(write_labels(tmp_path / "labels.csv")))


def cid(slug: str) -> str:
    return quote_condition_id(slug)


# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_quotes_and_labels_become_markets(tmp_path: Path, gz: bool) -> None:
    data = load(
        tmp_path,
        [
            q(0, "alpha", "0.44", "0.5"),
            q(0, "delta", "0.3", "0.4"),
            q(0, "gamma", "0.2", "0.25", category="climate"),
            q(1, "alpha", "0.44", "0.5"),
            q(1, "beta", "0.135", "0.2"),
            q(1, "delta", "0.3", "0.4"),
            q(2, "gamma", "0.2", "0.25", category="climate"),
            q(3, "gamma", "0.2", "0.25", category="climate"),
        ],
        gz=gz,
    )
    assert [m.market.slug for m in data.markets] == ["alpha", "gamma", "beta"]  # in order of first quote
    assert len(data) == 6 and data.skipped_markets == 1  # delta has no label: its 2 quotes are left out
    assert data.cadence_ms == CAD
    alpha, gamma, beta = (m.market for m in data.markets)
    assert alpha.condition_id == cid("alpha") and alpha.condition_id.startswith("0x") and len(alpha.condition_id) == 66
    assert alpha.question == "Who wins the final?" and alpha.category == "sports"
    assert (alpha.yes_label, alpha.no_label) == ("Yes", "No") and alpha.yes_token != alpha.no_token
    assert alpha.tick == COARSE_TICK and beta.tick == FINE_TICK  # 0.135 needs the 0.001 tick
    assert alpha.min_order_size == 5 * SHARES and alpha.fees.rate == 0
    assert (alpha.start_ts, alpha.end_ts) == (T0, T0 + CAD + CAD)  # closes one cadence after its last quote
    assert (gamma.start_ts, gamma.end_ts) == (T0, T0 + 3 * CAD + CAD)
    # The outcomes of one question are one event; the exposure clusters link them.
    assert alpha.event_id == beta.event_id == event_id("Who wins the final?") != gamma.event_id
    assert not alpha.neg_risk  # the data cannot say whether the event is neg-risk
    resolutions = {m.market.slug: m.resolution for m in data.markets}
    assert resolutions["alpha"] is not None and resolutions["alpha"].yes_payout == 1
    assert resolutions["beta"] is not None and resolutions["beta"].yes_payout == 0
    assert list(data.bid[:2]) == [4400, 2000] and list(data.ask[:2]) == [5000, 2500]  # price units, YES terms


def test_columns_are_found_by_name(tmp_path: Path) -> None:
    quotes = write(
        tmp_path / "q.csv", [f"1,0.5,0.6,alpha,{T0},sports,x"], header="segment,bid,ask,slug,ts,category,extra"
    )
    labels = write(tmp_path / "l.csv", ["Who?,alpha,1"], header="question,slug,y")  # category is optional
    data = load_quotes(quotes, load_labels(labels))
    assert len(data) == 1 and data.ts[0] == T0 and (data.bid[0], data.ask[0]) == (5000, 6000)
    assert data.markets[0].market.question == "Who?"


def test_the_cadence_is_the_usual_gap_within_one_series(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [q(0, "alpha", "0.4", "0.5"), q(1, "alpha", "0.4", "0.5"), q(2, "alpha", "0.4", "0.5"),
         q(40, "alpha", "0.4", "0.5", segment=2), q(41, "alpha", "0.4", "0.5", segment=2)],
    )  # fmt: skip
    assert data.cadence_ms == CAD  # the 38-cadence gap between the two series is not a gap within one
    assert list(data.series_start) == [1, 0, 0, 1, 0]


def refusal(tmp_path: Path, lines: Sequence[str], header: str = HEADER) -> str:
    path = write(tmp_path / "quotes.csv", lines, header=header)
    with pytest.raises(QuoteDataError) as err:
        load_quotes(path, load_labels(write_labels(tmp_path / "labels.csv")))
    message = str(err.value)
    assert "\n" not in message
    return message.replace(str(path), "FILE")


ACCEPTED_PRICE = "accepted: a YES price in (0, 1) with at most 3 decimals (tick 0.01, or 0.001 where needed)"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"x{T0},alpha,sports,0.4,0.5,1", "FILE line 3: field 'ts' = 'x"),
        (f"{T0}.5,alpha,sports,0.4,0.5,1", "accepted: unix milliseconds (an integer >= 0)"),
        ("-5,alpha,sports,0.4,0.5,1", "FILE line 3: field 'ts' = '-5': accepted: unix milliseconds"),
        (f"{T0 - 1},alpha,sports,0.4,0.5,1", f"field 'ts' = {T0 - 1} goes back in time (previous {T0}): the file must be sorted by ts"),
        (f"{T0},,sports,0.4,0.5,1", "FILE line 3: field 'slug' = '': accepted: a non-empty market slug"),
        (f"{T0},alpha,sports,abc,0.5,1", f"FILE line 3: field 'bid' = 'abc': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,,0.5,1", f"FILE line 3: field 'bid' = '': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0,0.5,1", f"FILE line 3: field 'bid' = '0': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.4,1,1", f"FILE line 3: field 'ask' = '1': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.4,1.5,1", f"FILE line 3: field 'ask' = '1.5': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.4,0.5125,1", f"FILE line 3: field 'ask' = '0.5125': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.4,nan,1", f"FILE line 3: field 'ask' = 'nan': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.4,-0.5,1", f"FILE line 3: field 'ask' = '-0.5': {ACCEPTED_PRICE}"),
        (f"{T0},alpha,sports,0.5,0.4,1", "FILE line 3: field 'ask' = '0.4' is below 'bid' = '0.5' (a crossed quote): accepted: ask >= bid"),
        (f"{T0},alpha,sports,0.4,0.5,one", "FILE line 3: field 'segment' = 'one': accepted: a collector series number (an integer >= 0)"),
        (f"{T0},alpha,sports,0.4,0.5,", "FILE line 3: field 'segment' = '': accepted: a collector series number"),
        (f"{T0},alpha,sports,0.4,0.5", "FILE line 3: 5 fields: accepted: 6 comma-separated fields, as in the header (ts,slug,category,bid,ask,segment)"),
        (f"{T0},alpha,sports,0.4,0.5,1,7", "FILE line 3: 7 fields: accepted: 6 comma-separated fields"),
    ],
)  # fmt: skip
def test_every_malformed_field_is_refused_naming_file_line_and_field(
    tmp_path: Path, line: str, expected: str
) -> None:
    message = refusal(tmp_path, [f"{T0},alpha,sports,0.4,0.5,1", line])
    assert expected in message, message


def test_a_malformed_row_of_an_unlabelled_market_is_refused_too(tmp_path: Path) -> None:
    assert "field 'bid' = '2'" in refusal(tmp_path, [f"{T0},delta,sports,2,0.5,1"])


@pytest.mark.parametrize(
    ("header", "lines", "expected"),
    [
        ("ts,slug,category,bid,segment", [], "FILE line 1: header 'ts,slug,category,bid,segment' lacks ask: accepted: a CSV header with the columns ts,slug,category,bid,ask,segment"),
        ("", [], "FILE line 1: header '' lacks ts, slug, category, bid, ask, segment"),
    ],
)  # fmt: skip
def test_a_file_without_the_columns_is_refused(tmp_path: Path, header: str, lines: list[str], expected: str) -> None:
    assert expected in refusal(tmp_path, lines, header=header)


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    labels = load_labels(write_labels(tmp_path / "labels.csv"))
    with pytest.raises(QuoteDataError, match="quotes file not found"):
        load_quotes(tmp_path / "missing.csv", labels)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(QuoteDataError, match="the quotes file is empty: accepted: a CSV header"):
        load_quotes(empty, labels)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"ts,slug,category,bid,ask,segment\n" + b"1,a,b,0.1,0.2,1\n" * 1000)[:-12])
    with pytest.raises(QuoteDataError, match="cannot read the quotes file"):
        load_quotes(broken, labels)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"ts,slug,category,bid,ask,segment\n1,caf\xe9,x,0.1,0.2,1\n")
    with pytest.raises(QuoteDataError, match="not UTF-8 text"):
        load_quotes(latin, labels)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["alpha,2,Q,sports"], "FILE line 2: field 'y' = '2': accepted: 1 (YES won), 0 (NO won) or a payout between 0 and 1"),
        (["alpha,yes,Q,sports"], "FILE line 2: field 'y' = 'yes': accepted: 1 (YES won)"),
        (["alpha,,Q,sports"], "FILE line 2: field 'y' = '': accepted"),
        ([",1,Q,sports"], "FILE line 2: field 'slug' = '': accepted: a non-empty market slug"),
        (["alpha,1,Q,sports", "alpha,0,Q,sports"], "FILE line 3: field 'slug' = 'alpha' is labelled twice (first on line 2): accepted: one label per market"),
        (["alpha,1,Q"], "FILE line 2: 3 fields: accepted: 4 comma-separated fields, as in the header (slug,y,question,category)"),
        ([], "FILE: the labels file has no labels"),
    ],
)  # fmt: skip
def test_malformed_labels_are_refused(tmp_path: Path, lines: list[str], expected: str) -> None:
    path = write(tmp_path / "labels.csv", lines, header="slug,y,question,category")
    with pytest.raises(QuoteDataError) as err:
        load_labels(path)
    assert expected in str(err.value).replace(str(path), "FILE")


def test_labels_need_their_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "labels.csv", ["alpha,1"], header="slug,outcome")
    with pytest.raises(QuoteDataError, match="lacks y, question: accepted: a CSV header with the columns slug,y,question"):
        load_labels(path)


def test_a_fractional_payout_is_a_label(tmp_path: Path) -> None:
    path = write(tmp_path / "labels.csv", ["alpha,0.5,Q,x"], header="slug,y,question,category")
    assert load_labels(path)["alpha"].y == Decimal("0.5")


# --- the venue --------------------------------------------------------------------------------------------


class Script:
    """An EventSink that records everything and submits orders: each `(when, request)` goes when the first event
    matching `when` arrives (market or venue event)."""

    def __init__(self, venue: QuoteVenue, plan: Sequence[tuple[Callable[[Any], bool], OrderRequest]] = ()) -> None:
        self.venue = venue
        self.plan = list(plan)
        self.market: list[MarketEvent] = []
        self.events: list[VenueEvent] = []

    async def _react(self, event: Any) -> None:
        due = [(w, r) for w, r in self.plan if w(event)]
        for item in due:
            self.plan.remove(item)
            await self.venue.submit(item[1])

    async def on_market(self, event: MarketEvent) -> None:
        self.market.append(event)
        await self._react(event)

    async def on_venue(self, event: VenueEvent) -> None:
        self.events.append(event)
        await self._react(event)

    def fills(self) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled)]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.market + self.events if isinstance(e, kind)]


def make_venue(data: QuoteData, depth: int = 100) -> QuoteVenue:
    return QuoteVenue(
        SimClock(data.ts[0]),
        data,
        starting_cash=Decimal(1000),
        latency=LatencyModel(150, 100, 0),
        seed=1,
        depth=depth * SHARES,
    )


def order(
    n: int,
    slug: str,
    side: Side,
    price: str,
    shares: float,
    order_type: OrderType = OrderType.GTC,
    outcome: Outcome = Outcome.YES,
    venue: QuoteVenue | None = None,
) -> OrderRequest:
    assert venue is not None
    market = venue.catalog[cid(slug)].market
    return OrderRequest(
        f"c{n}", market.condition_id, market.token(outcome), outcome, side, int(Decimal(price) * 10_000),
        int(shares * SHARES), order_type,
    )  # fmt: skip


def at(slug: str, k: float) -> Callable[[Any], bool]:
    """The book event of `slug` at `k` cadences."""
    return lambda e: isinstance(e, BookSnapshot | BookDeltas) and e.condition_id == cid(slug) and e.ts == T0 + int(k * CAD)


def run(venue: QuoteVenue, sink: Script, until: int | None = None) -> Script:
    asyncio.run(venue.run(sink, until_ts=until))
    return sink


def test_each_quote_is_a_one_level_book_and_repeats_change_nothing(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [q(0, "alpha", "0.44", "0.5"), q(1, "alpha", "0.44", "0.5"), q(2, "alpha", "0.45", "0.5"),
         q(3, "alpha", "0.45", "0.52")],
    )  # fmt: skip
    venue = make_venue(data, depth=100)
    sink = run(venue, Script(venue))
    books = [e for e in sink.market if isinstance(e, BookSnapshot | BookDeltas)]
    assert books[0] == BookSnapshot(cid("alpha"), T0, [(4400, 100 * SHARES)], [(5000, 100 * SHARES)])
    # The repeat at 1 cadence changes nothing (the feed has spoken, no level moved); each move arrives as
    # level deltas.
    assert books[1] == BookDeltas(cid("alpha"), T0 + CAD, [])
    assert isinstance(books[2], BookDeltas) and books[2].ts == T0 + 2 * CAD
    assert sorted(books[2].deltas) == [(True, 4400, 0), (True, 4500, 100 * SHARES)]
    assert sorted(books[3].deltas) == [(False, 5000, 0), (False, 5200, 100 * SHARES)]
    assert len(books) == 4 and venue.lines_processed == 4
    assert venue.matcher.books[cid("alpha")].best_bid == 4500
    # The market closes one cadence after its last quote and settles at its label 90 s later.
    assert sink.of(MarketClosed) == [MarketClosed(cid("alpha"), T0 + 4 * CAD)]
    assert sink.of(MarketResolved) == [MarketResolved(cid("alpha"), T0 + 4 * CAD + 90_000, Decimal(1))]
    assert venue.stale_markets(T0 + 3 * CAD + CAD // 2) == set()
    lines = list(venue.lines())
    assert [(line.ts, line.bids, line.asks) for line in lines][0] == (T0, [(4400, 100 * SHARES)], [(5000, 100 * SHARES)])


def test_a_marketable_order_fills_at_the_quoted_price_up_to_the_depth_and_no_more(tmp_path: Path) -> None:
    data = load(tmp_path, [q(0, "alpha", "0.44", "0.5"), q(1, "alpha", "0.44", "0.5"), q(2, "alpha", "0.44", "0.51"),
                           q(3, "alpha", "0.44", "0.51")])  # fmt: skip
    venue = make_venue(data, depth=100)
    first = lambda e: isinstance(e, OrderFilled) and e.fill.client_order_id == "c1"  # noqa: E731
    sink = run(
        venue,
        Script(
            venue,
            [
                (at("alpha", 0), order(1, "alpha", Side.BUY, "0.55", 150, OrderType.FAK, venue=venue)),
                (first, order(2, "alpha", Side.BUY, "0.55", 10, OrderType.FAK, venue=venue)),  # same quote: none left
                (at("alpha", 2), order(3, "alpha", Side.BUY, "0.55", 150, OrderType.FAK, venue=venue)),  # it moved
            ],
        ),
    )
    fills = sink.fills()
    assert [(f.fill.client_order_id, f.fill.price, f.fill.size, f.fill.liquidity) for f in fills] == [
        ("c1", 5000, 100 * SHARES, Liquidity.TAKER),  # at the quoted ask, not the limit; the depth and no more
        ("c3", 5100, 100 * SHARES, Liquidity.TAKER),
    ]
    assert fills[0].fill.ts == T0 + 150  # after the submit latency
    assert fills[0].fill.fee == 0
    assert OrderCancelled("c1", T0 + 150, "FAK remainder") in sink.events
    assert [e.reason for e in sink.events if isinstance(e, OrderRejected)] == [MSG_FAK]


def test_selling_no_takes_the_quoted_bid(tmp_path: Path) -> None:
    """A NO order is the mirror of a YES order: buying NO at 1 - bid takes the quoted bid."""
    data = load(tmp_path, [q(0, "alpha", "0.44", "0.5"), q(1, "alpha", "0.44", "0.5")])
    venue = make_venue(data, depth=20)
    sink = run(venue, Script(venue, [(at("alpha", 0), order(1, "alpha", Side.BUY, "0.6", 50, OrderType.FAK,
                                                               Outcome.NO, venue=venue))]))  # fmt: skip
    [fill] = sink.fills()
    assert (fill.fill.outcome, fill.fill.price, fill.fill.size) == (Outcome.NO, 5600, 20 * SHARES)


def test_a_resting_order_fills_when_a_later_quote_crosses_it(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [q(0, "alpha", "0.44", "0.5"), q(1, "alpha", "0.44", "0.47"), q(2, "alpha", "0.4", "0.46"),
         q(3, "alpha", "0.4", "0.46")],
    )  # fmt: skip
    venue = make_venue(data, depth=100)
    sink = run(
        venue,
        Script(
            venue,
            [
                (at("alpha", 0), order(1, "alpha", Side.BUY, "0.46", 150, venue=venue)),
                (at("alpha", 0), order(2, "alpha", Side.BUY, "0.45", 10, venue=venue)),
            ],
        ),
    )
    fills = sink.fills()
    # 0.47 does not reach either bid; 0.46 crosses the better one: it fills at its own price, as a maker, up
    # to the quoted depth; the 0.45 bid behind it gets nothing of that size.
    assert [(f.fill.client_order_id, f.fill.price, f.fill.size, f.fill.liquidity, f.fill.ts) for f in fills] == [
        ("c1", 4600, 100 * SHARES, Liquidity.MAKER, T0 + 2 * CAD)
    ]
    assert fills[0].remaining == 50 * SHARES
    assert venue.matcher.open_orders() == []  # both cancelled at the close
    assert [e.client_order_id for e in sink.events if isinstance(e, OrderCancelled)] == ["c1", "c2"]


def test_a_held_yes_of_a_market_that_resolved_yes_pays_one(tmp_path: Path) -> None:
    data = load(tmp_path, [q(0, "alpha", "0.44", "0.5"), q(0, "beta", "0.5", "0.56"), q(1, "alpha", "0.44", "0.5"),
                           q(1, "beta", "0.5", "0.56")])  # fmt: skip
    venue = make_venue(data)
    sink = run(
        venue,
        Script(
            venue,
            [
                (at("alpha", 0), order(1, "alpha", Side.BUY, "0.5", 10, OrderType.FAK, venue=venue)),
                (at("beta", 0), order(2, "beta", Side.BUY, "0.56", 10, OrderType.FAK, venue=venue)),
            ],
        ),
    )
    settled = {e.condition_id: e for e in sink.of(Settled)}
    alpha, beta = settled[cid("alpha")], settled[cid("beta")]
    assert (alpha.outcome, alpha.size, alpha.payout_per_share, alpha.cash) == (Outcome.YES, 10 * SHARES, 1, 10)
    assert alpha.ts == T0 + 2 * CAD + 90_000  # one cadence after the last quote, then 90 s
    assert (beta.payout_per_share, beta.cash) == (0, 0)  # beta's label is 0
    assert venue.matcher.account.cash == Decimal(1000) - Decimal("5") - Decimal("5.6") + 10


def test_a_quote_not_renewed_by_the_next_poll_is_withdrawn_and_nothing_is_stale(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [q(0, "alpha", "0.44", "0.5"), q(0, "gamma", "0.2", "0.25"), q(1, "gamma", "0.2", "0.25"),
         q(2, "gamma", "0.2", "0.25"), q(3, "alpha", "0.44", "0.5"), q(3, "gamma", "0.2", "0.25")],
    )  # fmt: skip
    venue = make_venue(data)
    sink = run(venue, Script(venue, [(at("alpha", 0), order(1, "alpha", Side.BUY, "0.45", 10, venue=venue))]))
    alpha = [e for e in sink.market if getattr(e, "condition_id", None) == cid("alpha")]
    # alpha misses the polls at 1 and 2: its quote stands 1.5 cadences, then its book is empty until 3.
    assert alpha[1] == BookSnapshot(cid("alpha"), T0 + int(1.5 * CAD), [], [])
    assert isinstance(alpha[2], BookDeltas) and alpha[2].ts == T0 + 3 * CAD
    assert sorted(alpha[2].deltas) == [(False, 5000, 100 * SHARES), (True, 4400, 100 * SHARES)]
    # Nothing traded while it was gone: the resting bid stayed and was cancelled only at the close.
    assert [e.reason for e in sink.events if isinstance(e, OrderCancelled)] == ["CANCELED_MARKET_CLOSED"]
    assert sink.fills() == []
    for k in (0.5, 1.4, 1.6, 2.5, 3.2):
        assert venue.stale_markets(T0 + int(k * CAD)) == set()


def test_a_new_series_starts_the_book_afresh(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [q(0, "alpha", "0.44", "0.5"), q(1, "alpha", "0.44", "0.5"),
         q(1.5, "alpha", "0.44", "0.5", segment=2), q(2.5, "alpha", "0.44", "0.5", segment=2),
         q(30, "alpha", "0.44", "0.5", segment=3), q(31, "alpha", "0.6", "0.62", segment=3)],
    )  # fmt: skip
    venue = make_venue(data)
    sink = run(
        venue,
        Script(
            venue,
            [
                (at("alpha", 0), order(1, "alpha", Side.BUY, "0.5", 100, OrderType.FAK, venue=venue)),
                (at("alpha", 0), order(2, "alpha", Side.BUY, "0.45", 10, venue=venue)),
                (at("alpha", 1.5), order(3, "alpha", Side.BUY, "0.5", 100, OrderType.FAK, venue=venue)),
                (at("alpha", 1.5), order(4, "alpha", Side.BUY, "0.46", 10, venue=venue)),
            ],
        ),
    )
    books = [e for e in sink.market if isinstance(e, BookSnapshot) or (isinstance(e, BookDeltas) and e.deltas)]
    # Each series opens with a snapshot, though the price did not change; the 27-cadence gap between series 2
    # and 3 withdraws the book once series 2's last quote has stood its time, and nothing is ever stale.
    assert [(type(e).__name__, e.ts) for e in books] == [
        ("BookSnapshot", T0),
        ("BookSnapshot", T0 + int(1.5 * CAD)),
        ("BookSnapshot", T0 + 4 * CAD),
        ("BookSnapshot", T0 + 30 * CAD),
        ("BookDeltas", T0 + 31 * CAD),
    ]
    assert books[2] == BookSnapshot(cid("alpha"), T0 + 4 * CAD, [], [])
    # The depth taken in series 1 is fresh again in series 2: the change of series is not a move.
    assert [(f.fill.client_order_id, f.fill.size) for f in sink.fills()] == [("c1", 100 * SHARES), ("c3", 100 * SHARES)]
    # Resting orders do not carry over a series: c2 is cancelled when series 2 starts, c4 when series 3 does,
    # so series 3's move to 0.6 / 0.62 (through both their prices) fills neither.
    cancels = [(e.client_order_id, e.ts, e.reason) for e in sink.events if isinstance(e, OrderCancelled)]
    assert ("c2", T0 + int(1.5 * CAD), SERIES_CHANGED) in cancels and ("c4", T0 + 30 * CAD, SERIES_CHANGED) in cancels
    assert venue.stale_markets(T0 + 20 * CAD) == set()


# --- through the engine -----------------------------------------------------------------------------------


def settings_for(tmp_path: Path, quotes: Path, labels: Path, **extra: Any) -> Any:
    overrides = {
        "venue.kind": "quotes",
        "venue.data": str(quotes),
        "venue.labels": str(labels),
        "venue.speed": "max",
        "store.path": str(tmp_path / "run.db"),
        **extra,
    }
    return load_settings(None, overrides=overrides, env={})


def test_the_markets_of_one_event_are_linked_in_the_engine(tmp_path: Path) -> None:
    quotes = write(tmp_path / "q.csv", [q(0, "alpha", "0.4", "0.5"), q(0, "beta", "0.5", "0.6"), q(0, "gamma", "0.2", "0.3")])
    labels = write_labels(tmp_path / "l.csv")

    async def clusters() -> tuple[str, str, str]:
        rt = await build(settings_for(tmp_path, quotes, labels))
        try:
            return tuple(rt.engine.exposure.cluster(cid(s)) for s in ("alpha", "beta", "gamma"))  # type: ignore[return-value]
        finally:
            await rt.store.close()

    alpha, beta, gamma = asyncio.run(clusters())
    assert alpha == beta != gamma


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"venue.labels": ""}, "venue.kind = 'quotes' needs venue.data (the quotes file) and venue.labels"),
        ({"venue.data": ""}, "needs venue.data (the quotes file) and venue.labels (the labels file): --data FILE --labels FILE"),
    ],
)
def test_the_quotes_venue_needs_both_files(tmp_path: Path, extra: dict[str, str], expected: str) -> None:
    quotes = write(tmp_path / "q.csv", [q(0, "alpha", "0.4", "0.5")])
    settings = settings_for(tmp_path, quotes, write_labels(tmp_path / "l.csv"), **extra)
    with pytest.raises(SetupError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        asyncio.run(build(settings))


def test_quotes_of_unlabelled_markets_only_is_a_setup_error(tmp_path: Path) -> None:
    quotes = write(tmp_path / "q.csv", [q(0, "delta", "0.4", "0.5")])
    settings = settings_for(tmp_path, quotes, write_labels(tmp_path / "l.csv"))
    with pytest.raises(SetupError, match="no quote of a labelled market \\(1 quoted markets have no label"):
        asyncio.run(build(settings))


def e2e_files(tmp_path: Path) -> tuple[Path, Path]:
    """Two hours of polls with a break between two collector series: alpha (YES won) jumps, beta (NO won)
    drifts, gamma (NO won) is dropped from every third poll and its bid falls through the bids resting at it;
    delta has no label."""
    lines = []
    for k in range(60):
        seg = 1 if k < 40 else 2
        if 30 <= k < 40:
            continue  # the collector is off between the two series
        a = 0.50 if k < 12 else 0.42 if k < 40 else 0.47
        lines.append(q(k, "alpha", f"{a - 0.02:.3f}", f"{a + 0.02:.3f}", segment=seg))
        lines.append(q(k, "beta", f"{0.40 + 0.002 * k:.3f}", f"{0.44 + 0.002 * k:.3f}", segment=seg))
        if k % 3:  # polled, but dropped every third time; at 5 its bid falls through the bids resting there
            lines.append(q(k, "gamma", *(("0.2", "0.25") if k < 5 else ("0.15", "0.22")), segment=seg, category="climate"))
        lines.append(q(k, "delta", "0.3", "0.4", segment=seg))
    return write(tmp_path / "quotes.csv.gz", lines), write_labels(tmp_path / "labels.csv")


def test_replay_venue_quotes_end_to_end(tmp_path: Path) -> None:
    quotes, labels = e2e_files(tmp_path)
    args = ("--venue", "quotes", "--data", str(quotes), "--labels", str(labels), "--mode", "auto", "--seed", "5")
    env = {**AGGRESSIVE, **ANY_PRICE, "BIGEARN_RISK__MIN_DEPTH_USDC": "0"}
    a = replay(tmp_path, "a", *args, env=env)
    assert a.keys() >= REQUIRED
    assert a["venue"] == "QUOTES" and a["markets"] == 3 and a["unlabelled_markets_skipped"] == 1
    assert a["events"] == 50 * 2 + sum(1 for k in range(60) if not 30 <= k < 40 and k % 3)  # labelled quotes
    assert a["state"] == "STOPPED" and a["error"] == ""
    # Polls 2 minutes apart, dropped quotes and a 20-minute break between series: none of it is a stale feed.
    assert [h for h in a["halts"] if h["kind"].startswith("stale")] == []
    assert not {k for k in a["decisions"] if k.startswith("SKIP_STALE")}
    assert a["brier_model"] is not None and a["brier_market"] is not None and a["scored_evaluations"] > 0
    value = a["strategies"]["value"]
    assert {"orders", "fills", "realized_pnl"} <= value.keys()
    assert a["orders"] > 0 and a["fills"] > 0 and value["fills"] == a["fills"]
    assert a["settlements"] > 0 and a["open_positions"] == 0 and a["pnl_identity_ok"] is True
    assert Decimal(a["cash"]) == Decimal(1000) + Decimal(a["realized_pnl"])  # everything settled back to cash
    b = replay(tmp_path, "b", *args, env=env)
    a.pop("db"), b.pop("db")
    assert a == b  # deterministic


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bigearn_tui.cli", "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
        env={"PATH": "/usr/bin:/bin"},
    )


def test_the_cli_refuses_bad_quotes_in_one_line(tmp_path: Path) -> None:
    quotes = write(tmp_path / "q.csv", [q(0, "alpha", "0.4", "0.5"), f"{T0},alpha,sports,0.4,LEFT,1"])
    labels = write_labels(tmp_path / "l.csv")
    bad = cli("--venue", "quotes", "--data", str(quotes), "--labels", str(labels), "--db", str(tmp_path / "x.db"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"bigearn-tui: {quotes} line 3: field 'ask' = 'LEFT': {ACCEPTED_PRICE}"
    no_labels = cli("--venue", "quotes", "--data", str(quotes), "--db", str(tmp_path / "x.db"))
    assert no_labels.returncode == 2 and "needs venue.data (the quotes file) and venue.labels" in no_labels.stderr
    wrong = cli("--labels", str(labels), "--db", str(tmp_path / "x.db"))
    assert wrong.returncode == 2 and "--labels goes with --venue quotes (got --venue 'replay')" in wrong.stderr
