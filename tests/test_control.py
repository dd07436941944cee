"""The control socket: `ctl` and `attach` steer a headless engine; other users are refused."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from engine import control
from engine.commands import Approve, Halt
from engine.control import (
    ControlClient,
    ControlError,
    ControlServer,
    RemoteEngine,
    decode_snapshot,
    encode_snapshot,
    encode_snapshot_steps,
)
from tests.conftest import FixedBrain, write_dataset
from tests.ui_harness import make_app, make_runtime

ROOT = Path(__file__).parents[1]


def lopsided_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    # Bids at 0.30: a maker bid there is a directional bet in the 0.20-0.40 price zone, where it may go
    # (between 0.40 and 0.60 it would need a conservative probability above 0.52).
    return [[0.30, 5000.0]], [[0.40, 50.0]]


def ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bigearn_tui.cli", "ctl", *args, "--socket", str(sock)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )


def connect_as(uid: int, sock: Path) -> str:
    """Fork, become `uid`, try to send a halt; report what happened through the exit code."""
    import socket as socketlib

    pid = os.fork()
    if pid == 0:  # child: no exec, so the interpreter's own file permissions do not matter
        code = 3
        try:
            os.setgid(uid)
            os.setuid(uid)
            s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
            s.connect(str(sock))
            s.sendall(b'{"op": "command", "command": {"type": "halt"}}\n')
            code = 0
        except PermissionError:
            code = 1
        except OSError:
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return {0: "connected", 1: "denied", 2: "error"}.get(os.waitstatus_to_exitcode(status), "crash")


@pytest.mark.slow
def test_ctl_steers_a_running_headless_engine(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=3600, book=lopsided_book)
    sock = tmp_path / "run" / "bigearn.sock"
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bigearn_tui.cli",
            "--no-ui",
            "--speed",
            "20",
            "--data",
            str(books),
            "--markets",
            str(markets),
            "--db",
            str(tmp_path / "h.db"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BIGEARN_UI__CONTROL_SOCKET": str(sock),
            "BIGEARN_ENGINE__WARMUP_S": "5",
            # 20x speed makes the default 30 s TTL 1.5 s of wall time: a loaded machine starting the `ctl`
            # process could miss it. The proposal must still be pending when the approval arrives.
            "BIGEARN_ENGINE__PROPOSAL_TTL_S": "600",
        },
    )
    try:
        deadline = time.monotonic() + 30
        status: dict = {}
        while time.monotonic() < deadline:
            if sock.exists():
                p = ctl(sock, "status")
                if p.returncode == 0:
                    status = json.loads(p.stdout)
                    if status["pending"]:
                        break
            time.sleep(0.2)
        assert status.get("state") == "RUNNING" and status["pending"], status
        # Owner-only: private directory, 0600 socket.
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        tail = status["pending"][0]["id"][-7:]  # the console shows the tail; ctl accepts it
        p = ctl(sock, "approve", tail)
        assert p.returncode == 0, p.stdout + p.stderr
        assert json.loads(p.stdout)["ok"] is True
        p = ctl(sock, "approve", "P999999")
        assert p.returncode == 1 and "no proposal" in p.stdout
        assert ctl(sock, "halt", "ops check").returncode == 0
        assert json.loads(ctl(sock, "status").stdout)["state"] == "HALTED"
        assert ctl(sock, "cancel-all").returncode == 0
        assert ctl(sock, "resume").returncode == 0
        p = ctl(sock, "explode")
        assert p.returncode == 2 and "accepted" in p.stderr
    finally:
        engine.terminate()
        out, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["orders"] >= 1 and [h["reason"] for h in summary["halts"]] == ["ops check"]
    assert not sock.exists()  # removed on shutdown


def test_attach_console_drives_the_remote_engine(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    sock = tmp_path / "a" / "bigearn.sock"

    async def main() -> None:
        server = ControlServer(rt.engine, sock)
        await server.start()
        remote = RemoteEngine(ControlClient(sock), refresh_hz=20)
        await remote.start()
        try:
            snap = remote.snapshot()
            assert len(snap.pending_proposals) == 3 and snap.venue == "REPLAY"
            app = make_app(rt)
            app.engine = remote  # the console sees only the remote view
            async with app.run_test(size=(140, 40)) as pilot:
                await pilot.press("a")
                await pilot.pause()
                assert rt.engine.counters["orders"] == 1  # the order was sent by the engine process side
                await pilot.press("H")
                await pilot.pause()
                assert rt.engine.state == "HALTED"
                assert app.snap is not None and app.snap.halted
                # The engine's record says the console did it, not a shell.
                assert any("HALTED" in line and "by=console" in line for line in rt.engine._log_lines)
                # Attached, `q` detaches at once: no question about open orders, nothing stopped or cancelled.
                assert app.snap.orders  # an order is open: a console that stops its engine would ask first
                app.detaches = True
                await pilot.press("q")
                await pilot.pause()
                assert app.return_code == 0 and "Quit?" not in app.last_result
                assert rt.engine.state == "HALTED" and rt.engine.counters["orders"] == 1
        finally:
            await remote.close()
            await server.close()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def serving(engine, sock: Path) -> AsyncIterator[ControlClient]:
    """A control server for `engine` on `sock`, and one client connected to it; both closed afterwards."""
    server = ControlServer(engine, sock)
    await server.start()
    client = ControlClient(sock)
    try:
        yield client
    finally:
        await client.close()
        await server.close()


def test_a_command_over_the_socket_names_its_sender(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    sock = tmp_path / "w" / "bigearn.sock"

    async def main() -> None:
        async with serving(rt.engine, sock) as client:
            reply = await client.request({"op": "command", "command": {"type": "halt", "actor": "root"}})
            assert reply == {
                "ok": False,
                "message": "command field actor: 'root' is not accepted: accepted: console, ctl",
            }
            assert rt.engine.state != "HALTED"  # a bad field changes nothing
            assert (await client.request({"op": "command", "command": {"type": "halt"}}))["ok"]
            assert "by=ctl" in rt.engine._log_lines[-1]

    asyncio.run(main())


def test_socket_refuses_another_user(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user")
    rt = make_runtime(tmp_path, until_s=6)
    sock = tmp_path / "p" / "bigearn.sock"

    async def main() -> None:
        server = ControlServer(rt.engine, sock)
        await server.start()
        try:
            # The filesystem keeps another user out: a forked client drops to nobody (uid 65534).
            result = await asyncio.to_thread(connect_as, 65534, sock)
            assert result == "denied"
            assert rt.engine.state == "RUNNING"
        finally:
            await server.close()
        # And if the filesystem let them in, the peer-credential check still refuses them.
        strict = ControlServer(rt.engine, sock, allowed_uid=os.getuid() + 12345)
        await strict.start()
        try:
            client = ControlClient(sock)
            reply = await client.request({"op": "command", "command": {"type": "halt"}})
            await client.close()
            assert reply["ok"] is False and "refused" in reply["message"]
            assert rt.engine.state == "RUNNING"
        finally:
            await strict.close()

    asyncio.run(main())


def test_server_refuses_a_shared_directory_and_a_live_socket(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, until_s=6)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)

    async def main() -> None:
        with pytest.raises(ControlError, match="private"):
            await ControlServer(rt.engine, shared / "bigearn.sock").start()
        first = ControlServer(rt.engine, tmp_path / "one" / "bigearn.sock")
        await first.start()
        try:
            with pytest.raises(ControlError, match="already listening"):
                await ControlServer(rt.engine, tmp_path / "one" / "bigearn.sock").start()
        finally:
            await first.close()
        await rt.engine.execute(Halt("x"))

    asyncio.run(main())


def test_snapshot_codec_round_trips_exactly(tmp_path: Path) -> None:
    # approved and filled: positions with exact Decimal averages, orders, ladders with our orders marked
    rt = make_runtime(
        tmp_path,
        brain=FixedBrain(p=0.70),
        until_s=30,
        actions={12: lambda e: e.execute(Approve(next(iter(e.pending))))},
    )
    snap = rt.engine.snapshot(force=True)
    assert snap.positions or snap.orders, "the scenario must exercise positions or orders"
    decoded = decode_snapshot(orjson.loads(encode_snapshot(snap)))
    assert decoded == snap
    assert isinstance(decoded.pnl.equity, Decimal) and decoded.pnl.equity == snap.pnl.equity
    ladder = next(iter(decoded.books.values()))
    assert isinstance(ladder.bids, tuple) and all(isinstance(level, tuple) for level in ladder.bids)


@pytest.mark.parametrize("per_step", [1, 2, 25])
def test_stepwise_encoding_gives_the_bytes_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_step: int
) -> None:
    monkeypatch.setattr(control, "BOOKS_PER_ENCODE_STEP", per_step)
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    snap = rt.engine.snapshot(force=True)
    assert len(snap.books) == 3

    def one_pass(value: object) -> bytes:
        return orjson.dumps(value, default=lambda d: str(d) if isinstance(d, Decimal) else None)

    steps = encode_snapshot_steps(snap)
    pauses = 0
    while True:
        try:
            next(steps)
            pauses += 1
        except StopIteration as done:
            encoded = done.value
            break
    assert encoded == one_pass(snap)
    assert pauses == -(-3 // per_step) + 1  # the ladders in groups, then the market rows
    empty = dataclasses.replace(snap, books={}, markets=())
    assert encode_snapshot(empty) == one_pass(empty)


def test_snapshot_requests_skip_unchanged_and_build_fresh_after_a_command(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=12)
    sock = tmp_path / "s" / "bigearn.sock"

    async def main() -> None:
        async with serving(rt.engine, sock) as client:
            first = await client.request({"op": "snapshot"})
            seq = first["snapshot"]["seq"]
            assert await client.request({"op": "snapshot", "since": seq}) == {"ok": True, "unchanged": True}
            await client.request({"op": "command", "command": {"type": "halt", "reason": "test"}})
            fresh = await client.request({"op": "snapshot", "since": seq, "fresh": True})
            assert fresh["snapshot"]["seq"] > seq and fresh["snapshot"]["state"] == "HALTED"

    asyncio.run(main())


def test_cancel_one_order_over_the_socket_by_its_tail(tmp_path: Path) -> None:
    """`ctl cancel ID` as the console and a shell send it: the command crosses the wire, the engine finds the
    order by the tail of its id, and a second cancel or an unknown id is refused with a reason."""
    from engine.commands import CancelOrder
    from engine.control import command_from_wire, command_to_wire

    wire = command_to_wire(CancelOrder("O000002"))
    assert wire == {"type": "cancel_order", "client_order_id": "O000002"}
    assert command_from_wire({**wire, "actor": "ctl"}) == CancelOrder("O000002", actor="ctl")
    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.53, half_width=0.005), until_s=7, **{"engine.mode": "auto"})
    sock = tmp_path / "c" / "bigearn.sock"

    async def main() -> None:
        async with serving(rt.engine, sock) as client:
            oid = min(rt.engine.working)
            body = {"op": "command", "command": {"type": "cancel_order", "client_order_id": oid[-7:]}}
            reply = await client.request(body)
            assert reply["ok"] is True and oid in reply["message"]
            assert rt.engine.orders[oid].cancel_requested
            again = await client.request(body)
            assert again["ok"] is False and "already being cancelled" in again["message"]
            body["command"]["client_order_id"] = "nope"
            unknown = await client.request(body)
            assert unknown["ok"] is False and "no working order 'nope'" in unknown["message"]

    asyncio.run(main())
