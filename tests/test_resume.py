"""Restart = resume: an engine that stops without a word (kill -9) comes back with the ledger it had.

Deterministic, in-process: an in-process venue with an account of its own (as paper trading has) on the
replay's simulated clock. "kill -9" is: the engine stops dead after a group commit (nothing it would do on
the way out runs), its process-local state is thrown away, and a new engine opens the same database.
The same path with a real `kill -9` against the local exchange, LIVE, is bench/chaos.py (tests/test_chaos.py).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.domain import EngineState
from engine.engine import Engine
from engine.sim.matching import LatencyModel
from engine.store import Store
from engine.venues.base import VenueReconciled
from engine.venues.replay import ReplayVenue
from tests.conftest import START, FixedBrain, settings_for, write_dataset

ACCOUNT = "paper:test-exchange"


def lopsided(i: int) -> tuple[list[list[float]], list[list[float]]]:
    # A deep bid and a thin ask: a buyer takes the ask; marks at the mid stay below what was paid.
    return [[0.48, 5000.0], [0.47, 5000.0]], [[0.50, 60.0], [0.51, 5000.0]]


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    books, markets = write_dataset(tmp_path, seconds=600, book=lopsided, markets_count=2)
    return settings_for(
        tmp_path,
        books,
        markets,
        **{
            "store.path": str(tmp_path / "ledger.db"),
            "engine.mode": "auto",
            "risk.min_edge": 0.0,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}},
            **overrides,
        },
    )


class Life:
    """One engine process: an in-process venue that keeps an account (paper's rules), the engine, its store."""

    def __init__(
        self,
        s: Settings,
        run_id: str,
        brain: Any,
        venue_cls: type[ReplayVenue] = ReplayVenue,
        from_s: float = 0,
    ) -> None:
        """`from_s`: the life begins that many seconds into the data (time goes on across a restart)."""
        self.settings = s
        self.run_id = run_id
        self.brain = brain
        self.venue_cls = venue_cls
        self.from_ts = START + int(from_s * 1000)

    def _books(self) -> Path:
        books = Path(self.settings.venue.data)
        if self.from_ts == START:
            return books
        later = books.with_name(f"{books.stem}-from-{self.from_ts}.jsonl")
        keep = [line for line in books.read_text().splitlines() if json.loads(line)["ts"] >= self.from_ts]
        later.write_text("\n".join(keep) + "\n")
        return later

    async def start(self) -> Engine:
        from engine.clock import SimClock

        s = self.settings
        clock = SimClock()
        venue = self.venue_cls(
            clock,
            starting_cash=s.bankroll.starting_usdc,
            latency=LatencyModel(s.venue.submit_latency_ms, s.venue.cancel_latency_ms, 0),
            seed=s.engine.seed,
            books_path=self._books(),
            markets_path=Path(s.venue.markets),
        )
        venue.account = ACCOUNT  # type: ignore[attr-defined]
        clock.advance_to(self.from_ts)
        self.venue = venue
        self.store = await Store.open(s.store.path)
        self.engine = Engine(s, venue, clock, self.store, brain=self.brain, run_id=self.run_id, wall_ms=clock.now_ms)
        await self.engine.start()
        return self.engine

    async def until(self, seconds: float) -> None:
        await self.venue.run(self.engine, until_ts=START + int(seconds * 1000))

    async def kill(self) -> None:
        """kill -9 right after a group commit: what was committed is all that survives."""
        self.engine._queue_state()  # what the group commit's tick does before it writes
        await self.store.flush()
        await self.engine.supervisor.close()
        db = self.store._db
        assert db is not None
        self.store._db = None  # nothing more reaches the file: no shutdown, no final flush
        await db.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def rows(path: str, sql: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def test_kill_and_restart_restores_cash_positions_pnl_high_water_and_orders(tmp_path: Path) -> None:
    # The fill-rate and rejection breakers would pause the thin book's unfilled FAKs: out of the way here, the
    # second life must be free to trade (their state surviving the restart is the next test's subject).
    s = settings(tmp_path, **{"execution.min_fill_rate": 0.0, "breakers.max_rejections": 1000})

    async def scenario() -> tuple[dict[str, Any], Engine]:
        first = Life(s, "first-life", FixedBrain(p=0.70))
        a = await first.start()
        await first.until(40)
        assert a.portfolio.open_positions(), "the first life must hold something to restore"
        before = {
            "cash": a.portfolio.cash,
            "realized": a.portfolio.realized_pnl,
            "fees": a.portfolio.fees,
            "positions": {p.token_id: (p.size, p.cost) for p in a.portfolio.open_positions()},
            "working": sorted(a.working),
            "high_water": a._high_water,
        }
        await first.kill()
        second = Life(s, "second-life", FixedBrain(p=0.70), from_s=40)
        b = await second.start()
        assert b.state is EngineState.RECONCILING  # nothing new until the venue's word is in
        after = {
            "cash": b.portfolio.cash,
            "realized": b.portfolio.realized_pnl,
            "fees": b.portfolio.fees,
            "positions": {p.token_id: (p.size, p.cost) for p in b.portfolio.open_positions()},
            "working": sorted(b.working),
            "high_water": b._high_water,
        }
        assert after == before
        assert b.restored["runs"] == 1 and b.restored["fills"] > 0
        await second.until(60)
        await b.shutdown()
        return before, b

    before, b = run(scenario())
    # The paper venue's resting orders lived in the process that died: each ended CANCELLED, said so, and
    # the engine traded again once the balances agreed.
    for coid in before["working"]:
        order = b.orders[coid]
        assert order.state.value == "CANCELLED" and "restarted" in order.history[-1].cause
    assert b.restored["closed_while_down"] == len(before["working"])
    assert b.state is EngineState.STOPPED and b.counters["orders"] > 0
    runs = rows(s.store.path, "SELECT run_id, account FROM runs ORDER BY started_ts, rowid")
    assert [(r["run_id"], r["account"]) for r in runs] == [("first-life", ACCOUNT), ("second-life", ACCOUNT)]
    # The ledger's exactness survives the restart: realized P&L = cash flows + payouts - fees.
    p = b.portfolio
    assert p.cash - p.starting_cash == sum(
        (Decimal(r["price"]) * Decimal(r["size"]) * (1 if r["side"] == "SELL" else -1) - Decimal(r["fee"]))
        for r in rows(s.store.path, "SELECT * FROM fills WHERE status != 'REVERSED'")
    )


def test_a_tripped_loss_limit_stays_tripped_after_kill_and_nothing_is_sent(tmp_path: Path) -> None:
    # Taker fees and marks below the price paid: a 0.01% daily loss limit trips on the first fills.
    s = settings(tmp_path, **{"breakers.max_daily_loss_pct": 0.0001})

    async def scenario() -> tuple[Engine, Engine]:
        first = Life(s, "first-life", FixedBrain(p=0.70))
        a = await first.start()
        await first.until(60)
        assert "daily_loss" in a.breakers.tripped()
        await first.kill()
        second = Life(s, "second-life", FixedBrain(p=0.70), from_s=60)
        b = await second.start()
        assert "daily_loss" in b.restored["breakers_tripped"]
        await second.until(200)
        await b.shutdown()
        return a, b

    a, b = run(scenario())
    assert "daily_loss" in b.breakers.tripped()
    assert b.counters["orders"] == 0  # nothing sent after the restart
    assert b.decisions.get("SKIP_BREAKER", 0) > 0 and "PROPOSE" not in b.decisions
    sent = rows(s.store.path, "SELECT * FROM order_intents WHERE run_id = 'second-life'")
    assert sent == []


def test_a_manual_halt_and_an_error_survive_the_restart(tmp_path: Path) -> None:
    s = settings(tmp_path)

    async def scenario(action: str) -> Engine:
        first = Life(s, f"first-{action}", FixedBrain(p=0.70))
        a = await first.start()
        await first.until(20)
        if action == "halt":
            from engine.commands import Halt

            await a.execute(Halt("operator: looking at something"))
        else:
            a.fail("test", RuntimeError("a task died"))
        await first.kill()
        second = Life(s, f"second-{action}", FixedBrain(p=0.70), from_s=20)
        b = await second.start()
        await second.until(60)
        return b

    halted = run(scenario("halt"))
    assert halted.state is EngineState.HALTED and halted.halt_reason == "operator: looking at something"
    assert halted.counters["orders"] == 0
    errored = run(scenario("error"))
    assert errored.state is EngineState.HALTED and "ERROR" in errored.halt_reason and "a task died" in errored.halt_reason


def test_pending_proposals_come_back_within_their_time_to_live(tmp_path: Path) -> None:
    s = settings(tmp_path, **{"engine.mode": "semi", "engine.proposal_ttl_s": 600})

    async def scenario() -> tuple[list[str], Engine]:
        first = Life(s, "first-life", FixedBrain(p=0.70))
        a = await first.start()
        await first.until(30)
        pending = sorted(a.pending)
        await first.kill()
        second = Life(s, "second-life", FixedBrain(p=0.70), from_s=30)
        b = await second.start()
        return pending, b

    pending, b = run(scenario())
    assert pending and sorted(b.pending) == pending
    assert b.restored["proposals_pending"] == len(pending)


class DisagreeingVenue(ReplayVenue):
    """Its account holds one more share of a token than the ledger says: the restart must halt."""

    def resume(self, request: Any) -> None:
        super().resume(request)
        token = next(iter(request.positions))
        self.matcher.account.tokens[token] += 1_000_000
        last = self._resumed[-1]
        assert isinstance(last, VenueReconciled)
        self._resumed[-1] = VenueReconciled(last.ts, None, dict(self.matcher.account.tokens), closed=last.closed)


def test_a_ledger_that_disagrees_with_the_venue_halts_with_the_numbers(tmp_path: Path) -> None:
    s = settings(tmp_path)

    async def scenario() -> Engine:
        first = Life(s, "first-life", FixedBrain(p=0.70))
        await first.start()
        await first.until(40)
        await first.kill()
        second = Life(s, "second-life", FixedBrain(p=0.70), venue_cls=DisagreeingVenue, from_s=40)
        b = await second.start()
        b.recheck_s = 0.0
        await second.until(45)
        for _ in range(100):  # the second look runs on its own task
            if not b._awaiting_reconcile:
                break
            await asyncio.sleep(0)
        await second.until(80)
        return b

    b = run(scenario())
    assert b.state is EngineState.HALTED and "reconcile" in b.breakers.tripped()
    assert "ledger" in b.halt_reason and "venue" in b.halt_reason and "shares" in b.halt_reason
    assert b.counters["orders"] == 0


def test_a_replay_never_resumes_and_says_when_an_earlier_run_never_finished(tmp_path: Path) -> None:
    s = settings(tmp_path)

    async def scenario() -> Engine:
        from engine.runtime import build

        rt = await build(s, brain=FixedBrain(p=0.70), run_id="killed-replay", ttl_on_engine_clock=True)
        await rt.engine.start()
        await rt.venue.run(rt.engine, until_ts=START + 30_000)
        await rt.store.flush()
        await rt.engine.supervisor.close()
        db = rt.store._db
        rt.store._db = None
        await db.close()
        again = await build(s, brain=FixedBrain(p=0.70), run_id="next-replay", ttl_on_engine_clock=True)
        await again.engine.start()
        return again.engine

    e = run(scenario())
    assert not e.resumes and e.portfolio.cash == e.settings.bankroll.starting_usdc and not e.working
    assert any("earlier run never finished" in line and "killed-replay" in line for line in e._log_lines)
