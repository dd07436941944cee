"""A real `kill -9` of a LIVE engine trading on the local exchange: bench/chaos.py, small. The figures for
50 kills are in the README (`.venv/bin/python bench/chaos.py --kills 50`)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_chaos():
    spec = importlib.util.spec_from_file_location("bench_chaos", ROOT / "bench" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_three_kills_leave_the_ledger_equal_to_the_exchange(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--kills", "3", "--seed", "3", "--json",
         "--max-up", "8", "--max-down", "17", "--final-up", "8", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=420, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout.strip(), proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["problems"] == [], (result, proc.stderr[-3000:])
    assert result["clean"] and result["restarts_restored"] == "3/3"
    assert result["exchange_fills"] == result["ledger_fills"] > 0
    assert result["open_orders_at_exchange"] == 0


@pytest.mark.slow
def test_a_tripped_loss_limit_survives_kill_9_and_nothing_is_sent(tmp_path: Path) -> None:
    chaos = load_chaos()
    h = chaos.Harness(tmp_path, seed=5, speed=1.0)
    chaos.ENGINE_ENV["BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT"] = "0.0001"  # the first taker fee trips it
    h.start_exchange(5, markets=4, minutes=10)
    try:
        first, log, _ = h.start_engine(0)
        h.arm(first)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and '"breaker":"daily_loss"' not in log.read_text():
            time.sleep(0.2)
        assert '"breaker":"daily_loss"' in log.read_text(), "the loss limit never tripped"
        time.sleep(1.5)  # a group commit (0.5 s) has run since: the trip is in the ledger
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second, log2, err2 = h.start_engine(1)
        h.arm(second)
        time.sleep(10)
        status = subprocess.run(
            [sys.executable, "-m", "bigearn_tui.cli", "ctl", "status", "--socket", str(h.socket)],
            capture_output=True, text=True, cwd=ROOT, timeout=30,
        )  # fmt: skip
        second.send_signal(signal.SIGINT)
        second.wait(60)
    finally:
        h.stop_exchange()
    events = [json.loads(line) for line in log2.read_text().splitlines() if line.startswith("{")]
    restored = next(e for e in events if e["event"] == "ledger restored")
    assert "daily_loss" in restored["tripped"]
    assert not [e for e in events if e["event"] == "order sent"]  # nothing sent after the restart
    assert json.loads(status.stdout)["state"] in ("RUNNING", "HALTED")
    assert "Traceback" not in err2.read_text()
