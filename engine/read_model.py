"""Rows of the read model that are about strategies: built from the engine's state for each snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.snapshot import MandateRow, ProposalRow, StrategyRow
from engine.strategies.registry import AVAILABLE

if TYPE_CHECKING:
    from engine.engine import Engine


def strategy_rows(engine: Engine, equity: Decimal) -> tuple[StrategyRow, ...]:
    """Every running strategy (in the order they run), then every available one that is off."""
    rows = []
    limits = engine.strategy_limits
    for st in engine.strategies:
        sid = st.strategy_id
        book = engine.accounts.book(sid)
        unrealized = Decimal(0)
        for pos in book.open_positions():
            mark = engine.mark(pos.token_id)
            if mark is not None:
                unrealized += mark * pos.size / 1_000_000 - pos.cost
        pause = limits.paused.get(sid)
        rows.append(
            StrategyRow(
                strategy_id=sid,
                description=st.description,
                state="PAUSED" if pause else "RUNNING",
                reason="" if pause is None else f"{pause.kind.value} by {pause.by}: {pause.reason}",
                budget=limits.limit(sid, equity),
                committed=engine.strategy_committed(sid),
                open_orders=sum(1 for o in engine.working.values() if o.strategy_id == sid),
                positions=len(book.open_positions()),
                realized=book.realized_pnl,
                unrealized=unrealized,
                fees=book.fees,
                last_decision=engine.last_decision.get(sid, ""),
                mandates=engine.active_mandates(sid),
            )
        )
    running = {st.strategy_id for st in engine.strategies}
    for name, cls in AVAILABLE.items():
        if name not in running:
            zero = Decimal(0)
            rows.append(
                StrategyRow(name, cls.description, "OFF", "not enabled", zero, zero, 0, 0, zero, zero, zero, "")
            )
    return tuple(rows)


def mandate_rows(engine: Engine) -> tuple[MandateRow, ...]:
    """Open mandates (pending, active), then the latest ended ones."""
    rows = []
    for m in engine.mandates.recent(10):
        market = engine.markets[m.condition_id].market
        rows.append(
            MandateRow(
                mandate_id=m.mandate_id,
                strategy_id=m.strategy_id,
                condition_id=m.condition_id,
                title=market.question or market.slug,
                status=m.status.value,
                bounds=m.request.bounds(),
                orders=sum(1 for oid in m.orders if oid in engine.working),
                expires_ts=m.expires_ts or 0,
            )
        )
    return tuple(rows)


def mandate_proposal_rows(engine: Engine) -> tuple[ProposalRow, ...]:
    """A pending mandate waits in the Proposals pane like a proposal: same keys, its bounds instead of an
    order. Price and size show its band's top and its largest order."""
    rows = []
    for m in engine.mandates.pending():
        r = m.request
        market = engine.markets[m.condition_id].market
        outcome, side = r.sides[0]
        rows.append(
            ProposalRow(
                proposal_id=m.mandate_id,
                condition_id=m.condition_id,
                title=market.question or market.slug,
                outcome=market.label(outcome),
                side=side.value,
                price=r.band_high,
                size=r.max_order_size,
                order_type="MANDATE",
                post_only=False,
                p_hat=0.0,
                ci_low=0.0,
                ci_high=0.0,
                edge_net=0.0,
                kelly=0.0,
                binding_cap="mandate",
                expected_slippage_bps=0.0,
                created_ts=m.created_ts,
                expires_ts=m.created_ts + engine.proposal_ttl_ms,
                status=m.status.value,
                reason=r.rationale.summary,
                expires_wall=m.expires_wall,
                strategy_id=m.strategy_id,
                kind="MANDATE",
                bounds=r.bounds(),
            )
        )
    return tuple(rows)
