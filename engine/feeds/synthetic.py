"""Seeded synthetic Polymarket markets, produced in exactly the form the replay venue consumes.

`synthetic_catalog(cfg)` gives the markets (with their resolutions) and `synthetic_lines(cfg, catalog)`
the time-ordered book snapshots (`ReplayLine`, YES terms); `write_dataset` writes both as the replay files
(`--venue replay --data books.jsonl[.gz] --markets markets.json`). The same seed gives the same run.

The model, per market:
- Latent probability. A Brownian "score" is compared with a threshold at close (YES wins when it ends
  above). The latent YES probability is the exact posterior of that, `Phi((Z - c) / sqrt(remaining))`:
  calibrated, a random walk in logit space whose steps grow as close nears, and it settles at 0 or 1,
  which is the market's resolution. Volatility comes in regimes (calm / volatile, Markov switching) with
  unit variance on average, so the latent stays calibrated on average while news bursts overshoot.
  A neg-risk event is several markets over one argmax race: scores per candidate, exactly one winner,
  latent probabilities that sum to 1.
- Market mid. Informed flow pulls the mid towards the latent with a lag (`mid_lag_s / informed_share`);
  in the last `informed_window_s` it drifts to the final outcome and the pull strengthens, so the last
  lines converge to 0/1 for the winner. Noise traders add mean-reverting noise and occasional bursts.
- Book. Spread widens in volatile regimes and near close; depth thins and levels drop near close;
  one side is sometimes pulled for a few seconds; levels keep their sizes between snapshots unless
  noise changes them, so a diff gives a realistic handful of deltas. Every book is uncrossed, on the
  tick, within [tick, 1 - tick]. A 0.01 market switches to 0.001 when its mid crosses above 0.96 or
  below 0.04 and back once the mid is inside [0.05, 0.95] (a line on the fine tick always has a level
  off the 0.01 grid, which is how the replay venue detects the fine tick).

Runs: a run is `cfg.rounds` rounds. Round r opens its markets on staggered slots from
`cfg.round_start(r)`; rounds are `duration_s` apart, so chained rounds keep about one slot's worth of
markets open at every moment. `synthetic_feed(cfg, rounds=None)` chains rounds without end, announcing
each round's markets (a `ReplayMarket`) before any of their lines.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any, BinaryIO

import orjson

from engine.book import Level
from engine.domain import CRYPTO_15M_FEES, FeeSchedule, Market, Outcome, Resolution
from engine.feeds.replay import ReplayLine, ReplayMarket, local_token_id
from engine.units import ONE, px_to_str, qty_to_str

COARSE_TICK = 100  # 0.01
FINE_TICK = 10  # 0.001
_SHARE = 10_000  # sizes are whole hundredths of a share (1e-6 units)
_LOGIT_CAP = 6.9  # mid stays within about [0.001, 0.999]
_SQRT2 = math.sqrt(2.0)
_ASSETS = ("BTC", "ETH", "SOL", "XRP")
_TOPICS = ("politics", "sports", "economics", "culture")
_CANDIDATES = ("Avery", "Blake", "Casey", "Drew", "Emery", "Finley", "Gray", "Harper", "Indy", "Jules")
# Integration grid for the neg-risk race (standard normal nodes and weights).
_GRID = [-5.0 + 0.25 * i for i in range(41)]
_GRID_W = [0.25 * math.exp(-0.5 * y * y) / math.sqrt(2 * math.pi) for y in _GRID]


@dataclass(frozen=True)
class SyntheticConfig:
    markets: int = 12
    seed: int = 7
    start_ts_ms: int = 1_800_000_000_000
    duration_s: int = 900  # each market's life, open to close
    first_round: int = 0
    rounds: int = 1  # finite runs: rounds first_round .. first_round + rounds - 1
    # ticks and books
    tick: int = COARSE_TICK  # price units; the default tick of every market...
    fine_tick_share: float = 0.5  # ...except this share of the non-crypto binaries, which quote on 0.001
    levels: int = 10  # per side
    update_ms: int = 250  # per market, between snapshots
    update_jitter: float = 0.5  # each interval is update_ms x uniform(1 - j, 1 + j)
    # latent probability
    initial_prob: tuple[float, float] = (0.15, 0.85)  # non-crypto binaries; up/down start near 0.5
    volatility: float = 1.0  # 1.0 keeps the latent calibrated; above it reacts more than it should
    volatile_mult: float = 2.0  # score speed in the volatile regime relative to the average
    mean_calm_s: float = 120.0
    mean_volatile_s: float = 20.0
    # order flow
    informed_share: float = 0.35
    mid_lag_s: float = 1.0  # the mid follows the latent with time constant mid_lag_s / informed_share
    informed_window_s: float = 90.0  # before close: informed flow drifts to the final outcome
    noise_sd: float = 0.05  # logit sd of the noise traders' mean-reverting push on the mid
    noise_half_life_s: float = 5.0
    noise_bursts_per_min: float = 0.4  # sudden noise-trader sweeps
    # spread and depth
    spread: int = 100  # price units at p = 0.5, calm, far from close
    spread_vol_widen: float = 1.5  # extra spread (x base) in the volatile regime
    spread_close_widen: float = 2.0  # extra spread (x base) at close
    depth: float = 400.0  # median shares at a level near the touch
    thin_window_s: float = 60.0  # books thin out over the last minute
    gap_prob: float = 0.08  # a price level left empty inside the book
    one_sided_per_min: float = 0.3  # one side pulled for 1-6 s (more often near close)
    down_line_share: float = 0.1  # lines recorded from the DOWN / NO token (mirrored)
    # fees and neg-risk
    fee_share: float = 0.5  # plain binaries that are 15-minute crypto up/down markets (taker fees)
    neg_risk_markets: int = 3  # markets of one neg-risk event (0 for none); they open and close together

    def __post_init__(self) -> None:
        checks = [
            (self.markets >= 1, "markets", "an integer >= 1"),
            (self.duration_s >= 10, "duration_s", "seconds >= 10"),
            (self.start_ts_ms >= 0, "start_ts_ms", "unix milliseconds >= 0"),
            (self.first_round >= 0, "first_round", "an integer >= 0"),
            (self.rounds >= 1, "rounds", "an integer >= 1"),
            (self.tick in (COARSE_TICK, FINE_TICK), "tick", f"{COARSE_TICK} (0.01) or {FINE_TICK} (0.001)"),
            (self.levels >= 1, "levels", "an integer >= 1"),
            (self.update_ms >= 1, "update_ms", "milliseconds >= 1"),
            (0 <= self.update_jitter < 1, "update_jitter", "a fraction in [0, 1)"),
            (0 < self.initial_prob[0] <= self.initial_prob[1] < 1, "initial_prob", "0 < low <= high < 1"),
            (self.volatility > 0, "volatility", "a number > 0"),
            (self.volatile_mult >= 1, "volatile_mult", "a number >= 1"),
            (0 < self.informed_share <= 1, "informed_share", "a fraction in (0, 1]"),
            (self.spread >= 1, "spread", "price units >= 1"),
            (self.depth > 0, "depth", "shares > 0"),
            (0 <= self.fee_share <= 1, "fee_share", "a fraction in [0, 1]"),
            (0 <= self.fine_tick_share <= 1, "fine_tick_share", "a fraction in [0, 1]"),
            (0 <= self.down_line_share <= 1, "down_line_share", "a fraction in [0, 1]"),
            (
                self.neg_risk_markets == 0
                or 2 <= self.neg_risk_markets <= min(self.markets, len(_CANDIDATES)),
                "neg_risk_markets",
                f"0 or 2..{min(self.markets, len(_CANDIDATES))}",
            ),
        ]
        for ok, name, accepted in checks:
            if not ok:
                raise ValueError(f"SyntheticConfig.{name} = {getattr(self, name)!r}: accepted: {accepted}")

    @property
    def period_ms(self) -> int:
        return self.duration_s * 1000

    def round_start(self, round_no: int) -> int:
        return self.start_ts_ms + round_no * self.period_ms


# --- the plan: markets, latent paths, outcomes ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    market: Market
    resolution: Resolution
    latent: tuple[float, ...]  # latent YES probability at each second from open
    volatile: tuple[bool, ...]  # the volatility regime at each second
    seed: int
    spread: int  # base spread, price units
    depth: float  # median shares near the touch


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("/".join(str(p) for p in ("bigearn-synthetic", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _condition_id(cfg: SyntheticConfig, round_no: int, slot: int, member: int) -> str:
    text = f"bigearn-synthetic-market/{cfg.seed}/{round_no}/{slot}/{member}"
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _picked(i: int, share: float) -> bool:
    """Spread a share evenly over indices 0, 1, 2...: about n x share of the first n, the first at once."""
    return math.floor((i + 1) * share + 0.5) > math.floor(i * share + 0.5)


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def _timeframe(duration_s: int) -> str:
    if duration_s % 3600 == 0:
        return f"{duration_s // 3600}h"
    if duration_s % 60 == 0:
        return f"{duration_s // 60}m"
    return f"{duration_s}s"


class _Regime:
    """Calm / volatile volatility regimes with unit mean variance (so the posterior stays calibrated)."""

    def __init__(self, cfg: SyntheticConfig, rng: random.Random) -> None:
        self.rng = rng
        self.enter = 1.0 / cfg.mean_calm_s
        self.leave = 1.0 / cfg.mean_volatile_s
        share = self.enter / (self.enter + self.leave)
        hot = cfg.volatile_mult**2
        calm = max(0.05, (1.0 - share * hot) / (1.0 - share))
        self.mult = (cfg.volatility * math.sqrt(calm), cfg.volatility * cfg.volatile_mult)
        self.volatile = False

    def step(self) -> float:
        if self.rng.random() < (self.leave if self.volatile else self.enter):
            self.volatile = not self.volatile
        return self.mult[self.volatile]


def _binary_latent(
    cfg: SyntheticConfig, rng: random.Random, p0: float
) -> tuple[list[float], list[bool], bool]:
    n = cfg.duration_s
    threshold = -NormalDist().inv_cdf(p0)
    step = 1.0 / math.sqrt(n)
    regime = _Regime(cfg, rng)
    z = 0.0
    path: list[float] = []
    vol: list[bool] = []
    for j in range(n):
        path.append(_phi((z - threshold) / math.sqrt((n - j) / n)))
        vol.append(regime.volatile)
        z += rng.gauss(0.0, step * regime.step())
    return path, vol, z > threshold


def _race_probs(scores: list[float], spread: float) -> list[float]:
    """P(candidate i ends highest) when every score still moves by N(0, spread^2), independently."""
    out = []
    for i, a in enumerate(scores):
        total = 0.0
        for y, w in zip(_GRID, _GRID_W, strict=True):
            prod = w
            for j, b in enumerate(scores):
                if j != i:
                    prod *= _phi((a - b) / spread + y)
                    if prod < 1e-300:
                        break
            total += prod
        out.append(total)
    norm = sum(out)
    if norm <= 0:
        best = max(range(len(scores)), key=scores.__getitem__)
        return [1.0 if i == best else 0.0 for i in range(len(scores))]
    return [p / norm for p in out]


def _race_latent(
    cfg: SyntheticConfig, rng: random.Random, k: int
) -> tuple[list[list[float]], list[bool], int]:
    n = cfg.duration_s
    step = 1.0 / math.sqrt(n)
    regime = _Regime(cfg, rng)
    scores = [rng.gauss(0.0, 0.8) for _ in range(k)]
    paths: list[list[float]] = [[] for _ in range(k)]
    vol: list[bool] = []
    for j in range(n):
        for path, p in zip(paths, _race_probs(scores, math.sqrt((n - j) / n)), strict=True):
            path.append(p)
        vol.append(regime.volatile)
        mult = regime.step()
        scores = [s + rng.gauss(0.0, step * mult) for s in scores]
    winner = max(range(k), key=scores.__getitem__)
    return paths, vol, winner


def _market(
    cfg: SyntheticConfig,
    cid: str,
    *,
    question: str,
    slug: str,
    labels: tuple[str, str],
    category: str,
    tick: int,
    fees: FeeSchedule,
    start: int,
    neg_risk: bool = False,
    event_id: str = "",
) -> Market:
    return Market(
        condition_id=cid,
        question=question,
        slug=slug,
        yes_token=local_token_id(cid, labels[0]),
        no_token=local_token_id(cid, labels[1]),
        yes_label=labels[0],
        no_label=labels[1],
        category=category,
        tick=tick,
        neg_risk=neg_risk,
        fees=fees,
        start_ts=start,
        end_ts=start + cfg.period_ms,
        event_id=event_id,
    )


@lru_cache(maxsize=32)
def _round_plan(cfg: SyntheticConfig, round_no: int) -> tuple[_Spec, ...]:
    group = cfg.neg_risk_markets
    binaries = cfg.markets - group
    slots = binaries + (1 if group else 0)
    stagger = cfg.period_ms // slots
    group_slot = slots // 2 if group else -1
    frame = _timeframe(cfg.duration_s)
    # Up/down markets carry the legacy crypto schedule; the replay loader derives it from crypto + 15m.
    crypto_fees = (
        CRYPTO_15M_FEES
        if frame == "15m"
        else FeeSchedule(rate=CRYPTO_15M_FEES.rate, exponent=CRYPTO_15M_FEES.exponent)
    )
    specs: list[_Spec] = []
    k = 0
    plain = 0  # non-crypto binaries so far
    for slot in range(slots):
        start = cfg.round_start(round_no) + slot * stagger
        if slot == group_slot:
            rng = random.Random(_seed(cfg.seed, round_no, slot, "race"))
            paths, vol, winner = _race_latent(cfg, rng, group)
            event_id = f"syn-event-{cfg.seed}-{round_no}"
            for member in range(group):
                cid = _condition_id(cfg, round_no, slot, member)
                name = _CANDIDATES[member]
                market = _market(
                    cfg,
                    cid,
                    question=f"Will {name} win the synthetic race {cfg.seed}-{round_no}?",
                    slug=f"{event_id}-{name.lower()}",
                    labels=("Yes", "No"),
                    category="politics",
                    tick=cfg.tick,
                    fees=FeeSchedule(),
                    start=start,
                    neg_risk=True,
                    event_id=event_id,
                )
                payout = Decimal(1 if member == winner else 0)
                specs.append(
                    _Spec(
                        market,
                        Resolution(cid, market.end_ts or 0, payout),
                        tuple(paths[member]),
                        tuple(vol),
                        _seed(cfg.seed, round_no, slot, member, "book"),
                        cfg.spread,
                        cfg.depth * 0.6,
                    )
                )
            continue
        rng = random.Random(_seed(cfg.seed, round_no, slot, "binary"))
        cid = _condition_id(cfg, round_no, slot, 0)
        crypto = _picked(k, cfg.fee_share)
        fine = not crypto and _picked(plain, cfg.fine_tick_share)
        plain += not crypto
        tick = FINE_TICK if fine else cfg.tick
        if crypto:
            asset = _ASSETS[k % len(_ASSETS)]
            p0 = rng.uniform(0.4, 0.6)
            market = _market(
                cfg,
                cid,
                question=f"Synthetic {asset} Up or Down - round {round_no} slot {slot}",
                slug=f"syn-{asset.lower()}-updown-{frame}-{start // 1000}",
                labels=("Up", "Down"),
                category="crypto",
                tick=tick,
                fees=crypto_fees,
                start=start,
            )
        else:
            topic = _TOPICS[k % len(_TOPICS)]
            p0 = rng.uniform(*cfg.initial_prob)
            market = _market(
                cfg,
                cid,
                question=f"Synthetic {topic} question {cfg.seed}-{round_no}-{slot}: will it happen?",
                slug=f"syn-{topic}-{cfg.seed}-{round_no}-{slot}",
                labels=("Yes", "No"),
                category=topic,
                tick=tick,
                fees=FeeSchedule(),
                start=start,
            )
        path, vol, yes = _binary_latent(cfg, rng, p0)
        base_spread = max(FINE_TICK * 2, cfg.spread // 3) if fine else cfg.spread * rng.choice((1, 1, 1, 2))
        depth = cfg.depth * math.exp(rng.gauss(0.0, 0.5))
        specs.append(
            _Spec(
                market,
                Resolution(cid, market.end_ts or 0, Decimal(1 if yes else 0)),
                tuple(path),
                tuple(vol),
                _seed(cfg.seed, round_no, slot, "book"),
                base_spread,
                depth,
            )
        )
        k += 1
    return tuple(specs)


def _specs(cfg: SyntheticConfig) -> Iterator[_Spec]:
    for r in range(cfg.first_round, cfg.first_round + cfg.rounds):
        yield from _round_plan(cfg, r)


# --- books -----------------------------------------------------------------------------------------


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def _market_lines(cfg: SyntheticConfig, spec: _Spec) -> Iterator[ReplayLine]:
    rng = random.Random(spec.seed)
    market = spec.market
    cid = market.condition_id
    start = market.start_ts or 0
    end = market.end_ts or start + cfg.period_ms
    base_tick = market.tick
    switches = base_tick == COARSE_TICK
    outcome = float(spec.resolution.yes_payout)
    window = max(1.0, min(cfg.informed_window_s, cfg.duration_s / 3))
    thin_window = max(1.0, min(cfg.thin_window_s, cfg.duration_s / 4))
    noise_tau = cfg.noise_half_life_s / math.log(2)
    burst_rate = cfg.noise_bursts_per_min / 60.0
    one_sided_rate = cfg.one_sided_per_min / 60.0
    rel_levels = [0.45 + 0.2 * i for i in range(cfg.levels)]

    lagged = _logit(spec.latent[0])
    noise = 0.0
    fine = base_tick == FINE_TICK
    bid_sizes: dict[int, int] = {}
    ask_sizes: dict[int, int] = {}
    pulled_until = -1
    pulled_bids = False
    ts = start
    dt = 0.0
    while ts < end:
        remaining = (end - ts) / 1000
        p = spec.latent[min((ts - start) // 1000, len(spec.latent) - 1)]
        volatile = spec.volatile[min((ts - start) // 1000, len(spec.volatile) - 1)]
        near = max(0.0, 1.0 - remaining / window)  # 0 far from close, 1 at close
        target = p + near * near * (outcome - p)
        if dt:
            informed = cfg.informed_share + (1.0 - cfg.informed_share) * near
            lagged += (1.0 - math.exp(-dt * informed / cfg.mid_lag_s)) * (_logit(target) - lagged)
            decay = math.exp(-dt / noise_tau)
            noise = noise * decay + cfg.noise_sd * math.sqrt(1 - decay * decay) * rng.gauss(0.0, 1.0)
            if rng.random() < burst_rate * dt:
                noise += rng.gauss(0.0, 0.25)
        mid_logit = min(max(lagged + noise, -_LOGIT_CAP), _LOGIT_CAP)
        mid = 1.0 / (1.0 + math.exp(-mid_logit))

        if switches:
            if not fine and (mid > 0.96 or mid < 0.04):
                fine = True
            elif fine and 0.05 <= mid <= 0.95:
                fine = False
        tick = FINE_TICK if fine else base_tick

        widen = 1.0 + cfg.spread_vol_widen * volatile + cfg.spread_close_widen * near
        width = spec.spread * max(0.25, math.sqrt(4 * mid * (1 - mid))) * widen
        n_ticks = max(1, round(width / tick))
        bid = round((mid * ONE - n_ticks * tick / 2) / tick) * tick
        bid = max(bid, tick)
        ask = bid + n_ticks * tick
        if ask > ONE - tick:
            ask = ONE - tick
            bid = max(tick, ask - n_ticks * tick)

        thin = min(1.0, remaining / thin_window)
        n_levels = max(1, round(cfg.levels * (0.3 + 0.7 * thin)))
        depth = spec.depth * (0.25 + 0.75 * thin)

        if ts >= pulled_until and rng.random() < one_sided_rate * dt * (1.0 + 4.0 * near):
            pulled_until = ts + rng.randint(1000, 6000)
            pulled_bids = rng.random() < 0.5
        pulled = ts < pulled_until

        bids: list[Level] = []
        asks: list[Level] = []
        if not (pulled and pulled_bids):
            bids = _side(rng, bid, -tick, tick, n_levels, depth, rel_levels, bid_sizes, cfg.gap_prob)
        if not (pulled and not pulled_bids):
            asks = _side(rng, ask, tick, ONE - tick, n_levels, depth, rel_levels, ask_sizes, cfg.gap_prob)
        bid_sizes = dict(bids)
        ask_sizes = dict(asks)

        off_grid = fine and (
            any(px % COARSE_TICK for px, _ in bids) or any(px % COARSE_TICK for px, _ in asks)
        )
        if fine and switches and not off_grid:
            # Every level landed on the 0.01 grid; the venue could not see the fine tick, so nudge the touch.
            if bids:
                bids[0] = (bids[0][0] - FINE_TICK, bids[0][1])
            else:
                asks[0] = (asks[0][0] + FINE_TICK, asks[0][1])
            off_grid = True
        source = Outcome.NO if rng.random() < cfg.down_line_share else Outcome.YES
        yield ReplayLine(cid, ts, source, bids, asks, off_grid)

        interval = max(1, round(cfg.update_ms * rng.uniform(1 - cfg.update_jitter, 1 + cfg.update_jitter)))
        ts += interval
        dt = interval / 1000


def _side(
    rng: random.Random,
    best: int,
    step: int,
    limit: int,
    n_levels: int,
    depth: float,
    rel: list[float],
    previous: dict[int, int],
    gap_prob: float,
) -> list[Level]:
    """Levels from the touch outwards; sizes persist between snapshots unless the flow changes them."""
    out: list[Level] = []
    rand = rng.random
    get = previous.get
    lo, hi = (best, limit) if step > 0 else (limit, best)
    floor_qty = _SHARE * 100  # at least one share
    px = best
    n = 0
    while n < n_levels and lo <= px <= hi:
        old = get(px)
        roll = rand()
        if old is not None and roll < 0.85:
            qty = old
        elif old is not None and roll < 0.95:
            # Someone added to or took from the level: scale by uniform(0.5, 1.5), reusing the draw.
            qty = round(old * (0.5 + (roll - 0.85) * 10.0) / _SHARE) * _SHARE
        else:
            qty = round(depth * rel[n] * math.exp(0.7 * rng.gauss(0.0, 1.0)) * 100) * _SHARE
        out.append((px, qty if qty > floor_qty else floor_qty))
        n += 1
        if rand() < gap_prob:
            px += step * (2 if rand() < 0.5 else 3)  # a level or two left empty
        else:
            px += step
    return out


# --- public API ------------------------------------------------------------------------------------


def synthetic_catalog(cfg: SyntheticConfig) -> dict[str, ReplayMarket]:
    """Every market of the run, keyed by condition id, each with the resolution its latent process reached."""
    return {s.market.condition_id: ReplayMarket(s.market, s.resolution) for s in _specs(cfg)}


def latent_path(cfg: SyntheticConfig, condition_id: str) -> list[float]:
    """The latent YES probability at each second from the market's open (index i = open + i s), followed
    by its settled value (1.0 or 0.0): the truth a brain is trying to estimate."""
    for spec in _specs(cfg):
        if spec.market.condition_id == condition_id:
            return [*spec.latent, float(spec.resolution.yes_payout)]
    raise KeyError(f"market {condition_id} is not part of this synthetic run")


def synthetic_feed(cfg: SyntheticConfig, rounds: int | None = None) -> Iterator[ReplayMarket | ReplayLine]:
    """Rounds from `cfg.first_round` on (`rounds` of them, or without end when None), merged in time order.
    A round's markets are yielded (as `ReplayMarket`) when the stream reaches the round's start, before
    any of their lines; ties in time keep a fixed order, so the stream is deterministic for a seed."""
    if rounds is not None and rounds < 1:
        raise ValueError(f"rounds = {rounds!r}: accepted: an integer >= 1 or None")
    last = None if rounds is None else cfg.first_round + rounds
    heap: list[tuple[int, int, ReplayLine, Iterator[ReplayLine]]] = []
    seq = 0
    r = cfg.first_round
    while True:
        if (last is None or r < last) and (not heap or heap[0][0] >= cfg.round_start(r)):
            for spec in _round_plan(cfg, r):
                yield ReplayMarket(spec.market, spec.resolution)
                gen = _market_lines(cfg, spec)
                first = next(gen, None)
                if first is not None:
                    heapq.heappush(heap, (first.ts, seq, first, gen))
                    seq += 1
            r += 1
            continue
        if not heap:
            return
        _, _, line, gen = heapq.heappop(heap)
        yield line
        nxt = next(gen, None)
        if nxt is not None:
            heapq.heappush(heap, (nxt.ts, seq, nxt, gen))
            seq += 1


def synthetic_lines(cfg: SyntheticConfig, catalog: dict[str, ReplayMarket]) -> Iterator[ReplayLine]:
    """The book lines of the run's `cfg.rounds` rounds for the markets in `catalog` (all of
    `synthetic_catalog(cfg)` or a subset), sorted by ts. Finite: it ends after the last market closes."""
    known = {s.market.condition_id for s in _specs(cfg)}
    unknown = sorted(set(catalog) - known)
    if unknown:
        raise ValueError(f"catalog market {unknown[0]} is not part of this synthetic run (seed {cfg.seed})")
    for item in synthetic_feed(cfg, cfg.rounds):
        if isinstance(item, ReplayLine) and item.condition_id in catalog:
            yield item


def market_row(cfg: SyntheticConfig, entry: ReplayMarket) -> dict[str, Any]:
    """One markets-file object for `load_markets` (plus `event_id`, which the loader does not read yet)."""
    market = entry.market
    frame = _timeframe(cfg.duration_s)
    row: dict[str, Any] = {
        "market_id": market.condition_id,
        "slug": market.slug,
        "question": market.question,
        "category": market.category,
        "timeframe": frame,
        "start_ts": market.start_ts,
        "end_ts": market.end_ts,
        "outcome_up": market.yes_label,
        "outcome_down": market.no_label,
        "tick_size": px_to_str(market.tick),
        "min_order_size": qty_to_str(market.min_order_size),
        "neg_risk": market.neg_risk,
        "token_up": market.yes_token,
        "token_down": market.no_token,
    }
    if entry.resolution is not None:
        row["payout_up"] = float(entry.resolution.yes_payout)
        row["payout_down"] = float(1 - entry.resolution.yes_payout)
    if not (market.category == "crypto" and frame == "15m" and market.fees == CRYPTO_15M_FEES):
        row["fee_rate"] = str(market.fees.rate)
        row["fee_exponent"] = market.fees.exponent
    if market.event_id:
        row["event_id"] = market.event_id
    return row


def line_row(line: ReplayLine) -> dict[str, Any]:
    """One books-file object; a NO-sourced line is written from the DOWN token, as recordings are."""
    if line.source is Outcome.YES:
        side, bids, asks = "UP", line.bids, line.asks
    else:
        side = "DOWN"
        bids = [(ONE - px, q) for px, q in line.asks]
        asks = [(ONE - px, q) for px, q in line.bids]
    return {
        "market": line.condition_id,
        "ts": line.ts,
        "side": side,
        "bids": [[px / ONE, q / 1_000_000] for px, q in bids],
        "asks": [[px / ONE, q / 1_000_000] for px, q in asks],
    }


def _open_books(path: Path) -> BinaryIO:
    # Level 6 writes about three times faster than gzip's default 9 for a few percent more bytes.
    return gzip.open(path, "wb", compresslevel=6) if path.suffix == ".gz" else open(path, "wb")  # noqa: SIM115


def write_dataset(cfg: SyntheticConfig, books_path: Path, markets_path: Path) -> int:
    """Write the run as replay files (books gzip-compressed when the name ends in .gz); returns the
    number of book lines."""
    catalog = synthetic_catalog(cfg)
    Path(markets_path).write_bytes(
        orjson.dumps([market_row(cfg, entry) for entry in catalog.values()], option=orjson.OPT_INDENT_2)
    )
    count = 0
    books_path = Path(books_path)
    with _open_books(books_path) as fh:
        chunk: list[bytes] = []
        for line in synthetic_lines(cfg, catalog):
            chunk.append(orjson.dumps(line_row(line)))
            if len(chunk) == 1024:
                fh.write(b"\n".join(chunk) + b"\n")
                count += len(chunk)
                chunk.clear()
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")
            count += len(chunk)
    return count


__all__ = [
    "SyntheticConfig",
    "latent_path",
    "line_row",
    "market_row",
    "synthetic_catalog",
    "synthetic_feed",
    "synthetic_lines",
    "write_dataset",
]
