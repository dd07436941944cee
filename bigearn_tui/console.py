"""Run the console: the engine runs on the CLI's own loop in a thread of its own (EngineHost), the Textual
app on the main thread, so a heavy frame never stalls the engine and a burst of market data never delays a key.

If the UI fails, the engine is not torn down with it: the configured safety action runs first
(default halt + cancel all), the crash is logged, and then the engine shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

from engine.commands import CancelAll, Halt
from engine.config import Settings
from engine.control import ControlClient, ControlError, ControlServer, RemoteEngine, default_socket_path
from engine.host import EngineHost
from engine.logs import log_event, setup_json_logging
from engine.runtime import Runtime, SetupError, build


def _log_path(settings: Settings) -> str:
    # The screen belongs to the console: logs go to a file beside the database.
    if settings.log.file:
        return settings.log.file
    db = Path(settings.store.path)
    return str(db.with_suffix(".log")) if db.name != ":memory:" else "bigearn.log"


async def _run(settings: Settings) -> int:
    from bigearn_tui.app import BigEarnApp

    logger = setup_json_logging(settings.log.level, _log_path(settings))
    control: ControlServer | None = None

    async def start_control(rt: Runtime) -> None:
        # Best effort: a console can be steered by `ctl` too, unless another engine owns the socket.
        nonlocal control
        control = ControlServer(rt.engine, default_socket_path(settings.ui.control_socket))
        try:
            await control.start()
        except (ControlError, OSError) as exc:
            log_event(logger, "control socket unavailable", logging.WARNING, error=str(exc))
            control = None

    async def stop_control(rt: Runtime) -> None:
        if control is not None:
            await control.close()

    host = EngineHost(partial(build, settings, logger), publish_hz=max(settings.engine.publish_hz, settings.ui.refresh_hz),
                      on_start=start_control, on_stop=stop_control)
    host.start()  # raises SetupError here, before the screen is taken
    app = BigEarnApp(host, refresh_hz=settings.ui.refresh_hz, keymap=dict(settings.ui.keymap))
    crashed: BaseException | None = None
    try:
        await app.run_async()
    except Exception as exc:  # the UI itself blew up outside Textual's own handling
        crashed = exc
    rc = app.return_code or 0
    if crashed is not None or rc != 0:
        action = settings.ui.crash_action
        log_event(logger, "ui crashed", logging.ERROR, return_code=rc, error=repr(crashed), action=action)
        if action in ("halt", "halt_cancel"):
            await host.execute(Halt(f"console crashed (rc={rc})", actor="safety"))
        if action == "halt_cancel":
            await host.execute(CancelAll(actor="safety"))
        if action == "continue":
            # keep trading headless until the data ends or the process is signalled
            await host.wait_engine()
    host.request_stop()
    await asyncio.to_thread(host.join)
    return 1 if crashed is not None or rc != 0 else 0


async def _attach(settings: Settings, path: Path) -> int:
    from bigearn_tui.app import BigEarnApp

    remote = RemoteEngine(ControlClient(path), refresh_hz=settings.ui.refresh_hz)
    await remote.start()
    try:
        app = BigEarnApp(remote, refresh_hz=settings.ui.refresh_hz, keymap=dict(settings.ui.keymap))
        await app.run_async()
        return app.return_code or 0
    finally:
        await remote.close()


def run_attached(settings: Settings, path: Path) -> int:
    """The console over a headless engine's control socket. Quitting it leaves the engine running."""
    try:
        return asyncio.run(_attach(settings, path))
    except ControlError as exc:
        print(f"bigearn-tui: {exc}")
        return 2


def run_console(settings: Settings) -> int:
    try:
        return asyncio.run(_run(settings))
    except SetupError as exc:
        print(f"bigearn-tui: {exc}")
        return 2
