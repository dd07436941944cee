"""The real program in a real terminal: tmux at 140x40, keys sent as an operator would type them."""

from __future__ import annotations

import re
import shutil
import sqlite3
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


def start_session(session: str, cmd: str, keep_s: int) -> None:
    """A detached tmux session pinned at 140x40 before `cmd` starts in it: with no client attached tmux may
    otherwise fall back to its 80x24 default, and a resize racing the program's start-up could be missed."""
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", f"sleep {keep_s}"], check=True
    )
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], capture_output=True)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", "140", "-y", "40"], capture_output=True)
    subprocess.run(["tmux", "respawn-pane", "-k", "-t", session, cmd], check=True)


def wait_for_exit_code(session: str, rc_file: Path, timeout: float) -> str:
    """The program's exit code, written to `rc_file` by the session's shell once it ends."""
    deadline = time.monotonic() + timeout
    while not rc_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rc_file.exists(), capture(session)
    return rc_file.read_text().strip()


@pytest.mark.slow
def test_console_in_tmux(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=3600, book=lopsided_book)
    rc_file = tmp_path / "rc"
    session = f"bigearn-test-{tmp_path.name[-8:]}"
    cmd = (
        f"cd {ROOT} && env TEXTUAL_ANIMATIONS=none HOME={tmp_path} {sys.executable} -m bigearn_tui.cli "
        f"--mode auto --speed 5 --data {books} --markets {markets} --db {tmp_path / 'ui.db'}; echo $? > {rc_file}"
    )
    start_session(session, cmd, keep_s=600)
    try:
        ok, _, screen = wait_for(session, lambda s: all(t in s for t in TITLES) and "orders 1" in s, 30)
        width = subprocess.run(
            ["tmux", "display-message", "-p", "-t", session, "#{window_width}x#{window_height}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert width == "140x40"
        assert ok, f"panes or the resting order never showed:\n{screen}"
        # The truth report of the running engine's ledger (key T): its gate lines on a screen of their own,
        # built in the background; escape gives the console back.
        keys(session, "T")
        ok, _, screen = wait_for(session, lambda s: "Promotion gates" in s and "Gate A:" in s and "Gate B:" in s, 30)
        assert ok, f"the Report screen never showed the gate lines:\n{screen}"
        assert re.search(r"^\s+fills\s.*\s(PASS|FAIL|n/a)\s", screen, re.M), screen  # a gate line with its verdict
        keys(session, "Escape")
        ok, _, screen = wait_for(session, lambda s: all(t in s for t in TITLES) and "Gate A:" not in s, 10)
        assert ok, f"escape did not close the Report screen:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "H"], check=True)
        ok, took, screen = wait_for(session, lambda s: "HALTED" in s, 1.0)
        assert ok, f"HALTED not shown within 1 s:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "X"], check=True)
        ok, took, screen = wait_for(session, lambda s: "orders 0" in s, 10.0)
        assert ok, f"open orders never reached zero:\n{screen}"
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert wait_for_exit_code(session, rc_file, 20) == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    # The run was recorded: the halt, the cancel, and the order that rested.
    con = sqlite3.connect(tmp_path / "ui.db")
    halts = con.execute("SELECT kind, reason FROM halts").fetchall()
    states = {r[0] for r in con.execute("SELECT state FROM order_intents").fetchall()}
    con.close()
    assert halts and halts[0][0] == "MANUAL"
    assert "CANCELLED" in states


BOOK_ROW_WITH_OURS = re.compile(r"^\s*\d[\d,]*\.\d\d\s+0\.\d+\s+[\d,]+\.\d\d\s")


def book_rows_with_our_quotes(screen: str) -> list[str]:
    """Rows of the Book pane (the right-hand pane of the top half) whose `ours` column holds a size."""
    rows = []
    for line in screen.splitlines():
        if "││" in line:
            book = line.split("││", 1)[1]
            if BOOK_ROW_WITH_OURS.match(book):
                rows.append(book.rstrip("│ "))
    return rows


def fills_in(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet
    finally:
        con.close()


@pytest.mark.slow
def test_make_run_as_a_new_user_approves_a_market_maker_mandate_and_gets_fills(tmp_path: Path) -> None:
    """`make run` with the default config (semi mode, the bundled books at 10x): within 30 s of the first frame a
    market-maker mandate waits with its rationale; `a` approves it; our quotes show in the Book pane; fills
    follow within a few minutes."""
    db = tmp_path / "run.db"
    ctl = tmp_path / "ctl"
    ctl.mkdir(mode=0o700)
    rc_file = tmp_path / "rc"
    session = f"bigearn-make-{tmp_path.name[-8:]}"
    cmd = (
        f"cd {ROOT} && env -u COLUMNS -u LINES TEXTUAL_ANIMATIONS=none HOME={tmp_path} BIGEARN_STORE__PATH={db}"
        f" BIGEARN_UI__CONTROL_SOCKET={ctl / 'bigearn.sock'} make run; echo $? > {rc_file}"
    )
    start_session(session, cmd, keep_s=900)
    try:
        ok, _, screen = wait_for(session, lambda s: all(t in s for t in TITLES), 60)
        assert ok, f"the console never drew its panes:\n{screen}"
        ok, took, screen = wait_for(
            session, lambda s: "MANDATE" in s and "PENDING" in s and "market_maker" in s, 30
        )
        assert ok, f"no market-maker mandate within 30 s of the first frame:\n{screen}"
        # Its rationale is on screen with it: the quotes it would make, the score and the resolution risk.
        assert "score" in screen and "quote" in screen and "resolution risk" in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "a"], check=True)
        ok, _, screen = wait_for(session, lambda s: len(book_rows_with_our_quotes(s)) >= 2, 30)
        assert ok, f"our two quotes never showed in the Book pane after approving:\n{screen}"
        assert "maker " in screen and "inv " in screen, f"no maker line in the Book pane:\n{screen}"
        deadline = time.monotonic() + 300
        while fills_in(db) == 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert fills_in(db) > 0, f"no fill within 5 minutes of approving:\n{capture(session)}"
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        ok, _, screen = wait_for(session, lambda s: "Quit?" in s, 10)
        if ok:  # quotes still rest: the console asks before it cancels them on the way out
            subprocess.run(["tmux", "send-keys", "-t", session, "y"], check=True)
        assert wait_for_exit_code(session, rc_file, 30) == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    con = sqlite3.connect(db)
    mandates = con.execute("SELECT status, decided_by FROM mandates WHERE strategy_id = 'market_maker'").fetchall()
    orders = con.execute(
        "SELECT COUNT(*) FROM order_intents WHERE strategy_id = 'market_maker' AND post_only = 1"
    ).fetchone()[0]
    con.close()
    # Approved from the console; ended with the run (leave to quote lasts one run).
    assert ("ENDED", "console") in mandates, mandates
    assert orders >= 2


def keys(session: str, *names: str) -> None:
    """One key (or `-l TEXT`) at a time, a beat apart: a key that moves the focus takes effect before the next."""
    literal = names[:1] == ("-l",)
    for name in (names[1:] if literal else names):
        subprocess.run(["tmux", "send-keys", "-t", session, *(("-l",) if literal else ()), name], check=True)
        time.sleep(0.3)


@pytest.mark.slow
def test_a_hand_post_only_order_from_the_ticket_rests_shows_and_is_cancelled(tmp_path: Path) -> None:
    """The bundled replay with hand orders only: o opens the ticket on the highlighted market; a post-only buy
    two cents under the best bid is typed, its what-if says it would be sent, ctrl+s sends it; it shows in the
    Book pane (ours) and in Positions; c on its row, y, cancels it."""
    db = tmp_path / "ticket.db"
    ctl = tmp_path / "ctl"
    ctl.mkdir(mode=0o700)
    rc_file = tmp_path / "rc"
    session = f"bigearn-ticket-{tmp_path.name[-8:]}"
    cmd = (
        f"cd {ROOT} && env -u COLUMNS -u LINES TEXTUAL_ANIMATIONS=none HOME={tmp_path} BIGEARN_STORE__PATH={db}"
        f" BIGEARN_UI__CONTROL_SOCKET={ctl / 'bigearn.sock'} {sys.executable} -m bigearn_tui.cli --speed 2"
        f" --strategies manual; echo $? > {rc_file}"
    )
    start_session(session, cmd, keep_s=600)
    try:
        ok, _, screen = wait_for(session, lambda s: all(t in s for t in TITLES) and " OPEN " in s, 60)
        assert ok, f"the console never showed an open market:\n{screen}"
        price = None
        for _ in range(8):  # the first market whose Up bid leaves room for a resting buy inside the zones
            keys(session, "o")
            ok, _, screen = wait_for(session, lambda s: "ctrl+s send" in s and "tick" in s, 10)
            assert ok, f"the ticket never opened:\n{screen}"
            m = re.search(r"(\w+) (\d\.\d+)/(\d\.\d+)\s+\w+ [\d.-]+/[\d.-]+\s+tick", screen)
            bid = float(m.group(2)) if m else 0.0
            if 0.10 <= bid <= 0.78:
                price = round(bid - 0.02, 2)
                break
            keys(session, "Escape")
            time.sleep(0.3)
            keys(session, "Down")
        assert price is not None, f"no market with room for a resting buy:\n{screen}"
        keys(session, "BTab", "Space", "Tab")  # post-only on (the box before Price), back to Price
        keys(session, "-l", f"{price:.2f}")
        keys(session, "Tab")
        keys(session, "-l", "10")
        ok, _, screen = wait_for(session, lambda s: "would send BUY" in s and "post-only" in s, 15)
        assert ok, f"the what-if never said it would send a post-only buy:\n{screen}"
        assert "fee $0" in screen and "✗" not in screen, screen  # a maker order: no fee, no refusing rule
        keys(session, "C-s")
        ok, _, screen = wait_for(session, lambda s: "PlaceOrder: sent" in s and "orders 1" in s, 15)
        assert ok, f"the order was not sent:\n{screen}"
        shown = f"{price:.3f}"[1:]  # Positions: the order's price as .xyz
        ok, _, screen = wait_for(session, lambda s: re.search(rf"BUY .*{re.escape(shown)}\s+live", s) is not None, 15)
        assert ok, f"the order never showed as live in Positions:\n{screen}"
        assert re.search(rf"10\.00\s+{price:.2f}\s", screen), f"the Book pane does not show our order:\n{screen}"
        for _ in range(5):  # tab from pane to pane until Positions has the focus: there c asks about its order
            keys(session, "Tab", "c")
            ok, _, screen = wait_for(session, lambda s: "Cancel order" in s and "[y] yes" in s, 2)
            if ok:
                break
        assert ok, f"c never asked to cancel the order:\n{screen}"
        keys(session, "y")
        ok, _, screen = wait_for(session, lambda s: "orders 0" in s and "CancelOrder: cancel requested" in s, 15)
        assert ok, f"the order was not cancelled:\n{screen}"
        keys(session, "q")
        assert wait_for_exit_code(session, rc_file, 30) == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT strategy_id, post_only FROM order_intents").fetchall()
    states = [r[0] for r in con.execute("SELECT state_to FROM order_events ORDER BY id").fetchall()]
    con.close()
    assert rows == [("manual", 1)] and states[-1] == "CANCELLED", (rows, states)
