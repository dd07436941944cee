"""Polymarket user-channel client: our order updates and fills, exactly once, with reversals.

    stream = UserStream(url, api_key=..., secret=..., passphrase=..., backfill_trades=rest.trades_since,
                        clock=WallClock(), on_fill_provisional=book_fill, on_fill_confirmed=settle_fill,
                        on_fill_reversed=undo_fill, on_order=order_update)
    task = asyncio.create_task(stream.run())   # until close()

`UserStream(url, *, api_key, secret, passphrase, backfill_trades, clock, markets=None, on_order=None,
on_fill_provisional=None, on_fill_confirmed=None, on_fill_reversed=None, backfill_since_s=None,
backfill_margin_s=60, ping_interval=10.0, pong_timeout=None, rng=None, backoff_initial=0.5,
backoff_max=30.0, connect_kwargs=None)`

- The first frame authenticates (protocol notes section 8.2): `{"auth": {...}, "type": "user",
  "markets": [...]}`; `markets` is omitted for all markets. `subscribe_markets` / `unsubscribe_markets`
  change the set on the live connection. Keepalive and reconnect are the market channel's
  (`ReconnectingSocket`: text PING/PONG, jittered backoff from `rng`).
- `order` events become `OrderEvent` and go to `on_order` (PLACEMENT / UPDATE / CANCELLATION).
- `trade` events become one `TradeFill` per fill of ours: the taker side when `trader_side` is TAKER,
  and every `maker_orders[]` entry whose `owner` is our API key. A trade is provisional until
  CONFIRMED; FAILED reverses it. Per trade id and order id the stream keeps what it has reported, so
  duplicates and out-of-order statuses (MINED before MATCHED, MATCHED after CONFIRMED) change nothing:
  every fill reaches `on_fill_provisional` exactly once, then at most one of `on_fill_confirmed` (with
  the confirmed values) or `on_fill_reversed`. A trade first seen CONFIRMED reports provisional then
  confirmed; one first seen FAILED reports nothing. A trade that is CONFIRMED stays confirmed.
- The channel does not replay what was missed while disconnected: after every reconnect (and on the
  first connect when `backfill_since_s` is given) `backfill_trades(since_s)` is awaited — REST
  `/data/trades` rows (section 6.2) from `backfill_margin_s` before the last moment the old connection
  was heard from — and the rows take the same idempotent path. A failed backfill is retried with
  backoff; the window is kept until one succeeds.
- Callbacks may be plain functions or coroutines; they run one at a time, in delivery order.
- Sizes are micro-shares and prices price units (engine.units); nothing passes through a float.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection

from engine.clock import Clock
from engine.domain import Liquidity, Side
from engine.feeds.market_channel import parse_frame
from engine.feeds.polymarket_ws import Backoff, Data, ReconnectingSocket
from engine.logs import log_event
from engine.units import px_from_str, qty_from_str

LOG = logging.getLogger("bigearn.feeds.user_ws")

PROVISIONAL_STATUSES = frozenset({"MATCHED", "MINED", "RETRYING", "MATCHED_NOT_BROADCASTED"})
CONFIRMED = "CONFIRMED"
FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: str  # PLACEMENT | UPDATE | CANCELLATION
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: int
    original_size: int
    size_matched: int
    status: str  # LIVE, MATCHED, CANCELED, CANCELED_<reason>, INVALID, ...
    outcome: str
    order_type: str
    associate_trades: tuple[str, ...]
    created_at: int  # unix seconds
    expiration: int  # unix seconds, 0 = none
    ts: int  # ms


@dataclass(frozen=True, slots=True)
class TradeFill:
    """One of our fills in a trade; (trade_id, order_id) identifies it."""

    trade_id: str
    order_id: str
    market: str
    asset_id: str
    outcome: str
    side: Side
    price: int
    size: int
    fee_rate_bps: int
    liquidity: Liquidity
    status: str
    match_time: int  # unix seconds
    transaction_hash: str
    bucket_index: int

    @property
    def key(self) -> tuple[str, str]:
        return self.trade_id, self.order_id


@dataclass(slots=True)
class UserStats:
    frames: int = 0
    orders: int = 0
    trade_events: int = 0
    provisional: int = 0
    confirmed: int = 0
    reversed: int = 0
    duplicates: int = 0  # trade events that changed nothing
    foreign: int = 0  # trade events with no fill of ours
    backfills: int = 0
    backfilled_rows: int = 0
    connects: int = 0
    reconnects: int = 0
    errors: int = 0


class _Trade:
    __slots__ = ("status", "fills", "terminal")

    def __init__(self) -> None:
        self.status = ""
        self.fills: dict[tuple[str, str], TradeFill] = {}  # reported provisionally
        self.terminal = False


def _status(raw: object) -> str:
    text = str(raw or "").upper()
    return text.removeprefix("TRADE_STATUS_")


def _int(raw: object) -> int:
    return int(raw) if raw not in (None, "") else 0


def _qty(raw: object) -> int:
    return qty_from_str(str(raw)) if raw not in (None, "") else 0


def parse_order(event: dict) -> OrderEvent:
    return OrderEvent(
        kind=str(event.get("type", "")).upper(),
        order_id=event["id"],
        market=event.get("market", ""),
        asset_id=event.get("asset_id", ""),
        side=Side(str(event["side"]).upper()),
        price=px_from_str(str(event["price"])),
        original_size=_qty(event.get("original_size")),
        size_matched=_qty(event.get("size_matched")),
        status=str(event.get("status", "")),
        outcome=event.get("outcome", ""),
        order_type=event.get("order_type", ""),
        associate_trades=tuple(event.get("associate_trades") or ()),
        created_at=_int(event.get("created_at")),
        expiration=_int(event.get("expiration")),
        ts=_int(event.get("timestamp")),
    )


def parse_fills(trade: dict, owner: str) -> list[TradeFill]:
    """Our fills in a trade row (WebSocket `trade` event or REST `/data/trades` row)."""
    trade_id = trade["id"]
    status = _status(trade.get("status"))
    taker_side = Side(str(trade["side"]).upper())
    taker_asset = trade.get("asset_id", "")
    common = {
        "trade_id": trade_id,
        "market": trade.get("market", ""),
        "status": status,
        "match_time": _int(trade.get("match_time")),
        "transaction_hash": trade.get("transaction_hash") or "",
        "bucket_index": _int(trade.get("bucket_index")),
    }
    out: list[TradeFill] = []
    trader_side = str(trade.get("trader_side") or "").upper()
    if trader_side == "TAKER" or (not trader_side and trade.get("owner") == owner):
        out.append(
            TradeFill(
                order_id=trade.get("taker_order_id", ""),
                asset_id=taker_asset,
                outcome=trade.get("outcome", ""),
                side=taker_side,
                price=px_from_str(str(trade["price"])),
                size=_qty(trade.get("size")),
                fee_rate_bps=_int(trade.get("fee_rate_bps")),
                liquidity=Liquidity.TAKER,
                **common,
            )
        )
    for maker in trade.get("maker_orders") or ():
        if maker.get("owner") != owner:
            continue
        asset = maker.get("asset_id") or taker_asset
        if maker.get("side"):
            side = Side(str(maker["side"]).upper())
        else:  # older rows: same token trades against the opposite side; the complement token mints/merges
            side = taker_side.opposite if asset == taker_asset else taker_side
        out.append(
            TradeFill(
                order_id=maker.get("order_id", ""),
                asset_id=asset,
                outcome=maker.get("outcome", ""),
                side=side,
                price=px_from_str(str(maker["price"])),
                size=_qty(maker.get("matched_amount")),
                fee_rate_bps=_int(maker.get("fee_rate_bps")),
                liquidity=Liquidity.MAKER,
                **common,
            )
        )
    return out


class _Creds:
    """Holds the L2 credentials; its repr never shows them."""

    __slots__ = ("api_key", "secret", "passphrase")

    def __init__(self, api_key: str, secret: str, passphrase: str) -> None:
        self.api_key = api_key
        self.secret = secret
        self.passphrase = passphrase

    def __repr__(self) -> str:
        return "_Creds(<redacted>)"


Callback = Callable[[Any], Awaitable[None] | None]


class UserStream:
    """Polymarket user channel with idempotent fill tracking. See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str,
        secret: str,
        passphrase: str,
        backfill_trades: Callable[[int], Awaitable[list[dict]]],
        clock: Clock,
        markets: Iterable[str] | None = None,
        on_order: Callback | None = None,
        on_fill_provisional: Callback | None = None,
        on_fill_confirmed: Callback | None = None,
        on_fill_reversed: Callback | None = None,
        backfill_since_s: int | None = None,
        backfill_margin_s: int = 60,
        ping_interval: float = 10.0,
        pong_timeout: float | None = None,
        rng: random.Random | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_tracked_trades: int = 100_000,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self._creds = _Creds(api_key, secret, passphrase)
        self._backfill_trades = backfill_trades
        self._clock = clock
        self._markets: dict[str, None] = dict.fromkeys(markets or ())
        self._on_order = on_order
        self._on_provisional = on_fill_provisional
        self._on_confirmed = on_fill_confirmed
        self._on_reversed = on_fill_reversed
        self.backfill_margin_s = backfill_margin_s
        self.max_tracked_trades = max_tracked_trades
        self._rng = rng or random.Random()
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._gap_since_s = backfill_since_s  # start of a window the channel may have missed, if any
        self._alive_ms = 0
        self._trades: OrderedDict[str, _Trade] = OrderedDict()
        self._lock = asyncio.Lock()
        self._stats = UserStats()
        self._backfill_task: asyncio.Task[None] | None = None
        self._socket = ReconnectingSocket(
            url,
            name="user",
            on_open=self._on_open,
            on_frame=self._on_frame,
            on_down=self._on_down,
            on_pong=self._on_pong,
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            backoff=Backoff(backoff_initial, backoff_max, random.Random(self._rng.random())),
            connect_kwargs=connect_kwargs,
        )

    def __repr__(self) -> str:
        return f"UserStream(url={self.url!r}, markets={len(self._markets)})"

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._socket.run()
        finally:
            await self._cancel_backfill()

    async def close(self) -> None:
        await self._socket.stop()
        await self._cancel_backfill()

    @property
    def connected(self) -> bool:
        return self._socket.connected

    @property
    def stats(self) -> UserStats:
        copy = replace(self._stats)
        copy.errors += self._socket.errors
        return copy

    def subscribe_markets(self, markets: Iterable[str]) -> None:
        new = [m for m in markets if m not in self._markets]
        if not new:
            return
        self._markets.update(dict.fromkeys(new))
        self._socket.send_nowait(orjson.dumps({"operation": "subscribe", "markets": new}).decode())

    def unsubscribe_markets(self, markets: Iterable[str]) -> None:
        gone = [m for m in markets if m in self._markets]
        for m in gone:
            del self._markets[m]
        if gone:
            self._socket.send_nowait(orjson.dumps({"operation": "unsubscribe", "markets": gone}).decode())

    def trade_status(self, trade_id: str) -> str | None:
        """The latest status applied for a trade of ours (None if never seen)."""
        trade = self._trades.get(trade_id)
        return None if trade is None else trade.status

    # --- socket callbacks ------------------------------------------------------------------------
    async def _on_open(self, ws: ClientConnection) -> None:
        self._alive_ms = self._clock.now_ms()
        creds = self._creds
        auth: dict[str, object] = {
            "auth": {"apiKey": creds.api_key, "secret": creds.secret, "passphrase": creds.passphrase},
            "type": "user",
        }
        if self._markets:
            auth["markets"] = list(self._markets)
        await ws.send(orjson.dumps(auth).decode())
        self._stats.connects += 1
        if self._stats.connects > 1:
            self._stats.reconnects += 1
        if self._gap_since_s is not None:
            self._backfill_task = asyncio.create_task(self._backfill(self._gap_since_s))

    def _on_down(self) -> None:
        if self._gap_since_s is None:
            self._gap_since_s = max(0, self._alive_ms // 1000 - self.backfill_margin_s)
        task, self._backfill_task = self._backfill_task, None
        if task is not None:
            task.cancel()  # the next connection backfills the whole window again

    def _on_pong(self) -> None:
        self._alive_ms = self._clock.now_ms()

    async def _on_frame(self, raw: Data) -> None:
        self._alive_ms = self._clock.now_ms()
        self._stats.frames += 1
        for event in parse_frame(raw):
            try:
                kind = event.get("event_type")
                if kind == "trade":
                    self._stats.trade_events += 1
                    await self.ingest_trade(event)
                elif kind == "order":
                    self._stats.orders += 1
                    await self._call(self._on_order, parse_order(event))
            except Exception as exc:  # one unreadable event must not cost the others
                self._stats.errors += 1
                log_event(
                    LOG,
                    "user_ws_bad_event",
                    logging.ERROR,
                    error=f"{type(exc).__name__}: {exc}",
                    event_type=event.get("event_type"),
                    id=event.get("id"),
                )

    async def _backfill(self, since_s: int) -> None:
        backoff = Backoff(self._backoff_initial, self._backoff_max, random.Random(self._rng.random()))
        while True:
            try:
                rows = await self._backfill_trades(since_s)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._stats.errors += 1
                log_event(
                    LOG,
                    "user_backfill_failed",
                    logging.WARNING,
                    since_s=since_s,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await asyncio.sleep(backoff.next_delay())
        self._stats.backfills += 1
        self._stats.backfilled_rows += len(rows)
        log_event(LOG, "user_backfill", logging.INFO, since_s=since_s, rows=len(rows))
        # Oldest first, so a trade's statuses are applied in the order they happened.
        for row in sorted(rows, key=lambda r: (_int(r.get("match_time")), _int(r.get("last_update")))):
            try:
                await self.ingest_trade(row)
            except Exception as exc:
                self._stats.errors += 1
                log_event(
                    LOG,
                    "user_backfill_bad_row",
                    logging.ERROR,
                    error=f"{type(exc).__name__}: {exc}",
                    id=row.get("id"),
                )
        if self._gap_since_s == since_s:
            self._gap_since_s = None
        self._backfill_task = None

    async def _cancel_backfill(self) -> None:
        task, self._backfill_task = self._backfill_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the idempotent trade path ---------------------------------------------------------------
    async def ingest_trade(self, row: dict) -> None:
        """Apply one trade status (WebSocket event or REST row); safe to call with anything seen before."""
        async with self._lock:
            await self._ingest(row)

    async def _ingest(self, row: dict) -> None:
        stats = self._stats
        trade_id = row["id"]
        status = _status(row.get("status"))
        trade = self._trades.get(trade_id)
        if trade is not None and trade.terminal:
            stats.duplicates += 1
            return
        fills = parse_fills(row, self._creds.api_key)
        if not fills:
            stats.foreign += 1
            return
        if trade is None:
            trade = self._track(trade_id)
        trade.status = status
        if status == FAILED:
            trade.terminal = True
            for fill in trade.fills.values():
                stats.reversed += 1
                log_event(LOG, "fill_reversed", logging.WARNING, trade=trade_id, order=fill.order_id)
                await self._call(self._on_reversed, replace(fill, status=FAILED))
            if not trade.fills:
                stats.duplicates += 1
            return
        if status != CONFIRMED and status not in PROVISIONAL_STATUSES:
            # An unknown status: report the fill as provisional (we hold the exposure until told otherwise).
            log_event(LOG, "trade_status_unknown", logging.WARNING, trade=trade_id, status=status)
        changed = False
        for fill in fills:
            if fill.key not in trade.fills:
                trade.fills[fill.key] = fill
                stats.provisional += 1
                changed = True
                await self._call(self._on_provisional, fill)
        if status == CONFIRMED:
            trade.terminal = True
            for fill in fills:
                stats.confirmed += 1
                await self._call(self._on_confirmed, fill)
        elif not changed:
            stats.duplicates += 1

    def _track(self, trade_id: str) -> _Trade:
        trades = self._trades
        trade = trades[trade_id] = _Trade()
        if len(trades) > self.max_tracked_trades:
            # Forget the oldest finished trades, down to 90% so the scan is rare; open ones are kept.
            excess = len(trades) - self.max_tracked_trades * 9 // 10
            for old_id in [t for t, rec in trades.items() if rec.terminal][:excess]:
                del trades[old_id]
        return trade

    @staticmethod
    async def _call(callback: Callback | None, arg: object) -> None:
        if callback is None:
            return
        result = callback(arg)
        if inspect.isawaitable(result):
            await result


__all__ = [
    "OrderEvent",
    "TradeFill",
    "UserStats",
    "UserStream",
    "parse_fills",
    "parse_order",
]
