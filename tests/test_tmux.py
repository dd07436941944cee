"""The real program in a real terminal: tmux at 140x40, keys sent as an operator would type them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_dataset

ROOT = Path(__file__).parents[1]
TITLES = ("Markets", "Book", "Proposals", "Positions", "P&L", "Risk", "Log")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def lopsided_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    # Heavy bids against a thin ask: the microprice leans up and a maker bid at 0.30 has edge. (At 0.45, in the
    # 0.40-0.60 price zone, a directional bet would need a conservative probability above 0.52.)
    return [[0.30, 5000.0]], [[0.40, 50.0]]


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    ).stdout


def wait_for(session: str, predicate, timeout: float) -> tuple[bool, float, str]:
    t0 = time.monotonic()
    screen = ""
    while time.monotonic() - t0 < timeout:
        screen = capture(session)
        if predicate(screen):
            return True, time.monotonic() - t0, screen
        time.sleep(0.05)
    return False, time.monotonic() - t0, screen


@pytest.mark.slow
def test_console_in_tmux(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=3600, book=lopsided_book)
    rc_file = tmp_path / "rc"
    session = f"bigearn-test-{tmp_path.name[-8:]}"
    cmd = (
        f"cd {ROOT} && env TEXTUAL_ANIMATIONS=none HOME={tmp_path} {sys.executable} -m bigearn_tui.cli "
        f"--mode auto --speed 5 --data {books} --markets {markets} --db {tmp_path / 'ui.db'}; echo $? > {rc_file}"
    )
    # Pin the size before the program starts: with no client attached tmux may otherwise fall back to its
    # 80x24 default, and a resize racing the program's start-up could be missed.
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", "sleep 600"], check=True
    )
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], capture_output=True)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", "140", "-y", "40"], capture_output=True)
    subprocess.run(["tmux", "respawn-pane", "-k", "-t", session, cmd], check=True)
    try:
        ok, _, screen = wait_for(session, lambda s: all(t in s for t in TITLES) and "orders 1" in s, 30)
        width = subprocess.run(
            ["tmux", "display-message", "-p", "-t", session, "#{window_width}x#{window_height}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert width == "140x40"
        assert ok, f"panes or the resting order never showed:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "H"], check=True)
        ok, took, screen = wait_for(session, lambda s: "HALTED" in s, 1.0)
        assert ok, f"HALTED not shown within 1 s:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "X"], check=True)
        ok, took, screen = wait_for(session, lambda s: "orders 0" in s, 10.0)
        assert ok, f"open orders never reached zero:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 20
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rc_file.exists(), capture(session)
        assert rc_file.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    # The run was recorded: the halt, the cancel, and the order that rested.
    import sqlite3

    con = sqlite3.connect(tmp_path / "ui.db")
    halts = con.execute("SELECT kind, reason FROM halts").fetchall()
    states = {r[0] for r in con.execute("SELECT state FROM order_intents").fetchall()}
    con.close()
    assert halts and halts[0][0] == "MANUAL"
    assert "CANCELLED" in states
