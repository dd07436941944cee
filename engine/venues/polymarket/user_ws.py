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
- Bad input never reaches a callback, so never the ledger: every field `parse_order` / `parse_fills`
  read is checked first (engine.units' strict parsers; a fill has a trade id, an order id, a known side,
  a price strictly inside (0, 1) and a size > 0). A frame that is not JSON, an event or a backfill row
  with a bad field is refused whole, counted in `stats.malformed` and logged with the field and what is
  accepted (rate-limited per field, `RefusalLog`); the stream and the other rows carry on.
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
from engine.logs import log_event
from engine.units import MISSING, WireError, show_value, strict_px, strict_qty, strict_uint
from engine.venues.polymarket.market_channel import SIDE_ACCEPTED, optional_str, parse_frame, required_id
from engine.venues.polymarket.market_ws import Backoff, Data, ReconnectingSocket, RefusalLog

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
    malformed: int = 0  # frames, events and backfill rows refused by validation: no callback saw them


class _Trade:
    __slots__ = ("status", "fills", "terminal")

    def __init__(self) -> None:
        self.status = ""
        self.fills: dict[tuple[str, str], TradeFill] = {}  # reported provisionally
        self.terminal = False


def _status(raw: object) -> str:
    text = str(raw or "").upper()
    return text.removeprefix("TRADE_STATUS_")


def _uint(event: dict, key: str, prefix: str = "") -> int:
    """An optional non-negative integer field ("" and absent are 0, as the exchange writes them)."""
    value = event.get(key)
    return 0 if value is None or value == "" else strict_uint(value, prefix + key)


def _side(event: dict, key: str, prefix: str = "") -> Side:
    value = event.get(key, MISSING)
    # The exchange writes upper case; older rows were not always so careful. ASCII only: "ſell".upper()
    # is "SELL".
    text = value.upper() if type(value) is str and value.isascii() else value
    if text == "BUY":
        return Side.BUY
    if text == "SELL":
        return Side.SELL
    raise WireError(prefix + key, value, SIDE_ACCEPTED)


def _text(event: dict, key: str, prefix: str = "") -> str:
    return optional_str(event, key, prefix) or ""


def parse_order(event: dict) -> OrderEvent:
    """An `order` event, every field read checked (raises WireError naming the first bad one): price
    strictly inside (0, 1), original size > 0, size matched between 0 and the original size."""
    original = strict_qty(event.get("original_size", MISSING), "original_size", positive=True)
    raw_matched = event.get("size_matched")
    matched = 0 if raw_matched is None or raw_matched == "" else strict_qty(raw_matched, "size_matched")
    if matched > original:
        raise WireError("size_matched", raw_matched, "a size from 0 to original_size")
    trades = event.get("associate_trades")
    if trades is not None and not (type(trades) is list and all(type(t) is str for t in trades)):
        raise WireError("associate_trades", trades, "a list of trade ids")
    return OrderEvent(
        kind=_text(event, "type").upper(),
        order_id=required_id(event, "id"),
        market=_text(event, "market"),
        asset_id=_text(event, "asset_id"),
        side=_side(event, "side"),
        price=strict_px(event.get("price", MISSING), "price"),
        original_size=original,
        size_matched=matched,
        status=_text(event, "status"),
        outcome=_text(event, "outcome"),
        order_type=_text(event, "order_type"),
        associate_trades=tuple(trades or ()),
        created_at=_uint(event, "created_at"),
        expiration=_uint(event, "expiration"),
        ts=_uint(event, "timestamp"),
    )


_TRADER_SIDES = ("TAKER", "MAKER", "")


def parse_fills(trade: dict, owner: str) -> list[TradeFill]:
    """Our fills in a trade row (WebSocket `trade` event or REST `/data/trades` row). Every field read is
    checked first (raises WireError naming the first bad one), so a fill that comes out has a trade id,
    an order id, a known side, a price strictly inside (0, 1) and a size > 0. Other parties' maker entries
    are checked only for shape (an object whose owner is a string): their numbers are not ours to book,
    and refusing our fill over them would lose a fill the venue knows."""
    trade_id = required_id(trade, "id")
    raw_status = trade.get("status")
    if raw_status is not None and type(raw_status) is not str:
        raise WireError("status", raw_status, "a trade status string")
    status = _status(raw_status)
    taker_side = _side(trade, "side")
    taker_asset = _text(trade, "asset_id")
    trader_side = trade.get("trader_side")
    if type(trader_side) is str:
        trader_side = trader_side.upper()
    if trader_side is not None and trader_side not in _TRADER_SIDES:
        raise WireError("trader_side", trade.get("trader_side"), "TAKER or MAKER")
    makers = trade.get("maker_orders")
    if makers is not None and type(makers) is not list:
        raise WireError("maker_orders", makers, "a list of objects")
    common = {
        "trade_id": trade_id,
        "market": _text(trade, "market"),
        "status": status,
        "match_time": _uint(trade, "match_time"),
        "transaction_hash": _text(trade, "transaction_hash"),
        "bucket_index": _uint(trade, "bucket_index"),
    }
    trade_owner = trade.get("owner")
    if trade_owner is not None and type(trade_owner) is not str:
        raise WireError("owner", trade_owner, "an API key string")
    out: list[TradeFill] = []
    if trader_side == "TAKER" or (not trader_side and trade_owner == owner):
        out.append(
            TradeFill(
                order_id=required_id(trade, "taker_order_id"),
                asset_id=taker_asset,
                outcome=_text(trade, "outcome"),
                side=taker_side,
                price=strict_px(trade.get("price", MISSING), "price"),
                size=strict_qty(trade.get("size", MISSING), "size", positive=True),
                fee_rate_bps=_uint(trade, "fee_rate_bps"),
                liquidity=Liquidity.TAKER,
                **common,
            )
        )
    for i, maker in enumerate(makers or ()):
        prefix = f"maker_orders[{i}]."
        if type(maker) is not dict:
            raise WireError(f"maker_orders[{i}]", maker, "an object")
        maker_owner = maker.get("owner")
        if maker_owner is not None and type(maker_owner) is not str:
            raise WireError(prefix + "owner", maker_owner, "an API key string")
        if maker_owner != owner:
            continue
        asset = _text(maker, "asset_id", prefix) or taker_asset
        if maker.get("side") not in (None, ""):
            side = _side(maker, "side", prefix)
        else:  # older rows: same token trades against the opposite side; the complement token mints/merges
            side = taker_side.opposite if asset == taker_asset else taker_side
        out.append(
            TradeFill(
                order_id=required_id(maker, "order_id", prefix),
                asset_id=asset,
                outcome=_text(maker, "outcome", prefix),
                side=side,
                price=strict_px(maker.get("price", MISSING), prefix + "price"),
                size=strict_qty(
                    maker.get("matched_amount", MISSING), prefix + "matched_amount", positive=True
                ),
                fee_rate_bps=_uint(maker, "fee_rate_bps", prefix),
                liquidity=Liquidity.MAKER,
                **common,
            )
        )
    return out


