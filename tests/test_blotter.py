"""The blotter: every fill and settlement with its price, size, fee, liquidity, strategy and the realized P&L it
booked, kept after the position is gone, across a restart, over the control socket, and in its widget."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson
from textual.app import App, ComposeResult

from engine.blotter import Blotter
from engine.control import decode_snapshot, encode_snapshot
from engine.domain import Fill, Liquidity, Outcome, Side
from engine.runtime import Runtime, build
from engine.snapshot import BlotterRow
from engine.units import px_from_decimal, qty_from_decimal
from engine.venues.base import FillReversed, OrderFilled, Settled
from tests import test_market_maker as mm
from tests.conftest import START, FixedBrain, settings_for, write_dataset
from tests.test_resume import Life
from widgets.blotter import NARROW_COLUMNS, BlotterTable

T = TypeVar("T")
TIMEOUT_S = 60
ANY_PRICE = {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}}


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, TIMEOUT_S)  # a failure must not hang the suite

    return asyncio.run(bounded())


def replay_settings(tmp_path: Path, store: str = ":memory:") -> Any:
    """One up/down market: the book 0.49/0.50 for 300 s, trading closes at 90 s, Up wins. The value strategy
    (FixedBrain 0.70) takes the ask: TAKER fills with the market's taker fee."""
    books, markets = write_dataset(tmp_path, seconds=300, end_offset_s=90, markets_count=1, payout_up=1.0)
    return settings_for(
        tmp_path,
        books,
        markets,
        **{
            "store.path": store,
            "engine.mode": "auto",
            "risk.min_edge": 0.0,
            "strategies.value.budget_pct": 90,
            "zones.bands": ANY_PRICE,
        },
    )


async def traded(tmp_path: Path, until_s: float = 250) -> Runtime:
    rt = await build(replay_settings(tmp_path), brain=FixedBrain(p=0.70), run_id="blotter", ttl_on_engine_clock=True)
    await rt.engine.start()
    await rt.venue.run(rt.engine, until_ts=START + int(until_s * 1000))
    return rt


async def close(rt: Runtime) -> None:
    await rt.engine.shutdown()
    await rt.store.close()


def test_fills_then_the_settlement_that_closes_the_position_stay_in_the_blotter(tmp_path: Path) -> None:
    async def main() -> tuple[Any, list[dict[str, Any]], Any]:
        rt = await traded(tmp_path)
        try:
            await rt.store.flush()
            stored = await rt.store.fetch_all("SELECT * FROM fills ORDER BY rowid")
            return rt.engine.snapshot(force=True), stored, rt.engine.portfolio
        finally:
            await close(rt)

    snap, stored, portfolio = run(main())
    assert stored and not snap.positions, "the scenario must buy and then see the market settle"
    fills = [r for r in reversed(snap.blotter) if r.kind == "FILL"]  # oldest first, as stored
    assert [
        (r.trade_id, r.order_id, r.side, r.price, r.size, r.fee, r.liquidity, r.strategy_id) for r in fills
    ] == [
        (f["trade_id"], f["client_order_id"], f["side"], px_from_decimal(f["price"]), qty_from_decimal(f["size"]),
         f["fee"], f["liquidity"], "value")
        for f in stored
    ]  # fmt: skip
    assert all(r.side == "BUY" and r.realized is None and r.outcome == "Up" for r in fills)
    assert any(r.liquidity == "TAKER" and r.fee > 0 for r in fills)
    assert all(r.title == "Bitcoin Up or Down - test 0" for r in snap.blotter)
    # The settlement is the newest row: Up paid 1 per share; it booked payout less the average cost of them all.
    settled = snap.blotter[0]
    bought = sum(r.size for r in fills)
    cost = sum((Decimal(r.price * r.size).scaleb(-10) for r in fills), Decimal(0))
    assert (settled.kind, settled.side, settled.outcome, settled.price, settled.size) == (
        "SETTLEMENT", "", "Up", 10_000, bought,
    )  # fmt: skip
    assert (settled.fee, settled.liquidity, settled.strategy_id) == (0, "", "value")
    assert settled.realized == Decimal(bought).scaleb(-6) - cost > 0
    # Over the blotter, realized less fees is the account's realized P&L, to the last 1e-10.
    realized = sum((r.realized for r in snap.blotter if r.realized is not None), Decimal(0))
    assert realized - sum((r.fee for r in snap.blotter), Decimal(0)) == portfolio.realized_pnl


