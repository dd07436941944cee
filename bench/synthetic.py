"""Synthetic market generator throughput: book lines generated per second, and written per second.

Generates the default run (12 markets, 15 minutes each, staggered) as `ReplayLine`s, then writes it as
replay files (gzip JSON lines + markets JSON), and prints lines/s for both.

    .venv/bin/python bench/synthetic.py [--seed N] [--markets N] [--duration-s N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.feeds.synthetic import SyntheticConfig, synthetic_catalog, synthetic_lines, write_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--markets", type=int, default=12)
    parser.add_argument("--duration-s", type=int, default=900)
    args = parser.parse_args()
    cfg = SyntheticConfig(seed=args.seed, markets=args.markets, duration_s=args.duration_s)

    t0 = time.perf_counter()
    catalog = synthetic_catalog(cfg)
    t1 = time.perf_counter()
    count = sum(1 for _ in synthetic_lines(cfg, catalog))
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        written = write_dataset(cfg, Path(tmp) / "books.jsonl.gz", Path(tmp) / "markets.json")
        t3 = time.perf_counter()
        size = (Path(tmp) / "books.jsonl.gz").stat().st_size
    print(f"markets            {len(catalog)}  (catalog + latent paths in {t1 - t0:.2f} s)")
    print(f"lines              {count}")
    print(f"generated          {count / (t2 - t1):,.0f} lines/s")
    print(f"written (gzip)     {written / (t3 - t2):,.0f} lines/s  ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