def _id_of(event: object) -> str:
    """An event's id for a log line, whatever the event holds."""
    value = event.get("id") if type(event) is dict else None
    return value[:100] if type(value) is str else show_value(value)


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
        # ERROR: a refused trade may be a fill of ours that the ledger does not have until reconciliation.
        self._refusals = RefusalLog(LOG, "user_ws_refused", clock.now_ms, level=logging.ERROR)
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
        """Never raises: an unreadable frame, order or trade is counted and skipped (it reaches no
        callback), and the connection carries on."""
        self._alive_ms = self._clock.now_ms()
        self._stats.frames += 1
        try:
            events, errors = parse_frame(raw)
        except WireError as exc:
            # Logged by size, not content: this channel's frames are private to our account.
            self._refuse("frame", WireError(exc.field, f"<{len(raw)} bytes>", exc.accepted))
            return
        for exc in errors:
            self._refuse("frame", exc)
        for event in events:
            kind = event.get("event_type")
            try:
                if kind == "trade":
                    self._stats.trade_events += 1
                    await self.ingest_trade(event)
                elif kind == "order":
                    self._stats.orders += 1
                    await self._call(self._on_order, parse_order(event))
                elif type(kind) is not str:
                    raise WireError("event_type", MISSING if kind is None else kind, "a string")
            except WireError as exc:
                self._refuse(kind if kind in ("trade", "order") else "event", exc, id=_id_of(event))
            except Exception as exc:  # a failing callback: one event must not cost the others
                self._stats.errors += 1
                log_event(
                    LOG,
                    "user_ws_bad_event",
                    logging.ERROR,
                    error=f"{type(exc).__name__}: {exc}",
                    event_type=show_value(kind),
                    id=_id_of(event),
                )

    def _refuse(self, kind: str, exc: WireError, **fields: object) -> None:
        self._stats.malformed += 1
        self._refusals(kind, exc, **fields)

    async def _backfill(self, since_s: int) -> None:
        backoff = Backoff(self._backoff_initial, self._backoff_max, random.Random(self._rng.random()))
        while True:
            try:
                rows = await self._backfill_trades(since_s)
                if type(rows) is not list:
                    raise WireError("trades", rows, "a list of trade objects")
                break
            except asyncio.CancelledError:
                raise
            except WireError as exc:  # an unreadable answer: asked again, like a failed one
                self._refuse("backfill", exc, since_s=since_s)
                await asyncio.sleep(backoff.next_delay())
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
        # Oldest first, so a trade's statuses are applied in the order they happened. A row that cannot
        # be placed in that order is refused here; the others still go in.
        ordered: list[tuple[int, int, int, dict]] = []
        for i, row in enumerate(rows):
            try:
                if type(row) is not dict:
                    raise WireError(f"trades[{i}]", row, "a trade object")
                ordered.append((_uint(row, "match_time"), _uint(row, "last_update"), i, row))
            except WireError as exc:
                self._refuse("backfill", exc, id=_id_of(row))
        ordered.sort(key=lambda r: r[:3])
        for _, _, _, row in ordered:
            try:
                await self.ingest_trade(row, source="backfill")
            except Exception as exc:  # a failing callback: the other rows still go in
                self._stats.errors += 1
                log_event(
                    LOG,
                    "user_backfill_bad_row",
                    logging.ERROR,
                    error=f"{type(exc).__name__}: {exc}",
                    id=_id_of(row),
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
    async def ingest_trade(self, row: dict, *, source: str = "trade") -> bool:
        """Apply one trade status (WebSocket event or REST row); safe to call with anything seen before.
        A row that fails the checks changes nothing and reaches no callback: it is counted in
        `stats.malformed`, logged with the field (as coming from `source`), and False is returned."""
        try:
            if type(row) is not dict:
                raise WireError("trade", row, "a trade object")
            fills = parse_fills(row, self._creds.api_key)
        except WireError as exc:
            self._refuse(source, exc, id=_id_of(row))
            return False
        async with self._lock:
            await self._ingest(row, fills)
        return True

    async def _ingest(self, row: dict, fills: list[TradeFill]) -> None:
        stats = self._stats
        trade_id: str = row["id"]
        status = _status(row.get("status"))
        trade = self._trades.get(trade_id)
        if trade is not None and trade.terminal:
            stats.duplicates += 1
            return
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
