"""Ledger store: migrations, money exactness, write-ahead batching, idempotent fills, restore on failure.

pytest-asyncio is not installed, so each test is a sync function driving one coroutine with
asyncio.run(); a Store must be opened and closed inside that one event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from engine.store import MONEY_COLUMNS, TABLES, Store, StoreError

RUN = "run-1"
CID_A = "0x" + "a" * 64
CID_B = "0x" + "b" * 64
ORDER_STATES = ("NEW", "SUBMITTED", "LIVE", "PARTIAL", "FILLED", "CANCELLED", "EXPIRED", "REJECTED", "FAILED")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def with_store(path: str | Path, body: Callable[[Store], Awaitable[Any]]) -> Any:
    store = await Store.open(str(path))
    try:
        return await body(store)
    finally:
        await store.close()


def evaluation(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        run_id=RUN, ts=1_000, condition_id=CID_A, brain="base", p_hat=0.55, ci_low=0.5, ci_high=0.6,
        market_mid=0.5, best_bid=Decimal("0.49"), best_ask=Decimal("0.51"), spread=0.02,
        depth_usdc=1000.0, time_to_close_s=3600.0, decision="skip", reason="edge below fee",
        details={"k": Decimal("0.1")},
    )  # fmt: skip
    row.update(over)
    return row


def fill(trade_id: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        trade_id=trade_id, client_order_id="co-1", ts=2_000, condition_id=CID_A, token_id="tok-yes",
        side="BUY", price=Decimal("0.51"), size=Decimal("10"), fee=Decimal("0"), liquidity="TAKER",
        status="MATCHED",
    )  # fmt: skip
    row.update(over)
    return row


def order(client_order_id: str, state: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        client_order_id=client_order_id, run_id=RUN, ts=1_500, proposal_id=None, condition_id=CID_A,
        token_id="tok-yes", side="BUY", order_type="GTC", post_only=True, price=Decimal("0.50"),
        size=Decimal("10"), expiration=None, state=state, venue_order_id=None, filled=Decimal("0"),
        updated_ts=1_500,
    )  # fmt: skip
    row.update(over)
    return row


def halt(ts: int, run_id: str = RUN) -> dict[str, Any]:
    return dict(
        run_id=run_id, ts=ts, kind="drawdown", reason="daily loss limit", trigger_value=Decimal("-51.2"),
        threshold=Decimal("-50"), action="cancel_all",
    )  # fmt: skip


def proposal(pid: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        id=pid, run_id=RUN, ts=1_200, evaluation_id=None, condition_id=CID_A, token_id="tok-yes",
        outcome="Yes", side="BUY", order_type="GTC", post_only=True, price=Decimal("0.50"),
        size=Decimal("20"), p_hat=0.55, ci_low=0.5, ci_high=0.6, edge_net=0.03, kelly_fraction=0.1,
        binding_cap="kelly", expected_slippage_bps=5.0, expires_ts=9_000, status="PENDING",
        rationale={"why": "edge"},
    )  # fmt: skip
    row.update(over)
    return row


# ------------------------------------------------------------------------------------------ migrations


def test_migrations_apply_once_on_file_db_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "ledger.db"  # parent directories must be created

    async def first(store: Store) -> None:
        assert (await store.fetch_all("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
        versions = await store.fetch_all("SELECT version, name FROM schema_version")
        assert versions == [
            {"version": 1, "name": "initial"},
            {"version": 2, "name": "risk"},
            {"version": 3, "name": "resume"},
            {"version": 4, "name": "strategies"},
            {"version": 5, "name": "mandates"},
            {"version": 6, "name": "strategy_ledger"},
            {"version": 7, "name": "maker"},
            {"version": 8, "name": "health"},
        ]
        names = {
            r["name"] for r in await store.fetch_all("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {t.name for t in TABLES} <= names
        indexes = await store.fetch_all("PRAGMA index_list(evaluations)")
        assert {"ix_evaluations_condition", "ix_evaluations_run"} <= {r["name"] for r in indexes}

    run(with_store(path, first))
    assert path.exists()

    async def second(store: Store) -> None:
        assert await store.count("schema_version") == 8  # nothing applied twice

    run(with_store(path, second))


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    run(with_store(path, lambda s: asyncio.sleep(0)))
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'from_the_future', 0)")
    with pytest.raises(StoreError) as err:
        run(Store.open(str(path)))
    message = str(err.value)
    assert str(path) in message and "999" in message and "(8)" in message
    assert "\n" not in message


def test_memory_database_works() -> None:
    async def body(store: Store) -> None:
        store.add_evaluation(**evaluation())
        assert await store.flush() == 1
        assert await store.count("evaluations") == 1

    run(with_store(":memory:", body))


# ------------------------------------------------------------------------------------------ money


def test_decimal_round_trip_is_exact_text() -> None:
    async def body(store: Store) -> None:
        store.add_fill(**fill("t1", price=Decimal("0.123456789"), size=Decimal("1e-10"), fee="0.50"))
        store.add_fill(**fill("t2", price=Decimal("1E+2"), size=7, fee=Decimal("-0.000")))
        await store.flush()
        raw = await store.fetch_all(
            "SELECT trade_id AS t, typeof(price) AS tp, price AS p, size AS s, fee AS f FROM fills ORDER BY trade_id"
        )
        # Plain notation, never REAL, never exponent form.
        assert raw == [
            {"t": "t1", "tp": "text", "p": "0.123456789", "s": "0.0000000001", "f": "0.50"},
            {"t": "t2", "tp": "text", "p": "100", "s": "7", "f": "-0.000"},
        ]
        rows = await store.fetch_all("SELECT * FROM fills ORDER BY trade_id")
        assert rows[0]["price"] == Decimal("0.123456789") and isinstance(rows[0]["price"], Decimal)
        assert rows[0]["size"] == Decimal("1e-10")
        assert str(rows[0]["fee"]) == "0.50"  # trailing zeros (tick precision) survive
        assert rows[1]["price"] == Decimal(100)

    run(with_store(":memory:", body))


def test_nullable_money_and_json_blobs() -> None:
    async def body(store: Store) -> None:
        # Non-str keys (e.g. book levels) are allowed in blobs; Decimal serialises as its exact str.
        store.add_evaluation(**evaluation(best_bid=None, best_ask="0.6", details={1: Decimal("1e-10")}))
        store.start_run(run_id=RUN, started_ts=1, venue="replay", mode="semi", seed=7,
                        config={"bankroll": Decimal("1000.10")})  # fmt: skip
        await store.flush()
        ev = (await store.fetch_all("SELECT * FROM evaluations"))[0]
        assert ev["best_bid"] is None and ev["best_ask"] == Decimal("0.6")
        assert ev["details_json"] == '{"1":"1E-10"}' and ev["outcome"] is None
        runs = await store.fetch_all("SELECT config_json FROM runs")
        assert runs[0]["config_json"] == '{"bankroll":"1000.10"}'

    run(with_store(":memory:", body))


def test_float_money_is_rejected_and_nothing_is_queued() -> None:
    async def body(store: Store) -> None:
        with pytest.raises(TypeError, match=r"fills\.price"):
            store.add_fill(**fill("t1", price=0.51))
        with pytest.raises(TypeError, match=r"evaluations\.best_bid"):
            store.add_evaluation(**evaluation(best_bid=0.49))
        with pytest.raises(ValueError, match=r"fills\.size"):
            store.add_fill(**fill("t1", size=Decimal("NaN")))
        with pytest.raises(ValueError, match=r"fills\.fee"):
            store.add_fill(**fill("t1", fee="1,5"))
        with pytest.raises(TypeError, match=r"fills\.ts"):
            store.add_fill(**fill("t1", ts=2_000.5))  # timestamps are integer ms
        with pytest.raises(TypeError, match=r"unknown column.*colour"):
            store.add_fill(**fill("t1", colour="red"))
        with pytest.raises(TypeError, match=r"fills\.status is required"):
            store.add_fill(**{k: v for k, v in fill("t1").items() if k != "status"})
        assert store.pending_count() == 0
        # The rejected calls must not have marked t1 as seen.
        assert store.add_fill(**fill("t1")) is True

    run(with_store(":memory:", body))


def test_money_column_names_are_unambiguous() -> None:
    # fetch_all converts by column name, so no money name may be a non-money column elsewhere.
    for table in TABLES:
        for col in table.cols:
            if col.name in MONEY_COLUMNS:
                assert col.kind == "money", f"{table.name}.{col.name}"


# ------------------------------------------------------------------------------------------ fills


def test_fills_are_idempotent_across_flushes_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    async def first(store: Store) -> None:
        assert store.add_fill(**fill("t1")) is True
        assert store.add_fill(**fill("t1")) is False  # duplicate while pending
        assert store.pending_count() == 1
        await store.flush()
        assert store.add_fill(**fill("t1")) is False  # duplicate after flush
        assert store.add_fill(**fill("t2")) is True
        store.update_fill_status("t1", "CONFIRMED")
        store.update_fill_status("t2", "CONFIRMED")  # t2 still pending: patched in memory

    run(with_store(path, first))

    async def second(store: Store) -> None:
        assert store.add_fill(**fill("t1")) is False  # known from the table after a restart
        assert store.add_fill(**fill("t2")) is False
        assert store.add_fill(**fill("t3")) is True
        await store.flush()
        rows = await store.fetch_all("SELECT trade_id, status FROM fills ORDER BY trade_id")
        assert rows == [
            {"trade_id": "t1", "status": "CONFIRMED"},
            {"trade_id": "t2", "status": "CONFIRMED"},
            {"trade_id": "t3", "status": "MATCHED"},
        ]

    run(with_store(path, second))


def test_fills_for_run_follows_the_order() -> None:
    async def body(store: Store) -> None:
        store.upsert_order(**order("co-1", "LIVE"))
        store.upsert_order(**order("co-2", "LIVE", run_id="run-2"))
        store.add_fill(**fill("t1", client_order_id="co-1"))
        store.add_fill(**fill("t2", client_order_id="co-2"))
        await store.flush()
        assert [f["trade_id"] for f in await store.fills_for_run(RUN)] == ["t1"]
        assert [f["trade_id"] for f in await store.fills_for_run("run-2")] == ["t2"]

    run(with_store(":memory:", body))


# ------------------------------------------------------------------------------------------ failure


def test_failed_flush_keeps_pending_rows_and_a_later_flush_writes_them() -> None:
    async def body(store: Store) -> None:
        store.add_evaluation(**evaluation())
        await store.flush()
        store.add_evaluation(**evaluation(ts=2))
        store.add_fill(**fill("t1"))
        store.resolve_evaluations(CID_A, 1.0)
        before = store.pending_count()
        assert before == 3

        db = store._db
        assert db is not None
        real = db.executemany
        calls = 0

        async def flaky(sql: str, params: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # the UPDATE already ran inside the transaction: it must be rolled back
                raise sqlite3.OperationalError("disk I/O error (simulated)")
            return await real(sql, params)

        db.executemany = flaky  # type: ignore[method-assign,assignment]
        with pytest.raises(sqlite3.OperationalError):
            await store.flush()
        assert store.pending_count() == before
        assert await store.count("evaluations") == 1
        assert await store.count("fills") == 0
        assert (await store.fetch_all("SELECT outcome FROM evaluations"))[0]["outcome"] is None

        assert await store.flush() == before
        assert store.pending_count() == 0
        assert await store.count("fills") == 1
        outcomes = await store.fetch_all("SELECT ts, outcome FROM evaluations ORDER BY ts")
        assert outcomes == [{"ts": 2, "outcome": 1.0}, {"ts": 1_000, "outcome": 1.0}]
        assert store.add_fill(**fill("t1")) is False

    run(with_store(":memory:", body))


def test_rows_queued_during_a_failed_flush_keep_their_order() -> None:
    async def body(store: Store) -> None:
        store.add_halt(**halt(ts=1))
        db = store._db
        assert db is not None
        real = db.executemany

        async def engine_keeps_running_then_disk_fails(sql: str, params: Any) -> Any:
            # While the flush is in flight the engine queues more work, including an update that
            # targets the in-flight row; then the write fails.
            store.add_halt(**halt(ts=2))
            store.resume_halts(run_id=RUN, ts=3, by="operator")
            store.add_halt(**halt(ts=4))
            db.executemany = real  # type: ignore[method-assign]
            raise sqlite3.OperationalError("database is locked (simulated)")

        db.executemany = engine_keeps_running_then_disk_fails  # type: ignore[method-assign,assignment]
        with pytest.raises(sqlite3.OperationalError):
            await store.flush()
        assert store.pending_count() == 4
        await store.flush()
        rows = await store.halts_for_run(RUN)
        assert [(r["ts"], r["resumed_ts"], r["resumed_by"]) for r in rows] == [
            (1, 3, "operator"),
            (2, 3, "operator"),
            (4, None, None),
        ]

    run(with_store(":memory:", body))


def test_cancelled_flush_neither_loses_nor_duplicates_rows() -> None:
    async def body(store: Store) -> None:
        for i in range(5):
            store.add_evaluation(**evaluation(ts=i))
        db = store._db
        assert db is not None
        real = db.executemany
        stall = asyncio.Event()

        async def slow(sql: str, params: Any) -> Any:
            await stall.wait()
            return await real(sql, params)

        db.executemany = slow  # type: ignore[method-assign,assignment]
        task = asyncio.create_task(store.flush())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        db.executemany = real  # type: ignore[method-assign]
        assert store.pending_count() == 5
        assert await store.flush() == 5
        assert await store.count("evaluations") == 5

    run(with_store(":memory:", body))


def test_close_flushes_and_refuses_later_writes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    async def body() -> None:
        store = await Store.open(str(path))
        store.add_evaluation(**evaluation())
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreError, match="closed"):
            store.add_evaluation(**evaluation())
        reopened = await Store.open(str(path))
        assert await reopened.count("evaluations") == 1
        await reopened.close()

    run(body())


# ------------------------------------------------------------------------------------------ updates


def test_resolve_evaluations_updates_only_that_market() -> None:
    async def body(store: Store) -> None:
        store.add_evaluation(**evaluation(ts=1, condition_id=CID_A))
        store.add_evaluation(**evaluation(ts=2, condition_id=CID_B))
        await store.flush()
        store.add_evaluation(**evaluation(ts=3, condition_id=CID_A))  # still pending when resolved
        store.resolve_evaluations(CID_A, 0.0)
        await store.flush()
        rows = await store.fetch_all("SELECT ts, condition_id, outcome FROM evaluations ORDER BY ts")
        assert [(r["ts"], r["outcome"]) for r in rows] == [(1, 0.0), (2, None), (3, 0.0)]

    run(with_store(":memory:", body))


def test_open_order_intents_exclude_terminal_states() -> None:
    async def body(store: Store) -> None:
        for i, state in enumerate(ORDER_STATES):
            store.upsert_order(**order(f"co-{i}", state, ts=i))
        await store.flush()
        live = await store.open_order_intents()
        assert [o["state"] for o in live] == ["NEW", "SUBMITTED", "LIVE", "PARTIAL"]

        # Lifecycle moves via upsert; a later snapshot without the venue id must not erase it.
        store.upsert_order(
            **order("co-2", "PARTIAL", ts=2, venue_order_id="v-2", filled=Decimal("4"), updated_ts=5)
        )
        store.upsert_order(**order("co-2", "FILLED", ts=2, filled=Decimal("10"), updated_ts=6))
        await store.flush()
        live = await store.open_order_intents()
        assert [o["client_order_id"] for o in live] == ["co-0", "co-1", "co-3"]
        row = (await store.fetch_all("SELECT * FROM order_intents WHERE client_order_id = 'co-2'"))[0]
        assert (row["state"], row["venue_order_id"], row["filled"], row["updated_ts"]) == (
            "FILLED", "v-2", Decimal("10"), 6,
        )  # fmt: skip
        assert row["price"] == Decimal("0.50") and row["post_only"] == 1

    run(with_store(":memory:", body))


def test_halts_resume_only_active_halts_of_the_run() -> None:
    async def body(store: Store) -> None:
        store.add_halt(**halt(ts=1))
        store.add_halt(**halt(ts=1, run_id="other-run"))
        await store.flush()
        store.add_halt(**halt(ts=2))  # pending when resumed: must be resumed too
        store.resume_halts(run_id=RUN, ts=10, by="operator")
        store.add_halt(**halt(ts=11))  # tripped after the resume: stays active
        await store.flush()
        rows = await store.halts_for_run(RUN)
        assert [(r["ts"], r["resumed_ts"], r["resumed_by"]) for r in rows] == [
            (1, 10, "operator"),
            (2, 10, "operator"),
            (11, None, None),
        ]
        assert rows[0]["trigger_value"] == "-51.2" and rows[0]["threshold"] == "-50"
        other = await store.halts_for_run("other-run")
        assert other[0]["resumed_ts"] is None

        store.resume_halts(run_id=RUN, ts=20, by="auto")  # earlier resumptions are not rewritten
        await store.flush()
        rows = await store.halts_for_run(RUN)
        assert [(r["resumed_ts"], r["resumed_by"]) for r in rows] == [
            (10, "operator"),
            (10, "operator"),
            (20, "auto"),
        ]

    run(with_store(":memory:", body))


def test_halts_of_one_kind_resume_alone() -> None:
    """A breaker that resumes by itself closes its own halts, not a manual halt or another breaker's."""

    async def body(store: Store) -> None:
        store.add_halt(**{**halt(ts=1), "kind": "daily_loss"})
        store.add_halt(**{**halt(ts=2), "kind": "MANUAL"})
        await store.flush()
        store.add_halt(**{**halt(ts=3), "kind": "daily_loss"})  # pending when resumed
        store.resume_halts(run_id=RUN, ts=10, by="breaker", kind="daily_loss")
        await store.flush()
        rows = await store.halts_for_run(RUN)
        assert [(r["kind"], r["resumed_ts"]) for r in rows] == [
            ("daily_loss", 10),
            ("MANUAL", None),
            ("daily_loss", 10),
        ]

    run(with_store(":memory:", body))


