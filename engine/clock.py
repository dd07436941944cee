"""Time for the engine: one interface, two implementations.

`SimClock` is a discrete-event scheduler: the replay driver advances it event by event, so engine timers,
order latency and market data interleave in recorded-time order and a run is reproducible at any speed.
`WallClock` maps the same calls onto the asyncio loop for live and paper trading.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

Callback = Callable[[], Awaitable[None] | None]


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def call_at(self, ts_ms: int, callback: Callback) -> None: ...


class SimClock:
    """Simulated time; nothing happens until the driver runs the due callbacks."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._heap: list[tuple[int, int, Callback]] = []
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def call_at(self, ts_ms: int, callback: Callback) -> None:
        # Never schedule into the past: a callback due "now" runs after the current event.
        heapq.heappush(self._heap, (max(ts_ms, self._now), next(self._seq), callback))

    def next_due(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def advance_to(self, ts_ms: int) -> None:
        if ts_ms > self._now:
            self._now = ts_ms

    async def run_until(self, ts_ms: int, after: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run every callback due at or before `ts_ms`, in time then scheduling order; `after` runs
        after each one (the venue uses it to deliver what the callback produced before time moves on)."""
        heap = self._heap
        while heap and heap[0][0] <= ts_ms:
            due, _, callback = heapq.heappop(heap)
            self.advance_to(due)
            result = callback()
            if inspect.isawaitable(result):
                await result
            if after is not None:
                await after()
        self.advance_to(ts_ms)

    def pending(self) -> int:
        return len(self._heap)


class WallClock:
    """Real time on the running asyncio loop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def call_at(self, ts_ms: int, callback: Callback) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (ts_ms - self.now_ms()) / 1000)
        loop.call_later(delay, self._fire, callback)

    def _fire(self, callback: Callback) -> None:
        result = callback()
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
