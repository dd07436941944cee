"""The engine's ledger: an SQLite database written through a write-ahead batch.

Design in one paragraph: the engine calls cheap synchronous ``add_*`` / ``upsert_*`` / ``update_*``
methods that validate their arguments, build ONE tuple and append it to an in-memory pending list.
``await flush()`` writes everything pending in a single transaction (one ``executemany`` per table)
and commits. The engine awaits ``flush()`` before every venue action, so anything that led to an
order is durable before the order exists. A failed flush rolls back and keeps every pending row, so
nothing is lost and a later flush retries.

Ordering inside a flush: queued UPDATEs run first (in the order they were queued), then INSERTs in a
fixed table order. UPDATEs therefore only touch rows committed by earlier flushes; rows still pending
when an UPDATE is queued are patched in memory at queue time. Together this gives exactly the same
result as executing every call immediately, in call order (e.g. ``resume_halts`` followed by a new
``add_halt`` in the same batch leaves the new halt active) while keeping one executemany per table.

Money is validated at queue time as well: a flush should only ever fail for environmental reasons
(disk, locks), never because of a bad row, since a bad row would be retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import aiosqlite
import orjson

__all__ = ["MONEY_COLUMNS", "TABLES", "TERMINAL_ORDER_STATES", "Store", "StoreError"]


class StoreError(Exception):
    """Ledger problem the caller cannot fix by retrying with other arguments (schema, closed store)."""


# Order states after which the venue will never change the order again; everything else must be
# reconciled against the venue on restart.
TERMINAL_ORDER_STATES: frozenset[str] = frozenset({"FILLED", "CANCELLED", "EXPIRED", "REJECTED", "FAILED"})

_MIGRATION_NAME = re.compile(r"(\d{4})_([A-Za-z0-9_]+)\.sql")
_ORJSON_OPTS = orjson.OPT_NON_STR_KEYS
# Sentinel for "keyword not passed", distinct from an explicit None.
_MISSING: Any = object()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(value: Any) -> str:
    # default=str: Decimal (and anything else orjson does not know) is written as its exact str().
    return orjson.dumps(value, default=str, option=_ORJSON_OPTS).decode()


# --------------------------------------------------------------------------------------------------
# Column converters. A converter maps one caller value (or _MISSING when the keyword was omitted) to
# the value to bind. Each one is complete on its own (None, defaults, enums, validation, errors), and
# the row builders further down only call them in column order, so the semantics live in one place.
# --------------------------------------------------------------------------------------------------

Converter = Callable[[Any], Any]


def _absent(where: str, nullable: bool, default: Any, v: Any) -> Any:
    """Shared handling of a missing or None value."""
    if v is _MISSING:
        if default is not _MISSING:
            return default
        if nullable:
            return None
        raise TypeError(f"{where} is required")
    if nullable:
        return None
    raise TypeError(f"{where} may not be None")


def _text(where: str, nullable: bool, default: Any) -> Converter:
    def conv(v: Any) -> Any:
        if type(v) is str:
            return v
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        if isinstance(v, str):  # StrEnum and other str subclasses: bind the plain string
            return str.__str__(v)
        if isinstance(v, Enum) and isinstance(v.value, str):
            return v.value
        raise TypeError(f"{where} must be str, got {type(v).__name__}")

    return conv


def _label(where: str, nullable: bool, default: Any) -> Converter:
    """Free-form TEXT that may be fed numbers (halt trigger values/thresholds)."""

    def conv(v: Any) -> Any:
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        if isinstance(v, Decimal):
            return _plain(v)
        if isinstance(v, Enum):
            return str(v.value)
        return str(v)

    return conv


def _int(where: str, nullable: bool, default: Any) -> Converter:
    def conv(v: Any) -> Any:
        if type(v) is int:
            return v
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        try:
            # operator.index accepts bool and numpy ints but refuses floats, so a float timestamp
            # (seconds-vs-milliseconds bugs) is caught here instead of silently truncated.
            return operator.index(v)
        except TypeError:
            raise TypeError(f"{where} must be int, got {type(v).__name__}") from None

    return conv


def _real(where: str, nullable: bool, default: Any) -> Converter:
    def conv(v: Any) -> Any:
        if type(v) is float:
            return v
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        if isinstance(v, float | int | Decimal):
            return float(v)
        raise TypeError(f"{where} must be float, got {type(v).__name__}")

    return conv


def _plain(d: Decimal) -> str:
    """Exact decimal text without exponent: Decimal('1e-10') -> '0.0000000001'.

    Same value either way, but plain notation is readable and castable by any SQLite tool. str() is
    3x cheaper than format() and already plain unless the exponent is large, hence the check.
    """
    s = str(d)
    return format(d, "f") if "E" in s else s


def _money(where: str, nullable: bool, default: Any) -> Converter:
    def conv(v: Any) -> Any:
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        if isinstance(v, float):
            raise TypeError(f"{where} is money: pass Decimal or str, never float (got {v!r})")
        if isinstance(v, bool):
            raise TypeError(f"{where} is money: got bool {v!r}")
        if isinstance(v, int):
            return str(int(v))
        if isinstance(v, str):
            try:
                d = Decimal(v)
            except InvalidOperation:
                raise ValueError(f"{where} is money: {v!r} is not a decimal number") from None
        elif isinstance(v, Decimal):
            d = v
        else:
            raise TypeError(f"{where} is money: pass Decimal or str, got {type(v).__name__}")
        if not d.is_finite():
            raise ValueError(f"{where} is money: {v!r} is not finite")
        return _plain(d)

    return conv


def _json(where: str, nullable: bool, default: Any, *, raw_str: bool) -> Converter:
    """``x_json=`` takes a str that is already JSON (``raw_str``) or an object; ``x=`` always serialises."""

    def conv(v: Any) -> Any:
        if v is _MISSING or v is None:
            return _absent(where, nullable, default, v)
        if raw_str and type(v) is str:
            return v
        return _dumps(v)

    return conv


_KINDS: dict[str, Callable[[str, bool, Any], Converter]] = {
    "text": _text,
    "label": _label,
    "int": _int,
    "real": _real,
    "money": _money,
    "json": partial(_json, raw_str=True),
}


class Col(NamedTuple):
    name: str
    kind: str  # key of _KINDS
    nullable: bool = False
    default: Any = _MISSING  # stored form used when the keyword is omitted


@dataclass(frozen=True, slots=True)
class Table:
    """Static description of one ledger table (excluding its AUTOINCREMENT id, which SQLite assigns)."""

    name: str
    cols: tuple[Col, ...]
    conflict: str = ""  # appended to the INSERT (upsert / ignore clauses)
    key: str | None = None  # column whose pending rows are indexed for O(1) status patches

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cols)

    @property
    def money(self) -> frozenset[str]:
        return frozenset(c.name for c in self.cols if c.kind == "money")

    def position(self, column: str) -> int:
        return self.columns.index(column)


def C(name: str, kind: str = "text", nullable: bool = False, default: Any = _MISSING) -> Col:
    """Terse column constructor so the table definitions below read like the schema."""
    return Col(name, kind, nullable, default)


def _upsert_all(key: str | tuple[str, ...], cols: Iterable[str], keep_if_null: Iterable[str] = ()) -> str:
    keys = (key,) if isinstance(key, str) else key
    keep = set(keep_if_null)
    sets = ", ".join(
        f"{c} = COALESCE(excluded.{c}, {c})" if c in keep else f"{c} = excluded.{c}"
        for c in cols
        if c not in keys
    )
    return f" ON CONFLICT({', '.join(keys)}) DO UPDATE SET {sets}"


_RUNS = Table(
    "runs",
    (
        C("run_id"), C("started_ts", "int"), C("ended_ts", "int", True), C("venue"), C("mode"),
        C("seed", "int", True), C("config_json", "json", default="{}"), C("summary_json", "json", True),
        C("account", default=""),
    ),
)  # fmt: skip

_ACCOUNT_COLS = (
    C("account"), C("created_ts", "int"), C("starting_cash", "money"), C("venue_cash_start", "money", True),
)  # fmt: skip
# An account's ledger begins once; a later run of it must not move where it began.
_ACCOUNTS = Table("accounts", _ACCOUNT_COLS, conflict=" ON CONFLICT(account) DO NOTHING")

_ENGINE_STATE_COLS = (C("account"), C("run_id"), C("ts", "int"), C("state_json", "json"))
_ENGINE_STATE = Table(
    "engine_state", _ENGINE_STATE_COLS, conflict=_upsert_all("account", (c.name for c in _ENGINE_STATE_COLS))
)

_MARKET_COLS = (
    C("condition_id"), C("slug"), C("question"), C("category"), C("yes_token_id"), C("no_token_id"),
    C("yes_outcome"), C("no_outcome"), C("tick_size", "money"), C("min_order_size", "money"),
    C("neg_risk", "int"), C("fee_rate", "money"), C("fee_exponent", "int"), C("start_ts", "int", True),
    C("end_ts", "int", True), C("cluster", "text", True), C("resolved_ts", "int", True),
    C("yes_payout", "money", True), C("updated_ts", "int"),
)  # fmt: skip
_MARKETS = Table(
    "markets",
    _MARKET_COLS,
    # A metadata refresh overwrites everything (tick size can change mid-life) except that a NULL in
    # an optional column means "not known by this source", so it must not erase a known resolution.
    conflict=_upsert_all(
        "condition_id",
        (c.name for c in _MARKET_COLS),
        keep_if_null=("start_ts", "end_ts", "cluster", "resolved_ts", "yes_payout"),
    ),
)

_EVALUATIONS = Table(
    "evaluations",
    (
        # p_hat and its band are NULL when the brain declined (no book to judge by): a decline, with its reason.
        C("run_id"), C("ts", "int"), C("condition_id"), C("brain"), C("p_hat", "real", True),
        C("ci_low", "real", True), C("ci_high", "real", True), C("market_mid", "real", True), C("best_bid", "money", True),
        C("best_ask", "money", True), C("spread", "real", True), C("depth_usdc", "real", True),
        C("time_to_close_s", "real", True), C("decision"), C("reason", default=""),
        C("details_json", "json", default="{}"), C("outcome", "real", True),
        C("strategy_id", default="value"),
    ),
)  # fmt: skip

_PROPOSALS = Table(
    "proposals",
    (
        C("id"), C("run_id"), C("ts", "int"), C("evaluation_id", "int", True), C("condition_id"),
        C("token_id"), C("outcome"), C("side"), C("order_type"), C("post_only", "int"),
        C("price", "money"), C("size", "money"), C("p_hat", "real", True), C("ci_low", "real", True),
        C("ci_high", "real", True), C("edge_net", "real", True), C("kelly_fraction", "real", True),
        C("binding_cap"), C("expected_slippage_bps", "real", True), C("expires_ts", "int"), C("status"),
        C("rationale_json", "json", default="{}"), C("reason", default=""), C("expires_wall", "int", True),
        C("strategy_id", default="value"),
    ),
    key="id",
)  # fmt: skip

_DECISIONS = Table(
    "decisions",
    (
        C("proposal_id"), C("ts", "int"), C("action"), C("actor"), C("size", "money", True),
        C("note", default=""),
    ),
)  # fmt: skip

_ORDER_COLS = (
    C("client_order_id"), C("run_id"), C("ts", "int"), C("proposal_id", "text", True), C("condition_id"),
    C("token_id"), C("side"), C("order_type"), C("post_only", "int"), C("price", "money"),
    C("size", "money"), C("expiration", "int", True), C("state"), C("venue_order_id", "text", True),
    C("filled", "money", default="0"), C("updated_ts", "int"), C("strategy_id", default="value"),
)  # fmt: skip
_ORDER_INTENTS = Table(
    "order_intents",
    _ORDER_COLS,
    # The intent itself is immutable once recorded; only its lifecycle moves. A later upsert without
    # the venue id (e.g. a timeout path) must not forget an id we already learned.
    conflict=(
        " ON CONFLICT(client_order_id) DO UPDATE SET state = excluded.state,"
        " venue_order_id = COALESCE(excluded.venue_order_id, venue_order_id),"
        " filled = excluded.filled, updated_ts = excluded.updated_ts"
    ),
)

_ORDER_EVENTS = Table(
    "order_events",
    (
        # state_from is NULL for the event that creates an order (there is no previous state).
        C("client_order_id"), C("ts", "int"), C("state_from", "text", True), C("state_to"), C("cause"),
        C("venue_order_id", "text", True), C("detail_json", "json", default="{}"),
    ),
)  # fmt: skip

_FILLS = Table(
    "fills",
    (
        C("trade_id"), C("client_order_id"), C("ts", "int"), C("condition_id"), C("token_id"), C("side"),
        C("price", "money"), C("size", "money"), C("fee", "money"), C("liquidity"), C("status"),
        C("strategy_id", default="value"),
    ),
    # Dedup happens in memory (add_fill); DO NOTHING is a backstop so a duplicate can never make
    # flush fail forever (e.g. another process wrote the same trade meanwhile).
    conflict=" ON CONFLICT(trade_id) DO NOTHING",
    key="trade_id",
)  # fmt: skip

_SETTLEMENTS = Table(
    "settlements",
    (
        C("run_id"), C("ts", "int"), C("condition_id"), C("token_id"), C("size", "money"),
        C("payout_per_share", "money"), C("cash", "money"),
    ),
)  # fmt: skip

_POSITION_COLS = (
    C("account", default=""), C("token_id"), C("condition_id"), C("outcome"), C("size", "money"), C("avg_price", "money"),
    C("cost", "money"), C("realized_pnl", "money"), C("updated_ts", "int"),
)  # fmt: skip
_POSITIONS = Table(
    "positions",
    _POSITION_COLS,
    conflict=_upsert_all(("account", "token_id"), (c.name for c in _POSITION_COLS)),
)

_PNL_SNAPSHOTS = Table(
    "pnl_snapshots",
    (
        C("run_id"), C("ts", "int"), C("cash", "money"), C("positions_value", "money"), C("equity", "money"),
        C("realized", "money"), C("unrealized", "money"), C("fees", "money"), C("high_water", "money"),
        C("drawdown", "real"), C("day_pnl", "money"), C("week_pnl", "money"), C("open_positions", "int"),
        C("open_orders", "int"), C("strategy_id", default=""),
    ),
)  # fmt: skip

_HALTS = Table(
    "halts",
    (
        C("run_id"), C("ts", "int"), C("kind"), C("reason"), C("trigger_value", "label", True),
        C("threshold", "label", True), C("action"), C("resumed_ts", "int", True),
        C("resumed_by", "text", True),
    ),
)  # fmt: skip

_MANDATES = Table(
    "mandates",
    (
        C("id"), C("run_id"), C("ts", "int"), C("strategy_id"), C("condition_id"), C("sides"),
        C("max_order_size", "money"), C("max_inventory", "money"), C("band_low", "money"),
        C("band_high", "money"), C("lifetime_s", "int"), C("status"), C("decided_ts", "int", True),
        C("decided_by", "text", True), C("expires_ts", "int", True), C("ended_ts", "int", True),
        C("ended_by", "text", True), C("reason", default=""), C("rationale_json", "json", default="{}"),
    ),
    conflict=_upsert_all("id", (
        "id", "run_id", "ts", "strategy_id", "condition_id", "sides", "max_order_size", "max_inventory",
        "band_low", "band_high", "lifetime_s", "status", "decided_ts", "decided_by", "expires_ts", "ended_ts",
        "ended_by", "reason", "rationale_json",
    )),
)  # fmt: skip

_MARKOUTS = Table(
    "markouts",
    (
        C("run_id"), C("trade_id"), C("ts", "int"), C("strategy_id"), C("condition_id"), C("horizon_s", "int"),
        C("cents", "real"), C("maker", "int"),
    ),
)  # fmt: skip

_MAKER_INCOME = Table(
    "maker_income",
    (
        C("run_id"), C("ts", "int"), C("strategy_id"), C("condition_id"), C("kind"), C("amount", "money"),
        C("detail_json", "json", default="{}"),
    ),
)  # fmt: skip

_HEALTH = Table(
    "health",
    (
        C("run_id"), C("ts", "int"), C("books", "int"), C("stale_books", "int"), C("feed_age_ms", "int"),
        C("reconnects", "int"), C("market_events", "int"),
    ),
)  # fmt: skip

# Insert order inside a flush: parents before children so a reader never sees an orphan that is
# about to be explained by the same transaction (foreign keys are off, this is for humans/tools).
TABLES: tuple[Table, ...] = (
    _RUNS, _ACCOUNTS, _MARKETS, _EVALUATIONS, _MANDATES, _PROPOSALS, _DECISIONS, _ORDER_INTENTS, _ORDER_EVENTS,
    _FILLS, _SETTLEMENTS, _POSITIONS, _PNL_SNAPSHOTS, _HALTS, _ENGINE_STATE, _MARKOUTS, _MAKER_INCOME,
    _HEALTH,
)  # fmt: skip
_TABLE_NAMES: frozenset[str] = frozenset(t.name for t in TABLES) | {"schema_version"}

# fetch_all converts by column NAME (it runs arbitrary SQL), so a name must mean money everywhere
# it appears. True for this schema: e.g. `outcome` is never money, `size` always is.
MONEY_COLUMNS: frozenset[str] = frozenset().union(*(t.money for t in TABLES))


Builder = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def _unknown_columns(table: str, accepted: frozenset[str], cols: Mapping[str, Any]) -> None:
    raise TypeError(f"{table}: unknown column(s) {', '.join(sorted(set(cols) - accepted))}")


def _make_builder(table: Table) -> Builder:
    """``build(cols) -> row tuple`` for one table: each column through its kind's converter, in order.

    A JSON column ``x_json`` also accepts the unserialised object under ``x`` (``details=`` for
    ``details_json``); the already-serialised text wins when both are given.
    """
    accepted = {c.name for c in table.cols}
    specs: list[tuple[str, Converter, str | None, Converter | None]] = []
    for col in table.cols:
        where = f"{table.name}.{col.name}"
        convert = _KINDS[col.kind](where, col.nullable, col.default)
        if col.kind == "json":
            alias = col.name.removesuffix("_json")
            accepted.add(alias)
            specs.append((col.name, convert, alias, _json(where, col.nullable, col.default, raw_str=False)))
        else:
            specs.append((col.name, convert, None, None))
    accepted_names = frozenset(accepted)
    name = table.name

    def build(cols: Mapping[str, Any]) -> tuple[Any, ...]:
        if not accepted_names.issuperset(cols):
            _unknown_columns(name, accepted_names, cols)
        get = cols.get
        row = []
        for column, convert, alias, alias_convert in specs:
            value = get(column, _MISSING)
            if value is _MISSING and alias_convert is not None:
                row.append(alias_convert(get(alias, _MISSING)))
            else:
                row.append(convert(value))
        return tuple(row)

    return build


def _insert_sql(table: Table) -> str:
    names = table.columns
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        f"{table.conflict}"
    )


_BUILDERS: dict[str, Builder] = {t.name: _make_builder(t) for t in TABLES}
_INSERT_SQL: dict[str, str] = {t.name: _insert_sql(t) for t in TABLES}
_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
_KEY_POSITION: dict[str, int] = {t.name: t.position(t.key) for t in TABLES if t.key}


class _Update(NamedTuple):
    """A queued UPDATE plus the equivalent in-memory patch for rows that are still pending."""

    table: str
    sql: str
    params: tuple[Any, ...]
    where: tuple[tuple[int, Any], ...]  # (column position, required value); None means IS NULL
    sets: tuple[tuple[int, Any], ...]  # (column position, new value)
    key: Any = None  # value of Table.key when the update targets a single keyed row


def _patch(rows: list[tuple[Any, ...]], upd: _Update, index: dict[Any, int] | None) -> None:
    """Apply `upd` in place to the matching tuples of `rows` (pending, not yet in the database)."""
    if index is not None and upd.key is not None:
        pos = index.get(upd.key)
        candidates: Iterable[int] = () if pos is None else (pos,)
    else:
        # Cheap first-condition filter: resolve_evaluations may scan thousands of pending rows.
        c0, v0 = upd.where[0]
        candidates = [i for i, row in enumerate(rows) if row[c0] == v0]
    for i in candidates:
        row = rows[i]
        if all(row[c] == v for c, v in upd.where):
            patched = list(row)
            for c, v in upd.sets:
                patched[c] = v
            rows[i] = tuple(patched)


def _decimalise(value: Any) -> Any:
    if type(value) is str or type(value) is int:
        return Decimal(value)
    return value  # None stays None; REAL produced by SQL arithmetic (SUM etc.) is left alone


# --------------------------------------------------------------------------------------------------
# Migrations
# --------------------------------------------------------------------------------------------------


class Migration(NamedTuple):
    version: int
    name: str
    filename: str
    sql: str


def load_migrations() -> list[Migration]:
    """All bundled migrations, sorted. Misnamed or duplicate files are a packaging bug: fail loudly."""
    root = resources.files(__package__ or __name__).joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _MIGRATION_NAME.fullmatch(entry.name)
        if m is None:
            raise StoreError(f"migration file {entry.name!r} does not match NNNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise StoreError(
                f"two migrations share version {version}: {found[version].filename}, {entry.name}"
            )
        found[version] = Migration(version, m.group(2), entry.name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def _schema_version(db: aiosqlite.Connection) -> int:
    rows = list(await db.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
    return int(rows[0][0])


async def _migrate(db: aiosqlite.Connection, path: str) -> None:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ts INTEGER NOT NULL)"
    )
    migrations = load_migrations()
    known = migrations[-1].version if migrations else 0
    current = await _schema_version(db)
    if current > known:
        raise StoreError(
            f"{path}: database schema version {current} is newer than this code supports ({known}); "
            "upgrade the engine or use another database file"
        )
    for mig in migrations:
        if mig.version <= current:
            continue
        # One script = one transaction: the DDL and its schema_version row land together or not at
        # all. (executescript would commit an open transaction first, so BEGIN lives in the script.)
        script = (
            f"BEGIN IMMEDIATE;\n{mig.sql}\n;\n"
            f"INSERT INTO schema_version (version, name, applied_ts) "
            f"VALUES ({mig.version}, '{mig.name}', {_now_ms()});\nCOMMIT;"
        )
        try:
            await db.executescript(script)
        except sqlite3.Error as exc:
            if db.in_transaction:
                await db.rollback()
            # Another process may have applied the same migration between our read and our BEGIN.
            if await _schema_version(db) >= mig.version:
                continue
            raise StoreError(f"{path}: migration {mig.filename} failed: {exc}") from exc
        current = mig.version


# --------------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------------


def _wake_up(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _check_integrity(db: aiosqlite.Connection, path: str) -> None:
    """`PRAGMA quick_check` (reads every page, writes nothing): a file that is not an SQLite database, or
    one whose pages are damaged, stops the run with one line naming the file and what to do."""
    what_to_do = (
        "nothing was written to it; restore it from a backup, or move it aside and start with a new --db file"
    )
    try:
        rows = list(await db.execute_fetchall("PRAGMA quick_check"))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc}); {what_to_do}") from None
    problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    if problems:
        first = problems[0].replace("\n", " ")[:120]
        raise StoreError(
            f"{path}: the database is corrupted ({len(problems)} problem(s), first: {first}); {what_to_do}"
        )


class Store:
    """Write-ahead batched ledger. Use ``await Store.open(path)``; the constructor is internal."""

    path: str

    def __init__(self, path: str, db: aiosqlite.Connection, trade_ids: set[str]) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = db
        # Serialises flushes and reads: a read must not observe a half-written flush transaction on
        # the shared connection, and two concurrent flushes must not interleave their BEGIN/COMMIT.
        self._lock = asyncio.Lock()
        self._pending: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in TABLES}
        self._updates: list[_Update] = []
        self._n_pending = 0
        # key -> position in the pending list, for tables with O(1) status patches.
        self._index: dict[str, dict[Any, int]] = {t.name: {} for t in TABLES if t.key}
        # Every trade id already committed or pending: the venue re-sends trades (reconnects, REST
        # backfill) and a fill must be counted once, across flushes and restarts.
        self._trade_ids = trade_ids
        self._wake: asyncio.Future[None] | None = None
        self._flush_requested = False

    # ---------------------------------------------------------------------------------- lifecycle

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Store:
        path = os.fspath(path)
        is_uri = path.startswith("file:")
        if path != ":memory:" and not is_uri:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; flush issues BEGIN/COMMIT itself.
        db = await aiosqlite.connect(path, isolation_level=None, uri=is_uri)
        try:
            # Before anything could write to it: a damaged file is refused, never appended to.
            await _check_integrity(db, path)
            # WAL lets readers (TUI, analytics) run while the engine writes; NORMAL is durable
            # against process crashes in WAL mode, which is what write-ahead needs.
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA foreign_keys=OFF")
            await db.execute("PRAGMA busy_timeout=5000")
            await _migrate(db, path)
            rows = await db.execute_fetchall("SELECT trade_id FROM fills")
            trade_ids = {r[0] for r in rows}
        except BaseException:
            # aiosqlite's worker thread is not a daemon: leaking it would hang interpreter exit.
            await db.close()
            raise
        return cls(path, db, trade_ids)

    @property
    def closed(self) -> bool:
        return self._db is None

    async def close(self) -> None:
        """Flush, then close. The connection is closed even if the flush fails (the error is re-raised
        and the unwritten rows stay visible via pending_count())."""
        if self._db is None:
            return
        try:
            await self.flush()
        finally:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: store is closed")
        return self._db

    # ---------------------------------------------------------------------------------- flushing

    def request_flush(self) -> None:
        """Ask the group-commit loop to write now instead of at its next tick (a halt, a breaker trip)."""
        self._flush_requested = True
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def commit_loop(self, interval_s: float = 0.5, before: Callable[[], None] | None = None) -> None:
        """Group commit: whatever is queued reaches the database within `interval_s` (or at once after
        `request_flush`); `before` runs first each time (the engine queues its state). A failed write raises
        here, so the supervisor sees it: the ledger can no longer promise durability, new risk must stop.
        (A plain future and a timer, not `wait_for`: on Python 3.11 `wait_for` can swallow the cancellation
        that stops this loop when the wake-up lands at the same moment.)"""
        loop = asyncio.get_running_loop()
        while True:
            if not self._flush_requested:
                wake = self._wake = loop.create_future()
                timer = loop.call_later(interval_s, _wake_up, wake)
                try:
                    await wake
                finally:
                    timer.cancel()
                    self._wake = None
            self._flush_requested = False
            if before is not None:
                before()
            await self.flush()

    def pending_count(self) -> int:
        """Queued operations (inserts, upserts and updates) not yet committed."""
        return self._n_pending

    async def flush(self) -> int:
        """Write everything pending in one transaction; return the number of operations written."""
        async with self._lock:
            if not self._n_pending:
                return 0
            db = self._conn()
            # Swap the pending state out before the first await: add_* calls made while the
            # transaction is in flight go to fresh lists and are never half-included.
            batch, updates, n = self._pending, self._updates, self._n_pending
            self._pending = {t.name: [] for t in TABLES}
            self._updates = []
            self._n_pending = 0
            self._index = {name: {} for name in self._index}
            commit_sent = False
            try:
                await db.execute("BEGIN IMMEDIATE")
                for sql, params in _group_updates(updates):
                    await db.executemany(sql, params)
                for table in TABLES:
                    rows = batch[table.name]
                    if rows:
                        await db.executemany(_INSERT_SQL[table.name], rows)
                commit_sent = True
                await db.commit()
            except BaseException as exc:
                # If we were cancelled while COMMIT was already queued on the worker thread, it may
                # have landed: restoring the rows then would write them twice.
                if commit_sent and isinstance(exc, asyncio.CancelledError) and await self._commit_landed(db):
                    raise
                await self._rollback_quietly(db)
                self._restore(batch, updates, n)
                raise
            return n

    @staticmethod
    async def _commit_landed(db: aiosqlite.Connection) -> bool:
        try:
            # Barrier: the worker thread runs calls in order, so once this returns the COMMIT has run.
            await db.execute("SELECT 1")
        except BaseException:
            return False
        return not db.in_transaction

    @staticmethod
    async def _rollback_quietly(db: aiosqlite.Connection) -> None:
        # The connection may be gone; the original error is the one worth raising.
        with contextlib.suppress(Exception):
            await db.rollback()

    def _restore(self, batch: dict[str, list[tuple[Any, ...]]], updates: list[_Update], n: int) -> None:
        """Put a failed batch back in front of whatever was queued while it was in flight."""
        during = self._updates
        restored: dict[str, list[tuple[Any, ...]]] = {}
        for name, rows in batch.items():
            old = list(rows)  # copy: never mutate a list the worker thread might still hold
            # Updates queued during the flight only patched the then-pending rows and will run as SQL
            # before these inserts, so they must be applied to the restored rows here.
            for upd in during:
                if upd.table == name and old:
                    _patch(old, upd, None)
            restored[name] = old + self._pending[name]
        self._pending = restored
        self._updates = updates + during
        self._n_pending += n
        for name in self._index:
            pos = _KEY_POSITION[name]
            self._index[name] = {row[pos]: i for i, row in enumerate(self._pending[name])}

    # ---------------------------------------------------------------------------------- queueing

    def _append(self, table: str, cols: Mapping[str, Any]) -> tuple[Any, ...]:
        if self._db is None:
            raise StoreError(f"{self.path}: store is closed")
        row = _BUILDERS[table](cols)
        self._pending[table].append(row)
        self._n_pending += 1
        return row

    def _queue_update(self, upd: _Update) -> None:
        if self._db is None:
            raise StoreError(f"{self.path}: store is closed")
        _patch(self._pending[upd.table], upd, self._index.get(upd.table))
        self._updates.append(upd)
        self._n_pending += 1

    def start_run(self, *, run_id: str, started_ts: int, venue: str, mode: str, seed: int | None,
                  config: dict[str, Any], account: str = "") -> None:  # fmt: skip
        self._append(
            "runs",
            {"run_id": run_id, "started_ts": started_ts, "venue": venue, "mode": mode, "seed": seed,
             "config": config, "account": account},
        )  # fmt: skip

    def add_account(self, *, account: str, created_ts: int, starting_cash: Decimal,
                    venue_cash_start: Decimal | None) -> None:  # fmt: skip
        """Where an account's ledger began (a no-op once it exists)."""
        self._append(
            "accounts",
            {"account": account, "created_ts": created_ts, "starting_cash": starting_cash,
             "venue_cash_start": venue_cash_start},
        )  # fmt: skip

    def save_engine_state(self, *, account: str, run_id: str, ts: int, state: dict[str, Any]) -> None:
        """What a restart must restore beyond fills and intents (breakers, halt, high-water mark); the
        newest row per account wins. Queued rows of the same account are replaced, not stacked."""
        row = _BUILDERS["engine_state"]({"account": account, "run_id": run_id, "ts": ts, "state": state})
        pending = self._pending["engine_state"]
        for i, queued in enumerate(pending):
            if queued[0] == account:
                pending[i] = row
                return
        self._append_built("engine_state", row, {}, account)

    def end_run(self, *, run_id: str, ended_ts: int, summary: dict[str, Any]) -> None:
        ended = _RUNS_ENDED(ended_ts)
        summary_json = _dumps(summary)
        self._queue_update(
            _Update(
                "runs",
                "UPDATE runs SET ended_ts = ?, summary_json = ? WHERE run_id = ?",
                (ended, summary_json, run_id),
                where=((_RUNS.position("run_id"), run_id),),
                sets=((_RUNS.position("ended_ts"), ended), (_RUNS.position("summary_json"), summary_json)),
            )
        )

    def upsert_market(self, **cols: Any) -> None:
        self._append("markets", cols)

    def add_evaluation(self, **cols: Any) -> None:
        self._append("evaluations", cols)

    def resolve_evaluations(self, condition_id: str, outcome: float) -> None:
        """Label every evaluation of one market with its realised outcome (for calibration)."""
        value = _EVAL_OUTCOME(outcome)
        self._queue_update(
            _Update(
                "evaluations",
                "UPDATE evaluations SET outcome = ? WHERE condition_id = ?",
                (value, condition_id),
                where=((_EVALUATIONS.position("condition_id"), condition_id),),
                sets=((_EVALUATIONS.position("outcome"), value),),
            )
        )

    def add_proposal(self, **cols: Any) -> None:
        row = _BUILDERS["proposals"](cols)
        index = self._index["proposals"]
        key = row[0]
        if key in index:
            # Caught here rather than as an IntegrityError at flush, which would fail every retry.
            raise StoreError(f"proposal {key!r} is already pending")
        self._append_built("proposals", row, index, key)

    def update_proposal_status(self, proposal_id: str, status: str, reason: str | None = None) -> None:
        """New status; with `reason`, also why (the refusing rule and its value, a note, a cause)."""
        if reason is None:
            self._queue_keyed_status("proposals", "id", proposal_id, status)
            return
        status = _STATUS(status)
        reason = _PROPOSAL_REASON(reason)
        self._queue_update(
            _Update(
                "proposals",
                "UPDATE proposals SET status = ?, reason = ? WHERE id = ?",
                (status, reason, proposal_id),
                where=((_PROPOSALS.position("id"), proposal_id),),
                sets=((_PROPOSALS.position("status"), status), (_PROPOSALS.position("reason"), reason)),
                key=proposal_id,
            )
        )

    def save_mandate(self, **cols: Any) -> None:
        """The mandate's whole row, as it stands now (one row per mandate, replaced as it moves)."""
        self._append("mandates", cols)

    def add_decision(self, **cols: Any) -> None:
        self._append("decisions", cols)

    def upsert_order(self, **cols: Any) -> None:
        """Full intent snapshot each time; on conflict only state/venue_order_id/filled/updated_ts move."""
        self._append("order_intents", cols)

    def add_order_event(self, **cols: Any) -> None:
        self._append("order_events", cols)

    def add_fill(self, **cols: Any) -> bool:
        """Queue a fill; False (and nothing queued) if this trade_id was already seen."""
        row = _BUILDERS["fills"](cols)  # validate first so a bad call never poisons the id set
        trade_id = row[0]
        if trade_id in self._trade_ids:
            return False
        self._append_built("fills", row, self._index["fills"], trade_id)
        self._trade_ids.add(trade_id)
        return True

    def update_fill_status(self, trade_id: str, status: str) -> None:
        self._queue_keyed_status("fills", "trade_id", trade_id, status)

    def add_settlement(self, **cols: Any) -> None:
        self._append("settlements", cols)

    def upsert_position(self, **cols: Any) -> None:
        self._append("positions", cols)

    def add_pnl_snapshot(self, **cols: Any) -> None:
        self._append("pnl_snapshots", cols)

    def add_markout(self, **cols: Any) -> None:
        self._append("markouts", cols)

    def add_maker_income(self, **cols: Any) -> None:
        """A REWARD estimate or a REBATE, in USDC: its own line, never cash or P&L."""
        self._append("maker_income", cols)

    def add_health(self, **cols: Any) -> None:
        """The feed as the engine saw it at a P&L snapshot (migration 0008)."""
        self._append("health", cols)

    def add_halt(self, **cols: Any) -> None:
        self._append("halts", cols)

    def resume_halts(self, *, run_id: str, ts: int, by: str, kind: str | None = None) -> None:
        """Mark every still-active halt of `run_id` (of one `kind` only, when given: a breaker that resumed
        by itself) as resumed; halts added later stay active."""
        ts = _HALT_RESUMED(ts)
        by = _HALT_RESUMED_BY(by)
        where = [(_HALTS.position("run_id"), run_id), (_HALTS.position("resumed_ts"), None)]
        sql = "UPDATE halts SET resumed_ts = ?, resumed_by = ? WHERE run_id = ? AND resumed_ts IS NULL"
        params: tuple[Any, ...] = (ts, by, run_id)
        if kind is not None:
            kind = _HALT_KIND(kind)
            where.append((_HALTS.position("kind"), kind))
            sql += " AND kind = ?"
            params += (kind,)
        self._queue_update(
            _Update(
                "halts",
                sql,
                params,
                where=tuple(where),
                sets=((_HALTS.position("resumed_ts"), ts), (_HALTS.position("resumed_by"), by)),
            )
        )

    def _append_built(self, table: str, row: tuple[Any, ...], index: dict[Any, int], key: Any) -> None:
        if self._db is None:
            raise StoreError(f"{self.path}: store is closed")
        pending = self._pending[table]
        index[key] = len(pending)
        pending.append(row)
        self._n_pending += 1

    def _queue_keyed_status(self, table: str, key_col: str, key: str, status: str) -> None:
        if type(status) is not str:
            status = _STATUS(status)
        spec = _BY_NAME[table]
        self._queue_update(
            _Update(
                table,
                f"UPDATE {table} SET status = ? WHERE {key_col} = ?",
                (status, key),
                where=((spec.position(key_col), key),),
                sets=((spec.position("status"), status),),
                key=key,
            )
        )

    # ---------------------------------------------------------------------------------- reads

    async def count(self, table: str) -> int:
        if table not in _TABLE_NAMES:  # the name is interpolated into SQL, so whitelist it
            raise StoreError(f"unknown table {table!r}")
        rows = await self.fetch_all(f"SELECT COUNT(*) AS n FROM {table}")
        return int(rows[0]["n"])

    async def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows as dicts; columns named like a money column come back as Decimal (None stays None).

        Conversion is by result column name, so alias aggregates (``SUM(size) AS total``) are returned
        as SQLite computed them (REAL): do exact money arithmetic in Python, not SQL.
        """
        async with self._lock:
            cursor = await self._conn().execute(sql, params)
            try:
                rows = await cursor.fetchall()
                names = [d[0] for d in cursor.description or ()]
            finally:
                await cursor.close()
        money = [i for i, n in enumerate(names) if n in MONEY_COLUMNS]
        out: list[dict[str, Any]] = []
        for row in rows:
            values = list(row)
            for i in money:
                values[i] = _decimalise(values[i])
            out.append(dict(zip(names, values, strict=True)))
        return out

    async def open_order_intents(self) -> list[dict[str, Any]]:
        """Intents the venue may still act on; the engine reconciles these against the venue on restart."""
        marks = ", ".join("?" * len(TERMINAL_ORDER_STATES))
        return await self.fetch_all(
            f"SELECT * FROM order_intents WHERE upper(state) NOT IN ({marks}) ORDER BY ts, client_order_id",
            tuple(sorted(TERMINAL_ORDER_STATES)),
        )

    async def account_runs(self, account: str) -> list[dict[str, Any]]:
        """Every run of `account`, oldest first."""
        return await self.fetch_all(
            "SELECT run_id, started_ts, ended_ts, venue, mode FROM runs WHERE account = ? ORDER BY started_ts, rowid",
            (account,),
        )

    async def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs that never recorded their end (killed, or still running in another process)."""
        return await self.fetch_all(
            "SELECT run_id, started_ts, venue, account FROM runs WHERE ended_ts IS NULL ORDER BY started_ts"
        )

    async def account(self, account: str) -> dict[str, Any] | None:
        rows = await self.fetch_all("SELECT * FROM accounts WHERE account = ?", (account,))
        return rows[0] if rows else None

    async def account_fills(self, account: str) -> list[dict[str, Any]]:
        """Every fill of the account's orders that still stands (reversed ones are left out), in the order
        they were applied: replaying them rebuilds its cash and positions exactly."""
        return await self.fetch_all(
            "SELECT f.*, o.run_id, o.strategy_id FROM fills AS f "
            "JOIN order_intents AS o ON o.client_order_id = f.client_order_id "
            "JOIN runs AS r ON r.run_id = o.run_id WHERE r.account = ? AND f.status != 'REVERSED' "
            "ORDER BY f.rowid",
            (account,),
        )

    async def account_settlements(self, account: str) -> list[dict[str, Any]]:
        return await self.fetch_all(
            "SELECT s.* FROM settlements AS s JOIN runs AS r ON r.run_id = s.run_id WHERE r.account = ? "
            "ORDER BY s.id",
            (account,),
        )

    async def account_open_intents(self, account: str) -> list[dict[str, Any]]:
        """The account's intents the venue may still act on, oldest first."""
        marks = ", ".join("?" * len(TERMINAL_ORDER_STATES))
        return await self.fetch_all(
            "SELECT o.* FROM order_intents AS o JOIN runs AS r ON r.run_id = o.run_id "
            f"WHERE r.account = ? AND upper(o.state) NOT IN ({marks}) ORDER BY o.ts, o.client_order_id",
            (account, *sorted(TERMINAL_ORDER_STATES)),
        )

    async def account_venue_order_ids(self, account: str) -> dict[str, str]:
        """venue order id (lower case) -> client order id, for every intent of the account that has one."""
        rows = await self.fetch_all(
            "SELECT o.client_order_id, o.venue_order_id FROM order_intents AS o JOIN runs AS r "
            "ON r.run_id = o.run_id WHERE r.account = ? AND o.venue_order_id IS NOT NULL",
            (account,),
        )
        return {str(r["venue_order_id"]).lower(): r["client_order_id"] for r in rows}

    async def account_pending_proposals(self, account: str) -> list[dict[str, Any]]:
        return await self.fetch_all(
            "SELECT p.* FROM proposals AS p JOIN runs AS r ON r.run_id = p.run_id "
            "WHERE r.account = ? AND p.status = 'PENDING' ORDER BY p.ts, p.id",
            (account,),
        )

    async def engine_state(self, account: str) -> dict[str, Any] | None:
        rows = await self.fetch_all("SELECT * FROM engine_state WHERE account = ?", (account,))
        return orjson.loads(rows[0]["state_json"]) if rows else None

    async def fills_for_run(self, run_id: str) -> list[dict[str, Any]]:
        """Fills of orders placed by `run_id` (fills carry no run_id; ownership is via their order)."""
        return await self.fetch_all(
            "SELECT f.* FROM fills AS f JOIN order_intents AS o ON o.client_order_id = f.client_order_id "
            "WHERE o.run_id = ? ORDER BY f.ts, f.trade_id",
            (run_id,),
        )

    async def halts_for_run(self, run_id: str) -> list[dict[str, Any]]:
        return await self.fetch_all("SELECT * FROM halts WHERE run_id = ? ORDER BY id", (run_id,))


def _group_updates(updates: list[_Update]) -> Iterable[tuple[str, list[tuple[Any, ...]]]]:
    """Consecutive updates with the same SQL become one executemany (status churn is common)."""
    group_sql: str | None = None
    group: list[tuple[Any, ...]] = []
    for upd in updates:
        if upd.sql != group_sql:
            if group_sql is not None:
                yield group_sql, group
            group_sql, group = upd.sql, []
        group.append(upd.params)
    if group_sql is not None:
        yield group_sql, group


# Single-column validators reused by the explicit-signature methods above.
def _single(table: Table, column: str) -> Converter:
    col = next(c for c in table.cols if c.name == column)
    return _KINDS[col.kind](f"{table.name}.{column}", False, _MISSING)


_RUNS_ENDED = _single(_RUNS, "ended_ts")
_EVAL_OUTCOME = _single(_EVALUATIONS, "outcome")
_HALT_RESUMED = _single(_HALTS, "resumed_ts")
_HALT_RESUMED_BY = _single(_HALTS, "resumed_by")
_HALT_KIND = _single(_HALTS, "kind")
_PROPOSAL_REASON = _single(_PROPOSALS, "reason")
_STATUS = _single(_FILLS, "status")
