"""The bundled real books replayed end to end through the real CLI and the real headless path."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from engine.feeds.replay import bundled_paths

REQUIRED = {
    "markets",
    "events",
    "evaluations",
    "proposals",
    "orders",
    "fills",
    "fees",
    "realized_pnl",
    "open_positions",
    "halts",
    "brier_model",
    "brier_market",
    "db",
}
AGGRESSIVE = {
    "BIGEARN_RISK__MIN_EDGE": "0",
    "BIGEARN_RISK__KELLY_FRACTION": "1",
    "BIGEARN_RISK__MAX_CI_WIDTH": "1",
}
# The microprice brain's trades are maker bids near 0.5 whose conservative probability rarely clears the 0.52
# that directional bets need in the 0.40-0.60 price zone: runs that must trade also lift the price zones.
ANY_PRICE = {"BIGEARN_ZONES__BANDS": '{"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}}'}


def replay(
    tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> dict:
    """`bigearn-tui replay --speed max --json` into `tmp_path/<name>.db` in a clean environment: its summary."""
    db = tmp_path / f"{name}.db"
    base_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if not any(k.startswith("BIGEARN_STRATEGIES__") for k in env or {}):
        # The value strategy alone, with the whole bankroll: these runs exercise its path end to end (the
        # market maker's runs name it, e.g. tests/test_market_maker.py).
        base_env |= {
            "BIGEARN_STRATEGIES__MARKET_MAKER__ENABLED": "false",
            "BIGEARN_STRATEGIES__MANUAL__ENABLED": "false",
            "BIGEARN_STRATEGIES__VALUE__BUDGET_PCT": "100",
        }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bigearn_tui.cli",
            "replay",
            "--speed",
            "max",
            "--json",
            "--db",
            str(db),
            *args,
        ],
        capture_output=True,
        text=True,
        env={**base_env, **(env or {})},
        timeout=timeout,
        cwd=Path(__file__).parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def bundled_line_count() -> int:
    books, _ = bundled_paths()
    with gzip.open(books, "rb") as fh:
        return sum(1 for line in fh if line.strip())


@pytest.mark.slow
def test_bundled_replay_auto_mode_summary(tmp_path: Path) -> None:
    summary = replay(tmp_path, "auto", "--mode", "auto")
    assert summary.keys() >= REQUIRED
    assert summary["markets"] == 14
    assert summary["events"] == bundled_line_count() == 30081  # every book line processed
    assert summary["evaluations"] > 0 and summary["open_positions"] == 0
    # The recorded books have gaps of more than 30 s (up to 62 s in one market, 35 s in all at once): the
    # recording's normal cadence, not a dead feed (engine.feeds.cadence). Nothing trips.
    assert summary["halts"] == []
    assert not {k for k in summary["decisions"] if k.startswith("SKIP_STALE")}
    assert 0 < summary["brier_model"] < 0.25 and 0 < summary["brier_market"] < 0.25
    assert Path(summary["db"]).exists()
    assert summary["pnl_identity_ok"] is True


@pytest.mark.slow
def test_trading_replay_ledger_identity_and_determinism(tmp_path: Path) -> None:
    a = replay(tmp_path, "a", "--mode", "auto", "--seed", "11", env={**AGGRESSIVE, **ANY_PRICE})
    b = replay(tmp_path, "b", "--mode", "auto", "--seed", "11", env={**AGGRESSIVE, **ANY_PRICE})
    assert a["fills"] > 0 and a["settlements"] > 0
    realized = Decimal(a["realized_pnl"])
    identity = Decimal(a["fill_cash_flows"]) + Decimal(a["settlement_payouts"]) - Decimal(a["fees"])
    assert realized == identity
    assert Decimal(a["cash"]) == Decimal(1000) + realized  # everything settled back to cash
    a.pop("db"), b.pop("db")
    assert a == b  # same seed, same summary


@pytest.mark.slow
def test_semi_mode_headless_approves_nothing(tmp_path: Path) -> None:
    summary = replay(tmp_path, "semi", "--mode", "semi", env={**AGGRESSIVE, **ANY_PRICE})
    assert summary["proposals"] > 0
    assert summary["orders"] == 0 and summary["fills"] == 0


def test_sim_venue_runs_the_synthetic_market_end_to_end(tmp_path: Path) -> None:
    """`--venue sim`: the seeded synthetic market through the same matching, lifecycle and ledger."""
    env = {**AGGRESSIVE, "BIGEARN_VENUE__SIM_MARKETS": "4", "BIGEARN_VENUE__SIM_ROUNDS": "1"}
    a = replay(tmp_path, "sim-a", "--venue", "sim", "--mode", "auto", "--seed", "3", env=env)
    b = replay(tmp_path, "sim-b", "--venue", "sim", "--mode", "auto", "--seed", "3", env=env)
    assert a["venue"] == "SIM" and a["markets"] == 4 and a["events"] > 1000
    assert a["pnl_identity_ok"] is True and a["open_positions"] == 0
    a.pop("db"), b.pop("db")
    assert a == b
    bad = subprocess.run(
        [sys.executable, "-m", "bigearn_tui.cli", "replay", "--venue", "polymarket"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[1],
    )
    assert bad.returncode == 2 and "--venue = 'polymarket': accepted: 'replay', 'quotes' or 'sim'" in bad.stderr


def test_a_second_run_into_the_same_database_keeps_its_fills(tmp_path: Path) -> None:
    """Simulated trade ids are unique per run: the store's fill idempotency (by trade id) must not swallow
    a later run's fills when two runs share one database file."""
    env = {
        **AGGRESSIVE,
        "BIGEARN_ZONES__BANDS": '{"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}}',
    }
    a = replay(tmp_path, "shared", "--mode", "auto", "--seed", "3", env=env)
    b = replay(tmp_path, "shared", "--mode", "auto", "--seed", "3", env=env)
    assert a["fills"] > 0 and a["settlements"] > 0
    a.pop("db"), b.pop("db")
    assert a == b
