"""Polymarket market-channel client: live L2 books over WebSocket, kept honest.

    stream = MarketStream(url, channel, fetch_book=rest.get_book, clock=WallClock(), on_event=sink)
    stream.add_assets([yes_token, no_token])       # routes must already be in `channel` (add_market)
    task = asyncio.create_task(stream.run())        # runs until close()
    ...
    stream.is_synced(yes_token)                     # False until a fresh snapshot has been applied
    stream.stale_assets(None, max_age_ms=5_000)     # what risk must not trade on
    await stream.close()

`MarketStream(url, channel, *, fetch_book, clock, on_event=None, ping_interval=10.0, pong_timeout=None,
max_assets_per_conn=200, rng=None, backoff_initial=0.5, backoff_max=30.0, snapshot_timeout=10.0,
min_resync_interval=1.0, custom_features=True, connect_kwargs=None)`

- `channel` (engine.venues.polymarket.market_channel.MarketChannel) owns the routes and applies `book` /
  `price_change` to the unified YES book of each market. This class decides *whether* an event may be
  applied: it tracks, per market book, whether it is synced, the last exchange timestamp applied, and
  the recent events already applied (so a re-delivered message is recognised and dropped).
- `fetch_book(asset_id)` (async) returns the REST `GET /book` JSON; once checked (`check_rest_book`) it
  is applied as a snapshot whenever a book loses sync. `clock` (engine.clock) only stamps receive times for staleness.
- `on_event(event)` (sync, must not block) receives `TickSizeChange` and `MarketResolved`
  (engine.feeds.events) and this module's `LastTrade`, `BestBidAsk`, `NewMarket`.
- Assets are sharded at most `max_assets_per_conn` per connection, both tokens of a market on the same
  connection (the exchange sends one `price_change` for both). One task per shard.

Sync rules (protocol notes section 8.1 "gap detection"): there are no sequence numbers, so a book is
trusted only while (1) exchange timestamps never go backwards, except for an exact re-delivery of an
event already applied, which is counted as a duplicate and dropped; (2) after each `price_change` the
book's top equals the entry's `best_bid`/`best_ask` (MarketChannel's check). A failure marks the book
unsynced and resyncs it from REST; deltas that arrive meanwhile are buffered and replayed on top of the
snapshot (those at or after its timestamp). Every (re)connect resubscribes and treats every book of the
shard as unknown until its `book` snapshot arrives; if none comes within `snapshot_timeout`, REST.

Staleness: a synced book is known current as of the later of its last applied message and the last
frame (PONG included) received on its connection, since frames arrive in order: `book_age_ms` is the
time since then, `None` while unsynced; `stale_assets` lists unsynced books and those older than a bound.

Bad input (protocol notes are not a promise): every frame, event and REST body is checked whole before
anything of it is applied (MarketChannel's checks; engine.units' strict number parsers). A frame that is
not JSON, or not an object / array of objects, is counted in `stats.malformed` and skipped; so is an
event with any bad field, and a REST book that fails the checks (then refetched with backoff). Nothing
raises out of the frame handler, so bad input never costs the connection. Refusals are logged with the
field and what is accepted, rate-limited per (kind, field) (`RefusalLog`). A refused `price_change`,
`book` or `tick_size_change` for a synced book of ours resyncs it (it may have missed state); one that
names no book of ours changes nothing else.

Keepalive: the text `PING` every `ping_interval` s; no `PONG` for `pong_timeout` s (default three
intervals, the notes' 30 s) closes the socket as dead. Reconnects wait a jittered exponential backoff
drawn from `rng` (seeded in tests). `ReconnectingSocket` and `Backoff` are shared with the user channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from engine.clock import Clock
from engine.domain import Side
from engine.feeds.events import MarketClosed, MarketResolved, TickSizeChange
from engine.logs import log_event
from engine.units import MISSING, WireError, show_value, strict_px, strict_qty, strict_tick, strict_uint
from engine.venues.polymarket.market_channel import (
    ApplyResult,
    BookMessage,
    MarketChannel,
    check_best,
    check_side,
    optional_str,
    parse_frame,
)

LOG = logging.getLogger("bigearn.feeds.ws")

Data = str | bytes


# --- shared connection machinery -----------------------------------------------------------------


class Backoff:
    """Jittered exponential backoff: the n-th delay is uniform in [d/2, d], d = min(cap, initial * 2**n)."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = cap
        self.rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        d = min(self.cap, self.initial * (2**self.attempt))
        self.attempt += 1
        return d / 2 + self.rng.random() * d / 2

    def reset(self) -> None:
        self.attempt = 0


_INDEX = re.compile(r"\[\d+\]")


