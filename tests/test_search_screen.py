"""The market search screen: the search line's filters, the results on a two-market replay, the watchlist
changed from them (an unwatch asks first), a search with no match, and typing capitals under the console."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from bigearn_tui.search import MarketSearchScreen, SearchInput, parse_search, time_left
from engine.queries import CatalogueRow, MarketMatches, SearchMarkets
from engine.runtime import Runtime
from tests.test_manual_orders import at, close
from tests.ui_harness import make_app

T = TypeVar("T")
SIZE = (100, 30)
TIMEOUT_S = 60
TEST_1 = "btc-updown-test-1"


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, TIMEOUT_S)  # a failure must not hang the suite

    return asyncio.run(bounded())


def with_engine(tmp_path: Path, body: Callable[[Runtime], Awaitable[None]]) -> None:
    async def main() -> None:
        rt = await at(tmp_path, 20)  # two markets, both watched, 230 s before their end
        try:
            await body(rt)
        finally:
            await close(rt)

    run(main())


class Host(App[None]):
    """Nothing but the screen, over the engine."""

    def __init__(self, engine: object) -> None:
        super().__init__()
        self.engine = engine

    def on_mount(self) -> None:
        self.push_screen(MarketSearchScreen(self.engine))


async def until(pilot: Pilot, done: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Let the app run until `done()` (the debounce, the query, the command), failing after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def text_of(screen: MarketSearchScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def watched_ids(rt: Runtime) -> set[str]:
    return {m.condition_id for m in rt.engine.snapshot(force=True).markets}


# --- the search line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SearchMarkets(limit=40)),
        ("  bitcoin   up ", SearchMarkets(words="bitcoin up", limit=40)),
        (
            "bitcoin cat:crypto liq>5000 ends<24h up",
            SearchMarkets(words="bitcoin up", category="crypto", min_liquidity=5000.0, ends_within_h=24.0, limit=40),
        ),
        ("liq>=$5,000 ends<=90m", SearchMarkets(min_liquidity=5000.0, ends_within_h=1.5, limit=40)),
        ("LIQ>1.5k Ends<3D Category:Politics", SearchMarkets(category="Politics", min_liquidity=1500.0,
                                                             ends_within_h=72.0, limit=40)),  # fmt: skip
        ("liq>2m", SearchMarkets(min_liquidity=2_000_000.0, limit=40)),
        ("12:30 vs:eth", SearchMarkets(words="12:30 vs:eth", limit=40)),  # a colon after another word is text
    ],
)
def test_parse_search_reads_words_and_filters(text: str, expected: SearchMarkets) -> None:
    assert parse_search(text) == expected


@pytest.mark.parametrize(
    ("text", "token", "says"),
    [
        ("btc liq>lots", "liq>lots", "liq>5000"),
        ("liq<5000", "liq<5000", "liquidity is a floor"),
        ("liq>-5", "liq>-5", ">= 0"),
        ("ends<24", "ends<24", "m, h or d"),
        ("ends>3d", "ends>3d", "ends<24h"),
        ("ends<0h", "ends<0h", "> 0"),
        ("cat:", "cat:", "cat:crypto"),
        ("cat>crypto", "cat>crypto", "cat:NAME"),
        ("cat:crypto cat:sports", "cat:sports", "one cat:"),
        ("vol>5000", "vol>5000", "accepted: cat:NAME, liq>USDC"),
    ],
)
def test_parse_search_names_the_bad_token_and_what_is_accepted(text: str, token: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_search(text)
    message = str(caught.value)
    assert message.startswith(repr(token)) and says in message, message


def test_time_left_counts_on_the_engines_clock() -> None:
    now = 1_000_000_000
    assert time_left(None, now) == "-" and time_left(now + 60_000, None) == "-"
    assert time_left(now - 1, now) == "ended" and time_left(now + 30_000, now) == "<1m"
    assert time_left(now + 14 * 60_000 + 59_000, now) == "14m"
    assert time_left(now + 3 * 3_600_000 + 1, now) == "3h"
    assert time_left(now + 2 * 86_400_000 + 5 * 3_600_000, now) == "2d"


# --- one query in flight ---------------------------------------------------------------------------


class GatedEngine:
    """Answers a search only when the test opens its gate; no snapshot (a remote console before its first)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.gates: list[asyncio.Event] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def ask(self, query: SearchMarkets) -> MarketMatches:
        self.asked.append(query.words)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        gate = asyncio.Event()
        self.gates.append(gate)
        try:
            await gate.wait()
        finally:
            self.in_flight -= 1
        row = CatalogueRow("0x" + "ab" * 32, f"market {query.words}", "m", "misc", 1234.0, 0.0, 10**13, False, "YES/NO")
        return MarketMatches("a fake", (row,), 1)

    def snapshot(self) -> object:
        raise RuntimeError("no snapshot received yet")


def test_one_query_in_flight_and_a_stale_answer_is_dropped() -> None:
    async def main() -> None:
        engine = GatedEngine()
        app = Host(engine)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: engine.asked == [""], "the first question")
            screen = app.screen
            assert isinstance(screen, MarketSearchScreen)
            box = screen.query_one(SearchInput)
            box.value = "a"
            await pilot.press("enter")
            box.value = "b"
            await pilot.press("enter")
            await pilot.pause(0.5)  # past the debounce: still one question out
            assert engine.asked == [""] and engine.most_in_flight == 1
            engine.gates[0].set()  # the answer to "" is stale: dropped, and only the newest line is asked
            await until(pilot, lambda: engine.asked == ["", "b"], "the newest question")
            assert screen.answer is None and engine.most_in_flight == 1
            engine.gates[1].set()
            await until(pilot, lambda: screen.answer is not None, "the answer")
            assert screen.asked_text == "b" and engine.asked == ["", "b"]
            row = [str(c) for c in screen.query_one(DataTable).get_row_at(0)]
            assert row == [" ", "market b", "YES/NO", "misc", "$1.2k", "-"]  # no snapshot: no clock to count from

    run(main())


