"""Order-book fair value: a depth-weighted microprice with a band that widens with volatility and time.

Point estimate: the mid shifted toward the side about to give way, by the imbalance of the top levels
times half the spread (with one level this is the classic microprice). It never leaves the touch.

Band (90% by default) combines two independent sources of error:
- quote noise: the fair value can sit anywhere inside the spread (uniform: variance spread^2/12);
- diffusion: the price can move before the position resolves or can be unwound, with the volatility of
  recent mid changes (EWMA of squared changes per second) over min(time to close, horizon).
So the band is tight on a calm book near resolution and wide on a jumpy book far from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.brains.base import BrainInput, NoEstimate
from engine.domain import Estimate
from engine.units import ONE

_P_MIN, _P_MAX = 0.001, 0.999


@dataclass(slots=True)
class _VolState:
    last_ts: int
    last_p: float
    var_per_s: float


class MicropriceBrain:
    name = "microprice"

    def __init__(
        self,
        *,
        levels: int = 3,
        vol_halflife_s: float = 60.0,
        horizon_s: float = 120.0,
        z: float = 1.645,
        prior_vol_per_sqrt_s: float = 0.002,
    ) -> None:
        self.levels = levels
        self.vol_halflife_s = vol_halflife_s
        self.horizon_s = horizon_s
        self.z = z
        self.prior_var = prior_vol_per_sqrt_s**2
        self._vol: dict[str, _VolState] = {}

    def _update_vol(self, cid: str, now_ms: int, p: float) -> float:
        state = self._vol.get(cid)
        if state is None:
            self._vol[cid] = _VolState(now_ms, p, self.prior_var)
            return self.prior_var
        dt = (now_ms - state.last_ts) / 1000
        if dt > 0:
            alpha = 1 - math.exp(-dt * math.log(2) / self.vol_halflife_s)
            state.var_per_s += alpha * ((p - state.last_p) ** 2 / dt - state.var_per_s)
            state.last_ts, state.last_p = now_ms, p
        return state.var_per_s

    def estimate(self, data: BrainInput) -> Estimate:
        book, market, now = data.book, data.market, data.now_ms
        mid = book.mid()
        if mid.x2 is None:
            raise NoEstimate("NO_BOOK", "the book is empty and has no history")
        bid, ask = book.best_bid, book.best_ask
        if bid is not None and ask is not None and bid < ask:
            spread = (ask - bid) / ONE
            imbalance = book.imbalance(self.levels)
            p = mid.x2 / (2 * ONE) + imbalance * spread / 2
        else:
            # One-sided or crossed: the canonical mid is a bound, not a fair value; the band says so.
            spread = 1.0 if bid is None or ask is None else abs(ask - bid) / ONE + 0.02
            imbalance = 0.0
            p = mid.x2 / (2 * ONE)
        p = min(max(p, _P_MIN), _P_MAX)
        var = self._update_vol(market.condition_id, now, p)
        tau = self.horizon_s if market.end_ts is None else max(0.0, (market.end_ts - now) / 1000)
        horizon = min(tau, self.horizon_s)
        sd = math.sqrt(spread * spread / 12 + var * horizon)
        half = self.z * sd
        return Estimate(
            brain=self.name,
            p_hat=p,
            ci_low=max(0.0, p - half),
            ci_high=min(1.0, p + half),
            features={
                "mid": mid.x2 / (2 * ONE),
                "imbalance": imbalance,
                "spread": spread,
                "vol_per_sqrt_s": math.sqrt(var),
                "time_to_close_s": tau,
            },
        )
