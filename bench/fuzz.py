"""Fuzzing the three wire parsers at volume: market-channel frames, REST `/book` bodies, user-channel events.

Cases come from the seeded exchange model of tests/test_fuzz_feeds.py (`FeedFuzzer`): valid traffic for
three markets (uncrossed reference books, both tokens' entries of every change), about half of it
corrupted (random bytes, truncated JSON, fields of the wrong type, huge / negative / NaN / exponent /
Unicode-digit / underscore / out-of-range numbers, deleted fields, raw `NaN` / `1e999` / deep nesting
spliced in, lists where objects belong). Each case goes through the real entry point, without sockets:
- market frames: `MarketStream._on_frame` (REST answers for its resyncs are always good here);
- REST books: the resync (`MarketStream._resync`: fetch, check, apply or retry with backoff);
- user events: `UserStream._on_frame`, and every 20th case a REST backfill batch (`_backfill`).

Printed per parser: cases, how many were refused (counted as malformed), exceptions that escaped (must
be 0), impossible levels or fills accepted (must be 0: a price outside (0, 1), a size <= 0, a crossed
book, an order or fill callback with such values), and the time taken.

    .venv/bin/python bench/fuzz.py [--cases 120000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.book import OrderBook  # noqa: E402
from engine.units import ONE  # noqa: E402
from tests.test_fuzz_feeds import (  # noqa: E402
    FeedFuzzer,
    MarketHarness,
    UserHarness,
    impossible_levels,
    settle,
)


@dataclass
class Row:
    name: str
    cases: int = 0
    refused: int = 0
    escaped: int = 0
    impossible: int = 0
    seconds: float = 0.0
    note: str = ""


def _possible(book: OrderBook) -> bool:
    """The cheap per-case form of `impossible_levels` (which also runs every 500 cases and at the end)."""
    bids, asks = book.bids, book.asks
    if bids and (min(bids) <= 0 or max(bids) >= ONE or min(bids.values()) <= 0):
        return False
    if asks and (min(asks) <= 0 or max(asks) >= ONE or min(asks.values()) <= 0):
        return False
    return not (bids and asks and max(bids) >= min(asks))


def _count_bad_books(h: MarketHarness, full: bool) -> int:
    if full:
        return sum(1 for book in h.books.values() if impossible_levels(book))
    return sum(1 for book in h.books.values() if not _possible(book))


async def market_frames(n: int, seed: int) -> Row:
    row = Row("market frames")
    fuzzer = FeedFuzzer(seed)
    h = MarketHarness(fuzzer, seed=seed)
    h.fuzzer.rest_body = h.fuzzer.rest_book  # type: ignore[method-assign]  # REST cases are counted below
    await h.sync_all()
    t0 = time.perf_counter()
    for i in range(n):
        raw = fuzzer.market_frame()
        try:
            h.on_frame(raw)
        except Exception:
            row.escaped += 1
        await settle(2)
        row.impossible += _count_bad_books(h, full=i % 500 == 0)
    await settle(20)
    row.impossible += _count_bad_books(h, full=True)
    row.seconds = time.perf_counter() - t0
    stats = h.stream.stats
    row.cases, row.refused = n, stats.malformed
    row.escaped += len(h.loop_errors) + stats.errors
    row.note = f"resyncs {stats.resyncs:,}, gaps {stats.gaps:,}"
    await h.close()
    return row


async def rest_books(n: int, seed: int) -> Row:
    row = Row("REST books")
    fuzzer = FeedFuzzer(seed + 1)
    h = MarketHarness(fuzzer, seed=seed)
    await h.sync_all()
    states = list(h.stream._books.values())
    t0 = time.perf_counter()
    i = 0
    while h.rest_bodies < n:
        state = states[i % len(states)]
        i += 1
        if state.mode == 1:  # synced: start a resync; it fetches until a body passes the checks
            h.stream._gap(state, "bench", None)
        await settle(1)
        row.impossible += _count_bad_books(h, full=i % 500 == 0)
    await settle(20)
    row.impossible += _count_bad_books(h, full=True)
    row.seconds = time.perf_counter() - t0
    stats = h.stream.stats
    row.cases, row.refused = h.rest_bodies, stats.malformed
    row.escaped += len(h.loop_errors) + stats.errors
    row.note = f"applied {stats.resyncs:,}"
    await h.close()
    return row


async def user_events(n: int, seed: int) -> Row:
    row = Row("user events")
    fuzzer = FeedFuzzer(seed + 2)
    h = UserHarness(fuzzer, seed=seed)
    stream = h.stream
    t0 = time.perf_counter()
    batches = 0
    for i in range(n):
        try:
            await stream._on_frame(fuzzer.user_frame())
        except Exception:
            row.escaped += 1
        if i % 20 == 19:
            batches += 1
            try:
                await stream._backfill(i)
            except Exception:
                row.escaped += 1
    row.seconds = time.perf_counter() - t0
    stats = stream.stats
    row.cases, row.refused, row.impossible = n, stats.malformed, len(h.bad)
    row.escaped += stats.errors
    fills = sum(1 for x in h.seen if type(x).__name__ == "TradeFill")
    row.note = (
        f"+{batches:,} backfills ({stats.backfilled_rows:,} rows); {fills:,} fills and "
        f"{len(h.seen) - fills:,} order events delivered"
    )
    await stream.close()
    return row


async def main_async(cases: int, seed: int) -> list[Row]:
    each = -(-cases // 3)
    return [await market_frames(each, seed), await rest_books(each, seed), await user_events(each, seed)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=120_000, help="total, split evenly over the three parsers")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    logging.getLogger("bigearn").setLevel(logging.CRITICAL)  # every refusal is logged; not the output here
    rows = asyncio.run(main_async(args.cases, args.seed))
    print(f"{'parser':<15}{'cases':>10}{'refused':>10}{'escaped':>9}{'impossible':>12}{'seconds':>9}")
    for r in rows:
        print(
            f"{r.name:<15}{r.cases:>10,}{r.refused:>10,}{r.escaped:>9,}{r.impossible:>12,}{r.seconds:>9.2f}  {r.note}"
        )
    total = Row("total")
    for r in rows:
        total.cases += r.cases
        total.refused += r.refused
        total.escaped += r.escaped
        total.impossible += r.impossible
        total.seconds += r.seconds
    print(
        f"{total.name:<15}{total.cases:>10,}{total.refused:>10,}{total.escaped:>9,}{total.impossible:>12,}"
        f"{total.seconds:>9.2f}"
    )
    print("escaped and impossible must be 0: exceptions out of a frame handler / resync / backfill (or")
    print("counted as internal errors), and levels or fills with a price outside (0, 1), size <= 0, crossed.")


if __name__ == "__main__":
    main()
