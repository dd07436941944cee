"""The engine's side of maker analytics: every fill feeds markouts and maker income (rebates), each cycle
takes the markouts that came due, and each minute of venue time samples the reward estimate of every market
that pays rewards and holds our resting quotes. Each markout, rebate and reward sample is a stored row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.analytics.maker_income import SAMPLE_MS
from engine.analytics.markouts import HORIZON_NAMES, signed_cents
from engine.analytics.rewards import RestingOrder
from engine.domain import Fill, Outcome
from engine.execution.orders import Order
from engine.units import ONE

if TYPE_CHECKING:
    from engine.engine import Engine

def token_mid(e: Engine, condition_id: str, outcome: Outcome) -> float | None:
    """The canonical mid of one token (1e-4 units), None when the book has none."""
    ms = e.markets.get(condition_id)
    if ms is None:
        return None
    x2 = ms.book.mid().x2
    if x2 is None:
        return None
    return x2 / 2 if outcome is Outcome.YES else ONE - x2 / 2


def on_fill(e: Engine, fill: Fill, order: Order) -> None:
    sid = order.strategy_id
    ms = e.markets.get(fill.condition_id)
    maker = fill.liquidity.value == "MAKER"
    e.markouts.on_fill(fill, sid, maker=maker)
    if ms is None:
        return
    mid = token_mid(e, fill.condition_id, fill.outcome)
    if mid is not None:  # the fill's own moment (horizon 0): what it captured against the mid, for the report
        e.store.add_markout(
            run_id=e.run_id,
            trade_id=fill.trade_id,
            ts=fill.ts,
            strategy_id=sid,
            condition_id=fill.condition_id,
            horizon_s=0,
            cents=round(signed_cents(fill.side, fill.price, mid), 6),
            maker=int(maker),
        )
    rebate = e.maker_income.on_fill(fill, sid, ms.market.fees)
    if rebate > 0:
        e.store.add_maker_income(
            run_id=e.run_id,
            ts=fill.ts,
            strategy_id=sid,
            condition_id=fill.condition_id,
            kind="REBATE",
            amount=rebate,
            detail={"trade_id": fill.trade_id, "rebate_rate": str(ms.market.fees.rebate_rate)},
        )


def tick(e: Engine, now: int) -> None:
    """Markouts that came due, and the reward sample when a minute of venue time has passed."""
    for m in e.markouts.on_time(now, lambda cid, outcome: token_mid(e, cid, outcome)):
        e.store.add_markout(
            run_id=e.run_id,
            trade_id=m.trade_id,
            ts=now,
            strategy_id=m.strategy_id,
            condition_id=m.condition_id,
            horizon_s=m.horizon_ms // 1000,
            cents=round(m.cents, 6),
            maker=int(m.maker),
        )
    if now < e.next_reward_sample:
        return
    e.next_reward_sample = now - now % SAMPLE_MS + SAMPLE_MS
    resting: dict[tuple[str, str], list[RestingOrder]] = {}
    for o in e.working.values():
        if o.state.resting and not o.cancel_requested:
            r = o.request
            key = (o.strategy_id, r.condition_id)
            resting.setdefault(key, []).append(RestingOrder(r.outcome, r.side, r.price, r.size - o.filled))
    for (sid, cid), orders in resting.items():
        ms = e.markets.get(cid)
        if ms is None or ms.market.rewards is None:
            continue
        sample = e.maker_income.sample(sid, cid, now, orders, ms.book, ms.market.rewards)
        if sample is not None and sample.usdc > 0:
            e.store.add_maker_income(
                run_id=e.run_id,
                ts=now,
                strategy_id=sid,
                condition_id=cid,
                kind="REWARD",
                amount=Decimal(f"{sample.usdc:.6f}"),
                detail={"q_ours": round(sample.ours, 6), "q_visible": round(sample.others, 6)},
            )


def summary(e: Engine, strategy_id: str | None = None) -> dict[str, object]:
    """maker_fills, taker_fills, markouts per horizon (count and mean cents), rewards and rebates estimates."""
    out = e.maker_income.summary(strategy_id)
    out["markouts"] = e.markouts.summary(strategy_id)
    return out


__all__ = ["HORIZON_NAMES", "on_fill", "summary", "tick", "token_mid"]
