"""Fault injection for the local exchange. One mutable `FaultConfig` per exchange: the server and the core
read it at every decision, so a test (or the CLI) can change it while the exchange runs. Every random
decision comes from one generator seeded with `seed`, so a run with the same traffic is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

TRADING_MODES = ("normal", "disabled", "cancel_only", "post_only")

# Routes that trade or cancel: where restarts (425) and trading rate limits apply.
TRADING_ROUTES = ("/order", "/orders", "/cancel-all", "/cancel-market-orders")


@dataclass
class FaultConfig:
    seed: int = 0
    # --- WebSockets (both channels) ---
    ws_drop_rate: float = 0.0  # each outgoing message is lost with this probability
    ws_duplicate_rate: float = 0.0  # ...sent twice
    ws_reorder_rate: float = 0.0  # ...held back and sent after the next one
    ws_delay_ms: int = 0  # every message waits this long (plus jitter) before it is sent
    ws_delay_jitter_ms: int = 0
    ws_close_after: int | None = None  # the server closes each socket after sending this many messages
    ws_close_rate: float = 0.0  # ...or at each message with this probability
    ws_no_pong: bool = False  # stop answering PING
    # --- REST ---
    http_error_rate: float = 0.0  # answer chosen routes with `http_error_status` at this rate
    http_error_status: int = 500  # 425 (engine restart), 429 (rate limited), 500, 502, 503
    http_error_routes: tuple[str, ...] = TRADING_ROUTES  # path prefixes; () = every route
    retry_after_s: int = 1  # Retry-After on 429 / 503
    http_delay_ms: int = 0  # every response waits this long
    # Trading routes answer this late AFTER the request was handled: the order is placed, but a client
    # that gives up first never hears so (the "POST timed out, outcome unknown" case).
    http_delay_after_ms: int = 0
    restarting: bool = False  # matching engine restart: 425 on trading routes while set
    # --- trading state ---
    trading_mode: str = "normal"  # normal | disabled | cancel_only | post_only (503 bodies)
    post_only_retry_after_s: int = 79
    enforce_rate_limits: bool = False  # per-signer buckets answer 429 instead of the warning header
    # --- settlement ---
    trade_retry_rate: float = 0.0  # a trade goes MATCHED -> RETRYING -> MINED -> CONFIRMED
    trade_fail_rate: float = 0.0  # a trade goes MATCHED -> RETRYING -> FAILED (balances reversed)
    rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.trading_mode not in TRADING_MODES:
            raise ValueError(f"trading_mode {self.trading_mode!r}: accepted: {', '.join(TRADING_MODES)}")
        self.rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def chance(self, rate: float) -> bool:
        """One seeded draw; a zero rate draws nothing, so enabling one fault does not shift the others."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        return self.rng.random() < rate

    def http_fault_applies(self, path: str) -> bool:
        if self.http_error_rate <= 0:
            return False
        routes = self.http_error_routes
        if routes and not any(path == r or path.startswith(r + "/") for r in routes):
            return False
        return self.chance(self.http_error_rate)

    def ws_delay_s(self) -> float:
        if self.ws_delay_ms <= 0 and self.ws_delay_jitter_ms <= 0:
            return 0.0
        jitter = self.rng.randint(0, self.ws_delay_jitter_ms) if self.ws_delay_jitter_ms > 0 else 0
        return (self.ws_delay_ms + jitter) / 1000