def test_maker_fills_a_sell_with_its_realized_pnl_and_a_reversed_fill_taken_out(tmp_path: Path) -> None:
    # The market maker's quotes fill as MAKER (no fee): buy YES, then its ask sells half of it back.
    async def body(engine: Any) -> None:
        await mm.quoting(engine)
        cid = sorted(engine.markets)[0]
        bid = next(r for r in mm.sent_in(engine, cid) if r.outcome is Outcome.YES and r.side is Side.BUY)
        buy = Fill("t1", bid.client_order_id, cid, bid.token_id, Outcome.YES, Side.BUY, bid.price, bid.size,
                   Decimal(0), Liquidity.MAKER, engine.clock.now_ms())  # fmt: skip
        await engine.on_venue(OrderFilled(buy, 0))
        await mm.book(engine, at_s=16)
        await engine._cycle()
        await mm.confirm_cancels(engine)
        await mm.accept_all(engine)
        await mm.book(engine, at_s=21)
        await engine._cycle()
        ask = next(r for r in mm.sent_in(engine, cid) if r.side is Side.SELL)
        half = bid.size // 2
        sell = Fill("t2", ask.client_order_id, cid, ask.token_id, Outcome.YES, Side.SELL, ask.price, half,
                    Decimal(0), Liquidity.MAKER, engine.clock.now_ms())  # fmt: skip
        await engine.on_venue(OrderFilled(sell, ask.size - half))
        rows = engine.snapshot(force=True).blotter
        assert [(r.side, r.liquidity, r.strategy_id, r.outcome, r.trade_id) for r in rows] == [
            ("SELL", "MAKER", "market_maker", "Up", "t2"),
            ("BUY", "MAKER", "market_maker", "Up", "t1"),
        ]
        assert rows[1].realized is None and rows[1].price == bid.price and rows[1].size == bid.size
        assert rows[0].price == ask.price and rows[0].size == half and rows[0].fee == 0
        assert rows[0].realized == Decimal((ask.price - bid.price) * half).scaleb(-10)
        # The sell's trade fails on chain: the ledger forgets it, and so does the blotter.
        await engine.on_venue(FillReversed(ask.client_order_id, sell, engine.clock.now_ms(), "FAILED"))
        assert [r.trade_id for r in engine.snapshot(force=True).blotter] == ["t1"]
        # The rest settles at 0 (Down won): a loss of its whole cost, shown after the position is gone.
        token = bid.token_id
        await engine.on_venue(Settled(cid, token, Outcome.YES, engine.clock.now_ms(), bid.size, Decimal(0), Decimal(0)))
        snap = engine.snapshot(force=True)
        assert not [p for p in snap.positions if p.token_id == token]
        top = snap.blotter[0]
        assert (top.kind, top.price, top.size, top.strategy_id) == ("SETTLEMENT", 0, bid.size, "market_maker")
        assert top.realized == -Decimal(bid.price * bid.size).scaleb(-10)

    mm.run(tmp_path, body)


def test_the_blotter_survives_a_restart_on_the_same_database(tmp_path: Path) -> None:
    s = replay_settings(tmp_path, store=str(tmp_path / "ledger.db"))

    async def main() -> tuple[tuple[BlotterRow, ...], tuple[BlotterRow, ...], Any]:
        first = Life(s, "first-life", FixedBrain(p=0.70))
        a = await first.start()
        await first.until(250)  # bought, and the market settled
        before = a.snapshot(force=True).blotter
        await first.kill()
        second = Life(s, "second-life", FixedBrain(p=0.70), from_s=250)
        b = await second.start()
        try:
            return before, b.snapshot(force=True).blotter, b.restored
        finally:
            await b.shutdown()
            await second.store.close()

    before, after, restored = run(main())
    assert restored["fills"] > 0 and restored["settlements"] == 1
    assert before[0].kind == "SETTLEMENT" and before[0].realized
    assert after == before  # every row, its realized P&L exact, newest first


