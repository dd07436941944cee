"""A seeded engine stopped at an exact simulated moment, and the console app built on it.

Used by the Pilot and snapshot tests: no running engine, a fixed wall clock, a fixed run id, a test
brain with a known estimate, so every screen is reproducible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bigearn_tui.app import BigEarnApp
from engine.runtime import Runtime, build
from tests.conftest import START, FixedBrain, settings_for, write_dataset

FIXED_WALL = 1000.0
OPEN: list[Runtime] = []  # runtimes built here, closed after each test (tests/conftest.py): no store thread leaks


def close_open_runtimes() -> None:
    while OPEN:
        rt = OPEN.pop()
        if rt.store.closed:
            continue  # the test closed it itself

        async def close(rt: Runtime = rt) -> None:
            await rt.engine.shutdown()
            await rt.store.close()

        asyncio.run(close())


def make_runtime(
    root: Path,
    *,
    until_s: float = 20,
    brain: Any = None,
    markets_count: int = 3,
    actions: dict[float, Callable[[Any], Awaitable[Any]]] | None = None,
    strategies: Sequence[Any] = (),
    **overrides: Any,
) -> Runtime:
    """`actions`: simulated second -> coroutine taking the engine (an operator's command at that moment).
    `strategies`: strategy instances to run beside the configured ones (`engine.runtime.build`); the enabled
    strategies' budget_pct must add up to at most 100 (e.g. `**{"strategies.value.budget_pct": 60}`)."""
    books, markets = write_dataset(root, seconds=600, markets_count=markets_count)
    settings = settings_for(root, books, markets, **{"store.path": ":memory:", **overrides})

    async def setup() -> Runtime:
        rt = await build(
            settings,
            brain=brain or FixedBrain(p=0.45, half_width=0.01),
            run_id="snapshot00",
            wall=lambda: FIXED_WALL,
            ttl_on_engine_clock=True,
            strategies=strategies,
        )
        for offset, action in (actions or {}).items():
            rt.venue.clock.call_at(START + int(offset * 1000), lambda action=action: action(rt.engine))
        await rt.engine.start()
        await rt.venue.run(rt.engine, until_ts=START + int(until_s * 1000))
        return rt

    rt = asyncio.run(setup())
    OPEN.append(rt)
    return rt


def make_app(rt: Runtime, **kwargs: Any) -> BigEarnApp:
    # The operator's clock stands still at the engine's moment: a pending proposal shows its full time left.
    return BigEarnApp(rt.engine, refresh_hz=5, wall=lambda: FIXED_WALL, wall_ms=rt.venue.clock.now_ms, **kwargs)
