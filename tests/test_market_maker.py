"""The market maker through the real engine: a mandate per market (semi) or none needed (auto), two post-only
GTD quotes in the token form the balance allows, requotes only past the debounce, inventory worked off by
selling what is held, quotes pulled on a toxic market until it recovers, and the bundled replay run end to end
with the default config (both sides quoted, fills, markouts, maker/taker split, income lines, P&L identity)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from decimal import Decimal
from pathlib import Path

import pytest

from engine.commands import Approve
from engine.domain import Fill, Liquidity, OrderType, Outcome, Side
from engine.feeds.events import BookSnapshot
from engine.runtime import build
from engine.venues.base import OrderAccepted, OrderCancelled, OrderFilled
from tests.conftest import START, settings_for, write_dataset
from tests.test_replay_e2e import replay
from tests.test_strategy_limits import BOOK_ASKS, BOOK_BIDS, RecordingVenue

SHARES = 1_000_000


def run(tmp_path: Path, body, mode: str = "semi") -> None:
    async def main() -> None:
        books, markets = write_dataset(tmp_path, seconds=10, end_offset_s=3 * 86_400, markets_count=2)
        cfg = settings_for(
            tmp_path,
            books,
            markets,
            **{
                "store.path": str(tmp_path / "mm.db"),
                "engine.mode": mode,
                "strategies.market_maker.enabled": True,
                "strategies.value.enabled": False,
            },
        )
        rt = await build(cfg, ttl_on_engine_clock=True)
        engine = rt.engine
        engine.venue = RecordingVenue(rt.venue.markets())
        await engine.start()
        try:
            await book(engine, at_s=0)  # first books: each market warms up (engine.warmup_s = 5) from here
            await body(engine)
        finally:
            await engine.shutdown()
            await rt.store.close()

    asyncio.run(main())


async def book(engine, bids=BOOK_BIDS, asks=BOOK_ASKS, at_s: float = 6) -> None:
    """Every market's book at `at_s` seconds past START (the engine's clock moves there first)."""
    ts = START + int(at_s * 1000)
    engine.clock.advance_to(ts)
    for cid in engine.markets:
        await engine.on_market(BookSnapshot(cid, ts, list(bids), list(asks)))


def sent_in(engine, cid: str) -> list:
    return [r for r in engine.venue.sent if r.condition_id == cid]


async def accept_all(engine) -> None:
    for r in engine.venue.sent:
        o = engine.orders[r.client_order_id]
        if o.state.value == "SUBMITTED":
            await engine.on_venue(OrderAccepted(r.client_order_id, "v" + r.client_order_id, engine.clock.now_ms()))


async def confirm_cancels(engine) -> None:
    for o in list(engine.working.values()):
        if o.cancel_requested:
            await engine.on_venue(OrderCancelled(o.client_order_id, engine.clock.now_ms(), "CANCELED"))


async def quoting(engine) -> None:
    """Every market's mandate asked and approved (semi), then quoted once and the quotes acknowledged."""
    await book(engine)
    await engine._cycle()
    for m in list(engine.mandates.pending()):
        await engine.execute(Approve(m.mandate_id))
    await book(engine, at_s=11)
    await engine._cycle()
    await accept_all(engine)


def quotes(engine, cid: str) -> list[tuple[str, str, int]]:
    """Working quotes in a market: (side, outcome, price)."""
    return sorted(
        (o.request.side.value, o.request.outcome.value, o.request.price)
        for o in engine.working.values()
        if o.request.condition_id == cid and not o.cancel_requested
    )