def test_proposal_reason_is_stored_with_its_status() -> None:
    async def body(store: Store) -> None:
        store.add_proposal(**proposal("p1"))
        store.update_proposal_status("p1", "REFUSED", "RATE_BUDGET value=60 threshold=60")  # pending: patched
        store.add_proposal(**proposal("p2"))
        await store.flush()
        store.update_proposal_status("p2", "REJECTED", "not convinced")  # committed: SQL update
        store.update_proposal_status("p2", "REJECTED")  # status alone keeps the reason
        await store.flush()
        rows = await store.fetch_all("SELECT id, status, reason FROM proposals ORDER BY id")
        assert rows == [
            {"id": "p1", "status": "REFUSED", "reason": "RATE_BUDGET value=60 threshold=60"},
            {"id": "p2", "status": "REJECTED", "reason": "not convinced"},
        ]

    run(with_store(":memory:", body))


def test_proposals_decisions_and_run_lifecycle() -> None:
    class Status(StrEnum):
        APPROVED = "APPROVED"

    async def body(store: Store) -> None:
        store.start_run(run_id=RUN, started_ts=1, venue="replay", mode="semi", seed=None, config={})
        store.add_proposal(**proposal("p1"))
        store.add_proposal(**proposal("p2"))
        with pytest.raises(StoreError, match="already pending"):
            store.add_proposal(**proposal("p1"))
        store.update_proposal_status("p1", Status.APPROVED)  # pending: patched in memory
        store.add_decision(proposal_id="p1", ts=5, action="approve", actor="operator", size=Decimal("15"))
        store.end_run(run_id=RUN, ended_ts=99, summary={"pnl": Decimal("1.25")})  # run row still pending
        await store.flush()
        store.update_proposal_status("p2", "EXPIRED")  # committed: SQL update
        await store.flush()
        props = await store.fetch_all(
            "SELECT id, status, price, size, rationale_json FROM proposals ORDER BY id"
        )
        assert [(p["id"], p["status"]) for p in props] == [("p1", "APPROVED"), ("p2", "EXPIRED")]
        assert props[0]["size"] == Decimal("20") and props[0]["rationale_json"] == '{"why":"edge"}'
        decision = (await store.fetch_all("SELECT * FROM decisions"))[0]
        assert decision["size"] == Decimal("15") and decision["note"] == ""
        runs = await store.fetch_all("SELECT * FROM runs")
        assert runs[0]["ended_ts"] == 99 and runs[0]["summary_json"] == '{"pnl":"1.25"}'

    run(with_store(":memory:", body))


