"""Engine behaviour through its public interface: modes, commands, write-ahead, ledger, read model.

Each scenario replays a small recorded-format dataset on simulated time; operator commands are scheduled
on the same clock, so every run is deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.commands import Approve, CancelAll, EditSize, Halt, Reject, Resume, SetMode
from engine.domain import Mode
from engine.engine import Engine
from engine.runtime import build
from tests.conftest import START, FixedBrain, settings_for, write_dataset

Action = Callable[[Engine], Awaitable[Any]]


def pending(engine: Engine) -> list[str]:
    return [p.proposal_id for p in engine.proposals.values() if p.status == "PENDING"]


def run_scenario(
    tmp_path: Path,
    *,
    mode: str = "semi",
    actions: dict[float, Action] | None = None,
    brain: Any = None,
    seconds: int = 300,
    book=None,
    end_offset_s: int | None = None,
    **overrides: Any,
) -> tuple[Engine, dict[str, Any], dict[str, list[dict]]]:
    books, markets = write_dataset(tmp_path, seconds=seconds, book=book, end_offset_s=end_offset_s)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": mode, **overrides})
    results: dict[float, Any] = {}

    async def main() -> tuple[Engine, dict[str, Any], dict[str, list[dict]]]:
        rt = await build(settings, brain=brain if brain is not None else FixedBrain(), ttl_on_engine_clock=True)
        for offset, action in (actions or {}).items():

            async def fire(offset: float = offset, action: Action = action) -> None:
                results[offset] = await action(rt.engine)

            rt.venue.clock.call_at(START + int(offset * 1000), fire)
        summary = await rt.engine.run()
        rows = {
            table: await rt.store.fetch_all(f"SELECT * FROM {table}")
            for table in (
                "proposals",
                "decisions",
                "order_intents",
                "order_events",
                "fills",
                "halts",
                "evaluations",
                "settlements",
                "positions",
            )
        }
        rows["_results"] = [results]  # type: ignore[list-item]
        await rt.store.close()
        return rt.engine, summary, rows

    return asyncio.run(main())


def test_semi_mode_proposals_wait_and_expire_without_an_operator(tmp_path: Path) -> None:
    engine, summary, rows = run_scenario(tmp_path, mode="semi")
    assert summary["proposals"] > 0
    assert summary["orders"] == 0 and summary["fills"] == 0
    assert {p["status"] for p in rows["proposals"]} == {"EXPIRED"}
    expiries = [d for d in rows["decisions"] if d["action"] == "EXPIRE"]
    assert len(expiries) == summary["proposals"]
    assert all(d["actor"] in ("ttl", "engine") for d in expiries)
    # A proposal expires exactly one TTL after it was made.
    first = min(rows["proposals"], key=lambda p: p["ts"])
    assert first["expires_ts"] - first["ts"] == 30_000


def test_proposal_carries_every_number_that_justified_it(tmp_path: Path) -> None:
    # The market closes 70 s in, so its first proposal (5 s in) is before the last minute, where the size
    # ratchet of a short-lived market would halve the stake and take the binding cap.
    engine, _, rows = run_scenario(tmp_path, mode="semi", seconds=50, end_offset_s=70)
    p = rows["proposals"][0]
    assert p["side"] == "BUY" and p["outcome"] == "YES" and p["order_type"] == "FAK"
    assert p["price"] == Decimal("0.5")
    assert p["p_hat"] == pytest.approx(0.70) and p["ci_low"] == pytest.approx(0.68)
    # conservative edge: 0.68 - 0.50 - 0.25 * (0.5 * 0.5)^2 (the 15-minute crypto taker fee per share)
    assert p["edge_net"] == pytest.approx(0.68 - 0.50 - 0.015625)
    assert p["binding_cap"] == "kelly"
    assert p["kelly_fraction"] == pytest.approx(0.25 * (0.68 - 0.515625) / (1 - 0.515625))
    assert "gates" in p["rationale_json"]


def test_approve_sends_an_order_that_fills_and_is_recorded(tmp_path: Path) -> None:
    async def approve(engine: Engine):
        return await engine.execute(Approve(pending(engine)[0]))

    # The market closes 75 s in: approved 7 s in, the order is out of the last minute's size ratchet.
    engine, summary, rows = run_scenario(
        tmp_path, mode="semi", actions={7: approve}, seconds=60, end_offset_s=75
    )
    result = rows["_results"][0][7]
    assert result.ok, result.message
    assert summary["orders"] >= 1 and summary["fills"] >= 1
    approved = [d for d in rows["decisions"] if d["action"] == "APPROVE"]
    assert approved and approved[0]["actor"] == "operator"
    fill = rows["fills"][0]
    assert fill["liquidity"] == "TAKER" and fill["price"] == Decimal("0.5")
    # Quarter-Kelly on $1000 at an all-in cost of 0.50 + 0.015625 fee with conservative p 0.68, in shares,
    # floored to the exchange's two decimals; the taker fee is 0.25 * (0.5 * 0.5)^2 per share, 5 dp.
    cost = Decimal("0.515625")
    stake = Decimal(1000) * Decimal("0.25") * (Decimal("0.68") - cost) / (1 - cost)
    shares = (stake / cost).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
    assert shares == Decimal("164.53")
    assert fill["size"] == shares
    assert fill["fee"] == (shares * Decimal("0.015625")).quantize(
        Decimal("0.00001"), rounding="ROUND_HALF_UP"
    )
    states = [e["state_to"] for e in rows["order_events"] if e["client_order_id"] == fill["client_order_id"]]
    assert states[:3] == ["SUBMITTED", "LIVE", "FILLED"]


def test_reject_and_edit_size(tmp_path: Path) -> None:
    async def edit_too_big(engine: Engine):
        pid = pending(engine)[0]
        return await engine.execute(EditSize(pid, 10**12))

    async def edit_ok(engine: Engine):
        return await engine.execute(EditSize(pending(engine)[0], 10_000_000))

    async def approve(engine: Engine):
        return await engine.execute(Approve(pending(engine)[0]))

    async def reject(engine: Engine):
        return await engine.execute(Reject(pending(engine)[0], note="not convinced"))

    engine, summary, rows = run_scenario(
        tmp_path,
        mode="semi",
        seconds=60,
        actions={6: edit_too_big, 6.5: edit_ok, 7: approve, 12.5: reject},
    )
    res = rows["_results"][0]
    assert not res[6].ok and "between 5 and" in res[6].message
    assert res[6.5].ok
    assert res[7].ok
    assert res[12.5].ok
    assert rows["fills"][0]["size"] == Decimal("10")  # the edited size went out
    actions = [d["action"] for d in rows["decisions"]]
    assert "EDIT" in actions and "REJECT" in actions
    rejected = [p for p in rows["proposals"] if p["status"] == "REJECTED"]
    assert len(rejected) == 1


def test_approve_does_nothing_while_halted_and_resume_restores(tmp_path: Path) -> None:
    async def halt(engine: Engine):
        return await engine.execute(Halt("operator check"))

    async def approve(engine: Engine):
        ids = pending(engine)
        return await engine.execute(Approve(ids[0])) if ids else None

    async def resume(engine: Engine):
        return await engine.execute(Resume())

    engine, summary, rows = run_scenario(
        tmp_path, mode="semi", seconds=80, actions={5.5: halt, 6: approve, 40: resume, 41: approve}
    )
    res = rows["_results"][0]
    assert res[5.5].ok
    assert res[6] is None or not res[6].ok  # halted: nothing is approved
    assert res[40].ok
    assert summary["halts"] and summary["halts"][0]["reason"] == "operator check"
    halts = rows["halts"]
    assert halts[0]["kind"] == "MANUAL" and halts[0]["resumed_ts"] is not None
    # Between halt and resume: evaluations say why nothing was proposed, and no order exists before 40 s.
    assert any(e["decision"] == "SKIP_HALTED" for e in rows["evaluations"])
    assert all(o["ts"] >= START + 40_000 for o in rows["order_intents"])


def test_halt_blocks_auto_trading_immediately(tmp_path: Path) -> None:
    async def halt(engine: Engine):
        return await engine.execute(Halt("kill"))

    engine, summary, rows = run_scenario(tmp_path, mode="auto", seconds=60, actions={1: halt})
    assert summary["orders"] == 0
    assert [h["reason"] for h in summary["halts"]] == ["kill"]
    assert engine.decisions.get("SKIP_HALTED", 0) > 0 and "PROPOSE" not in engine.decisions


def test_cancel_all_cancels_resting_orders_and_clears_pending(tmp_path: Path) -> None:
    # Estimate just above the bid, below the ask: a maker (post-only GTC) order rests at the bid.
    brain = FixedBrain(p=0.53, half_width=0.005)

    async def cancel_all(engine: Engine):
        return await engine.execute(CancelAll())

    # The market closes 75 s in: no new maker quote in its last minute (CLOSE_WINDOW), so it must live past 65 s.
    engine, summary, rows = run_scenario(
        tmp_path, mode="auto", brain=brain, seconds=60, actions={8: cancel_all}, end_offset_s=75
    )
    assert rows["_results"][0][8].ok
    first = rows["order_intents"][0]
    assert first["order_type"] == "GTC" and first["post_only"] == 1
    cancelled = [e for e in rows["order_events"] if e["state_to"] == "CANCELLED"]
    assert cancelled, "the resting maker order was cancelled"
    assert all(not o.state.working for o in engine.orders.values() if o.created_ts <= START + 8_000)


def test_observe_mode_records_but_never_trades(tmp_path: Path) -> None:
    engine, summary, rows = run_scenario(tmp_path, mode="observe", seconds=60)
    assert summary["proposals"] > 0 and summary["orders"] == 0
    assert {p["status"] for p in rows["proposals"]} == {"OBSERVED"}


def test_auto_mode_trades_settles_and_the_ledger_balances(tmp_path: Path) -> None:
    engine, summary, rows = run_scenario(tmp_path, mode="auto")
    assert summary["fills"] > 0 and summary["settlements"] > 0
    assert summary["open_positions"] == 0
    fees = sum((f["fee"] for f in rows["fills"]), Decimal(0))
    flows = sum(
        ((f["price"] * f["size"]) * (-1 if f["side"] == "BUY" else 1) for f in rows["fills"]), Decimal(0)
    )
    payouts = sum((s["cash"] for s in rows["settlements"]), Decimal(0))
    assert Decimal(summary["realized_pnl"]) == flows + payouts - fees
    assert Decimal(summary["fees"]) == fees
    assert summary["pnl_identity_ok"] is True
    assert Decimal(summary["cash"]) == Decimal(1000) + Decimal(summary["realized_pnl"])


def test_mode_change_is_recorded(tmp_path: Path) -> None:
    async def to_auto(engine: Engine):
        return await engine.execute(SetMode(Mode.AUTO))

    # The semi proposal made at 5 s stays pending (the operator may still approve it) until its TTL at 35 s;
    # proposals after that are made in auto mode and go straight out.
    engine, summary, rows = run_scenario(tmp_path, mode="semi", seconds=120, actions={20: to_auto})
    assert engine.mode is Mode.AUTO
    assert any(d["action"] == "MODE" and d["note"] == "semi->auto" for d in rows["decisions"])
    assert summary["orders"] > 0
    assert all(o["ts"] >= START + 20_000 for o in rows["order_intents"])


def test_write_ahead_intent_is_committed_before_the_venue_sees_the_order(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=60)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "auto"})
    seen: list[int] = []

    async def main() -> None:
        rt = await build(settings, brain=FixedBrain())
        original = rt.venue.submit

        async def checking_submit(request):
            # A second connection sees only committed data.
            import sqlite3

            con = sqlite3.connect(settings.store.path)
            n = con.execute(
                "SELECT COUNT(*) FROM order_intents WHERE client_order_id = ?", (request.client_order_id,)
            ).fetchone()[0]
            con.close()
            seen.append(n)
            await original(request)

        rt.venue.submit = checking_submit  # type: ignore[method-assign]
        await rt.engine.run()
        await rt.store.close()

    asyncio.run(main())
    assert seen and all(n == 1 for n in seen)


def test_snapshot_is_immutable_numbered_and_reflects_commands_at_once(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=20)
    settings = settings_for(tmp_path, books, markets)

    async def main() -> None:
        rt = await build(settings, brain=FixedBrain())
        await rt.engine.start()
        s1 = rt.engine.snapshot()
        assert s1.state == "RUNNING" and s1.mode == "semi" and s1.venue == "REPLAY"
        with pytest.raises(FrozenInstanceError):
            s1.state = "X"  # type: ignore[misc]
        assert rt.engine.snapshot() is s1  # nothing changed: same object, same seq
        await rt.engine.execute(Halt("test"))
        s2 = rt.engine.snapshot()
        assert s2.seq > s1.seq and s2.state == "HALTED" and s2.halt_reason == "test"
        await rt.store.close()

    asyncio.run(main())


def test_max_open_positions_reached_skips_new_markets_with_reason(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=60, markets_count=2)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "auto", "risk.max_open_positions": 1})

    async def main() -> Engine:
        rt = await build(settings, brain=FixedBrain())
        await rt.engine.run()
        await rt.store.close()
        return rt.engine

    engine = asyncio.run(main())
    traded = {o.request.condition_id for o in engine.orders.values()}
    assert len(traded) == 1  # the second market never gets a slot
    assert engine.decisions.get("SKIP_MAX_POSITIONS", 0) > 0


def test_cancel_all_catches_orders_still_in_flight(tmp_path: Path) -> None:
    # The maker order is sent at 5 s and reaches the exchange ~150 ms later; cancel-all lands in between.
    brain = FixedBrain(p=0.53, half_width=0.005)

    async def cancel_all(engine: Engine):
        in_flight = [o for o in engine.orders.values() if o.state.value == "SUBMITTED"]
        result = await engine.execute(CancelAll())
        return in_flight, result

    engine, summary, rows = run_scenario(
        tmp_path, mode="auto", brain=brain, seconds=60, actions={5.05: cancel_all}, end_offset_s=75
    )  # a maker quote needs more than a minute to close
    in_flight, result = rows["_results"][0][5.05]
    assert in_flight and result.ok
    first = in_flight[0]
    assert first.state.value == "CANCELLED"
    states = [e["state_to"] for e in rows["order_events"] if e["client_order_id"] == first.client_order_id]
    assert states == ["SUBMITTED", "LIVE", "CANCELLED"]


class SteppedBrain(FixedBrain):
    """Test double: one estimate until `switch_ms`, another after (the market's fair value moved)."""

    def __init__(self, before: float, after: float, switch_ms: int) -> None:
        super().__init__(before, 0.005)
        self.after = after
        self.switch_ms = switch_ms

    def estimate(self, data):
        self.p = self.after if data.now_ms >= self.switch_ms else self.p
        return super().estimate(data)


def test_resting_order_is_held_while_its_edge_lasts_and_withdrawn_when_it_goes(tmp_path: Path) -> None:
    # Maker bid at 0.49 while the estimate is 0.53; at 30 s the estimate falls to the mid: no edge left.
    # The market closes 100 s in: the maker quote may rest (and be re-checked) until its last minute at 40 s.
    brain = SteppedBrain(0.53, 0.495, START + 30_000)
    engine, summary, rows = run_scenario(tmp_path, mode="auto", brain=brain, seconds=80, end_offset_s=100)
    first = rows["order_intents"][0]
    events = [e for e in rows["order_events"] if e["client_order_id"] == first["client_order_id"]]
    assert [e["state_to"] for e in events] == ["SUBMITTED", "LIVE", "CANCELLED"]
    cancel_ts = events[-1]["ts"]
    assert START + 30_000 <= cancel_ts <= START + 36_000  # withdrawn at the first cycle after the move
    decisions = [e["decision"] for e in rows["evaluations"] if e["ts"] < START + 30_000]
    assert "HOLD" in decisions and "WITHDRAW" not in decisions
    assert any(e["decision"] == "WITHDRAW" for e in rows["evaluations"])
    assert summary["orders"] == 1  # while it rested, no second order was stacked on the market


def test_no_order_is_built_or_approved_from_a_stale_book(tmp_path: Path) -> None:
    """A venue that reports a market's book as stale (unsynced, or silent too long) blocks proposals for it,
    and an approval that arrives while it is stale is refused and the proposal stays pending."""
    stale: set[str] = set()
    seen: dict[str, Any] = {}

    async def go_stale(engine: Engine) -> None:
        engine.venue.stale_markets = lambda now: set(stale)  # what a live venue exposes
        seen["pending_before"] = pending(engine)
        stale.update(ms.market.condition_id for ms in engine.markets.values())

    async def approve(engine: Engine):
        return await engine.execute(Approve(seen["pending_before"][0]))

    async def recover(engine: Engine) -> None:
        seen["orders_while_stale"] = engine.counters["orders"]
        stale.clear()

    engine, summary, rows = run_scenario(
        tmp_path, mode="semi", actions={7: go_stale, 8: approve, 40: recover}, seconds=120
    )
    refused = rows["_results"][0][8]
    assert not refused.ok and "stale" in refused.message
    assert seen["orders_while_stale"] == 0
    assert engine.decisions.get("SKIP_STALE_BOOK", 0) > 0
    stale_evals = [e for e in rows["evaluations"] if e["decision"] == "SKIP_STALE_BOOK"]
    assert stale_evals and all(7_000 <= e["ts"] - START < 40_000 for e in stale_evals)
    assert any(e["decision"] == "PROPOSE" and e["ts"] - START >= 40_000 for e in rows["evaluations"])
    # The venue's staleness also feeds the per-market feed breaker: it tripped, and resumed by itself.
    stale_halts = [h for h in rows["halts"] if h["kind"] == "stale_market"]
    assert stale_halts and all(
        h["resumed_by"] == "auto" and h["resumed_ts"] >= START + 40_000 for h in stale_halts
    )


def test_live_venue_sends_nothing_until_the_operator_types_live(tmp_path: Path) -> None:
    from engine.commands import ArmLive

    async def make_live(engine: Engine) -> None:
        engine.venue.kind = "LIVE"  # as if built on the live venue: disarmed from the start
        engine.live_armed = False

    async def approve_disarmed(engine: Engine):
        return (await engine.execute(ArmLive("live")), await engine.execute(Approve(pending(engine)[0])))

    async def arm_and_approve(engine: Engine):
        return (
            engine.snapshot(force=True).live_armed,
            await engine.execute(ArmLive("LIVE")),
            engine.snapshot(force=True).live_armed,
            await engine.execute(Approve(pending(engine)[0])),
        )

    engine, summary, rows = run_scenario(
        tmp_path, mode="semi", actions={1: make_live, 7: approve_disarmed, 41: arm_and_approve}, seconds=120
    )
    wrong_word, refused = rows["_results"][0][7]
    assert not wrong_word.ok and "type LIVE exactly" in wrong_word.message
    # Approved, then refused at send time: nothing reached the venue, and the operator is told so.
    assert not refused.ok and refused.message.endswith("the order was refused: LIVE venue not armed")
    refusals = [d for d in rows["decisions"] if d["action"] == "REFUSE"]
    assert (
        refusals
        and refusals[0]["note"].startswith("LIVE_NOT_ARMED")
        and "LIVE venue not armed" in refusals[0]["note"]
    )
    assert any(p["status"] == "REFUSED" and p["reason"] == refusals[0]["note"] for p in rows["proposals"])
    before, armed, after, approved = rows["_results"][0][41]
    assert before is False and armed.ok and after is True and approved.ok
    assert [d["action"] for d in rows["decisions"]].count("ARM_LIVE") == 1
    assert summary["orders"] == 1  # only the order approved after arming


def test_market_rows_are_rebuilt_in_slices_and_in_full_on_force(tmp_path: Path) -> None:
    """Many markets: an unforced snapshot rebuilds a round-robin slice of the rows (plus held/worked markets),
    a forced one (after a command) rebuilds every row."""
    from tests.ui_harness import make_runtime

    rt = make_runtime(tmp_path, until_s=12, markets_count=12, **{"engine.snapshot_market_slice": 5})
    engine = rt.engine
    first = {r.condition_id: r for r in engine._build_snapshot(full=True).markets}
    for ms in engine.markets.values():  # every book moves: a fresh row would show it
        ms.book.set_bid(4000, 7_000_000)
    rows = {r.condition_id: r for r in engine._build_snapshot(full=False).markets}
    changed = [cid for cid in rows if rows[cid] is not first[cid]]
    assert len(changed) == 5 and list(rows) == list(first)  # one slice; the order of the pane is kept
    rows2 = {r.condition_id: r for r in engine._build_snapshot(full=False).markets}
    assert not set(changed) & {cid for cid in rows2 if rows2[cid] is not rows[cid]}  # the next slice
    full = engine._build_snapshot(full=True).markets
    assert all(r is not rows2[r.condition_id] for r in full)
    asyncio.run(rt.store.close())


def test_stepwise_snapshot_lets_the_loop_run_and_matches_the_one_built_at_once(tmp_path: Path) -> None:
    """The snapshot sent to another process is built across loop iterations (other tasks run between its
    steps), and with nothing changing meanwhile it holds what a snapshot built in one go holds."""
    from tests.ui_harness import make_runtime

    rt = make_runtime(
        tmp_path,
        brain=FixedBrain(p=0.70),
        until_s=30,
        markets_count=60,  # more books than one step builds
        actions={12: lambda e: e.execute(Approve(next(iter(e.pending))))},
    )
    engine = rt.engine

    async def main() -> tuple[Any, Any, int]:
        ticks = 0

        async def other_task() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        runner = asyncio.create_task(other_task())
        await asyncio.sleep(0)
        engine._touch()
        before = ticks
        stepped = await engine.snapshot_stepwise(now=True)
        during = ticks - before
        runner.cancel()
        engine._touch()
        return stepped, engine.snapshot(force=True), during

    stepped, at_once, during = asyncio.run(main())
    assert during >= 3  # rows, ladders in slices, then the money: the loop ran between them
    assert stepped.seq < at_once.seq
    assert stepped.positions and stepped.positions == at_once.positions
    assert (stepped.orders, stepped.pnl, stepped.risk, stepped.books) == (
        at_once.orders,
        at_once.pnl,
        at_once.risk,
        at_once.books,
    )
    assert {r.condition_id for r in stepped.markets} == {r.condition_id for r in at_once.markets}
    asyncio.run(rt.store.close())


def test_reconciliation_halts_when_the_venue_holds_less_than_the_engine_thinks(tmp_path: Path) -> None:
    """Every `reconcile_interval_s` the engine compares the venue's positions and resting orders with its own.
    In a clean run they agree at every check; when the venue's balance is short (here: the simulated account
    loses the shares), the mismatch must be seen at two checks in a row, then trading halts until a human
    resumes, with the difference as the halt's detail."""
    seen: dict[str, Any] = {}

    async def lose_the_shares(engine: Engine) -> None:
        seen["held"] = {p.token_id: p.size for p in engine.portfolio.open_positions()}
        seen["halts_before"] = [h["kind"] for h in engine.halts]
        engine.venue.matcher.account.tokens.clear()

    engine, summary, rows = run_scenario(
        tmp_path,
        mode="auto",
        actions={60: lose_the_shares},
        seconds=300,
        **{"breakers.reconcile_interval_s": 20},
    )
    assert seen["held"], "the scenario needs a position at 60 s"
    assert "RECONCILE" not in [k.upper() for k in seen["halts_before"]]  # clean until then
    assert engine.counters["reconciliations"] >= 3
    trips = [h for h in rows["halts"] if "reconcil" in h["kind"].lower()]
    assert len(trips) == 1
    assert 80_000 <= trips[0]["ts"] - START <= 100_000  # two checks after the loss, not the first
    assert float(trips[0]["trigger_value"]) >= 1 and float(trips[0]["threshold"]) == 0
    assert "engine" in (trips[0]["reason"] or "") and "venue 0" in (trips[0]["reason"] or "")


def test_reconciliation_agrees_through_a_whole_trading_run(tmp_path: Path) -> None:
    engine, summary, rows = run_scenario(tmp_path, mode="auto", **{"breakers.reconcile_interval_s": 5})
    assert summary["fills"] > 0 and engine.counters["reconciliations"] > 10
    assert not [h for h in rows["halts"] if "reconcil" in h["kind"].lower()]


def test_a_proposals_time_to_live_counts_in_the_operators_seconds(tmp_path: Path) -> None:
    """At any replay speed a proposal waits 30 of the operator's seconds: minutes of market time pass at
    speed max while the operator's clock stands still, and it is still there to approve; past 30 real
    seconds it is gone."""
    books, markets = write_dataset(tmp_path, seconds=300)
    wall = [1_000_000]

    async def scenario(waited_ms: int) -> tuple[Any, Any, dict[str, Any]]:
        settings = settings_for(tmp_path, books, markets, **{"store.path": str(tmp_path / f"{waited_ms}.db")})
        rt = await build(settings, brain=FixedBrain(), wall_ms=lambda: wall[0])
        seen: dict[str, Any] = {}

        async def operator() -> None:
            ids = pending(rt.engine)
            seen["row"] = next(p for p in rt.engine.snapshot(force=True).proposals if p.status == "PENDING")
            wall[0] += waited_ms
            seen["result"] = await rt.engine.execute(Approve(ids[0]))

        rt.venue.clock.call_at(START + 200_000, operator)  # 195 s of market time after the proposal
        summary = await rt.engine.run()
        return rt, summary, seen

    wall[0] = 1_000_000
    _, summary, seen = asyncio.run(scenario(29_000))
    assert seen["row"].expires_wall == 1_000_000 + 30_000
    assert seen["result"].ok and summary["orders"] == 1
    wall[0] = 1_000_000
    rt, summary, seen = asyncio.run(scenario(31_000))
    assert not seen["result"].ok and "expired" in seen["result"].message and summary["orders"] == 0
    assert any(p.status == "EXPIRED" for p in rt.engine.proposals.values())
