"""Per-strategy limits: each strategy's budget (its share of the bankroll, reserved so two strategies cannot
spend the same dollars) and its own daily-loss and drawdown pauses, on top of the global breakers.

A paused strategy keeps running its hooks, so it can still exit: only new risk (a buy) is refused, and the
engine cancels its working buys when the pause begins. A loss pause stays until the operator resumes it
(fail closed, like the global breakers); resuming takes today's loss and the drawdown as seen, so the
strategy trips again only on a further loss. Pauses and the day's baselines survive a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engine.refusal import Refusal
from engine.strategies.base import StrategyConfig, budgets_problem
from engine.units import DAY_MS


class PauseKind(StrEnum):
    MANUAL = "MANUAL"
    DAILY_LOSS = "DAILY_LOSS"
    DRAWDOWN = "DRAWDOWN"


@dataclass(frozen=True, slots=True)
class StrategyPause:
    strategy_id: str
    kind: PauseKind
    reason: str
    ts: int
    by: str
    value: float = 0.0  # the loss that tripped it, USDC
    threshold: float = 0.0  # the limit it reached, USDC

    @property
    def halt_kind(self) -> str:
        """Its kind in the halts table: one per strategy, so resuming one strategy resumes only its rows."""
        return f"STRATEGY_{self.kind.value}:{self.strategy_id}"


class StrategyLimits:
    def __init__(self, configs: Mapping[str, StrategyConfig]) -> None:
        self.configs = dict(configs)
        # Every running strategy counts, however its config says it was enabled (one passed in code, say).
        problem = budgets_problem({sid: c.budget_pct for sid, c in self.configs.items()})
        if problem is not None:
            raise ValueError(problem)
        self.paused: dict[str, StrategyPause] = {}
        self._day: dict[str, tuple[int, Decimal]] = {}  # day index, P&L when it began
        self._best: dict[str, Decimal] = {}  # the strategy's P&L high-water mark

    # --- budget ----------------------------------------------------------------------------------------
    def limit(self, strategy_id: str, equity: Decimal) -> Decimal:
        """What the strategy may commit: its share of the engine's equity."""
        pct = self.configs[strategy_id].budget_pct
        return max(Decimal(0), equity) * Decimal(str(pct)) / 100

    def budget_room(self, strategy_id: str, equity: Decimal, committed: Decimal) -> Decimal:
        return max(Decimal(0), self.limit(strategy_id, equity) - committed)

    def budget_refusal(
        self, strategy_id: str, cost: Decimal, equity: Decimal, committed: Decimal
    ) -> Refusal | None:
        """None when `cost` more fits in the budget; else the refusal naming the room left."""
        limit = self.limit(strategy_id, equity)
        if committed + cost <= limit:
            return None
        return Refusal(
            "STRATEGY_BUDGET",
            float(committed + cost),
            float(limit),
            f"{strategy_id}: {committed:.2f} committed + {cost:.2f} exceeds its budget {limit:.2f} USDC",
        )

    # --- pauses ----------------------------------------------------------------------------------------
    def block(self, strategy_id: str, *, reduces: bool) -> Refusal | None:
        pause = self.paused.get(strategy_id)
        if pause is None or reduces:
            return None
        return Refusal(
            "STRATEGY_PAUSED",
            pause.value,
            pause.threshold,
            f"{strategy_id} paused ({pause.kind}): {pause.reason}",
        )

    def on_pnl(self, strategy_id: str, pnl: Decimal, equity: Decimal, now: int) -> StrategyPause | None:
        """Feed the strategy's P&L (realized + unrealized, after fees); returns a pause if a limit trips now."""
        day = now // DAY_MS
        start = self._day.get(strategy_id)
        if start is None or start[0] != day:
            self._day[strategy_id] = start = (day, pnl)
        best = self._best[strategy_id] = max(self._best.get(strategy_id, pnl), pnl)
        if strategy_id in self.paused:
            return None
        cfg = self.configs[strategy_id]
        budget = self.limit(strategy_id, equity)
        day_loss = start[1] - pnl
        day_cap = budget * Decimal(str(cfg.max_daily_loss_pct)) / 100
        if cfg.max_daily_loss_pct < 100 and day_loss > 0 and day_loss >= day_cap:
            return self._trip(
                strategy_id,
                PauseKind.DAILY_LOSS,
                now,
                day_loss,
                day_cap,
                f"lost {day_loss:.2f} USDC today, limit {cfg.max_daily_loss_pct:g}% of its {budget:.2f} budget",
            )
        drawdown = best - pnl
        dd_cap = budget * Decimal(str(cfg.max_drawdown_pct)) / 100
        if cfg.max_drawdown_pct < 100 and drawdown > 0 and drawdown >= dd_cap:
            return self._trip(
                strategy_id,
                PauseKind.DRAWDOWN,
                now,
                drawdown,
                dd_cap,
                f"{drawdown:.2f} USDC below its best, limit {cfg.max_drawdown_pct:g}% of its {budget:.2f} budget",
            )
        return None

    def best(self, strategy_id: str, pnl: Decimal) -> Decimal:
        """The strategy's best P&L so far (at least `pnl`)."""
        return max(self._best.get(strategy_id, pnl), pnl)

    def _trip(
        self, sid: str, kind: PauseKind, now: int, value: Decimal, threshold: Decimal, reason: str
    ) -> StrategyPause:
        pause = StrategyPause(sid, kind, reason, now, "limit", float(value), float(threshold))
        self.paused[sid] = pause
        return pause

    def pause(self, strategy_id: str, reason: str, now: int, by: str) -> StrategyPause | None:
        """The operator's pause; None if it was already paused (the first reason stands)."""
        if strategy_id in self.paused:
            return None
        pause = StrategyPause(strategy_id, PauseKind.MANUAL, reason, now, by)
        self.paused[strategy_id] = pause
        return pause

    def resume(self, strategy_id: str, pnl: Decimal, now: int) -> StrategyPause | None:
        """Lift the pause; the day's loss and the drawdown so far are taken as seen. None if not paused."""
        pause = self.paused.pop(strategy_id, None)
        if pause is not None:
            self._day[strategy_id] = (now // DAY_MS, pnl)
            self._best[strategy_id] = pnl
        return pause

    # --- durability ------------------------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        return {
            "paused": {
                sid: {
                    "kind": p.kind.value,
                    "reason": p.reason,
                    "ts": p.ts,
                    "by": p.by,
                    "value": p.value,
                    "threshold": p.threshold,
                }
                for sid, p in self.paused.items()
            },
            "day": {sid: [d, str(v)] for sid, (d, v) in self._day.items()},
            "best": {sid: str(v) for sid, v in self._best.items()},
        }

    def restore(self, doc: Mapping[str, Any]) -> None:
        """From `export_state` of an earlier run; strategies no longer configured are dropped."""
        for sid, p in (doc.get("paused") or {}).items():
            if sid in self.configs:
                self.paused[sid] = StrategyPause(
                    sid,
                    PauseKind(p["kind"]),
                    p["reason"],
                    int(p["ts"]),
                    p["by"],
                    float(p.get("value", 0)),
                    float(p.get("threshold", 0)),
                )
        for sid, (d, v) in (doc.get("day") or {}).items():
            if sid in self.configs:
                self._day[sid] = (int(d), Decimal(v))
        for sid, v in (doc.get("best") or {}).items():
            if sid in self.configs:
                self._best[sid] = Decimal(v)
