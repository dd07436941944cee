"""The operator's own orders. A hand order (the console's order ticket, `ctl order`, a flatten) is an order of
this strategy: it goes through the same risk pipeline and firewall as any strategy's, counts against this
strategy's budget, and has its own positions, P&L and loss pauses. The strategy itself decides nothing: the
operator is its brain, so it has no hooks of its own."""

from __future__ import annotations

from typing import ClassVar

from engine.strategies.base import Strategy, StrategyConfig, setting


class ManualConfig(StrategyConfig):
    enabled: bool = setting(True, "accept the operator's hand orders", "true or false")
    budget_pct: float = setting(
        10.0, "share of the bankroll hand orders may commit, percent", "a number of percent, > 0 and <= 100",
        gt=0, le=100,
    )  # fmt: skip


class ManualStrategy(Strategy):
    strategy_id: ClassVar[str] = "manual"
    description: ClassVar[str] = "the operator's hand orders (order ticket, flatten), under their own budget"
    Config = ManualConfig
