"""Where a market is in its life, what may be done in it, and which strategies may trade at which prices.

Three clocks per market: time to close (trading ends at `end_ts`), time to the expected resolution proposal
(given, or `proposal_delay_ms` after close), and the dispute window (`dispute_window_ms` after the proposal,
observed or expected). They drive a one-way state machine:

  NORMAL --(<= 72 h to close)--> WATCH --(<= 24 h)--> CLOSE_WINDOW --(close)--> CLOSED
         --(proposal seen or due)--> RESOLVING --(resolution seen)--> RESOLVED

A venue event (closed, proposal, resolved) moves a market at once, even ahead of its clock; nothing moves a
market back. Allowed actions:

  phase         new taker  new maker  reduce  cancel  redeem
  NORMAL        yes        yes        yes     yes     no
  WATCH         yes        yes        yes     yes     no
  CLOSE_WINDOW  yes        NO         yes     yes     no
  CLOSED        no         no         no      yes     no
  RESOLVING     no         no         no      yes     no
  RESOLVED      no         no         no      yes     yes

New risk is also scaled by a size ratchet on the time to close (default x0.75 from 72 h, x0.5 from 24 h,
x0.25 from 6 h); a multiplier of 0 blocks new risk outright.

Short-lived markets (start to close shorter than the WATCH threshold, e.g. 15-minute up/down markets) would
spend their whole life in CLOSE_WINDOW under the day-scale clocks; they have no WATCH phase, a CLOSE_WINDOW
of `short_close_window_ms` (default 60 s) and their own ratchet (default x0.5 in the last 60 s).

Price zones (token price of what is bought; exits are never zone-checked), from the seeds' 5-zone framework:
  zone_1 [0.05, 0.20)  tail_risk, contrarian, value_betting
  zone_2 [0.20, 0.40)  value_betting, news_scalping, copy_trading
  zone_3 [0.40, 0.60)  arbitrage, market_making, value_betting (directional only with probability > 0.52)
  zone_4 [0.60, 0.80)  market_making, arbitrage; directional bets prohibited
  zone_5 [0.80, 0.98]  internal_arbitrage; directional bets prohibited
Outside every zone nothing new is allowed unless configured. The engine's Kelly sizer trades `value_betting`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.domain import Market, OrderRequest
from engine.refusal import Refusal
from engine.units import px_from_float

HOUR_MS = 3_600_000


class Phase(StrEnum):
    NORMAL = "NORMAL"
    WATCH = "WATCH"
    CLOSE_WINDOW = "CLOSE_WINDOW"
    CLOSED = "CLOSED"
    RESOLVING = "RESOLVING"
    RESOLVED = "RESOLVED"


_RANK = {p: i for i, p in enumerate(Phase)}


@dataclass(frozen=True, slots=True)
class Allowed:
    new_taker: bool
    new_maker: bool
    reduce: bool
    cancel: bool
    redeem: bool


ALLOWED: dict[Phase, Allowed] = {
    Phase.NORMAL: Allowed(True, True, True, True, False),
    Phase.WATCH: Allowed(True, True, True, True, False),
    Phase.CLOSE_WINDOW: Allowed(True, False, True, True, False),
    Phase.CLOSED: Allowed(False, False, False, True, False),
    Phase.RESOLVING: Allowed(False, False, False, True, False),
    Phase.RESOLVED: Allowed(False, False, False, True, True),
}


@dataclass(frozen=True, slots=True)
class MarketStateLimits:
    watch_ms: int = 72 * HOUR_MS
    close_window_ms: int = 24 * HOUR_MS
    # (time to close at or below which it applies, size multiplier); the smallest matching multiplier wins.
    ratchet: tuple[tuple[int, float], ...] = ((72 * HOUR_MS, 0.75), (24 * HOUR_MS, 0.5), (6 * HOUR_MS, 0.25))
    proposal_delay_ms: int = 2 * HOUR_MS
    dispute_window_ms: int = 2 * HOUR_MS
    # Markets whose whole life (start to close) is shorter than `watch_ms`:
    short_close_window_ms: int = 60_000
    short_ratchet: tuple[tuple[int, float], ...] = ((60_000, 0.5),)

    @classmethod
    def from_settings(cls, settings: Any) -> MarketStateLimits:
        """From the [market_state] section (hours; the short-market keys in seconds)."""
        section = settings.market_state
        return cls(
            watch_ms=int(section.watch_h * HOUR_MS),
            close_window_ms=int(section.close_window_h * HOUR_MS),
            ratchet=tuple((int(hours * HOUR_MS), float(mult)) for hours, mult in section.ratchet),
            proposal_delay_ms=int(section.proposal_delay_h * HOUR_MS),
            dispute_window_ms=int(section.dispute_window_h * HOUR_MS),
            short_close_window_ms=int(section.short_close_window_s * 1000),
            short_ratchet=tuple((int(s * 1000), float(mult)) for s, mult in section.short_ratchet),
        )


@dataclass(frozen=True, slots=True)
class Clocks:
    time_to_close_ms: int | None
    time_to_proposal_ms: int | None
    dispute_ends_ts: int | None
    dispute_left_ms: int | None


@dataclass(frozen=True, slots=True)
class PhaseChange:
    condition_id: str
    old: Phase
    new: Phase
    ts: int
    cause: str  # "clock" | "closed" | "proposal" | "resolved"


@dataclass(slots=True)
class _Market:
    end_ts: int | None
    proposal_ts: int | None  # expected, when the market says
    proposed_ts: int | None = None  # observed
    closed_ts: int | None = None
    resolved_ts: int | None = None
    phase: Phase = Phase.NORMAL
    short: bool = False  # lives less than the WATCH threshold: short close window, no WATCH


class MarketStates:
    def __init__(self, limits: MarketStateLimits | None = None) -> None:
        self.limits = limits or MarketStateLimits()
        self._m: dict[str, _Market] = {}

    def add(
        self,
        condition_id: str,
        end_ts: int | None,
        *,
        proposal_ts: int | None = None,
        start_ts: int | None = None,
    ) -> None:
        short = start_ts is not None and end_ts is not None and end_ts - start_ts < self.limits.watch_ms
        self._m[condition_id] = _Market(end_ts, proposal_ts, short=short)

    def add_market(self, market: Market, *, proposal_ts: int | None = None) -> None:
        self.add(market.condition_id, market.end_ts, proposal_ts=proposal_ts, start_ts=market.start_ts)

    def is_short(self, condition_id: str) -> bool:
        return self._m[condition_id].short

    def close_window_ms(self, condition_id: str) -> int:
        m = self._m[condition_id]
        return self.limits.short_close_window_ms if m.short else self.limits.close_window_ms

    # --- clocks --------------------------------------------------------------------------------------
    def _expected_proposal(self, m: _Market) -> int | None:
        if m.proposed_ts is not None:
            return m.proposed_ts
        if m.proposal_ts is not None:
            return m.proposal_ts
        close = m.closed_ts if m.closed_ts is not None else m.end_ts
        return None if close is None else close + self.limits.proposal_delay_ms

    def clocks(self, condition_id: str, now: int) -> Clocks:
        m = self._m[condition_id]
        proposal = self._expected_proposal(m)
        dispute_end = None if proposal is None else proposal + self.limits.dispute_window_ms
        return Clocks(
            time_to_close_ms=None if m.end_ts is None else m.end_ts - now,
            time_to_proposal_ms=None if proposal is None else proposal - now,
            dispute_ends_ts=dispute_end,
            dispute_left_ms=None if dispute_end is None else max(0, dispute_end - now),
        )

    def _clock_phase(self, m: _Market, now: int) -> Phase:
        if m.resolved_ts is not None:
            return Phase.RESOLVED
        proposal = self._expected_proposal(m)
        if m.proposed_ts is not None or (proposal is not None and now >= proposal):
            return Phase.RESOLVING
        if m.closed_ts is not None or (m.end_ts is not None and now >= m.end_ts):
            return Phase.CLOSED
        if m.end_ts is None:
            return Phase.NORMAL
        left = m.end_ts - now
        if m.short:
            return Phase.CLOSE_WINDOW if left <= self.limits.short_close_window_ms else Phase.NORMAL
        if left <= self.limits.close_window_ms:
            return Phase.CLOSE_WINDOW
        if left <= self.limits.watch_ms:
            return Phase.WATCH
        return Phase.NORMAL

    def _advance(self, cid: str, now: int, cause: str) -> list[PhaseChange]:
        m = self._m[cid]
        new = self._clock_phase(m, now)
        if _RANK[new] <= _RANK[m.phase]:
            return []
        old, m.phase = m.phase, new
        return [PhaseChange(cid, old, new, now, cause)]

    # --- events ----------------------------------------------------------------------------------------
    def update(self, now: int) -> list[PhaseChange]:
        """Move every market its clocks say has moved; run each cycle."""
        out: list[PhaseChange] = []
        for cid in self._m:
            out.extend(self._advance(cid, now, "clock"))
        return out

    def on_closed(self, condition_id: str, ts: int) -> list[PhaseChange]:
        m = self._m[condition_id]
        m.closed_ts = ts if m.closed_ts is None else m.closed_ts
        return self._advance(condition_id, ts, "closed")

    def on_proposal(self, condition_id: str, ts: int) -> list[PhaseChange]:
        m = self._m[condition_id]
        m.proposed_ts = ts if m.proposed_ts is None else m.proposed_ts
        return self._advance(condition_id, ts, "proposal")

    def on_resolved(self, condition_id: str, ts: int) -> list[PhaseChange]:
        m = self._m[condition_id]
        m.resolved_ts = ts if m.resolved_ts is None else m.resolved_ts
        return self._advance(condition_id, ts, "resolved")

    # --- questions -------------------------------------------------------------------------------------
    def phase(self, condition_id: str, now: int) -> Phase:
        self._advance(condition_id, now, "clock")
        return self._m[condition_id].phase

    def allowed(self, condition_id: str, now: int) -> Allowed:
        return ALLOWED[self.phase(condition_id, now)]

    def size_multiplier(self, condition_id: str, now: int) -> float:
        """Share of the normal size new risk may take now; 0 once trading is over."""
        if not self.allowed(condition_id, now).new_taker:
            return 0.0
        m = self._m[condition_id]
        if m.end_ts is None:
            return 1.0
        left = m.end_ts - now
        steps = self.limits.short_ratchet if m.short else self.limits.ratchet
        return min((mult for t, mult in steps if left <= t), default=1.0)

    def check(self, condition_id: str, now: int, *, maker: bool, reduces: bool) -> Refusal | None:
        """Why this market refuses an order now, or None. `maker`: a resting order that adds risk."""
        if condition_id not in self._m:
            return Refusal("MARKET_UNKNOWN", 0, 0, condition_id)
        phase = self.phase(condition_id, now)
        allowed = ALLOWED[phase]
        left = self._m[condition_id].end_ts
        left_ms = float(left - now) if left is not None else -1.0  # -1: the market has no close time
        if reduces:
            if allowed.reduce:
                return None
            return Refusal(f"MARKET_{phase.value}", left_ms, 0, "no orders once trading is over")
        if maker and not allowed.new_maker:
            return Refusal(
                f"MARKET_{phase.value}",
                left_ms,
                self.close_window_ms(condition_id),
                "no new maker quotes this close to the end",
            )
        if not allowed.new_taker:
            return Refusal(f"MARKET_{phase.value}", left_ms, 0, "no orders once trading is over")
        if self.size_multiplier(condition_id, now) <= 0:
            return Refusal("SIZE_RATCHET", left_ms, 0, "size ratchet is 0 this close to the end")
        return None

    def guard(
        self, reduces: Callable[[OrderRequest], bool]
    ) -> Callable[[OrderRequest, int], Refusal | None]:
        """A firewall guard: resting orders count as maker quotes."""

        def check(request: OrderRequest, now: int) -> Refusal | None:
            r = reduces(request)
            return self.check(request.condition_id, now, maker=request.order_type.rests and not r, reduces=r)

        return check


# --- price zones -----------------------------------------------------------------------------------------

DIRECTIONAL_STRATEGIES = frozenset(
    {"value_betting", "tail_risk", "contrarian", "news_scalping", "copy_trading"}
)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    low: int  # price units, inclusive
    high: int  # price units, exclusive (inclusive for the top zone)
    strategies: frozenset[str]
    directional: bool = True  # False: directional bets prohibited whatever `strategies` says
    min_directional_prob: float | None = None  # directional bets need a probability above this


DEFAULT_ZONES = (
    Zone("zone_1", 500, 2000, frozenset({"tail_risk", "contrarian", "value_betting", "manual"})),
    Zone("zone_2", 2000, 4000, frozenset({"value_betting", "news_scalping", "copy_trading", "manual"})),
    Zone(
        "zone_3",
        4000,
        6000,
        frozenset({"arbitrage", "market_making", "value_betting", "manual"}),
        min_directional_prob=0.52,
    ),
    Zone("zone_4", 6000, 8000, frozenset({"market_making", "arbitrage", "manual"}), directional=False),
    Zone("zone_5", 8000, 9800, frozenset({"internal_arbitrage"}), directional=False),
)


class ZonePolicy:
    def __init__(
        self,
        zones: Iterable[Zone] = DEFAULT_ZONES,
        *,
        directional: frozenset[str] = DIRECTIONAL_STRATEGIES,
        outside: frozenset[str] = frozenset(),
    ) -> None:
        self.zones = tuple(sorted(zones, key=lambda z: z.low))
        for a, b in zip(self.zones, self.zones[1:], strict=False):
            if b.low < a.high:
                raise ValueError(f"price zones {a.name} and {b.name} overlap")
        self.directional = directional
        self.outside = outside

    @classmethod
    def from_config(
        cls,
        table: Mapping[str, Mapping[str, Any]],
        *,
        directional: Iterable[str] = DIRECTIONAL_STRATEGIES,
        outside: Iterable[str] = (),
    ) -> ZonePolicy:
        """Zones from a config table: name -> {low, high (prices), strategies, directional, min_directional_prob}."""
        zones = [
            Zone(
                name,
                px_from_float(float(z["low"])),
                px_from_float(float(z["high"])),
                frozenset(z.get("strategies", ())),
                bool(z.get("directional", True)),
                z.get("min_directional_prob"),
            )
            for name, z in table.items()
        ]
        return cls(zones, directional=frozenset(directional), outside=frozenset(outside))

    @classmethod
    def from_settings(cls, settings: Any) -> ZonePolicy:
        """From the [zones] section."""
        z = settings.zones
        table = {
            name: band.model_dump() if hasattr(band, "model_dump") else dict(band)
            for name, band in z.bands.items()
        }
        return cls.from_config(table, directional=z.directional, outside=z.outside)

    def zone(self, price: int) -> Zone | None:
        top = self.zones[-1] if self.zones else None
        for z in self.zones:
            if z.low <= price < z.high or (z is top and price == z.high):
                return z
        return None

    def check(self, price: int, strategy: str, *, prob: float | None = None) -> Refusal | None:
        """May `strategy` buy a token at `price`? `prob`: the conservative probability of that token."""
        z = self.zone(price)
        if z is None:
            if strategy in self.outside:
                return None
            return Refusal("ZONE_OUTSIDE", price, 0, f"{strategy} at {price} is outside every price zone")
        directional = strategy in self.directional
        if directional and not z.directional:
            return Refusal("ZONE_DIRECTIONAL_PROHIBITED", price, z.low, f"no directional bets in {z.name}")
        if strategy not in z.strategies:
            return Refusal("ZONE_STRATEGY", price, z.low, f"{strategy} is not allowed in {z.name}")
        if (
            directional
            and z.min_directional_prob is not None
            and (prob is None or prob <= z.min_directional_prob)
        ):
            return Refusal(
                "ZONE_MIN_PROB",
                -1.0 if prob is None else prob,
                z.min_directional_prob,
                f"directional bets in {z.name} need a probability above {z.min_directional_prob}",
            )
        return None


__all__ = [
    "ALLOWED",
    "DEFAULT_ZONES",
    "DIRECTIONAL_STRATEGIES",
    "Allowed",
    "Clocks",
    "HOUR_MS",
    "MarketStateLimits",
    "MarketStates",
    "Phase",
    "PhaseChange",
    "Refusal",
    "Zone",
    "ZonePolicy",
]
