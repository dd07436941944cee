"""Paper and LIVE against the local exchange (the bundled books as live markets, 10x): books that are empty
most of the time, markets that close and resolve. Every cycle evaluates every active market (an empty book
is a recorded decline), and no task dies (the short version of the 10-minute runs in the README)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bigearn_tui.cli import _exchange_urls
from engine.commands import ArmLive
from engine.runtime import build
from localexchange import start_exchange
from tests.conftest import settings_for

HARDHAT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # a public test key


class Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.getMessage()} {getattr(record, 'fields', '')}")


def run_against_exchange(tmp_path: Path, live: bool, seconds: float) -> tuple[Any, dict[str, Any], list[str]]:
    failures = Failures()
    logger = logging.getLogger("bigearn")
    logger.addHandler(failures)

    async def go() -> tuple[Any, dict[str, Any]]:
        async with start_exchange(speed=10) as h:
            settings = settings_for(
                tmp_path,
                **{
                    "venue.kind": "polymarket",
                    "venue.live": live,
                    "venue.signature_type": 0,
                    "engine.warmup_s": 0,
                    "engine.cycle_interval_s": 0.5,
                    **_exchange_urls(h.base_url),
                },
            )
            rt = await build(settings, logger)
            task = asyncio.create_task(rt.engine.run())
            if live:
                await rt.engine.execute(ArmLive("LIVE"))
            await asyncio.sleep(seconds)
            await rt.engine.stop("test over")
            summary = await asyncio.wait_for(task, 30)
            await rt.store.close()
            return rt, summary

    try:
        rt, summary = asyncio.run(go())
    finally:
        logger.removeHandler(failures)
    return rt, summary, failures.records


@pytest.mark.slow
@pytest.mark.parametrize("live", [False, True], ids=["paper", "live"])
def test_every_cycle_evaluates_and_no_task_dies(tmp_path: Path, monkeypatch, live: bool) -> None:
    monkeypatch.setenv("BIGEARN_PRIVATE_KEY", HARDHAT_0)
    rt, summary, errors = run_against_exchange(tmp_path, live, seconds=8)
    assert errors == [] and summary["state"] == "STOPPED" and summary["error"] == ""
    assert rt.engine.supervisor.running == []  # closed cleanly, nothing died on the way
    cycles = rt.engine.counters["cycles"]
    assert cycles >= 10
    con = sqlite3.connect(rt.settings.store.path)
    per_cycle = con.execute("SELECT ts, COUNT(*) FROM evaluations GROUP BY ts ORDER BY ts").fetchall()
    declines = con.execute("SELECT COUNT(*) FROM evaluations WHERE p_hat IS NULL").fetchone()[0]
    con.close()
    # Every cycle but possibly the first (books still arriving) evaluated every market it found active.
    assert len(per_cycle) >= cycles - 1
    assert summary["evaluations"] == sum(n for _, n in per_cycle)
    assert declines > 0  # empty books: recorded declines, the rows that crashed the cycle before