def test_semi_asks_a_mandate_then_quotes_both_sides_post_only_and_debounces(tmp_path: Path) -> None:
    async def body(engine) -> None:
        await book(engine)
        await engine._cycle()
        pending = list(engine.mandates.pending())
        assert len(pending) == 2 and engine.venue.sent == []  # one per market, nothing sent before approval
        m = pending[0]
        cid = m.condition_id
        req = m.request
        assert set(req.sides) == {(o, s) for o in Outcome for s in Side}
        assert "score" in req.rationale.summary and "resolution risk" in req.rationale.summary
        assert (await engine.execute(Approve(m.mandate_id))).ok
        await book(engine, at_s=11)
        await engine._cycle()
        mine = sent_in(engine, cid)
        # Fair 0.495, half-spread one cent: bid 0.48 (buy YES) and ask 0.51 (buy NO at 0.49), 5 USDC a side.
        assert sorted((r.side.value, r.outcome.value, r.price) for r in mine) == [
            ("BUY", "NO", 4900), ("BUY", "YES", 4800),
        ]  # fmt: skip
        # 9.9 shares a side, cut to 7.42 by the size ratchet (0.75 with 72 h to the close).
        assert [(r.post_only, r.order_type, r.size) for r in mine] == [(True, OrderType.GTD, 7_420_000)] * 2
        assert all(r.expiration is not None for r in mine)
        assert not [p for p in engine.proposals.values() if p.strategy_id == "market_maker"]  # no proposal asked
        assert sent_in(engine, [c for c in engine.markets if c != cid][0]) == []  # the other awaits its mandate
        await accept_all(engine)
        # The same book: the quotes are on target, nothing is requoted.
        await book(engine, at_s=16)
        await engine._cycle()
        assert len(sent_in(engine, cid)) == 2
        # One tick is inside the debounce (requote_min_ticks = 2); three ticks is not.
        await book(engine, bids=[(4800, 500 * SHARES)], asks=[(4900, 400 * SHARES)], at_s=21)
        await engine._cycle()
        assert len(sent_in(engine, cid)) == 2
        await book(engine, bids=[(5500, 500 * SHARES)], asks=[(5600, 400 * SHARES)], at_s=26)
        await engine._cycle()
        # Fair 0.555 after a 6-cent jump: the jump also widens the half-spread (k_vol x sigma, sigma the
        # running mean of squared mid changes: sqrt(0.9 x 0.1 + 0.1 x 36) = 1.92 cents), so 2.92 cents a side.
        assert quotes(engine, cid) == [("BUY", "NO", 4100), ("BUY", "YES", 5200)]
        assert len(sent_in(engine, cid)) == 4

    run(tmp_path, body)


def test_inventory_skews_quotes_and_is_sold_rather_than_hedged(tmp_path: Path) -> None:
    async def body(engine) -> None:
        await quoting(engine)
        cid = sorted(engine.markets)[0]
        bid = next(r for r in sent_in(engine, cid) if r.outcome is Outcome.YES)
        fill = Fill("t1", bid.client_order_id, cid, bid.token_id, Outcome.YES, Side.BUY, bid.price, bid.size,
                    Decimal(0), Liquidity.MAKER, engine.clock.now_ms())  # fmt: skip
        await engine.on_venue(OrderFilled(fill, 0))
        await book(engine, at_s=16)
        await engine._cycle()
        # Long 7.42 YES of a 19.8 cap: both quotes move down 7.42 / 19.8 of a half-spread (0.37 cents); the
        # ask must now SELL the YES held, so the NO buy is withdrawn first and the sell waits for that cancel.
        assert quotes(engine, cid) == [("BUY", "YES", 4800)]
        await confirm_cancels(engine)
        await accept_all(engine)  # an order still in flight holds the market's requotes (SKIP_BUSY)
        await book(engine, at_s=21)
        await engine._cycle()
        assert quotes(engine, cid) == [("BUY", "YES", 4800), ("SELL", "YES", 5100)]
        line = engine._by_id["market_maker"].lines[cid]
        assert line.inventory == 7_420_000 and line.skew == -37
        # Markouts and the maker/taker split count the fill.
        assert engine.maker_income.fills["market_maker"] == {"maker": 1, "taker": 0}

    run(tmp_path, body)


