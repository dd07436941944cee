"""The order ticket and the proposal what-if, driven with keys against a real replay engine (the thin book of
tests/test_manual_orders.py: 100 at 0.50, 100 at 0.51, 5,000 at 0.52 on the Up asks)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Select

from bigearn_tui.ticket import OrderTicketScreen, ProposalWhatIfScreen, render_what_if
from engine.domain import OrderType, Outcome, Side
from engine.queries import OrderTicket, PreviewOrder
from engine.runtime import Runtime, build
from engine.snapshot import MarketRow
from engine.ticket_text import parse_expiry, parse_price, parse_size
from tests.conftest import CID, START, FixedBrain
from tests.test_manual_orders import close, manual_settings

T = TypeVar("T")
TIMEOUT_S = 60
SIZE = (100, 30)


class CountingEngine:
    """The engine as the console sees it (ask / execute / snapshot), counting the questions asked."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.asked: list[Any] = []
        self.gate = asyncio.Event()  # cleared: answers wait (a slow engine)
        self.gate.set()
        self.waiting = 0

    async def ask(self, query: Any) -> Any:
        self.asked.append(query)
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        return await self.engine.ask(query)

    async def execute(self, command: Any) -> Any:
        return await self.engine.execute(command)

    def snapshot(self, force: bool = False) -> Any:
        return self.engine.snapshot(force=force)


class Host(App[None]):
    """A bare app that shows one modal and keeps what it dismissed with."""

    def __init__(self, screen: Any) -> None:
        super().__init__()
        self.modal = screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.modal, callback=self.results.append)


async def start(tmp_path: Path, seconds: float = 20, brain: Any = None, **extra: Any) -> Runtime:
    rt = await build(manual_settings(tmp_path, **extra), brain=brain or FixedBrain(p=0.5), run_id="ticket",
                     ttl_on_engine_clock=True)  # fmt: skip
    await rt.engine.start()
    await rt.venue.run(rt.engine, until_ts=START + int(seconds * 1000))
    return rt


def session(tmp_path: Path, body: Callable[[Runtime], Awaitable[T]], **kw: Any) -> T:
    async def main() -> T:
        rt = await start(tmp_path, **kw)
        try:
            return await body(rt)
        finally:
            await close(rt)

    async def bounded() -> T:
        return await asyncio.wait_for(main(), TIMEOUT_S)

    return asyncio.run(bounded())


def market(rt: Runtime) -> MarketRow:
    return next(m for m in rt.engine.snapshot(force=True).markets if m.condition_id == CID)


async def settle(pilot: Pilot[Any], screen: OrderTicketScreen | ProposalWhatIfScreen) -> None:
    """Until the debounce has fired and no question is in flight."""
    for _ in range(100):
        await pilot.pause(0.05)
        if getattr(screen, "_debounce", None) is None and not screen.asker.in_flight:
            await pilot.pause()
            return
    raise AssertionError("the what-if never settled")


async def choose(pilot: Pilot[Any], screen: OrderTicketScreen, select_id: str, downs: int) -> None:
    """Open a Select with enter and pick the option `downs` below the current one."""
    screen.query_one(select_id, Select).focus()
    await pilot.press("enter")
    await pilot.press(*["down"] * downs, "enter")


# --- parsing --------------------------------------------------------------------------------------


def test_parse_price_and_size() -> None:
    assert parse_price("") is None and parse_price(" mkt ") is None
    assert parse_price("0.45") == 4500 and parse_price(".455") == 4550 and parse_price("45c") == 4500
    assert parse_price("45.5c") == 4550
    with pytest.raises(ValueError, match=r"price: 'abc' is not accepted: a price like 0.45 or 45c, or blank"):
        parse_price("abc")
    with pytest.raises(ValueError, match="write 45c"):
        parse_price("45")
    with pytest.raises(ValueError, match="not strictly between 0 and 1"):
        parse_price("1.5")
    with pytest.raises(ValueError, match="finer than 0.0001"):
        parse_price("0.12345")
    assert parse_size("10") == (10_000_000, None) and parse_size("1,000.5") == (1_000_500_000, None)
    assert parse_size("$25") == (None, Decimal("25")) and parse_size("$2.50") == (None, Decimal("2.50"))
    with pytest.raises(ValueError, match="size: blank is not accepted: shares like 10"):
        parse_size(" ")
    with pytest.raises(ValueError, match="size: 'ten' is not accepted"):
        parse_size("ten")
    with pytest.raises(ValueError, match="must be > 0"):
        parse_size("$0")
    with pytest.raises(ValueError, match="finer than 0.01 shares"):
        parse_size("1.001")
    assert parse_expiry("") is None and parse_expiry("90") == 90 and parse_expiry("90s") == 90
    with pytest.raises(ValueError, match="GTD seconds: '-5' is not accepted"):
        parse_expiry("-5")


