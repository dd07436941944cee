"""The engine and the headless CLI never load textual (nor rich, widgets, bigearn_tui's console)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_python(code: str, tmp_path: Path) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BIGEARN_UI__CONTROL_SOCKET": str(tmp_path / "ctl" / "bigearn.sock"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_importing_engine_loads_no_ui(tmp_path: Path) -> None:
    out = run_python(
        "import sys, pkgutil, importlib, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "import bigearn_tui.cli\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('textual', 'rich', 'widgets'))\n"
        "print(bad)\n",
        tmp_path,
    )
    assert out.strip() == "[]"


def test_headless_run_loads_no_textual(tmp_path: Path, dataset) -> None:
    books, markets = dataset
    out = run_python(
        "import sys\n"
        "from bigearn_tui.cli import app\n"
        "try:\n"
        f"    app(['--no-ui', '--venue', 'replay', '--speed', 'max', '--data', r'{books}', '--markets', r'{markets}',"
        f" '--db', r'{tmp_path / 'h.db'}', '--log-level', 'error'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('textual' in sys.modules, 'bigearn_tui.console' in sys.modules)\n",
        tmp_path,
    )
    assert out.strip().splitlines()[-1] == "False False"


def test_engine_sources_never_import_ui_packages() -> None:
    offenders = []
    for path in (ROOT / "engine").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and stripped.split()[1].split(".")[0] in (
                "textual",
                "rich",
                "widgets",
                "bigearn_tui",
            ):
                offenders.append(f"{path}: {stripped}")
    assert offenders == []
