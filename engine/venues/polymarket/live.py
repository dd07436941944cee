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
* fills and order updates: `UserStream` (engine.venues.polymarket.user_ws). A fill is reported to the
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
from engine.domain import FeeSchedule, Fill, Liquidity, Market, OrderRequest, OrderType, Outcome, Side
from engine.feeds.events import MarketEvent, MarketResolved
from engine.logs import log_event
from engine.supervisor import describe, log_failure
from engine.venues.base import (
    EventSink,
    FillReversed,
    ForeignOrder,
    OrderAccepted,
    OrderAdopted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderLost,
    OrderRejected,
    OrderUnknown,
    ResumeRequest,
    Settled,
    VenueEvent,
    VenueReconciled,
    VenueState,
)
from engine.venues.polymarket.gateway import (
    GatewayEvent,
    OpenOrderInfo,
    OrderGateway,
    PlaceResult,
    PlaceStatus,
    PreparedOrder,
)
from engine.venues.polymarket.user_ws import FAILED, OrderEvent, TradeFill, UserStream, parse_fills

LOG = logging.getLogger("bigearn.venues.polymarket.live")

EXPIRED_STATUS = "CANCELED_EXPIRED_ORDER"


class MarketData(Protocol):
    def run(self, on_event: Callable[[MarketEvent], Any]) -> Awaitable[None]: ...

    def close(self) -> Any: ...

    def stale_markets(self, now_ms: int) -> Any: ...

    def reconnects(self) -> int: ...


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
    # After a market resolves, how often to look whether its winning shares were redeemed (the collateral
    # they pay arrives then), and for how long.
    redeem_poll_s: float = 5.0
    redeem_watch_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class Reconciliation:
    ts: int
    cash: int  # pUSD, 1e-6 units
    positions: dict[str, int]  # token id -> shares (1e-6), non-zero only
    open_orders: tuple[OpenOrderInfo, ...]
    foreign_orders: tuple[OpenOrderInfo, ...]  # open orders this venue did not place or adopt
    asked: tuple[str, ...] = ()  # the tokens whose balances were read


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
    known_fills: frozenset[str] = frozenset()  # fill ids the ledger already holds (a restored order)


_STOP = object()