# --- the ticket -----------------------------------------------------------------------------------


def test_ticket_shows_the_hand_computed_walk(tmp_path: Path) -> None:
    """Price blank, 150 shares, FAK: the what-if of test_manual_orders' hand-computed walk, fee 2.34313."""

    async def body(rt: Runtime) -> None:
        engine = CountingEngine(rt.engine)
        screen = OrderTicketScreen(engine, market(rt))
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, screen)
            assert app.screen is screen and screen.focused is not None and screen.focused.id == "ticket-price"
            assert "size: blank is not accepted" in screen.panel_text.plain and not engine.asked
            await pilot.press("tab", "1", "5", "0")  # price stays blank: marketable
            await choose(pilot, screen, "#ticket-type", 3)  # GTC -> GTD -> FOK -> FAK
            await settle(pilot, screen)
            shown = screen.panel_text.plain
            assert "would send BUY Up 0.51 x150 FAK" in shown, shown
            assert "fee $2.34313" in shown and "@ 0.5033" in shown and "2 levels" in shown, shown
            assert "slip 66.7 bps" in shown and "2.9% of depth" in shown and "notional $76.50" in shown
            assert "✓ engine mode armed" in shown and "✗" not in shown
            expected = OrderTicket(CID, Outcome.YES, Side.BUY, None, 150_000_000, order_type=OrderType.FAK)
            assert engine.asked[-1] == PreviewOrder(expected)
            assert screen.last is not None and screen.last[0] == expected and screen.last[1].ok

    session(tmp_path, body)


def test_a_bad_price_names_the_field_and_asks_nothing(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        engine = CountingEngine(rt.engine)
        screen = OrderTicketScreen(engine, market(rt), size_text="10")
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, screen)
            assert screen.last is not None and screen.last[1] is not None and screen.last[1].ok
            before = len(engine.asked)
            await pilot.press("a", "b", "c")
            await settle(pilot, screen)
            await pilot.pause(0.3)
            shown = screen.panel_text.plain
            assert "price: 'abc' is not accepted: a price like 0.45 or 45c, or blank for marketable" in shown
            assert len(engine.asked) == before and screen.last is None
            await pilot.press("ctrl+s")  # nothing to send: it says so and stays
            await pilot.pause()
            assert app.screen is screen and not app.results
            assert "not sent" in screen.panel_text.plain

    session(tmp_path, body)


def test_send_dismisses_only_an_ok_what_if(tmp_path: Path) -> None:
    """0.85 is in zone_5, where hand orders may not buy: ctrl+s stays and says why; 0.45 post-only GTC is
    ok and ctrl+s dismisses with exactly that ticket."""

    async def body(rt: Runtime) -> None:
        screen = OrderTicketScreen(rt.engine, market(rt), price=8500, size_text="20")
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, screen)
            assert "refused: ZONE_STRATEGY" in screen.panel_text.plain
            assert "✗ ZONE_STRATEGY" in screen.panel_text.plain
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is screen and not app.results
            assert screen.panel_text.plain.startswith("not sent: refused: ZONE_STRATEGY")
            await pilot.press("ctrl+u", "4", "5", "c")  # the price field has focus
            screen.query_one("#ticket-post-only").focus()
            await pilot.press("space")
            await settle(pilot, screen)
            assert "would send BUY Up 0.45 x20 GTC post-only" in screen.panel_text.plain
            assert "not sent" not in screen.panel_text.plain  # a field changed: the old reason is gone
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.results == [OrderTicket(CID, Outcome.YES, Side.BUY, 4500, 20_000_000, post_only=True)]
            assert app.screen is not screen

    session(tmp_path, body)


def test_send_waits_for_the_what_if_of_the_fields_on_screen(tmp_path: Path) -> None:
    """A slow engine: ctrl+s before the fields' what-if is in sends nothing; one question at a time, and the
    answer for fields since changed is dropped (the current fields are asked next)."""

    async def body(rt: Runtime) -> None:
        engine = CountingEngine(rt.engine)
        screen = OrderTicketScreen(engine, market(rt), size_text="$25")
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, screen)
            assert "would send BUY Up 0.5 x50 GTC" in screen.panel_text.plain  # $25 at the best ask
            engine.gate.clear()
            await pilot.press("4", "9", "c", "ctrl+s")  # sent before the new fields' what-if is in
            await pilot.pause()
            assert app.screen is screen and not app.results
            assert screen.panel_text.plain.startswith("not sent yet"), screen.panel_text.plain
            assert screen.asker.in_flight and engine.waiting == 1
            await pilot.press("ctrl+u", "4", "8", "c")
            await pilot.pause(0.4)  # the debounce fires while 49c is still being asked
            assert engine.waiting == 1 and engine.asked[-1].ticket.price == 4900
            engine.gate.set()
            await settle(pilot, screen)
            assert [q.ticket.price for q in engine.asked[-2:]] == [4900, 4800]  # 49c's answer was dropped
            assert "would send BUY Up 0.48 x52.08 GTC" in screen.panel_text.plain, screen.panel_text.plain
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.results == [OrderTicket(CID, Outcome.YES, Side.BUY, 4800, None, Decimal("25"))]

    session(tmp_path, body)


