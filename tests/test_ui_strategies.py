"""The console's side of the strategy layer: the Strategies view (key s) and its keys (pause, resume, revoke),
proposals naming their strategy and showing a mandate's bounds, Positions and P&L narrowed to one strategy
(key f), and the same over the control socket (`attach`). Pilot tests and pinned screens.

Every engine here is the harness's: seeded, stopped at a fixed simulated moment, fixed clocks."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.commands import PauseStrategy
from engine.control import ControlClient, ControlServer, RemoteEngine, decode_snapshot, encode_snapshot
from engine.domain import Market, OrderType, Outcome, Side
from engine.snapshot import MandateRow, OrderRow, PositionRow
from engine.strategies.base import (
    Intent,
    Leg,
    MandateRequest,
    Rationale,
    Reply,
    Strategy,
    StrategyConfig,
    StrategyContext,
    Verdict,
)
from tests.conftest import FixedBrain
from tests.ui_harness import make_app, make_runtime

SIZE = (140, 40)
SHARES = 1_000_000  # one share in size units
PAUSE_REASON = "test: paused to look at it"


class Quoter(Strategy):
    """Test strategy from the public interface only. It asks once for leave to quote NO in the first market
    (by condition id: "Bitcoin Up or Down - test 1"), and buys 10 NO at the ask once in the second ("test 2").
    FixedBrain(0.70) makes `value` buy YES, so in auto mode each holds its own token of test 2."""

    strategy_id = "quoter"
    description = "test: asks to quote NO in one market, buys NO in another"

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.asked: set[str] = set()
        self.bought: set[str] = set()

    def on_book(self, ctx: StrategyContext, market: Market) -> Reply:
        cid = market.condition_id
        blocked = ctx.tradable(cid)
        if blocked is not None:
            return Reply(verdicts=[Verdict(cid, blocked.decision, blocked.reason)])
        first, second = sorted(m.condition_id for m in ctx.markets())[:2]
        if cid == first and cid not in self.asked:
            self.asked.add(cid)
            ask = MandateRequest(
                self.strategy_id, cid, ((Outcome.NO, Side.BUY),), 10 * SHARES, 50 * SHARES, 4000, 6000, 300,
                Rationale("quote NO inside 0.40-0.60"),
            )
            return Reply([ask], [Verdict(cid, "MANDATE", "asks to quote")])
        if cid == second and cid not in self.bought:
            ask_px = ctx.book(cid).view(Outcome.NO).best_ask
            if ask_px is not None:
                self.bought.add(cid)
                leg = Leg(cid, Outcome.NO, Side.BUY, ask_px, 10 * SHARES, OrderType.FAK)
                why = Rationale(f"buy NO at {ask_px}", binding_cap="fixed size", q_cons=0.5)
                return Reply([Intent(self.strategy_id, (leg,), why)], [Verdict(cid, "PROPOSE", "buy NO")])
        return Reply(verdicts=[Verdict(cid, "HOLD", "nothing to do")])


def two_strategies(root: Path, mode: str = "semi", **overrides: Any):
    """`value` (60% of the bankroll) and `Quoter` (40%), stopped 12 s in. Semi: three value proposals, the
    quoter's order proposal and its pending mandate. Auto: both hold positions, the mandate is active."""
    return make_runtime(
        root,
        brain=FixedBrain(p=0.70),
        until_s=12,
        strategies=[Quoter(StrategyConfig(enabled=True, budget_pct=40.0))],
        **{
            "engine.mode": mode,
            "strategies.value.budget_pct": 60,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting", "quoter"]}},
            **overrides,
        },
    )


def run(coro):
    return asyncio.run(coro)


def cells(table, key: str) -> list[str]:
    return [str(c).strip() for c in table.get_row(key)]


def named(table, key: str) -> dict[str, str]:
    """A row of a fitted table (widgets/columns.py) by column name: its columns depend on the pane's width."""
    return dict(zip([c.key.value for c in table.columns.values()], cells(table, key), strict=True))


def mandate_id(rt) -> str:
    (m,) = rt.engine.snapshot(force=True).mandates
    return m.mandate_id


# --- the Strategies view and its keys ------------------------------------------------------------------


