"""Memory over a long headless run: resident set size after the first round vs at the end.

Runs the real headless path (engine.runtime.run_headless: store with group commit, matching, brain, sizing)
on the seeded synthetic market for many rounds (each round is one 15-minute market lifetime of 12 markets)
at --speed max, in auto mode with a brain that trades, writing the ledger to a temporary SQLite file. A
sampler reads the process's RSS from /proc each time the engine's clock crosses a round boundary.
Evaluations stream to disk in batches, so RSS at the end should stay within 20% of RSS after round one.

    .venv/bin/python bench/soak.py [--rounds 200] [--profile trading|defaults]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chaos import ENGINE_ENV, ChaosBrain  # noqa: E402
from engine.config import load_settings  # noqa: E402
from engine.feeds.synthetic import SyntheticConfig  # noqa: E402
from engine.runtime import build, outcome  # noqa: E402
from engine.supervisor import guard_loop  # noqa: E402

# "trading": the chaos harness's brain and loosened limits, so orders rest, fill, are cancelled and settle all
# run long and the order path's memory is measured too. "defaults": the bundled brain, which evaluates and skips.
PROFILES = ("trading", "defaults")
TARGET_GROWTH = 0.20


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not in /proc/self/status (Linux only)")


async def soak(rounds: int, profile: str, db: Path) -> tuple[list[tuple[int, float]], dict, float]:
    overrides = {
        "venue.kind": "sim",
        "venue.sim_rounds": rounds,
        "venue.speed": "max",
        "engine.mode": "auto",
        "store.path": str(db),
    }
    env = {}
    brain = None
    if profile == "trading":
        env = {k: v for k, v in ENGINE_ENV.items() if k.startswith("BIGEARN_") and "__" in k}
        env.pop("BIGEARN_VENUE__SIGNATURE_TYPE", None)
        env["BIGEARN_ENGINE__MODE"] = "auto"
        brain = ChaosBrain()
    settings = load_settings(None, overrides=overrides, env=env)
    logger = logging.getLogger("soak")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    rt = await build(settings, logger, brain, ttl_on_engine_clock=True)
    guard_loop(asyncio.get_running_loop(), rt.engine.fail, logger)
    cfg = SyntheticConfig(markets=settings.venue.sim_markets, rounds=rounds, seed=settings.engine.seed)
    samples: list[tuple[int, float]] = []
    backlog = [0]

    async def sample() -> None:
        next_round = 1
        while True:
            await asyncio.sleep(0.05)
            backlog[0] = max(backlog[0], rt.store.pending_count())
            now = rt.engine.clock.now_ms()
            if next_round < rounds and now >= cfg.round_start(next_round):
                gc.collect()
                samples.append((next_round, rss_mb()))
                while now >= cfg.round_start(next_round):
                    next_round += 1

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    try:
        summary = await rt.engine.run()
    finally:
        sampler.cancel()
        await rt.store.close()
    wall = time.perf_counter() - t0
    gc.collect()
    samples.append((rounds, rss_mb()))
    result = outcome(rt.engine, summary)
    result["max_store_backlog"] = backlog[0]
    return samples, result, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", choices=PROFILES, default="trading")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "soak.db"
        samples, summary, wall = asyncio.run(soak(args.rounds, args.profile, db))
        with sqlite3.connect(db) as conn:
            evaluations = conn.execute("SELECT count(*) FROM evaluations").fetchone()[0]
            fills = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / first
    step = max(1, len(samples) // 10)
    print(f"rounds             {args.rounds} ({args.profile}), wall {wall:.0f} s, state {summary.get('state')}")
    print(f"evaluations on disk {evaluations:,}   fills {fills:,}   orders {summary.get('orders')}")
    print(f"store backlog      at most {summary['max_store_backlog']:,} rows waiting for a commit")
    for rnd, mb in samples[::step]:
        print(f"  after round {rnd:>4}  RSS {mb:7.1f} MB")
    print(f"RSS after round 1  {first:.1f} MB")
    print(f"RSS at the end     {last:.1f} MB")
    print(f"growth             {growth:+.1%}  (target within {TARGET_GROWTH:.0%}): {'ok' if abs(growth) <= TARGET_GROWTH else 'FAIL'}")
    if abs(growth) > TARGET_GROWTH:
        sys.exit(1)


if __name__ == "__main__":
    main()
