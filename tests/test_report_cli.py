"""The truth report as users get it: `bigearn-tui report` on a bundled replay's ledger, the daily file a
running engine writes at UTC midnight, and the engine answering the RunReport query (in process and over the
control socket)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.daily_reports import ReportUnavailable, day_name, next_midnight, write_day
from engine.queries import RunReport, TruthReport, query_from_wire, query_to_wire
from engine.runtime import run_headless
from tests.conftest import settings_for, write_dataset

DAY = 86_400_000


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BIGEARN_REPORTS__DIR": str(tmp_path / "reports")}
    return subprocess.run(
        [sys.executable, "-m", "bigearn_tui.cli", *args],
        capture_output=True, text=True, timeout=300, env=base | (env or {}), cwd=tmp_path,
    )  # fmt: skip


@pytest.fixture(scope="module")
def replay_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled books replayed in auto mode with the default strategies (the market maker trades)."""
    root = tmp_path_factory.mktemp("bundled")
    db = root / "auto.db"
    proc = _cli(root, "replay", "--mode", "auto", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["fills"] > 50
    return db


def test_report_json_on_a_bundled_replay_has_every_section(replay_db: Path, tmp_path: Path) -> None:
    proc = _cli(tmp_path, "report", "--db", str(replay_db), "--json")
    assert proc.returncode == 0, proc.stderr
    r: dict[str, Any] = json.loads(proc.stdout)
    assert set(r) >= {"pnl", "execution", "markouts", "returns", "calibration", "health", "gates", "series"}
    t = r["pnl"]["total"]
    assert t["fills"] > 50 and t["maker_fills"] > 0 and Decimal(t["volume_usdc"]) > 0
    assert Decimal(t["net_pnl"]) != 0 and Decimal(t["settlement_payouts"]) > 0 and Decimal(t["rebates_est"]) > 0
    assert "market_maker" in r["pnl"]["by_strategy"] and r["pnl"]["by_component"]["maker"]["fills"] > 0
    assert len(r["pnl"]["by_market"]) > 3 and r["pnl"]["by_cluster"]
    x = r["execution"]["total"]
    assert 0 < x["fill_rate"] < 1 and x["cancels"] > 0 and x["time_to_fill_s"]["median"] > 0
    assert x["realized_spread_cents"]["n"] == t["fills"] and x["realized_spread_cents"]["median"] is not None
    assert r["execution"]["mutations"]["peak_per_min"] > 0
    for h in ("30s", "2m", "10m"):
        m = r["markouts"]["total"][h]
        assert m["n"] > 30 and m["ci_low"] < m["mean"] < m["ci_high"] and m["significantly_negative"] is not None
    ret = r["returns"]
    assert ret["hourly"]["periods"] >= 5 and ret["hourly"]["sharpe"] is not None
    assert ret["drawdown"]["max_drawdown"] < 0 and ret["win_rate"] is not None
    assert ret["concentration"]["top5_share"] is not None and ret["concentration"]["clusters_traded"] > 3
    cal = r["calibration"]
    assert cal["brains"]["microprice"]["n"] > 1000 and cal["brains"]["microprice"]["reliability"]
    assert cal["market"]["brier"] is not None
    h = r["health"]
    assert h["feed"]["samples"] > 100 and h["feed"]["uptime"] is not None and h["feed"]["book_hours"] > 0
    assert h["halts"] and h["rejections_by_reason"] is not None and h["refusals_by_rule"]
    assert {g["status"] for g in r["gates"].values()} <= {"PASS", "FAIL", "NOT ENOUGH DATA"}
    assert len(r["series"]["equity"]["ts"]) > 50 and r["series"]["pnl_by_strategy"]["market_maker"]["pnl"]


def test_report_text_and_html_on_a_bundled_replay(replay_db: Path, tmp_path: Path) -> None:
    page = tmp_path / "out" / "report.html"
    proc = _cli(tmp_path, "report", "--db", str(replay_db), "--strategy", "market_maker", "--html", str(page))
    assert proc.returncode == 0, proc.stderr
    for title in ("Promotion gates", "P&L attribution", "Execution quality", "Markouts", "Risk-adjusted returns",
                  "Calibration", "Health"):  # fmt: skip
        assert title in proc.stdout
    assert "Gate B: FAIL" in proc.stdout  # five hours of one strategy cannot pass B
    assert page.read_text().count("<svg") >= 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since = 'yesterday': accepted: a UTC date"),
        (["--since", "2026-09-28", "--until", "2026-09-27"], "--until = '2026-09-27': must be after --since"),
        (["--strategy", "nope"], "--strategy = 'nope': not in this ledger; accepted:"),
    ],
)
def test_report_bad_arguments_name_the_field(replay_db: Path, tmp_path: Path, args: list[str], message: str) -> None:
    proc = _cli(tmp_path, "report", "--db", str(replay_db), *args)
    assert proc.returncode != 0 and message in proc.stderr