def test_pause_key_pauses_the_selected_strategy_and_the_pane_says_why(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path)
    engine = rt.engine

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            view = app.strategies_view
            assert not view.display and app.row_top.display
            await pilot.press("P")  # no row on screen to act on: the view opens, nothing is paused
            await pilot.pause()
            assert view.display and not app.row_top.display
            assert not engine.strategy_limits.paused
            assert "select the strategy" in app.last_result
            table = view.strategy_table
            assert list(table.strategies) == ["value", "quoter", "market_maker", "manual"]  # every one, off ones last
            assert cells(table, "quoter")[1] == "RUNNING"
            await pilot.press("down", "P")  # the view's table has focus: down selects the quoter
            await pilot.pause()
            assert list(engine.strategy_limits.paused) == ["quoter"]
            assert app.last_result.startswith("quoter paused")
            row = cells(table, "quoter")
            assert row[1] == "PAUSED" and row[2].startswith("MANUAL by operator")  # clipped: the line has it all
            assert cells(table, "value")[1] == "RUNNING"
            # The selected strategy's line has the reason in full.
            assert view._detail.startswith("quoter PAUSED: ") and "paused by the operator" in view._detail
            await pilot.press("P")  # again: said, not sent
            await pilot.pause()
            assert app.last_result.startswith("quoter is already paused")
            await pilot.press("s")  # back to Markets and Book
            await pilot.pause()
            assert not view.display and app.row_top.display and app.focused is app.markets

    run(main())


def test_resume_key_asks_then_resumes_only_a_paused_strategy(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path)
    engine = rt.engine
    assert run(engine.execute(PauseStrategy("quoter", PAUSE_REASON))).ok

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s", "U")  # the cursor is on value, which runs: nothing to ask
            await pilot.pause()
            assert not app.confirm_bar.asking and app.last_result == "value is not paused"
            await pilot.press("down", "U")
            await pilot.pause()
            assert app.confirm_bar.asking and "Resume quoter?" in app.confirm_bar.message
            assert PAUSE_REASON in app.confirm_bar.message
            await pilot.press("n")
            await pilot.pause()
            assert "quoter" in engine.strategy_limits.paused
            await pilot.press("U", "y")
            await pilot.pause()
            assert not engine.strategy_limits.paused
            assert app.confirm_bar.message == "ResumeStrategy: quoter resumed"
            assert cells(app.strategies_view.strategy_table, "quoter")[1] == "RUNNING"

    run(main())


def test_a_reason_with_brackets_is_shown_as_written(tmp_path: Path) -> None:
    # Cells and titles are plain text: a reason from a strategy or the operator is not markup.
    rt = two_strategies(tmp_path)
    reason = "limit [b]hit[/b] [/strategies.quoter]"
    assert run(rt.engine.execute(PauseStrategy("quoter", reason))).ok

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s", "down")
            await pilot.pause()
            view = app.strategies_view
            assert cells(view.strategy_table, "quoter")[2] == "MANUAL by operator: lim~"
            assert view._detail.endswith(reason)
            assert view.query_one("#strategies-pane").border_subtitle.endswith(reason.replace("[", "\\["))

    run(main())


def test_pausing_a_strategy_that_is_off_says_so_instead(tmp_path: Path) -> None:
    rt = make_runtime(
        tmp_path,
        until_s=6,
        strategies=[Quoter(StrategyConfig(enabled=True, budget_pct=40.0))],
        **{"strategies.value.enabled": False},
    )

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await pilot.pause()
            table = app.strategies_view.strategy_table
            assert [(r.strategy_id, r.state) for r in table.strategies.values()] == [
                ("quoter", "RUNNING"), ("market_maker", "OFF"), ("value", "OFF"), ("manual", "OFF"),
            ]
            assert cells(table, "value")[3] == "-"  # no budget of its own
            await pilot.press("down", "down", "P")
            await pilot.pause()
            assert app.last_result.startswith("value is OFF (not enabled in this run): nothing to pause")
            assert app.confirm_bar.message == app.last_result
            await pilot.press("U")
            await pilot.pause()
            assert app.last_result.startswith("value is OFF") and not app.confirm_bar.asking
            assert not rt.engine.strategy_limits.paused

    run(main())


