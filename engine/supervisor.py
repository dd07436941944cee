"""No task dies unseen: the engine's background tasks run under a supervisor.

A task that raises is logged with its traceback and reported to `on_failure` (the engine then goes to ERROR,
halts and cancels everything); a task that is cancelled is not a failure. `guard_loop` routes whatever
escapes every supervisor on the event loop (an exception in a loop callback, a task whose exception was
never retrieved) to the same place, so nothing can fail quietly in a corner nobody watches.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from engine.logs import log_event

FailureHandler = Callable[[str, BaseException], None]


def describe(exc: BaseException) -> str:
    """One line for the status bar and `ctl status`: the exception's type and message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def log_failure(logger: logging.Logger, where: str, exc: BaseException) -> None:
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log_event(logger, "task failed", logging.ERROR, task=where, error=describe(exc), traceback=trace)


class Supervisor:
    """Spawns and watches tasks. `close()` cancels those still running and waits for them."""

    def __init__(self, on_failure: FailureHandler, logger: logging.Logger) -> None:
        self._on_failure = on_failure
        self._log = logger
        self._tasks: dict[asyncio.Task[Any], str] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.watch(task, name)
        return task

    def watch(self, task: asyncio.Task[Any], name: str) -> None:
        self._tasks[task] = name
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        name = self._tasks.pop(task, task.get_name())
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio never reports it as lost
        if exc is not None:
            log_failure(self._log, name, exc)
            self._on_failure(name, exc)

    @property
    def running(self) -> list[str]:
        return [name for task, name in self._tasks.items() if not task.done()]

    async def close(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def guard_loop(loop: asyncio.AbstractEventLoop, on_failure: FailureHandler, logger: logging.Logger) -> None:
    """Anything that escapes to the loop's exception handler is a failure of the engine's process."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if exc is None or isinstance(exc, asyncio.CancelledError):
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        task = context.get("task") or context.get("future")
        where = task.get_name() if isinstance(task, asyncio.Task) else str(context.get("message", "loop"))
        log_failure(logger, where, exc)
        on_failure(where, exc)

    loop.set_exception_handler(handler)


__all__ = ["Supervisor", "describe", "guard_loop", "log_failure"]
