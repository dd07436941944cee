"""Client-side rate limits and the retry policy, on an injected clock (no real waiting)."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import pytest
from polymarket.errors import RateLimitError, RequestRejectedError, TransportError

from engine.venues.polymarket.ratelimit import (
    CANCEL,
    ORDER,
    RateLimited,
    RateLimiter,
    SlidingWindow,
    TokenBucket,
)
from engine.venues.polymarket.retry import (
    Absent,
    ErrorKind,
    Outcome,
    Resolution,
    Retrier,
    RetryPolicy,
    classify,
    resolve_post,
)


class FakeTimer:
    """Virtual time: `sleep` advances it at once (and yields to the loop)."""

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall - start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


# --- buckets and windows ------------------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate_and_never_admits_more_than_its_burst():
    b = TokenBucket(rate=40, burst=60, now=0.0)
    assert b.wait_s(60, 0.0) == 0
    b.take(60, 0.0)
    assert b.wait_s(1, 0.0) == pytest.approx(1 / 40)
    assert b.wait_s(20, 0.25) == pytest.approx(0.25)  # 10 tokens back after 0.25 s, 10 more needed
    assert b.wait_s(61, 100.0) == math.inf
    b.take(5, 100.0)  # charges may go negative (cancels counted after the fact)
    b.take(100, 100.0)
    assert b.tokens == pytest.approx(-45)


def test_sliding_window_counts_exactly_the_last_window():
    w = SlidingWindow(limit=3, window_s=10.0)
    for t in (0.0, 1.0, 2.0):
        assert w.wait_s(1, t) == 0
        w.take(1, t)
    assert w.wait_s(1, 2.0) == pytest.approx(8.0)  # the request at t=0 leaves the window at t=10
    assert w.wait_s(2, 2.0) == pytest.approx(9.0)
    assert w.wait_s(1, 10.0) == 0
    assert w.wait_s(4, 10.0) == math.inf


def test_order_bucket_holds_then_refuses_beyond_the_configured_rate():
    async def go() -> None:
        timer = FakeTimer()
        limiter = RateLimiter(tier="standard", timer=timer, max_wait_s=0.5)
        for _ in range(60):  # the Standard burst goes out at once
            assert await limiter.acquire("POST", "/order") == 0
        assert not limiter.try_acquire("POST", "/order")
        waited = await limiter.acquire("POST", "/order")  # held 1/40 s for one token
        assert waited == pytest.approx(0.025) and timer.sleeps == [0.025]
        with pytest.raises(RateLimited, match=r"would wait 0\.38 s .* \(at most 0\.1 s allowed\)"):
            await limiter.acquire("POST", "/orders", 15, max_wait_s=0.1)
        with pytest.raises(RateLimited, match="more than the limit admits at once"):
            await limiter.acquire("POST", "/orders", 61)  # a batch above the burst can never pass
        # cancels have their own bucket
        assert await limiter.acquire("DELETE", "/order") == 0

    run(go())


def test_route_window_limits_cancel_all_to_its_10s_allowance():
    async def go() -> None:
        timer = FakeTimer()
        limiter = RateLimiter(timer=timer, max_wait_s=60)
        bucket = limiter.buckets[CANCEL]
        bucket.burst = bucket.tokens = 1e9  # isolate the route window
        for _ in range(250):
            await limiter.acquire("DELETE", "/cancel-all")
        started = timer.now
        await limiter.acquire("DELETE", "/cancel-all")
        assert timer.now - started == pytest.approx(10.0)

    run(go())


def test_headers_update_buckets_and_tier():
    timer = FakeTimer()
    limiter = RateLimiter(timer=timer)
    limiter.on_headers(ORDER, remaining=12, reset=timer.time() + 3, tier="standard")
    assert limiter.buckets[ORDER].tokens == 12
    limiter.on_headers(ORDER, remaining=0, reset=timer.time() + 3)
    assert limiter.wait_s("POST", "/order") == pytest.approx(3.0)  # paused until the reset
    limiter.on_headers(None, tier="Gold", warning=True)
    assert limiter.tier.name == "gold" and limiter.buckets[CANCEL].burst == 1200
    assert limiter.warnings == 1
    limiter.on_headers(CANCEL, remaining=-30)  # cancel balances may be negative on some tiers
    assert limiter.buckets[CANCEL].tokens == -30
    assert limiter.wait_s("DELETE", "/order") == pytest.approx(31 / 800)


def test_retry_after_pauses_the_route_and_its_bucket():
    timer = FakeTimer()
    limiter = RateLimiter(timer=timer)
    limiter.on_retry_after("POST", "/order", 2.0)
    assert limiter.wait_s("POST", "/order") == pytest.approx(2.0)
    assert limiter.wait_s("POST", "/orders") == pytest.approx(2.0)  # same signer bucket
    assert limiter.wait_s("GET", "/data/orders") == 0
    timer.now += 2.0
    assert limiter.wait_s("POST", "/order") == 0


def test_unknown_tier_is_refused():
    with pytest.raises(ValueError, match="accepted: standard, copper"):
        RateLimiter(tier="wood")


# --- retry policy -------------------------------------------------------------------------------------


def rejected(status: int, message: str = "x", **kw: Any) -> RequestRejectedError:
    return RequestRejectedError(message, status=status, **kw)


def test_errors_are_classified():
    assert classify(rejected(425, restriction="restarting")) is ErrorKind.RESTARTING
    assert classify(RateLimitError("slow down", retry_after=2)) is ErrorKind.RATE_LIMITED
    assert classify(rejected(500, "Internal server error")) is ErrorKind.SERVER
    assert classify(rejected(502)) is ErrorKind.SERVER
    assert classify(rejected(503, "Trading is currently disabled. Check polymarket.com for updates")) is (
        ErrorKind.REJECTED
    )
    assert classify(rejected(503, "post-only mode", restriction="post_only")) is ErrorKind.REJECTED
    assert classify(rejected(400, "invalid expiration")) is ErrorKind.REJECTED
    assert classify(TransportError("reset")) is ErrorKind.NO_RESPONSE
    assert classify(TimeoutError()) is ErrorKind.NO_RESPONSE


def retrier(timer: FakeTimer, **policy: Any) -> Retrier:
    return Retrier(RetryPolicy(**policy), timer=timer, rng=random.Random(7))


def test_server_errors_back_off_jittered_exponentially_and_are_bounded():
    async def go() -> None:
        timer = FakeTimer()
        r = retrier(timer, attempts=4, backoff_initial_s=0.5, backoff_max_s=1.5)
        calls = 0

        async def fail() -> None:
            nonlocal calls
            calls += 1
            raise rejected(500, "Internal server error")

        with pytest.raises(RequestRejectedError):
            await r.call(fail, method="GET", path="/data/orders")
        assert calls == 4
        d1, d2, d3 = timer.sleeps
        assert 0.25 <= d1 <= 0.5 and 0.5 <= d2 <= 1.0 and 0.75 <= d3 <= 1.5

    run(go())


def test_validation_errors_are_never_retried():
    async def go() -> None:
        timer = FakeTimer()
        calls = 0

        async def invalid() -> None:
            nonlocal calls
            calls += 1
            raise rejected(400, "Invalid orderID")

        with pytest.raises(RequestRejectedError, match="Invalid orderID"):
            await retrier(timer).call(invalid, method="DELETE", path="/order")
        assert calls == 1 and timer.sleeps == []

    run(go())


def test_rate_limited_calls_wait_retry_after_and_pause_the_limiter():
    async def go() -> None:
        timer = FakeTimer()
        limiter = RateLimiter(timer=timer)
        r = Retrier(RetryPolicy(), timer=timer, rng=random.Random(1), limiter=limiter)
        answers = [RateLimitError("429", retry_after=3.0), "ok"]

        async def call() -> str:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        assert await r.call(call, method="DELETE", path="/order") == "ok"
        assert timer.sleeps == [3.0]
        assert limiter.buckets[CANCEL].paused_until == pytest.approx(timer.now)

    run(go())


def test_restart_waits_for_ok_then_retries_until_the_deadline():
    async def go() -> None:
        timer = FakeTimer()
        probes: list[float] = []

        async def health() -> bool:
            probes.append(timer.now)
            return len(probes) >= 3

        r = Retrier(
            RetryPolicy(backoff_initial_s=1, backoff_max_s=1, restart_deadline_s=30),
            timer=timer,
            rng=random.Random(3),
            health=health,
        )
        answers: list[Any] = [rejected(425, restriction="restarting"), "placed"]

        async def call() -> str:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        assert await r.call(call, method="DELETE", path="/cancel-all") == "placed"
        assert len(probes) == 3  # /ok probed until it answered

        always: list[Any] = []

        async def restarting() -> None:
            always.append(timer.now)
            raise rejected(425, restriction="restarting")

        started = timer.now
        with pytest.raises(RequestRejectedError):
            await r.call(restarting, method="DELETE", path="/cancel-all")
        assert timer.now - started <= 30

    run(go())


def test_resolution_waits_for_the_settle_window_before_declaring_not_placed():
    async def go() -> None:
        timer = FakeTimer()
        policy = RetryPolicy(unknown_poll_s=0.5, unknown_deadline_s=20)
        lookups: list[float] = []

        async def lookup(order_id: str) -> Any:
            lookups.append(timer.now)
            raise Absent(order_id)

        async def no_trades(order_id: str) -> bool:
            return False

        sent = timer.now
        res = await resolve_post(
            "0xabc",
            inflight=None,
            sent_at=sent,
            ended_at=sent,
            settle_s=2.0,
            lookup=lookup,
            search_trades=no_trades,
            interpret=lambda r: None,
            policy=policy,
            timer=timer,
        )
        assert res.outcome is Outcome.NOT_PLACED
        assert timer.now - sent >= 2.0 and len(lookups) == 5

        # found on the third look: placed
        seen = 0

        async def appears(order_id: str) -> Any:
            nonlocal seen
            seen += 1
            if seen < 3:
                raise Absent(order_id)
            return {"id": order_id}

        res = await resolve_post(
            "0xabc",
            inflight=None,
            sent_at=timer.now,
            ended_at=timer.now,
            settle_s=10.0,
            lookup=appears,
            search_trades=None,
            interpret=lambda r: None,
            policy=policy,
            timer=timer,
        )
        assert res == Resolution(Outcome.PLACED, order={"id": "0xabc"})

        # lookups keep failing: still unknown at the deadline, never "not placed"
        async def down(order_id: str) -> Any:
            raise TransportError("connection refused")

        started = timer.now
        res = await resolve_post(
            "0xabc",
            inflight=None,
            sent_at=started,
            ended_at=started,
            settle_s=0.0,
            lookup=down,
            search_trades=no_trades,
            interpret=lambda r: None,
            policy=policy,
            timer=timer,
        )
        assert res.outcome is Outcome.UNKNOWN and timer.now - started >= 20

    run(go())


def test_resolution_uses_a_late_answer_to_the_post():
    async def go() -> None:
        timer = FakeTimer()
        loop = asyncio.get_running_loop()
        inflight: asyncio.Future[Any] = loop.create_future()

        async def lookup(order_id: str) -> Any:
            if not inflight.done():
                inflight.set_result("late answer")
            raise Absent(order_id)

        res = await resolve_post(
            "0xabc",
            inflight=inflight,
            sent_at=timer.now,
            ended_at=None,
            settle_s=5.0,
            lookup=lookup,
            search_trades=None,
            interpret=lambda r: Resolution(Outcome.REJECTED, reason=r),
            policy=RetryPolicy(unknown_poll_s=0.1),
            timer=timer,
        )
        assert res == Resolution(Outcome.REJECTED, reason="late answer")

    run(go())