def test_toxic_market_is_pulled_and_the_score_cannot_bring_it_back_until_it_recovers(tmp_path: Path) -> None:
    async def body(engine) -> None:
        await quoting(engine)
        cid = sorted(engine.markets)[0]
        assert len(quotes(engine, cid)) == 2
        recent = engine.markouts._recent[cid]
        recent.extend([-0.5] * engine.markouts.toxic_window)  # every recent fill here was picked off
        assert engine.markouts.toxic(cid)
        await book(engine, at_s=16)
        await engine._cycle()
        assert quotes(engine, cid) == []  # both withdrawn at once
        mm = engine._by_id["market_maker"]
        assert mm.lines[cid].decision == "SKIP_TOXIC"
        await confirm_cancels(engine)
        await book(engine, at_s=80)  # past the re-rank: the scorer vetoes it too, whatever its score
        await engine._cycle()
        assert mm.ranked[cid].first_veto == "TOXIC" and cid not in mm.active and quotes(engine, cid) == []
        engine.markouts._recent[cid] = deque([0.3] * engine.markouts.toxic_window, maxlen=engine.markouts.toxic_window)
        await book(engine, at_s=145)
        await engine._cycle()
        assert cid in mm.active and len(quotes(engine, cid)) == 2

    run(tmp_path, body)


def test_auto_mode_quotes_without_asking_anyone(tmp_path: Path) -> None:
    async def body(engine) -> None:
        await book(engine)
        await engine._cycle()
        assert not list(engine.mandates.pending())
        await book(engine, at_s=11)
        await engine._cycle()
        for cid in engine.markets:
            assert len(quotes(engine, cid)) == 2
        assert engine.counters["proposals"] == 0

    run(tmp_path, body, mode="auto")


def test_a_wide_or_stale_book_pulls_the_quotes(tmp_path: Path) -> None:
    async def body(engine) -> None:
        await book(engine)
        await engine._cycle()
        await book(engine, at_s=11)
        await engine._cycle()
        await accept_all(engine)
        cid = sorted(engine.markets)[0]
        assert len(quotes(engine, cid)) == 2
        await book(engine, bids=[(3000, 500 * SHARES)], asks=[(4500, 400 * SHARES)], at_s=70)  # 15 cents wide
        await engine._cycle()
        assert quotes(engine, cid) == []
        assert engine._by_id["market_maker"].lines[cid].decision == "SKIP_WIDE"

    run(tmp_path, body, mode="auto")


@pytest.mark.slow
def test_bundled_replay_with_the_default_config(tmp_path: Path) -> None:
    """`bigearn-tui replay --mode auto --speed max --json` with the default config: the market maker quotes
    both sides, fills, and the summary tells its markouts, maker/taker split and income apart from P&L."""
    s = replay(tmp_path, "mm", "--mode", "auto", env={"BIGEARN_STRATEGIES__MARKET_MAKER__ENABLED": "true"})
    assert s["fills"] > 0 and s["maker_fills"] > 0 and s["maker_fills"] + s["taker_fills"] == s["fills"]
    assert s["pnl_identity_ok"] is True
    marks = s["markouts"]
    assert set(marks) == {"30s", "2m", "10m"} and marks["30s"]["count"] > 0
    assert Decimal(s["rebates_estimate"]) > 0 and Decimal(s["rewards_estimate"]) == 0  # no reward pools here
    # Income is its own line: cash moved by fills and settlements only.
    assert Decimal(s["cash"]) == Decimal(1000) + Decimal(s["realized_pnl"])
    con = sqlite3.connect(s["db"])
    # A YES buy or a NO sell sits on the bid in YES terms; a YES sell or a NO buy on the ask.
    slots = {
        "bid" if (side == "BUY") == is_yes else "ask"
        for side, is_yes in con.execute(
            "SELECT o.side, o.token_id = m.yes_token_id FROM order_intents o"
            " JOIN markets m ON m.condition_id = o.condition_id WHERE o.strategy_id = 'market_maker'"
        ).fetchall()
    }
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM maker_income").fetchall()}
    n_marks = con.execute("SELECT COUNT(*) FROM markouts").fetchone()[0]
    con.close()
    assert slots == {"bid", "ask"}  # both sides of the book were quoted
    assert kinds == {"REBATE"} and n_marks >= marks["30s"]["count"]
