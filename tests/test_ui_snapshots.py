"""Screens that matter, pinned as SVG snapshots (pytest-textual-snapshot).

Deterministic: a seeded engine stopped at a fixed simulated moment (not running), a fixed wall clock,
a fixed run id and a fixed terminal size. Update with `pytest --snapshot-update` only after looking.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.commands import Approve, Halt
from tests.conftest import FixedBrain
from tests.ui_harness import make_app, make_runtime

CALM = FixedBrain(p=0.495, half_width=0.01)  # the estimate sits on the mid: no edge, no proposal
EDGE = FixedBrain(p=0.70)  # the market is cheap: one taker proposal per market


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


def test_normal_running(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=CALM, until_s=40)
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_proposal_pending(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12)
    assert rt.engine.snapshot().pending_proposals
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_halted(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12)
    asyncio.run(rt.engine.execute(Halt("daily loss breaker (test)")))
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_feed_stale(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=CALM, until_s=40)
    rt.venue.clock.advance_to(rt.venue.clock.now_ms() + 95_000)  # no book update for 95 s of market time
    snap = rt.engine.snapshot(force=True)
    assert snap.feed.stale_books == 3
    # The feed breakers see it too: a pause while stale that cancels (all, and each stale market's orders).
    assert {b.name for b in snap.risk.tripped} == {"stale_feed", "stale_market"}
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_live_venue_armed(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=CALM, until_s=40)
    rt.venue.kind = "LIVE"  # the status bar must make a live, armed venue impossible to miss
    assert snap_compare(make_app(rt, live_armed=True), terminal_size=(140, 40))


def test_layout_100x30(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12)
    assert snap_compare(make_app(rt), terminal_size=(100, 30))


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=CALM, until_s=10)
    assert snap_compare(make_app(rt), terminal_size=(140, 40), press=["question_mark"])


# --- breakers: one screen per kind of action (pause with cooldown, pause while present + cancel all, halt
# until resumed, halt + cancel all) and the operator's reduce-only mode. The stale feed is test_feed_stale.


def approve(n: int):
    async def act(engine) -> None:
        await engine.execute(Approve(sorted(engine.pending)[n]))

    return act


def test_breaker_daily_loss_paused(snap_compare, tmp_path: Path) -> None:
    """The operator approves the first proposal at 6 s; marked at the mid, its spread and fee cost 0.33% of
    equity, over a 0.1% daily limit: the 10 s cycle trips the breaker (a pause). More of that market is
    BLOCKED with the reason, and a proposal approved at 11 s is REFUSED at the firewall for the same one."""
    rt = make_runtime(
        tmp_path,
        brain=EDGE,
        until_s=12,
        actions={6: approve(0), 11: approve(0)},
        **{"breakers.max_daily_loss_pct": 0.001},
    )
    engine = rt.engine
    assert [h["kind"] for h in engine.halts] == ["daily_loss"] and engine.state == "RUNNING"
    snap = engine.snapshot(force=True)
    assert sorted(p.status for p in snap.proposals) == ["APPROVED", "BLOCKED", "PENDING", "REFUSED"]
    assert {p.reason_code for p in snap.proposals if p.status in ("BLOCKED", "REFUSED")} == {
        "BREAKER_DAILY_LOSS"
    }
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_breaker_kill_switch_halted(snap_compare, tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    kill.write_text("ops: stop everything\n")
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12, **{"breakers.kill_switch_file": str(kill)})
    snap = rt.engine.snapshot(force=True)
    assert snap.halted and rt.engine.halt_kind == "kill_switch" and not snap.proposals
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_breaker_drawdown_halted(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(
        tmp_path, brain=EDGE, until_s=12, **{"engine.mode": "auto", "breakers.max_drawdown_pct": 0.001}
    )
    assert rt.engine.halt_kind == "drawdown" and rt.engine.snapshot(force=True).halted
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


def test_reduce_only_mode(snap_compare, tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12, **{"risk.reduce_only": True})
    snap = rt.engine.snapshot(force=True)
    assert snap.risk.reduce_only and {p.reason_code for p in snap.proposals} == {"BREAKER_REDUCE_ONLY"}
    assert snap_compare(make_app(rt), terminal_size=(140, 40))


# --- the trader's console (issue 13): every pane with rows in it, at the design size and at 100x30 ----------

SIZES = [(140, 40), (100, 30)]
TRADED = {"engine.mode": "auto", "strategies.value.budget_pct": 90, "strategies.manual.enabled": True}


def traded(tmp_path: Path, until_s: float = 60):
    """Three markets bought in auto mode (positions with marks, fills in the blotter), and a hand order resting."""
    from engine.commands import PlaceOrder
    from engine.domain import Outcome, Side
    from engine.queries import OrderTicket

    async def hand_order(engine) -> None:
        cid = next(iter(engine.markets))
        await engine.execute(PlaceOrder(OrderTicket(cid, Outcome.YES, Side.BUY, 4500, 10_000_000, post_only=True)))

    return make_runtime(tmp_path, brain=EDGE, until_s=until_s, actions={30: hand_order}, **TRADED)


@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_proposal_pending_every_column(snap_compare, tmp_path: Path, size) -> None:
    """Two strategies run (value, manual): Strat shows; at 140 every decision column shows (Est, Kelly, Slip)."""
    rt = make_runtime(tmp_path, brain=EDGE, until_s=12, **{"strategies.value.budget_pct": 90,
                                                          "strategies.manual.enabled": True})  # fmt: skip
    assert snap_compare(make_app(rt), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_positions_with_marks_and_a_hand_order(snap_compare, tmp_path: Path, size) -> None:
    rt = traded(tmp_path)
    assert rt.engine.snapshot(force=True).positions
    assert snap_compare(make_app(rt), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_blotter_view(snap_compare, tmp_path: Path, size) -> None:
    rt = traded(tmp_path)
    assert snap_compare(make_app(rt), terminal_size=size, press=["b"])


@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_charts_view(snap_compare, tmp_path: Path, size) -> None:
    rt = traded(tmp_path, until_s=150)

    async def run_before(pilot) -> None:
        await pilot.press("g")
        await pilot.app.workers.wait_for_complete()  # the history question answered
        await pilot.pause()

    assert snap_compare(make_app(rt), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_ticket_with_what_if(snap_compare, tmp_path: Path, size) -> None:
    rt = make_runtime(tmp_path, brain=CALM, until_s=20, **{"strategies.manual.enabled": True,
                                                          "strategies.value.budget_pct": 90})  # fmt: skip

    async def run_before(pilot) -> None:
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("tab", "1", "5", "0")  # marketable (blank price), 150 shares: a walk of the asks
        # The what-if is asked after a 0.2 s pause in typing (the ticket's own worker stays up while it is open).
        for _ in range(20):
            await pilot.pause(0.1)
            if "would send" in str(pilot.app.screen.query_one("#ticket-what-if").render()):
                break

    assert snap_compare(make_app(rt), terminal_size=size, run_before=run_before)


# --- the Report screen (key T): the truth report of a ledger that bought, marked out and settled --------------

REPORT_BUILT_TS = 1_790_000_700_000  # pinned: the report's own build time would change every run


def report_runtime(tmp_path: Path):
    """Three markets bought in auto mode and settled, in a ledger file; its report with the build time and the
    ledger's path (a fresh tmp_path each run) pinned."""
    from engine.queries import RunReport

    rt = make_runtime(tmp_path, brain=EDGE, until_s=620, **{**TRADED, "store.path": str(tmp_path / "ledger.db")})
    report = asyncio.run(rt.engine.ask(RunReport())).report
    return rt, {**report, "generated_ts": REPORT_BUILT_TS, "db": "ledger.db"}


@pytest.mark.parametrize("tab", ["text", "plots"])
@pytest.mark.parametrize("size", SIZES, ids=["140x40", "100x30"])
def test_report_screen(snap_compare, tmp_path: Path, size, tab) -> None:
    from bigearn_tui.report_screen import ReportScreen

    rt, report = report_runtime(tmp_path)

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(ReportScreen(rt.engine, report=report))  # given a report: no engine question
        await pilot.pause()
        if tab == "plots":
            await pilot.press("p")
            await pilot.pause()

    assert snap_compare(make_app(rt), terminal_size=size, run_before=run_before)
