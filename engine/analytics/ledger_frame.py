"""A run's ledger as numpy arrays, read once for the truth report.

Read-only: the database is opened with `mode=ro`, so a report on a running engine's ledger takes nothing from
it (WAL lets it read while the engine writes). Money comes out of SQLite as REAL only to be turned back into
exact integers at the column's own precision (prices 1e-4, sizes 1e-6, fees 1e-5: every ledger value has at
most that many decimals, so rounding the float recovers it exactly); sums are then exact integers.

Text columns that repeat (strategy, brain) are coded inside the SQL (CASE ... THEN n) from their distinct
values, so a million rows come back as numbers only: the fetch is the cost, and it stays one pass per table.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass
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


CHUNK_ROWS = 100_000  # rows converted at a time: memory holds the arrays and one chunk of row tuples


def numeric(conn: sqlite3.Connection, sql: str, args: list[Any], columns: int) -> np.ndarray:
    """Rows of numbers as a float64 array of shape (n, columns); NULL becomes NaN. Read in chunks straight
    into arrays, so a million rows never sit in memory as a million tuples."""
    cursor = conn.execute(sql, args)
    parts: list[np.ndarray] = []
    while rows := cursor.fetchmany(CHUNK_ROWS):
        try:
            flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * columns)
            parts.append(flat.reshape(len(rows), columns))
        except TypeError:  # a NULL somewhere: the slower conversion, which reads None as NaN
            parts.append(np.array(rows, dtype=np.float64).reshape(len(rows), columns))
    if not parts:
        return np.empty((0, columns))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def units(x: np.ndarray, scale: int) -> np.ndarray:
    return np.rint(x * scale).astype(np.int64)


def read_ledger(path: str | Path, window: Window | None = None) -> tuple[LedgerFrame, sqlite3.Connection]:
    """The frame (fills included) and the open read-only connection the report's sections query through."""
    frame, conn = read_meta(path, window)
    frame.fills = read_fills(conn, frame)
    return frame, conn


def read_meta(path: str | Path, window: Window | None = None) -> tuple[LedgerFrame, sqlite3.Connection]:
    """Runs, settings, strategies and markets: small, read first; the fills (`read_fills`) come after."""
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
    # order_intents has an index on strategy_id; fills name the strategy of their order; the P&L lines only
    # the strategies that ran: together, every strategy the ledger knows
    strategies = sorted(
        {r[0] for r in conn.execute("SELECT DISTINCT strategy_id FROM order_intents")}
        | {r[0] for r in conn.execute("SELECT DISTINCT strategy_id FROM pnl_snapshots WHERE strategy_id != ''")}
        | set((config.get("strategies") or {}).keys())
    )
    empty = Fills(*(np.empty(0, dtype=np.int64) for _ in range(9)))
    return LedgerFrame(str(path), window, runs, config, strategies, _markets(conn), empty), conn


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


def read_fills(conn: sqlite3.Connection, frame: LedgerFrame) -> Fills:
    window, strategies = frame.window, frame.strategies
    where, args = window.clause("f.ts", "f.strategy_id")
    # side, liquidity, token and strategy packed in one number: a million rows fetch 6 values each, not 9
    flags = (
        "(f.side = 'BUY') + 2 * (f.liquidity = 'MAKER') + 4 * COALESCE(f.token_id = m.yes_token_id, 0)"
        f" + 8 * ({case_codes('f.strategy_id', strategies)} + 1)"
    )
    # a temporary copy of the markets keyed by condition id alone: one lookup a fill instead of two
    conn.execute("DROP TABLE IF EXISTS temp.market_keys")
    conn.execute(
        "CREATE TEMP TABLE market_keys (condition_id TEXT PRIMARY KEY, rowid_ INTEGER, yes_token_id TEXT)"
        " WITHOUT ROWID"
    )
    conn.execute("INSERT INTO temp.market_keys SELECT condition_id, rowid, yes_token_id FROM main.markets")
    sql = (
        f"SELECT f.ts, CAST(f.price AS REAL), CAST(f.size AS REAL), CAST(f.fee AS REAL), {flags},"
        " COALESCE(m.rowid_, 0) FROM fills f LEFT JOIN temp.market_keys m ON m.condition_id = f.condition_id"
        f" WHERE f.status != 'FAILED'{where}"
    )
    a = numeric(conn, sql, args, 6)
    rowids = [r[0] for r in conn.execute("SELECT rowid FROM markets ORDER BY rowid")]
    position = np.full((max(rowids) + 1) if rowids else 1, -1, dtype=np.int64)
    position[np.array(rowids, dtype=np.int64)] = np.arange(len(rowids))
    rowid = a[:, 5].astype(np.int64)
    packed = a[:, 4].astype(np.int64)
    return Fills(
        ts=a[:, 0].astype(np.int64),
        price=units(a[:, 1], PRICE_UNITS),
        size=units(a[:, 2], SIZE_UNITS),
        fee=units(a[:, 3], 100_000) * (MONEY_UNITS // 100_000),
        sign=np.where(packed & 1, 1, -1).astype(np.int64),
        maker=(packed & 2) > 0,
        market=np.where(rowid > 0, position[np.clip(rowid, 0, len(position) - 1)], -1),
        yes=(packed & 4) > 0,
        strategy=(packed >> 3) - 1,
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
    "read_fills",
    "read_ledger",
    "read_meta",
    "units",
]