class VenueFailure(Exception):
    """Something the venue depends on failed for good (a feed ended, a task died); the run stops on it."""


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
        self._fatal: BaseException | None = None
        self._prepared: dict[str, PreparedOrder] = {}
        self._resume_request: ResumeRequest | None = None
        # Shares held per token as this venue has seen them (restored, then every fill it reported): what a
        # redemption after resolution pays out on.
        self._held: dict[str, int] = {}
        self._settling: set[str] = set()
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

    @property
    def account(self) -> str:
        """Whose money: the wallet on its chain. A restart on the same database resumes this account."""
        return f"live:{self.gateway.settings.chain_id}:{self.gateway.wallet.lower()}"

    # --- the Venue protocol ----------------------------------------------------------------------

    def markets(self) -> list[Market]:
        return list(self._markets.values())

    def stale_markets(self, now_ms: int) -> Any:
        return self.market_data.stale_markets(now_ms)

    def feed_reconnects(self) -> int:
        return self.market_data.reconnects()

    async def prepare(self, request: OrderRequest) -> str:
        """Sign the order now and return its id (the EIP-712 hash), so the engine writes it ahead with the
        intent: after a crash the order is looked up by it, never guessed. `submit` sends this signed copy."""
        prepared = await self.gateway.prepare(request)
        self._prepared[request.client_order_id] = prepared
        return prepared.order_id.lower()

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
        """Balances and open orders over REST (tokens we trade or hold, plus any with an open order); every
        token asked about is in `positions`, zero balances included."""
        rec = await self.reconcile(self._watched_tokens())
        positions = {t: rec.positions.get(t, 0) for t in rec.asked}
        return VenueState(
            rec.ts, positions, frozenset(o.order_id.lower() for o in rec.open_orders), cash=rec.cash
        )

    def _watched_tokens(self) -> list[str]:
        held = [t for t, n in self._held.items() if n > 0 and t not in self._tokens]
        return list(self._tokens) + held

    def resume(self, request: ResumeRequest) -> None:
        """A restart: what the ledger knows, reconciled when `run()` starts (see `_resume`)."""
        self._resume_request = request
        for market in request.markets:
            self._markets.setdefault(market.condition_id.lower(), market)
            for token in (market.yes_token, market.no_token):
                self._tokens.setdefault(token, market)
        self._held = {t: n for t, n in request.positions.items() if n > 0}

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
        resume = self._resume_request
        margin = self.settings.backfill_margin_s
        since_s = resume.since_ms // 1000 - margin if resume is not None else started_s - margin
        try:
            rec = await self.reconcile(self._watched_tokens())
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
                backfill_since_s=max(0, since_s),
                backfill_margin_s=margin,
                ping_interval=self.settings.user_ping_interval_s,
                rng=random.Random(self._rng.random()),
            )
            if resume is not None:
                await self._resume(resume, rec, max(0, since_s))
            self._spawn(self._guard("user stream", self.user_stream.run()))
            self._spawn(self._guard("market data", self.market_data.run(self._on_market_event)))
            self._spawn(self._heartbeats())
            await self._deliver(sink)
        finally:
            await self._shutdown()
        if self._fatal is not None:
            raise VenueFailure(describe(self._fatal)) from self._fatal

    async def _resume(self, request: ResumeRequest, rec: Reconciliation, since_s: int) -> None:
        """Reconcile the ledger's orders with the exchange before anything is delivered: orders still open
        are kept, orders that ended while the engine was down get their fills and final state, orders the
        exchange never had are reported lost; orders it has that the ledger does not know are cancelled,
        adopted or left for a halt; every trade since `since_s` is read back (fills the ledger lacks reach it,
        once); winning shares already redeemed are settled; then the balances, as VenueReconciled."""
        now = self.clock.now_ms()
        owner = self.gateway.api_credentials.key.reveal()
        open_by_id = {o.order_id.lower(): o for o in rec.open_orders}
        adopted: list[str] = []
        closed: list[str] = []
        lost: list[str] = []
        for known in request.known_orders:
            coid = known.request.client_order_id
            oid = (known.venue_order_id or "").lower()
            order = _Order(known.request, order_id=oid, state="OPEN", filled=known.filled)
            order.known_fills = known.fill_ids
            self._orders[coid] = order
            if not oid:
                # Written ahead but never signed, so never sent: the id is written before the post.
                self._reject_lost(order, "never sent: no order id was written ahead")
                lost.append(coid)
                continue
            self._by_oid[oid] = order
            if oid in open_by_id:
                self._accept(order)
                adopted.append(coid)
                continue
            found = await self.gateway.get_order(oid)
            if found is None:
                self.gateway.abandoned.add(oid)
                self._reject_lost(order, "not placed: the exchange does not know the order")
                lost.append(coid)
                continue
            self._accept(order)
            closed.append(coid)
            status = found.status.upper()
            ended = status.startswith("CANCELED") or status == "INVALID" or status == "MATCHED"
            if ended and (status != "MATCHED" or found.size_matched < known.request.size):
                # Its fills (read back below) come first, then its end; a full match ends with its last fill.
                self._terminal(order, self._terminal_event(order, status), found.size_matched)
        foreign = [o for o in rec.open_orders if o.order_id.lower() not in self._by_oid]
        action = request.foreign_orders
        if foreign and action == "cancel":
            ids = [o.order_id for o in foreign]
            result = await self.gateway.cancel_many(ids)
            self.gateway.abandoned.update(i.lower() for i in ids)
            log_event(LOG, "foreign_orders_cancelled", logging.WARNING, orders=len(ids), canceled=len(result.canceled))
        rows = await self.gateway.trades_since(since_s)
        rows.sort(key=lambda r: (int(r.get("match_time") or 0), str(r.get("id"))))
        assert self.user_stream is not None
        for row in rows:
            await self.user_stream.ingest_trade(row)
            if str(row.get("status", "")).upper().removeprefix("TRADE_STATUS_") == FAILED:
                self._reverse_known(row, owner)
        if foreign and action == "adopt":
            # Registered after the backfill: what they traded before is not this ledger's (the balance check
            # says so); from now on they are.
            for info in foreign:
                self._adopt_foreign(info)
        await self._settle_redeemed()
        fresh = await self.reconcile(self._watched_tokens())
        positions = {t: fresh.positions.get(t, 0) for t in fresh.asked}
        self._emit(
            VenueReconciled(
                self.clock.now_ms(),
                fresh.cash,
                positions,
                adopted=tuple(adopted),
                closed=tuple(closed),
                lost=tuple(lost),
                foreign=tuple(
                    ForeignOrder(o.order_id, o.condition_id, o.token_id, o.side.value, o.price,
                                 o.original_size - o.size_matched)
                    for o in foreign
                ),  # fmt: skip
                foreign_action=action if foreign else "",
                backfilled=len(rows),
            )
        )
        log_event(LOG, "resumed", adopted=len(adopted), closed=len(closed), lost=len(lost),
                  foreign=len(foreign), backfilled=len(rows), since_s=since_s, ts=now)  # fmt: skip

    def _reject_lost(self, order: _Order, reason: str) -> None:
        order.state = "DONE"
        order.terminal = True
        self._emit(OrderLost(order.request.client_order_id, self.clock.now_ms(), reason))

    def _adopt_foreign(self, info: OpenOrderInfo) -> None:
        market = self._tokens.get(info.token_id)
        if market is None:
            log_event(LOG, "foreign_order_not_adopted", logging.WARNING, order=info.order_id,
                      reason="its market is not watched")  # fmt: skip
            return
        request = OrderRequest(
            client_order_id=f"adopted-{info.order_id.lower().removeprefix('0x')[:16]}",
            condition_id=market.condition_id,
            token_id=info.token_id,
            outcome=market.outcome_of(info.token_id),
            side=info.side,
            price=info.price,
            size=info.original_size - info.size_matched,
            order_type=OrderType.GTD if info.expiration else OrderType.GTC,
            expiration=info.expiration or None,
        )
        order = _Order(request, order_id=info.order_id.lower(), state="OPEN", accepted=True)
        self._orders[request.client_order_id] = order
        self._by_oid[order.order_id] = order
        self._emit(OrderAdopted(request, order.order_id, info.size_matched, self.clock.now_ms()))

    def _reverse_known(self, row: dict, owner: str) -> None:
        """A trade the ledger recorded before the restart that has since FAILED: undo it there too (the stream
        only reverses fills it reported itself)."""
        try:
            fills = parse_fills(row, owner)
        except Exception as exc:  # noqa: BLE001 - the stream already counted and logged a malformed row
            log_event(LOG, "failed_trade_unreadable", logging.WARNING, trade=row.get("id"), error=describe(exc))
            return
        for tf in fills:
            order = self._by_oid.get(tf.order_id.lower())
            if order is None:
                continue
            fill_id = self._fill_id(tf)
            if fill_id in order.known_fills and fill_id not in self._fill_status:
                fill = self._fill_of(order, tf, fill_id)
                order.filled -= tf.size
                self._track_held(fill, -1)
                self._fill_status[fill_id] = "REVERSED"
                self._emit(FillReversed(fill.client_order_id, fill, self.clock.now_ms(), FAILED))

    async def _guard(self, name: str, awaitable: Awaitable[None]) -> None:
        """A feed that ends or fails stops the venue, and the run fails with it: the engine then goes to
        ERROR, halts and cancels (fail closed)."""
        try:
            await awaitable
            if self._closing:
                return
            log_event(LOG, "feed_ended", logging.ERROR, feed=name)
            failure: BaseException = VenueFailure(f"{name} ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_failure(LOG, name, exc)
            failure = exc
        if self._fatal is None:
            self._fatal = failure
        self.stop()

    async def _deliver(self, sink: EventSink) -> None:
        """Events to the engine, in order. One the engine cannot take ends the run with its exception: the
        engine's own failure, never logged and skipped."""
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
        task.add_done_callback(self._task_done)
        if post:
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        """Every task of the venue handles what it expects; anything else escaping one is the run's failure."""
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log_failure(LOG, task.get_name(), exc)
            if self._fatal is None:
                self._fatal = exc
            self.stop()

    def _emit(self, event: VenueEvent) -> None:
        self._queue.put_nowait(("venue", event, None))

    def _on_market_event(self, event: MarketEvent) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(("market", event, done))
        if isinstance(event, MarketResolved):
            market = self._markets.get(event.condition_id.lower())
            if market is not None and market.condition_id not in self._settling:
                self._settling.add(market.condition_id)
                self._spawn(self._watch_redemption(market, event.yes_payout))
        return done

    # --- settlement ------------------------------------------------------------------------------

    def _payout(self, market: Market, token: str, yes_payout: Decimal) -> Decimal:
        return yes_payout if token == market.yes_token else 1 - yes_payout

    def _settle(self, market: Market, token: str, yes_payout: Decimal, ts: int) -> None:
        held = self._held.pop(token, 0)
        if held <= 0:
            return
        per_share = self._payout(market, token, yes_payout)
        outcome = market.outcome_of(token)
        cash = (per_share * held).scaleb(-6)
        log_event(LOG, "settled", market=market.condition_id, token=token, size=held, cash=str(cash))
        self._emit(Settled(market.condition_id, token, outcome, ts, held, per_share, cash))

    async def _watch_redemption(self, market: Market, yes_payout: Decimal) -> None:
        """A resolved market pays its winning shares when they are redeemed (by the exchange's auto-redeem or
        by the owner): once a held token's balance is gone, the payout is settled in the ledger. Losing
        shares are settled at 0 with them. Gives up (and says so) after `redeem_watch_s`."""
        tokens = (market.yes_token, market.no_token)
        deadline = self.gateway.timer.monotonic() + self.settings.redeem_watch_s
        while any(self._held.get(t, 0) > 0 for t in tokens):
            try:
                balances = {t: await self.gateway.balance(t) for t in tokens if self._held.get(t, 0) > 0}
            except Exception as exc:  # noqa: BLE001 - asked again after the poll interval
                log_event(LOG, "redemption_check_failed", logging.WARNING, market=market.condition_id,
                          error=describe(exc))  # fmt: skip
                balances = {}
            if balances and all(b == 0 for b in balances.values()):
                now = self.clock.now_ms()
                for token in tokens:
                    self._settle(market, token, yes_payout, now)
                return
            if self.gateway.timer.monotonic() > deadline:
                log_event(LOG, "not_redeemed", logging.WARNING, market=market.condition_id)
                return
            await self.gateway.timer.sleep(self.settings.redeem_poll_s)

    async def _settle_redeemed(self) -> None:
        """At a restart: held shares of markets that resolved while the engine was down and are redeemed."""
        held = [t for t, n in self._held.items() if n > 0]
        for token in held:
            market = self._tokens.get(token)
            if market is None or token not in self._held:
                continue
            payout = await self._resolution(market)
            if payout is None:
                continue
            balances = {t: await self.gateway.balance(t) for t in (market.yes_token, market.no_token)}
            if all(balances[t] == 0 for t in balances if self._held.get(t, 0) > 0):
                now = self.clock.now_ms()
                for t in (market.yes_token, market.no_token):
                    self._settle(market, t, payout, now)
            elif market.condition_id not in self._settling:
                self._settling.add(market.condition_id)
                self._spawn(self._watch_redemption(market, payout))

    async def _resolution(self, market: Market) -> Decimal | None:
        """The YES payout of a resolved market (CLOB `GET /markets/{id}`), None while it is not resolved."""
        info = await self.gateway.market_status(market.condition_id)
        if info is None or not info.get("closed"):
            return None
        winners = [t.get("token_id") for t in info.get("tokens") or () if isinstance(t, dict) and t.get("winner")]
        if winners == [market.yes_token]:
            return Decimal(1)
        if winners == [market.no_token]:
            return Decimal(0)
        return None

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
            # Tokens we hold come first: those are the ones a difference would be about.
            held = [t for t in wanted if self._held.get(t)]
            wanted = held + [t for t in wanted if not self._held.get(t)]
            log_event(LOG, "reconcile_tokens_capped", logging.WARNING, tokens=len(wanted))
            wanted = wanted[: self.settings.reconcile_max_tokens]
        gate = asyncio.Semaphore(8)

        async def shares(token: str) -> int:
            async with gate:
                return await gw.balance(token)

        balances = await asyncio.gather(*(shares(t) for t in wanted))
        positions = {t: n for t, n in zip(wanted, balances, strict=True) if n}
        foreign = tuple(o for o in open_orders if o.order_id.lower() not in self._by_oid)
        rec = Reconciliation(self.clock.now_ms(), cash, positions, tuple(open_orders), foreign, tuple(wanted))
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
            prepared = self._prepared.pop(coid, None) or await self.gateway.prepare(order.request)
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
        """The same fill gets the same id in every process (the ledger is idempotent by it, across restarts):
        a trade has one taker order, so the taker's fill is the trade id; a maker fill is the trade id and
        the maker order's id (one trade may fill several of our resting orders)."""
        key = (tf.trade_id, tf.order_id.lower())
        fill_id = self._fill_ids.get(key)
        if fill_id is None:
            fill_id = tf.trade_id if tf.liquidity is Liquidity.TAKER else f"{tf.trade_id}:{key[1]}"
            self._fill_ids[key] = fill_id
            self._fill_keys[fill_id] = key
        return fill_id

    def _fill_of(self, order: _Order, tf: TradeFill, fill_id: str) -> Fill:
        request = order.request
        market = self._tokens.get(tf.asset_id)
        outcome = market.outcome_of(tf.asset_id) if market is not None else request.outcome
        return Fill(
            trade_id=fill_id,
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

    def _track_held(self, fill: Fill, sign: int) -> None:
        delta = fill.size if fill.side is Side.BUY else -fill.size
        self._held[fill.token_id] = self._held.get(fill.token_id, 0) + sign * delta

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
            request = self._resume_request
            if request is not None and self._fill_id(tf) in request.fill_ids:
                return  # read back after a restart: the ledger has it, on an order that is done
            log_event(LOG, "fill_for_unknown_order", logging.WARNING, order=tf.order_id, trade=tf.trade_id)
            return
        request = order.request
        fill_id = self._fill_id(tf)
        fill = self._fill_of(order, tf, fill_id)
        if fill_id in order.known_fills:
            # Read back after a restart: the ledger has it (and counted it in `filled`).
            order.fills[(tf.trade_id, tf.order_id.lower())] = fill
            self._fill_status.setdefault(fill_id, "PROVISIONAL")
            return
        if not order.accepted and not order.terminal:
            self._accept(order)  # it traded, so the exchange has it, whatever the post's answer says yet
        order.fills[(tf.trade_id, tf.order_id.lower())] = fill
        self._fill_status[fill.trade_id] = "PROVISIONAL"
        self._track_held(fill, +1)
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
        self._track_held(fill, -1)
        self._fill_status[fill.trade_id] = "REVERSED"
        log_event(
            LOG, "fill_reversed", logging.WARNING, trade=tf.trade_id, client_order_id=fill.client_order_id
        )
        self._emit(FillReversed(fill.client_order_id, fill, self.clock.now_ms(), tf.status))


__all__ = ["LiveSettings", "MarketData", "PolymarketLiveVenue", "Reconciliation"]
