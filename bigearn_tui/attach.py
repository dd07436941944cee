"""The console app over an engine's control socket: `bigearn-tui attach`, and the console's own UI process.

Only this module and the app load textual; the engine's process never does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import Settings, UiSettings
from engine.control import ControlClient, ControlError, RemoteEngine
from engine.gc_tuning import tune_gc

# The UI's exit code when the engine's socket went away under it.
ENGINE_LOST = 3
# Textual hands each finished frame to a writer thread. With Python's default 5 ms switch interval that
# thread waited up to 5 ms per hand-over for the GIL while the main thread went on to the next panes, so a
# key's effect reached the terminal 5-10 ms after it was drawn (bench/ui.py). The main thread is the only
# other one, so asking it to let go sooner costs next to nothing.
UI_SWITCH_INTERVAL_S = 0.0005


async def attach_console(
    ui: UiSettings, path: Path, on_app: Callable[[Any], None] | None = None, *, detaches: bool = False
) -> int:
    """The console app over an engine's control socket; exits with ENGINE_LOST if the engine goes away."""
    from bigearn_tui.app import BigEarnApp

    remote = RemoteEngine(ControlClient(path), refresh_hz=ui.refresh_hz)
    await remote.start()
    tune_gc()
    sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
    try:
        app = BigEarnApp(remote, refresh_hz=ui.refresh_hz, keymap=dict(ui.keymap), detaches=detaches, bell=ui.bell)
        remote.on_lost = lambda reason: app.exit(
            return_code=ENGINE_LOST, message=f"bigearn-tui: engine connection lost: {reason}"
        )
        if on_app is not None:
            on_app(app)
        await app.run_async()
        return app.return_code or 0
    finally:
        await remote.close()


def run_attached(settings: Settings, path: Path) -> int:
    """The console over a headless engine's control socket. Quitting it leaves the engine running."""
    try:
        return asyncio.run(attach_console(settings.ui, path, detaches=True))
    except ControlError as exc:
        print(f"bigearn-tui: {exc}")
        return 2
