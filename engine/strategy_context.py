"""The engine's side of the strategy interface: one read-only context per strategy.

It answers a strategy's questions from the engine's own state (books, market states, breakers, exposure, the
strategy's orders and proposals) without handing it anything it could use to act: actions only go back as a
`Reply` from a hook.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.book import OrderBook
from engine.domain import TRADING_STATES, Market
from engine.execution.orders import Order, OrderState
from engine.risk.sizing import Exposure
from engine.strategies.base import Budget, MandateView, NotTradable, OrderView, Refusal

if TYPE_CHECKING:
    from engine.engine import Engine

IN_FLIGHT = (OrderState.SUBMITTED, OrderState.UNKNOWN)


def order_view(order: Order) -> OrderView:
    r = order.request
    return OrderView(
        client_order_id=r.client_order_id,
        condition_id=r.condition_id,
        token_id=r.token_id,
        outcome=r.outcome,
        side=r.side,
        price=r.price,
        size=r.size,
        filled=order.filled,
        state=order.state,
        order_type=r.order_type,
        created_ts=order.created_ts,
        cancel_requested=order.cancel_requested,
    )


class EngineContext:
    """What one strategy sees of the engine."""

    def __init__(self, engine: Engine, strategy_id: str) -> None:
        self._e = engine
        self.strategy_id = strategy_id

    def now_ms(self) -> int:
        return self._e.clock.now_ms()

    def markets(self) -> Iterable[Market]:
        return (ms.market for ms in self._e.markets.values())

    def market(self, condition_id: str) -> Market:
        return self._e.markets[condition_id].market

    def book(self, condition_id: str) -> OrderBook:
        return self._e.markets[condition_id].book

    def event_mids(self, condition_id: str) -> tuple[float, ...]:
        e = self._e
        event = e.markets[condition_id].market.event_id
        if not event:
            return ()
        index = e.event_index()
        mids = (e.markets[c].book.mid().value for c in index.get(event, ()) if c != condition_id)
        return tuple(m for m in mids if m is not None)

    def tick(self, condition_id: str) -> int:
        return self._e.markets[condition_id].tick

    def tradable(self, condition_id: str) -> NotTradable | None:
        e = self._e
        now = e.clock.now_ms()
        if e.state not in TRADING_STATES:
            return NotTradable(f"SKIP_{e.state.value}", e.halt_reason or e.state.value)
        if e.is_stale(condition_id, now):
            return NotTradable(
                "SKIP_STALE_BOOK", "the venue's book is unsynced or older than its staleness limit"
            )
        allowed = e.states.allowed(condition_id, now)
        if not (allowed.new_taker or allowed.reduce):
            market = e.markets[condition_id].market
            phase = e.states.phase(condition_id, now)
            refusal = Refusal(
                f"MARKET_{phase.value}",
                0.0 if market.end_ts is None else (market.end_ts - now) / 1000,
                0,
                "trading is over in this market",
            )
            return NotTradable("SKIP_CLOSED", refusal.text(), {"refusal": refusal.as_dict()})
        if self._busy(condition_id):
            return NotTradable("SKIP_BUSY", "a proposal or order is already working in this market")
        return None

    def _busy(self, condition_id: str) -> bool:
        """A decision of this strategy is outstanding here: a proposal waits for the operator or an order
        has not been acknowledged."""
        e = self._e
        sid = self.strategy_id
        if any(p.market.condition_id == condition_id and p.strategy_id == sid for p in e.pending.values()):
            return True
        return any(
            o.request.condition_id == condition_id and o.strategy_id == sid and o.state in IN_FLIGHT
            for o in e.working.values()
        )

    def may_add_risk(self, condition_id: str) -> bool:
        return self._e.breakers.block(self._e.clock.now_ms(), condition_id, reduces=False) is None

    def may_reduce(self, condition_id: str) -> bool:
        return self._e.breakers.block(self._e.clock.now_ms(), condition_id, reduces=True) is None

    def risk_block(self, condition_id: str) -> Refusal:
        block = self._e.breakers.block(self._e.clock.now_ms(), condition_id, reduces=False)
        if block is None:
            raise ValueError(
                f"risk_block({condition_id}): nothing blocks new risk here; ask may_add_risk first"
            )
        return Refusal(block.code, float(block.value), float(block.threshold), block.detail)

    def sizing_exposure(self, condition_id: str) -> Exposure:
        """The account's exposure (the caps are global), but only this strategy's own shares to sell: a
        strategy never exits another's position."""
        e = self._e
        whole = e.exposure.for_sizing(condition_id, bankroll=self.equity())
        market = e.markets[condition_id].market
        own = e.accounts.book(self.strategy_id)
        held = {o: min(n, own.held(market.token(o))) for o, n in whole.held.items()}
        return replace(whole, held=held)

    def orders(self, condition_id: str | None = None) -> tuple[OrderView, ...]:
        sid = self.strategy_id
        return tuple(
            order_view(o)
            for o in self._e.working.values()
            if o.strategy_id == sid and (condition_id is None or o.request.condition_id == condition_id)
        )

    def position(self, token_id: str) -> int:
        return self._e.accounts.book(self.strategy_id).held(token_id)

    def budget(self) -> Budget:
        return self._e.strategy_budget(self.strategy_id)

    def mandate(self, condition_id: str) -> MandateView | None:
        m = self._e.mandates.open_for(self.strategy_id, condition_id)
        return None if m is None else m.view()

    def equity(self) -> Decimal:
        return self._e.strategy_equity(self.strategy_id)

    def phase(self, condition_id: str) -> str:
        return self._e.states.phase(condition_id, self._e.clock.now_ms()).value

    def maker_allowed(self, condition_id: str) -> bool:
        return self._e.states.allowed(condition_id, self._e.clock.now_ms()).new_maker

    def size_multiplier(self, condition_id: str) -> float:
        return self._e.states.size_multiplier(condition_id, self._e.clock.now_ms())

    def book_age_s(self, condition_id: str) -> float:
        ms = self._e.markets[condition_id]
        if ms.first_ts is None:
            return math.inf
        return max(0.0, (self._e.clock.now_ms() - ms.last_event_ts) / 1000)

    def live_venue(self) -> bool:
        return self._e.venue.kind == "LIVE"

    def markout(self, condition_id: str) -> float | None:
        return self._e.markouts.recent_mean(condition_id)

    def toxic(self, condition_id: str) -> bool:
        return self._e.markouts.toxic(condition_id)
