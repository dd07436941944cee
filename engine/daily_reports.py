"""The engine's side of the truth report: answer the Report screen and `ctl report`, and write the day's report
at each UTC midnight of engine time (`[reports] dir`/YYYY-MM-DD.json).

The report reads the ledger through its own read-only connection, in a worker thread: the engine loop never
waits on it. Everything pending is flushed first, so the report sees every fill the engine has seen.
A daily report that cannot be written (disk full, folder not writable) is logged as an error with its cause
and shown in the console's log; trading goes on: a report is not a money path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from engine.analytics.ledger_frame import LedgerError
from engine.analytics.stats import DAY_MS
from engine.analytics.truth_report import build_report
from engine.queries import RunReport, TruthReport

if TYPE_CHECKING:
    from engine.engine import Engine


class ReportUnavailable(ValueError):
    """The engine's ledger cannot be reported on (an in-memory store has no file a reader can open)."""


def _ledger_path(e: Engine) -> str:
    path = e.store.path
    if not path or path == ":memory:" or not Path(path).is_file():
        raise ReportUnavailable(f"the ledger is {path!r}: a report needs a database file (store.path)")
    return str(path)


def _report_kwargs(e: Engine) -> dict[str, float]:
    r = e.settings.reports
    return {"stress_fee_multiple": r.stress_fee_multiple, "stress_cents": r.stress_cents}


async def answer(e: Engine, query: RunReport) -> TruthReport:
    path = _ledger_path(e)
    # shielded: a console that closes the screen mid-question must not cancel the engine's own flush
    await asyncio.shield(e.store.flush())
    report = await asyncio.to_thread(
        build_report, path, since_ms=query.since_ms, until_ms=query.until_ms, strategy=query.strategy,
        **_report_kwargs(e),
    )  # fmt: skip
    return TruthReport(report)


def next_midnight(now_ms: int) -> int:
    return (now_ms // DAY_MS + 1) * DAY_MS


def day_name(day_start_ms: int) -> str:
    return datetime.fromtimestamp(day_start_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


async def write_day(e: Engine, day_start_ms: int) -> Path | None:
    """The report of the UTC day starting at `day_start_ms`, written to the reports folder; None when daily
    reports are off. Failures are logged, not raised (see the module note)."""
    folder = e.settings.reports_dir
    if folder is None:
        return None
    target = folder / f"{day_name(day_start_ms)}.json"
    try:
        path = _ledger_path(e)
        await asyncio.shield(e.store.flush())
        report = await asyncio.to_thread(
            build_report, path, since_ms=day_start_ms, until_ms=day_start_ms + DAY_MS, **_report_kwargs(e)
        )
        data = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        await asyncio.to_thread(write_atomically, target, data)
    except (OSError, sqlite3.Error, LedgerError, ReportUnavailable, ValueError) as exc:
        e.note_event("daily report not written", logging.ERROR, file=str(target), error=f"{type(exc).__name__}: {exc}")
        return None
    e.note_event("daily report written", logging.INFO, file=str(target))
    return target


__all__ = ["ReportUnavailable", "answer", "day_name", "next_midnight", "write_atomically", "write_day"]
