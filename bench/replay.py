"""Bundled replay at --speed max in auto mode: simulated seconds per wall second.

Runs the real headless path (engine.runtime.run_headless: store, matching, brain, sizing) over every
bundled book line and reports the recorded span divided by the wall time. Target: >= 3,000x real time.
Two profiles: the defaults (the brain finds no edge, so it evaluates and skips) and an aggressive profile
that trades (maker orders queue, fill and settle), so the order path is in the measurement too.

    .venv/bin/python bench/replay.py
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import load_settings  # noqa: E402
from engine.feeds.replay import bundled_paths, load_markets, read_lines  # noqa: E402
from engine.runtime import run_headless  # noqa: E402

PROFILES = {
    "defaults": {},
    "aggressive": {"risk.min_edge": 0.0, "risk.kelly_fraction": 1.0, "risk.max_ci_width": 1.0},
}


def span_seconds() -> float:
    books, markets = bundled_paths()
    catalog = load_markets(markets)
    first = last = None
    for line in read_lines(books, catalog):
        first = line.ts if first is None else first
        last = line.ts
    assert first is not None and last is not None
    return (last - first) / 1000


def main() -> None:
    span = span_seconds()
    logger = logging.getLogger("bench")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    print(f"recorded span     {span:>10,.0f} s  ({span / 3600:.2f} h of books)")
    for name, extra in PROFILES.items():
        with tempfile.TemporaryDirectory() as tmp:
            overrides = {"engine.mode": "auto", "venue.speed": "max", "store.path": str(Path(tmp) / "bench.db"), **extra}
            settings = load_settings(None, overrides=overrides, env={})
            t0 = time.perf_counter()
            summary = asyncio.run(run_headless(settings, logger, handle_signals=False))
            wall = time.perf_counter() - t0
        print(f"{name:<11} events {summary['events']:>6}  evaluations {summary['evaluations']:>5}  orders {summary['orders']:>4}"
              f"  fills {summary['fills']:>4}  wall {wall:6.2f} s  speed {span / wall:>8,.0f}x real time  (target >= 3,000x)")


if __name__ == "__main__":
    main()
