"""Client-side rate limiting for the Polymarket CLOB, so the exchange never has to refuse us.

Two kinds of limit apply (protocol notes section 10):

* Per-signer token buckets (the trading rate limiter, warning mode since 2026-07-24): an *order* bucket
  (POST /order costs 1, POST /orders costs one per order, admitted all or nothing) and a *cancel* bucket
  (DELETE /order 1, DELETE /orders one per id, /cancel-all and /cancel-market-orders 1 plus the number
  cancelled, which can drive the balance negative). Rates and bursts depend on the account's tier.
* Cloudflare per-route windows of 10 s (and 10 min for the trading routes), per IP. They are kept here as
  sliding windows over the routes this client uses, plus the CLOB-wide general window.

`RateLimiter.acquire(route, cost)` holds the caller until every limit admits the request, or raises
`RateLimited` at once when the wait would exceed `max_wait_s` (or can never end: a batch costing more
than the burst). The exchange's view wins over ours: `on_headers` adopts `Poly-RateLimit-Remaining`,
`-Reset` and `-Tier` from responses, and `on_retry_after` pauses a bucket after a 429.

Time comes from an injectable `Timer` (monotonic seconds, wall seconds, async sleep), so tests run
without waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol


class Timer(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class AsyncioTimer:
    """Real time: `time.monotonic`, `time.time` and `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class RateLimited(Exception):
    """Refused client-side: the request would have to wait longer than allowed (or forever)."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(message)
        self.wait_s = wait_s


# --- tiers ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    order_rate: float  # tokens per second
    order_burst: float
    cancel_rate: float
    cancel_burst: float


# By 30-day maker volume, refreshed every 3 h (protocol notes section 10).
TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier("standard", 40, 60, 80, 120),
        Tier("copper", 60, 90, 120, 180),
        Tier("bronze", 80, 120, 160, 240),
        Tier("silver", 200, 300, 400, 600),
        Tier("gold", 400, 600, 800, 1200),
        Tier("platinum", 450, 675, 900, 1350),
        Tier("diamond", 525, 787, 1050, 1575),
        Tier("elite", 600, 900, 1200, 1800),
    )
}


# --- primitives -------------------------------------------------------------------------------------


_EPSILON = 1e-9


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second. A charge may take the balance below zero (cancel
    buckets do); admission needs the balance to stay >= 0 after the cost."""

    __slots__ = ("burst", "paused_until", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_s(self, cost: float, now: float) -> float:
        """Seconds until `cost` can be admitted (0 = now; inf = never, the cost exceeds the burst)."""
        if cost > self.burst:
            return math.inf
        self._refill(now)
        wait = max(0.0, self.paused_until - now)
        missing = cost - self.tokens
        if missing > _EPSILON:  # refills are floats: a token short by rounding noise is a whole token
            wait = max(wait, missing / self.rate)
        return wait

    def take(self, cost: float, now: float) -> None:
        self._refill(now)
        self.tokens -= cost

    def set_remaining(self, remaining: float, now: float) -> None:
        self._refill(now)
        self.tokens = min(float(remaining), self.burst)

    def retune(self, rate: float, burst: float, now: float) -> None:
        self._refill(now)
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = min(self.tokens, self.burst)

    def pause(self, until: float) -> None:
        self.paused_until = max(self.paused_until, until)


class SlidingWindow:
    """At most `limit` cost units in any `window_s` seconds (an exact log of admitted requests)."""

    __slots__ = ("limit", "log", "paused_until", "used", "window_s")

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.log: deque[tuple[float, float]] = deque()
        self.used = 0.0
        self.paused_until = 0.0

    def _expire(self, now: float) -> None:
        log = self.log
        cutoff = now - self.window_s
        while log and log[0][0] <= cutoff:
            self.used -= log.popleft()[1]

    def wait_s(self, cost: float, now: float) -> float:
        if cost > self.limit:
            return math.inf
        self._expire(now)
        wait = max(0.0, self.paused_until - now)
        excess = self.used + cost - self.limit
        if excess > 0:
            freed = 0.0
            for ts, c in self.log:
                freed += c
                if freed >= excess:
                    wait = max(wait, ts + self.window_s - now)
                    break
        return wait

    def take(self, cost: float, now: float) -> None:
        self._expire(now)
        self.log.append((now, cost))
        self.used += cost

    def pause(self, until: float) -> None:
        self.paused_until = max(self.paused_until, until)


# --- routes -----------------------------------------------------------------------------------------

ORDER = "order"
CANCEL = "cancel"

TEN_S = 10.0
TEN_MIN = 600.0

# (method, path) -> (signer bucket or None, [(limit, window_s), ...]); Cloudflare limits per 10 s, and
# the sustained 10-minute limits of the trading routes. GET /data/order shares the ledger's 900.
ROUTES: dict[tuple[str, str], tuple[str | None, tuple[tuple[int, float], ...]]] = {
    ("POST", "/order"): (ORDER, ((5000, TEN_S), (120_000, TEN_MIN))),
    ("POST", "/orders"): (ORDER, ((2000, TEN_S), (21_000, TEN_MIN))),
    ("DELETE", "/order"): (CANCEL, ((5000, TEN_S), (120_000, TEN_MIN))),
    ("DELETE", "/orders"): (CANCEL, ((2000, TEN_S), (15_000, TEN_MIN))),
    ("DELETE", "/cancel-all"): (CANCEL, ((250, TEN_S), (6000, TEN_MIN))),
    ("DELETE", "/cancel-market-orders"): (CANCEL, ((1500, TEN_S), (21_000, TEN_MIN))),
    ("GET", "/data/orders"): (None, ((500, TEN_S),)),
    ("GET", "/data/trades"): (None, ((500, TEN_S),)),
    ("GET", "/data/order"): (None, ((900, TEN_S),)),
    ("GET", "/balance-allowance"): (None, ((200, TEN_S),)),
    ("GET", "/auth/derive-api-key"): (None, ((100, TEN_S),)),
    ("POST", "/auth/api-key"): (None, ((100, TEN_S),)),
    ("GET", "/ok"): (None, ((100, TEN_S),)),
    ("POST", "/v1/heartbeats"): (None, ()),
}
CLOB_GENERAL = (9000, TEN_S)


class RateLimiter:
    """Per-signer buckets and per-route windows of one API key / signer. See the module docstring."""

    def __init__(
        self,
        *,
        tier: str = "standard",
        timer: Timer | None = None,
        max_wait_s: float = 5.0,
        routes: dict[tuple[str, str], tuple[str | None, tuple[tuple[int, float], ...]]] | None = None,
        general: tuple[int, float] | None = CLOB_GENERAL,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"rate-limit tier {tier!r}: accepted: {', '.join(TIERS)}")
        self.timer: Timer = timer or AsyncioTimer()
        self.max_wait_s = max_wait_s
        self.tier = TIERS[tier]
        now = self.timer.monotonic()
        t = self.tier
        self.buckets = {
            ORDER: TokenBucket(t.order_rate, t.order_burst, now),
            CANCEL: TokenBucket(t.cancel_rate, t.cancel_burst, now),
        }
        self.routes = dict(ROUTES if routes is None else routes)
        self.windows: dict[tuple[str, str], list[SlidingWindow]] = {
            key: [SlidingWindow(limit, window) for limit, window in spec]
            for key, (_, spec) in self.routes.items()
        }
        self.general = SlidingWindow(*general) if general else None
        self.warnings = 0  # responses that said we would have been refused under enforcement
        self._lock = asyncio.Lock()

    # --- admission ------------------------------------------------------------------------------

    def bucket_of(self, method: str, path: str) -> str | None:
        spec = self.routes.get((method.upper(), path))
        return spec[0] if spec else None

    def _limits(self, method: str, path: str) -> list[TokenBucket | SlidingWindow]:
        key = (method.upper(), path)
        limits: list[TokenBucket | SlidingWindow] = list(self.windows.get(key, ()))
        if self.general is not None:
            limits.append(self.general)
        bucket = self.bucket_of(method, path)
        if bucket is not None:
            limits.append(self.buckets[bucket])
        return limits

    def wait_s(self, method: str, path: str, cost: float = 1.0) -> float:
        """Seconds this request would have to wait now (0 = may go; inf = never)."""
        now = self.timer.monotonic()
        return max((lim.wait_s(cost, now) for lim in self._limits(method, path)), default=0.0)

    def try_acquire(self, method: str, path: str, cost: float = 1.0) -> bool:
        """Admit and charge the request now if every limit allows it; never waits."""
        now = self.timer.monotonic()
        limits = self._limits(method, path)
        if any(lim.wait_s(cost, now) > 0 for lim in limits):
            return False
        for lim in limits:
            lim.take(cost, now)
        return True

    async def acquire(
        self, method: str, path: str, cost: float = 1.0, *, max_wait_s: float | None = None
    ) -> float:
        """Wait until the request is admitted, charge it, and return the seconds waited. Raises
        `RateLimited` without waiting when the wait would exceed `max_wait_s` (default: the limiter's)."""
        limit = self.max_wait_s if max_wait_s is None else max_wait_s
        waited = 0.0
        # One waiter at a time keeps admission first come, first served.
        async with self._lock:
            while True:
                wait = self.wait_s(method, path, cost)
                if wait <= 0:
                    now = self.timer.monotonic()
                    for lim in self._limits(method, path):
                        lim.take(cost, now)
                    return waited
                if wait == math.inf:
                    raise RateLimited(
                        f"{method.upper()} {path} costs {cost:g} tokens, more than the limit admits at once",
                        wait,
                    )
                if waited + wait > limit:
                    raise RateLimited(
                        f"{method.upper()} {path} would wait {waited + wait:.2f} s for rate limits "
                        f"(at most {limit:g} s allowed)",
                        waited + wait,
                    )
                # At least a microsecond: a wait below the clock's float resolution would not move it.
                wait = max(wait, 1e-6)
                await self.timer.sleep(wait)
                waited += wait

    def charge(self, bucket: str, cost: float) -> None:
        """Charge a cost learned after the fact (cancels that cancelled many orders); may go negative."""
        self.buckets[bucket].take(cost, self.timer.monotonic())

    # --- feedback from the exchange -------------------------------------------------------------------

    def on_headers(
        self,
        bucket: str | None,
        *,
        remaining: float | None = None,
        reset: float | None = None,
        tier: str | None = None,
        warning: bool = False,
    ) -> None:
        """Adopt `Poly-RateLimit-*` headers of a response from a route charged to `bucket`."""
        now = self.timer.monotonic()
        if tier:
            self.set_tier(tier.lower())
        if warning:
            self.warnings += 1
        if bucket is None or bucket not in self.buckets:
            return
        b = self.buckets[bucket]
        if remaining is not None:
            b.set_remaining(remaining, now)
            if remaining <= 0 and reset is not None:
                b.pause(now + max(0.0, reset - self.timer.time()))

    def on_retry_after(self, method: str, path: str, seconds: float) -> None:
        """A 429 with `Retry-After`: nothing on that route (and its signer bucket) goes out before then."""
        until = self.timer.monotonic() + max(0.0, seconds)
        for lim in self._limits(method, path):
            if lim is not self.general:
                lim.pause(until)

    def set_tier(self, name: str) -> None:
        tier = TIERS.get(name)
        if tier is None or tier == self.tier:
            return
        self.tier = tier
        now = self.timer.monotonic()
        self.buckets[ORDER].retune(tier.order_rate, tier.order_burst, now)
        self.buckets[CANCEL].retune(tier.cancel_rate, tier.cancel_burst, now)

    def state(self) -> dict[str, float | str]:
        now = self.timer.monotonic()
        out: dict[str, float | str] = {"tier": self.tier.name, "warnings": self.warnings}
        for name, b in self.buckets.items():
            b._refill(now)
            out[f"{name}_tokens"] = round(b.tokens, 3)
        return out


__all__ = [
    "CANCEL",
    "ORDER",
    "ROUTES",
    "TIERS",
    "AsyncioTimer",
    "RateLimited",
    "RateLimiter",
    "SlidingWindow",
    "Tier",
    "Timer",
    "TokenBucket",
]
