"""Screens that matter, pinned as SVG snapshots (pytest-textual-snapshot).

Deterministic: a seeded engine stopped at a fixed simulated moment (not running), a fixed wall clock,
a fixed run id and a fixed terminal size. Update with `pytest --snapshot-update` only after looking.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.commands import Halt
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
