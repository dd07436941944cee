"""`[strategies.<name>]` settings: each strategy's own model, one-line errors naming the key, budgets that add
up to at most the bankroll, `--strategies` and `bigearn-tui strategies`."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, Settings, load_settings
from tests.test_cli import cli


def load(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return load_settings(path, env=env or {})


def error(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, toml, env)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_defaults_are_maker_first() -> None:
    s = Settings()
    assert s.enabled_strategies() == ["market_maker", "value", "manual"]
    budgets = {name: cfg.budget_pct for name, cfg in s.strategies.items()}
    assert budgets == {"market_maker": 70.0, "value": 20.0, "manual": 10.0}  # the operator's hand orders: 10%


def test_a_table_sets_a_strategy_and_keeps_the_other_defaults(tmp_path: Path) -> None:
    s = load(tmp_path, "[strategies.value]\nbudget_pct = 15\nmax_daily_loss_pct = 5.0\n")
    cfg = s.strategies["value"]
    assert (cfg.enabled, cfg.budget_pct, cfg.max_daily_loss_pct, cfg.max_drawdown_pct) == (True, 15, 5, 100)


def test_bad_value_names_the_key_the_value_the_source_and_what_is_accepted(tmp_path: Path) -> None:
    msg = error(tmp_path, "[strategies.value]\nbudget_pct = 130\n")
    assert msg.startswith("strategies.value.budget_pct = 130 (from config.toml ")
    assert msg.endswith("accepted: a number of percent, > 0 and <= 100")


def test_unknown_key_and_unknown_strategy_list_what_exists(tmp_path: Path) -> None:
    msg = error(tmp_path, "[strategies.value]\nbudget = 1\n")
    assert "strategies.value.budget" in msg and "accepted keys in [strategies.value]: enabled, budget_pct" in msg
    msg = error(tmp_path, "[strategies.yolo]\nenabled = true\n")
    assert "strategies.yolo" in msg and "unknown strategy; available: market_maker, value" in msg
    msg = error(tmp_path, "strategies = 3\n")
    assert "accepted: [strategies.<name>] tables" in msg


def test_env_overrides_one_key(tmp_path: Path) -> None:
    s = load(tmp_path, "", env={"BIGEARN_STRATEGIES__VALUE__BUDGET_PCT": "15"})
    assert s.strategies["value"].budget_pct == 15.0
    msg = error(tmp_path, "", env={"BIGEARN_STRATEGIES__VALUE__BUDGET_PCT": "lots"})
    assert "strategies.value.budget_pct = 'lots' (from env BIGEARN_STRATEGIES__VALUE__BUDGET_PCT)" in msg


def test_budgets_beyond_the_bankroll_are_refused() -> None:
    from engine.config import _budget_problem
    from engine.strategies.base import StrategyConfig

    two = {"a": StrategyConfig(enabled=True, budget_pct=60.0), "b": StrategyConfig(enabled=True, budget_pct=40.0)}
    assert _budget_problem(two) is None  # exactly the bankroll
    over = {**two, "b": StrategyConfig(enabled=True, budget_pct=40.5)}
    problem = _budget_problem(over)
    assert problem is not None and "add up to 100.5 (a 60, b 40.5)" in problem and "at most 100" in problem
    off = {**over, "b": StrategyConfig(enabled=False, budget_pct=40.5)}
    assert _budget_problem(off) is None  # only enabled strategies spend
    with pytest.raises(ValueError, match="strategies.nope: unknown strategy; available: market_maker, value, manual"):
        Settings(strategies={"nope": {}})
    assert Settings(strategies={"value": {"enabled": False}}).enabled_strategies() == ["market_maker", "manual"]


def test_cli_strategies_flag_and_listing(tmp_path: Path) -> None:
    p = cli(tmp_path, "replay", "--strategies", "yolo", "--db", str(tmp_path / "x.db"))
    assert p.returncode == 2 and "--strategies 'yolo': accepted: a comma-separated list of market_maker, value" in p.stderr
    assert not (tmp_path / "x.db").exists()
    p = cli(tmp_path, "strategies")
    assert p.returncode == 0
    assert p.stdout.startswith("market_maker: two-sided") and "value: value bets" in p.stdout and "budget_pct" in p.stdout and "max_drawdown_pct" in p.stdout
