"""Parse-and-apply throughput of Polymarket `price_change` messages.

A realistic stream is generated first (not timed): 50 markets, both tokens of each in every message as
the exchange sends them (BUY YES at p mirrored as SELL NO at 1-p), prices clustered around a drifting mid
on a 0.01 tick (never crossing the other side's best, as on a real book), sizes with two decimals, ~25% of changes removing a level, best_bid/best_ask computed from
an independent reference book so the consistency check (gap detection) runs on every entry.
Then the engine's MarketChannel parses (orjson) and applies every frame. Target: >= 300k level updates/s
on one core.

    .venv/bin/python bench/book.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.book import OrderBook  # noqa: E402
from engine.units import ONE, px_to_str  # noqa: E402
from engine.venues.polymarket.market_channel import MarketChannel  # noqa: E402


def _fmt_best(book: OrderBook, no: bool) -> tuple[str, str]:
    bid, ask = book.best_bid, book.best_ask
    if no:
        bid, ask = (None if ask is None else ONE - ask), (None if bid is None else ONE - bid)
    return ("0" if bid is None else px_to_str(bid)), ("1" if ask is None else px_to_str(ask))


def generate(n_messages: int, n_markets: int, seed: int) -> tuple[list[bytes], list[tuple[str, str, str]]]:
    rng = random.Random(seed)
    markets = [(f"0x{i:064x}", str(10**70 + 2 * i), str(10**70 + 2 * i + 1)) for i in range(n_markets)]
    ref = {m[0]: OrderBook() for m in markets}
    mids = {m[0]: rng.randint(2000, 8000) for m in markets}
    frames: list[bytes] = []
    ts = 1_790_000_000_000
    for _ in range(n_messages):
        cid, yes, no = markets[rng.randrange(n_markets)]
        book = ref[cid]
        if rng.random() < 0.01:
            mids[cid] = min(9000, max(1000, mids[cid] + rng.choice((-100, 100))))
        mid = mids[cid]
        is_bid = rng.random() < 0.5
        offset = int(rng.expovariate(0.25)) + 1
        px = mid - 100 * offset if is_bid else mid + 100 * offset
        px = min(max(px, 100), ONE - 100)
        # A real book never rests crossed (a bid at the ask trades): as the mid drifts, a new level stays on
        # its side of the other side's best, which the parser's validation would otherwise refuse.
        if is_bid and book.best_ask is not None and px >= book.best_ask:
            px = book.best_ask - 100
        elif not is_bid and book.best_bid is not None and px <= book.best_bid:
            px = book.best_bid + 100
        if not 0 < px < ONE:
            continue
        size = 0 if rng.random() < 0.25 else rng.randint(100, 500_000) * 10_000  # 0.01 share steps
        if is_bid:
            book.set_bid(px, size)
        else:
            book.set_ask(px, size)
        ts += rng.randint(1, 20)
        size_s = "0" if size == 0 else f"{size / 1_000_000:.2f}"
        yb, ya = _fmt_best(book, False)
        nb, na = _fmt_best(book, True)
        frames.append(orjson.dumps({
            "event_type": "price_change",
            "market": cid,
            "timestamp": str(ts),
            "price_changes": [
                {"asset_id": yes, "price": px_to_str(px), "size": size_s, "side": "BUY" if is_bid else "SELL",
                 "hash": "56621a121a47ed9333273e21c83b660cff37ae50", "best_bid": yb, "best_ask": ya},
                {"asset_id": no, "price": px_to_str(ONE - px), "size": size_s, "side": "SELL" if is_bid else "BUY",
                 "hash": "1895759e4df7a796bf4f1c5a5950b748306923e2", "best_bid": nb, "best_ask": na},
            ],
        }))
    return frames, markets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--markets", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    frames, markets = generate(args.messages, args.markets, args.seed)
    # The generated stream is test data, not engine state: keep the collector from rescanning it,
    # as the engine itself freezes its start-up objects (engine.runtime).
    gc.collect()
    gc.freeze()
    channel = MarketChannel()
    for cid, yes, no in markets:
        channel.add_market(cid, yes, no, OrderBook())
    apply = channel.apply_frame
    levels = gaps = 0
    t0 = time.perf_counter()
    for raw in frames:
        r = apply(raw)
        levels += r.levels
        gaps += len(r.gaps)
    elapsed = time.perf_counter() - t0
    print(f"messages          {len(frames):>12,}")
    print(f"level updates     {levels:>12,}")
    print(f"gaps detected     {gaps:>12,}  (expected 0: every best_bid/best_ask checked)")
    print(f"elapsed           {elapsed:>12.3f} s")
    print(f"throughput        {levels / elapsed:>12,.0f} level updates/s  (target >= 300,000)")
    print(f"                  {len(frames) / elapsed:>12,.0f} messages/s")
    print(f"per message       {elapsed / len(frames) * 1e6:>12.2f} us")


if __name__ == "__main__":
    main()
