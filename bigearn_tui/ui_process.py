"""The console's UI process: the Textual app on the terminal, over the engine's private control socket.

Started by console.py (never by hand): `python -m bigearn_tui.ui_process --socket PATH --ui JSON`, where
JSON is the [ui] section of the settings the engine process resolved (config file, env and flags), so
both processes see the same keymap and refresh rate. SIGTERM quits it as `q` would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bigearn_tui.attach import attach_console
from engine.config import UiSettings
from engine.control import ControlError

UI_NICENESS = 10


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bigearn_tui.ui_process")
    ap.add_argument("--socket", required=True, help="the engine's private control socket")
    ap.add_argument("--ui", required=True, help="the [ui] settings as JSON")
    args = ap.parse_args(argv)
    # When the engine and the screen want the same CPU, the engine goes first: a frame can wait a few ms,
    # the engine's loop should not (bench/ui.py). Lowering one's own priority needs no privilege.
    with contextlib.suppress(OSError):
        os.nice(UI_NICENESS)
    try:
        ui = UiSettings.model_validate_json(args.ui)
    except ValidationError as exc:
        print(f"bigearn-tui: --ui: {exc}")
        return 2

    def quit_on_sigterm(app: Any) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: app.exit(0))

    try:
        return asyncio.run(attach_console(ui, Path(args.socket), on_app=quit_on_sigterm))
    except ControlError as exc:
        print(f"bigearn-tui: {exc}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