def test_report_on_a_missing_or_foreign_file(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "report", "--db", str(tmp_path / "none.db"))
    assert proc.returncode != 0 and "no such file" in proc.stderr
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    proc = _cli(tmp_path, "report", "--db", str(other))
    assert proc.returncode != 0 and "not a Big Earn ledger" in proc.stderr


def test_the_engine_writes_the_day_at_utc_midnight(tmp_path: Path) -> None:
    """A replay that runs from 23:58 to 00:03: at midnight the engine writes the day that ended."""
    midnight = next_midnight(1_790_000_000_000)
    books, markets = write_dataset(tmp_path, seconds=300, start=midnight - 120_000, end_offset_s=240)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "auto", "strategies.market_maker.enabled": True,
                                                           "strategies.market_maker.budget_pct": 50})  # fmt: skip
    asyncio.run(run_headless(settings, logging.getLogger("t"), handle_signals=False))
    day = day_name(midnight - DAY)
    written = tmp_path / "reports" / f"{day}.json"
    assert written.is_file(), sorted(p.name for p in (tmp_path / "reports").glob("*"))
    report = json.loads(written.read_text())
    assert report["window"] == {"since_ts": midnight - DAY, "until_ts": midnight, "strategy": None}
    assert report["period"]["end_ts"] < midnight and report["health"]["feed"]["samples"] >= 1
    assert not (tmp_path / "reports" / f"{day_name(midnight)}.json").exists()  # that day has not ended


class _FakeStore:
    def __init__(self, path: str) -> None:
        self.path = path

    async def flush(self) -> int:
        return 0


class _FakeEngine:
    def __init__(self, settings: Any, path: str) -> None:
        self.settings = settings
        self.store = _FakeStore(path)
        self.events: list[tuple[str, int, dict[str, Any]]] = []

    def note_event(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        self.events.append((event, level, fields))


def test_a_daily_report_that_cannot_be_written_is_logged_not_fatal(replay_db: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    settings = settings_for(tmp_path, **{"reports.dir": str(blocker / "sub")})
    e = _FakeEngine(settings, str(replay_db))
    assert asyncio.run(write_day(e, 0)) is None  # type: ignore[arg-type]
    assert e.events and e.events[0][0] == "daily report not written" and e.events[0][1] == logging.ERROR
    off = _FakeEngine(settings_for(tmp_path, **{"reports.dir": ""}), str(replay_db))
    assert asyncio.run(write_day(off, 0)) is None and off.events == []  # type: ignore[arg-type]


def test_run_report_query_round_trips_and_needs_a_file() -> None:
    q = RunReport(since_ms=1, until_ms=2, strategy="value")
    assert query_from_wire(query_to_wire(q)) == q
    from engine.daily_reports import answer

    e = _FakeEngine(None, ":memory:")
    with pytest.raises(ReportUnavailable, match="needs a database file"):
        asyncio.run(answer(e, RunReport()))  # type: ignore[arg-type]


def test_run_report_in_process_and_over_the_control_socket(tmp_path: Path) -> None:
    from engine.control import ControlClient, ControlServer, RemoteEngine
    from tests.conftest import FixedBrain
    from tests.ui_harness import make_runtime

    rt = make_runtime(tmp_path, brain=FixedBrain(p=0.70), until_s=60, **{"store.path": str(tmp_path / "e.db"),
                                                                          "engine.mode": "auto"})  # fmt: skip
    sock = tmp_path / "c" / "bigearn.sock"

    async def main() -> tuple[TruthReport, TruthReport]:
        local = await rt.engine.ask(RunReport())
        server = ControlServer(rt.engine, sock)
        await server.start()
        remote = RemoteEngine(ControlClient(sock), refresh_hz=20)
        await remote.start()
        try:
            return local, await remote.ask(RunReport(strategy="value"))
        finally:
            await remote.close()
            await server.close()

    local, remote = asyncio.run(main())
    assert isinstance(local, TruthReport) and isinstance(remote, TruthReport)
    # the engine flushed first: the report sees every fill the engine has seen
    assert local.report["pnl"]["total"]["fills"] == rt.engine.counters["fills"] > 0
    assert remote.report["window"]["strategy"] == "value" and remote.report["db"].endswith("e.db")
