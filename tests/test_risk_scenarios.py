"""Risk and execution safety end to end (docs/risk.md).

Through the real CLI (headless replay, summary JSON, the ledger it writes): a tiny daily-loss limit trips the
breaker, `halts` lists it and no order is created after it; a kill-switch file present at start means zero
orders; reduce-only mode sends nothing that increases a position. Through the engine: the kill switch halts
and cancels within a second of appearing and blocks a resume while it is there; reduce-only on trip still
lets exits out; and every reason a trade can be refused is shown (Proposals pane rows) and stored.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from engine.commands import Approve, Resume
from engine.engine import Engine
from engine.runtime import build
from tests.conftest import CID, START, FixedBrain, settings_for, write_dataset
from tests.test_engine import SteppedBrain, run_scenario
from tests.test_replay_e2e import replay

# --- a recorded-format dataset where the microprice brain trades and loses ------------------------------------
#
# Four markets, one a minute. Each opens with heavy bids at 0.30 against a thin ask at 0.40: the microprice
# leans up and a maker bid at 0.30 has edge (0.30 is in the 0.20-0.40 price zone, where value bets may go).
# 45 s in, sellers take the book down through it (asks at 0.29): the bid fills and is marked at 0.27, a loss;
# the market later resolves against it.

SCENARIO_START = 1_790_000_000_000


def write_losing_markets(
    root: Path, markets: int = 4, stagger_s: int = 60, life_s: int = 120
) -> tuple[Path, Path]:
    rows, lines = [], []
    for k in range(markets):
        cid = "0x" + f"{k + 1:02x}" * 32
        t0 = SCENARIO_START + 1000 * stagger_s * k
        rows.append(
            {
                "market_id": cid,
                "slug": f"scenario-{k}",
                "question": f"Scenario market {k}",
                "category": "politics",
                "start_ts": t0,
                "end_ts": t0 + 1000 * (life_s + 10),
                "payout_up": 0,
                "payout_down": 1,
            }
        )
        for i in range(life_s):
            bids, asks = (
                ([[0.30, 2000.0]], [[0.40, 100.0]]) if i < 45 else ([[0.25, 2000.0]], [[0.29, 5000.0]])
            )
            lines.append({"market": cid, "ts": t0 + 1000 * i, "side": "UP", "bids": bids, "asks": asks})
    lines.sort(key=lambda line: line["ts"])
    books, markets_path = root / "losing.jsonl", root / "losing-markets.json"
    books.write_text("".join(json.dumps(line) + "\n" for line in lines))
    markets_path.write_text(json.dumps(rows))
    return books, markets_path


def cli(tmp_path: Path, name: str, **env: str) -> tuple[dict, list[dict], list[dict]]:
    """A headless auto-mode replay of the losing markets; its summary, order intents and evaluations."""
    books, markets = write_losing_markets(tmp_path)
    base = {"BIGEARN_BREAKERS__KILL_SWITCH_FILE": str(tmp_path / f"{name}.KILL")}
    summary = replay(
        tmp_path, name, "--mode", "auto", "--data", str(books), "--markets", str(markets), env={**base, **env}
    )
    con = sqlite3.connect(summary["db"])
    con.row_factory = sqlite3.Row
    orders = [dict(r) for r in con.execute("SELECT * FROM order_intents ORDER BY ts")]
    evaluations = [dict(r) for r in con.execute("SELECT * FROM evaluations ORDER BY ts")]
    con.close()
    return summary, orders, evaluations


def test_tiny_daily_loss_limit_trips_is_listed_and_no_order_follows(tmp_path: Path) -> None:
    control, control_orders, _ = cli(tmp_path, "control")
    summary, orders, evaluations = cli(tmp_path, "tiny", BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT="0.001")
    daily = [h for h in summary["halts"] if h["kind"] == "daily_loss"]
    assert len(daily) == 1, summary["halts"]
    trip = daily[0]
    assert trip["trigger_value"] >= trip["threshold"] == 0.001 and trip["action"] == "pause 3600s, no orders"
    assert trip["ts"] == SCENARIO_START + 50_000  # the first cycle after the first fill (45 s) marks the loss
    # Nothing after the trip; without the tiny limit, every market would have traded.
    assert len(orders) == summary["orders"] == 1 and all(o["ts"] < trip["ts"] for o in orders)
    assert control["orders"] == len(control_orders) == 4
    assert sum(o["ts"] > trip["ts"] for o in control_orders) == 3
    # Each trade the breaker stopped is stored with its code, the value that decided it and the threshold.
    blocked = [e for e in evaluations if e["decision"] == "SKIP_BREAKER"]
    assert blocked and all(e["ts"] >= trip["ts"] for e in blocked)
    refusal = json.loads(blocked[0]["details_json"])["refusal"]
    assert refusal["code"] == "BREAKER_DAILY_LOSS" and refusal["threshold"] == 0.001
    assert refusal["value"] == pytest.approx(trip["trigger_value"])
    assert summary["refusals"]["BREAKER_DAILY_LOSS"] == len(blocked)


def test_kill_switch_file_present_at_start_means_zero_orders(tmp_path: Path) -> None:
    (tmp_path / "kill.KILL").write_text("maintenance\n")
    summary, orders, evaluations = cli(tmp_path, "kill")
    assert summary["orders"] == 0 and orders == [] and summary["proposals"] == 0
    assert [h["kind"] for h in summary["halts"]] == ["kill_switch"]
    assert summary["halts"][0]["ts"] == SCENARIO_START and "maintenance" in summary["halts"][0]["reason"]
    assert {e["decision"] for e in evaluations} == {"SKIP_HALTED"}


def test_reduce_only_mode_sends_nothing_that_increases_a_position(tmp_path: Path) -> None:
    summary, orders, evaluations = cli(tmp_path, "reduce", BIGEARN_RISK__REDUCE_ONLY="true")
    assert not [o for o in orders if o["side"] == "BUY"]  # a buy is the only way a position grows
    assert summary["orders"] == len(orders) == 0  # and with nothing held, nothing can shrink either
    # Each market's maker bid was stopped, every cycle it had its edge, and stored as such.
    stopped = [e for e in evaluations if e["decision"] == "SKIP_BREAKER"]
    assert {json.loads(e["details_json"])["refusal"]["code"] for e in stopped} == {"BREAKER_REDUCE_ONLY"}
    assert len({e["condition_id"] for e in stopped}) == 4
    assert summary["refusals"] == {"BREAKER_REDUCE_ONLY": len(stopped)}


# --- engine scenarios ---------------------------------------------------------------------------------------


def test_reduce_only_on_trip_lets_exits_out_and_nothing_else(tmp_path: Path) -> None:
    """Auto mode buys at 5 s; the spread and fee trip a 0.1% daily limit at 10 s. With reduce_only_on_trip,
    when the estimate falls at 30 s the exit (selling what is held) still goes, and no buy does."""
    brain = SteppedBrain(0.70, 0.30, START + 30_000)
    engine, summary, rows = run_scenario(
        tmp_path,
        mode="auto",
        brain=brain,
        seconds=80,
        end_offset_s=120,
        **{"breakers.max_daily_loss_pct": 0.001, "breakers.reduce_only_on_trip": True},
    )
    trip = next(h for h in summary["halts"] if h["kind"] == "daily_loss")
    assert trip["action"] == "pause 3600s, reduce-only"
    after = [o for o in rows["order_intents"] if o["ts"] > trip["ts"]]
    before = [o for o in rows["order_intents"] if o["ts"] <= trip["ts"]]
    assert [o["side"] for o in before] == ["BUY"]
    assert after and {o["side"] for o in after} == {"SELL"}
    assert sum(o["size"] for o in after) <= before[0]["size"]  # never more than was held
    assert any(
        e["decision"] == "SKIP_BREAKER" and "BREAKER_DAILY_LOSS" in e["reason"] for e in rows["evaluations"]
    )


def test_kill_switch_appearing_halts_and_cancels_within_a_second_and_blocks_resume(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=120, end_offset_s=200)
    kill = tmp_path / "KILL"
    settings = settings_for(
        tmp_path, books, markets, **{"engine.mode": "auto", "breakers.kill_switch_file": str(kill)}
    )

    async def main() -> dict[str, Any]:
        rt = await build(settings, brain=FixedBrain(p=0.53, half_width=0.005))  # a maker bid rests
        engine = rt.engine
        cancelled: list[float] = []
        real_cancel_all = rt.venue.cancel_all

        async def cancel_all() -> None:
            cancelled.append(time.monotonic())
            await real_cancel_all()

        rt.venue.cancel_all = cancel_all  # type: ignore[method-assign]
        await engine.start()
        await rt.venue.run(engine, until_ts=START + 20_000)
        resting = [o for o in engine.working.values() if o.state.value == "LIVE"]
        kill.write_text("stop now")
        appeared = time.monotonic()
        while engine.state != "HALTED" and time.monotonic() - appeared < 2:
            await asyncio.sleep(0.02)
        halted_after = time.monotonic() - appeared
        await asyncio.sleep(0.05)
        refused = await engine.execute(Resume())
        kill.unlink()
        resumed = await engine.execute(Resume())
        state = engine.state
        await engine.shutdown()
        rows = await rt.store.fetch_all("SELECT * FROM halts")
        await rt.store.close()
        return {
            "resting": resting,
            "halted_after": halted_after,
            "cancel_after": cancelled[0] - appeared if cancelled else None,
            "refused": refused,
            "resumed": resumed,
            "rows": rows,
            "state": state,
        }

    out = asyncio.run(main())
    assert out["resting"], "a maker order was resting when the file appeared"
    assert out["halted_after"] < 1.0 and out["cancel_after"] is not None and out["cancel_after"] < 1.0
    assert all(o.cancel_requested for o in out["resting"])
    assert not out["refused"].ok and "kill_switch" in out["refused"].message
    assert out["resumed"].ok and out["state"] == "RESUMING"
    row = out["rows"][0]
    assert row["kind"] == "kill_switch" and row["action"] == "halt until resumed, no orders, cancel all"
    assert row["resumed_by"] == "operator"


def test_engine_healthy_only_while_no_cancel_all_breaker_is_tripped(tmp_path: Path) -> None:
    """The venue's dead-man heartbeat follows Engine.healthy(): off while the kill switch is there."""
    books, markets = write_dataset(tmp_path, seconds=20)
    kill = tmp_path / "KILL"
    settings = settings_for(tmp_path, books, markets, **{"breakers.kill_switch_file": str(kill)})

    async def main() -> list[bool]:
        rt = await build(settings, brain=FixedBrain())
        await rt.engine.start()
        seen = [rt.engine.healthy()]
        kill.write_text("x")
        rt.engine.breakers.check_kill_switch(rt.engine.clock.now_ms())
        seen.append(rt.engine.healthy())
        await rt.engine.shutdown()
        seen.append(rt.engine.healthy())
        await rt.store.close()
        return seen

    assert asyncio.run(main()) == [True, False, False]