def test_revoke_key_asks_then_revokes_an_active_mandate(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path, mode="auto")  # auto: the mandate is granted at once
    mid = mandate_id(rt)
    mandate = rt.engine.mandates.by_id[mid]  # held: the engine forgets an ended mandate without orders
    assert mandate.status.value == "ACTIVE"

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await pilot.pause()
            mandates = app.strategies_view.mandate_table
            row = cells(mandates, mid)
            assert row[:4] == [mid[-7:], "quoter", "Bitcoi~wn - test 1", "ACTIVE"]
            assert row[5] == "5m" and row[6] == "BUY Down; order <= 10; hold <= 50; Up 0.4-0.6; 300s"
            await pilot.press("V")
            await pilot.pause()
            assert app.confirm_bar.asking and f"Revoke mandate {mid[-7:]} of quoter" in app.confirm_bar.message
            await pilot.press("n")
            await pilot.pause()
            assert mandate.status.value == "ACTIVE"
            await pilot.press("V", "y")
            await pilot.pause()
            assert mandate.status.value == "REVOKED" and mandate.ended_by == "operator"
            assert cells(mandates, mid)[3] == "REVOKED"
            await pilot.press("V")  # an ended mandate: said, not asked
            await pilot.pause()
            assert not app.confirm_bar.asking and app.last_result == f"mandate {mid[-7:]} is REVOKED: nothing to revoke"

    run(main())


# --- Proposals: whose, and a mandate's bounds ------------------------------------------------------------


def test_a_pending_mandate_in_proposals_shows_its_bounds_and_is_approved_with_a(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path)
    mid = mandate_id(rt)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            table = app.proposal_table
            columns = [c.key.value for c in table.columns.values()]
            # Two strategies run: whose is each row; and at 140 columns every decision column stays.
            assert columns[-6:] == ["Status", "Strat", "Why", "Est [band]", "Kelly", "Slip"]
            row = named(table, mid)
            assert row["Strat"] == "quoter" and row["Trade"] == "MANDATE" and row["Status"] == "PENDING"
            assert row["Why"].startswith("23s BUY")  # the bounds in full are the subtitle's (below)
            assert row["Est [band]"] == row["Kelly"] == "-"
            assert {named(table, k)["Strat"] for k in table.proposals} == {
                "value", "quoter",
            }
            assert table.selected_id() == mid  # pending rows first; the mandate heads them
            assert app._proposal_detail == (
                f"mandate {mid[-7:]} quoter: quote NO inside 0.40-0.60 | BUY Down; order <= 10; hold <= 50; Up 0.4-0.6; 300s"
            )
            await pilot.press("e")  # a mandate has bounds, not a size
            await pilot.pause()
            assert "has bounds, not a size" in app.last_result
            await pilot.press("a")
            await pilot.pause()
            assert rt.engine.mandates.by_id[mid].status.value == "ACTIVE"
            assert mid not in table.proposals and app._proposal_detail == ""
            await pilot.press("s")
            await pilot.pause()
            assert cells(app.strategies_view.mandate_table, mid)[3] == "ACTIVE"

    run(main())


