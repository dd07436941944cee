"""Settings -> a Polymarket venue: discover the markets, then paper (live books, in-process fills, nothing sent)
or LIVE (the official SDK, keys from the environment or the encrypted keystore, never from config.toml).

Kept apart from engine/runtime.py so the replay path never imports the SDK, httpx or websockets.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import httpx

from engine.clock import WallClock
from engine.config import Settings
from engine.sim.matching import LatencyModel
from engine.venues.polymarket.discovery import DiscoveryError, discover_markets
from engine.venues.polymarket.gateway import GatewaySettings, OrderGateway
from engine.venues.polymarket.keys import CredentialsError, load_credentials
from engine.venues.polymarket.live import LiveSettings, PolymarketLiveVenue
from engine.venues.polymarket.market_data import PolymarketMarketData
from engine.venues.polymarket.paper import PolymarketPaperVenue


class VenueSetupError(Exception):
    """One line for the operator: what could not be set up, and where."""


def _split(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _prompt(message: str) -> str:
    if not sys.stdin.isatty():
        raise CredentialsError(f"{message}: no terminal to ask on; set BIGEARN_KEYSTORE_PASSWORD")
    return getpass.getpass(f"{message}: ")


async def build_polymarket_venue(settings: Settings, clock: WallClock) -> Any:
    v, pm = settings.venue, settings.polymarket
    try:
        markets = await discover_markets(
            v.gamma_url,
            v.clob_url,
            max_markets=pm.max_markets,
            min_liquidity_usdc=pm.min_liquidity_usdc,
            categories=_split(pm.categories),
            include_ids=_split(pm.include_markets),
        )
    except (DiscoveryError, httpx.HTTPError, OSError) as exc:
        raise VenueSetupError(f"market discovery at {v.gamma_url} failed: {exc}") from exc
    if not markets:
        raise VenueSetupError(f"market discovery at {v.gamma_url}: no market passed the [polymarket] filters")
    stale_after_ms = int(settings.breakers.stale_feed_s * 1000)
    if not v.live:
        return PolymarketPaperVenue(
            markets,
            clob_url=v.clob_url,
            market_ws_url=v.ws_market_url,
            clock=clock,
            starting_cash=settings.bankroll.starting_usdc,
            latency=LatencyModel(v.submit_latency_ms, v.cancel_latency_ms, v.latency_jitter_ms),
            seed=settings.engine.seed,
            stale_after_ms=stale_after_ms,
            ping_interval=pm.ws_ping_interval_s,
        )
    try:
        creds = load_credentials(keystore=v.keystore or None, funder=pm.funder or None, prompt=_prompt)
        gateway = await OrderGateway.connect(
            creds,
            GatewaySettings(
                clob_url=v.clob_url,
                market_ws_url=v.ws_market_url,
                user_ws_url=v.ws_user_url,
                gamma_url=v.gamma_url,
                data_url=v.data_api_url,
                relayer_url=pm.relayer_url,
                chain_id=v.chain_id,
                signature_type=v.signature_type,
                rate_limit_tier=pm.rate_limit_tier,
            ),
        )
    except CredentialsError as exc:
        raise VenueSetupError(f"live credentials: {exc}") from exc
    except (httpx.HTTPError, OSError) as exc:
        raise VenueSetupError(f"cannot reach the CLOB at {v.clob_url}: {exc}") from exc
    market_data = PolymarketMarketData(
        markets,
        clob_url=v.clob_url,
        market_ws_url=v.ws_market_url,
        clock=clock,
        stale_after_ms=stale_after_ms,
        ping_interval=pm.ws_ping_interval_s,
    )
    return PolymarketLiveVenue(
        gateway=gateway,
        market_data=market_data,
        markets=markets,
        clock=clock,
        settings=LiveSettings(
            heartbeat_interval_s=pm.heartbeat_interval_s, user_ping_interval_s=pm.ws_ping_interval_s
        ),
        user_ws_url=v.ws_user_url,
    )
