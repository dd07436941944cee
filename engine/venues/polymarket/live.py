"""The LIVE venue: real Polymarket market data, real orders through the official SDK, fills from the
user WebSocket.

    gateway = await OrderGateway.connect(load_credentials(...), GatewaySettings(...))
    venue = PolymarketLiveVenue(gateway=gateway, market_data=PolymarketMarketData(...), markets=markets,
                                clock=WallClock())
    await engine.run()        # engine calls venue.run(engine), submit, cancel, cancel_all
    await gateway.close()     # after the engine's shutdown cancel-all

Composition:
* market data: any object with `run(on_event)`, `close()` and `stale_markets(now_ms)`; its events go to
  the engine's `on_market`. `on_event` returns an awaitable that completes when the engine has taken the
  event, so a feed that awaits it gets backpressure and one that does not still works.
* orders: `OrderGateway` (signing, rate limits, retries, unknown-outcome resolution). `submit` never
  blocks the engine: the post runs in its own task and its outcome comes back as events.
* fills and order updates: `UserStream` (engine.feeds.polymarket_user_ws). A fill is reported to the
  engine (`OrderFilled`) when the trade is first seen (MATCHED: the exposure exists until told
  otherwise); CONFIRMED is recorded here (`fill_status`); FAILED sends `FillReversed`.
* heartbeats (the exchange's dead-man switch) every `heartbeat_interval_s`, only while `is_healthy()`
  (default: the user stream is connected): if this process stops or loses sight of its fills, the
  exchange cancels its orders ~10 s later.
* reconciliation at start: open orders and balances from REST, kept in `reconciliation`.

Event order to the engine is kept causal: an order's terminal event (cancelled, expired, the unfilled
rest of a FOK/FAK) is held until the fills the exchange reports for it have been delivered, because a
fill after a terminal state is not a legal transition. WebSocket order events that arrive while the post
is still in flight wait for its answer.

An order post whose outcome is unknown stays UNKNOWN here (`unknown_orders()`), is resolved by the
gateway and then, if still unknown, re-asked every `resolve_interval_s`; a PLACEMENT event on the user
channel also resolves it. The engine sees it SUBMITTED until the outcome is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from engine.clock import Clock
from engine.domain import FeeSchedule, Fill, Liquidity, Market, OrderRequest, Outcome
from engine.feeds.events import MarketEvent
from engine.feeds.polymarket_user_ws import OrderEvent, TradeFill, UserStream
from engine.logs import log_event
from engine.venues.base import (
    EventSink,
    FillReversed,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUnknown,
    VenueEvent,
    VenueState,
)
from engine.venues.polymarket.gateway import (
    GatewayEvent,
    OpenOrderInfo,
    OrderGateway,
    PlaceResult,
    PlaceStatus,
)

LOG = logging.getLogger("bigearn.venues.polymarket.live")

EXPIRED_STATUS = "CANCELED_EXPIRED_ORDER"


class MarketData(Protocol):
    def run(self, on_event: Callable[[MarketEvent], Any]) -> Awaitable[None]: ...

    def close(self) -> Any: ...

    def stale_markets(self, now_ms: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class LiveSettings:
    heartbeat_interval_s: float = 5.0
    resolve_interval_s: float = 5.0  # re-ask about orders still UNKNOWN after the gateway's resolution
    cancel_confirm_s: float = 3.0  # a cancel not confirmed on the user channel by then is looked up
    user_ping_interval_s: float = 10.0
    backfill_margin_s: int = 60
    # Share balances read at start (2 tokens per market); GET /balance-allowance allows 200 per 10 s.
    reconcile_max_tokens: int = 100
    cancel_foreign_orders: bool = False  # cancel open orders at start that this venue does not know
    drain_timeout_s: float = 15.0  # on stop: wait this long for posts in flight to get an answer


@dataclass(frozen=True, slots=True)
class Reconciliation:
    ts: int
    cash: int  # pUSD, 1e-6 units
    positions: dict[str, int]  # token id -> shares (1e-6), non-zero only
    open_orders: tuple[OpenOrderInfo, ...]
    foreign_orders: tuple[OpenOrderInfo, ...]  # open orders this venue did not place or adopt


@dataclass(slots=True)
class _Order:
    request: OrderRequest
    order_id: str = ""  # lower-case orderID once signed
    state: str = "SENDING"  # SENDING -> OPEN | UNKNOWN -> DONE
    accepted: bool = False  # OrderAccepted delivered
    terminal: bool = False  # a terminal event delivered (or queued)
    filled: int = 0  # shares delivered in OrderFilled, net of reversals
    cancel_requested: bool = False
    pending: tuple[VenueEvent, int] | None = None  # terminal event waiting for fills up to this size
    deferred: list[OrderEvent] = field(default_factory=list)  # channel events while the post is in flight
    fills: dict[tuple[str, str], Fill] = field(default_factory=dict)


_STOP = object()


class PolymarketLiveVenue:
    kind = "LIVE"

    def __init__(
        self,
        *,
        gateway: OrderGateway,
        market_data: MarketData,
        markets: Sequence[Market],
        clock: Clock,
        settings: LiveSettings | None = None,
        user_ws_url: str | None = None,
        is_healthy: Callable[[], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.gateway = gateway
        self.market_data = market_data
        self.clock = clock
        self.settings = settings or LiveSettings()
        self.user_ws_url = user_ws_url or gateway.settings.user_ws_url
        self._markets = {m.condition_id.lower(): m for m in markets}
        self._tokens = {t: m for m in markets for t in (m.yes_token, m.no_token)}
        self._is_healthy = is_healthy
        self._rng = rng or random.Random()
        self._orders: dict[str, _Order] = {}
        self._by_oid: dict[str, _Order] = {}
        self._fill_ids: dict[tuple[str, str], str] = {}  # (trade id, order id) -> fill id
        self._fill_keys: dict[str, tuple[str, str]] = {}
        self._fill_status: dict[str, str] = {}  # fill id -> PROVISIONAL | CONFIRMED | REVERSED
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._posts: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.user_stream: UserStream | None = None
        self.reconciliation: Reconciliation | None = None
        self.heartbeats = 0
        self.heartbeats_skipped = 0
        previous = gateway.on_event

        def observe(event: GatewayEvent) -> None:
            self._on_gateway_event(event)
            if previous is not None:
                previous(event)

        gateway.on_event = observe

    def __repr__(self) -> str:
        return f"PolymarketLiveVenue(gateway={self.gateway!r}, markets={len(self._markets)})"

    # --- the Venue protocol ----------------------------------------------------------------------

    def markets(self) -> list[Market]:
        return list(self._markets.values())

    def stale_markets(self, now_ms: int) -> Any:
        return self.market_data.stale_markets(now_ms)

    async def submit(self, request: OrderRequest) -> None:
        if request.client_order_id in self._orders:
            raise ValueError(f"order {request.client_order_id} was already submitted")
        order = _Order(request)
        self._orders[request.client_order_id] = order
        self._spawn(self._post(order), post=True)

    async def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is None:
            log_event(LOG, "cancel_unknown_order", logging.WARNING, client_order_id=client_order_id)
            return
        if order.terminal:
            return
        order.cancel_requested = True
        if order.state != "OPEN":
            return  # sent when the post's outcome is known
        # The engine calls this holding its lock: the request runs on its own, the outcome comes as events.
        self._spawn(self._cancel_open(order))

    async def cancel_all(self) -> None:
        for order in self._orders.values():
            if not order.terminal:
                order.cancel_requested = True
        result = await self.gateway.cancel_all()
        log_event(LOG, "cancel_all", canceled=len(result.canceled))
        for oid in result.canceled:
            order = self._by_oid.get(oid.lower())
            if order is not None:
                self._spawn(self._confirm_cancel(order))

    async def venue_state(self) -> VenueState:
        """Balances and open orders over REST (tokens we trade, plus any with an open order)."""
        rec = await self.reconcile()
        return VenueState(rec.ts, dict(rec.positions), frozenset(o.order_id.lower() for o in rec.open_orders))

    def stop(self) -> None:
        self._queue.put_nowait(_STOP)

    # --- what the venue knows --------------------------------------------------------------------

    def unknown_orders(self) -> list[str]:
        """Client order ids whose post has an unknown outcome."""
        return [coid for coid, o in self._orders.items() if o.state == "UNKNOWN"]

    def fill_status(self, trade_id: str) -> str | None:
        """CONFIRMED, PROVISIONAL or REVERSED for a fill id this venue reported (None if unknown)."""
        return self._fill_status.get(trade_id)

    def order_id_of(self, client_order_id: str) -> str | None:
        order = self._orders.get(client_order_id)
        return order.order_id if order is not None and order.order_id else None

    def adopt(self, request: OrderRequest, order_id: str, *, filled: int = 0) -> None:
        """Take over an order placed by an earlier run (the engine's store knows it): its events and
        fills are reported under `request.client_order_id` from now on."""
        order = _Order(request, order_id=order_id.lower(), state="OPEN", accepted=True, filled=filled)
        self._orders[request.client_order_id] = order
        self._by_oid[order.order_id] = order

    # --- run -------------------------------------------------------------------------------------

    async def run(self, sink: EventSink) -> None:
        self._closing = False
        started_s = self.clock.now_ms() // 1000
        try:
            await self.reconcile()
            creds = self.gateway.api_credentials
            self.user_stream = UserStream(
                self.user_ws_url,
                api_key=creds.key.reveal(),
                secret=creds.secret.reveal(),
                passphrase=creds.passphrase.reveal(),
                backfill_trades=self.gateway.trades_since,
                clock=self.clock,
                on_order=self._on_order_event,
                on_fill_provisional=self._on_fill,
                on_fill_confirmed=self._on_fill_confirmed,
                on_fill_reversed=self._on_fill_reversed,
                backfill_since_s=max(0, started_s - self.settings.backfill_margin_s),
                backfill_margin_s=self.settings.backfill_margin_s,
                ping_interval=self.settings.user_ping_interval_s,
                rng=random.Random(self._rng.random()),
            )
            self._spawn(self._guard("user stream", self.user_stream.run()))
            self._spawn(self._guard("market data", self.market_data.run(self._on_market_event)))
            self._spawn(self._heartbeats())
            await self._deliver(sink)
        finally:
            await self._shutdown()

    async def _guard(self, name: str, awaitable: Awaitable[None]) -> None:
        """A feed that ends or fails stops the venue: the engine then shuts down and cancels (fail closed)."""
        try:
            await awaitable
            if self._closing:
                return
            log_event(LOG, "feed_ended", logging.ERROR, feed=name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_event(LOG, "feed_failed", logging.ERROR, feed=name, error=f"{type(exc).__name__}: {exc}")
        self.stop()

    async def _deliver(self, sink: EventSink) -> None:
        queue = self._queue
        while True:
            item = await queue.get()
            if item is _STOP:
                return
            kind, event, done = item
            try:
                if kind == "market":
                    await sink.on_market(event)
                else:
                    await sink.on_venue(event)
            except Exception as exc:
                log_event(
                    LOG,
                    "sink_failed",
                    logging.ERROR,
                    event=type(event).__name__,
                    error=f"{type(exc).__name__}: {exc}",
                )
            finally:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _shutdown(self) -> None:
        self._closing = True
        posts = [t for t in self._posts if not t.done()]
        if posts:
            # Posts in flight must land (or be known not to) before the engine's closing cancel-all.
            await asyncio.wait(posts, timeout=self.settings.drain_timeout_s)
        if self.user_stream is not None:
            await self.user_stream.close()
        with contextlib.suppress(Exception):
            result = self.market_data.close()
            if inspect.isawaitable(result):
                await result
        others = [t for t in self._tasks if t not in self._posts and not t.done()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any], *, post: bool = False) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if post:
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)
        return task

    def _emit(self, event: VenueEvent) -> None:
        self._queue.put_nowait(("venue", event, None))

    def _on_market_event(self, event: MarketEvent) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(("market", event, done))
        return done

    # --- reconciliation and heartbeats -----------------------------------------------------------

    async def reconcile(self, tokens: Iterable[str] | None = None) -> Reconciliation:
        """Open orders and balances from REST. Share balances are read for `tokens` (default: every
        market's tokens, up to `reconcile_max_tokens`)."""
        gw = self.gateway
        open_orders = await gw.open_orders()
        cash = await gw.balance()
        wanted = list(tokens) if tokens is not None else list(self._tokens)
        for o in open_orders:
            if o.token_id not in wanted:
                wanted.append(o.token_id)
        if len(wanted) > self.settings.reconcile_max_tokens:
            log_event(LOG, "reconcile_tokens_capped", logging.WARNING, tokens=len(wanted))
            wanted = wanted[: self.settings.reconcile_max_tokens]
        gate = asyncio.Semaphore(8)

        async def shares(token: str) -> int:
            async with gate:
                return await gw.balance(token)

        balances = await asyncio.gather(*(shares(t) for t in wanted))
        positions = {t: n for t, n in zip(wanted, balances, strict=True) if n}
        foreign = tuple(o for o in open_orders if o.order_id.lower() not in self._by_oid)
        rec = Reconciliation(self.clock.now_ms(), cash, positions, tuple(open_orders), foreign)
        self.reconciliation = rec
        log_event(
            LOG,
            "reconciled",
            cash=cash,
            positions=len(positions),
            open_orders=len(open_orders),
            foreign_orders=len(foreign),
        )
        if foreign and self.settings.cancel_foreign_orders:
            result = await gw.cancel_many([o.order_id for o in foreign])
            log_event(LOG, "foreign_orders_cancelled", canceled=len(result.canceled))
        return rec

    def healthy(self) -> bool:
        """Both must hold for the dead-man heartbeat: our own view of orders and fills (the user stream is
        connected) and the engine's (`is_healthy`: running, no breaker that cancels everything)."""
        connected = self.user_stream is not None and self.user_stream.connected
        return connected and (self._is_healthy is None or self._is_healthy())

    def set_health_check(self, is_healthy: Callable[[], bool]) -> None:
        """The engine is built after its venue; it hands its health in here."""
        self._is_healthy = is_healthy

    async def _heartbeats(self) -> None:
        timer = self.gateway.timer
        while True:
            await timer.sleep(self.settings.heartbeat_interval_s)
            if not self.healthy():
                self.heartbeats_skipped += 1
                continue
            try:
                await self.gateway.heartbeat()
                self.heartbeats += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_event(LOG, "heartbeat_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")

    # --- posts -----------------------------------------------------------------------------------

    def _on_gateway_event(self, event: GatewayEvent) -> None:
        order = self._by_oid.get(event.order_id.lower()) if event.order_id else None
        if order is None or order.terminal:
            return
        if event.kind == "unknown" and order.state == "SENDING":
            self._mark_unknown(order, event.detail or "no answer to the post")

    async def _post(self, order: _Order) -> None:
        coid = order.request.client_order_id
        try:
            prepared = await self.gateway.prepare(order.request)
        except ValueError as exc:
            self._reject(order, str(exc))
            return
        except Exception as exc:
            self._reject(order, f"could not build the order: {type(exc).__name__}: {exc}")
            return
        order.order_id = prepared.order_id.lower()
        self._by_oid[order.order_id] = order
        try:
            result = await self.gateway.submit(prepared)
        except Exception as exc:
            result = PlaceResult(
                coid, PlaceStatus.UNKNOWN, prepared.order_id, reason=f"{type(exc).__name__}: {exc}"
            )
        await self._on_result(order, result)

    def _mark_unknown(self, order: _Order, reason: str) -> None:
        """Tell the engine once: the order is UNKNOWN until a lookup by its hash settles it."""
        first = order.state != "UNKNOWN"
        order.state = "UNKNOWN"
        if first:
            log_event(LOG, "order_unknown", logging.WARNING, client_order_id=order.request.client_order_id)
            self._emit(
                OrderUnknown(order.request.client_order_id, order.order_id, self.clock.now_ms(), reason)
            )

    def _reject(self, order: _Order, reason: str) -> None:
        order.state = "DONE"
        order.terminal = True
        self._emit(OrderRejected(order.request.client_order_id, self.clock.now_ms(), reason))

    async def _on_result(self, order: _Order, result: PlaceResult) -> None:
        if order.terminal and order.state == "DONE":
            return
        if result.status is PlaceStatus.REJECTED:
            self._reject(order, result.reason)
            return
        if result.status is PlaceStatus.UNKNOWN:
            self._mark_unknown(order, result.reason or "outcome unknown")
            self._spawn(self._resolve_later(order))
            return
        self._accept(order)
        request = order.request
        if not request.order_type.rests and not order.terminal:
            # FOK/FAK are finished on arrival; whatever did not match will never fill.
            matched = min(result.matched, request.size)
            if matched < request.size:
                reason = f"{request.order_type.value} unfilled remainder"
                self._terminal(
                    order, OrderCancelled(request.client_order_id, self.clock.now_ms(), reason), matched
                )
        deferred, order.deferred = order.deferred, []
        for ev in deferred:
            self._apply_order_event(order, ev)
        if order.cancel_requested and not order.terminal:
            await self._cancel_open(order)

    def _accept(self, order: _Order) -> None:
        if order.state in ("SENDING", "UNKNOWN"):
            order.state = "OPEN"
        if not order.accepted and not order.terminal:
            order.accepted = True
            self._emit(OrderAccepted(order.request.client_order_id, order.order_id, self.clock.now_ms()))

    async def _resolve_later(self, order: _Order) -> None:
        while order.state == "UNKNOWN":
            await self.gateway.timer.sleep(self.settings.resolve_interval_s)
            if order.state != "UNKNOWN":
                return
            try:
                found = await self.gateway.get_order(order.order_id)
            except Exception as exc:
                log_event(LOG, "resolve_failed", logging.WARNING, order=order.order_id, error=str(exc))
                continue
            if found is None:
                self.gateway.abandoned.add(order.order_id)
                self._reject(order, "not placed: the exchange does not know the order")
                return
            result = PlaceResult(
                order.request.client_order_id,
                PlaceStatus.ACCEPTED,
                order.order_id,
                exchange_status=found.status,
                matched=found.size_matched,
                resolved=True,
            )
            await self._on_result(order, result)

    async def _cancel_open(self, order: _Order) -> None:
        try:
            result = await self.gateway.cancel(order.order_id)
        except Exception as exc:
            log_event(
                LOG,
                "cancel_failed",
                logging.WARNING,
                order=order.order_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        if order.order_id in {oid.lower() for oid in result.canceled}:
            self._spawn(self._confirm_cancel(order))
        elif result.not_canceled:
            log_event(
                LOG, "not_canceled", order=order.order_id, reason=next(iter(result.not_canceled.values()))
            )

    async def _confirm_cancel(self, order: _Order) -> None:
        """The user channel normally reports the cancellation; if it has not within `cancel_confirm_s`,
        ask for the order (the lookup says how much had matched, so fills still keep their place)."""
        await self.gateway.timer.sleep(self.settings.cancel_confirm_s)
        if order.terminal:
            return
        try:
            found = await self.gateway.get_order(order.order_id)
        except Exception as exc:
            log_event(LOG, "cancel_confirm_failed", logging.WARNING, order=order.order_id, error=str(exc))
            return
        if found is not None and found.status.startswith("CANCELED") and not order.terminal:
            self._terminal(order, self._terminal_event(order, found.status), found.size_matched)

    # --- the user channel ------------------------------------------------------------------------

    def _terminal_event(self, order: _Order, status: str) -> VenueEvent:
        coid, now = order.request.client_order_id, self.clock.now_ms()
        if status == EXPIRED_STATUS:
            return OrderExpired(coid, now)
        return OrderCancelled(coid, now, status)

    def _terminal(self, order: _Order, event: VenueEvent, matched: int) -> None:
        """Deliver a terminal event once the fills up to `matched` are delivered."""
        if order.terminal:
            return
        order.terminal = True
        order.state = "DONE"
        if order.filled >= matched:
            self._emit(event)
        else:
            order.pending = (event, matched)

    def _on_order_event(self, ev: OrderEvent) -> None:
        oid = ev.order_id.lower()
        order = self._by_oid.get(oid)
        if order is None:
            if oid in self.gateway.abandoned and ev.kind != "CANCELLATION":
                log_event(LOG, "abandoned_order_appeared", logging.ERROR, order=ev.order_id)
                self._spawn(self.gateway.cancel(ev.order_id))
            return
        if order.state == "SENDING":
            order.deferred.append(ev)
            return
        self._apply_order_event(order, ev)

    def _apply_order_event(self, order: _Order, ev: OrderEvent) -> None:
        if ev.kind in ("PLACEMENT", "UPDATE"):
            was_unknown = order.state == "UNKNOWN"
            self._accept(order)
            if was_unknown and order.cancel_requested:
                self._spawn(self._cancel_open(order))
        elif ev.kind == "CANCELLATION" and not order.terminal:
            if not ev.status.startswith("CANCELED") and ev.status != "INVALID":
                return
            self._terminal(order, self._terminal_event(order, ev.status), ev.size_matched)

    def _fill_id(self, tf: TradeFill) -> str:
        key = (tf.trade_id, tf.order_id.lower())
        fill_id = self._fill_ids.get(key)
        if fill_id is None:
            # One trade may fill two of our orders; the engine keys fills by id, so the second gets its own.
            fill_id = tf.trade_id if tf.trade_id not in self._fill_keys else f"{tf.trade_id}:{key[1]}"
            self._fill_ids[key] = fill_id
            self._fill_keys[fill_id] = key
        return fill_id

    def _fee(self, tf: TradeFill) -> Decimal:
        if tf.liquidity is not Liquidity.TAKER:
            return Decimal(0)
        market = self._tokens.get(tf.asset_id)
        schedule = market.fees if market is not None else FeeSchedule()
        if tf.fee_rate_bps:
            schedule = FeeSchedule(rate=Decimal(tf.fee_rate_bps).scaleb(-4), exponent=schedule.exponent)
        return schedule.taker_fee(tf.price, tf.size)

    def _on_fill(self, tf: TradeFill) -> None:
        order = self._by_oid.get(tf.order_id.lower())
        if order is None:
            log_event(LOG, "fill_for_unknown_order", logging.WARNING, order=tf.order_id, trade=tf.trade_id)
            return
        request = order.request
        market = self._tokens.get(tf.asset_id)
        outcome = market.outcome_of(tf.asset_id) if market is not None else request.outcome
        fill = Fill(
            trade_id=self._fill_id(tf),
            client_order_id=request.client_order_id,
            condition_id=tf.market or request.condition_id,
            token_id=tf.asset_id,
            outcome=Outcome(outcome),
            side=tf.side,
            price=tf.price,
            size=tf.size,
            fee=self._fee(tf),
            liquidity=tf.liquidity,
            ts=tf.match_time * 1000 if tf.match_time else self.clock.now_ms(),
        )
        if not order.accepted and not order.terminal:
            self._accept(order)  # it traded, so the exchange has it, whatever the post's answer says yet
        order.fills[(tf.trade_id, tf.order_id.lower())] = fill
        self._fill_status[fill.trade_id] = "PROVISIONAL"
        order.filled += tf.size
        self._emit(OrderFilled(fill, max(0, request.size - order.filled)))
        if order.pending is not None and order.filled >= order.pending[1]:
            event, _ = order.pending
            order.pending = None
            self._emit(event)

    def _on_fill_confirmed(self, tf: TradeFill) -> None:
        fill_id = self._fill_ids.get((tf.trade_id, tf.order_id.lower()))
        if fill_id is not None:
            self._fill_status[fill_id] = "CONFIRMED"
            log_event(LOG, "fill_confirmed", trade=tf.trade_id, fill=fill_id)

    def _on_fill_reversed(self, tf: TradeFill) -> None:
        key = (tf.trade_id, tf.order_id.lower())
        order = self._by_oid.get(key[1])
        fill = order.fills.pop(key, None) if order is not None else None
        if order is None or fill is None:
            return
        order.filled -= fill.size
        self._fill_status[fill.trade_id] = "REVERSED"
        log_event(
            LOG, "fill_reversed", logging.WARNING, trade=tf.trade_id, client_order_id=fill.client_order_id
        )
        self._emit(FillReversed(fill.client_order_id, fill, self.clock.now_ms(), tf.status))


__all__ = ["LiveSettings", "MarketData", "PolymarketLiveVenue", "Reconciliation"]
