"""Run the console: the engine on the CLI's own event loop in this process, the Textual UI in a child
process on the same terminal (bigearn_tui/ui_process.py), the two joined by a private control socket.

Why two processes: Python threads share one interpreter lock, and a Textual frame over a 140x40 screen is
tens of milliseconds of Python. With the UI as a thread of the engine's process every frame competed with
the engine for the lock (bench/ui.py: engine loop lag p99 4-12 ms, key-to-screen p99 70-130 ms at 5,000
msg/s); as a process of its own the UI renders on the other core and the engine loop only applies
messages, evaluates and encodes a snapshot (0.7 ms per 100 books) when the UI asks for a new one.

The UI is a client like `bigearn-tui attach`: it reads snapshots and sends commands over a socket that
only this user can open, in a directory created for this run. If the UI process fails - an exception, a
kill, a lost terminal - the engine is not torn down with it: the configured safety action runs first
(default halt + cancel all), the failure is logged and printed, then the engine shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import termios
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from engine.commands import CancelAll, Halt
from engine.config import Settings
from engine.control import ControlError, ControlServer, default_socket_path
from engine.feeds.replay import ReplayDataError
from engine.gc_tuning import tune_gc
from engine.logs import log_event, setup_json_logging
from engine.runtime import Runtime, SetupError, build
from engine.supervisor import guard_loop


def _log_path(settings: Settings) -> str:
    # The screen belongs to the console: logs go to a file beside the database.
    if settings.log.file:
        return settings.log.file
    db = Path(settings.store.path)
    return str(db.with_suffix(".log")) if db.name != ":memory:" else "bigearn.log"


class ConsoleSession:
    """One engine serving one UI process. `run()` returns the console's exit code."""

    def __init__(
        self,
        settings: Settings,
        rt: Runtime,
        logger: logging.Logger,
        *,
        ui_command: Sequence[str] = (sys.executable, "-m", "bigearn_tui.ui_process"),
    ) -> None:
        self.settings = settings
        self.ui_command = tuple(ui_command)  # given `--socket PATH --ui JSON`
        self.rt = rt
        self.logger = logger
        self.ui: asyncio.subprocess.Process | None = None
        self._stopping = False  # the UI was asked to go (a signal to us): its exit is no crash
        self._hung_up = False
        self._engine_task: asyncio.Task[Any] | None = None

    def stop_ui(self) -> None:
        """Ask the UI to quit as if the operator had (SIGTERM: it exits cleanly, code 0)."""
        self._stopping = True
        if self.ui is not None and self.ui.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.ui.terminate()

    def _hang_up(self) -> None:
        # The terminal is gone: nobody is watching. The UI dies of the same hang-up; if it lingers, it goes.
        self._hung_up = True
        if self.ui is not None and self.ui.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.ui.send_signal(signal.SIGHUP)

    async def run(self, on_started: Callable[[ConsoleSession], Awaitable[Any]] | None = None) -> int:
        settings, rt, logger = self.settings, self.rt, self.logger
        private = Path(tempfile.mkdtemp(prefix="bigearn-ui-"))  # 0700, this run only
        ui_socket = ControlServer(rt.engine, private / "ui.sock")
        shared: ControlServer | None = None  # closed only if started: closing unlinks its path
        loop = asyncio.get_running_loop()
        handled: list[int] = []
        try:
            await ui_socket.start()
            try:  # best effort: a console can be steered by `ctl` too, unless another engine owns the socket
                candidate = ControlServer(rt.engine, default_socket_path(settings.ui.control_socket))
                await candidate.start()
                shared = candidate
            except (ControlError, OSError) as exc:
                log_event(logger, "control socket unavailable", logging.WARNING, error=str(exc))
            tune_gc()
            guard_loop(loop, rt.engine.fail, logger)
            self._engine_task = asyncio.create_task(rt.engine.run(), name="engine")
            # The terminal's ctrl+c belongs to the UI (in raw mode it is a key); SIGTERM stops the console
            # the way `q` does; a hang-up means the operator is gone.
            for sig, handler in (
                (signal.SIGINT, lambda: None),
                (signal.SIGTERM, self.stop_ui),
                (signal.SIGHUP, self._hang_up),
            ):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, handler)
                    handled.append(sig)
            terminal = _save_terminal()
            self.ui = await asyncio.create_subprocess_exec(
                *self.ui_command,
                "--socket",
                str(ui_socket.path),
                "--ui",
                orjson.dumps(settings.ui.model_dump(mode="json")).decode(),
            )
            if self._hung_up:  # a signal that came while the UI was starting
                self._hang_up()
            elif self._stopping:
                self.stop_ui()
            if on_started is not None:
                await on_started(self)
            rc = await self.ui.wait()
            if rc != 0:
                _restore_terminal(terminal)
            failed = self._hung_up or (rc != 0 and not (self._stopping and rc in (0, -signal.SIGTERM)))
            if failed:
                await self._safety_action(rc)
            return 1 if failed else self._engine_code()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            if self._engine_task is not None:
                await self._stop_engine(self._engine_task)
            if shared is not None:
                await shared.close()
            await ui_socket.close()
            shutil.rmtree(private, ignore_errors=True)
            await rt.store.close()

    async def _safety_action(self, rc: int) -> None:
        action = self.settings.ui.crash_action
        if self._hung_up:
            cause = "terminal hung up"
        elif rc < 0:
            cause = f"console UI killed by {signal.Signals(-rc).name}"
        else:
            cause = f"console UI exited with code {rc}"
        log_event(self.logger, "ui crashed", logging.ERROR, return_code=rc, cause=cause, action=action)
        engine = self.rt.engine
        if action in ("halt", "halt_cancel"):
            await engine.execute(Halt(f"console failed ({cause})", actor="safety"))
        if action == "halt_cancel":
            await engine.execute(CancelAll(actor="safety"))
        if not self._hung_up:
            print(f"bigearn-tui: {cause}; safety action: {action}", file=sys.stderr)
        if action == "continue":
            # keep trading headless until the data ends or the process is signalled
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                assert self._engine_task is not None
                waiter = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, self._engine_task}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    def _engine_code(self) -> int:
        """The console's exit code once the UI has quit: what the engine's run came to. A run that stopped on
        bad data or failed says why on stderr (the screen showed it in the status bar and the Log pane)."""
        engine = self.rt.engine
        if engine.failure is None:
            return 0
        bad_data = isinstance(engine.failure, ReplayDataError)
        print(f"bigearn-tui: {engine.failure if bad_data else 'engine error: ' + engine.error}", file=sys.stderr)
        return 2 if bad_data else 1

    async def _stop_engine(self, task: asyncio.Task[Any]) -> None:
        """As a headless run stops: cancel every order, wait for the venue's word, stop, flush."""
        if not task.done():
            await self.rt.engine.stop("console quit")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 10)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.rt.engine.shutdown()
        elif not task.cancelled() and task.exception() is not None:
            log_event(self.logger, "engine failed", logging.ERROR, error=repr(task.exception()))


def _save_terminal() -> list[Any] | None:
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except (termios.error, OSError, ValueError):
        return None  # not a terminal (tests, pipes)


def _restore_terminal(saved: list[Any] | None) -> None:
    """A UI that died without cleaning up leaves the terminal raw and on the alternate screen."""
    if saved is None:
        return
    with contextlib.suppress(termios.error, OSError, ValueError):
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        os.write(sys.stdout.fileno(), b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1003l\x1b[?1006l")


async def _run(settings: Settings) -> int:
    logger = setup_json_logging(settings.log.level, _log_path(settings))
    rt = await build(settings, logger)  # raises SetupError here, before the screen is taken
    return await ConsoleSession(settings, rt, logger).run()


def run_console(settings: Settings) -> int:
    try:
        return asyncio.run(_run(settings))
    except SetupError as exc:
        print(f"bigearn-tui: {exc}")
        return 2
