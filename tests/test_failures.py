"""No silent task death: what fails puts the engine in ERROR, runs the safety action and ends the run loudly;
a brain that declines is a decline, never a broken row."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.brains.base import BrainInput, NoEstimate
from engine.domain import EngineState, Estimate
from engine.runtime import EngineFailed, build, outcome, run_headless
from engine.supervisor import Supervisor, guard_loop
from tests.conftest import START, FixedBrain, settings_for, write_dataset


class BrokenBrain:
    """Estimates like FixedBrain until `after` calls, then raises a bug (not a NoEstimate)."""

    name = "broken"

    def __init__(self, after: int) -> None:
        self.calls = 0
        self.after = after
        self.fixed = FixedBrain(p=0.70)

    def estimate(self, data: BrainInput) -> Estimate:
        self.calls += 1
        if self.calls > self.after:
            raise ZeroDivisionError("a bug in the brain")
        return self.fixed.estimate(data)


class DecliningBrain:
    name = "declining"

    def estimate(self, data: BrainInput) -> Estimate:
        raise NoEstimate("NO_BOOK", "the book is empty and has no history")


def resting_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    return [[0.30, 5000.0]], [[0.40, 5000.0]]


def test_supervisor_reports_a_failed_task_and_not_a_cancelled_one() -> None:
    failures: list[tuple[str, str]] = []

    async def main() -> None:
        sup = Supervisor(lambda name, exc: failures.append((name, type(exc).__name__)), logging.getLogger("t"))

        async def boom() -> None:
            raise KeyError("x")

        sup.spawn(boom(), "boom")
        sleeper = sup.spawn(asyncio.sleep(3600), "sleeper")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        sleeper.cancel()
        await sup.close()

    asyncio.run(main())
    assert failures == [("boom", "KeyError")]


def test_guard_loop_turns_a_callback_exception_into_a_failure() -> None:
    failures: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        guard_loop(loop, lambda where, exc: failures.append(type(exc).__name__), logging.getLogger("t"))

        def bad() -> None:
            raise ValueError("in a loop callback")

        loop.call_soon(bad)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert failures == ["ValueError"]


def test_a_failing_brain_is_an_engine_error_halt_cancel_all_and_stop(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=600, book=resting_book)
    settings = settings_for(
        tmp_path,
        books,
        markets,
        **{
            "engine.mode": "auto",
            "risk.min_edge": 0.0,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}},
        },
    )

    async def main() -> Any:
        rt = await build(settings, brain=BrokenBrain(after=4), ttl_on_engine_clock=True)
        summary = await rt.engine.run()
        return rt, summary

    rt, summary = asyncio.run(main())
    engine = rt.engine
    assert engine.state is EngineState.ERROR
    assert summary["state"] == "ERROR" and "ZeroDivisionError: a bug in the brain" in summary["error"]
    assert engine.error.startswith("cycle: ")
    # The run stopped at once, long before its data ended, with everything cancelled.
    assert rt.venue.clock.now_ms() < START + 300_000
    con = sqlite3.connect(settings.store.path)
    halts = con.execute("SELECT kind, reason, action FROM halts").fetchall()
    states = {r[0] for r in con.execute("SELECT state FROM order_intents")}
    con.close()
    assert ("ERROR", engine.error, "halt, cancel all, stop") in halts
    assert states and states <= {"CANCELLED", "FILLED"}, states
    with pytest.raises(EngineFailed, match="engine error: cycle: ZeroDivisionError"):
        outcome(engine, summary)


def test_headless_run_that_fails_raises_with_the_summary(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=300)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "auto"})
    with pytest.raises(EngineFailed) as err:
        asyncio.run(
            run_headless(settings, logging.getLogger("t"), handle_signals=False, brain=BrokenBrain(after=0))
        )
    assert err.value.summary["state"] == "ERROR"


def test_a_brain_that_declines_is_recorded_as_a_decline(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=120)
    settings = settings_for(tmp_path, books, markets)

    async def main() -> Any:
        rt = await build(settings, brain=DecliningBrain(), ttl_on_engine_clock=True)
        return await rt.engine.run()

    summary = asyncio.run(main())
    assert summary["state"] == "STOPPED" and summary["error"] == ""
    assert summary["decisions"] == {"SKIP_NO_BOOK": summary["evaluations"]} and summary["evaluations"] > 0
    con = sqlite3.connect(settings.store.path)
    rows = con.execute("SELECT p_hat, ci_low, ci_high, decision, reason FROM evaluations").fetchall()
    con.close()
    assert len(rows) == summary["evaluations"]
    assert all(r[:4] == (None, None, None, "SKIP_NO_BOOK") and "empty" in r[4] for r in rows)
