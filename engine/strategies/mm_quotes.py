"""The market maker's quote arithmetic, in YES terms: how wide, skewed which way, how much on each side.

- Half-spread = base + k_vol x sigma + k_tox x toxicity, at least one tick; when the market pays liquidity
  rewards it is kept inside the max incentive spread (a quote at or beyond it earns nothing).
- Inventory skew moves both quotes against what is held: long YES lowers them (sell YES sooner, buy less
  eagerly), long NO raises them. The shift is the held share of the cap times `skew` half-spreads.
- The side that would grow inventory past the cap shrinks, to zero at the cap.
- Prices land on the tick grid inside [tick, 1 - tick], the bid below the ask.

Pure functions of integers (prices 1e-4, shares 1e-6): the strategy decides when to requote, this decides what.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.units import ONE


@dataclass(frozen=True, slots=True)
class QuoteParams:
    base_half_spread: int  # 1e-4
    k_vol: float = 0.0  # price units of half-spread per unit of sigma (sigma in 1e-4 per sqrt-minute, say)
    k_tox: float = 0.0  # price units per unit of toxicity (0..1)
    skew: float = 1.0  # half-spreads of shift at a full inventory cap
    size: int = 0  # shares per side, 1e-6
    max_inventory: int = 0  # shares of net YES (YES - NO) held either way, 1e-6

    def __post_init__(self) -> None:
        if self.base_half_spread < 0 or self.size < 0 or self.max_inventory < 0:
            raise ValueError("quote params: base_half_spread, size and max_inventory are >= 0")


@dataclass(frozen=True, slots=True)
class TwoSided:
    bid: int  # YES-terms price, 1e-4
    bid_size: int
    ask: int
    ask_size: int
    half_spread: int
    shift: int  # the inventory skew applied (negative: both quotes lowered)


def half_spread(p: QuoteParams, sigma: float, toxicity: float, tick: int, max_incentive: int | None) -> int:
    """At least a tick; under the reward band's edge (`max_incentive`, 1e-4) when the market pays rewards."""
    h = int(round(p.base_half_spread + p.k_vol * sigma + p.k_tox * toxicity))
    h = max(h, tick)
    if max_incentive is not None and max_incentive > tick:
        h = min(h, max_incentive - tick)
    return max(h, tick)


def inventory_shift(net_yes: int, p: QuoteParams, half: int) -> int:
    """Long YES (net_yes > 0) lowers both quotes, long NO raises them; a full cap moves them `skew` halves."""
    if p.max_inventory <= 0:
        return 0
    held = max(-1.0, min(1.0, net_yes / p.max_inventory))
    return int(round(-held * p.skew * half))


def quote(fair: int, net_yes: int, p: QuoteParams, tick: int, half: int) -> TwoSided:
    """Both sides around a YES-terms fair value, skewed by what is held, on the grid, inside (0, 1)."""
    shift = inventory_shift(net_yes, p, half)
    center = fair + shift
    bid = (center - half) // tick * tick
    ask = -((-(center + half)) // tick) * tick  # round up to the grid
    bid = max(tick, min(bid, ONE - 2 * tick))
    ask = min(ONE - tick, max(ask, bid + tick))
    cap = p.max_inventory
    bid_size = max(0, min(p.size, cap - net_yes)) if cap > 0 else p.size
    ask_size = max(0, min(p.size, cap + net_yes)) if cap > 0 else p.size
    return TwoSided(bid, bid_size, ask, ask_size, half, shift)
