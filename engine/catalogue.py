"""Market search: the venue's catalogue by words, category, liquidity and end date, each match marked watched
or not. A replay's catalogue is its data file (every market in it); Polymarket's is Gamma's open markets,
read once a minute at most (a search per keystroke must not be a scan of Gamma per keystroke)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.domain import Market, Outcome
from engine.queries import CatalogueRow, MarketMatches, SearchMarkets

if TYPE_CHECKING:
    from engine.engine import Engine

GAMMA_TTL_S = 60.0


def outcomes_text(m: Market) -> str:
    return f"{m.label(Outcome.YES)}/{m.label(Outcome.NO)}"


def _row(e: Engine, m: Market, liquidity: float, volume: float) -> CatalogueRow:
    return CatalogueRow(
        condition_id=m.condition_id,
        title=m.question or m.slug,
        slug=m.slug,
        category=m.category,
        liquidity=liquidity,
        volume=volume,
        end_ts=m.end_ts,
        watched=e.is_watched(m.condition_id),
        outcomes=outcomes_text(m),
    )


class GammaCatalogue:
    """Gamma's open markets, cached: (rows, when read)."""

    def __init__(self, gamma_url: str) -> None:
        self.gamma_url = gamma_url
        self._cache: tuple[float, list[Any]] | None = None

    async def listings(self) -> list[Any]:
        import httpx  # the replay path never needs it

        from engine.venues.polymarket.discovery import HTTP_TIMEOUT_S, _gamma_rows, _select

        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < GAMMA_TTL_S:
            return self._cache[1]
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            rows = await _gamma_rows(client, self.gamma_url)
        pinned, listed = _select(rows, frozenset(), frozenset(), Decimal(0))
        self._cache = (now, [*pinned, *listed])
        return self._cache[1]


def _matches(q: SearchMarkets, m: Market, liquidity: float, now_ms: int, labels: frozenset[str]) -> bool:
    words = q.words.lower().split()
    text = " ".join((m.question, m.slug, m.category, m.yes_label, m.no_label, *labels)).lower()
    if any(w not in text for w in words):
        return False
    if q.category and q.category.lower() not in {m.category.lower(), *labels}:
        return False
    if liquidity < q.min_liquidity:
        return False
    hours = q.ends_within_h
    return hours is None or (m.end_ts is not None and 0 <= m.end_ts - now_ms <= hours * 3_600_000)


async def search(e: Engine, q: SearchMarkets) -> MarketMatches:
    now = e.clock.now_ms()
    rows: list[CatalogueRow] = []
    gamma = e.gamma_catalogue
    if gamma is None:
        source = "the replay's data file" if e.venue.kind == "REPLAY" else f"the {e.venue.kind.lower()} venue"
        for ms in e.markets.values():
            depth = ms.book.depth_usdc(e.limits.depth_band)
            if _matches(q, ms.market, depth, now, frozenset()):
                rows.append(_row(e, ms.market, depth, 0.0))
    else:
        source = f"Gamma ({gamma.gamma_url})"
        for listing in await gamma.listings():
            m = e.markets[listing.market.condition_id].market if listing.market.condition_id in e.markets else (
                listing.market
            )
            liquidity = float(listing.liquidity)
            if _matches(q, m, liquidity, now, listing.labels):
                rows.append(_row(e, m, liquidity, float(listing.volume)))
    rows.sort(key=lambda r: (not r.watched, -r.liquidity))
    return MarketMatches(source=source, rows=tuple(rows[: q.limit]), total=len(rows))