def test_a_multi_leg_proposal_says_so_and_lists_its_legs(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    legs = "BUY Up 0.48 x15 | BUY Down 0.47 x15"

    class TwoLegs:
        """The engine, with its first pending proposal shown as a two-leg one (as engine.read_model words it)."""

        def snapshot(self, force: bool = False):
            snap = rt.engine.snapshot(force)
            first = min(snap.pending_proposals, key=lambda p: p.proposal_id)
            rows = tuple(dataclasses.replace(p, legs=legs) if p is first else p for p in snap.proposals)
            return dataclasses.replace(snap, proposals=rows)

        async def execute(self, command):
            return await rt.engine.execute(command)

    async def main() -> None:
        app = make_app(rt)
        app.engine = TwoLegs()
        async with app.run_test(size=SIZE) as pilot:
            table = app.proposal_table
            pid = table.selected_id()
            assert named(table, pid)["Trade"] == "2 LEGS"
            assert app._proposal_detail == f"{pid[-7:]} value: 2 legs, all or none: {legs}"
            await pilot.press("e")  # no size box: the legs go together
            await pilot.pause()
            assert app.screen is app.screen_stack[0] and "legs that go together" in app.last_result
            table.focus()
            await pilot.press("down")  # an ordinary proposal: nothing for the subtitle
            await pilot.pause()
            assert app._proposal_detail == ""

    run(main())


def test_with_one_strategy_proposals_have_no_strategy_column(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE):
            assert "Strat" not in [c.key.value for c in app.proposal_table.columns.values()]
            assert "strategy_filter" not in [k.action for k in app.key_bar._items]  # nothing to narrow

    run(main())


# --- Positions and P&L by strategy --------------------------------------------------------------------------


def test_filter_key_narrows_positions_and_pnl_to_one_strategy(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path, mode="auto")
    snap = rt.engine.snapshot(force=True)
    holders = sorted(h for p in snap.positions for h, _ in p.holders)
    assert holders == ["quoter", "value", "value", "value"]
    quoter = next(s for s in snap.strategies if s.strategy_id == "quoter")

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            positions = app.position_table

            def kinds() -> list[tuple[str, str, str]]:
                rows = [(positions.positions[k].title, named(positions, k)) for k in positions._shown]
                return [(title, row["Out"], row["Size"]) for title, row in rows]

            assert len(kinds()) == 4 and app.positions_pane.border_title == "Positions"
            await pilot.press("f")
            await pilot.pause()
            assert app.strategy_filter == "value"
            assert app.positions_pane.border_title == "Positions: value" and app.pnl_pane.border_title == "P&L: value"
            assert len(kinds()) == 3 and {k[1] for k in kinds()} == {"Up"}  # value bought YES (Up) in each
            await pilot.press("f")
            await pilot.pause()
            assert app.strategy_filter == "quoter"
            assert kinds() == [("Bitcoin Up or Down - test 2", "Down", "10.00")]
            detail = app.pnl_pane._detail
            assert detail.startswith("quoter running, used 5/397")
            assert f"real {float(quoter.realized):+,.2f} unreal {float(quoter.unrealized):+,.2f}" in detail
            total = f"{float(quoter.realized + quoter.unrealized):+.2f}"
            assert app.pnl_pane._digits.value == total
            await pilot.press("f")  # past the last strategy: all again
            await pilot.pause()
            assert app.strategy_filter is None and len(kinds()) == 4
            assert app.positions_pane.border_title == "Positions" and app.pnl_pane.border_title == "P&L"

    run(main())


def test_a_position_two_strategies_share_shows_each_its_own_shares(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=6)
    shared = PositionRow(
        token_id="t1", condition_id="c1", title="Shared market", outcome="Up", size=10 * SHARES,
        avg_price=Decimal("0.5"), mark=Decimal("0.6"), unrealized=Decimal("1.0"), realized=Decimal("0.3"),
        opened_ts=0, holders=(("value", 6 * SHARES), ("quoter", 4 * SHARES)),
    )

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE):
            table = app.position_table
            table.update_rows((shared,), (), 0, "quoter")
            # Its own shares; the whole position's unrealized taken pro rata as an estimate; no realized.
            money = ("Size", "Avg/Px", "Mark", "Unreal", "Real")
            assert [named(table, "pos:t1")[c] for c in money] == ["4.00", ".500", ".600", "~+0.40", "-"]
            table.update_rows((shared,), (), 0, "other")
            assert not table._shown
            table.update_rows((shared,), (), 0, None)
            assert [named(table, "pos:t1")[c] for c in money] == ["10.00", ".500", ".600", "+1.00", "+0.30"]

    run(main())


def test_a_new_mandate_above_the_selected_one_does_not_move_the_selection(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=6)

    def mandate(mid: str, status: str = "ACTIVE") -> MandateRow:
        return MandateRow(mid, "quoter", "c1", "Some market", status, "BUY NO; order <= 10", 0, 0)

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await pilot.pause()
            table = app.strategies_view.mandate_table
            table.update_rows((mandate("M1"), mandate("M2")), 0)
            table.move_cursor(row=1)
            assert table.selected().mandate_id == "M2"
            table.update_rows((mandate("M3", "PENDING"), mandate("M1"), mandate("M2")), 0)  # a new one on top
            assert table.selected().mandate_id == "M2"
            table.update_rows((mandate("M3"), mandate("M1")), 0)  # the selected one is gone: the top row
            assert table.selected().mandate_id == "M3"

    run(main())