class RefusalLog:
    """Logs refused input (a WireError: field, value, what is accepted) without letting a flood of it fill
    the disk: the first refusal of each (kind, field) is logged at once, later ones at most once per
    `interval_ms` each, with the number not logged meanwhile. Indices are folded (`bids[7].size` and
    `bids[0].size` are one field) and at most `max_keys` fields are tracked; the rest share one slot.
    Counting is the caller's (its stats); this only decides what reaches the log."""

    def __init__(
        self,
        logger: logging.Logger,
        event: str,
        now_ms: Callable[[], int],
        *,
        interval_ms: int = 60_000,
        max_keys: int = 256,
        level: int = logging.WARNING,
    ) -> None:
        self._logger = logger
        self._event = event
        self._now_ms = now_ms
        self.interval_ms = interval_ms
        self.max_keys = max_keys
        self.level = level
        self._slots: dict[tuple[str, str], list[int]] = {}  # key -> [last logged at, not logged since]
        self.logged = 0

    def __call__(self, kind: str, exc: WireError, **fields: object) -> None:
        key = (kind, _INDEX.sub("[]", exc.field))
        now = self._now_ms()
        slot = self._slots.get(key)
        if slot is None and len(self._slots) >= self.max_keys:
            key = ("*", "*")
            slot = self._slots.get(key)
        if slot is None:
            self._slots[key] = [now, 0]
            suppressed = 0
        elif now - slot[0] >= self.interval_ms:
            suppressed = slot[1]
            slot[0], slot[1] = now, 0
        else:
            slot[1] += 1
            return
        self.logged += 1
        log_event(
            self._logger, self._event, self.level, kind=kind, field=exc.field, error=str(exc),
            suppressed=suppressed, **fields,
        )  # fmt: skip


class ReconnectingSocket:
    """One WebSocket kept open: connect, `on_open` (subscribe), frames to `on_frame`, text PING/PONG
    keepalive, and reconnect after any failure with backoff until `stop()`.

    `on_frame` may return an awaitable (it is awaited before the next frame is read). `on_down` runs
    after every connection ends, however it ended. `send_nowait` queues a text frame for the live
    connection, after the subscribe sent by `on_open`; with no connection it returns False (the next
    `on_open` subscribes to the current state anyway)."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        on_open: Callable[[ClientConnection], Awaitable[None]],
        on_frame: Callable[[Data], Awaitable[None] | None],
        on_down: Callable[[], None],
        on_pong: Callable[[], None] | None = None,
        ping_interval: float = 10.0,
        pong_timeout: float | None = None,
        backoff: Backoff | None = None,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self._on_open = on_open
        self._on_frame = on_frame
        self._on_down = on_down
        self._on_pong = on_pong
        self.ping_interval = ping_interval
        self.pong_timeout = 3 * ping_interval if pong_timeout is None else pong_timeout
        self.backoff = backoff or Backoff()
        # Keepalive is ours (text PING), so the library's protocol pings are off; books can be large.
        self._connect_kwargs: dict[str, Any] = {
            "ping_interval": None,
            "close_timeout": 2.0,
            "max_size": 64 * 2**20,
        }
        self._connect_kwargs.update(connect_kwargs or {})
        self.connects = 0
        self.ping_timeouts = 0
        self.errors = 0
        self.connected = False
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[str] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._last_pong = 0.0

    def send_nowait(self, text: str) -> bool:
        if self._outbox is None:
            return False
        self._outbox.put_nowait(text)
        return True

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with connect(self.url, **self._connect_kwargs) as ws:
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, handshake, abnormal close, a frame we could not handle
                self.errors += 1
                log_event(
                    LOG, "ws_error", logging.WARNING, socket=self.name, error=f"{type(exc).__name__}: {exc}"
                )
            if self._stopping:
                break
            delay = self.backoff.next_delay()
            log_event(LOG, "ws_reconnect_wait", logging.INFO, socket=self.name, delay_s=round(delay, 3))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _session(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        self._ws = ws
        self._outbox = asyncio.Queue()
        self.connected = True
        self.connects += 1
        self._last_pong = loop.time()
        log_event(LOG, "ws_connected", logging.INFO, socket=self.name, connects=self.connects)
        helpers: list[asyncio.Task[None]] = []
        try:
            if self._stopping:  # stop() arrived during the handshake
                return
            await self._on_open(ws)
            helpers.append(asyncio.create_task(self._writer(ws, self._outbox)))
            helpers.append(asyncio.create_task(self._pinger(ws)))
            proven = False
            async for raw in ws:
                if raw == "PONG":
                    self._last_pong = loop.time()
                    if self._on_pong is not None:
                        self._on_pong()
                    continue
                if not proven:  # the server talks to us: the next failure starts the backoff afresh
                    proven = True
                    self.backoff.reset()
                pending = self._on_frame(raw)
                if pending is not None:
                    await pending
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._ws = None
            self._outbox = None
            self.connected = False
            log_event(LOG, "ws_down", logging.INFO, socket=self.name)
            self._on_down()

    async def _writer(self, ws: ClientConnection, outbox: asyncio.Queue[str]) -> None:
        while True:
            await ws.send(await outbox.get())

    async def _pinger(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval)
            if loop.time() - self._last_pong > self.pong_timeout:
                self.ping_timeouts += 1
                log_event(
                    LOG, "ws_pong_timeout", logging.WARNING, socket=self.name, timeout_s=self.pong_timeout
                )
                await ws.close(1001, "pong timeout")
                return
            await ws.send("PING")


# --- events forwarded to the sink ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastTrade:
    """A trade on the exchange (`last_trade_price`); price in the traded token's own terms."""

    condition_id: str
    asset_id: str
    ts: int
    price: int
    size: int
    side: Side  # the taker's side
    fee_rate_bps: int


