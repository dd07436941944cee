"""A multi-leg intent is approved or refused as one: every leg through the risk layers, cut together, sent
together, and if a leg is refused at send the legs already sent are cancelled at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.commands import Approve, EditSize
from engine.domain import OrderType, Outcome, Side
from engine.feeds.events import BookSnapshot
from engine.runtime import build
from engine.strategies.base import Intent, Leg, Rationale
from tests.conftest import START, settings_for, write_dataset
from tests.test_strategy_limits import BOOK_ASKS, BOOK_BIDS, RecordingVenue, Scripted

SH = 1_000_000


def run(tmp_path: Path, mode: str, budget: float, body, **extra) -> None:
    async def main() -> None:
        books, markets = write_dataset(tmp_path, seconds=10, end_offset_s=3 * 86_400, markets_count=2)
        overrides = {
            "store.path": ":memory:",
            "engine.mode": mode,
            "strategies.value.enabled": False,
            "risk.max_open_positions": 10,
            "zones.bands": {"all": {"low": 0.30, "high": 0.70, "strategies": ["pair"]}},
            **extra,
        }
        cfg = settings_for(tmp_path, books, markets, **overrides)
        pair = Scripted("pair", budget)
        rt = await build(cfg, strategies=[pair], ttl_on_engine_clock=True)
        engine = rt.engine
        engine.venue = RecordingVenue(rt.venue.markets())
        await engine.start()
        for c in engine.markets:
            await engine.on_market(BookSnapshot(c, START, list(BOOK_BIDS), list(BOOK_ASKS)))
        try:
            await body(engine, pair, next(iter(engine.markets)))
        finally:
            await engine.shutdown()
            await rt.store.close()

    asyncio.run(main())


def both_sides(cid: str, yes: int, no: int, shares: int, *, no_post_only: bool = True) -> Intent:
    legs = (
        Leg(cid, Outcome.YES, Side.BUY, yes, shares * SH, OrderType.GTC, True),
        Leg(cid, Outcome.NO, Side.BUY, no, shares * SH, OrderType.GTC, no_post_only),
    )
    return Intent("pair", legs, Rationale("YES and NO bids under 1 together", q_cons=0.5))


def test_both_legs_go_together_in_auto(tmp_path: Path) -> None:
    async def body(engine, pair, cid) -> None:
        pair.script.append(both_sides(cid, 4800, 4800, 20))
        await engine._cycle()
        # The market-state ratchet (x0.75 this far from the close) cuts both legs alike.
        assert [(r.outcome, r.price, r.size) for r in engine.venue.sent] == [
            (Outcome.YES, 4800, 15 * SH),
            (Outcome.NO, 4800, 15 * SH),
        ]
        (p,) = engine.proposals.values()
        assert p.client_order_ids == tuple(r.client_order_id for r in engine.venue.sent)
        assert all(engine.orders[r.client_order_id].proposal_id == p.proposal_id for r in engine.venue.sent)

    run(tmp_path, "auto", 50.0, body)


def test_a_proposal_carries_every_leg_and_approval_sends_them_all(tmp_path: Path) -> None:
    async def body(engine, pair, cid) -> None:
        pair.script.append(both_sides(cid, 4800, 4700, 20))
        await engine._cycle()
        assert engine.venue.sent == []
        (row,) = [r for r in engine.snapshot(force=True).proposals if r.strategy_id == "pair"]
        assert row.legs == "BUY Up 0.48 x15 | BUY Down 0.47 x15"
        assert not (await engine.execute(EditSize(row.proposal_id, 10 * SH))).ok  # legs go together
        assert (await engine.execute(Approve(row.proposal_id))).ok
        assert [r.outcome for r in engine.venue.sent] == [Outcome.YES, Outcome.NO]

    run(tmp_path, "semi", 50.0, body)


def test_a_cap_on_one_leg_cuts_both_to_the_same_fraction(tmp_path: Path) -> None:
    async def body(engine, pair, cid) -> None:
        # Budget 5% of 1000 = 50 USDC: 100 + 100 shares at 0.48 would cost 96; both legs are cut alike.
        pair.script.append(both_sides(cid, 4800, 4800, 100))
        await engine._cycle()
        sizes = [r.size for r in engine.venue.sent]
        assert len(sizes) == 2 and sizes[0] == sizes[1] < 75 * SH  # below the ratchet's cut: the budget bound
        # Conservative: the second leg's room counts the first at its size before the common cut.
        assert sum(r.price * r.size for r in engine.venue.sent) / 1e10 <= 50
        (p,) = engine.proposals.values()
        assert p.binding_cap == "budget"

    run(tmp_path, "auto", 5.0, body)


def test_one_leg_refused_by_a_risk_layer_refuses_the_intent(tmp_path: Path) -> None:
    async def body(engine, pair, cid) -> None:
        pair.script.append(both_sides(cid, 4800, 2500, 20))  # NO at 0.25 is outside the 0.30-0.70 zone
        await engine._cycle()
        assert engine.venue.sent == [] and engine.proposals == {}
        assert engine.refusals.get("ZONE") == 1 or any(k.startswith("ZONE") for k in engine.refusals)

    run(tmp_path, "auto", 50.0, body)


def test_a_leg_refused_at_send_cancels_the_legs_already_sent(tmp_path: Path) -> None:
    async def body(engine, pair, cid) -> None:
        # NO post-only at 0.52 would cross the NO ask (0.51 = 1 - YES bid 0.49): the firewall refuses it at send.
        pair.script.append(both_sides(cid, 4800, 5200, 20))
        await engine._cycle()
        first = engine.venue.sent[0].client_order_id
        assert len(engine.venue.sent) == 1 and engine.orders[first].cancel_requested
        (p,) = engine.proposals.values()
        assert p.status == "REFUSED" and "POST_ONLY_CROSSES" in p.reason

    run(tmp_path, "auto", 50.0, body)
