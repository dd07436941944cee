"""The exchange itself, without HTTP: accounts and API keys, balances with reservations, order intake rules,
the matching engine over one unified book per condition, trades and their settlement lifecycle,
heartbeats, and the background market (recorded or synthetic books) that provides liquidity.

Pure and synchronous. Time comes from an injectable clock; timers (trade lifecycle, GTD expiry,
heartbeat timeouts, market close) and background lines run only inside `advance_to()` / `pump()`, in due
order, so a test driving a `ManualClock` gets the same result every time. Everything the outside world
should hear about is delivered to `sinks` as `MarketMessage` / `UserMessage` once an operation is complete.

Amounts: cash and shares are integer base units (1e-6); prices are price units (1e-4, `engine.units`).
A buyer pays `ceil(p * q)` and a seller receives `floor(p * q)` base units, so rounding never creates
money. The background maker (the recorded book) has unlimited funds and never matches itself.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from typing import Any

from engine.book import book_hash
from engine.feeds.replay import ReplayLine, ReplayMarket
from engine.units import ONE, PRICE_SCALE, SIZE_SCALE, px_to_str, qty_to_str

from . import errors as E
from .book import Order, UnifiedBook, wire_levels
from .faults import FaultConfig
from .markets import ExMarket, build_markets

BACKGROUND = "background"
_PRICE_DENOM = PRICE_SCALE  # p * q / 1e4 -> base units of cash
HISTORY_CAP = 20_000


# --- time --------------------------------------------------------------------------------------------


class WallClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """A clock that moves only when told to (tests, `speed=None`)."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = int(time.time() * 1000) if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        self._now = max(self._now, ts_ms)

    def advance(self, ms: int) -> None:
        self._now += ms


# --- configuration and records ----------------------------------------------------------------------


@dataclass
class ExchangeConfig:
    paper_balance: Decimal = Decimal("10000")
    mined_delay_ms: int = 1000  # MATCHED -> MINED (or -> RETRYING)
    confirmed_delay_ms: int = 2000  # MINED -> CONFIRMED
    retry_delay_ms: int = 1000  # RETRYING -> MINED / FAILED
    heartbeat_timeout_ms: int = 15_000  # 10 s plus the documented buffer of up to 5 s
    gtd_security_s: int = 60  # a GTD order must expire at least this far in the future
    fine_tick_low: int = 400  # a 0.01 market goes to 0.001 below 0.04 ...
    fine_tick_high: int = 9600  # ... and above 0.96
    fine_tick: int = 10
    allow_eoa: bool = True  # False: EOA and proxy makers are refused (production's deposit-wallet rule)
    max_batch: int = 15
    max_cancel_batch: int = 3000
    page_size: int = 100  # /data/orders and /data/trades page length
    key_seed: str = "bigearn-sim-exchange"
    auto_redeem: bool = True  # winning shares are paid out at resolution (the auto-redeem operator)


@dataclass(frozen=True, slots=True)
class ApiCreds:
    key: str
    secret: str
    passphrase: str
    address: str  # checksummed signer EOA that owns the key
    nonce: int


