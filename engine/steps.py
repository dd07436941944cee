"""Work split into steps: a generator that yields between steps of a fraction of a millisecond and returns
its result. Run it to the end at once (`run_steps`), or with the event loop free between steps
(`run_steps_yielding`), so that building or encoding a read model never holds the engine's loop for long."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")


def run_steps(steps: Generator[None, None, T]) -> T:
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


async def run_steps_yielding(steps: Generator[None, None, T]) -> T:
    """Each step, then one turn of the event loop for whatever else is ready."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)