def test_a_bounded_history_keeps_the_newest() -> None:
    blotter = Blotter(max_rows=3)
    row = BlotterRow(0, "FILL", "c", "t", "Yes", "BUY", 5000, 1, Decimal(0), "MAKER", "value", None)
    blotter.load(dataclasses.replace(row, ts=ts) for ts in (5, 1, 4, 2, 3))
    assert [r.ts for r in blotter.rows()] == [5, 4, 3]
    assert blotter.rows() is blotter.rows()  # unchanged: the same tuple for every snapshot
    blotter.record(dataclasses.replace(row, ts=6))
    assert [r.ts for r in blotter.rows()] == [6, 5, 4]


def test_blotter_rows_round_trip_over_the_control_socket(tmp_path: Path) -> None:
    async def main() -> Any:
        rt = await traded(tmp_path)
        try:
            return rt.engine.snapshot(force=True)
        finally:
            await close(rt)

    snap = run(main())
    assert any(r.realized is None for r in snap.blotter) and any(r.realized is not None for r in snap.blotter)
    decoded = decode_snapshot(orjson.loads(encode_snapshot(snap)))
    assert decoded.blotter == snap.blotter
    assert all(isinstance(r, BlotterRow) and isinstance(r.fee, Decimal) for r in decoded.blotter)
    assert {type(r.realized) for r in decoded.blotter} == {Decimal, type(None)}


class BlotterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BlotterTable(id="blotter")


def texts(table: BlotterTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_the_widget_shows_filters_and_narrows(tmp_path: Path) -> None:
    async def main() -> None:
        rt = await traded(tmp_path)
        try:
            rows = rt.engine.snapshot(force=True).blotter
        finally:
            await close(rt)
        app = BlotterApp()
        async with app.run_test(size=(140, 20)) as pilot:
            table = app.query_one(BlotterTable)
            table.update_rows(rows)
            await pilot.pause()
            assert [c.label.plain for c in table.ordered_columns][-3:] == ["Liq", "Strategy", "Realized"]
            shown = texts(table)
            assert len(shown) == len(rows)
            settled, first_fill = shown[0], shown[-1]
            assert settled[0] == datetime.fromtimestamp(rows[0].ts / 1000, UTC).strftime("%H:%M:%S")
            assert settled[2:5] == ["SETL", "Up", "1.00"] and settled[6:9] == ["-", "-", "value"]
            assert settled[9] == f"{float(rows[0].realized):+,.2f}"
            assert first_fill[2:5] == ["BUY", "Up", "0.50"] and first_fill[7] == "T" and first_fill[9] == "-"
            # Filters: words in any order and case; a strategy.
            table.update_rows(rows, "setl")
            assert table.row_count == 0
            table.update_rows(rows, "UP settlement")
            assert [r.kind for r in table.shown.values()] == ["SETTLEMENT"]
            table.update_rows(rows, "", strategy_id="market_maker")
            assert table.row_count == 0
            table.update_rows(rows, "buy", strategy_id="value")
            assert table.row_count == len(rows) - 1
            # A new fill arrives: one row added, on top.
            newer = dataclasses.replace(rows[1], ts=rows[0].ts + 1000, trade_id="t-new", side="SELL", realized=Decimal("1.5"))
            table.update_rows((newer, *rows))
            assert table.row_count == len(rows) + 1 and table.selected() == newer
            assert texts(table)[0][2] == "SELL" and texts(table)[0][9] == "+1.50"
            # A pane 70 columns wide: Strategy and Fee go, every other column still fits.
            await pilot.resize_terminal(70, 20)
            await pilot.pause()
            assert tuple(c.label.plain for c in table.ordered_columns) == NARROW_COLUMNS
            assert table.row_count == len(rows) + 1
            assert sum(c.get_render_width(table) for c in table.ordered_columns) <= 70
            assert texts(table)[0][-1] == "+1.50"

    run(main())