@dataclass(slots=True)
class Account:
    address: str  # checksummed funder
    cash: int = 0
    reserved_cash: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)  # cost basis of open shares, USDC
    bought: dict[str, int] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)
    fees_paid: dict[str, Decimal] = field(default_factory=dict)

    def available_cash(self) -> int:
        return self.cash - self.reserved_cash

    def available(self, token_id: str) -> int:
        return self.positions.get(token_id, 0) - self.reserved.get(token_id, 0)


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A signed order that passed payload parsing and signature checks (see `intake`)."""

    id: str
    maker: str
    signer: str
    token_id: str
    side: str  # BUY | SELL
    maker_amount: int
    taker_amount: int
    expiration: int
    signature_type: int
    timestamp_ms: int
    order_type: str = "GTC"
    post_only: bool = False
    defer_exec: bool = False


@dataclass(slots=True)
class MakerFill:
    order: Order
    qty: int
    price: int  # maker's own token terms


@dataclass(slots=True)
class Trade:
    id: str
    market: str
    taker: Order
    asset_id: str
    side: str
    price: int  # taker's token terms
    size: int
    fee: int  # base units paid by the taker
    fee_rate_bps: str
    makers: list[MakerFill]
    match_ms: int
    bucket_index: int
    status: str = "MATCHED"
    last_update_ms: int = 0
    transaction_hash: str = ""
    fate: str = "ok"  # ok | retry | fail
    transfers: list[tuple[str, str, int]] = field(default_factory=list)  # (account, token|"", delta)


@dataclass(frozen=True, slots=True)
class MarketMessage:
    market: str
    asset_ids: tuple[str, ...]
    payload: dict[str, Any]
    custom: bool = False  # only for subscribers that set custom_feature_enabled
    broadcast: bool = False  # to every such subscriber, whatever its assets (new_market)


@dataclass(frozen=True, slots=True)
class UserMessage:
    account: str  # lower-case address of the account that should hear it
    market: str
    payload: dict[str, Any]


Sink = Callable[[MarketMessage | UserMessage], None]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _dec_units(units: int, scale: int) -> str:
    text = format(Decimal(units) / scale, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _fraction_str(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    d = (Decimal(value.numerator) / Decimal(value.denominator)).normalize()
    return format(d, "f")


class _Feed:
    """Background lines (and in-stream market announcements) mapped onto exchange time."""

    def __init__(self, items: Iterable[Any], start_ms: int, speed: float | None) -> None:
        self._it: Iterator[Any] = iter(items)
        self._buffer: list[Any] = []
        self.start_ms = start_ms
        self.speed = speed or 1.0
        self.t0: int | None = None
        # t0: the first line's recorded time, so the run starts "now"
        while True:
            item = next(self._it, None)
            if item is None:
                break
            self._buffer.append(item)
            if isinstance(item, ReplayLine):
                self.t0 = item.ts
                break
            start = getattr(item.market, "start_ts", None)
            if start is not None and self.t0 is None:
                self.t0 = start
        self._last_due = start_ms

    def map(self, ts: int) -> int:
        if self.t0 is None:
            return ts  # no recorded stream: the catalog's times are taken as they are
        return self.start_ms + int((ts - self.t0) / self.speed)

    def _peek(self) -> Any:
        if not self._buffer:
            item = next(self._it, None)
            if item is None:
                return None
            self._buffer.append(item)
        return self._buffer[0]

    def peek_due(self) -> int | None:
        item = self._peek()
        if item is None:
            return None
        if isinstance(item, ReplayLine):
            return max(self._last_due, self.map(item.ts))
        start = getattr(item.market, "start_ts", None)
        return self._last_due if start is None else max(self._last_due, self.map(start))

    def pop(self) -> tuple[int, Any]:
        due = self.peek_due()
        assert due is not None
        self._last_due = due
        return due, self._buffer.pop(0)


class Exchange:
    def __init__(
        self,
        markets: Mapping[str, Any] | Iterable[Any] | None = None,
        lines: Iterable[ReplayLine | ReplayMarket] | None = None,
        *,
        clock: Any = None,
        speed: float | None = 1.0,
        seed: int = 0,
        config: ExchangeConfig | None = None,
        faults: FaultConfig | None = None,
    ) -> None:
        self.clock = clock if clock is not None else WallClock()
        self.config = config or ExchangeConfig()
        self.faults = faults if faults is not None else FaultConfig(seed=seed)
        self.speed = speed
        self.sinks: list[Sink] = []
        self._rng = random.Random(seed)
        self._seq = itertools.count(1)
        self._in_timer = False
        self._time = self.clock.now_ms()
        self.started_ms = self._time
        self._feed = _Feed(lines if lines is not None else (), self._time, speed)
        self.markets: dict[str, ExMarket] = {}
        self.by_token: dict[str, ExMarket] = {}
        self.books: dict[str, UnifiedBook] = {}
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, ApiCreds] = {}
        self._key_generation: dict[tuple[str, int], int] = {}
        self._funder_of_key: dict[str, str] = {}
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, Trade] = {}
        self._trade_order: list[str] = []
        self._background: dict[str, dict[tuple[bool, int], list[Order]]] = {}
        self._bg_fine: dict[str, bool] = {}
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._heartbeats: dict[str, tuple[str, int]] = {}  # api key -> (expected id, last ms)
        self._pending_levels: dict[str, list[tuple[bool, int, int, int | None, int | None, str]]] = {}
        self._pending_trades: dict[str, list[Trade]] = {}
        self._pending_user: list[UserMessage] = []
        self._pending_market: list[MarketMessage] = []
        self._tops: dict[str, tuple[int | None, int | None]] = {}
        self._cause = ""
        self._force_fail = 0
        if markets:
            self._add_markets(markets, announce=False)
        self._flush()
        self._run(self._time, lines=True)  # the books recorded at the start are there from the start

    # --- clock ---------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        if self._in_timer:
            return self._time  # a due item runs at its own time, not at the end of the advance
        now = self.clock.now_ms()
        if now > self._time:
            self._time = now
        return self._time

    def now_s(self) -> int:
        return self.now_ms() // 1000

    def _at(self, due_ms: int, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (due_ms, next(self._seq), callback))

    def advance_to(self, ts_ms: int) -> None:
        """Run every background line and timer due at or before `ts_ms` (exchange time), in due order. A
        `ManualClock` is moved there first; with `speed=None` this is the only way the background moves."""
        self._run(ts_ms, lines=True)
        if isinstance(self.clock, ManualClock):
            self.clock.set(ts_ms)

    def pump(self, now_ms: int | None = None) -> None:
        """What the server's loop calls: timers due by now, and background lines unless speed is None."""
        self._run(self.now_ms() if now_ms is None else now_ms, lines=self.speed is not None)

    def next_due(self) -> int | None:
        due = [self._timers[0][0]] if self._timers else []
        line_due = self._feed.peek_due() if self.speed is not None else None
        if line_due is not None:
            due.append(line_due)
        return min(due) if due else None

    def _run(self, until: int, *, lines: bool) -> None:
        self.now_ms()
        while True:
            timer_due = self._timers[0][0] if self._timers else None
            line_due = self._feed.peek_due() if lines else None
            if timer_due is not None and timer_due <= until and (line_due is None or timer_due <= line_due):
                due, _, callback = heapq.heappop(self._timers)
                self._time = max(self._time, due)
                self._in_timer = True
                try:
                    callback()
                finally:
                    self._in_timer = False
            elif line_due is not None and line_due <= until:
                due, item = self._feed.pop()
                self._time = max(self._time, due)
                self._in_timer = True
                try:
                    if isinstance(item, ReplayLine):
                        self._apply_line(item)
                    else:
                        self._add_markets([item], announce=True)
                finally:
                    self._in_timer = False
            else:
                break
            self._flush()
        if isinstance(self.clock, ManualClock):
            self._time = max(self._time, until)

    # --- reference data ------------------------------------------------------------------------------

    def add_markets(
        self, catalog: Mapping[str, Any] | Iterable[Any], *, announce: bool = True
    ) -> list[ExMarket]:
        """List new markets (a `new_market` event each, for custom-feature subscribers)."""
        try:
            return self._add_markets(catalog, announce=announce)
        finally:
            if not self._in_timer:
                self._flush()

    def _add_markets(self, catalog: Mapping[str, Any] | Iterable[Any], *, announce: bool) -> list[ExMarket]:
        built = build_markets(
            catalog, time_map=self._feed.map, created_ts=self.now_ms(), first_index=len(self.markets)
        )
        added = []
        for cid, m in built.items():
            if cid in self.markets:
                continue
            self.markets[cid] = m
            self.by_token[m.yes_token] = m
            self.by_token[m.no_token] = m
            self.books[cid] = UnifiedBook(self._level_callback(cid))
            self._background[cid] = {}
            self._tops[cid] = (None, None)
            if m.end_ts is not None:
                self._at(m.end_ts, lambda cid=cid: self._close_market(cid))
            if m.resolution is not None:
                due = max(m.resolution.ts, m.end_ts or 0)
                self._at(due, lambda cid=cid: self._resolve_market(cid))
            added.append(m)
            if announce:
                self._emit_new_market(m)
        return added

    def market_of(self, token_id: str) -> ExMarket | None:
        return self.by_token.get(token_id)

    def _level_callback(self, cid: str) -> Callable[[bool, int, int], None]:
        def on_level(is_bid: bool, px: int, size: int) -> None:
            book = self.books[cid]
            self.markets[cid].book_ts = self.now_ms()
            self._pending_levels.setdefault(cid, []).append(
                (is_bid, px, size, book.best_bid(), book.best_ask(), self._cause)
            )

        return on_level

    # --- accounts and keys ---------------------------------------------------------------------------

    def account(self, address: str) -> Account:
        key = address.lower()
        acct = self.accounts.get(key)
        if acct is None:
            cash = int(self.config.paper_balance * SIZE_SCALE)
            acct = self.accounts[key] = Account(address=address, cash=cash)
        return acct

    def _derive_creds(self, address: str, nonce: int, generation: int) -> ApiCreds:
        seed = self.config.key_seed.encode()
        base = f"{address.lower()}:{nonce}:{generation}".encode()
        k = hmac.new(seed, b"key:" + base, hashlib.sha256).digest()
        s = hmac.new(seed, b"secret:" + base, hashlib.sha256).digest()
        p = hmac.new(seed, b"passphrase:" + base, hashlib.sha256).hexdigest()
        return ApiCreds(
            key=str(uuid.UUID(bytes=k[:16], version=4)),
            secret=base64.urlsafe_b64encode(s).decode(),
            passphrase=p,
            address=address,
            nonce=nonce,
        )

    def create_api_key(self, address: str, nonce: int) -> ApiCreds:
        """POST /auth/api-key: a key per (address, nonce); a second create at the same nonce is refused,
        as on Polymarket (clients then derive)."""
        slot = (address.lower(), nonce)
        if slot in self._key_generation:
            raise E.bad_request(E.CANNOT_CREATE_KEY)
        generation = 0
        for k in self.keys.values():
            if (k.address.lower(), k.nonce) == slot:
                generation += 1
        creds = self._derive_creds(address, nonce, generation)
        self._key_generation[slot] = generation
        self.keys[creds.key] = creds
        self.account(address)
        return creds

    def derive_api_key(self, address: str, nonce: int) -> ApiCreds:
        slot = (address.lower(), nonce)
        generation = self._key_generation.get(slot)
        if generation is None:
            raise E.bad_request(E.CANNOT_DERIVE_KEY)
        return self._derive_creds(address, nonce, generation)

    def delete_api_key(self, creds: ApiCreds) -> None:
        self.keys.pop(creds.key, None)
        self._key_generation.pop((creds.address.lower(), creds.nonce), None)
        self._heartbeats.pop(creds.key, None)

    def api_keys_of(self, address: str) -> list[str]:
        return [k.key for k in self.keys.values() if k.address.lower() == address.lower()]

    def funder_for(self, creds: ApiCreds, signature_type: int | None = None) -> Account:
        """The account a key trades for: its own address (EOA), or the wallet it last placed orders from."""
        funder = self._funder_of_key.get(creds.key) if signature_type not in (None, 0) else None
        return self.account(funder or creds.address)

    def deposit(self, address: str, amount: Decimal | int, token_id: str | None = None) -> None:
        """Test helper: credit pUSD (or shares of `token_id`), in whole units."""
        acct = self.account(address)
        units = int(Decimal(amount) * SIZE_SCALE)
        if token_id is None:
            acct.cash += units
        else:
            acct.positions[token_id] = acct.positions.get(token_id, 0) + units
            acct.bought[token_id] = acct.bought.get(token_id, 0) + units

    # --- order intake --------------------------------------------------------------------------------

    def place(self, creds: ApiCreds, new: NewOrder) -> dict[str, Any]:
        """One order through every check and the matching engine. Returns the POST /order body or raises
        ExchangeError with Polymarket's message."""
        try:
            return self._place(creds, new)
        finally:
            self._flush()

    def _place(self, creds: ApiCreds, new: NewOrder) -> dict[str, Any]:
        faults = self.faults
        if faults.trading_mode == "disabled":
            raise E.ExchangeError(503, E.TRADING_DISABLED)
        if faults.trading_mode == "cancel_only":
            raise E.ExchangeError(503, E.CANCEL_ONLY)
        if faults.trading_mode == "post_only" and not new.post_only:
            raise E.ExchangeError(
                503,
                E.POST_ONLY_MODE,
                code="post_only_mode",
                retry_after_seconds=faults.post_only_retry_after_s,
            )
        m = self.by_token.get(new.token_id)
        if m is None:
            raise E.ExchangeError(404, E.MARKET_NOT_FOUND)
        if not m.accepting_orders or m.closed:
            raise E.bad_request(E.MARKET_NOT_READY)
        if not self.config.allow_eoa and new.signature_type != 3:
            raise E.bad_request(E.DEPOSIT_WALLET_ONLY)
        order_type = new.order_type
        rests = order_type in ("GTC", "GTD")
        if new.post_only and not rests:
            raise E.bad_request(E.POST_ONLY_TYPE)
        now_s = self.now_s()
        if order_type == "GTD":
            if new.expiration <= now_s + self.config.gtd_security_s:
                raise E.bad_request(E.INVALID_EXPIRATION)
        elif new.expiration != 0:
            raise E.bad_request(E.INVALID_EXPIRATION)
        is_buy = new.side == "BUY"
        if is_buy:
            limit = Fraction(new.maker_amount * PRICE_SCALE, new.taker_amount)
            size = new.taker_amount
        else:
            limit = Fraction(new.taker_amount * PRICE_SCALE, new.maker_amount)
            size = new.maker_amount
        price_text = _fraction_str(limit / PRICE_SCALE)
        if rests:
            if limit.denominator != 1 or int(limit) % m.tick or not m.tick <= limit <= ONE - m.tick:
                raise E.bad_request(E.tick_rule(new.id, price_text, m.tick_str))
            if size < m.min_order_size:
                raise E.bad_request(E.min_size(new.id, qty_to_str(size), m.min_size_str))
        elif not 0 < limit < ONE:
            raise E.bad_request(E.tick_rule(new.id, price_text, m.tick_str))
        if new.id in self.orders:
            raise E.bad_request(E.duplicated(new.id))

        acct = self.account(new.maker)
        if new.signature_type != 0:
            self._funder_of_key[creds.key] = new.maker
        is_yes = m.is_yes(new.token_id)
        price_units = int(limit)  # exact for resting orders (on tick); market orders show the floor
        order = Order(
            id=new.id,
            owner=creds.key,
            account=acct.address.lower(),
            maker_address=acct.address,
            signer=new.signer,
            market=m.condition_id,
            token_id=new.token_id,
            is_yes=is_yes,
            side=new.side,
            price=price_units,
            limit=limit,
            original=size,
            maker_amount=new.maker_amount,
            taker_amount=new.taker_amount,
            order_type=order_type,
            expiration=new.expiration,
            created_ms=self.now_ms(),
            post_only=new.post_only,
            remaining=size,
            seq=next(self._seq),
        )
        book = self.books[m.condition_id]
        limit_yes = limit if is_yes else ONE - limit
        taker_is_bid = order.is_bid
        crossing = self._has_counterparty(book, order, limit_yes)
        if new.post_only and crossing:
            raise E.bad_request(E.POST_ONLY_CROSSES)
        if is_buy and crossing and new.maker_amount < SIZE_SCALE:
            amount = (Decimal(new.maker_amount) / SIZE_SCALE).quantize(Decimal("0.01"))
            raise E.bad_request(E.marketable_buy_min(str(amount)))
        # balance: what the order can spend (plus the worst-case taker fee if it trades on arrival)
        if is_buy:
            need = new.maker_amount + (self._fee_bound(m, limit, size) if crossing else 0)
            have = acct.available_cash()
        else:
            need = new.maker_amount
            have = acct.available(new.token_id)
        if have < need:
            raise E.bad_request(E.not_enough_balance(max(have, 0), need))
        if order_type == "FOK":
            fillable = book.available(taker_is_bid, limit_yes, lambda o: self._skip(order, o))
            if fillable < size:
                self._emit_order(order, "CANCELLATION", status=f"CANCELED_{E.FOK_NOT_FILLED}", matched="")
                raise E.bad_request(E.FOK_NOT_FILLED)

        self.orders[order.id] = order
        self._cause = order.id
        trades = self._match(order, m, book) if crossing else []
        if order_type == "FAK" and not trades:
            del self.orders[order.id]
            raise E.bad_request(E.FAK_NOT_FILLED)
        if order.remaining > 0 and rests:
            self._rest(order, m, book, placement=True)
        elif order.remaining > 0:
            order.status = "CANCELED"
        else:
            order.status = "MATCHED"
        return self._order_response(order, trades)

    def _has_counterparty(self, book: UnifiedBook, order: Order, limit_yes: Fraction) -> bool:
        return book.available(order.is_bid, limit_yes, lambda o: self._skip(order, o)) > 0

    @staticmethod
    def _skip(taker: Order, maker: Order) -> bool:
        return taker.background and maker.background

    def _fee_bound(self, m: ExMarket, limit: Fraction, size: int) -> int:
        """The largest taker fee the order could pay, in base units (p(1-p) peaks at 0.5)."""
        fees = m.fees
        if not fees.rate:
            return 0
        p = min(Decimal(limit.numerator) / Decimal(limit.denominator) / PRICE_SCALE, Decimal("0.5"))
        raw = Decimal(size) / SIZE_SCALE * fees.rate * (p * (1 - p)) ** fees.exponent
        return int((raw * SIZE_SCALE).to_integral_value(rounding=ROUND_CEILING))

    def _rest(self, order: Order, m: ExMarket, book: UnifiedBook, *, placement: bool) -> None:
        if not order.background:
            acct = self.accounts[order.account]
            if order.side == "BUY":
                order.reserved = _ceil_div(order.price * order.remaining, _PRICE_DENOM)
                acct.reserved_cash += order.reserved
            else:
                order.reserved = order.remaining
                acct.reserved[order.token_id] = acct.reserved.get(order.token_id, 0) + order.reserved
            if order.order_type == "GTD":
                self._at(order.expiration * 1000, lambda oid=order.id: self._expire(oid))
        order.status = "LIVE"
        book.add(order)
        if placement and not order.background:
            self._emit_order(order, "PLACEMENT")

    def _release(self, order: Order) -> None:
        """Recompute the resting reservation after a fill or a cancel."""
        if order.background:
            return
        acct = self.accounts[order.account]
        if order.side == "BUY":
            want = _ceil_div(order.price * order.remaining, _PRICE_DENOM) if order.status == "LIVE" else 0
            acct.reserved_cash -= order.reserved - want
        else:
            want = order.remaining if order.status == "LIVE" else 0
            acct.reserved[order.token_id] = acct.reserved.get(order.token_id, 0) - (order.reserved - want)
        order.reserved = want

    # --- matching ------------------------------------------------------------------------------------

    def _match(self, taker: Order, m: ExMarket, book: UnifiedBook) -> list[Trade]:
        limit_yes = taker.limit if taker.is_yes else ONE - taker.limit
        fills: list[tuple[int, MakerFill]] = []  # (yes price, fill)
        for yes_px in book.crossing_prices(taker.is_bid, limit_yes):
            for maker in book.queue(not taker.is_bid, yes_px):
                if taker.remaining <= 0:
                    break
                if self._skip(taker, maker):
                    continue
                qty = min(taker.remaining, maker.remaining)
                book.reduce(maker, qty)
                maker.matched += qty
                taker.remaining -= qty
                taker.matched += qty
                if maker.remaining <= 0:
                    maker.status = "MATCHED"
                self._release(maker)
                fills.append((yes_px, MakerFill(maker, qty, maker.price)))
            if taker.remaining <= 0:
                break
        if not fills:
            return []
        # one trade per price level the taker reached (Polymarket splits trades into buckets too)
        trades: list[Trade] = []
        now = self.now_ms()
        for bucket, (yes_px, group) in enumerate(itertools.groupby(fills, key=lambda f: f[0])):
            makers = [f for _, f in group]
            size = sum(f.qty for f in makers)
            price = yes_px if taker.is_yes else ONE - yes_px
            fee_dec = m.fees.taker_fee(price, size) if not taker.background else Decimal(0)
            trade = Trade(
                id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                market=m.condition_id,
                taker=taker,
                asset_id=taker.token_id,
                side=taker.side,
                price=price,
                size=size,
                fee=int(fee_dec * SIZE_SCALE),
                fee_rate_bps=str(int(m.fees.rate * 10_000)) if fee_dec else "0",
                makers=makers,
                match_ms=now,
                bucket_index=bucket,
                last_update_ms=now,
            )
            trade.transaction_hash = "0x" + hashlib.sha256(f"{trade.id}:0".encode()).hexdigest()
            self._settle(trade)
            self._choose_fate(trade)
            self.trades[trade.id] = trade
            self._trade_order.append(trade.id)
            taker.associate_trades.append(trade.id)
            for f in makers:
                if trade.id not in f.order.associate_trades:
                    f.order.associate_trades.append(trade.id)
            trades.append(trade)
            self._pending_trades.setdefault(m.condition_id, []).append(trade)
            m.last_trade_px = yes_px
            m.last_trade_side = "BUY" if taker.is_bid else "SELL"
            self._record_history(m, yes_px)
        for trade in trades:
            self._emit_trade(trade)
            self._at(now + self.config.mined_delay_ms, lambda tid=trade.id: self._advance_trade(tid))
        for maker in {id(f.order): f.order for t in trades for f in t.makers}.values():
            if not maker.background:
                self._emit_order(maker, "UPDATE")
        return trades

    def _settle(self, trade: Trade) -> None:
        """Move cash and shares for every side of the trade; remembered for a FAILED reversal."""

        def move(order: Order, price: int, qty: int, fee: int) -> None:
            if order.background:
                return
            acct = self.accounts[order.account]
            gross = price * qty
            token = order.token_id
            if order.side == "BUY":
                cash = -_ceil_div(gross, _PRICE_DENOM)
                shares = qty
                acct.cost[token] = acct.cost.get(token, Decimal(0)) + Decimal(-cash) / SIZE_SCALE
                acct.bought[token] = acct.bought.get(token, 0) + qty
            else:
                cash = gross // _PRICE_DENOM
                shares = -qty
                held = acct.positions.get(token, 0)
                basis = acct.cost.get(token, Decimal(0))
                part = basis * qty / held if held > 0 else Decimal(0)
                acct.cost[token] = basis - part
                acct.realized[token] = (
                    acct.realized.get(token, Decimal(0)) + Decimal(cash) / SIZE_SCALE - part
                )
            cash -= fee
            if fee:
                acct.fees_paid[token] = acct.fees_paid.get(token, Decimal(0)) + Decimal(fee) / SIZE_SCALE
            acct.cash += cash
            acct.positions[token] = acct.positions.get(token, 0) + shares
            trade.transfers.append((order.account, "", cash))
            trade.transfers.append((order.account, token, shares))

        for f in trade.makers:
            move(f.order, f.price, f.qty, 0)
        move(trade.taker, trade.price, trade.size, trade.fee)

    def _choose_fate(self, trade: Trade) -> None:
        if self._force_fail > 0:
            self._force_fail -= 1
            trade.fate = "fail"
        elif self.faults.chance(self.faults.trade_fail_rate):
            trade.fate = "fail"
        elif self.faults.chance(self.faults.trade_retry_rate):
            trade.fate = "retry"

    def fail_next_trades(self, n: int = 1) -> None:
        """The next `n` trades will go MATCHED -> RETRYING -> FAILED."""
        self._force_fail += n

    def _advance_trade(self, trade_id: str) -> None:
        trade = self.trades[trade_id]
        cfg = self.config
        status = trade.status
        nxt: str | None
        delay = 0
        if status == "MATCHED":
            if trade.fate == "ok":
                nxt, delay = "MINED", cfg.confirmed_delay_ms
            else:
                nxt, delay = "RETRYING", cfg.retry_delay_ms
        elif status == "RETRYING":
            if trade.fate == "fail":
                nxt = "FAILED"
            else:
                nxt, delay = "MINED", cfg.confirmed_delay_ms
                trade.transaction_hash = "0x" + hashlib.sha256(f"{trade.id}:1".encode()).hexdigest()
        elif status == "MINED":
            nxt = "CONFIRMED"
        else:
            return
        self._set_trade_status(trade, nxt)
        if nxt in ("MINED", "RETRYING"):
            self._at(self.now_ms() + delay, lambda: self._advance_trade(trade_id))

    def _set_trade_status(self, trade: Trade, status: str) -> None:
        trade.status = status
        trade.last_update_ms = self.now_ms()
        if status == "FAILED":
            for account, token, delta in trade.transfers:
                acct = self.accounts[account]
                if token:
                    acct.positions[token] = acct.positions.get(token, 0) - delta
                else:
                    acct.cash -= delta
        self._emit_trade(trade)

    # --- cancels and expiry --------------------------------------------------------------------------

    def _cancel_order(self, order: Order, status: str = "CANCELED") -> None:
        book = self.books[order.market]
        self._cause = order.id
        book.remove(order)
        order.status = status
        self._release(order)
        if not order.background:
            self._emit_order(order, "CANCELLATION")

    def accounts_of(self, creds: ApiCreds) -> set[str]:
        """Lower-case accounts an API key acts for: its own address and any wallet it traded from."""
        out = {creds.address.lower()}
        funder = self._funder_of_key.get(creds.key)
        if funder:
            out.add(funder.lower())
        return out

    def cancel(self, creds: ApiCreds, order_ids: Iterable[str]) -> dict[str, Any]:
        mine = self.accounts_of(creds)
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for oid in order_ids:
            order = self.orders.get(oid)
            if order is None or order.account not in mine:
                not_canceled[oid] = E.ORDER_NOT_FOUND_REASON
            elif order.status != "LIVE":
                not_canceled[oid] = E.NOT_CANCELED_REASON
            else:
                self._cancel_order(order)
                canceled.append(oid)
        self._flush()
        return {"canceled": canceled, "not_canceled": not_canceled}

    def open_orders(
        self,
        creds: ApiCreds | None = None,
        *,
        accounts: set[str] | None = None,
        market: str | None = None,
        asset_id: str | None = None,
        order_id: str | None = None,
    ) -> list[Order]:
        mine = accounts if accounts is not None else self.accounts_of(creds) if creds is not None else set()
        out = []
        for o in self.orders.values():
            if o.account not in mine or o.status != "LIVE":
                continue
            if market and o.market != market.lower():
                continue
            if asset_id and o.token_id != asset_id:
                continue
            if order_id and o.id != order_id:
                continue
            out.append(o)
        out.sort(key=lambda o: o.seq)
        return out

    def cancel_all(
        self,
        creds: ApiCreds | None = None,
        *,
        accounts: set[str] | None = None,
        market: str | None = None,
        asset_id: str | None = None,
        owner: str | None = None,
        status: str = "CANCELED",
    ) -> dict[str, Any]:
        canceled = []
        for order in self.open_orders(creds, accounts=accounts, market=market, asset_id=asset_id):
            if owner is not None and order.owner != owner:
                continue
            self._cancel_order(order, status)
            canceled.append(order.id)
        self._flush()
        return {"canceled": canceled, "not_canceled": {}}

    def _expire(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is not None and order.status == "LIVE":
            self._cancel_order(order, "CANCELED_EXPIRED_ORDER")

    # --- heartbeats ----------------------------------------------------------------------------------

    def heartbeat(self, creds: ApiCreds, heartbeat_id: str) -> str:
        """POST /v1/heartbeats: rotate the id; a wrong id is refused with the one expected."""
        now = self.now_ms()
        current = self._heartbeats.get(creds.key)
        expected = current[0] if current else ""
        if heartbeat_id != expected:
            raise E.ExchangeError(400, E.INVALID_HEARTBEAT, heartbeat_id=expected)
        new_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._heartbeats[creds.key] = (new_id, now)
        self._at(now + self.config.heartbeat_timeout_ms, lambda: self._heartbeat_check(creds, new_id))
        return new_id

    def _heartbeat_check(self, creds: ApiCreds, heartbeat_id: str) -> None:
        current = self._heartbeats.get(creds.key)
        if current is None or current[0] != heartbeat_id:
            return  # a later heartbeat arrived
        del self._heartbeats[creds.key]
        mine = {o.account for o in self.orders.values() if o.owner == creds.key and o.status == "LIVE"}
        self.cancel_all(accounts=mine, owner=creds.key)

    # --- background market ---------------------------------------------------------------------------

    def _apply_line(self, line: ReplayLine) -> None:
        m = self.markets.get(line.condition_id)
        if m is None or m.closed or not m.accepting_orders:
            return
        self._bg_fine[m.condition_id] = line.fine_tick
        self._set_background(m.condition_id, line.bids, line.asks)

    def set_background(self, condition_id: str, bids: Iterable[Any], asks: Iterable[Any]) -> None:
        """Replace the anonymous maker's resting liquidity (YES terms, best first; prices and sizes as
        integer units or decimal strings). New liquidity that crosses resting user orders trades with them
        at the user's price, like any incoming order."""
        try:
            self._set_background(condition_id, bids, asks)
        finally:
            self._flush()

    def _set_background(self, condition_id: str, bids: Iterable[Any], asks: Iterable[Any]) -> None:
        cid = condition_id.lower()
        m = self.markets[cid]
        book = self.books[cid]
        bg = self._background[cid]
        want: dict[tuple[bool, int], int] = {}
        order_of_levels: list[tuple[bool, int]] = []
        for is_bid, levels in ((True, bids), (False, asks)):
            for px_raw, qty_raw in levels:
                px, qty = _units(px_raw, qty_raw)
                if qty <= 0:
                    continue
                slot = (is_bid, px)
                if slot not in want:
                    order_of_levels.append(slot)
                want[slot] = want.get(slot, 0) + qty
        self._cause = "0x" + hashlib.sha256(f"bg:{cid}:{self.now_ms()}".encode()).hexdigest()
        # shrink first (newest background orders go first), so no old level is left to cross the new ones
        for slot, orders in list(bg.items()):
            orders[:] = [o for o in orders if o.remaining > 0 and o.status == "LIVE"]
            excess = sum(o.remaining for o in orders) - want.get(slot, 0)
            while excess > 0 and orders:
                o = orders[-1]
                take = min(o.remaining, excess)
                book.reduce(o, take)
                excess -= take
                if o.remaining <= 0:
                    o.status = "CANCELED"
                    orders.pop()
            if not orders:
                del bg[slot]
        for slot in order_of_levels:
            is_bid, px = slot
            have = sum(o.remaining for o in bg.get(slot, ()))
            if want[slot] > have:
                self._place_background(m, book, is_bid, px, want[slot] - have)
        self._update_tick(m)

    def _place_background(self, m: ExMarket, book: UnifiedBook, is_bid: bool, px: int, qty: int) -> None:
        n = next(self._seq)
        order = Order(
            id="0x" + hashlib.sha256(f"bg:{m.condition_id}:{n}".encode()).hexdigest(),
            owner="",
            account=BACKGROUND,
            maker_address="0x0000000000000000000000000000000000000000",
            signer="",
            market=m.condition_id,
            token_id=m.yes_token,
            is_yes=True,
            side="BUY" if is_bid else "SELL",
            price=px,
            limit=Fraction(px),
            original=qty,
            maker_amount=0,
            taker_amount=0,
            order_type="GTC",
            expiration=0,
            created_ms=self.now_ms(),
            background=True,
            remaining=qty,
            seq=n,
        )
        if book.crosses(is_bid, Fraction(px)):
            self._match(order, m, book)
        if order.remaining > 0:
            self._rest(order, m, book, placement=False)
            self._background[m.condition_id].setdefault((is_bid, px), []).append(order)

    def _update_tick(self, m: ExMarket) -> None:
        if m.base_tick <= self.config.fine_tick:
            return
        bid, ask = self.books[m.condition_id].top(True)
        extreme = any(
            p is not None and (p < self.config.fine_tick_low or p > self.config.fine_tick_high)
            for p in (bid, ask)
        )
        want = self.config.fine_tick if extreme or self._bg_fine.get(m.condition_id) else m.base_tick
        if want != m.tick:
            old = m.tick
            m.tick = want
            now = str(self.now_ms())
            for token in (m.yes_token, m.no_token):
                self._pending_market.append(
                    MarketMessage(
                        m.condition_id,
                        (token,),
                        {
                            "event_type": "tick_size_change",
                            "asset_id": token,
                            "market": m.condition_id,
                            "old_tick_size": px_to_str(old),
                            "new_tick_size": px_to_str(want),
                            "timestamp": now,
                        },
                    )
                )

    # --- market lifecycle ----------------------------------------------------------------------------

    def _close_market(self, cid: str) -> None:
        m = self.markets[cid]
        if not m.accepting_orders:
            return
        m.accepting_orders = False
        book = self.books[cid]
        for order in list(book.orders()):
            self._cancel_order(order, "CANCELED_MARKET_RESOLVED")
        self._background[cid].clear()

    def _resolve_market(self, cid: str) -> None:
        m = self.markets[cid]
        if m.closed:
            return
        self._close_market(cid)
        m.closed = True
        payout = m.resolution.yes_payout if m.resolution is not None else Decimal("0.5")
        m.winner = m.yes_token if payout == 1 else m.no_token if payout == 0 else None
        if self.config.auto_redeem:
            for acct in self.accounts.values():
                for token, share in ((m.yes_token, payout), (m.no_token, 1 - payout)):
                    qty = acct.positions.get(token, 0)
                    if qty > 0:
                        paid = int(Decimal(qty) * share)
                        acct.cash += paid
                        acct.realized[token] = (
                            acct.realized.get(token, Decimal(0))
                            + Decimal(paid) / SIZE_SCALE
                            - acct.cost.get(token, Decimal(0))
                        )
                        acct.cost[token] = Decimal(0)
                        acct.positions[token] = 0
        winner_label = m.label(m.winner) if m.winner else ""
        self._pending_market.append(
            MarketMessage(
                cid,
                (m.yes_token, m.no_token),
                {
                    "event_type": "market_resolved",
                    "id": m.gamma_id,
                    "market": cid,
                    "assets_ids": [m.yes_token, m.no_token],
                    "winning_asset_id": m.winner or "",
                    "winning_outcome": winner_label,
                    "timestamp": str(self.now_ms()),
                    "tags": [m.category] if m.category else [],
                },
                custom=True,
            )
        )

    def _emit_new_market(self, m: ExMarket) -> None:
        self._pending_market.append(
            MarketMessage(
                m.condition_id,
                (m.yes_token, m.no_token),
                {
                    "event_type": "new_market",
                    "id": m.gamma_id,
                    "question": m.question,
                    "market": m.condition_id,
                    "slug": m.slug,
                    "description": m.question,
                    "assets_ids": [m.yes_token, m.no_token],
                    "outcomes": [m.yes_label, m.no_label],
                    "event_message": {
                        "id": m.event_id,
                        "ticker": m.slug,
                        "slug": m.slug,
                        "title": m.question,
                        "description": m.question,
                    },
                    "timestamp": str(self.now_ms()),
                    "tags": [m.category] if m.category else [],
                    "condition_id": m.condition_id,
                    "active": True,
                    "clob_token_ids": [m.yes_token, m.no_token],
                    "sports_market_type": "",
                    "line": "",
                    "game_start_time": "",
                    "order_price_min_tick_size": m.tick_str,
                    "group_item_title": "",
                },
                custom=True,
                broadcast=True,
            )
        )

    def _record_history(self, m: ExMarket, yes_px: int) -> None:
        now_s = self.now_s()
        if m.history and m.history[-1][0] == now_s:
            m.history[-1] = (now_s, yes_px)
        else:
            m.history.append((now_s, yes_px))
            if len(m.history) > HISTORY_CAP:
                del m.history[: len(m.history) - HISTORY_CAP]

    # --- views ---------------------------------------------------------------------------------------

    def book_summary(self, token_id: str) -> dict[str, Any]:
        """The REST `/book` object (and the WS `book` payload minus event_type)."""
        m = self.by_token[token_id]
        is_yes = m.is_yes(token_id)
        bids, asks = wire_levels(*self.books[m.condition_id].levels(is_yes))
        body: dict[str, Any] = {
            "market": m.condition_id,
            "asset_id": token_id,
            "timestamp": str(m.book_ts),
            "hash": "",
            "bids": bids,
            "asks": asks,
            "min_order_size": m.min_size_str,
            "tick_size": m.tick_str,
            "neg_risk": m.neg_risk,
            "last_trade_price": self.last_trade_price(token_id)[0],
        }
        body["hash"] = book_hash(body)
        return body

    def top(self, token_id: str) -> tuple[int | None, int | None]:
        m = self.by_token[token_id]
        return self.books[m.condition_id].top(m.is_yes(token_id))

    def mid(self, token_id: str) -> int | None:
        bid, ask = self.top(token_id)
        if bid is None or ask is None:
            return None
        return (bid + ask) // 2 if (bid + ask) % 2 == 0 else None

    def mid_str(self, token_id: str) -> str:
        bid, ask = self.top(token_id)
        b = 0 if bid is None else bid
        a = ONE if ask is None else ask
        return _dec_units(b + a, 2 * PRICE_SCALE)

    def last_trade_price(self, token_id: str) -> tuple[str, str]:
        m = self.by_token[token_id]
        if m.last_trade_px is None:
            return "", ""
        if m.is_yes(token_id):
            return px_to_str(m.last_trade_px), m.last_trade_side
        return px_to_str(ONE - m.last_trade_px), "SELL" if m.last_trade_side == "BUY" else "BUY"

    def yes_mid_px(self, m: ExMarket) -> int | None:
        bid, ask = self.books[m.condition_id].top(True)
        if bid is None or ask is None:
            return None
        return (bid + ask) // 2

    def order_json(self, order: Order) -> dict[str, Any]:
        m = self.markets[order.market]
        return {
            "id": order.id,
            "status": order.status,
            "owner": order.owner,
            "maker_address": order.maker_address,
            "market": order.market,
            "asset_id": order.token_id,
            "side": order.side,
            "original_size": qty_to_str(order.original),
            "size_matched": qty_to_str(order.matched),
            "price": px_to_str(order.price),
            "associate_trades": list(order.associate_trades),
            "outcome": m.label(order.token_id),
            "created_at": order.created_ms // 1000,
            "expiration": str(order.expiration),
            "order_type": order.order_type,
        }

    def trade_json(self, trade: Trade, viewer: str) -> dict[str, Any]:
        """A trade as `viewer` (lower-case account) sees it: the taker gets every maker order, a maker only
        its own."""
        m = self.markets[trade.market]
        taker = trade.taker
        as_taker = taker.account == viewer
        makers = trade.makers if as_taker else [f for f in trade.makers if f.order.account == viewer]
        if as_taker:
            owner, address = taker.owner, taker.maker_address
        else:
            owner = makers[0].order.owner if makers else ""
            address = makers[0].order.maker_address if makers else ""
        return {
            "id": trade.id,
            "taker_order_id": taker.id,
            "market": trade.market,
            "asset_id": trade.asset_id,
            "side": trade.side,
            "size": qty_to_str(trade.size),
            "fee_rate_bps": trade.fee_rate_bps,
            "price": px_to_str(trade.price),
            "status": trade.status,
            "match_time": str(trade.match_ms // 1000),
            "last_update": str(trade.last_update_ms // 1000),
            "outcome": m.label(trade.asset_id),
            "bucket_index": trade.bucket_index,
            "owner": owner,
            "maker_address": address,
            "transaction_hash": trade.transaction_hash,
            "maker_orders": [
                {
                    "order_id": f.order.id,
                    "owner": f.order.owner,
                    "maker_address": f.order.maker_address,
                    "matched_amount": qty_to_str(f.qty),
                    "price": px_to_str(f.price),
                    "fee_rate_bps": "0",
                    "asset_id": f.order.token_id,
                    "outcome": m.label(f.order.token_id),
                    "side": f.order.side,
                }
                for f in makers
            ],
            "trader_side": "TAKER" if as_taker else "MAKER",
        }

    def trades_of(self, accounts: set[str]) -> list[Trade]:
        """Trades in which any of `accounts` took part, newest first."""
        out = []
        for tid in reversed(self._trade_order):
            t = self.trades[tid]
            if t.taker.account in accounts or any(f.order.account in accounts for f in t.makers):
                out.append(t)
        return out

    def viewer_of(self, trade: Trade, accounts: set[str]) -> str:
        if trade.taker.account in accounts:
            return trade.taker.account
        return next(f.order.account for f in trade.makers if f.order.account in accounts)

    def _order_response(self, order: Order, trades: list[Trade]) -> dict[str, Any]:
        if not trades:
            return {
                "success": True,
                "errorMsg": "",
                "orderID": order.id,
                "status": "live",
                "makingAmount": "",
                "takingAmount": "",
                "transactionsHashes": [],
                "tradeIDs": [],
            }
        cash = 0
        shares = 0
        for t in trades:
            gross = t.price * t.size
            cash += _ceil_div(gross, _PRICE_DENOM) if order.side == "BUY" else gross // _PRICE_DENOM
            shares += t.size
        making, taking = (cash, shares) if order.side == "BUY" else (shares, cash)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.id,
            "status": "matched",
            "makingAmount": _dec_units(making, SIZE_SCALE),
            "takingAmount": _dec_units(taking, SIZE_SCALE),
            "transactionsHashes": [t.transaction_hash for t in trades],
            "tradeIDs": [t.id for t in trades],
        }

    # --- events --------------------------------------------------------------------------------------

    def _emit_order(
        self, order: Order, kind: str, *, status: str | None = None, matched: str | None = None
    ) -> None:
        m = self.markets[order.market]
        now = self.now_ms()
        payload = {
            "event_type": "order",
            "type": kind,
            "id": order.id,
            "owner": order.owner,
            "order_owner": order.owner,
            "market": order.market,
            "asset_id": order.token_id,
            "side": order.side,
            "price": px_to_str(order.price),
            "original_size": qty_to_str(order.original),
            "size_matched": qty_to_str(order.matched) if matched is None else matched,
            "outcome": m.label(order.token_id),
            "order_type": order.order_type,
            "status": status or order.status,
            "associate_trades": list(order.associate_trades) or None,
            "maker_address": order.maker_address,
            "created_at": str(order.created_ms // 1000),
            "expiration": str(order.expiration),
            "timestamp": str(now),
        }
        self._pending_user.append(UserMessage(order.account, order.market, payload))

    def _emit_trade(self, trade: Trade) -> None:
        viewers = [trade.taker.account] + [f.order.account for f in trade.makers]
        now = str(self.now_ms())
        for viewer in dict.fromkeys(viewers):
            if viewer == BACKGROUND:
                continue
            body = self.trade_json(trade, viewer)
            payload = {
                "event_type": "trade",
                "type": "TRADE",
                **body,
                "trade_owner": body["owner"],
                "timestamp": now,
            }
            self._pending_user.append(UserMessage(viewer, trade.market, payload))

    def _flush(self) -> None:
        """Publish what the finished operation changed: price changes (both tokens of every changed level),
        trades (last trade price + fresh books), best bid/ask moves, then user events."""
        self._cause = ""
        out: list[MarketMessage | UserMessage] = []
        for cid, changes in self._pending_levels.items():
            if not changes:
                continue
            m = self.markets[cid]
            entries = []
            for is_bid, px, size, bb, ba, cause in changes:
                h = hashlib.sha1((cause or f"{cid}:{px}").encode()).hexdigest()
                size_s = qty_to_str(size)
                entries.append(
                    {
                        "asset_id": m.yes_token,
                        "price": px_to_str(px),
                        "size": size_s,
                        "side": "BUY" if is_bid else "SELL",
                        "hash": h,
                        "best_bid": px_to_str(bb) if bb is not None else "0",
                        "best_ask": px_to_str(ba) if ba is not None else "1",
                    }
                )
                entries.append(
                    {
                        "asset_id": m.no_token,
                        "price": px_to_str(ONE - px),
                        "size": size_s,
                        "side": "SELL" if is_bid else "BUY",
                        "hash": h,
                        "best_bid": px_to_str(ONE - ba) if ba is not None else "0",
                        "best_ask": px_to_str(ONE - bb) if bb is not None else "1",
                    }
                )
            out.append(
                MarketMessage(
                    cid,
                    (m.yes_token, m.no_token),
                    {
                        "event_type": "price_change",
                        "market": cid,
                        "price_changes": entries,
                        "timestamp": str(self.now_ms()),
                    },
                )
            )
        self._pending_levels = {}
        for cid, trades in self._pending_trades.items():
            m = self.markets[cid]
            now = str(self.now_ms())
            for t in trades:
                for token in (m.yes_token, m.no_token):
                    same = token == t.asset_id
                    price = t.price if same else ONE - t.price
                    side = t.side if same else ("SELL" if t.side == "BUY" else "BUY")
                    out.append(
                        MarketMessage(
                            cid,
                            (token,),
                            {
                                "event_type": "last_trade_price",
                                "asset_id": token,
                                "market": cid,
                                "fee_rate_bps": t.fee_rate_bps,
                                "price": px_to_str(price),
                                "side": side,
                                "size": qty_to_str(t.size),
                                "timestamp": now,
                                "transaction_hash": t.transaction_hash,
                            },
                        )
                    )
            for token in (m.yes_token, m.no_token):
                out.append(MarketMessage(cid, (token,), {"event_type": "book", **self.book_summary(token)}))
        self._pending_trades = {}
        for cid, book in self.books.items():
            top = (book.best_bid(), book.best_ask())
            if top != self._tops[cid]:
                self._tops[cid] = top
                m = self.markets[cid]
                now = str(self.now_ms())
                for token in (m.yes_token, m.no_token):
                    bid, ask = book.top(m.is_yes(token))
                    out.append(
                        MarketMessage(
                            cid,
                            (token,),
                            {
                                "event_type": "best_bid_ask",
                                "market": cid,
                                "asset_id": token,
                                "best_bid": px_to_str(bid) if bid is not None else "0",
                                "best_ask": px_to_str(ask) if ask is not None else "1",
                                "spread": px_to_str(
                                    (ONE if ask is None else ask) - (0 if bid is None else bid)
                                ),
                                "timestamp": now,
                            },
                            custom=True,
                        )
                    )
                mid = self.yes_mid_px(m)
                if mid is not None:
                    self._record_history(m, mid)
        out.extend(self._pending_market)
        self._pending_market = []
        out.extend(self._pending_user)
        self._pending_user = []
        for message in out:
            for sink in list(self.sinks):
                sink(message)

    # --- balances ------------------------------------------------------------------------------------

    def balance_allowance(self, acct: Account, asset_type: str, token_id: str | None) -> dict[str, Any]:
        from .markets import MAX_UINT256, NEG_RISK_ADAPTER, NEG_RISK_EXCHANGE, STANDARD_EXCHANGE

        allowances = {
            STANDARD_EXCHANGE: MAX_UINT256,
            NEG_RISK_EXCHANGE: MAX_UINT256,
            NEG_RISK_ADAPTER: MAX_UINT256,
        }
        if asset_type == "COLLATERAL":
            return {"balance": str(acct.cash), "allowances": allowances}
        balance = acct.positions.get(token_id or "", 0)
        return {"balance": str(balance), "allowances": allowances}


def _units(px: Any, qty: Any) -> tuple[int, int]:
    from engine.units import px_from_str, qty_from_str

    p = px if isinstance(px, int) else px_from_str(str(px))
    q = qty if isinstance(qty, int) else qty_from_str(str(qty))
    return p, q


__all__ = [
    "BACKGROUND",
    "Account",
    "ApiCreds",
    "Exchange",
    "ExchangeConfig",
    "ManualClock",
    "MarketMessage",
    "NewOrder",
    "Trade",
    "UserMessage",
    "WallClock",
]
