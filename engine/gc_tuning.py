"""Collector settings for a long-lived process whose heap is mostly built at start-up (markets, books,
modules, widgets).

The engine's books and the console's frames allocate many short-lived objects, and now and then the
collector walks the whole heap for tens of milliseconds (bench/ui.py: a 20-80 ms full collection in the UI
process, 20-30 ms in the engine process). Full collections are made ten times rarer (the oldest
generation's threshold 10 -> 100), and what is alive once start-up is over is frozen out of the old
generations, so a full collection only walks what was made since. Young collections keep Python's
default (700): a larger one made each young collection a pause of several ms, worse for the loop's tail
than many short ones.
"""

from __future__ import annotations

import asyncio
import gc

THRESHOLDS = (700, 10, 100)  # Python's defaults are (700, 10, 10)
# Long enough for the first books, snapshots and frames to be built; they stay for the whole run.
FREEZE_AFTER_S = 3.0


def tune_gc() -> None:
    """Rarer full collections from now on, and the start-up heap frozen `FREEZE_AFTER_S` later (needs a
    running loop)."""
    gc.set_threshold(*THRESHOLDS)
    asyncio.get_running_loop().call_later(FREEZE_AFTER_S, gc.freeze)
