"""Market maker latency from a book update to its requote intent, in process. Target: p99 <= 1 ms.

The real `MarketMakerStrategy` (default `MarketMakerConfig`, no brain, the engine's default
`requote_min_ticks`) runs against a minimal in-process `StrategyContext`: 40 watched markets with real
`OrderBook`s seeded around 0.30-0.70 (20 levels a side, enough depth to rank), an ACTIVE mandate with a
wide band in each, no inventory, every risk gate open. One market receives the updates; the others are
there so each re-rank scores a realistic watchlist.

Each iteration advances the engine clock by `--step-ms` (100 ms: a re-rank falls due every 600 updates,
and those calls are in the figures; they fall on jump updates, so a re-rank and a requote share the call,
the worst case), then times, with perf_counter_ns, from just before `book.apply(deltas)` to the return of
`strategy.on_book(ctx, market)`. Updates alternate: a jump (the whole book shifts 3-6
ticks, past the requote threshold, so the quotes are requoted) and a small move (one touch moves a tick or
changes size: the quotes mostly stay). After each reply the context's working orders follow it (intents
rest as LIVE orders, cancels remove theirs), so the keep-or-requote check sees what the engine would show
it. Deltas are built before the clock starts; the first `--warmup` updates are not recorded. The collector
stays on, tuned and frozen after set-up as the engine does (engine/gc_tuning.py). `rerank(ctx, now)` alone
is timed separately over the same markets.

    .venv/bin/python bench/requote.py [--iterations 20000] [--markets 40] [--step-ms 100] [--seed 7] [--json]

Exit 1 when the requote path's p99 misses the target.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.book import Delta, OrderBook  # noqa: E402
from engine.config import ExecutionSettings  # noqa: E402
from engine.domain import Market, OrderType  # noqa: E402
from engine.execution.orders import OrderState  # noqa: E402
from engine.gc_tuning import THRESHOLDS  # noqa: E402
from engine.risk.sizing import SizingLimits  # noqa: E402
from engine.strategies.base import (  # noqa: E402
    Budget,
    Cancel,
    Intent,
    MandateRequest,
    MandateView,
    NotTradable,
    OrderView,
    Rationale,
    Reply,
)
from engine.strategies.market_maker import ALL_SIDES, MarketMakerConfig, MarketMakerStrategy  # noqa: E402

TARGET_US = 1000.0
TICK = 100  # 0.01
LEVELS = 20
START_MS = 1_790_000_000_000
EQUITY = Decimal(800)  # the default paper bankroll (1000 USDC) times the maker's default budget_pct (80)
QUESTION = "Will the {i}th benchmark index close above its reference level on the stated date?"
RULES = (
    "This market resolves to Yes if the official closing value published by the exchange on the stated date"
    " is above the reference level, and to No otherwise."
)


class BenchContext:
    """Just what the market maker reads, with every gate open and orders kept as the engine would show them."""

    strategy_id = MarketMakerStrategy.strategy_id

    def __init__(self, markets: list[Market], books: dict[str, OrderBook], now: int) -> None:
        self.now = now
        self._markets = markets
        self._by_id = {m.condition_id: m for m in markets}
        self._books = books
        self._orders: dict[str, dict[str, OrderView]] = {m.condition_id: {} for m in markets}
        self._views: dict[str, tuple[OrderView, ...]] = {m.condition_id: () for m in markets}
        self._mandates = {m.condition_id: _mandate(m.condition_id, i) for i, m in enumerate(markets)}
        self._budget = Budget(limit=EQUITY, committed=Decimal(0))
        self._next_id = 0

    # --- StrategyContext -------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.now

    def markets(self) -> Iterable[Market]:
        return self._markets

    def market(self, condition_id: str) -> Market:
        return self._by_id[condition_id]

    def book(self, condition_id: str) -> OrderBook:
        return self._books[condition_id]

    def tick(self, condition_id: str) -> int:
        return self._by_id[condition_id].tick

    def tradable(self, condition_id: str) -> NotTradable | None:
        return None

    def may_add_risk(self, condition_id: str) -> bool:
        return True

    def may_reduce(self, condition_id: str) -> bool:
        return True

    def orders(self, condition_id: str | None = None) -> tuple[OrderView, ...]:
        if condition_id is None:
            return tuple(o for views in self._views.values() for o in views)
        return self._views[condition_id]

    def position(self, token_id: str) -> int:
        return 0

    def budget(self) -> Budget:
        return self._budget

    def mandate(self, condition_id: str) -> MandateView | None:
        return self._mandates[condition_id]

    def equity(self) -> Decimal:
        return EQUITY

    def phase(self, condition_id: str) -> str:
        return "NORMAL"

    def maker_allowed(self, condition_id: str) -> bool:
        return True

    def size_multiplier(self, condition_id: str) -> float:
        return 1.0

    def book_age_s(self, condition_id: str) -> float:
        return 0.0

    def live_venue(self) -> bool:
        return False

    def markout(self, condition_id: str) -> float | None:
        return None

    def toxic(self, condition_id: str) -> bool:
        return False

    # --- the engine's side (not timed) -----------------------------------------------------------
    def settle(self, cid: str, reply: Reply) -> tuple[int, int]:
        """Apply a reply as if the venue acknowledged it at once: (intents placed, cancels done)."""
        working = self._orders[cid]
        placed = cancelled = 0
        for action in reply.actions:
            if isinstance(action, Cancel):
                cancelled += working.pop(action.client_order_id, None) is not None
            elif isinstance(action, Intent):
                for leg in action.legs:
                    self._next_id += 1
                    coid = f"bench-{self._next_id}"
                    market = self._by_id[leg.condition_id]
                    working[coid] = OrderView(
                        client_order_id=coid,
                        condition_id=leg.condition_id,
                        token_id=market.token(leg.outcome),
                        outcome=leg.outcome,
                        side=leg.side,
                        price=leg.price,
                        size=leg.size,
                        filled=0,
                        state=OrderState.LIVE,
                        order_type=OrderType.GTD,
                        created_ts=self.now,
                        cancel_requested=False,
                    )
                placed += 1
        self._views[cid] = tuple(working.values())
        return placed, cancelled


def _mandate(cid: str, i: int) -> MandateView:
    request = MandateRequest(
        strategy_id=MarketMakerStrategy.strategy_id,
        condition_id=cid,
        sides=ALL_SIDES,
        max_order_size=1_000_000_000,
        max_inventory=10_000_000_000,
        band_low=TICK,
        band_high=10_000 - TICK,
        lifetime_s=86_400,
        rationale=Rationale("bench mandate"),
    )
    return MandateView(f"mandate-{i}", "ACTIVE", request, START_MS + 86_400_000)


class Feed:
    """One market's book as a touch pair plus a size per price: a jump shifts the whole book by 3-6 ticks,
    a small move nudges one touch by a tick or resizes it. Yields the deltas of each update."""

    def __init__(self, rng: random.Random, bid: int, ask: int) -> None:
        self.rng = rng
        self.bid, self.ask = bid, ask  # touch prices, 1e-4
        self.sizes: dict[int, int] = {}

    def size(self, px: int) -> int:
        qty = self.sizes.get(px)
        if qty is None:
            qty = self.sizes[px] = self.rng.randint(200, 3_000) * 1_000_000  # whole shares, 1e-6
        return qty

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = [(px, self.size(px)) for px in range(self.bid, self.bid - LEVELS * TICK, -TICK) if px > 0]
        asks = [(px, self.size(px)) for px in range(self.ask, self.ask + LEVELS * TICK, TICK) if px < 10_000]
        return bids, asks

    def jump(self) -> None:
        move = self.rng.randint(3, 6) * TICK * self.rng.choice((-1, 1))
        if self.bid + move < 2_000 or self.ask + move > 8_000:
            move = -move  # reflect inside 0.20-0.80
        self.bid += move
        self.ask += move

    def nudge(self) -> None:
        kind = self.rng.randrange(3)
        if kind == 0:  # resize the touch (a trade or an add at the best price)
            px = self.bid if self.rng.random() < 0.5 else self.ask
            self.sizes[px] = self.rng.randint(50, 3_000) * 1_000_000
            return
        spread = (self.ask - self.bid) // TICK
        widen = spread <= 1 or (spread < 4 and self.rng.random() < 0.5)
        step = TICK if widen else -TICK
        if kind == 1:
            self.bid -= step
        else:
            self.ask += step

    def update(self, book: OrderBook, jump: bool) -> list[Delta]:
        if jump:
            self.jump()
        else:
            self.nudge()
        bids, asks = self.levels()
        return book.diff(bids, asks)


def seed_markets(n: int, rng: random.Random) -> tuple[list[Market], dict[str, OrderBook], list[Feed]]:
    markets: list[Market] = []
    books: dict[str, OrderBook] = {}
    feeds: list[Feed] = []
    for i in range(n):
        cid = f"0x{i:064x}"
        market = Market(
            condition_id=cid,
            question=QUESTION.format(i=i + 1),
            slug=f"bench-{i}",
            yes_token=str(10**70 + 2 * i),
            no_token=str(10**70 + 2 * i + 1),
            tick=TICK,
            min_order_size=5_000_000,
            start_ts=None,
            end_ts=START_MS + 90 * 86_400_000,  # three months out: far from the close window
            rules=RULES,
            resolution_source="https://example.com/official-close",
        )
        mid = 5_000 if i == 0 else rng.randint(30, 70) * TICK
        spread = rng.randint(1, 3) * TICK
        feed = Feed(rng, mid - spread // 2 // TICK * TICK, mid - spread // 2 // TICK * TICK + spread)
        book = OrderBook()
        bids, asks = feed.levels()
        book.replace(bids, asks, START_MS)
        markets.append(market)
        books[cid] = book
        feeds.append(feed)
    return markets, books, feeds


def pct(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, microseconds."""
    if not sorted_ns:
        return float("nan")
    k = min(len(sorted_ns) - 1, max(0, int(q * len(sorted_ns) + 0.999999) - 1))
    return sorted_ns[k] / 1000


