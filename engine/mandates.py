"""Quoting mandates: an operator's standing leave for one strategy to requote one market within bounds.

In semi mode every new risk waits for the operator; a market maker requotes many times a minute, so it asks
once per market for a mandate instead. While a mandate is ACTIVE, a QUOTE intent inside its bounds goes out
without a proposal (through every risk layer all the same); one outside becomes an ordinary proposal.
Revoking a mandate cancels every order placed under it at once. A mandate does not outlive its run: on a
restart it ends, and the strategy asks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from engine.domain import Outcome, Side
from engine.refusal import Refusal
from engine.strategies.base import Intent, MandateRequest, MandateView
from engine.units import ONE, px_to_str, qty_to_str


class MandateStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the operator
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # not decided in time, or its lifetime ran out
    REVOKED = "REVOKED"  # the operator withdrew it; its orders were cancelled
    ENDED = "ENDED"  # the engine ended it (its strategy paused, the engine halted or stopped)
    OBSERVED = "OBSERVED"  # observe mode: recorded, never active

    @property
    def open(self) -> bool:
        return self in (MandateStatus.PENDING, MandateStatus.ACTIVE)


@dataclass(slots=True)
class Mandate:
    mandate_id: str
    request: MandateRequest
    created_ts: int
    expires_wall: int  # PENDING: the operator's time it may wait (unix ms), like a proposal
    status: MandateStatus = MandateStatus.PENDING
    decided_ts: int | None = None
    decided_by: str | None = None
    expires_ts: int | None = None  # ACTIVE: engine time its lifetime ends
    ended_ts: int | None = None
    ended_by: str | None = None
    reason: str = ""
    orders: set[str] = field(default_factory=set)  # client order ids sent under it

    @property
    def strategy_id(self) -> str:
        return self.request.strategy_id

    @property
    def condition_id(self) -> str:
        return self.request.condition_id

    def view(self) -> MandateView:
        return MandateView(self.mandate_id, self.status.value, self.request, self.expires_ts)

    def covers(self, intent: Intent, held: dict[Outcome, int]) -> Refusal | None:
        """None when every leg is inside the bounds; else the first bound it breaks. `held`: shares the
        strategy holds of each outcome in this market now."""
        r = self.request
        for leg in intent.legs:
            if leg.condition_id != r.condition_id:
                return Refusal("MANDATE_MARKET", 0, 0, "a leg in another market")
            if (leg.outcome, leg.side) not in r.sides:
                return Refusal(
                    "MANDATE_SIDE", 0, 0, f"{leg.side.value} {leg.outcome.value} is not a mandated side"
                )
            if leg.size > r.max_order_size:
                return Refusal(
                    "MANDATE_ORDER_SIZE",
                    leg.size / 1e6,
                    r.max_order_size / 1e6,
                    f"order {qty_to_str(leg.size)} > {qty_to_str(r.max_order_size)} shares",
                )
            yes = leg.price if leg.outcome is Outcome.YES else ONE - leg.price
            if not r.band_low <= yes <= r.band_high:
                edge = r.band_low if yes < r.band_low else r.band_high
                return Refusal(
                    "MANDATE_BAND",
                    yes / ONE,
                    edge / ONE,
                    f"YES {px_to_str(yes)} outside {px_to_str(r.band_low)}-{px_to_str(r.band_high)}",
                )
            if leg.side is Side.BUY:
                after = held.get(leg.outcome, 0) + leg.size
                if after > r.max_inventory:
                    return Refusal(
                        "MANDATE_INVENTORY",
                        after / 1e6,
                        r.max_inventory / 1e6,
                        f"would hold {qty_to_str(after)} > {qty_to_str(r.max_inventory)} shares",
                    )
        return None


class Mandates:
    def __init__(self) -> None:
        self.by_id: dict[str, Mandate] = {}
        self._open: dict[tuple[str, str], Mandate] = {}  # (strategy, market) -> its PENDING or ACTIVE mandate
        self._ended: list[Mandate] = []  # the latest closed ones, for the screen

    def open_for(self, strategy_id: str, condition_id: str) -> Mandate | None:
        return self._open.get((strategy_id, condition_id))

    def active_for(self, strategy_id: str, condition_id: str) -> Mandate | None:
        m = self._open.get((strategy_id, condition_id))
        return m if m is not None and m.status is MandateStatus.ACTIVE else None

    def pending(self) -> Iterator[Mandate]:
        return (m for m in self._open.values() if m.status is MandateStatus.PENDING)

    def has_pending(self) -> bool:
        return any(m.status is MandateStatus.PENDING for m in self._open.values())

    def open(self) -> Iterator[Mandate]:
        return iter(list(self._open.values()))

    def recent(self, n: int) -> list[Mandate]:
        return [*self._open.values(), *self._ended[-n:][::-1]]

    def count_active(self, strategy_id: str) -> int:
        return sum(
            1
            for m in self._open.values()
            if m.strategy_id == strategy_id and m.status is MandateStatus.ACTIVE
        )

    def add(self, mandate: Mandate) -> None:
        key = (mandate.strategy_id, mandate.condition_id)
        if key in self._open:
            raise ValueError(f"{key}: a mandate is already open ({self._open[key].mandate_id})")
        self.by_id[mandate.mandate_id] = mandate
        self._open[key] = mandate

    def activate(self, m: Mandate, now: int, by: str) -> None:
        m.status = MandateStatus.ACTIVE
        m.decided_ts, m.decided_by = now, by
        m.expires_ts = now + m.request.lifetime_s * 1000

    def close(self, m: Mandate, status: MandateStatus, now: int, by: str, reason: str) -> None:
        """End a mandate (REJECTED, EXPIRED, REVOKED, ENDED, OBSERVED); its orders are the caller's to cancel."""
        m.status = status
        m.ended_ts, m.ended_by, m.reason = now, by, reason
        if m.decided_ts is None:
            m.decided_ts, m.decided_by = now, by
        self._open.pop((m.strategy_id, m.condition_id), None)
        self._ended.append(m)
        del self._ended[:-20]  # the screen shows a few; the ledger has them all
        # An ended mandate is only kept in by_id while orders placed under it may still report
        if not m.orders:
            self.by_id.pop(m.mandate_id, None)

    def forget_order(self, mandate_id: str, client_order_id: str) -> None:
        m = self.by_id.get(mandate_id)
        if m is None:
            return
        m.orders.discard(client_order_id)
        if not m.status.open and not m.orders:
            self.by_id.pop(mandate_id, None)
