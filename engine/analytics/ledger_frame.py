"""A run's ledger as numpy arrays, read once for the truth report.

Read-only: the database is opened with `mode=ro`, so a report on a running engine's ledger takes nothing from
it (WAL lets it read while the engine writes). Money comes out of SQLite as REAL only to be turned back into
exact integers at the column's own precision (prices 1e-4, sizes 1e-6, fees 1e-5: every ledger value has at
most that many decimals, so rounding the float recovers it exactly); sums are then exact integers.

Text columns that repeat (strategy, brain) are coded inside the SQL (CASE ... THEN n) from their distinct
values, so a million rows come back as numbers only: the fetch is the cost, and it stays one pass per table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

PRICE_UNITS = 10_000  # 1e-4
SIZE_UNITS = 1_000_000  # 1e-6
MONEY_UNITS = PRICE_UNITS * SIZE_UNITS  # 1e-10 USDC: a price times a size, exactly


class LedgerError(ValueError):
    """The database cannot be read as a ledger: the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class Window:
    since_ms: int | None = None
    until_ms: int | None = None
    strategy: str | None = None

    def clause(self, ts: str, strategy: str | None = "strategy_id") -> tuple[str, list[Any]]:
        """` AND ...` conditions for a table's time column (and strategy column, when it has one)."""
        parts: list[str] = []
        args: list[Any] = []
        if self.since_ms is not None:
            parts.append(f"{ts} >= ?")
            args.append(self.since_ms)
        if self.until_ms is not None:
            parts.append(f"{ts} < ?")
            args.append(self.until_ms)
        if self.strategy is not None and strategy is not None:
            parts.append(f"{strategy} = ?")
            args.append(self.strategy)
        return "".join(f" AND {p}" for p in parts), args


@dataclass(slots=True)
class Markets:
    condition_ids: list[str]
    slugs: list[str]
    clusters: list[str]
    index: dict[str, int]
    resolved_ts: np.ndarray  # int64, -1 when unresolved
    yes_payout: np.ndarray  # int64 in 1e-4, -1 when unknown


@dataclass(slots=True)
class Fills:
    ts: np.ndarray  # int64 ms
    price: np.ndarray  # int64, 1e-4
    size: np.ndarray  # int64, 1e-6
    fee: np.ndarray  # int64, 1e-10 USDC
    sign: np.ndarray  # int64: +1 buy, -1 sell
    maker: np.ndarray  # bool
    market: np.ndarray  # int64 index into Markets, -1 when the market is unknown
    yes: np.ndarray  # bool: the YES (first) token
    strategy: np.ndarray  # int64 index into LedgerFrame.strategies

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(slots=True)
class LedgerFrame:
    path: str
    window: Window
    runs: list[dict[str, Any]]
    config: dict[str, Any]  # the latest run's settings (the report's assumptions come from it)
    strategies: list[str]
    markets: Markets
    fills: Fills
    extra: dict[str, Any] = field(default_factory=dict)


def connect(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise LedgerError(f"--db {p}: no such file (give the SQLite database a run wrote: store.path)")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"--db {p}: not an SQLite database ({exc})") from exc
    missing = {"runs", "fills", "markets", "pnl_snapshots", "order_intents"} - tables
    if missing:
        conn.close()
        raise LedgerError(f"--db {p}: not a Big Earn ledger (no table {', '.join(sorted(missing))})")
    return conn


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def case_codes(column: str, names: list[str]) -> str:
    """SQL that maps a text column to its index in `names` (-1 for anything else)."""
    if not names:
        return "-1"
    whens = " ".join(f"WHEN '{n.replace(chr(39), chr(39) * 2)}' THEN {i}" for i, n in enumerate(names))
    return f"(CASE {column} {whens} ELSE -1 END)"


def numeric(conn: sqlite3.Connection, sql: str, args: list[Any], columns: int) -> np.ndarray:
    """Rows of numbers as a float64 array of shape (n, columns)."""
    rows = conn.execute(sql, args).fetchall()
    if not rows:
        return np.empty((0, columns))
    return np.array(rows, dtype=np.float64)


def units(x: np.ndarray, scale: int) -> np.ndarray:
    return np.rint(x * scale).astype(np.int64)


