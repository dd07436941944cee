"""Quoting mandates in semi mode: asked once, approved like a proposal, requotes inside go out without asking,
one outside the band becomes a proposal, revoking cancels the mandate's orders, and the ledger has it all."""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

from engine.commands import Approve, Reject, RevokeMandate
from engine.domain import OrderType, Outcome, Side
from engine.feeds.events import BookSnapshot
from engine.mandate_flow import lapse_mandates
from engine.runtime import build
from engine.strategies.base import (
    Intent,
    IntentKind,
    Leg,
    MandateRequest,
    Rationale,
    Reply,
    Strategy,
    StrategyConfig,
    StrategyContext,
)
from engine.venues.base import OrderAccepted
from tests.conftest import START, settings_for, write_dataset
from tests.test_strategy_limits import BOOK_ASKS, BOOK_BIDS, RecordingVenue

SHARES = 1_000_000


class Quoter(Strategy):
    """Asks for a mandate in one market (`cid`, else the first by condition id), then sends whatever YES bids the
    test queues while it is active. Also driven through the console by tests/test_ui_mandate_flow.py."""

    strategy_id = "quoter"
    description = "test: mandate then quotes"

    def __init__(self) -> None:
        super().__init__(StrategyConfig(enabled=True, budget_pct=40.0))
        self.cid = ""
        self.quotes: deque[int] = deque()  # YES bid prices to quote

    def on_timer(self, ctx: StrategyContext) -> Reply:
        self.cid = self.cid or min(m.condition_id for m in ctx.markets())
        mandate = ctx.mandate(self.cid)
        if mandate is None:
            ask = MandateRequest(
                "quoter", self.cid, ((Outcome.YES, Side.BUY),), 20 * SHARES, 60 * SHARES, 4000, 4900, 600,
                Rationale("quote the YES bid 0.40-0.49"),
            )  # fmt: skip
            return Reply(actions=[ask])
        if mandate.status != "ACTIVE" or not self.quotes:
            return Reply()
        leg = Leg(self.cid, Outcome.YES, Side.BUY, self.quotes.popleft(), 10 * SHARES, OrderType.GTC, True)
        return Reply(actions=[Intent("quoter", (leg,), Rationale("requote", q_cons=0.5), IntentKind.QUOTE)])


def run(tmp_path: Path, body) -> None:
    async def main() -> None:
        books, markets = write_dataset(tmp_path, seconds=10, end_offset_s=3 * 86_400, markets_count=2)
        overrides = {
            "store.path": str(tmp_path / "m.db"),
            "engine.mode": "semi",
            "strategies.value.budget_pct": 60,
            "risk.max_open_positions": 10,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting", "quoter"]}},
        }
        cfg = settings_for(tmp_path, books, markets, **overrides)
        quoter = Quoter()
        rt = await build(cfg, strategies=[quoter], ttl_on_engine_clock=True)
        engine = rt.engine
        engine.venue = RecordingVenue(rt.venue.markets())
        quoter.cid = next(iter(engine.markets))
        await engine.start()
        for c in engine.markets:
            await engine.on_market(BookSnapshot(c, START, list(BOOK_BIDS), list(BOOK_ASKS)))
        try:
            await body(engine, quoter)
        finally:
            await engine.shutdown()
            await rt.store.close()

    asyncio.run(main())


def quoter_proposals(engine) -> list:
    return [p for p in engine.proposals.values() if p.strategy_id == "quoter"]


def test_mandate_flow_approve_requote_inside_outside_revoke(tmp_path: Path) -> None:
    async def body(engine, quoter: Quoter) -> None:
        venue = engine.venue
        await engine._cycle()
        pending = list(engine.mandates.pending())
        assert len(pending) == 1
        m = pending[0]
        rows = [p for p in engine.snapshot(force=True).proposals if p.kind == "MANDATE"]
        assert (
            rows
            and rows[0].proposal_id == m.mandate_id
            and "BUY Up; order <= 20; hold <= 60; Up 0.4-0.49" in rows[0].bounds
        )
        await engine._cycle()  # asks only once
        assert len(list(engine.mandates.pending())) == 1
        assert (await engine.execute(Approve(m.mandate_id))).ok
        assert m.status.value == "ACTIVE" and m.decided_by == "operator"
        quoter.quotes.extend([4500, 4600, 4700])
        for _ in range(3):
            await engine._cycle()
            await engine.on_venue(OrderAccepted(venue.sent[-1].client_order_id, "v", engine.clock.now_ms()))
        assert [r.price for r in venue.sent] == [4500, 4600, 4700]  # three requotes, no proposal asked
        assert quoter_proposals(engine) == []
        assert all(engine.orders[r.client_order_id].proposal_id == m.mandate_id for r in venue.sent)
        quoter.quotes.append(4950)  # above the band's 0.49
        await engine._cycle()
        assert len(venue.sent) == 3
        (p,) = quoter_proposals(engine)
        assert p.status == "PENDING" and p.price == 4950
        result = await engine.execute(RevokeMandate(m.mandate_id))
        assert result.ok and "3 orders cancelled" in result.message
        assert all(engine.orders[r.client_order_id].cancel_requested for r in venue.sent)
        assert m.status.value == "REVOKED"
        assert engine.mandates.open_for("quoter", quoter.cid) is None
        await engine.store.flush()
        row = (await engine.store.fetch_all("SELECT * FROM mandates"))[0]
        assert (
            row["status"] == "REVOKED" and row["decided_by"] == "operator" and row["ended_by"] == "operator"
        )
        actions = [r["action"] for r in await engine.store.fetch_all(
            "SELECT action FROM decisions WHERE proposal_id = ? ORDER BY id", (m.mandate_id,))]  # fmt: skip
        assert actions == ["REQUEST", "APPROVE", "REVOKED"]

    run(tmp_path, body)


def test_a_rejected_mandate_sends_nothing_and_an_active_one_lapses(tmp_path: Path) -> None:
    async def body(engine, quoter: Quoter) -> None:
        await engine._cycle()
        (m,) = engine.mandates.pending()
        assert (await engine.execute(Reject(m.mandate_id, note="not now"))).ok
        assert m.status.value == "REJECTED" and engine.venue.sent == []
        assert not (await engine.execute(Approve(m.mandate_id))).ok  # decided: gone
        await engine._cycle()  # the strategy asks again
        (m2,) = engine.mandates.pending()
        assert (await engine.execute(Approve(m2.mandate_id))).ok
        quoter.quotes.append(4500)
        await engine._cycle()
        sent = engine.venue.sent[-1].client_order_id
        await engine.on_venue(OrderAccepted(sent, "v", engine.clock.now_ms()))
        assert m2.expires_ts is not None
        await lapse_mandates(engine, m2.expires_ts)
        assert m2.status.value == "EXPIRED" and engine.orders[sent].cancel_requested

    run(tmp_path, body)
