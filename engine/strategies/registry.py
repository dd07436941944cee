"""Every strategy the product ships, by name: what `[strategies.<name>]`, `--strategies` and
`bigearn-tui strategies` know about. Adding a strategy is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.strategies.base import Strategy, StrategyConfig
from engine.strategies.manual import ManualStrategy
from engine.strategies.market_maker import MarketMakerStrategy
from engine.strategies.value import ValueStrategy

AVAILABLE: Mapping[str, type[Strategy]] = {
    cls.strategy_id: cls for cls in (MarketMakerStrategy, ValueStrategy, ManualStrategy)
}


def default_configs() -> dict[str, StrategyConfig]:
    """Each available strategy's config with every default (only those enabled by default run)."""
    return {name: cls.Config() for name, cls in AVAILABLE.items()}


def describe() -> list[dict[str, Any]]:
    """Name, one-line description and settings (key, default, accepted text, doc) of every strategy."""
    out = []
    for name, cls in AVAILABLE.items():
        keys = []
        for key, field in cls.Config.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            keys.append(
                {
                    "key": key,
                    "default": field.get_default(call_default_factory=True),
                    "accepted": extra.get("accepted", ""),
                    "doc": field.description or "",
                }
            )
        out.append({"name": name, "description": cls.description, "keys": keys})
    return out