def test_market_and_position_upserts() -> None:
    market = dict(
        condition_id=CID_A, slug="will-it", question="Will it?", category="misc", yes_token_id="tok-yes",
        no_token_id="tok-no", yes_outcome="Yes", no_outcome="No", tick_size=Decimal("0.01"),
        min_order_size=Decimal("5"), neg_risk=False, fee_rate=Decimal("0"), fee_exponent=0,
        updated_ts=1,
    )  # fmt: skip

    async def body(store: Store) -> None:
        store.upsert_market(**market, resolved_ts=50, yes_payout=Decimal("1"))
        await store.flush()
        # A metadata refresh that does not know the resolution must not erase it; tick size may change.
        store.upsert_market(**{**market, "tick_size": Decimal("0.001"), "updated_ts": 2})
        store.upsert_position(token_id="tok-yes", condition_id=CID_A, outcome="Yes", size=Decimal("10"),
                              avg_price=Decimal("0.5"), cost=Decimal("5"), realized_pnl=Decimal("0"),
                              updated_ts=2)  # fmt: skip
        store.upsert_position(token_id="tok-yes", condition_id=CID_A, outcome="Yes", size=Decimal("0"),
                              avg_price=Decimal("0"), cost=Decimal("0"), realized_pnl=Decimal("5.00"),
                              updated_ts=3)  # fmt: skip
        store.add_settlement(run_id=RUN, ts=60, condition_id=CID_A, token_id="tok-yes", size=Decimal("10"),
                             payout_per_share=Decimal("1"), cash=Decimal("10"))  # fmt: skip
        store.add_pnl_snapshot(run_id=RUN, ts=61, cash=Decimal("1005"), positions_value=Decimal("0"),
                               equity=Decimal("1005"), realized=Decimal("5"), unrealized=Decimal("0"),
                               fees=Decimal("0.01"), high_water=Decimal("1005"), drawdown=0.0,
                               day_pnl=Decimal("5"), week_pnl=Decimal("5"), open_positions=0,
                               open_orders=0)  # fmt: skip
        store.add_order_event(client_order_id="co-1", ts=3, state_from=None, state_to="NEW", cause="submit")
        await store.flush()
        m = (await store.fetch_all("SELECT * FROM markets"))[0]
        assert (m["tick_size"], m["resolved_ts"], m["yes_payout"], m["neg_risk"]) == (
            Decimal("0.001"), 50, Decimal("1"), 0,
        )  # fmt: skip
        positions = await store.fetch_all("SELECT * FROM positions")
        assert len(positions) == 1 and positions[0]["realized_pnl"] == Decimal("5.00")
        snap = (await store.fetch_all("SELECT * FROM pnl_snapshots"))[0]
        assert snap["fees"] == Decimal("0.01") and snap["drawdown"] == 0.0
        assert (await store.fetch_all("SELECT detail_json FROM order_events"))[0]["detail_json"] == "{}"

    run(with_store(":memory:", body))