# --- on a replay engine ---------------------------------------------------------------------------


def test_search_then_unwatch_after_yes_and_watch_again(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        app = Host(rt.engine)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MarketSearchScreen), "the screen")
            screen = app.screen
            assert isinstance(screen, MarketSearchScreen)
            await until(pilot, lambda: screen.answer is not None, "the first answer")
            assert screen.answer is not None and screen.answer.total == 2  # empty line: the whole catalogue
            assert isinstance(app.focused, SearchInput)

            await pilot.press(*"test 1")  # debounced: no enter
            await until(pilot, lambda: screen.asked_text == "test 1", "the typed search")
            table = screen.query_one(DataTable)
            assert [r.slug for r in screen.answer.rows] == [TEST_1] and table.row_count == 1
            cid = screen.answer.rows[0].condition_id
            check, title, outs, category, liquidity, ends = (str(c) for c in table.get_row_at(0))
            assert (check, outs, category, ends) == ("✓", "Up/Down", "crypto", "3m")  # 230 s left
            assert title == "Bitcoin Up or Down - test 1" and liquidity.startswith("$")
            assert text_of(screen, "#search-count") == (
                "1 of 1 matches in the replay's data file; enter adds or removes the selected market"
            )

            await pilot.press("down")
            assert app.focused is table
            await pilot.press("enter")  # watched: asks first, nothing sent yet
            await pilot.pause()
            assert screen.confirming is not None and screen.confirming.condition_id == cid
            assert text_of(screen, "#search-status") == (
                "Take Bitcoin Up or Down - test 1 off the watchlist? Its strategy orders are cancelled. y/n"
            )
            assert cid in watched_ids(rt)
            await pilot.press("n")  # no: nothing changes
            await pilot.pause()
            assert screen.confirming is None and cid in watched_ids(rt)
            assert text_of(screen, "#search-status") == ""

            await pilot.press("enter", "y")
            await until(pilot, lambda: screen.answer is not None and screen.answer.rows[0].watched is False,
                        "the check mark to go")  # fmt: skip
            assert cid not in watched_ids(rt)
            assert screen.last_result is not None and screen.last_result.ok
            assert text_of(screen, "#search-status") == f"{TEST_1} off the watchlist; 0 strategy orders cancelled"
            assert str(table.get_row_at(0)[0]) == " " and app.focused is table

            await pilot.press("enter")  # not watched: added at once, no question
            await until(pilot, lambda: screen.answer is not None and screen.answer.rows[0].watched is True,
                        "the check mark to come back")  # fmt: skip
            assert screen.confirming is None and cid in watched_ids(rt)
            assert text_of(screen, "#search-status") == f"{TEST_1} on the watchlist"

            await pilot.press("up")  # from the first row, back to the box
            assert isinstance(app.focused, SearchInput)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, MarketSearchScreen)

    with_engine(tmp_path, body)


def test_a_search_with_no_match_says_so_and_a_bad_filter_is_shown(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        app = Host(rt.engine)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MarketSearchScreen), "the screen")
            screen = app.screen
            assert isinstance(screen, MarketSearchScreen)
            await until(pilot, lambda: screen.answer is not None, "the first answer")
            await pilot.press(*"ethereum", "enter")
            await until(pilot, lambda: screen.asked_text == "ethereum", "the search")
            assert screen.answer is not None and screen.answer.total == 0
            assert screen.query_one(DataTable).row_count == 0
            assert text_of(screen, "#search-count") == "No market matches 'ethereum' in the replay's data file"
            await pilot.press("down")  # nothing to move to
            assert isinstance(app.focused, SearchInput)

            screen.query_one(SearchInput).value = "bitcoin liq>lots"
            await pilot.press("enter")
            await until(pilot, lambda: "liq>lots" in text_of(screen, "#search-status"), "the complaint")
            assert text_of(screen, "#search-status").startswith("'liq>lots': 'lots' is not an amount")
            screen.query_one(SearchInput).value = "bitcoin liq>1 ends<1h"
            await pilot.press("enter")
            await until(pilot, lambda: screen.asked_text == "bitcoin liq>1 ends<1h", "the corrected search")
            assert screen.answer is not None and screen.answer.total == 2
            assert text_of(screen, "#search-status") == ""  # the complaint goes with a good answer

    with_engine(tmp_path, body)


def test_capitals_in_the_box_are_letters_not_the_consoles_halt_and_cancel_keys(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        app = make_app(rt)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            screen = MarketSearchScreen(rt.engine)
            app.push_screen(screen)
            await until(pilot, lambda: screen.answer is not None, "the first answer")
            await pilot.press(*"XRP Harris", "enter")
            await until(pilot, lambda: screen.asked_text == "XRP Harris", "the search")
            assert screen.query_one(SearchInput).value == "XRP Harris"
            assert rt.engine.state != "HALTED" and "HALT" not in (app.last_result or "")
            assert "cancel" not in (app.last_result or "").lower()
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not screen

    with_engine(tmp_path, body)
