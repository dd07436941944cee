"""A local exchange that speaks Polymarket's CLOB V2 protocol (REST + WebSockets, Gamma, Data API) on
loopback, so the official SDK and our live adapter run against it by changing base URLs only.

    async with start_exchange(port=0, speed=None) as ex:
        ex.base_url, ex.market_ws_url, ex.user_ws_url, ex.gamma_url, ex.data_url
        ex.exchange.set_background(condition_id, bids, asks); ex.exchange.advance_to(ts_ms)
        ex.faults.ws_drop_rate = 0.1   # takes effect at once
"""

from .core import Exchange, ExchangeConfig, ManualClock, NewOrder, WallClock
from .faults import FaultConfig
from .server import ExchangeHandle, start_exchange

__all__ = [
    "Exchange",
    "ExchangeConfig",
    "ExchangeHandle",
    "FaultConfig",
    "ManualClock",
    "NewOrder",
    "WallClock",
    "start_exchange",
]
