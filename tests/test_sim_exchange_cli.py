"""`bigearn-tui sim-exchange`: prints its five URLs, answers /ok, serves the replay books, stops on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("bigearn-tui")


@pytest.mark.slow
def test_cli_serves_until_interrupted():
    proc = subprocess.Popen(
        [str(BIN), "sim-exchange", "--port", "0", "--speed", "manual", "--seed", "3", "--ws-drop", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(5)]
        names = [" ".join(parts[:-1]) for parts in lines]
        urls = dict(zip(names, (parts[-1] for parts in lines), strict=True))
        assert names == ["CLOB", "market WS", "user WS", "Gamma", "Data API"]
        base = urls["CLOB"]
        assert urls["market WS"] == base.replace("http", "ws") + "/ws/market"
        assert urls["Gamma"] == base + "/gamma" and urls["Data API"] == base + "/data-api"
        with urllib.request.urlopen(base + "/ok", timeout=5) as resp:
            assert json.loads(resp.read()) == "OK"
        with urllib.request.urlopen(base + "/markets", timeout=5) as resp:
            markets = json.loads(resp.read())["data"]
        token = markets[0]["tokens"][0]["token_id"]
        with urllib.request.urlopen(f"{base}/book?token_id={token}", timeout=5) as resp:
            assert json.loads(resp.read())["bids"]  # the first recorded books are loaded at start
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_flags():
    out = subprocess.run(
        [str(BIN), "sim-exchange", "--venue", "moon"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "--venue 'moon': accepted: replay, sim" in out.stderr
    out = subprocess.run(
        [str(BIN), "sim-exchange", "--trading-mode", "sideways"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "trading_mode 'sideways'" in out.stderr
