"""Retry policy for the Polymarket CLOB by error class, and the resolution of order posts whose outcome
is unknown.

Error classes (`classify`):

* RESTARTING - 425: the matching engine is restarting (weekly, announced). Back off and probe `/ok`
  until it answers and the request goes through, or `restart_deadline_s` passes. After a restart the
  exchange runs ~2 min in post-only mode; those 503s are REJECTED (the caller decides).
* RATE_LIMITED - 429: wait `Retry-After` (the rate limiter is told, so nothing else goes out early).
* SERVER - other 5xx: jittered exponential backoff, at most `attempts` tries.
* NO_RESPONSE - timeouts, resets, refused connections: like SERVER for idempotent calls.
* REJECTED - 4xx and the trading-restriction 503s (disabled, cancel-only, post-only mode): final, never
  retried; the exchange's message travels verbatim.

`Retrier.call` applies this to idempotent calls (reads, cancels). Order posts are different: a post that
timed out, lost its connection or got a 5xx may have been accepted, so it is never simply sent again.
Its orderID (the EIP-712 hash of the signed order) is known before sending, so `resolve_post` asks the
exchange about that id until the outcome is known: found means placed; absent long enough after the
request ended means not placed. Only then may the *same signed order* be sent again, which cannot create
a second order: the exchange refuses a repeated hash as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from polymarket.errors import RateLimitError, RequestRejectedError, TransportError

from engine.logs import log_event
from engine.venues.polymarket.market_ws import Backoff
from engine.venues.polymarket.ratelimit import AsyncioTimer, RateLimiter, Timer

LOG = logging.getLogger("bigearn.venues.polymarket.retry")
T = TypeVar("T")


class ErrorKind(StrEnum):
    RESTARTING = "restarting"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    NO_RESPONSE = "no_response"
    REJECTED = "rejected"


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, RateLimitError):
        return ErrorKind.RATE_LIMITED
    if isinstance(exc, RequestRejectedError):
        status = exc.status
        if status == 425 or exc.restriction == "restarting":
            return ErrorKind.RESTARTING
        if status == 429:
            return ErrorKind.RATE_LIMITED
        if status >= 500 and exc.restriction is None and not _is_trading_halt(str(exc)):
            return ErrorKind.SERVER
        return ErrorKind.REJECTED
    if isinstance(exc, TransportError | TimeoutError | ConnectionError | OSError):
        return ErrorKind.NO_RESPONSE
    return ErrorKind.REJECTED


def _is_trading_halt(message: str) -> bool:
    return message.startswith("Trading is currently")


def retry_after_s(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def error_text(exc: BaseException) -> str:
    """The exchange's message verbatim for refusals; the exception type and text otherwise."""
    if isinstance(exc, RequestRejectedError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries of an idempotent call on SERVER / NO_RESPONSE (first try included)
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    restart_deadline_s: float = 180.0  # 425: give up after this long
    rate_limit_max_wait_s: float = 30.0  # 429: give up when Retry-After asks for more in total
    request_timeout_s: float = 5.0  # reads and cancels: the whole call
    post_soft_timeout_s: float = 2.0  # an order post not answered by then is UNKNOWN (resolution starts)
    post_hard_timeout_s: float = 10.0  # ...and is abandoned (connection closed) after this
    unknown_settle_s: float = 2.0  # absent this long after the request ended => not placed
    unknown_poll_s: float = 0.25  # between lookups of an unknown order
    unknown_deadline_s: float = 60.0  # stop resolving (the order stays UNKNOWN) after this
    resend_after_unknown: int = 1  # times a post found not placed may be sent again (same signed order)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if not 0 < self.post_soft_timeout_s <= self.post_hard_timeout_s:
            raise ValueError("post timeouts must satisfy 0 < post_soft_timeout_s <= post_hard_timeout_s")


class Retrier:
    """Retries idempotent calls by error class. `health` probes the exchange (GET /ok) while it restarts;
    `limiter` is told about 429s; `on_retry(kind, attempt, delay_s, error)` observes every retry."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        timer: Timer | None = None,
        rng: random.Random | None = None,
        limiter: RateLimiter | None = None,
        health: Callable[[], Awaitable[bool]] | None = None,
        on_retry: Callable[[ErrorKind, int, float, BaseException], None] | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.timer: Timer = timer or AsyncioTimer()
        self.rng = rng or random.Random()
        self.limiter = limiter
        self.health = health
        self.on_retry = on_retry

    def backoff(self) -> Backoff:
        p = self.policy
        return Backoff(p.backoff_initial_s, p.backoff_max_s, random.Random(self.rng.random()))

    async def call(self, fn: Callable[[], Awaitable[T]], *, method: str, path: str) -> T:
        """Run `fn` (one request) until it succeeds or fails for good; raise the last error then."""
        p = self.policy
        timer = self.timer
        backoff = self.backoff()
        started = timer.monotonic()
        failures = 0
        rate_waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.wait_for(fn(), p.request_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                kind = classify(exc)
                delay = await self.delay_for(kind, exc, method=method, path=path, backoff=backoff)
                if kind is ErrorKind.REJECTED or delay is None:
                    raise
                if kind is ErrorKind.RATE_LIMITED:
                    rate_waited += delay
                    if rate_waited > p.rate_limit_max_wait_s:
                        raise
                elif kind is ErrorKind.RESTARTING:
                    if timer.monotonic() - started + delay > p.restart_deadline_s:
                        raise
                else:
                    failures += 1
                    if failures >= p.attempts:
                        raise
                self._notify(kind, attempt, delay, exc, method, path)
                await timer.sleep(delay)
                if kind is ErrorKind.RESTARTING:
                    await self.wait_until_healthy(started)

    async def delay_for(
        self, kind: ErrorKind, exc: BaseException, *, method: str, path: str, backoff: Backoff
    ) -> float | None:
        """How long to wait before trying again after `exc`; None if it must not be retried."""
        if kind is ErrorKind.REJECTED:
            return None
        if kind is ErrorKind.RATE_LIMITED:
            after = retry_after_s(exc)
            delay = after if after is not None else backoff.next_delay()
            if self.limiter is not None:
                self.limiter.on_retry_after(method, path, delay)
            return delay
        return backoff.next_delay()

    async def wait_until_healthy(self, started: float) -> None:
        """While the engine restarts: probe /ok with backoff until it answers or the deadline passes."""
        if self.health is None:
            return
        backoff = self.backoff()
        while self.timer.monotonic() - started < self.policy.restart_deadline_s:
            try:
                if await asyncio.wait_for(self.health(), self.policy.request_timeout_s):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - an unreachable or failing /ok just means "not back yet"
                log_event(LOG, "health_probe_failed", logging.DEBUG)
            await self.timer.sleep(backoff.next_delay())

    def _notify(
        self, kind: ErrorKind, attempt: int, delay: float, exc: BaseException, method: str, path: str
    ) -> None:
        log_event(
            LOG,
            "clob_retry",
            logging.WARNING,
            kind=kind.value,
            attempt=attempt,
            delay_s=round(delay, 3),
            route=f"{method} {path}",
            error=error_text(exc),
        )
        if self.on_retry is not None:
            self.on_retry(kind, attempt, delay, exc)


# --- unknown order posts ---------------------------------------------------------------------------


class Outcome(StrEnum):
    PLACED = "placed"  # the exchange has the order (live, matched, cancelled... it exists)
    REJECTED = "rejected"  # the exchange refused it (final, with its message)
    NOT_PLACED = "not_placed"  # definitely not there: safe to send the same signed order again
    UNKNOWN = "unknown"  # still unknown at the deadline: the order stays UNKNOWN


@dataclass(frozen=True, slots=True)
class Resolution:
    outcome: Outcome
    response: Any = None  # the post's own response, when it arrived late
    order: Any = None  # what a lookup found
    reason: str = ""


class Absent(Exception):
    """A lookup's answer that the exchange has no order with that id."""


async def resolve_post(
    order_id: str,
    *,
    inflight: asyncio.Future[Any] | None,
    sent_at: float,
    ended_at: float | None,
    settle_s: float,
    lookup: Callable[[str], Awaitable[Any]],
    search_trades: Callable[[str], Awaitable[Any]] | None,
    interpret: Callable[[Any], Resolution | None],
    policy: RetryPolicy,
    timer: Timer,
) -> Resolution:
    """Find out whether the post of `order_id` was placed.

    `inflight` is the post still running (whoever started it abandons it at its hard timeout); its late
    answer is used when it comes. `lookup(order_id)` returns the order or raises `Absent` (other errors
    mean "could not ask"). `search_trades(order_id)` returns what the account's trades show of the order
    (falsy if they never name it; a fully filled order may no longer be listed). `interpret(response)` maps a late response to a resolution, or None when it
    proves nothing (a 5xx). Not placed needs the request to have ended and the order to stay absent for
    `settle_s` after that: a request may still be processed just after its connection dropped (0 when the
    server answered, so it is done with the request)."""
    deadline = sent_at + policy.unknown_deadline_s
    while True:
        now = timer.monotonic()
        if inflight is not None and inflight.done():
            ended_at = now
            result: Any
            try:
                result = inflight.result()
            except asyncio.CancelledError:
                result = None
            except Exception as exc:
                result = exc
            inflight = None
            if result is not None:
                known = interpret(result)
                if known is not None:
                    return known
        try:
            order = await asyncio.wait_for(lookup(order_id), policy.request_timeout_s)
            return Resolution(Outcome.PLACED, order=order)
        except Absent:
            absent = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            absent = False
            log_event(LOG, "order_lookup_failed", logging.WARNING, order=order_id, error=error_text(exc))
        now = timer.monotonic()
        if absent and inflight is None and ended_at is not None and now - ended_at >= settle_s:
            traded: Any = False
            if search_trades is not None:
                try:
                    traded = await asyncio.wait_for(search_trades(order_id), policy.request_timeout_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    traded = None  # could not ask: look again after the poll interval
                    log_event(
                        LOG, "trade_search_failed", logging.WARNING, order=order_id, error=error_text(exc)
                    )
            if traded:
                return Resolution(Outcome.PLACED, order=traded, reason="found in trades")
            if traded is not None:
                return Resolution(Outcome.NOT_PLACED, reason="absent after the request ended")
        if now >= deadline:
            return Resolution(Outcome.UNKNOWN, reason="outcome still unknown at the deadline")
        await timer.sleep(policy.unknown_poll_s)


__all__ = [
    "Absent",
    "ErrorKind",
    "Outcome",
    "Resolution",
    "RetryPolicy",
    "Retrier",
    "classify",
    "error_text",
    "resolve_post",
    "retry_after_s",
]