@dataclass(frozen=True, slots=True)
class BestBidAsk:
    """The exchange's top of book for one token (`best_bid_ask`, custom feature); None = empty side."""

    condition_id: str
    asset_id: str
    ts: int
    best_bid: int | None
    best_ask: int | None


@dataclass(frozen=True, slots=True)
class NewMarket:
    condition_id: str
    ts: int
    question: str
    slug: str
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    tick: int | None
    raw: dict = field(compare=False, repr=False)


@dataclass(slots=True)
class StreamStats:
    """Counters for the status bar; `stats` hands out a copy."""

    frames: int = 0
    messages: int = 0
    connects: int = 0
    reconnects: int = 0
    ping_timeouts: int = 0
    resyncs: int = 0  # REST snapshots applied
    gaps: int = 0  # books found out of sync (regression, top mismatch, missing snapshot, bad event)
    duplicates: int = 0  # re-delivered events dropped
    dropped: int = 0  # deltas for a book awaiting its snapshot after a (re)subscribe
    errors: int = 0  # connection failures and events that could not be handled
    malformed: int = 0  # frames, events and REST books refused by validation (nothing of them applied)
    connections: int = 0  # live now
    shards: int = 0
    unsynced: int = 0  # subscribed books without a trusted state now


# --- the stream ----------------------------------------------------------------------------------

_AWAIT = 0  # subscribed, waiting for the connection's `book` snapshot
_SYNCED = 1
_RESYNC = 2  # gap found: REST snapshot requested, deltas buffered

_SEEN_WINDOW = 256  # recent events remembered per book to recognise re-deliveries
_MAX_BUFFER = 20_000


class _Shard:
    __slots__ = ("index", "assets", "socket", "task", "alive_ms", "generation")

    def __init__(self, index: int) -> None:
        self.index = index
        self.assets: dict[str, None] = {}  # insertion-ordered set
        self.socket: ReconnectingSocket | None = None
        self.task: asyncio.Task[None] | None = None
        self.alive_ms = 0  # clock time of the last frame received
        self.generation = 0  # connections opened so far


@dataclass(slots=True, eq=False)
class _BookState:
    condition_id: str
    assets: dict[str, None]  # subscribed tokens of this market
    tokens: list[str]  # every routed token of the book, YES first
    shard: _Shard
    mode: int = _AWAIT
    last_ts: int = 0
    # Events applied recently, in two generations so that forgetting the oldest is one swap.
    seen: set[object] = field(default_factory=set)
    seen_old: set[object] = field(default_factory=set)
    buffer: list[tuple[int, dict]] = field(default_factory=list)  # (timestamp, checked price_change)
    epoch: int = 0  # bumped whenever an outstanding REST resync becomes obsolete
    updated_ms: int = 0
    tick: int | None = None
    tick_ts: int = 0
    last_fetch: float = float("-inf")
    refused: int = 0  # unreadable events for this book while it was resyncing


# Refused events of these kinds carry book state (levels, tick): the book may have missed something.
_BOOK_STATE_KINDS = frozenset({"price_change", "book", "tick_size_change"})
_ORJSON_DEPTH = "JSON nested at most 254 levels deep"


def _fingerprint(event: dict) -> bytes:
    """A re-delivery parses to the same dict, in the same key order, so it serialises to the same bytes."""
    try:
        return orjson.dumps(event)
    except orjson.JSONEncodeError as exc:  # parsed JSON serialises unless nested beyond orjson's limit
        raise WireError("event", "(nested too deep)", _ORJSON_DEPTH) from exc


def _ts(event: dict, *, required: bool = True) -> int:
    value = event.get("timestamp", MISSING)
    if not required and value in (MISSING, None, ""):
        return 0  # informational events: an absent time is no reason to drop them
    return strict_uint(value, "timestamp")


def _uint_or_zero(event: dict, key: str) -> int:
    value = event.get(key)
    return 0 if value is None or value == "" else strict_uint(value, key)


def _str_list(event: dict, key: str) -> tuple[str, ...]:
    value = event.get(key)
    if value is None:
        return ()
    if type(value) is list and all(type(v) is str for v in value):
        return tuple(value)
    raise WireError(key, value, "a list of strings")


