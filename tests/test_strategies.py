"""The strategy layer: a strategy written from the public interface alone runs beside `value` in one replay,
each with its own orders, fills and P&L, and the per-strategy books add up to the totals exactly."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from engine.domain import Fill, Market, OrderType, Outcome, Side
from engine.runtime import build
from engine.strategies.base import (
    Intent,
    IntentKind,
    Leg,
    Rationale,
    Reply,
    Strategy,
    StrategyConfig,
    StrategyContext,
    Verdict,
)
from tests.conftest import FixedBrain, settings_for, write_dataset

SHARES = 10_000_000  # 10 shares
HOLD_MS = 20_000


class NoScalper(Strategy):
    """Test strategy from the public interface only: buys 10 NO at the ask, sells them at the bid 20 s later,
    again and again. FixedBrain(0.70) makes `value` buy YES, so the two books never share a token."""

    strategy_id = "no_scalper"
    description = "test: buy NO, hold 20 s, sell"

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.bought_at: dict[str, int] = {}
        self.fills: list[Fill] = []

    def on_book(self, ctx: StrategyContext, market: Market) -> Reply:
        cid = market.condition_id
        blocked = ctx.tradable(cid)
        if blocked is not None:
            return Reply(verdicts=[Verdict(cid, blocked.decision, blocked.reason)])
        if ctx.orders(cid):
            return Reply(verdicts=[Verdict(cid, "HOLD", "an order is working")])
        view = ctx.book(cid).view(Outcome.NO)
        held = ctx.position(market.no_token)
        now = ctx.now_ms()
        if held == 0 and view.best_ask is not None:
            leg = Leg(cid, Outcome.NO, Side.BUY, view.best_ask, SHARES, OrderType.FAK)
            why = Rationale(f"buy NO at {view.best_ask}", binding_cap="fixed size", q_cons=0.5)
            return Reply([Intent(self.strategy_id, (leg,), why)], [Verdict(cid, "PROPOSE", "flat: buy")])
        if held > 0 and now - self.bought_at.get(cid, now) >= HOLD_MS and view.best_bid is not None:
            leg = Leg(cid, Outcome.NO, Side.SELL, view.best_bid, held, OrderType.FAK)
            why = Rationale(f"sell NO at {view.best_bid}", binding_cap="position")
            intent = Intent(self.strategy_id, (leg,), why, IntentKind.EXIT)
            return Reply([intent], [Verdict(cid, "PROPOSE", "held long enough: sell")])
        return Reply(verdicts=[Verdict(cid, "HOLD", "holding")])

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Reply:
        self.fills.append(fill)
        if fill.side is Side.BUY:
            self.bought_at[fill.condition_id] = fill.ts
        return Reply()


def run_pair(tmp_path: Path) -> tuple[dict, dict[str, list[dict]], NoScalper]:
    books, markets = write_dataset(tmp_path, seconds=200, markets_count=2)
    zones = {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting", "no_scalper"]}}
    overrides = {
        "engine.mode": "auto",
        "risk.max_open_positions": 10,
        "zones.bands": zones,
        "strategies.value.budget_pct": 60,  # the two shares add up to the whole bankroll, not more
    }
    settings = settings_for(tmp_path, books, markets, **overrides)
    scalper = NoScalper(StrategyConfig(enabled=True, budget_pct=40.0))

    async def main() -> tuple[dict, dict[str, list[dict]]]:
        rt = await build(settings, brain=FixedBrain(), strategies=[scalper], ttl_on_engine_clock=True)
        summary = await rt.engine.run()
        rows = {
            t: await rt.store.fetch_all(f"SELECT * FROM {t}")
            for t in ("order_intents", "proposals", "evaluations", "fills", "pnl_snapshots")
        }
        await rt.store.close()
        return summary, rows

    summary, rows = asyncio.run(main())
    return summary, rows, scalper


def test_a_second_strategy_trades_beside_value_with_its_own_books(tmp_path: Path) -> None:
    summary, rows, scalper = run_pair(tmp_path)
    per = summary["strategies"]
    assert set(per) == {"value", "no_scalper"}
    assert per["value"]["fills"] > 0 and per["no_scalper"]["fills"] > 0
    # Each order names its strategy, and each strategy traded only its own side of the book.
    by_strategy: dict[str, set[str]] = {}
    tokens = {r["client_order_id"]: (r["strategy_id"], r["token_id"]) for r in rows["order_intents"]}
    for sid, token in tokens.values():
        by_strategy.setdefault(sid, set()).add(token)
    assert by_strategy["value"].isdisjoint(by_strategy["no_scalper"])
    assert {r["strategy_id"] for r in rows["proposals"]} == {"value", "no_scalper"}
    assert {r["strategy_id"] for r in rows["evaluations"]} == {"value", "no_scalper"}
    # The sums: fills, fees, realized P&L and open positions add up to the totals exactly.
    assert sum(s["fills"] for s in per.values()) == summary["fills"]
    assert sum(Decimal(s["fees"]) for s in per.values()) == Decimal(summary["fees"])
    assert sum(Decimal(s["realized_pnl"]) for s in per.values()) == Decimal(summary["realized_pnl"])
    assert sum(s["open_positions"] for s in per.values()) == summary["open_positions"]
    assert sum(s["orders"] for s in per.values()) == summary["orders"]
    assert sum(s["proposals"] for s in per.values()) == summary["proposals"]
    # The strategy heard about its own fills and no one else's.
    assert scalper.fills and all(tokens[f.client_order_id][0] == "no_scalper" for f in scalper.fills)
    assert per["no_scalper"]["fills"] == len(scalper.fills)
    # The ledger: every fill names its order's strategy; every P&L snapshot of the account ('') is followed
    # by one per strategy, and at the last one the strategies' realized P&L and fees add up to the account's.
    assert all(r["strategy_id"] == tokens[r["client_order_id"]][0] for r in rows["fills"])
    snaps = rows["pnl_snapshots"]
    assert {r["strategy_id"] for r in snaps} == {"", "value", "no_scalper"}
    last_ts = max(r["ts"] for r in snaps)
    last = {r["strategy_id"]: r for r in snaps if r["ts"] == last_ts}
    assert sum(Decimal(str(last[s]["realized"])) for s in per) == Decimal(str(last[""]["realized"]))
    assert sum(Decimal(str(last[s]["fees"])) for s in per) == Decimal(str(last[""]["fees"]))


def test_strategy_ids_must_be_unique(tmp_path: Path) -> None:
    class Value2(NoScalper):
        strategy_id = "value"

    books, markets = write_dataset(tmp_path, seconds=20)
    settings = settings_for(tmp_path, books, markets)
    with pytest.raises(ValueError, match="unique"):
        asyncio.run(build(settings, strategies=[Value2(StrategyConfig(enabled=True))]))


def test_a_leg_refuses_impossible_orders() -> None:
    with pytest.raises(ValueError, match="leg price"):
        Leg("c", Outcome.YES, Side.BUY, 10_000, SHARES)
    with pytest.raises(ValueError, match="leg size"):
        Leg("c", Outcome.YES, Side.BUY, 5_000, 0)
    with pytest.raises(ValueError, match="post_only"):
        Leg("c", Outcome.YES, Side.BUY, 5_000, SHARES, OrderType.FAK, post_only=True)
    with pytest.raises(ValueError, match="intent legs"):
        Intent("s", (), Rationale("nothing"))
