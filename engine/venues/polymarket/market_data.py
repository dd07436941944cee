"""Live Polymarket books as engine market events, in YES terms, in order.

    data = PolymarketMarketData(markets, clob_url=..., market_ws_url=..., clock=WallClock())
    task = asyncio.create_task(data.run(on_event))   # async on_event(MarketEvent), awaited in order
    data.stale_markets(clock.now_ms())               # what must not be traded now
    await data.close()

The WebSocket work is `engine.venues.polymarket.market_ws.MarketStream` (sharded connections, PING/PONG,
reconnects, gap detection, REST resyncs with buffered deltas). This module registers both tokens of
every market with its `MarketChannel`, fetches `GET /book` for its resyncs, and turns every change the
channel applies into an engine event: a `BookSnapshot` after every snapshot (subscribe, reconnect,
resync), `BookDeltas` (absolute sizes, read back from the book) after every `price_change`, a
`TickSizeChange` whenever the tick differs from the one last reported (the discovered tick included),
and `MarketClosed` / `MarketResolved` when the exchange says so. A `price_change` that failed the
consistency check is not forwarded: the book is in doubt and the resync's snapshot follows.

What the protocol cannot see, two slow loops cover (both `GET` only, spread over the interval):
- Audit: a dropped change to a level away from the touch leaves every later best bid/ask intact, so the
  stream cannot notice it. Each market's REST book is compared with ours every `audit_interval_s`; a
  level that differs on two audits running while the exchange's size there did not change is not in
  flight but lost, and the market is resubscribed (a fresh snapshot replaces the book). A REST body that
  fails the stream's checks (`MarketStream.check_rest_book`: an object with valid levels, uncrossed, a
  valid timestamp, the token asked for) is compared with nothing: it is counted (`stats.malformed`),
  logged with the field, and the next round asks again.
- Status: the market channel has no "closed" event and `market_resolved` is an optional feature, so
  `GET /markets/{condition_id}` is polled every `status_interval_s`: `accepting_orders` false or
  `closed` -> MarketClosed; closed with a winning token -> MarketResolved.

A `market_resolved` message closes the market at once, but its payout is taken from that same CLOB
market (`tokens[].winner`, asked at once and again with backoff until the CLOB shows it): the stream's
reading of the message cannot tell a NO win from a resolution without a winner (50/50), and settling at
a guessed payout is worse than not settling. A market closed without a single winner is not resolved
here; it is logged for the operator.

Event timestamps are our clock's receive time, not the exchange's: the engine's timers and warm-up run
on its own clock, and a snapshot's exchange timestamp is the book's last change, which can be hours old.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson

from engine.book import Delta, OrderBook
from engine.clock import Clock
from engine.domain import Market
from engine.feeds.events import (
    BookDeltas,
    BookSnapshot,
    MarketClosed,
    MarketEvent,
    MarketResolved,
    TickSizeChange,
)
from engine.logs import log_event
from engine.units import WireError
from engine.venues.polymarket.market_channel import ApplyResult, BookMessage, MarketChannel, PriceChange
from engine.venues.polymarket.market_ws import MarketStream, RefusalLog

LOG = logging.getLogger("bigearn.venues.polymarket.market_data")

_STOP = object()
RESOLUTION_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class MarketDataStats:
    """For the status bar."""

    messages_per_s: float
    messages: int
    connections: int
    reconnects: int
    resyncs: int  # REST snapshots applied by the stream
    resubscribes: int  # books the audit found silently wrong
    gaps: int
    duplicates: int
    unsynced: int
    oldest_book_age_ms: int | None  # over synced books; None when none is synced
    malformed: int = 0  # frames, events and REST books refused by validation (stream and audit)


class _EventChannel(MarketChannel):
    """A MarketChannel that reports each change it applies, as engine events in YES terms. It hooks the
    apply step, which only ever sees checked events: a refused event reports nothing."""

    def __init__(
        self,
        on_snapshot: Callable[[str, OrderBook, BookMessage], None],
        emit: Callable[[MarketEvent], None],
        now: Callable[[], int],
    ) -> None:
        super().__init__()
        self._on_snapshot = on_snapshot
        self._emit = emit
        self._now = now

    def apply_book(self, msg: BookMessage, result: ApplyResult) -> None:
        super().apply_book(msg, result)
        route = msg.route
        if route is not None:
            self._on_snapshot(route.condition_id, route.book, msg)

    def apply_price_change(self, change: PriceChange, result: ApplyResult) -> None:
        gaps = len(result.gaps)
        super().apply_price_change(change, result)
        if len(result.gaps) != gaps:
            return  # the book is in doubt: the resync's snapshot follows
        # Levels (YES terms) the change names, per market, in order; the two mirrored entries of one
        # change name the same level.
        touched: dict[str, tuple[OrderBook, dict[tuple[bool, int], None]]] = {}
        for route, px, _qty, is_bid, _dup, _want, _asset in change[1]:
            if route is not None:
                touched.setdefault(route.condition_id, (route.book, {}))[1][(is_bid, px)] = None
        if not touched:
            return
        now = self._now()
        for cid, (book, keys) in touched.items():
            deltas: list[Delta] = [
                (is_bid, px, book.bid_size(px) if is_bid else book.ask_size(px)) for is_bid, px in keys
            ]
            self._emit(BookDeltas(cid, now, deltas))


class PolymarketMarketData:
    """Live books for a fixed list of markets. See the module docstring."""

    def __init__(
        self,
        markets: Sequence[Market],
        *,
        clob_url: str,
        market_ws_url: str,
        clock: Clock,
        http: httpx.AsyncClient | None = None,
        stale_after_ms: int = 30_000,
        ping_interval: float = 10.0,
        rng: random.Random | None = None,
        pong_timeout: float | None = None,
        snapshot_timeout: float = 10.0,
        min_resync_interval: float = 1.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        audit_interval_s: float = 10.0,
        status_interval_s: float = 60.0,
        max_assets_per_conn: int = 200,
        http_timeout_s: float = 10.0,
    ) -> None:
        self.markets: dict[str, Market] = {m.condition_id: m for m in markets}
        if len(self.markets) != len(markets):
            raise ValueError("markets: a condition id is listed twice")
        self.clob_url = clob_url.rstrip("/")
        self.stale_after_ms = stale_after_ms
        self.audit_interval_s = audit_interval_s
        self.status_interval_s = status_interval_s
        self._clock = clock
        self._own_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=http_timeout_s)
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ticks = {cid: m.tick for cid, m in self.markets.items()}
        self._closed_markets: set[str] = set()
        self._resolved: set[str] = set()
        self._suspect: dict[str, dict[tuple[bool, int], int]] = {}
        self._resubscribes = 0
        self._malformed = 0  # REST books the audit refused
        self._refusals = RefusalLog(LOG, "rest_book_refused", clock.now_ms)
        self._unclear: set[str] = set()  # closed with no single winner: reported once
        self._tasks: set[asyncio.Task[None]] = set()
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._rate_mark: tuple[int, int] = (clock.now_ms(), 0)
        self._rate = 0.0
        self._running = False
        self._closing = False
        self._http_closed = False
        self.channel = _EventChannel(self._snapshot_applied, self._emit, clock.now_ms)
        for m in self.markets.values():
            self.channel.add_market(m.condition_id, m.yes_token, m.no_token, OrderBook())
        self.stream = MarketStream(
            market_ws_url,
            self.channel,
            fetch_book=self._fetch_book,
            clock=clock,
            on_event=self._on_stream_event,
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            max_assets_per_conn=max_assets_per_conn,
            rng=rng,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            snapshot_timeout=snapshot_timeout,
            min_resync_interval=min_resync_interval,
        )
        self.stream.add_assets(tok for m in self.markets.values() for tok in (m.yes_token, m.no_token))

    # --- events ------------------------------------------------------------------------------------
    def _emit(self, event: MarketEvent) -> None:
        self._queue.put_nowait(event)

    def _snapshot_applied(self, cid: str, book: OrderBook, msg: BookMessage) -> None:
        self._emit(BookSnapshot(cid, self._clock.now_ms(), list(book.iter_bids()), list(book.iter_asks())))
        if msg.tick is not None:
            self._set_tick(cid, msg.tick)

    def _set_tick(self, cid: str, tick: int) -> None:
        old = self._ticks.get(cid)
        if old is not None and old != tick:
            self._ticks[cid] = tick
            self._emit(TickSizeChange(cid, self._clock.now_ms(), old, tick))

    def _on_stream_event(self, event: object) -> None:
        if isinstance(event, TickSizeChange):
            if event.condition_id in self._ticks:
                self._set_tick(event.condition_id, event.new_tick)
        elif isinstance(event, MarketResolved | MarketClosed):  # closed: resolved with no winner named
            market = self.markets.get(event.condition_id)
            if market is not None and market.condition_id not in self._resolved:
                self._close_market(market.condition_id)
                self._spawn(self._confirm_resolution(market))

    def _close_market(self, cid: str) -> None:
        if cid in self.markets and cid not in self._closed_markets:
            self._closed_markets.add(cid)
            log_event(LOG, "market_closed", logging.INFO, market=cid)
            self._emit(MarketClosed(cid, self._clock.now_ms()))

    def _resolve(self, cid: str, yes_payout: Decimal) -> None:
        if cid not in self.markets or cid in self._resolved:
            return
        self._close_market(cid)
        self._resolved.add(cid)
        log_event(LOG, "market_resolved", logging.INFO, market=cid, yes_payout=str(yes_payout))
        self._emit(MarketResolved(cid, self._clock.now_ms(), yes_payout))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm_resolution(self, market: Market) -> None:
        delay = self._backoff_initial
        for _ in range(RESOLUTION_ATTEMPTS):
            try:
                await self._check_status(market)
            except Exception as exc:  # asked again after the delay
                log_event(
                    LOG, "resolution_check_failed", logging.WARNING, market=market.condition_id,
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
            if market.condition_id in self._resolved:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)
        log_event(LOG, "resolution_unconfirmed", logging.WARNING, market=market.condition_id)

    # --- REST ----------------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        resp = await self._http.get(self.clob_url + path, params=params)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {resp.status_code} {resp.text[:120]!r}")
        try:
            return orjson.loads(resp.content)
        except (
            orjson.JSONDecodeError
        ) as exc:  # a 200 with a body that is not JSON is bad input, not a failure
            raise WireError(f"GET {path} body", resp.content, "JSON") from exc

    async def _fetch_book(self, token_id: str) -> object:
        """The `/book` body as received: the stream checks it (`MarketStream.check_rest_book`) before use."""
        return await self._get("/book", {"token_id": token_id})

    # --- lifecycle ---------------------------------------------------------------------------------
    async def run(self, on_event: Callable[[MarketEvent], Awaitable[None]]) -> None:
        """Deliver events to `on_event` in order until `close()` or cancellation."""
        if self._running or self._closing:
            raise RuntimeError("PolymarketMarketData.run: already running or closed")
        self._running = True
        stream_task = asyncio.create_task(self.stream.run(), name="pm-market-stream")
        helpers = []
        if self.audit_interval_s > 0:
            helpers.append(
                asyncio.create_task(self._every(self.audit_interval_s, self._audit), name="pm-book-audit")
            )
        if self.status_interval_s > 0:
            helpers.append(
                asyncio.create_task(self._every(self.status_interval_s, self._check_status), name="pm-status")
            )
        try:
            while True:
                event = await self._queue.get()
                if event is _STOP:
                    return
                await on_event(event)  # type: ignore[arg-type]
        finally:
            helpers += self._tasks
            for task in helpers:
                task.cancel()
            await self.stream.close()
            await asyncio.gather(stream_task, *helpers, return_exceptions=True)
            await self._close_http()

    async def close(self) -> None:
        """Stop: `run()` returns after the event it is delivering, if any."""
        self._closing = True
        self._queue.put_nowait(_STOP)
        await self.stream.close()
        if not self._running:
            await self._close_http()

    async def _close_http(self) -> None:
        if self._own_http and not self._http_closed:
            self._http_closed = True
            await self._http.aclose()

    async def _every(self, interval_s: float, check: Callable[[Market], Awaitable[None]]) -> None:
        """Run `check` for each market in turn, spread evenly so that each comes once per interval."""
        markets = list(self.markets.values())
        if not markets:
            return
        pause = interval_s / len(markets)
        while True:
            for market in markets:
                await asyncio.sleep(pause)
                try:
                    await check(market)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a failed check is retried on the next round
                    log_event(
                        LOG, "market_check_failed", logging.DEBUG, market=market.condition_id,
                        check=check.__name__, error=f"{type(exc).__name__}: {exc}",
                    )  # fmt: skip

    async def _audit(self, market: Market) -> None:
        cid = market.condition_id
        if cid in self._resolved or not self.stream.is_synced(market.yes_token):
            self._suspect.pop(cid, None)
            return
        try:
            msg = self.stream.check_rest_book(await self._fetch_book(market.yes_token), market.yes_token)
        except WireError as exc:  # compared with nothing: the next round asks again
            self._malformed += 1
            self._refusals("rest_book_audit", exc, market=cid)
            return
        if not self.stream.is_synced(market.yes_token):
            return  # the stream found a gap meanwhile; its resync is under way
        book = self.channel.routes[market.yes_token].book
        rest: dict[tuple[bool, int], int] = {}
        for is_bid, levels in ((True, msg.bids), (False, msg.asks)):
            for px, qty in levels:
                rest[(is_bid, px)] = qty
        diff = {k: q for k, q in rest.items() if (book.bid_size(k[1]) if k[0] else book.ask_size(k[1])) != q}
        for is_bid, levels in ((True, book.bids), (False, book.asks)):
            for px in levels:
                if (is_bid, px) not in rest:
                    diff[(is_bid, px)] = 0
        before = self._suspect.pop(cid, {})
        lost = [k for k, q in diff.items() if before.get(k) == q]
        if lost:
            self._resubscribes += 1
            log_event(LOG, "book_audit_mismatch", logging.WARNING, market=cid, levels=len(lost))
            tokens = [market.yes_token, market.no_token]
            self.stream.remove_assets(tokens)
            self.stream.add_assets(tokens)
        elif diff:
            self._suspect[cid] = diff

    async def _check_status(self, market: Market) -> None:
        cid = market.condition_id
        if cid in self._resolved:
            return
        data = await self._get(f"/markets/{cid}")
        if not isinstance(data, dict):
            return
        closed = data.get("closed") is True
        if closed or data.get("accepting_orders") is False:
            self._close_market(cid)
        if closed:
            winners = [
                t.get("token_id")
                for t in data.get("tokens") or ()
                if isinstance(t, dict) and t.get("winner") is True
            ]
            if winners == [market.yes_token]:
                self._resolve(cid, Decimal(1))
            elif winners == [market.no_token]:
                self._resolve(cid, Decimal(0))
            elif cid not in self._unclear:
                self._unclear.add(cid)
                log_event(LOG, "resolution_without_winner", logging.WARNING, market=cid, winners=winners)

    # --- what the engine reads -----------------------------------------------------------------------
    def is_synced(self, condition_id: str) -> bool:
        market = self.markets.get(condition_id)
        return market is not None and self.stream.is_synced(market.yes_token)

    def stale_markets(self, now_ms: int) -> set[str]:
        """Markets whose book is unsynced or was last known current more than `stale_after_ms` ago."""
        out = set()
        for cid, market in self.markets.items():
            age = self.stream.book_age_ms(market.yes_token, now_ms)
            if age is None or age > self.stale_after_ms:
                out.add(cid)
        return out

    def tick(self, condition_id: str) -> int:
        """The market's tick as last reported (price units)."""
        return self._ticks[condition_id]

    def reconnects(self) -> int:
        """Market-socket reconnects since start."""
        return self.stream.stats.reconnects

    @property
    def stats(self) -> MarketDataStats:
        s = self.stream.stats
        now = self._clock.now_ms()
        mark_ts, mark_n = self._rate_mark
        if now - mark_ts >= 1000:
            self._rate = (s.messages - mark_n) * 1000 / (now - mark_ts)
            self._rate_mark = (now, s.messages)
        ages = [
            age
            for m in self.markets.values()
            if (age := self.stream.book_age_ms(m.yes_token, now)) is not None
        ]
        return MarketDataStats(
            messages_per_s=self._rate,
            messages=s.messages,
            connections=s.connections,
            reconnects=s.reconnects,
            resyncs=s.resyncs,
            resubscribes=self._resubscribes,
            gaps=s.gaps,
            duplicates=s.duplicates,
            unsynced=s.unsynced,
            oldest_book_age_ms=max(ages) if ages else None,
            malformed=s.malformed + self._malformed,
        )


__all__ = ["MarketDataStats", "PolymarketMarketData"]