class MarketStream:
    """Polymarket market channel: sharded, self-healing book feed. See the module docstring."""

    def __init__(
        self,
        url: str,
        channel: MarketChannel,
        *,
        fetch_book: Callable[[str], Awaitable[object]],
        clock: Clock,
        on_event: Callable[[object], None] | None = None,
        ping_interval: float = 10.0,
        pong_timeout: float | None = None,
        max_assets_per_conn: int = 200,
        rng: random.Random | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        snapshot_timeout: float = 10.0,
        min_resync_interval: float = 1.0,
        custom_features: bool = True,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if max_assets_per_conn < 2:
            raise ValueError(
                "max_assets_per_conn must be at least 2 (both tokens of a market share a connection)"
            )
        self.url = url
        self.channel = channel
        self._fetch_book = fetch_book
        self._clock = clock
        self._on_event = on_event
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.max_assets_per_conn = max_assets_per_conn
        self._rng = rng or random.Random()
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self.snapshot_timeout = snapshot_timeout
        self.min_resync_interval = min_resync_interval
        self.custom_features = custom_features
        self._connect_kwargs = connect_kwargs
        self._stats = StreamStats()
        self._refusals = RefusalLog(LOG, "ws_refused", clock.now_ms)
        self._shards: list[_Shard] = []
        self._books: dict[str, _BookState] = {}  # condition id -> state
        self._asset_book: dict[str, _BookState] = {}  # subscribed asset -> state
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._closing = False
        self._closed: asyncio.Event | None = None
        self._next_shard = 0
        self._retired: list[_Shard] = []  # emptied shards whose connection is still closing
        self._retired_errors = 0
        self._retired_ping_timeouts = 0

    # --- subscriptions ---------------------------------------------------------------------------
    @property
    def assets(self) -> list[str]:
        return list(self._asset_book)

    def add_assets(self, assets: Iterable[str]) -> None:
        """Subscribe tokens (both tokens of a market go to one connection). Takes effect at once on a
        live connection; before `run()` they are part of the first subscribe."""
        routes = self.channel.routes
        by_condition: dict[str, list[str]] = {}
        for asset in assets:
            if asset in self._asset_book:
                continue
            route = routes.get(asset)
            if route is None:
                raise ValueError(
                    f"asset {asset}: no route in the MarketChannel; call channel.add_market first"
                )
            group = by_condition.setdefault(route.condition_id, [])
            if asset not in group:
                group.append(asset)
        if not by_condition:
            return
        tokens = self._tokens_by_condition(by_condition)
        for condition_id, new in by_condition.items():
            state = self._books.get(condition_id)
            if state is not None and len(state.shard.assets) + len(new) > self.max_assets_per_conn:
                # No room beside the market's other token: move the whole market to a shard with room.
                moved = list(state.assets)
                state.epoch += 1  # a resync in flight belongs to the old placement
                self._unsubscribe(state.shard, moved)
                for asset in moved:
                    del self._asset_book[asset]
                del self._books[condition_id]
                new = moved + new
                state = None
            if state is None:
                shard = self._shard_with_room(len(new))
                state = _BookState(condition_id, {}, tokens[condition_id], shard)
                self._books[condition_id] = state
            for asset in new:
                state.assets[asset] = None
                self._asset_book[asset] = state
            self._subscribe(state.shard, new)

    def remove_assets(self, assets: Iterable[str]) -> None:
        by_shard: dict[int, tuple[_Shard, list[str]]] = {}
        for asset in assets:
            state = self._asset_book.pop(asset, None)
            if state is None:
                continue
            del state.assets[asset]
            shard = state.shard
            by_shard.setdefault(shard.index, (shard, []))[1].append(asset)
            if not state.assets:
                state.epoch += 1  # any REST resync in flight is for a book nobody wants now
                del self._books[state.condition_id]
        for shard, removed in by_shard.values():
            self._unsubscribe(shard, removed)

    def _tokens_by_condition(self, wanted: dict[str, list[str]]) -> dict[str, list[str]]:
        tokens: dict[str, list[str]] = {c: [] for c in wanted}
        for asset, route in self.channel.routes.items():
            group = tokens.get(route.condition_id)
            if group is not None:
                if route.is_no:
                    group.append(asset)
                else:
                    group.insert(0, asset)
        return tokens

    def _shard_with_room(self, n: int) -> _Shard:
        for shard in self._shards:
            if len(shard.assets) + n <= self.max_assets_per_conn:
                return shard
        shard = _Shard(self._next_shard)
        self._next_shard += 1
        self._shards.append(shard)
        if self._running:
            self._start_shard(shard)
        return shard

    def _subscribe(self, shard: _Shard, assets: list[str]) -> None:
        for asset in assets:
            shard.assets[asset] = None
        sock = shard.socket
        if sock is None or not sock.connected:
            return  # the connection's first subscribe carries them
        msg: dict[str, object] = {"operation": "subscribe", "assets_ids": assets}
        if self.custom_features:
            msg["custom_feature_enabled"] = True
        sock.send_nowait(orjson.dumps(msg).decode())
        self._spawn(self._snapshot_watchdog(shard, shard.generation))

    def _unsubscribe(self, shard: _Shard, assets: list[str]) -> None:
        for asset in assets:
            shard.assets.pop(asset, None)
        sock = shard.socket
        if not shard.assets:
            self._shards.remove(shard)
            if sock is not None:
                self._retired_errors += sock.errors
                self._retired_ping_timeouts += sock.ping_timeouts
                self._retired.append(shard)
                self._spawn(sock.stop())
                if shard.task is not None:
                    shard.task.add_done_callback(lambda _t: self._retired.remove(shard))
            return
        if sock is not None and sock.connected:
            sock.send_nowait(orjson.dumps({"operation": "unsubscribe", "assets_ids": assets}).decode())

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect every shard and keep them connected until `close()`."""
        self._closed = asyncio.Event()
        self._running = True
        for shard in self._shards:
            self._start_shard(shard)
        try:
            await self._closed.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._running = False
        shards = self._shards + self._retired
        stops = [shard.socket.stop() for shard in shards if shard.socket is not None]
        await asyncio.gather(*stops, return_exceptions=True)
        helpers = list(self._tasks)  # resyncs and watchdogs: nothing left to do for them
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        sockets = [shard.task for shard in shards if shard.task is not None]
        if sockets:
            _, pending = await asyncio.wait(sockets, timeout=5.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._closed is not None:
            self._closed.set()

    def _start_shard(self, shard: _Shard) -> None:
        sock = ReconnectingSocket(
            self.url,
            name=f"market#{shard.index}",
            on_open=lambda ws: self._on_open(shard, ws),
            on_frame=lambda raw: self._on_frame(shard, raw),
            on_down=lambda: self._on_down(shard),
            on_pong=lambda: self._on_pong(shard),
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            backoff=Backoff(self._backoff_initial, self._backoff_max, random.Random(self._rng.random())),
            connect_kwargs=self._connect_kwargs,
        )
        shard.socket = sock
        shard.task = asyncio.create_task(sock.run(), name=f"market-ws-{shard.index}")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_open(self, shard: _Shard, ws: ClientConnection) -> None:
        shard.generation += 1
        self._stats.connects += 1
        if shard.generation > 1:
            self._stats.reconnects += 1
        for state in self._shard_books(shard):
            self._unsync(state, _AWAIT)
        msg: dict[str, object] = {"type": "market", "assets_ids": list(shard.assets), "initial_dump": True}
        if self.custom_features:
            msg["custom_feature_enabled"] = True
        await ws.send(orjson.dumps(msg).decode())
        self._spawn(self._snapshot_watchdog(shard, shard.generation))

    def _on_down(self, shard: _Shard) -> None:
        # Whatever happened while we were away is unknown: every book of the shard waits for a snapshot.
        for state in self._shard_books(shard):
            self._unsync(state, _AWAIT)

    def _on_pong(self, shard: _Shard) -> None:
        shard.alive_ms = self._clock.now_ms()

    def _shard_books(self, shard: _Shard) -> list[_BookState]:
        return [s for s in self._books.values() if s.shard is shard]

    def _unsync(self, state: _BookState, mode: int) -> None:
        state.mode = mode
        state.epoch += 1
        state.buffer = []

    async def _snapshot_watchdog(self, shard: _Shard, generation: int) -> None:
        await asyncio.sleep(self.snapshot_timeout)
        if shard.generation != generation or not (shard.socket and shard.socket.connected):
            return
        for state in self._shard_books(shard):
            if state.mode == _AWAIT:
                self._gap(state, "no snapshot after subscribe", None)

    # --- frames ----------------------------------------------------------------------------------
    def _on_frame(self, shard: _Shard, raw: Data) -> None:
        """Never raises: an unreadable frame or event is counted and skipped, the connection carries on."""
        now = self._clock.now_ms()
        shard.alive_ms = now
        stats = self._stats
        stats.frames += 1
        try:
            events, errors = parse_frame(raw)
        except WireError as exc:  # not JSON, or not an object / array: nothing in it can be attributed
            self._refuse("frame", exc, None)
            return
        for exc in errors:
            self._refuse("frame", exc, None)
        for event in events:
            stats.messages += 1
            self._handle(event, now)

    def _handle(self, event: dict, now: int) -> None:
        kind = event.get("event_type")
        try:
            if kind == "price_change":
                self._price_change(event, now)
            elif kind == "book":
                self._book(event, now)
            elif type(kind) is not str:
                raise WireError("event_type", kind if kind is not None else MISSING, "a string")
            else:
                self._on_event_dict(kind, event, now)
        except WireError as exc:
            self._refuse(kind if type(kind) is str else "event", exc, event)
        except Exception as exc:  # not bad input (checked above) but a failure here: a bug, or the sink
            self._failed(event, exc)

    def _refuse(self, kind: str, exc: WireError, event: dict | None) -> None:
        """Count and log a refused frame or event; resync its book only if the book may have missed state
        through it (an unreadable delta, snapshot or tick change for a book of ours)."""
        self._stats.malformed += 1
        try:
            self._refusals(kind, exc)
            state = self._state_for(event) if event is not None and kind in _BOOK_STATE_KINDS else None
            if state is None:
                return  # nothing of ours named (or not book state): no book missed anything through it
            if state.mode == _RESYNC:
                state.refused += 1  # the snapshot on its way may predate this event: fetch another
            elif state.mode == _SYNCED or kind == "book":
                # (awaiting its first snapshot, a book drops deltas anyway; the snapshot itself is not)
                self._gap(state, f"unreadable {kind}", None)
        except Exception as inner:  # the error path must not raise out of the frame handler either
            self._stats.errors += 1
            log_event(LOG, "ws_refusal_failed", logging.ERROR, error=f"{type(inner).__name__}: {inner}")

    def _failed(self, event: dict, exc: Exception) -> None:
        self._stats.errors += 1
        try:
            log_event(
                LOG, "ws_event_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}",
                event_type=show_value(event.get("event_type")),
            )  # fmt: skip
            state = self._state_for(event)
            if state is not None and state.mode == _SYNCED:
                self._gap(state, "event failed", None)  # never guess what a failure did to a book
        except Exception as inner:
            log_event(LOG, "ws_error_path_failed", logging.ERROR, error=f"{type(inner).__name__}: {inner}")

    def _on_event_dict(self, kind: str, event: dict, now: int) -> None:
        """Events other than `book` / `price_change`, checked whole before anything is emitted."""
        if kind == "tick_size_change":
            self._tick_size_change(event)
        elif kind == "last_trade_price":
            self._emit(
                LastTrade(
                    condition_id=optional_str(event, "market") or "",
                    asset_id=optional_str(event, "asset_id") or "",
                    ts=_ts(event, required=False),
                    price=strict_px(event.get("price", MISSING), "price"),
                    size=strict_qty(event.get("size", MISSING), "size", positive=True),
                    side=Side.BUY if check_side(event, "side") else Side.SELL,
                    fee_rate_bps=_uint_or_zero(event, "fee_rate_bps"),
                )
            )
        elif kind == "best_bid_ask":
            bid, ask = check_best(event)
            self._emit(
                BestBidAsk(
                    condition_id=optional_str(event, "market") or "",
                    asset_id=optional_str(event, "asset_id") or "",
                    ts=_ts(event, required=False),
                    best_bid=bid if isinstance(bid, int) else None,  # absent (ANY) or empty: None
                    best_ask=ask if isinstance(ask, int) else None,
                )
            )
        elif kind == "new_market":
            tick = event.get("order_price_min_tick_size")
            self._emit(
                NewMarket(
                    condition_id=optional_str(event, "market") or optional_str(event, "condition_id") or "",
                    ts=_ts(event, required=False),
                    question=optional_str(event, "question") or "",
                    slug=optional_str(event, "slug") or "",
                    asset_ids=_str_list(event, "assets_ids") or _str_list(event, "clob_token_ids"),
                    outcomes=_str_list(event, "outcomes"),
                    tick=strict_tick(tick, "order_price_min_tick_size") if tick not in (None, "") else None,
                    raw=event,
                )
            )
        elif kind == "market_resolved":
            market = optional_str(event, "market") or ""
            ts = _ts(event, required=False)
            optional_str(event, "winning_asset_id")
            optional_str(event, "winning_outcome")
            _str_list(event, "assets_ids")
            payout = self._yes_payout(event)
            if payout is None:
                # No winner named (a 50/50 or a malformed event): paying NO by default would be a money bug.
                # Trading has stopped, so say that much; the payout is left to the venue's REST status check.
                log_event(LOG, "market_resolved_without_winner", logging.WARNING, market=market)
                self._emit(MarketClosed(market, ts))
                return
            self._emit(MarketResolved(condition_id=market, ts=ts, yes_payout=payout))

    def _yes_payout(self, event: dict) -> Decimal | None:
        """1 if YES won, 0 if NO won, None if the event names no winner we can place."""
        winner = event.get("winning_asset_id") or ""
        route = self.channel.routes.get(winner) if type(winner) is str else None
        if route is not None:
            return Decimal(0) if route.is_no else Decimal(1)
        assets = event.get("assets_ids") or ()
        if winner and type(assets) is list and len(assets) == 2 and winner in assets:
            return Decimal(1) if winner == assets[0] else Decimal(0)
        outcome = str(event.get("winning_outcome", "")).lower()
        if outcome in ("yes", "up"):
            return Decimal(1)
        if outcome in ("no", "down"):
            return Decimal(0)
        return None

    def _emit(self, event: object) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _state_for(self, event: dict) -> _BookState | None:
        """The book an event is about, read defensively: this also runs for events that failed checks."""
        market = event.get("market")
        if type(market) is str:
            state = self._books.get(market)
            if state is not None:
                return state
        asset = event.get("asset_id")
        if type(asset) is str:
            return self._asset_book.get(asset)
        changes = event.get("price_changes")
        if type(changes) is list:
            for entry in changes:
                asset = entry.get("asset_id") if type(entry) is dict else None
                if type(asset) is str and asset in self._asset_book:
                    return self._asset_book[asset]
        return None

    def _remember(self, state: _BookState, fp: object) -> None:
        seen = state.seen
        seen.add(fp)
        if len(seen) >= _SEEN_WINDOW:
            state.seen_old = seen
            state.seen = set()

    def _price_change(self, event: dict, now: int) -> None:
        # Checked whole first: a bad field refuses the event before the buffer, the dedup memory or
        # the book sees it.
        change = self.channel.check_price_change(event)
        fp = _fingerprint(event)
        state = self._state_for(event)
        if state is None:
            return
        ts = change[0]
        mode = state.mode
        if mode != _SYNCED:
            if mode == _RESYNC:
                if len(state.buffer) >= _MAX_BUFFER:
                    self._gap(state, "resync buffer full", (ts, event))
                else:
                    state.buffer.append((ts, event))
            else:
                self._stats.dropped += 1
            return
        if ts <= state.last_ts:
            if fp in state.seen or fp in state.seen_old:
                self._stats.duplicates += 1
                return
            if ts < state.last_ts:
                self._gap(state, "timestamp regression", (ts, event))
                return
        self._remember(state, fp)
        state.last_ts = ts
        result = ApplyResult()
        self.channel.apply_price_change(change, result)
        state.updated_ms = now
        if result.gaps:
            self._gap(state, "best bid/ask mismatch or crossed book", (ts, event))

    def _book(self, event: dict, now: int) -> None:
        msg = self.channel.check_book(event)
        state = self._asset_book.get(msg.asset_id)
        if state is None:
            return
        ts = msg.ts
        fp = ("book", msg.asset_id, ts, msg.hash or _fingerprint(event))
        if state.mode != _AWAIT and ts <= state.last_ts:
            if fp in state.seen or fp in state.seen_old:
                self._stats.duplicates += 1
                return
            if ts < state.last_ts:
                if state.mode == _SYNCED:
                    self._gap(state, "timestamp regression", None)
                return
        self._apply_snapshot(state, msg, fp, now, forget=False)

    def _apply_snapshot(
        self, state: _BookState, msg: BookMessage, fp: object, now: int, *, forget: bool
    ) -> None:
        """`forget` drops the memory of applied events: after a REST snapshot, buffered deltas at its
        timestamp must be replayed even if they were applied to the book the snapshot replaced. An
        in-stream snapshot comes after everything remembered, so a re-delivery of any of it is a duplicate."""
        self.channel.apply_book(msg, ApplyResult())
        ts = msg.ts
        routes = self.channel.routes
        for token in state.tokens:  # the snapshot replaced the unified book for both tokens
            route = routes.get(token)
            if route is not None:
                route.last_ts = ts
        state.last_ts = ts
        if forget:
            state.seen = set()
            state.seen_old = set()
        self._remember(state, fp)
        state.mode = _SYNCED
        state.epoch += 1
        state.buffer = []
        state.updated_ms = now
        if msg.tick is not None:
            self._set_tick(state, msg.tick, ts)

    def _tick_size_change(self, event: dict) -> None:
        tick = strict_tick(event.get("new_tick_size", MISSING), "new_tick_size")
        ts = _ts(event)
        optional_str(event, "market")
        optional_str(event, "asset_id")
        state = self._state_for(event)
        if state is not None:
            self._set_tick(state, tick, ts)

    def _set_tick(self, state: _BookState, tick: int, ts: int) -> None:
        if ts < state.tick_ts:
            return  # an older tick change re-delivered after a newer one
        old, state.tick, state.tick_ts = state.tick, tick, ts
        if old is not None and old != tick:
            log_event(LOG, "tick_size_change", logging.INFO, market=state.condition_id, old=old, new=tick)
            self._emit(TickSizeChange(state.condition_id, ts, old, tick))

    # --- resync ----------------------------------------------------------------------------------
    def _gap(self, state: _BookState, reason: str, delta: tuple[int, dict] | None) -> None:
        self._stats.gaps += 1
        log_event(LOG, "book_gap", logging.WARNING, market=state.condition_id, reason=reason)
        self._unsync(state, _RESYNC)
        state.refused = 0
        if delta is not None:  # replayed on the snapshot if it is not older than it
            state.buffer.append(delta)
        if not self._closing:
            self._spawn(self._resync(state, state.epoch))

    def check_rest_book(self, data: object, token: str) -> BookMessage:
        """A REST `/book` body, checked like a `book` event; it must be the book that was asked for."""
        if type(data) is not dict:
            raise WireError("book", data, "a JSON object")
        asset = data.get("asset_id")
        if asset is None:
            data = {**data, "asset_id": token}
        elif asset != token:
            raise WireError("asset_id", asset, f"the token asked for, {token!r}")
        return self.channel.check_book(data)

    async def _resync(self, state: _BookState, epoch: int) -> None:
        """REST snapshot until one is applied or no longer wanted. Nothing raises out of here: a failed
        fetch, an unreadable body or a failure applying it is logged, counted and retried with backoff."""
        loop = asyncio.get_running_loop()
        token = next((t for t in state.tokens if t in state.assets), state.tokens[0])
        backoff = Backoff(self._backoff_initial, self._backoff_max, random.Random(self._rng.random()))
        while state.epoch == epoch and not self._closing:
            wait = state.last_fetch + self.min_resync_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                if state.epoch != epoch or self._closing:
                    return
            state.last_fetch = loop.time()
            refused = state.refused
            try:
                data = await self._fetch_book(token)
            except WireError as exc:  # the fetcher could not even decode the body
                self._stats.malformed += 1
                self._refusals("rest_book", exc, market=state.condition_id)
                await asyncio.sleep(backoff.next_delay())
                continue
            except Exception as exc:
                self._stats.errors += 1
                log_event(
                    LOG,
                    "book_fetch_failed",
                    logging.WARNING,
                    market=state.condition_id,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await asyncio.sleep(backoff.next_delay())
                continue
            if state.epoch != epoch or self._closing:
                return  # a WebSocket snapshot won the race, or the book was dropped
            try:
                msg = self.check_rest_book(data, token)
            except WireError as exc:
                self._stats.malformed += 1
                self._refusals("rest_book", exc, market=state.condition_id)
                await asyncio.sleep(backoff.next_delay())
                continue
            if state.refused != refused:
                log_event(LOG, "book_resync_superseded", logging.INFO, market=state.condition_id)
                continue  # an unreadable event arrived while this snapshot was on its way
            try:
                self._apply_rest_snapshot(state, msg)
            except Exception as exc:
                self._stats.errors += 1
                log_event(
                    LOG, "book_resync_failed", logging.ERROR, market=state.condition_id,
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
                if state.epoch != epoch:
                    return  # the snapshot went in and the failure came after it, or a newer resync owns the book
                await asyncio.sleep(backoff.next_delay())
                continue
            return

    def _apply_rest_snapshot(self, state: _BookState, msg: BookMessage) -> None:
        ts = msg.ts
        buffered = state.buffer
        now = self._clock.now_ms()
        self._stats.resyncs += 1
        self._apply_snapshot(state, msg, ("rest", ts, msg.hash), now, forget=True)
        log_event(
            LOG, "book_resynced", logging.INFO, market=state.condition_id, ts=ts, replayed=len(buffered)
        )
        for delta_ts, delta in buffered:
            if state.mode != _SYNCED:
                break  # the replay itself found a gap: a new resync is under way
            if delta_ts >= ts:
                self._handle(delta, now)

    # --- what the rest of the engine reads --------------------------------------------------------
    def is_synced(self, asset: str) -> bool:
        state = self._asset_book.get(asset)
        return state is not None and state.mode == _SYNCED

    def book_age_ms(self, asset: str, now_ms: int | None = None) -> int | None:
        """Milliseconds since the asset's book was last known current; None if not synced."""
        state = self._asset_book.get(asset)
        if state is None or state.mode != _SYNCED:
            return None
        now = self._clock.now_ms() if now_ms is None else now_ms
        return max(0, now - max(state.updated_ms, state.shard.alive_ms))

    def stale_assets(self, now_ms: int | None, max_age_ms: int) -> list[str]:
        """Subscribed assets whose book is unsynced or older than `max_age_ms`."""
        now = self._clock.now_ms() if now_ms is None else now_ms
        out = []
        for asset in self._asset_book:
            age = self.book_age_ms(asset, now)
            if age is None or age > max_age_ms:
                out.append(asset)
        return out

    def tick(self, asset: str) -> int | None:
        """The market's tick in price units, as last reported by a snapshot or `tick_size_change`."""
        state = self._asset_book.get(asset)
        return None if state is None else state.tick

    def shard_assets(self) -> list[list[str]]:
        """Assets per connection, in shard order."""
        return [list(shard.assets) for shard in self._shards]

    @property
    def stats(self) -> StreamStats:
        copy = StreamStats(**{f.name: getattr(self._stats, f.name) for f in fields(StreamStats)})
        copy.connections = sum(1 for s in self._shards if s.socket is not None and s.socket.connected)
        copy.shards = len(self._shards)
        copy.unsynced = sum(1 for s in self._books.values() if s.mode != _SYNCED)
        sockets = [s.socket for s in self._shards if s.socket is not None]
        copy.ping_timeouts = self._retired_ping_timeouts + sum(sock.ping_timeouts for sock in sockets)
        copy.errors += self._retired_errors + sum(sock.errors for sock in sockets)
        return copy


__all__ = [
    "Backoff",
    "BestBidAsk",
    "LastTrade",
    "MarketStream",
    "NewMarket",
    "ReconnectingSocket",
    "RefusalLog",
    "StreamStats",
]
