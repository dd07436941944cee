"""Order routing shared by the venues whose fills are simulated in-process (replay, sim, paper): orders go to
their `MatchingEngine`, and reconciliation reads the matcher's account.

Resuming (paper): the account is whatever the ledger says it is (cash, positions), because the matcher
holding it was the process that stopped; the orders that rested in that matcher are gone with it, so each is
reported cancelled before the balances (VenueReconciled) when the venue starts delivering.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.domain import OrderRequest
from engine.sim.matching import MatchingEngine
from engine.venues.base import (
    EventSink,
    OrderCancelled,
    ResumeRequest,
    VenueEvent,
    VenueReconciled,
    VenueState,
)


class InProcessOrders:
    matcher: MatchingEngine
    clock: Any  # SimClock or WallClock: anything with now_ms()
    _resumed: list[VenueEvent]

    async def submit(self, request: OrderRequest) -> None:
        self.matcher.submit(request)

    async def cancel(self, client_order_id: str) -> None:
        self.matcher.cancel(client_order_id)

    async def cancel_all(self) -> None:
        self.matcher.cancel_all()

    async def venue_state(self) -> VenueState:
        positions, ids = self.matcher.state_of_account()
        return VenueState(self.clock.now_ms(), positions, ids)

    def resume(self, request: ResumeRequest) -> None:
        account = self.matcher.account
        account.cash = Decimal(request.cash)
        account.tokens = {t: q for t, q in request.positions.items() if q}
        for market in request.markets:
            if market.condition_id not in self.matcher.books:
                self.matcher.add_market(market)
                self.matcher.close_market(market.condition_id)  # not watched: nothing can trade there
        now = self.clock.now_ms()
        closed = tuple(k.request.client_order_id for k in request.known_orders)
        self._resumed = [
            OrderCancelled(coid, now, "venue restarted: the order rested in the process that stopped")
            for coid in closed
        ]
        self._resumed.append(
            VenueReconciled(now, None, dict(account.tokens), closed=closed, foreign_action=request.foreign_orders)
        )

    async def deliver_resumed(self, sink: EventSink) -> None:
        """What `resume` found, delivered first when the venue starts running."""
        resumed, self._resumed = getattr(self, "_resumed", []), []
        for event in resumed:
            await sink.on_venue(event)
