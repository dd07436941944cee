"""Order routing shared by the venues whose fills are simulated in-process (replay, sim, paper): orders go to
their `MatchingEngine`, and reconciliation reads the matcher's account."""

from __future__ import annotations

from typing import Any

from engine.domain import OrderRequest
from engine.sim.matching import MatchingEngine
from engine.venues.base import VenueState


class InProcessOrders:
    matcher: MatchingEngine
    clock: Any  # SimClock or WallClock: anything with now_ms()

    async def submit(self, request: OrderRequest) -> None:
        self.matcher.submit(request)

    async def cancel(self, client_order_id: str) -> None:
        self.matcher.cancel(client_order_id)

    async def cancel_all(self) -> None:
        self.matcher.cancel_all()

    async def venue_state(self) -> VenueState:
        positions, ids = self.matcher.state_of_account()
        return VenueState(self.clock.now_ms(), positions, ids)
