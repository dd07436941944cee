"""Bad input gets one clear line and exit code 2; nothing half-starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bigearn_tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})},
        timeout=120,
    )


def test_invalid_env_value_is_one_line_exit_2(tmp_path: Path) -> None:
    p = cli(
        tmp_path,
        "replay",
        "--json",
        "--db",
        str(tmp_path / "x.db"),
        env={"BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT": "7"},
    )
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "breakers.max_daily_loss_pct" in lines[0]
        and "= 7" in lines[0]
        and "BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT" in lines[0]
    )
    assert not (tmp_path / "x.db").exists()


def test_invalid_flag_value_names_the_key(tmp_path: Path) -> None:
    p = cli(tmp_path, "replay", "--mode", "yolo", "--db", str(tmp_path / "x.db"))
    assert p.returncode == 2
    assert "engine.mode" in p.stderr and "yolo" in p.stderr and "semi" in p.stderr


def test_bad_data_line_is_reported_with_file_line_and_field(tmp_path: Path, dataset) -> None:
    books, markets = dataset
    lines = books.read_text().splitlines()
    lines[3] = lines[3].replace('"UP"', '"LEFT"')
    books.write_text("\n".join(lines) + "\n")
    p = cli(
        tmp_path, "replay", "--data", str(books), "--markets", str(markets), "--db", str(tmp_path / "x.db")
    )
    assert p.returncode == 2
    msg = p.stderr.strip().splitlines()[-1]
    assert "line 4" in msg and "'side'" in msg and "LEFT" in msg and "UP" in msg


def test_missing_markets_file(tmp_path: Path) -> None:
    p = cli(tmp_path, "replay", "--markets", str(tmp_path / "nope.json"), "--db", str(tmp_path / "x.db"))
    assert p.returncode == 2 and "markets file not found" in p.stderr
