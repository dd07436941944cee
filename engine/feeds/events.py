"""Market-data events, parsed once at the edge and consumed everywhere else.

Books are expressed in YES terms (see engine.book): a feed that receives the NO token's levels mirrors
them before emitting an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.book import Delta, Level


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A full book: the market's book becomes exactly these levels."""

    condition_id: str
    ts: int
    bids: list[Level]
    asks: list[Level]


@dataclass(frozen=True, slots=True)
class BookDeltas:
    """Level changes (absolute new sizes; 0 removes a level)."""

    condition_id: str
    ts: int
    deltas: list[Delta]


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    condition_id: str
    ts: int
    old_tick: int
    new_tick: int


@dataclass(frozen=True, slots=True)
class MarketClosed:
    """Trading stops: no new orders; resting orders are cancelled by the venue."""

    condition_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class MarketResolved:
    condition_id: str
    ts: int
    yes_payout: Decimal


MarketEvent = BookSnapshot | BookDeltas | TickSizeChange | MarketClosed | MarketResolved