def stats(samples: list[int]) -> dict[str, Any]:
    s = sorted(samples)
    return {
        "n": len(s),
        "p50_us": pct(s, 0.50),
        "p99_us": pct(s, 0.99),
        "p999_us": pct(s, 0.999),
        "max_us": (s[-1] / 1000) if s else float("nan"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    markets, books, feeds = seed_markets(args.markets, rng)
    ctx = BenchContext(markets, books, START_MS)
    strategy = MarketMakerStrategy(
        MarketMakerConfig(),
        brain=None,
        depth_band=SizingLimits().depth_band,
        requote_min_ticks=ExecutionSettings().requote_min_ticks,
    )
    market, book, feed = markets[0], books[markets[0].condition_id], feeds[0]
    cid = market.condition_id

    # Re-rank alone: the first one is cold (resolution risk read from each market's text), then steady.
    t0 = time.perf_counter_ns()
    strategy.rerank(ctx, ctx.now)
    rerank_cold_us = (time.perf_counter_ns() - t0) / 1000
    quotable = sum(1 for q in strategy.ranked.values() if q.quotable)
    rerank_ns: list[int] = []
    for _ in range(args.rerank_reps):
        t0 = time.perf_counter_ns()
        strategy.rerank(ctx, ctx.now)
        rerank_ns.append(time.perf_counter_ns() - t0)
    strategy.next_rank_ms = 0  # the update loop's first call re-ranks as the engine's would

    total = args.warmup + args.iterations
    updates: list[list[Delta]] = []  # built up front, off the clock, against a copy of the book
    shadow = OrderBook()
    shadow.replace(*feed.levels(), START_MS)
    for i in range(total):
        deltas = feed.update(shadow, jump=i % 2 == 0)
        shadow.apply(deltas, START_MS)
        updates.append(deltas)

    collections = [0]

    def count_collections(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[0] += 1

    gc.collect()
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()
    gc.callbacks.append(count_collections)
    all_ns: list[int] = []
    requote_ns: list[int] = []
    hold_ns: list[int] = []
    reranked_ns: list[int] = []
    cancels = placed_total = deltas_total = 0
    slow = {"total": 0, "rerank": 0, "gc": 0, "other": 0}  # timed calls over the target, and what was in them
    gc_calls = 0
    decisions: dict[str, int] = {}
    perf = time.perf_counter_ns
    for i, deltas in enumerate(updates):
        ctx.now += args.step_ms
        ts = ctx.now
        due = ts >= strategy.next_rank_ms
        seen = collections[0]
        t0 = perf()
        book.apply(deltas, ts)
        reply = strategy.on_book(ctx, market)
        elapsed = perf() - t0
        collected = collections[0] != seen
        placed, cancelled = ctx.settle(cid, reply)
        if i < args.warmup:
            continue
        gc_calls += collected
        if elapsed > TARGET_US * 1000:
            slow["total"] += 1
            slow["rerank" if due else "gc" if collected else "other"] += 1
        deltas_total += len(deltas)
        all_ns.append(elapsed)
        (requote_ns if placed else hold_ns).append(elapsed)
        if due:
            reranked_ns.append(elapsed)
        placed_total += placed
        cancels += cancelled
        for v in reply.verdicts:
            decisions[v.decision] = decisions.get(v.decision, 0) + 1
    gc.callbacks.remove(count_collections)
    gc.unfreeze()

    return {
        "markets": args.markets,
        "quotable_markets": quotable,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "step_ms": args.step_ms,
        "engine_seconds": args.iterations * args.step_ms / 1000,
        "requote_min_ticks": strategy.requote_min_ticks,
        "mean_deltas_per_update": deltas_total / max(1, args.iterations),
        "gc": f"enabled, thresholds {THRESHOLDS}, set-up heap frozen",
        "all": stats(all_ns),
        "requote": stats(requote_ns),
        "hold": stats(hold_ns),
        "with_rerank": stats(reranked_ns),
        "calls_with_gc": gc_calls,
        "calls_over_target": slow,
        "intents": placed_total,
        "cancels": cancels,
        "verdicts": dict(sorted(decisions.items())),
        "rerank_cold_us": rerank_cold_us,
        "rerank": stats(rerank_ns),
        "target_us": TARGET_US,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=1_000)
    ap.add_argument("--markets", type=int, default=40)
    ap.add_argument("--step-ms", type=int, default=100)
    ap.add_argument("--rerank-reps", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON object with the figures")
    args = ap.parse_args()
    r = run(args)
    p99 = r["requote"]["p99_us"]
    ok = r["requote"]["n"] > 0 and p99 <= TARGET_US
    r["pass"] = ok
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"markets watched   {r['markets']:>8}  ({r['quotable_markets']} quotable after the first re-rank)"
        )
        print(
            f"updates timed     {r['iterations']:>8,}  (+{r['warmup']:,} warm-up, {r['step_ms']} ms apart:"
            f" {r['engine_seconds']:,.0f} s of engine time)"
        )
        print(f"deltas per update {r['mean_deltas_per_update']:>8.1f}  (jumps and small moves alternate)")
        print(f"requote_min_ticks {r['requote_min_ticks']:>8}  gc {r['gc']}")
        print(f"intents placed    {r['intents']:>8,}  cancels {r['cancels']:,}")
        print("verdicts          " + ", ".join(f"{k} {v:,}" for k, v in r["verdicts"].items()))
        print()
        print(
            f"{'book update -> reply':<26}{'calls':>8}{'p50 us':>10}{'p99 us':>10}{'p99.9 us':>10}{'max us':>10}"
        )
        for label, key in (
            ("all calls", "all"),
            ("requote (>= 1 intent)", "requote"),
            ("hold (no intent)", "hold"),
            ("calls that re-ranked", "with_rerank"),
            (f"rerank() alone, {r['markets']} mkts", "rerank"),
        ):
            s = r[key]
            print(
                f"{label:<26}{s['n']:>8,}{s['p50_us']:>10.1f}{s['p99_us']:>10.1f}{s['p999_us']:>10.1f}"
                f"{s['max_us']:>10.1f}"
            )
        print(f"{'rerank() cold, first call':<26}{1:>8}{r['rerank_cold_us']:>10.1f}")
        slow = r["calls_over_target"]
        print()
        print(
            f"calls over {TARGET_US:.0f} us  {slow['total']:>8}  (re-ranked in the call {slow['rerank']},"
            f" a collection in the call {slow['gc']}, neither {slow['other']}: scheduler or machine noise);"
            f" calls with a collection {r['calls_with_gc']}"
        )
        print()
        print(f"requote p99 = {p99:.1f} us (target <= {TARGET_US:.0f} us): {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
