"""The watchlist: the markets the strategies judge and the Markets pane shows, changed at runtime.

A market taken off it stays known: its book still flows (a position in it is still marked), but no strategy
judges it and the strategies' working orders in it are cancelled (the operator's own stay: the operator put
them there). Adding a market back is immediate; adding one the venue has not subscribed yet (a Gamma search
result in paper or live) asks the venue to start trading it. The set of markets taken off is part of the
state a restart restores.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.commands import CommandResult, UnwatchMarket, WatchMarket
from engine.mandate_flow import end_mandate
from engine.mandates import MandateStatus
from engine.strategies.manual import ManualStrategy
from engine.venues.base import AddsMarkets
from engine.what_if import resolve_market

if TYPE_CHECKING:
    from engine.engine import Engine

MANUAL = ManualStrategy.strategy_id


def _known(e: Engine, ident: str) -> str | None:
    """The known market (watched or not) by id, tail or slug, as the ticket resolves it; None if none is."""
    try:
        return resolve_market(e, ident).market.condition_id
    except ValueError:
        return None


async def unwatch(e: Engine, command: UnwatchMarket) -> CommandResult:
    cid = _known(e, command.condition_id)
    if cid is None:
        return CommandResult(False, f"unwatch {command.condition_id!r}: not a watched market (an id, its tail, a slug)")
    slug = e.markets[cid].market.slug
    if cid in e.unwatched:
        return CommandResult(False, f"{slug} is not on the watchlist")
    e.unwatched.add(cid)
    cancelled = 0
    for o in list(e.working.values()):
        if o.request.condition_id == cid and o.strategy_id != MANUAL and not o.cancel_requested:
            e._cancel_orders.add(o.client_order_id)
            cancelled += 1
    for m in list(e.mandates.open()):  # pending and active: the market is no longer the strategy's to quote
        if m.condition_id == cid:
            cancelled += await end_mandate(e, m, MandateStatus.ENDED, command.actor, "market off the watchlist")
    await e._flush_cancels()
    e._forget_blocked(cid)
    e._note("unwatched", market=slug, by=command.actor, cancelled=cancelled)
    return CommandResult(True, f"{slug} off the watchlist; {cancelled} strategy orders cancelled")


async def watch(e: Engine, command: WatchMarket) -> CommandResult:
    cid = _known(e, command.condition_id)
    if cid is not None:
        slug = e.markets[cid].market.slug
        if cid not in e.unwatched:
            return CommandResult(False, f"{slug} is already on the watchlist")
        e.unwatched.discard(cid)
        e._note("watched", market=slug, by=command.actor)
        return CommandResult(True, f"{slug} on the watchlist")
    if e.gamma_catalogue is None:
        return CommandResult(False, f"watch {command.condition_id!r}: not in this venue's catalogue")
    if not e.venue_is(AddsMarkets):
        return CommandResult(False, f"watch {command.condition_id!r}: this venue cannot start trading a market while"
                                    " running; add it to [polymarket] include_markets and restart")  # fmt: skip
    listing = next((item for item in await e.gamma_catalogue.listings()
                    if command.condition_id.strip() in (item.market.condition_id, item.market.slug)), None)  # fmt: skip
    if listing is None:
        return CommandResult(False, f"watch {command.condition_id!r}: Gamma lists no open market by that id or slug")
    try:
        market = await e.venue.add_market(listing.market)  # type: ignore[attr-defined]
    except (ValueError, OSError) as exc:
        e._note("watch failed", logging.WARNING, market=listing.market.slug, error=str(exc))
        return CommandResult(False, f"watch {listing.market.slug}: the venue could not add it: {exc}")
    e.add_market(market)
    e._note("watched", market=market.slug, by=command.actor, new=True)
    return CommandResult(True, f"{market.slug} added to the watchlist (subscribing its book)")