# --- attach: the new fields over the control socket --------------------------------------------------------


def test_strategy_fields_survive_the_control_socket_codec(tmp_path: Path) -> None:
    for mode in ("semi", "auto"):
        (tmp_path / mode).mkdir()
        rt = two_strategies(tmp_path / mode, mode=mode)
        snap = rt.engine.snapshot(force=True)
        # A working order of a strategy (the harness's orders have all filled by now).
        order = OrderRow("O1", "c1", "t", "Up", "BUY", 5000, 10 * SHARES, 0, "LIVE", "GTC", 0, strategy_id="quoter")
        snap = dataclasses.replace(snap, orders=(*snap.orders, order))
        back = decode_snapshot(orjson.loads(encode_snapshot(snap)))
        assert back == snap
        assert len(back.strategies) == 4 and back.strategies[0].budget == snap.strategies[0].budget
        assert isinstance(back.strategies[0].committed, Decimal) and back.mandates == snap.mandates
        assert back.orders[-1].strategy_id == "quoter"
        if mode == "semi":
            (m,) = [p for p in back.proposals if p.kind == "MANDATE"]
            assert m.strategy_id == "quoter" and m.bounds.startswith("BUY Down; order <= 10")
        else:
            assert {h for p in back.positions for h in p.holders} == {p.holders[0] for p in snap.positions}
            assert all(isinstance(h, tuple) for p in back.positions for h in p.holders)


def test_attached_console_pauses_a_strategy_over_the_socket(tmp_path: Path) -> None:
    rt = two_strategies(tmp_path)
    sock = tmp_path / "a" / "bigearn.sock"

    async def main() -> None:
        server = ControlServer(rt.engine, sock)
        await server.start()
        remote = RemoteEngine(ControlClient(sock), refresh_hz=20)
        await remote.start()
        try:
            app = make_app(rt)
            app.engine = remote  # the console sees only the remote view
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("s", "down", "P")
                await pilot.pause()
                assert list(rt.engine.strategy_limits.paused) == ["quoter"]
                assert app.snap is not None
                quoter = next(s for s in app.snap.strategies if s.strategy_id == "quoter")
                assert quoter.state == "PAUSED" and "by console" in quoter.reason
                assert cells(app.strategies_view.strategy_table, "quoter")[1] == "PAUSED"
        finally:
            await remote.close()
            await server.close()

    run(main())


# --- pinned screens ------------------------------------------------------------------------------------


@pytest.fixture
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.mark.usefixtures("_no_animation")
def test_strategies_view_one_paused(snap_compare, tmp_path: Path) -> None:
    """Two strategies, the quoter paused (its pending mandate ENDED with it); the cursor on it, so the pane's
    subtitle gives the reason in full."""
    rt = two_strategies(tmp_path)
    assert run(rt.engine.execute(PauseStrategy("quoter", PAUSE_REASON))).ok
    assert snap_compare(make_app(rt), terminal_size=(140, 40), press=["s", "down"])


@pytest.mark.usefixtures("_no_animation")
def test_strategies_view_100x30(snap_compare, tmp_path: Path) -> None:
    rt = two_strategies(tmp_path)
    assert run(rt.engine.execute(PauseStrategy("quoter", PAUSE_REASON))).ok
    assert snap_compare(make_app(rt), terminal_size=(100, 30), press=["s", "down"])


@pytest.mark.usefixtures("_no_animation")
def test_mandate_pending_in_proposals(snap_compare, tmp_path: Path) -> None:
    """The quoter's mandate heads Proposals (selected: its bounds in full in the subtitle), each row names
    its strategy."""
    rt = two_strategies(tmp_path)
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


@pytest.mark.usefixtures("_no_animation")
def test_positions_filtered_to_one_strategy(snap_compare, tmp_path: Path) -> None:
    rt = two_strategies(tmp_path, mode="auto")
    assert snap_compare(make_app(rt), terminal_size=(140, 40), press=["f", "f"])