# --- every reason a trade can be refused: shown in the Proposals pane and stored ---------------------------


def zone_4_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
    return [[0.64, 900.0], [0.63, 900.0]], [[0.65, 900.0], [0.66, 900.0]]


def blocked_row(engine: Engine, code: str):
    snap = engine.snapshot(force=True)
    return next((p for p in snap.proposals if p.status == "BLOCKED" and p.reason_code == code), None)


@pytest.mark.parametrize(
    ("name", "code", "decision", "kwargs"),
    [
        # A maker quote in the last minute of a short-lived market (CLOSE_WINDOW).
        (
            "market state",
            "MARKET_CLOSE_WINDOW",
            "SKIP_MARKET_STATE",
            {"brain": FixedBrain(p=0.53, half_width=0.005), "seconds": 60},
        ),
        # A directional buy at 0.65: prohibited in the 0.60-0.80 zone.
        (
            "price zone",
            "ZONE_DIRECTIONAL_PROHIBITED",
            "SKIP_ZONE",
            {"brain": FixedBrain(p=0.90), "seconds": 60, "end_offset_s": 120, "book": zone_4_book},
        ),
        # Reduce-only mode: a buy never goes.
        (
            "breaker",
            "BREAKER_REDUCE_ONLY",
            "SKIP_BREAKER",
            {"seconds": 60, "end_offset_s": 120, "risk.reduce_only": True},
        ),
        # A taker buy in the last minute, halved by the ratchet below the market's minimum size.
        (
            "size ratchet",
            "SIZE_RATCHET",
            "SKIP_MARKET_STATE",
            {"brain": FixedBrain(p=0.70), "seconds": 60, "risk.kelly_fraction": 0.012},
        ),
    ],
)
def test_each_risk_layer_refusal_is_a_blocked_row_and_an_evaluation(
    tmp_path: Path, name: str, code: str, decision: str, kwargs: dict
) -> None:
    kwargs = dict(kwargs)
    brain = kwargs.pop("brain", FixedBrain())
    engine, summary, rows = run_scenario(tmp_path, mode="semi", brain=brain, **kwargs)
    stored = [e for e in rows["evaluations"] if e["decision"] == decision]
    assert stored, (name, summary["decisions"])
    refusal = json.loads(stored[0]["details_json"])["refusal"]
    assert refusal["code"] == code and stored[0]["reason"].startswith(code)
    assert summary["refusals"][code] == len([e for e in stored if code in e["reason"]])
    assert summary["proposals"] == 0 or name == "size ratchet"


