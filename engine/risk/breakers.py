"""Circuit breakers and the kill switch: pure logic on injected timestamps (ms), no clock of its own.

The engine feeds observations (`on_equity`, `on_position_closed`, `on_order_done`, `on_rejection`, `on_feed`,
`on_reconcile`, `check_kill_switch`) and asks `allows_orders` / `allows_new_risk` / `reduce_only` / `block`
before it proposes or sends. Every input and `evaluate(now)` return the events that happened since the last
call: a TRIP (with the value that tripped it, the threshold and the action), a COOLDOWN (the condition cleared,
the cooldown runs), a RESUME (automatic after the cooldown, or by a human), a RESUME_REFUSED.

Each breaker has a policy:
  pause  blocks new risk, then resumes by itself once its condition is clear and its cooldown has run;
  halt   blocks until a human resumes (the resume resets that breaker's baseline, e.g. the high-water mark);
  reduce-only   while tripped, orders that shrink a position may still go (exits); otherwise nothing goes;
  cancel all    tripping it cancels resting orders (all of them, or those of the markets named in the event).

States: OK; TRIPPED (blocking, condition present or awaiting a human); COOLDOWN (blocking, condition gone,
waiting for the cooldown to end).
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.domain import OrderRequest
from engine.snapshot import BreakerState
from engine.units import DAY_MS, WEEK_MS

_MONDAY_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; weeks start on Monday 00:00 UTC

DAILY_LOSS = "daily_loss"
WEEKLY_LOSS = "weekly_loss"
DRAWDOWN = "drawdown"
CONSECUTIVE_LOSSES = "consecutive_losses"
ROLLING_LOSS = "rolling_loss"
FILL_RATE = "fill_rate"
STALE_FEED = "stale_feed"
STALE_MARKET = "stale_market"
RECONCILE = "reconcile"
REJECTIONS = "rejections"
KILL_SWITCH = "kill_switch"

# Display and blocking priority: the first blocking breaker in this order is the one reported.
BREAKER_NAMES = (
    KILL_SWITCH,
    RECONCILE,
    DRAWDOWN,
    DAILY_LOSS,
    WEEKLY_LOSS,
    ROLLING_LOSS,
    CONSECUTIVE_LOSSES,
    FILL_RATE,
    REJECTIONS,
    STALE_FEED,
    STALE_MARKET,
)


class BreakerStatus(StrEnum):
    OK = "OK"
    TRIPPED = "TRIPPED"
    COOLDOWN = "COOLDOWN"


class BreakerAction(StrEnum):
    PAUSE = "pause"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    action: BreakerAction
    cooldown_ms: int = 0
    reduce_only: bool = True
    cancel_all: bool = False

    @property
    def label(self) -> str:
        if self.action is BreakerAction.PAUSE:
            parts = [f"pause {self.cooldown_ms // 1000}s" if self.cooldown_ms else "pause while present"]
        else:
            parts = ["halt until resumed"]
        parts.append("reduce-only" if self.reduce_only else "no orders")
        if self.cancel_all:
            parts.append("cancel all")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    max_daily_loss_pct: float = 0.05
    max_weekly_loss_pct: float = 0.10
    max_drawdown_pct: float = 0.15
    max_consecutive_losses: int = 5
    rolling_loss_window_ms: int = 300_000
    max_rolling_loss_usdc: Decimal = Decimal(50)
    min_fill_rate: float = 0.60
    fill_rate_window: int = 20  # the last N finished orders
    fill_rate_min_orders: int = 10  # no verdict on fewer
    stale_market_ms: int = 30_000
    stale_feed_ms: int = 30_000
    max_reconcile_mismatches: int = 0
    max_rejections: int = 5
    rejection_window_ms: int = 300_000
    cooldown_ms: int = 3_600_000
    rolling_loss_cooldown_ms: int = 900_000
    reduce_only_on_trip: bool = False  # loss and quality breakers let exits through while tripped
    policies: Mapping[str, BreakerPolicy] = field(default_factory=dict)  # overrides of default_policies()

    def policy(self, name: str) -> BreakerPolicy:
        return self.policies.get(name) or default_policies(self)[name]

    @classmethod
    def from_settings(cls, settings: Any) -> BreakerLimits:
        """From [breakers] and [execution]."""
        b, x = settings.breakers, settings.execution
        window_ms = int(b.rolling_loss_window_s * 1000)
        stale_ms = int(b.stale_feed_s * 1000)
        return cls(
            max_daily_loss_pct=b.max_daily_loss_pct,
            max_weekly_loss_pct=b.max_weekly_loss_pct,
            max_drawdown_pct=b.max_drawdown_pct,
            max_consecutive_losses=b.max_consecutive_losses,
            rolling_loss_window_ms=window_ms,
            max_rolling_loss_usdc=b.max_rolling_loss_usdc,
            min_fill_rate=x.min_fill_rate,
            fill_rate_window=b.fill_rate_window,
            fill_rate_min_orders=b.fill_rate_min_orders,
            stale_market_ms=stale_ms,
            stale_feed_ms=int(b.stale_feed_global_s * 1000),
            max_reconcile_mismatches=b.max_reconcile_mismatches,
            max_rejections=b.max_rejections,
            rejection_window_ms=window_ms,
            cooldown_ms=int(b.cooldown_s * 1000),
            rolling_loss_cooldown_ms=int(b.rolling_loss_cooldown_s * 1000),
            reduce_only_on_trip=b.reduce_only_on_trip,
        )


def default_policies(limits: BreakerLimits) -> dict[str, BreakerPolicy]:
    pause = BreakerAction.PAUSE
    halt = BreakerAction.HALT
    cool = limits.cooldown_ms
    exits = limits.reduce_only_on_trip
    return {
        # Loss and quality limits stop trading (the seeds' "halt trading"), exits too unless reduce-only on
        # trip is set; the day and week ones clear when the period rolls, the drawdown needs a human.
        DAILY_LOSS: BreakerPolicy(pause, cool, reduce_only=exits),
        WEEKLY_LOSS: BreakerPolicy(pause, cool, reduce_only=exits),
        DRAWDOWN: BreakerPolicy(halt, reduce_only=exits),
        CONSECUTIVE_LOSSES: BreakerPolicy(pause, cool, reduce_only=exits),
        ROLLING_LOSS: BreakerPolicy(pause, limits.rolling_loss_cooldown_ms, reduce_only=exits),
        FILL_RATE: BreakerPolicy(pause, cool, reduce_only=exits),
        REJECTIONS: BreakerPolicy(pause, cool, reduce_only=exits),
        # Without data nothing can be priced, exits included, and resting quotes are blind: pull them.
        STALE_FEED: BreakerPolicy(pause, 0, reduce_only=False, cancel_all=True),
        STALE_MARKET: BreakerPolicy(pause, 0, reduce_only=False, cancel_all=True),
        # Our books disagree with the venue's: positions are unknown, so nothing is sent until a human looks.
        RECONCILE: BreakerPolicy(halt, reduce_only=False),
        KILL_SWITCH: BreakerPolicy(halt, reduce_only=False, cancel_all=True),
    }


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    name: str
    kind: str  # TRIP | COOLDOWN | RESUME | RESUME_REFUSED
    state: BreakerStatus  # the breaker's state after the event
    value: float
    threshold: float
    action: str
    ts: int
    detail: str = ""
    reduce_only: bool = True
    cancel_all: bool = False
    markets: tuple[str, ...] = ()  # for per-market breakers: the markets concerned

    def halt_row(self) -> dict[str, Any]:
        """The columns of the store's `halts` table (a TRIP starts a halt; resumes close them)."""
        return {
            "kind": self.name,
            "reason": self.detail or self.name,
            "trigger_value": repr(self.value),
            "threshold": repr(self.threshold),
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class BreakerBlock:
    """Why an order may not go: the first blocking breaker, with the value that tripped it."""

    name: str
    value: float
    threshold: float
    detail: str
    reduce_only: bool

    @property
    def code(self) -> str:
        return f"BREAKER_{self.name.upper()}"


@dataclass(slots=True)
class _Breaker:
    name: str
    policy: BreakerPolicy
    threshold: float
    status: BreakerStatus = BreakerStatus.OK
    value: float = 0.0
    trip_ts: int = 0
    trip_value: float = 0.0
    detail: str = ""


class KillSwitch:
    """A file whose presence halts trading. Unreadable counts as present (fail closed)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def present(self) -> bool:
        try:
            return self.path.exists()
        except OSError:
            return True

    def reason(self) -> str:
        try:
            with self.path.open("rb") as fh:
                first = fh.read(200).decode("utf-8", "replace").strip().splitlines()
        except OSError:
            first = []
        text = first[0].strip() if first else ""
        return f"kill switch {self.path}" + (f": {text[:120]}" if text else "")


def _day(ts: int) -> int:
    return ts // DAY_MS


def _week(ts: int) -> int:
    return (ts - _MONDAY_MS) // WEEK_MS


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class Breakers:
    def __init__(
        self,
        limits: BreakerLimits | None = None,
        *,
        kill_switch: KillSwitch | None = None,
        reduce_only: bool = False,
        now: int = 0,
    ) -> None:
        self.limits = lim = limits or BreakerLimits()
        self.kill_switch = kill_switch
        self.reduce_only_mode = reduce_only  # the operator's setting: only orders that shrink positions
        thresholds = {
            DAILY_LOSS: lim.max_daily_loss_pct,
            WEEKLY_LOSS: lim.max_weekly_loss_pct,
            DRAWDOWN: lim.max_drawdown_pct,
            CONSECUTIVE_LOSSES: lim.max_consecutive_losses,
            ROLLING_LOSS: float(lim.max_rolling_loss_usdc),
            FILL_RATE: lim.min_fill_rate,
            REJECTIONS: lim.max_rejections,
            STALE_FEED: lim.stale_feed_ms,
            STALE_MARKET: lim.stale_market_ms,
            RECONCILE: lim.max_reconcile_mismatches,
            KILL_SWITCH: 1,
        }
        self._b = {n: _Breaker(n, lim.policy(n), float(thresholds[n])) for n in BREAKER_NAMES}
        self._pending: list[BreakerEvent] = []
        self._now = now
        self._equity: Decimal | None = None
        self._day_idx = _day(now)
        self._week_idx = _week(now)
        self._day_start: Decimal | None = None
        self._week_start: Decimal | None = None
        self._high_water: Decimal | None = None
        self._samples: deque[tuple[int, Decimal]] = deque()
        self._streak = 0
        self._orders: deque[bool] = deque(maxlen=lim.fill_rate_window)
        self._rejections: deque[int] = deque()
        self._mismatches = 0
        self._mismatch_detail = ""
        self._last_msg_ts: int | None = None
        self._market_seen: dict[str, int] = {}
        self._stale: frozenset[str] = frozenset()
        self._kill_present = False
        self._kill_detail = ""
        # The time of the last full pass of `_advance`, while no input has changed since: a pass at the same
        # time again would do nothing, and `block` asks for one per order and per market evaluated.
        self._fresh_at: int | None = None
        if kill_switch is not None:
            # A file already there at start trips before anything can be sent; the TRIP waits for evaluate().
            self._poll_kill_switch()
            self._advance(now)

    # --- inputs ----------------------------------------------------------------------------------
    def on_equity(self, equity: Decimal, ts: int) -> list[BreakerEvent]:
        """Portfolio equity (cash + positions at their marks), as often as it is known (each cycle)."""
        self._fresh_at = None
        self._roll(ts)
        self._equity = equity
        if self._day_start is None:
            self._day_start = equity
        if self._week_start is None:
            self._week_start = equity
        self._high_water = equity if self._high_water is None else max(self._high_water, equity)
        self._samples.append((ts, equity))
        return self.evaluate(ts)

    def on_position_closed(self, pnl: Decimal, ts: int) -> list[BreakerEvent]:
        """A position went flat with this net P&L; a loss (< 0) extends the streak, anything else ends it."""
        self._fresh_at = None
        self._streak = self._streak + 1 if pnl < 0 else 0
        return self.evaluate(ts)

    def on_order_done(self, filled: bool, ts: int) -> list[BreakerEvent]:
        """An order reached a terminal state; `filled` if any of it filled."""
        self._fresh_at = None
        self._orders.append(filled)
        return self.evaluate(ts)

    def on_rejection(self, ts: int) -> list[BreakerEvent]:
        self._fresh_at = None
        self._rejections.append(ts)
        return self.evaluate(ts)

    def on_feed(
        self, book_ages_ms: Mapping[str, int], global_age_ms: int | None, ts: int
    ) -> list[BreakerEvent]:
        """Per-market time since the feed last confirmed each book, and time since any message at all.
        The map replaces the previous one: markets no longer watched drop out."""
        self._fresh_at = None
        self._market_seen = {cid: ts - age for cid, age in book_ages_ms.items()}
        if global_age_ms is not None:
            self._last_msg_ts = ts - global_age_ms
        return self.evaluate(ts)

    def on_reconcile(self, mismatches: int, ts: int, detail: str = "") -> list[BreakerEvent]:
        """Result of a reconciliation with the venue: how many orders/positions/balances disagree."""
        self._fresh_at = None
        self._mismatches = mismatches
        self._mismatch_detail = detail
        return self.evaluate(ts)

    def check_kill_switch(self, now: int) -> list[BreakerEvent]:
        """Look for the kill-switch file; run at start and at least every second (see watch_kill_switch).

        Only the kill switch moves and only its events come back: the watcher runs on real time, and letting
        it advance the other breakers (or take their pending events) would make a simulated run depend on
        when the watcher happened to wake up."""
        self._poll_kill_switch()
        self._step(
            self._b[KILL_SWITCH],
            float(self._kill_present),
            self._kill_present,
            max(now, self._now),
            self._kill_detail,
        )
        mine = [e for e in self._pending if e.name == KILL_SWITCH]
        self._pending = [e for e in self._pending if e.name != KILL_SWITCH]
        return mine

    def _poll_kill_switch(self) -> None:
        self._fresh_at = None
        if self.kill_switch is not None:
            present = self.kill_switch.present()
            if present and not self._kill_present:
                self._kill_detail = self.kill_switch.reason()
            self._kill_present = present

    # --- transitions -----------------------------------------------------------------------------
    def evaluate(self, now: int) -> list[BreakerEvent]:
        self._advance(now)
        events, self._pending = self._pending, []
        return events

    def _roll(self, now: int) -> None:
        if _day(now) != self._day_idx:
            self._day_idx = _day(now)
            self._day_start = self._equity
        if _week(now) != self._week_idx:
            self._week_idx = _week(now)
            self._week_start = self._equity

    def _advance(self, now: int) -> None:
        now = max(now, self._now)
        if now == self._fresh_at:
            return  # nothing moved since the last pass at this time: every breaker is where it was left
        self._now = now
        self._roll(now)
        lim = self.limits
        b = self._b
        # Counting breakers start a fresh count once their cooldown has run, so they can resume.
        for name in (CONSECUTIVE_LOSSES, FILL_RATE):
            br = b[name]
            if br.status is not BreakerStatus.OK and now >= br.trip_ts + br.policy.cooldown_ms:
                if name == CONSECUTIVE_LOSSES:
                    self._streak = 0
                else:
                    self._orders.clear()
        cutoff = now - lim.rolling_loss_window_ms
        while self._samples and self._samples[0][0] <= cutoff:
            self._samples.popleft()
        cutoff = now - lim.rejection_window_ms
        while self._rejections and self._rejections[0] <= cutoff:
            self._rejections.popleft()

        eq = self._equity
        day_pct = self._loss_pct(self._day_start)
        week_pct = self._loss_pct(self._week_start)
        dd = self._loss_pct(self._high_water)
        self._step(
            b[DAILY_LOSS],
            float(day_pct),
            day_pct >= _dec(lim.max_daily_loss_pct),
            now,
            f"day loss {day_pct:.2%} of day-start equity {self._day_start}",
        )
        self._step(
            b[WEEKLY_LOSS],
            float(week_pct),
            week_pct >= _dec(lim.max_weekly_loss_pct),
            now,
            f"week loss {week_pct:.2%} of week-start equity {self._week_start}",
        )
        self._step(
            b[DRAWDOWN],
            float(dd),
            dd >= _dec(lim.max_drawdown_pct),
            now,
            f"drawdown {dd:.2%} from high-water {self._high_water}",
        )
        rolling = Decimal(0)
        if eq is not None:
            peak = max((e for _, e in self._samples), default=eq)
            rolling = max(Decimal(0), max(peak, eq) - eq)
        self._step(
            b[ROLLING_LOSS],
            float(rolling),
            rolling >= lim.max_rolling_loss_usdc,
            now,
            f"loss {rolling} USDC within {lim.rolling_loss_window_ms // 1000}s",
        )
        self._step(
            b[CONSECUTIVE_LOSSES],
            float(self._streak),
            self._streak >= lim.max_consecutive_losses,
            now,
            f"{self._streak} losing positions in a row",
        )
        n = len(self._orders)
        rate = sum(self._orders) / n if n else 1.0
        self._step(
            b[FILL_RATE],
            rate,
            n >= lim.fill_rate_min_orders and rate < lim.min_fill_rate,
            now,
            f"{sum(self._orders)} of the last {n} orders filled",
        )
        k = len(self._rejections)
        self._step(
            b[REJECTIONS],
            float(k),
            k >= lim.max_rejections,
            now,
            f"{k} venue rejections within {lim.rejection_window_ms // 1000}s",
        )
        feed_age = 0 if self._last_msg_ts is None else now - self._last_msg_ts
        self._step(
            b[STALE_FEED],
            float(feed_age),
            feed_age > lim.stale_feed_ms,
            now,
            f"no market data for {feed_age} ms",
        )
        ages = {cid: now - seen for cid, seen in self._market_seen.items()}
        stale = frozenset(cid for cid, age in ages.items() if age > lim.stale_market_ms)
        fresh_stale = tuple(sorted(stale - self._stale))
        self._stale = stale
        self._step(
            b[STALE_MARKET],
            float(max(ages.values(), default=0)),
            bool(stale),
            now,
            f"{len(stale)} stale books",
            markets=fresh_stale,
        )
        self._step(
            b[RECONCILE],
            float(self._mismatches),
            self._mismatches > lim.max_reconcile_mismatches,
            now,
            f"{self._mismatches} reconciliation mismatches {self._mismatch_detail}".rstrip(),
        )
        self._step(b[KILL_SWITCH], float(self._kill_present), self._kill_present, now, self._kill_detail)
        self._fresh_at = now

    def _loss_pct(self, base: Decimal | None) -> Decimal:
        if base is None or self._equity is None or base <= 0:
            return Decimal(0)
        return max(Decimal(0), (base - self._equity) / base)

    def _emit(self, br: _Breaker, kind: str, now: int, detail: str, markets: tuple[str, ...] = ()) -> None:
        value = br.trip_value if kind == "TRIP" else br.value
        self._pending.append(
            BreakerEvent(
                name=br.name,
                kind=kind,
                state=br.status,
                value=value,
                threshold=br.threshold,
                action=br.policy.label,
                ts=now,
                detail=detail,
                reduce_only=br.policy.reduce_only,
                cancel_all=br.policy.cancel_all,
                markets=markets,
            )
        )

    def _trip(self, br: _Breaker, now: int, detail: str, markets: tuple[str, ...]) -> None:
        br.status = BreakerStatus.TRIPPED
        br.trip_ts = now
        br.trip_value = br.value
        br.detail = detail
        self._emit(br, "TRIP", now, detail, markets)

    def _step(
        self, br: _Breaker, value: float, cond: bool, now: int, detail: str, markets: tuple[str, ...] = ()
    ) -> None:
        br.value = value
        if br.status is BreakerStatus.OK:
            if cond:
                self._trip(br, now, detail, markets)
            return
        if cond and markets:
            # More markets went stale while tripped: their orders need cancelling too.
            self._trip(br, now, detail, markets)
            return
        if br.policy.action is BreakerAction.HALT:
            return
        if cond:
            if br.status is BreakerStatus.COOLDOWN:
                self._trip(br, now, detail, markets)
            return
        if now >= br.trip_ts + br.policy.cooldown_ms:
            br.status = BreakerStatus.OK
            self._emit(br, "RESUME", now, "auto-resume after cooldown")
        elif br.status is BreakerStatus.TRIPPED:
            br.status = BreakerStatus.COOLDOWN
            self._emit(
                br, "COOLDOWN", now, f"condition clear; resumes at {br.trip_ts + br.policy.cooldown_ms}"
            )

    # --- human resume ----------------------------------------------------------------------------
    def resume(self, now: int, by: str = "operator") -> list[BreakerEvent]:
        """A human resumes: every tripped breaker is reset to OK and its baseline restarts from now (the
        current equity becomes the day/week start and the high-water mark; counts restart). The kill switch
        stays while its file exists (looked at now, not at the watcher's last poll), and the feed breakers while
        data is still stale."""
        self._poll_kill_switch()
        self._advance(now)
        eq = self._equity
        for br in self._b.values():
            if br.status is BreakerStatus.OK:
                continue
            name = br.name
            if name == KILL_SWITCH and self._kill_present:
                self._emit(
                    br, "RESUME_REFUSED", now, f"remove {self._kill_detail or 'the kill-switch file'} first"
                )
                continue
            if name in (STALE_FEED, STALE_MARKET) and br.status is BreakerStatus.TRIPPED:
                # A feed breaker is TRIPPED only while data is stale; it resumes by itself when data returns.
                self._emit(br, "RESUME_REFUSED", now, "market data is still stale")
                continue
            if name == DAILY_LOSS:
                self._day_start = eq
            elif name == WEEKLY_LOSS:
                self._week_start = eq
            elif name == DRAWDOWN:
                self._high_water = eq
            elif name == ROLLING_LOSS:
                self._samples.clear()
            elif name == CONSECUTIVE_LOSSES:
                self._streak = 0
            elif name == FILL_RATE:
                self._orders.clear()
            elif name == REJECTIONS:
                self._rejections.clear()
            elif name == RECONCILE:
                self._mismatches = 0
                self._mismatch_detail = ""
            br.status = BreakerStatus.OK
            self._emit(br, "RESUME", now, f"resumed by {by}")
        self._fresh_at = None
        self._advance(now)
        events, self._pending = self._pending, []
        return events

    # --- durability ---------------------------------------------------------------------------------
    # Breakers whose state a restart re-derives from what it sees (the feed, the kill-switch file) are not
    # saved; every other one is, so that a tripped loss limit stays tripped across a crash.
    _OBSERVED = frozenset({STALE_FEED, STALE_MARKET, KILL_SWITCH})

    def export_state(self) -> dict[str, Any]:
        """Everything a restart needs to carry on where this left off, as JSON-ready values."""

        def dec(x: Decimal | None) -> str | None:
            return None if x is None else str(x)

        return {
            "breakers": {
                name: {
                    "status": br.status.value,
                    "trip_ts": br.trip_ts,
                    "trip_value": br.trip_value,
                    "value": br.value,
                    "detail": br.detail,
                }
                for name, br in self._b.items()
                if name not in self._OBSERVED
            },
            "now": self._now,
            "day_idx": self._day_idx,
            "week_idx": self._week_idx,
            "day_start": dec(self._day_start),
            "week_start": dec(self._week_start),
            "high_water": dec(self._high_water),
            "equity": dec(self._equity),
            "samples": [[ts, str(e)] for ts, e in self._samples],
            "streak": self._streak,
            "orders": list(self._orders),
            "rejections": list(self._rejections),
            "mismatches": self._mismatches,
            "mismatch_detail": self._mismatch_detail,
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Take back what `export_state` saved. A breaker tripped before the restart is tripped again, from
        its original trip time (a pause still ends when its cooldown would have); day and week baselines
        carry on if the period has not rolled since."""
        self._fresh_at = None

        def dec(x: Any) -> Decimal | None:
            return None if x is None else Decimal(str(x))

        for name, saved in state.get("breakers", {}).items():
            br = self._b.get(name)
            if br is None or name in self._OBSERVED:
                continue
            br.status = BreakerStatus(saved["status"])
            br.trip_ts = int(saved["trip_ts"])
            br.trip_value = float(saved["trip_value"])
            br.value = float(saved["value"])
            br.detail = str(saved["detail"])
        self._day_idx = int(state.get("day_idx", self._day_idx))
        self._week_idx = int(state.get("week_idx", self._week_idx))
        self._day_start = dec(state.get("day_start"))
        self._week_start = dec(state.get("week_start"))
        self._high_water = dec(state.get("high_water"))
        self._equity = dec(state.get("equity"))
        self._samples = deque((int(ts), Decimal(e)) for ts, e in state.get("samples", ()))
        self._streak = int(state.get("streak", 0))
        self._orders = deque((bool(x) for x in state.get("orders", ())), maxlen=self.limits.fill_rate_window)
        self._rejections = deque(int(x) for x in state.get("rejections", ()))
        self._mismatches = int(state.get("mismatches", 0))
        self._mismatch_detail = str(state.get("mismatch_detail", ""))
        self._now = max(self._now, int(state.get("now", 0)))

    def tripped(self) -> list[str]:
        """Names of the breakers not OK now, in priority order."""
        return [n for n in BREAKER_NAMES if self._b[n].status is not BreakerStatus.OK]

    # --- queries -----------------------------------------------------------------------------------
    def block(self, now: int, market: str | None = None, *, reduces: bool = False) -> BreakerBlock | None:
        """The breaker that stops an order now, or None. `reduces`: the order only shrinks a position.
        Events produced by the passage of time are kept for the next `evaluate`."""
        self._advance(now)
        for name in BREAKER_NAMES:
            br = self._b[name]
            if br.status is BreakerStatus.OK:
                continue
            if name == STALE_MARKET and market not in self._stale:
                continue
            if reduces and br.policy.reduce_only:
                continue
            return BreakerBlock(name, br.trip_value, br.threshold, br.detail, br.policy.reduce_only)
        if self.reduce_only_mode and not reduces:
            return BreakerBlock(
                "reduce_only", 1.0, 0.0, "reduce-only mode: only orders that shrink positions", True
            )
        return None

    def allows_orders(self, now: int, market: str | None = None) -> bool:
        """Some order may go (at least one that shrinks a position)."""
        return self.block(now, market, reduces=True) is None

    def allows_new_risk(self, now: int, market: str | None = None) -> bool:
        return self.block(now, market, reduces=False) is None

    def reduce_only(self, now: int, market: str | None = None) -> bool:
        """Only orders that shrink positions may go: size with `sell_only=True`."""
        return self.allows_orders(now, market) and not self.allows_new_risk(now, market)

    def needs_human(self, now: int) -> bool:
        self._advance(now)
        return any(
            br.status is not BreakerStatus.OK and br.policy.action is BreakerAction.HALT
            for br in self._b.values()
        )

    def heartbeat_ok(self, now: int) -> bool:
        """Keep the venue's dead-man switch alive only while no cancel-all breaker is tripped: if the engine
        cannot cancel, the venue does it for us."""
        self._advance(now)
        return not any(
            br.status is not BreakerStatus.OK and br.policy.cancel_all
            for br in self._b.values()
            if br.name != STALE_MARKET
        )

    @property
    def stale_markets(self) -> frozenset[str]:
        return self._stale

    def guard(
        self, reduces: Callable[[OrderRequest], bool]
    ) -> Callable[[OrderRequest, int], BreakerBlock | None]:
        """A firewall guard: `reduces(request)` says whether the order only shrinks a position."""

        def check(request: OrderRequest, now: int) -> BreakerBlock | None:
            return self.block(now, request.condition_id, reduces=reduces(request))

        return check

    # --- read model --------------------------------------------------------------------------------
    def views(self, now: int | None = None) -> tuple[BreakerState, ...]:
        if now is not None:
            self._advance(now)
        return tuple(
            BreakerState(
                br.name,
                br.status.value,
                br.trip_value if br.status is not BreakerStatus.OK else br.value,
                br.threshold,
                br.policy.label,
            )
            for br in (self._b[n] for n in BREAKER_NAMES)
        )

    def state(self, name: str) -> BreakerStatus:
        return self._b[name].status

    @property
    def day_loss(self) -> Decimal:
        return self._loss(self._day_start)

    @property
    def week_loss(self) -> Decimal:
        return self._loss(self._week_start)

    @property
    def day_limit(self) -> Decimal:
        return (self._day_start or Decimal(0)) * _dec(self.limits.max_daily_loss_pct)

    @property
    def week_limit(self) -> Decimal:
        return (self._week_start or Decimal(0)) * _dec(self.limits.max_weekly_loss_pct)

    @property
    def high_water(self) -> Decimal | None:
        return self._high_water

    @property
    def drawdown(self) -> float:
        return float(self._loss_pct(self._high_water))

    @property
    def consecutive_losses(self) -> int:
        return self._streak

    def _loss(self, base: Decimal | None) -> Decimal:
        if base is None or self._equity is None:
            return Decimal(0)
        return max(Decimal(0), base - self._equity)


async def watch_kill_switch(
    breakers: Breakers,
    now: Callable[[], int],
    on_events: Callable[[list[BreakerEvent]], Awaitable[None] | None],
    *,
    interval_s: float = 0.25,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    stop: asyncio.Event | None = None,
) -> None:
    """Poll the kill-switch file in real time (the file appears in real time, whatever the engine clock
    says), handing every event to `on_events`; the engine halts and cancels all on a kill_switch TRIP.
    Runs until `stop` is set or the task is cancelled."""
    while stop is None or not stop.is_set():
        events = breakers.check_kill_switch(now())
        if events:
            result = on_events(events)
            if inspect.isawaitable(result):
                await result
        await sleep(interval_s)


__all__ = [
    "BREAKER_NAMES",
    "BreakerAction",
    "BreakerBlock",
    "BreakerEvent",
    "BreakerLimits",
    "BreakerPolicy",
    "BreakerStatus",
    "Breakers",
    "KillSwitch",
    "default_policies",
    "watch_kill_switch",
]
