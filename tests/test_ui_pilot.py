"""Keys in the console change the engine's state, and the screen shows it at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.domain import Mode
from tests.conftest import FixedBrain
from tests.ui_harness import make_app, make_runtime

SIZE = (140, 40)


def run(coro):
    return asyncio.run(coro)


def pending(engine) -> list[str]:
    return [p.proposal_id for p in engine.proposals.values() if p.status == "PENDING"]


def test_approve_key_executes_the_pending_proposal(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    assert len(pending(rt.engine)) == 3  # one per market

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a")
            await pilot.pause()
        assert len(pending(rt.engine)) == 2
        assert rt.engine.counters["orders"] == 1
        assert "approved" in app.last_result

    run(main())


def test_reject_key_rejects_without_an_order(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")
            await pilot.pause()
        statuses = sorted(p.status for p in rt.engine.proposals.values())
        assert statuses == ["PENDING", "PENDING", "REJECTED"]
        assert rt.engine.counters["orders"] == 0

    run(main())


def test_halt_then_approve_does_nothing_and_resume_asks_to_confirm(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("H")
            await pilot.pause()
            assert rt.engine.state == "HALTED"
            assert "HALTED" in str(app.query_one("#status").render())
            assert not app._key_useful("approve")  # dimmed in the key bar
            await pilot.press("a")
            await pilot.pause()
            assert rt.engine.counters["orders"] == 0 and len(pending(rt.engine)) == 3
            assert "approvals are disabled" in app.last_result  # pressed anyway, it says why
            focused = app.focused
            before = app.confirm_bar.message
            await pilot.press("R")  # asks first, on the message line, without moving focus
            await pilot.pause()
            assert rt.engine.state == "HALTED"
            assert app.confirm_bar.asking and "Resume trading?" in str(app.confirm_bar.render())
            assert app.focused is focused
            await pilot.press("n")
            await pilot.pause()
            assert rt.engine.state == "HALTED"
            assert not app.confirm_bar.asking and not app.confirm_bar.has_class("-asking")
            assert app.confirm_bar.message == before  # a no puts the line back
            await pilot.press("R", "y")
            await pilot.pause()
            assert rt.engine.state == "RESUMING"
            # The result replaces the question (the line stays on it), no longer styled as a question.
            assert app.confirm_bar.message.startswith("Resume: ") and not app.confirm_bar.has_class("-asking")

    run(main())


def test_cancel_all_key_has_priority_and_cancels(tmp_path: Path) -> None:
    # A maker order rests at the bid: the estimate sits between bid and ask.
    rt = make_runtime(
        tmp_path, brain=FixedBrain(p=0.53, half_width=0.005), until_s=6, **{"engine.mode": "auto"}
    )

    async def main() -> None:
        assert any(o.state.working for o in rt.engine.orders.values()) or rt.engine.counters["orders"] > 0
        await rt.venue.run(rt.engine, until_ts=rt.venue.clock.now_ms() + 1000)  # let the orders arrive
        working = [o for o in rt.engine.orders.values() if o.state.working]
        assert working
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("X")
            await pilot.pause()
            assert all(o.cancel_requested for o in working)
        await rt.venue.run(rt.engine, until_ts=rt.venue.clock.now_ms() + 1000)  # cancel latency elapses
        assert not any(o.state.working for o in rt.engine.orders.values())

    run(main())


def test_mode_key_cycles_and_auto_asks_to_confirm(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=6)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            await pilot.pause()
            assert rt.engine.mode is Mode.SEMI  # still waiting for the confirmation
            await pilot.press("y")
            await pilot.pause()
            assert rt.engine.mode is Mode.AUTO
            await pilot.press("m")
            await pilot.pause()
            assert rt.engine.mode is Mode.OBSERVE
            await pilot.press("m")
            await pilot.pause()
            assert rt.engine.mode is Mode.SEMI
            assert app.snap is not None and app.snap.mode == "semi"

    run(main())


def test_enter_selects_a_market_and_filter_narrows_the_list(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=6)

    async def main() -> None:
        from widgets.markets import MarketList

        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            markets = app.query_one(MarketList)
            await pilot.press("down", "enter")
            await pilot.pause()
            assert app._selected == markets.rows[1].condition_id
            await pilot.press("slash")
            await pilot.press(*"test 2", "enter")
            await pilot.pause()
            assert [r.title for r in markets.rows] == ["Bitcoin Up or Down - test 2"]

    run(main())


def test_quit_asks_when_orders_are_open(tmp_path: Path) -> None:
    rt = make_runtime(
        tmp_path, brain=FixedBrain(p=0.53, half_width=0.005), until_s=7, **{"engine.mode": "auto"}
    )

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            assert app.snap is not None and app.snap.orders
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running  # a confirmation is up
            await pilot.press("n")
            await pilot.pause()
            assert app.is_running
            await pilot.press("q", "y")
            await pilot.pause()
        assert app.return_code == 0

    run(main())


def test_live_venue_asks_for_the_word_live_before_any_order(tmp_path: Path) -> None:
    from bigearn_tui.screens import ArmLiveScreen

    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    rt.venue.kind = "LIVE"
    rt.engine.live_armed = False

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, ArmLiveScreen)
            assert "LIVE not armed" in str(app.status.render())
            await pilot.press("l", "i", "v", "e", "enter")  # lower case is not the word
            await pilot.pause()
            assert isinstance(app.screen, ArmLiveScreen) and not rt.engine.live_armed
            await pilot.press("backspace", "backspace", "backspace", "backspace", "L", "I", "V", "E")
            await pilot.pause()
            from textual.widgets import Input

            assert app.screen.query_one("#arm-input", Input).value == "LIVE"
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, ArmLiveScreen)
            assert rt.engine.live_armed
            assert "LIVE ARMED" in str(app.status.render())
            await pilot.press("a")
            await pilot.pause()
        assert rt.engine.counters["orders"] == 1

    run(main())


def test_an_engine_error_is_on_screen_with_its_reason(tmp_path: Path) -> None:
    from engine.feeds.replay import ReplayDataError
    from widgets.event_log import EventLog
    from widgets.status_bar import StatusBar

    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    reason = "books.jsonl line 7: 'side' = 'LEFT': accepted: 'UP' or 'DOWN'"

    async def main() -> tuple[str, str]:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            rt.engine.fail("venue", ReplayDataError(reason))
            await pilot.pause()
            app.pull(force=True)
            await pilot.pause()
            status = app.query_one(StatusBar)._last
            log = "\n".join(app.query_one(EventLog).lines)
        return status, log

    status, log = run(main())
    assert "ERROR" in status and "line 7" in status and "restart to resume" in status
    assert "ENGINE ERROR" in log and "line 7" in log


def test_c_cancels_the_order_under_the_cursor_after_a_confirmation(tmp_path: Path) -> None:
    rt = make_runtime(
        tmp_path, brain=FixedBrain(p=0.53, half_width=0.005), until_s=7, **{"engine.mode": "auto"}
    )

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            assert app.snap is not None and app.snap.orders
            oid = min(app.snap.orders, key=lambda o: o.created_ts).client_order_id  # the first row (no positions)
            await pilot.press("c")  # nothing selected yet: it says how, and cancels nothing
            await pilot.pause()
            assert "select an order in Positions" in app.last_result
            assert not rt.engine.working[oid].cancel_requested
            app.position_table.focus()
            await pilot.pause()
            assert app.position_table.selected_order_id() == oid
            await pilot.press("c")
            await pilot.pause()
            assert app.confirm_bar.asking and not rt.engine.working[oid].cancel_requested
            await pilot.press("n")  # no: the order stays
            await pilot.pause()
            assert not rt.engine.working[oid].cancel_requested
            await pilot.press("c", "y")
            await pilot.pause()
            assert rt.engine.orders[oid].cancel_requested
            assert app.last_result == f"cancel requested for order {oid}"

    run(main())


# --- the trader's keys (issue 13) -----------------------------------------------------------------------------

TRADED = {"engine.mode": "auto", "strategies.value.budget_pct": 90, "strategies.manual.enabled": True}


def test_x_flattens_the_position_under_the_cursor_after_a_yes(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=40, **TRADED)
    engine = rt.engine
    held = {p.token_id: p.size for p in engine.snapshot(force=True).positions}
    assert len(held) == 3

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("x")  # Positions has no focus: it says where to go
            await pilot.pause()
            assert "select a position in Positions" in app.last_result
            app.position_table.focus()
            await pilot.pause()
            pos = app.position_table.selected_position()
            await pilot.press("x")
            await pilot.pause()
            assert app.confirm_bar.asking and "Flatten" in str(app.confirm_bar.render())
            await pilot.press("y")
            await pilot.pause()
            assert app.last_result.startswith("Flatten") or "sells" in app.last_result, app.last_result
            sells = [o for o in engine.orders.values() if o.request.side.value == "SELL"]
            assert [(o.request.token_id, o.request.size, o.request.order_type.value) for o in sells] == [
                (pos.token_id, held[pos.token_id], "FAK")
            ]
            assert sells[0].strategy_id == "value"  # the holder sells its own shares

    run(main())


def test_blotter_shows_fills_and_the_settlement_after_the_position_is_gone(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=620, **TRADED)  # the markets settle at 600 s
    snap = rt.engine.snapshot(force=True)
    assert not snap.positions and any(r.kind == "SETTLEMENT" for r in snap.blotter)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("b")
            await pilot.pause()
            assert app.view == "blotter" and app.blotter.has_focus
            kinds = [r.kind for r in snap.blotter]
            assert app.blotter.row_count == len(kinds) and "FILL" in kinds and "SETTLEMENT" in kinds
            settled = [r for r in snap.blotter if r.kind == "SETTLEMENT"]
            assert all(r.realized is not None for r in settled)
            await pilot.press("slash", *"test 1", "enter")  # filter by words
            await pilot.pause()
            assert 0 < app.blotter.row_count < len(kinds)
            await pilot.press("b")  # back to Markets and Book
            await pilot.pause()
            assert app.view == "markets" and app.row_top.display

    run(main())


def test_a_nothing_pending_key_says_so(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.495, half_width=0.01), until_s=12)

    async def main() -> None:
        app = make_app(rt, bell=False)
        async with app.run_test(size=SIZE) as pilot:
            for key in ("a", "r", "e", "w"):
                await pilot.press(key)
                await pilot.pause()
                assert app.last_result == "nothing pending: no proposal waits for a decision", key

    run(main())


def test_a_new_proposal_rings_and_is_highlighted_until_seen(tmp_path: Path) -> None:
    from dataclasses import replace

    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    rings: list[int] = []
    news: list[object] = []

    class WithNews:
        """The engine, with a proposal that arrives when the test says (the console's pull sees it)."""

        def snapshot(self, force: bool = False):
            snap = rt.engine.snapshot(force)
            if not news:
                return snap
            new = replace(snap.pending_proposals[0], proposal_id="Pnew", created_ts=snap.ts + 1)
            return replace(snap, seq=snap.seq + 1, proposals=(new, *snap.proposals))

        async def execute(self, command):
            return await rt.engine.execute(command)

    async def main() -> None:
        app = make_app(rt)
        app.engine = WithNews()
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            assert not app.proposal_table.unseen and not rings  # what was there at start is not news
            news.append(1)
            app.pull(force=True)
            await pilot.pause()
            assert app.proposal_table.unseen == {"Pnew"} and rings == [1]
            assert "yellow" in app.proposal_table.row_style("Pnew")
            app.pull(force=True)  # the same proposal again: no second ring
            await pilot.pause()
            assert rings == [1] and app.proposal_table.unseen == {"Pnew"}
            app.proposal_table.focus()
            await pilot.press("down", "up")  # the operator's cursor on it: seen
            await pilot.pause()
            assert app.proposal_table.selected_id() == "Pnew" and not app.proposal_table.unseen

    run(main())
