"""The console's two processes: the engine stays on the CLI's loop, the UI is a child process. Whatever
ends the UI - a crash, a kill, a clean quit, SIGTERM to the console - the engine handles it as configured.

The UI here is a stand-in script that steers the engine over the same private socket the real UI uses,
then ends the way each test needs; the real UI in a real terminal is tests/test_tmux.py.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import textwrap
from pathlib import Path

from bigearn_tui.console import ConsoleSession
from engine.control import ControlClient, ControlServer, RemoteEngine
from engine.logs import setup_json_logging
from engine.runtime import build
from tests.conftest import settings_for, write_dataset
from tests.ui_harness import make_runtime

# Rests a maker bid at 0.30 in auto mode (see tests/test_tmux.py).
STAND_IN_UI = textwrap.dedent(
    """
    import argparse, asyncio, json, os, signal, sys
    from engine.control import ControlClient

    ap = argparse.ArgumentParser()
    ap.add_argument("--socket"); ap.add_argument("--ui"); ap.add_argument("--end")
    args = ap.parse_args()
    ui = json.loads(args.ui)  # the engine process hands its resolved [ui] settings over
    assert ui["crash_action"] in ("halt", "halt_cancel", "continue"), ui

    async def main():
        client = ControlClient(args.socket)
        for _ in range(400):
            status = (await client.request({"op": "status"}))["status"]
            if status["open_orders"] >= 1:
                break
            await asyncio.sleep(0.05)
        else:
            sys.exit(9)  # the scenario never rested an order
        await client.close()

    asyncio.run(main())
    if args.end == "crash":
        raise RuntimeError("the UI blew up")
    if args.end == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if args.end == "wait":
        print("waiting", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as the real UI quits on SIGTERM
        signal.pause()
    sys.exit(0)
    """
)


def lopsided_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    return [[0.30, 5000.0]], [[0.40, 50.0]]


def run_console(
    tmp_path: Path, end: str, *, occupied: bool = False, **overrides
) -> tuple[int, list[tuple[str, str]], set[str]]:
    """`occupied`: another engine already listens on the configured control socket; it must survive."""
    books, markets = write_dataset(tmp_path, seconds=3600, book=lopsided_book)
    settings = settings_for(
        tmp_path, books, markets, **{"engine.mode": "auto", "venue.speed": "5", **overrides}
    )
    script = tmp_path / "stand_in_ui.py"
    script.write_text(STAND_IN_UI)
    logger = setup_json_logging("info", str(tmp_path / "console.log"))

    async def main() -> int:
        other = ControlServer(object(), Path(settings.ui.control_socket)) if occupied else None
        if other is not None:
            await other.start()
        rt = await build(settings, logger)
        session = ConsoleSession(settings, rt, logger, ui_command=(sys.executable, str(script), "--end", end))

        async def started(s: ConsoleSession) -> None:
            if end == "wait":  # the operator's `kill <console>` once the UI is up with an order resting

                async def terminate_later() -> None:
                    assert s.ui is not None and s.ui.stdout is None
                    for _ in range(400):
                        if rt.engine.working:
                            break
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.2)
                    signal.raise_signal(signal.SIGTERM)

                asyncio.create_task(terminate_later())

        try:
            return await session.run(on_started=started)
        finally:
            if other is not None:
                assert other.path.exists(), "the console removed another engine's control socket"
                await other.close()

    rc = asyncio.run(main())
    con = sqlite3.connect(settings.store.path)
    halts = [(r[0], r[1]) for r in con.execute("SELECT kind, reason FROM halts")]
    states = {r[0] for r in con.execute("SELECT state FROM order_intents")}
    con.close()
    return rc, halts, states


def test_ui_crash_halts_and_cancels_all_then_exits_1(tmp_path: Path) -> None:
    rc, halts, states = run_console(tmp_path, "crash")
    assert rc == 1
    assert halts and "console failed" in halts[0][1] and "code 1" in halts[0][1]
    assert "CANCELLED" in states
    log = (tmp_path / "console.log").read_text()
    assert '"event":"ui crashed"' in log and '"action":"halt_cancel"' in log


def test_ui_killed_by_a_signal_is_a_crash_too(tmp_path: Path) -> None:
    rc, halts, states = run_console(tmp_path, "kill", **{"ui.crash_action": "halt"})
    assert rc == 1
    assert halts and "SIGKILL" in halts[0][1]
    # Halt only: the safety action leaves resting orders alone; they are cancelled when the engine stops.
    log = (tmp_path / "console.log").read_text()
    lines = log.splitlines()
    assert not [x for x in lines if '"event":"cancel all"' in x and '"by":"safety"' in x]
    assert any('"event":"stopping"' in x for x in lines)


def test_clean_quit_is_no_crash(tmp_path: Path) -> None:
    rc, halts, states = run_console(tmp_path, "quit")
    assert rc == 0
    # No halt; the engine cancels what rests on the way out, and the ledger says what the venue said.
    assert halts == [] and states <= {"CANCELLED", "FILLED", "EXPIRED", "REJECTED"}


def test_another_engines_control_socket_is_left_alone(tmp_path: Path) -> None:
    rc, halts, _ = run_console(tmp_path, "quit", occupied=True)
    assert (rc, halts) == (0, [])
    assert "control socket unavailable" in (tmp_path / "console.log").read_text()


def test_sigterm_to_the_console_quits_the_ui_and_stops_cleanly(tmp_path: Path) -> None:
    rc, halts, _ = run_console(tmp_path, "wait")
    assert rc == 0
    assert halts == []


def test_remote_engine_reports_a_lost_engine(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=12)
    sock = tmp_path / "l" / "bigearn.sock"

    async def main() -> str:
        server = ControlServer(rt.engine, sock)
        await server.start()
        remote = RemoteEngine(ControlClient(sock), refresh_hz=50)
        lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        remote.on_lost = lost.set_result
        await remote.start()
        await server.close()  # the engine process went away
        try:
            return await asyncio.wait_for(lost, 5)
        finally:
            await remote.close()

    reason = asyncio.run(main())
    assert "closed the connection" in reason or "lost" in reason.lower()


WAIT_FOR_ERROR_UI = textwrap.dedent(
    """
    import argparse, asyncio, json, sys
    from engine.control import ControlClient

    ap = argparse.ArgumentParser()
    ap.add_argument("--socket"); ap.add_argument("--ui")
    args = ap.parse_args()

    async def main():
        client = ControlClient(args.socket)
        for _ in range(400):
            status = (await client.request({"op": "status"}))["status"]
            if status["state"] == "ERROR":
                print(json.dumps(status), flush=True)  # what the screen has to show
                break
            await asyncio.sleep(0.05)
        else:
            sys.exit(9)
        await client.close()

    asyncio.run(main())
    sys.exit(0)  # the operator reads it and quits with q
    """
)


def test_a_bad_data_line_in_the_console_says_why_and_exits_2(tmp_path: Path, capfd) -> None:
    books, markets = write_dataset(tmp_path, seconds=600)
    lines = books.read_text().splitlines()
    lines[200] = lines[200].replace('"UP"', '"LEFT"')
    books.write_text("\n".join(lines) + "\n")
    settings = settings_for(tmp_path, books, markets, **{"venue.speed": "20"})
    script = tmp_path / "wait_for_error_ui.py"
    script.write_text(WAIT_FOR_ERROR_UI)
    logger = setup_json_logging("info", str(tmp_path / "console.log"))

    async def main() -> int:
        rt = await build(settings, logger)
        return await ConsoleSession(settings, rt, logger, ui_command=(sys.executable, str(script))).run()

    rc = asyncio.run(main())
    out, err = capfd.readouterr()
    assert rc == 2
    shown = [line for line in out.splitlines() if line.startswith("{")]
    assert shown and "line 201" in shown[-1] and "LEFT" in shown[-1]  # the status the screen draws from
    assert "line 201" in err and "LEFT" in err  # and on the terminal once the console is gone
    log = (tmp_path / "console.log").read_text()
    assert '"event":"ENGINE ERROR"' in log and "line 201" in log