def test_count_validates_table_name() -> None:
    async def body(store: Store) -> None:
        with pytest.raises(StoreError, match="unknown table"):
            await store.count("fills; DROP TABLE fills")

    run(with_store(":memory:", body))


# --- a damaged file, group commit ----------------------------------------------------------------------


def _digest(path: Path) -> bytes:
    import hashlib

    return hashlib.sha256(path.read_bytes()).digest()


def test_a_file_that_is_not_a_database_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is a spreadsheet, not a ledger\n" * 200)
    before = _digest(path)
    with pytest.raises(StoreError) as err:
        run(Store.open(str(path)))
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "not a usable SQLite database" in message and "move it aside" in message
    assert _digest(path) == before  # never written


def test_a_corrupted_database_is_refused_and_never_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    async def fill_it(store: Store) -> None:
        for i in range(400):
            store.add_evaluation(**evaluation(ts=i, reason="x" * 200))
        await store.flush()

    run(with_store(path, fill_it))
    with sqlite3.connect(path) as con:  # fold the WAL in, so the damage below hits the main file
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    for n in range(2, len(data) // page):  # every page but the header's: its b-tree header and cell pointers
        data[n * page : n * page + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(StoreError) as err:
        run(Store.open(str(path)))
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert ("corrupted" in message or "not a usable" in message) and "restore it from a backup" in message
    assert _digest(path) == before


def test_a_corrupted_database_stops_the_run_with_one_line(tmp_path: Path) -> None:
    from engine.runtime import SetupError, build
    from tests.conftest import settings_for

    path = tmp_path / "ledger.db"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(SetupError, match="not a usable SQLite database"):
        run(build(settings_for(tmp_path, **{"store.path": str(path)})))


def test_group_commit_writes_what_is_queued_without_waiting_for_an_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"

    def committed() -> int:
        with sqlite3.connect(path) as con:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]

    async def body(store: Store) -> tuple[int, int]:
        ticks: list[int] = []
        loop = asyncio.create_task(store.commit_loop(3600, before=lambda: ticks.append(1)))
        store.add_evaluation(**evaluation())
        store.request_flush()  # a halt or a trip: written now, not at the next tick an hour away
        for _ in range(200):
            if store.pending_count() == 0 and committed() == 1:
                break
            await asyncio.sleep(0.005)
        seen = committed()
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        return seen, len(ticks)

    seen, ticks = run(with_store(path, body))
    assert seen == 1 and ticks == 1


def test_a_decline_is_a_row_with_no_estimate() -> None:
    async def body(store: Store) -> list[dict[str, Any]]:
        store.add_evaluation(**evaluation(p_hat=None, ci_low=None, ci_high=None, decision="SKIP_NO_BOOK"))
        await store.flush()
        return await store.fetch_all("SELECT p_hat, ci_low, ci_high, decision FROM evaluations")

    assert run(with_store(":memory:", body)) == [
        {"p_hat": None, "ci_low": None, "ci_high": None, "decision": "SKIP_NO_BOOK"}
    ]
