"""EngineHost: the engine on its own event loop, in its own thread, beside a UI that owns the main thread.

Why a second loop: a Textual frame over a 140x40 screen costs tens of milliseconds of Python. On one
loop every frame is a stall of the engine (measured in bench/ui.py: loop lag p99 50-70 ms at 5,000
msg/s), and every burst of market messages delays the operator's keys. Here the engine loop only
applies messages, evaluates and builds read models; the UI thread only renders.

The boundary is the same one the console already uses for a remote engine (`RemoteEngine`):
- `snapshot()` returns the newest immutable `EngineSnapshot`, published by the engine loop at `publish_hz`.
  Reading a reference is atomic, and snapshots are never mutated, so no lock is needed.
- `execute(command)` runs the command on the engine loop (`run_coroutine_threadsafe`) and then publishes
  a fresh snapshot before it returns, so a key's effect is on screen at the next frame.

The host owns the runtime's life: it builds it (errors such as SetupError are raised from `start()` in the
caller's thread), runs the engine task, stops it, and closes the store, all on the engine loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, Protocol

from engine.commands import Command, CommandResult
from engine.snapshot import EngineSnapshot

# Python threads share one interpreter lock; by default a thread that wants it waits up to 5 ms for a busy
# one to yield. 1 ms keeps the engine loop's wake-ups prompt while the UI thread renders, at a cost of a
# few more switches per second.
SWITCH_INTERVAL_S = 0.001

# The read model and the frames allocate many short-lived objects; with the default thresholds (700) the
# collector runs hundreds of times a second and now and then walks the whole heap for several ms, on
# whichever thread allocates (bench/ui.py: loop lag p99 5.7 -> 3.9 ms with these, engine alone). Young
# collections become rarer, and everything alive after start-up (markets, books, modules) is frozen out of
# the old generations so full collections stay short.
GC_THRESHOLDS = (50_000, 50, 1_000)


class HostedRuntime(Protocol):
    engine: Any
    store: Any
    venue: Any


RuntimeFactory = Callable[[], Awaitable[HostedRuntime]]
LoopHook = Callable[[HostedRuntime], Awaitable[Any]]


class EngineHost:
    def __init__(
        self,
        factory: RuntimeFactory,
        *,
        publish_hz: float,
        on_start: LoopHook | None = None,
        on_stop: LoopHook | None = None,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self._factory = factory
        self._period = 1.0 / publish_hz
        self._on_start = on_start
        self._on_stop = on_stop
        self._stop_timeout_s = stop_timeout_s
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._snap: EngineSnapshot | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runtime: HostedRuntime | None = None
        self._stop_requested: asyncio.Event | None = None
        self._engine_task: asyncio.Task[Any] | None = None
        self.engine_result: Any = None
        self.engine_error: BaseException | None = None

    # --- the caller's side (UI thread) ----------------------------------------------------------
    def start(self) -> None:
        """Build the runtime on the engine thread and start it; raise its setup error here if any."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        gc.set_threshold(*GC_THRESHOLDS)
        self._thread = threading.Thread(target=self._thread_main, name="engine", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        gc.freeze()

    def snapshot(self, force: bool = False) -> EngineSnapshot:
        # `force` cannot build on this thread (the engine's state belongs to its loop); commands publish
        # their own fresh snapshot, so the newest one is always the right answer here.
        assert self._snap is not None, "start() publishes the first snapshot"
        return self._snap

    async def execute(self, command: Command) -> CommandResult:
        return await asyncio.wrap_future(self.submit(self._execute(command)))

    def submit(self, coro: Awaitable[Any]) -> Future[Any]:
        """Run a coroutine on the engine loop (e.g. a safety action, or a probe in a benchmark)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def request_stop(self) -> None:
        if self.loop is not None and self._stop_requested is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended on its own
                self.loop.call_soon_threadsafe(self._stop_requested.set)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    async def wait_engine(self) -> None:
        """Until the engine task ends by itself (data ended, or the process is signalled)."""
        await asyncio.wrap_future(self.submit(self._wait_engine()))

    async def _wait_engine(self) -> None:
        assert self._engine_task is not None
        await asyncio.wait({self._engine_task})

    # --- the engine's side (engine thread) --------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, never lost
            if not self._ready.is_set():
                self._error = exc
            else:
                raise
        finally:
            self._ready.set()

    async def _execute(self, command: Command) -> CommandResult:
        assert self.runtime is not None
        result = await self.runtime.engine.execute(command)
        self._snap = self.runtime.engine.snapshot(force=True)
        return result

    async def _publish(self) -> None:
        assert self.runtime is not None
        engine = self.runtime.engine
        while True:
            await asyncio.sleep(self._period)
            self._snap = engine.snapshot()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        rt = await self._factory()
        self.runtime = rt
        if self._on_start is not None:
            await self._on_start(rt)
        self._snap = rt.engine.snapshot(force=True)
        self._engine_task = asyncio.create_task(rt.engine.run(), name="engine")
        publisher = asyncio.create_task(self._publish(), name="snapshot-publisher")
        self._ready.set()
        # The engine may finish on its own (the replay data ended): the host stays up so the console keeps
        # showing the final state and answering commands, until the caller asks it to stop.
        await self._stop_requested.wait()
        rt.venue.stop()
        try:
            self.engine_result = await asyncio.wait_for(
                asyncio.shield(self._engine_task), self._stop_timeout_s
            )
        except TimeoutError:
            pass  # cancelled below
        except Exception as exc:  # noqa: BLE001 - kept for the caller; the store still closes below
            self.engine_error = exc
        if not self._engine_task.done():
            self._engine_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._engine_task
            await rt.engine.shutdown()
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
        self._snap = rt.engine.snapshot(force=True)
        if self._on_stop is not None:
            await self._on_stop(rt)
        await rt.store.close()