def test_blocked_rows_are_shown_while_the_market_is_open(tmp_path: Path) -> None:
    books, markets = write_dataset(tmp_path, seconds=60, end_offset_s=120)
    settings = settings_for(tmp_path, books, markets, **{"risk.reduce_only": True})

    async def main() -> tuple[Any, Any]:
        rt = await build(settings, brain=FixedBrain())
        await rt.engine.start()
        await rt.venue.run(rt.engine, until_ts=START + 12_000)
        row = blocked_row(rt.engine, "BREAKER_REDUCE_ONLY")
        await rt.store.close()
        return row, rt.engine

    row, engine = asyncio.run(main())
    assert row is not None and row.condition_id == CID and row.side == "BUY" and row.size > 0
    assert row.reason.startswith("BREAKER_REDUCE_ONLY") and row.proposal_id.startswith("blocked:")


def test_refusals_at_send_are_stored_on_the_proposal_and_shown(tmp_path: Path) -> None:
    """Approved but refused by the firewall (here its mutation budget, 1 a minute): the proposal is REFUSED with
    the rule, its value and threshold, in the ledger (status, reason, decision) and in the read model."""
    books, markets = write_dataset(tmp_path, seconds=60, end_offset_s=120, markets_count=2)
    settings = settings_for(tmp_path, books, markets, **{"execution.mutation_budget_per_min": 1})
    results = []

    async def main() -> tuple[list[dict], list[dict], Any]:
        rt = await build(settings, brain=FixedBrain())

        async def approve_all() -> None:
            for pid in sorted(rt.engine.pending):
                results.append(await rt.engine.execute(Approve(pid)))

        rt.venue.clock.call_at(START + 6_000, approve_all)
        await rt.engine.start()
        await rt.venue.run(rt.engine, until_ts=START + 7_000)
        snap = rt.engine.snapshot(force=True)
        await rt.store.flush()
        proposals = await rt.store.fetch_all("SELECT id, status, reason FROM proposals ORDER BY id")
        decisions = await rt.store.fetch_all(
            "SELECT proposal_id, action, note FROM decisions WHERE action = 'REFUSE'"
        )
        await rt.store.close()
        return proposals, decisions, snap

    proposals, decisions, snap = asyncio.run(main())
    assert [r.ok for r in results] == [True, False]
    assert "RATE_BUDGET" in results[1].message
    refused = [p for p in proposals if p["status"] == "REFUSED"]
    assert len(refused) == 1 and refused[0]["reason"].startswith("RATE_BUDGET value=1 threshold=1")
    assert decisions == [{"proposal_id": refused[0]["id"], "action": "REFUSE", "note": refused[0]["reason"]}]
    row = next(p for p in snap.proposals if p.proposal_id == refused[0]["id"])
    assert (row.status, row.reason_code, row.reason_value, row.reason_threshold) == (
        "REFUSED",
        "RATE_BUDGET",
        1,
        1,
    )