def read_ledger(path: str | Path, window: Window | None = None) -> tuple[LedgerFrame, sqlite3.Connection]:
    """The frame and the open read-only connection (the report's sections query the rest through it)."""
    window = window or Window()
    conn = connect(path)
    runs = [
        {"run_id": r[0], "started_ts": r[1], "ended_ts": r[2], "venue": r[3], "mode": r[4], "account": r[5],
         "seed": r[6]}
        for r in conn.execute(
            "SELECT run_id, started_ts, ended_ts, venue, mode, account, seed FROM runs ORDER BY started_ts"
        )
    ]  # fmt: skip
    latest = conn.execute("SELECT config_json FROM runs ORDER BY started_ts DESC LIMIT 1").fetchone()
    config = orjson.loads(latest[0]) if latest else {}
    strategies = sorted(
        {r[0] for r in conn.execute("SELECT DISTINCT strategy_id FROM order_intents")}
        | {r[0] for r in conn.execute("SELECT DISTINCT strategy_id FROM pnl_snapshots WHERE strategy_id != ''")}
        | {r[0] for r in conn.execute("SELECT DISTINCT strategy_id FROM fills")}
        | set((config.get("strategies") or {}).keys())
    )
    markets = _markets(conn)
    fills = _fills(conn, window, strategies)
    return LedgerFrame(str(path), window, runs, config, strategies, markets, fills), conn


def _markets(conn: sqlite3.Connection) -> Markets:
    rows = conn.execute(
        "SELECT condition_id, slug, COALESCE(cluster, ''), COALESCE(resolved_ts, -1),"
        " COALESCE(CAST(yes_payout AS REAL), -1) FROM markets ORDER BY rowid"
    ).fetchall()
    cids = [r[0] for r in rows]
    return Markets(
        condition_ids=cids,
        slugs=[r[1] for r in rows],
        clusters=[r[2] or "(none)" for r in rows],
        index={c: i for i, c in enumerate(cids)},
        resolved_ts=np.array([r[3] for r in rows], dtype=np.int64),
        yes_payout=np.array([-1 if r[4] < 0 else round(r[4] * PRICE_UNITS) for r in rows], dtype=np.int64),
    )


def _fills(conn: sqlite3.Connection, window: Window, strategies: list[str]) -> Fills:
    where, args = window.clause("f.ts", "f.strategy_id")
    sql = (
        "SELECT f.ts, CAST(f.price AS REAL), CAST(f.size AS REAL), CAST(f.fee AS REAL),"
        " f.side = 'BUY', f.liquidity = 'MAKER', COALESCE(m.rowid, 0), f.token_id = m.yes_token_id,"
        f" {case_codes('f.strategy_id', strategies)}"
        " FROM fills f LEFT JOIN markets m ON m.condition_id = f.condition_id"
        f" WHERE f.status != 'FAILED'{where} ORDER BY f.ts"
    )
    a = numeric(conn, sql, args, 9)
    rowids = [r[0] for r in conn.execute("SELECT rowid FROM markets ORDER BY rowid")]
    position = np.full((max(rowids) + 1) if rowids else 1, -1, dtype=np.int64)
    position[np.array(rowids, dtype=np.int64)] = np.arange(len(rowids))
    rowid = a[:, 6].astype(np.int64)
    return Fills(
        ts=a[:, 0].astype(np.int64),
        price=units(a[:, 1], PRICE_UNITS),
        size=units(a[:, 2], SIZE_UNITS),
        fee=units(a[:, 3], 100_000) * (MONEY_UNITS // 100_000),
        sign=np.where(a[:, 4] > 0, 1, -1).astype(np.int64),
        maker=a[:, 5] > 0,
        market=np.where(rowid > 0, position[np.clip(rowid, 0, len(position) - 1)], -1),
        yes=np.nan_to_num(a[:, 7]) > 0,
        strategy=a[:, 8].astype(np.int64),
    )


__all__ = [
    "MONEY_UNITS",
    "PRICE_UNITS",
    "SIZE_UNITS",
    "Fills",
    "LedgerError",
    "LedgerFrame",
    "Markets",
    "Window",
    "case_codes",
    "connect",
    "has_table",
    "numeric",
    "read_ledger",
    "units",
]