def test_gtd_lifetime_only_for_gtd_and_escape_cancels(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        screen = OrderTicketScreen(rt.engine, market(rt), side=Side.SELL, outcome=Outcome.NO, price=4000,
                                   size_text="5")  # fmt: skip
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, screen)
            assert screen.query_one("#ticket-expiry").disabled
            await choose(pilot, screen, "#ticket-type", 1)  # GTD
            await pilot.pause()
            expiry = screen.query_one("#ticket-expiry")
            assert not expiry.disabled
            expiry.focus()
            await pilot.press("9", "0")
            await settle(pilot, screen)
            assert screen.ticket_from_fields() == OrderTicket(CID, Outcome.NO, Side.SELL, 4000, 5_000_000,
                                                              order_type=OrderType.GTD, expiry_s=90)  # fmt: skip
            assert screen.last is not None and screen.last[1] is not None
            assert screen.last[1].outcome_label == "Down" and screen.last[1].side == "SELL"
            await pilot.press("escape")
            await pilot.pause()
            assert app.results == [None]

    session(tmp_path, body)


# --- a proposal's what-if -------------------------------------------------------------------------


def test_proposal_screen_approves_rejects_and_explains_a_mandate(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        snap = rt.engine.snapshot(force=True)
        row = next(p for p in snap.pending_proposals if p.condition_id == CID)
        m = market(rt)
        for key, verdict in (("a", "approve"), ("r", "reject"), ("escape", None)):
            screen = ProposalWhatIfScreen(rt.engine, row, m)
            app = Host(screen)
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot, screen)
                shown = screen.panel_text.plain
                assert f"{row.side} {row.outcome}" in shown and ("would send" in shown or "refused" in shown)
                assert screen.ticket is not None and screen.ticket.size == row.size
                assert screen.ticket.price == row.price and screen.ticket.outcome is Outcome.YES
                await pilot.press(key)
                await pilot.pause()
                assert app.results == [verdict]
        assert (
            rt.engine.proposals[row.proposal_id].status == "PENDING"
        )  # the screen decides; it sends nothing

        engine = CountingEngine(rt.engine)
        mandate = dataclasses.replace(row, kind="MANDATE", bounds="both sides, max order 10, band 0.40-0.60")
        screen = ProposalWhatIfScreen(engine, mandate, m)
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            assert "no single order to preview" in screen.panel_text.plain and not engine.asked
            await pilot.press("a")
            await pilot.pause()
            assert app.results == ["approve"]

    session(tmp_path, body, brain=FixedBrain(p=0.70), **{"strategies.value.enabled": True})


def test_render_what_if_lists_refusals_first(tmp_path: Path) -> None:
    async def body(rt: Runtime) -> None:
        ticket = OrderTicket(CID, Outcome.YES, Side.BUY, 8500, 10_000_000)
        w = await rt.engine.ask(PreviewOrder(ticket))
        lines = render_what_if(w).plain.splitlines()
        assert lines[0].startswith("refused: ZONE_STRATEGY")
        crosses = [i for i, line in enumerate(lines) if line.startswith("✗ ")]
        passing = [i for i, line in enumerate(lines) if line.startswith("✓ ")]
        assert len(crosses) >= 2 and passing == [len(lines) - 1] and max(crosses) < passing[0]
        assert any(line.startswith("✗ NO_ROOM_BUDGET") for line in lines)

    session(tmp_path, body, **{"strategies.manual.budget_pct": 0.001})


# --- snapshot -------------------------------------------------------------------------------------


@pytest.fixture
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


def test_ticket_snapshot(snap_compare, tmp_path: Path, _no_animation: None) -> None:
    """The ticket at 100x30: marketable FAK for 150 Up, its what-if in."""

    async def built() -> Runtime:
        return await asyncio.wait_for(start(tmp_path), TIMEOUT_S)

    rt = asyncio.run(built())
    try:
        screen = OrderTicketScreen(rt.engine, market(rt), size_text="150", refresh_s=0)

        async def fill(pilot: Pilot[Any]) -> None:
            await settle(pilot, screen)
            await choose(pilot, screen, "#ticket-type", 3)
            screen.query_one("#ticket-price").focus()
            await settle(pilot, screen)
            assert "fee $2.34313" in screen.panel_text.plain

        assert snap_compare(Host(screen), terminal_size=SIZE, run_before=fill)
    finally:
        asyncio.run(asyncio.wait_for(close(rt), TIMEOUT_S))
