"""Where a Polymarket-protocol exchange serves each API, given its one base URL: the local exchange's layout
(CLOB REST at `/`, WebSockets at `/ws/market` and `/ws/user`, Gamma at `/gamma`, Data API at `/data-api`).
The server and the CLI's `--exchange URL` both use it, so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExchangeUrls:
    base_url: str
    market_ws_url: str
    user_ws_url: str
    gamma_url: str
    data_url: str


def exchange_urls(base_url: str) -> ExchangeUrls:
    """`base_url` is http(s)://host:port; the WebSockets use the matching ws(s) scheme."""
    base = base_url.rstrip("/")
    ws = "ws" + base[len("http") :]
    return ExchangeUrls(base, f"{ws}/ws/market", f"{ws}/ws/user", f"{base}/gamma", f"{base}/data-api")