def test_the_proposals_pane_words_every_refusal() -> None:
    from widgets.proposals import describe

    cases = {
        ("BREAKER_DAILY_LOSS", 0.0012, 0.001): "day loss 0.12%>=0.10%",
        ("BREAKER_STALE_FEED", 35_000, 30_000): "stale feed 35s>30s",
        ("BREAKER_KILL_SWITCH", 1, 1): "kill switch",
        ("BREAKER_REDUCE_ONLY", 1, 0): "reduce-only",
        ("MARKET_CLOSE_WINDOW", 25_000, 60_000): "close window 25s<=60s",
        ("MARKET_CLOSED", 0, 0): "market closed",
        ("SIZE_RATCHET", 2.0, 2.5): "ratchet: $2.00 left<$2.50",
        ("NO_ROOM_CLUSTER_CAP", 1.2, 2.5): "cluster cap: $1.20 left<$2.50",
        ("CLUSTER_CAP", 130, 120): "cluster cap $130.00>$120.00",
        ("ZONE_DIRECTIONAL_PROHIBITED", 6500, 6000): "zone directional prohibited 0.65",
        ("ZONE_MIN_PROB", 0.51, 0.52): "zone: p 0.510<=0.52",
        ("RATE_BUDGET", 60, 60): "rate budget 60>=60/min",
        ("SLIPPAGE", 80, 50): "slippage 80>50bps",
        ("STALE_BOOK", 31_000, 30_000): "stale book 31s>30s",
    }
    for (code, value, threshold), text in cases.items():
        assert describe(code, value, threshold) == text
