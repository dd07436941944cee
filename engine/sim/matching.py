"""In-process matching of our orders against an externally driven book (replay, synthetic or live data).

The book belongs to the market, not to us: its levels come from the data source and never contain our
orders. We model how our orders would have fared:

- Arrival: an order reaches the exchange after the submit latency. Exchange rules are checked with the
  exchange's own messages. The marketable part walks the book at the makers' prices and pays the market's
  taker fee; liquidity we took is remembered per level until the data next updates that level.
- Resting: the order joins the back of its level (`ahead` = visible size there) and fills only when
  * the book trades through it: the opposite side reaches our price (we are matched after any better
    priced and earlier orders), or our level vanishes while our side's best moves past our price; or
  * it depletes its level: while our level is the touch, size leaving it is treated as trades, first
    consuming the queue ahead of us, then us. Size leaving a level away from the touch is cancellation,
    which moves us up pro rata.
  Maker fills pay no fee (Polymarket's schedule is taker-only).
- Cancel takes effect after the cancel latency; fills can still happen meanwhile.

Everything is expressed in YES terms internally (one unified book); NO orders are mirrored at the edge.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from engine.book import Delta, OrderBook
from engine.clock import SimClock, WallClock
from engine.domain import Fill, Liquidity, Market, OrderRequest, OrderType, Outcome, Side
from engine.units import ONE, notional, px_to_str, qty_to_str
from engine.venues.base import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    Settled,
    VenueEvent,
)

# Exchange messages, verbatim from the protocol notes (section 7).
MSG_TICK = "order {id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"
MSG_MIN_SIZE = "order {id} is invalid. Size ({size}) lower than the minimum: {min}"
MSG_DUPLICATE = "order {id} is invalid. Duplicated."
MSG_BALANCE = "not enough balance / allowance"
MSG_EXPIRATION = "invalid expiration"
MSG_POST_ONLY_CROSS = "invalid post-only order: order crosses book"
MSG_POST_ONLY_TYPE = "invalid post-only order type: post-only is only allowed with GTC or GTD"
MSG_FOK = "order couldn't be fully filled. FOK orders are fully filled or killed."
MSG_FAK = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
MSG_MARKETABLE_MIN = "invalid amount for a marketable BUY order (${amount}), min size: 1"
MSG_CLOSED = "the market is not accepting orders"
GTD_SECURITY_S = 60


@dataclass(frozen=True, slots=True)
class LatencyModel:
    submit_ms: int = 150
    cancel_ms: int = 100
    jitter_ms: int = 50

    def submit_delay(self, rng: random.Random) -> int:
        return self.submit_ms + (rng.randint(0, self.jitter_ms) if self.jitter_ms else 0)

    def cancel_delay(self, rng: random.Random) -> int:
        return self.cancel_ms + (rng.randint(0, self.jitter_ms) if self.jitter_ms else 0)


@dataclass
class SimAccount:
    """The exchange's view of our balances: cash, tokens and what resting orders hold back."""

    cash: Decimal
    tokens: dict[str, int] = field(default_factory=dict)
    reserved_cash: Decimal = Decimal(0)
    reserved_tokens: dict[str, int] = field(default_factory=dict)

    def free_cash(self) -> Decimal:
        return self.cash - self.reserved_cash

    def free_tokens(self, token_id: str) -> int:
        return self.tokens.get(token_id, 0) - self.reserved_tokens.get(token_id, 0)


@dataclass(slots=True)
class _Resting:
    request: OrderRequest
    venue_order_id: str
    is_bid: bool  # YES-terms side of the book the order rests on
    yes_px: int
    remaining: int
    ahead: int


def _to_yes(req: OrderRequest) -> tuple[bool, int]:
    buy = req.side is Side.BUY
    if req.outcome is Outcome.YES:
        return buy, req.price
    return (not buy), ONE - req.price


def venue_order_id(client_order_id: str) -> str:
    return "0x" + hashlib.sha256(client_order_id.encode()).hexdigest()


class MatchingEngine:
    """Matches our orders for any number of markets. Events accumulate in `outbox` for the venue to deliver."""

    def __init__(
        self,
        clock: SimClock | WallClock,
        account: SimAccount,
        latency: LatencyModel,
        seed: int,
    ) -> None:
        self.clock = clock
        self.account = account
        self.latency = latency
        self.rng = random.Random(seed)
        self.outbox: list[VenueEvent] = []
        self.markets: dict[str, Market] = {}
        self.books: dict[str, OrderBook] = {}
        self.ticks: dict[str, int] = {}
        self.closed: set[str] = set()
        self._resting: dict[str, dict[str, _Resting]] = {}  # condition id -> client id -> order
        self._consumed: dict[str, dict[tuple[bool, int], int]] = {}  # liquidity we took, per level
        self._seen_ids: set[str] = set()
        self._trade_seq = 0
        # Fills are idempotent by trade id in the store, which may hold earlier runs: a simulated trade id
        # must never repeat across runs, or a second run into the same database would drop its fills.
        self._trade_prefix = f"T{secrets.token_hex(4)}-"

    def state_of_account(self) -> tuple[dict[str, int], frozenset[str]]:
        """Token balances and resting order ids as the exchange sees them (for reconciliation)."""
        tokens = {t: q for t, q in self.account.tokens.items() if q}
        ids = frozenset(r.venue_order_id.lower() for book in self._resting.values() for r in book.values())
        return tokens, ids

    # --- markets and data --------------------------------------------------------------------
    def add_market(self, market: Market) -> OrderBook:
        book = OrderBook()
        self.markets[market.condition_id] = market
        self.books[market.condition_id] = book
        self.ticks[market.condition_id] = market.tick
        self._resting[market.condition_id] = {}
        self._consumed[market.condition_id] = {}
        return book

    def set_tick(self, condition_id: str, tick: int) -> None:
        self.ticks[condition_id] = tick

    def apply(self, condition_id: str, deltas: list[Delta], ts: int) -> None:
        """Apply data-driven level changes, then let our resting orders react to them."""
        book = self.books[condition_id]
        resting = self._resting[condition_id]
        consumed = self._consumed[condition_id]
        before = None
        if resting:
            before = (
                book.best_bid,
                book.best_ask,
                {
                    oid: (book.bid_size(o.yes_px) if o.is_bid else book.ask_size(o.yes_px))
                    for oid, o in resting.items()
                },
            )
        if consumed:
            for is_bid, px, _ in deltas:
                consumed.pop((is_bid, px), None)
        book.apply(deltas, ts)
        if before is not None:
            self._react(condition_id, book, before, ts)

    def _available(self, condition_id: str, is_bid: bool, px: int, size: int) -> int:
        return size - self._consumed[condition_id].get((is_bid, px), 0)

    def _react(self, cid: str, book: OrderBook, before, ts: int) -> None:
        old_bb, old_ba, old_sizes = before
        new_bb, new_ba = book.best_bid, book.best_ask
        # Price priority (bids high to low, asks low to high), then time: when the opposite side crosses
        # several of our orders, the better-priced one takes the liquidity first.
        queue = sorted(
            self._resting[cid].items(), key=lambda kv: -kv[1].yes_px if kv[1].is_bid else kv[1].yes_px
        )
        for oid, order in queue:
            px, ahead = order.yes_px, order.ahead
            l0 = old_sizes[oid]
            if order.is_bid:
                l1 = book.bid_size(px)
                crossed = new_ba is not None and new_ba <= px
                through = l0 > 0 and l1 == 0 and new_bb is not None and new_bb < px
                at_touch = old_bb == px
            else:
                l1 = book.ask_size(px)
                crossed = new_bb is not None and new_bb >= px
                through = l0 > 0 and l1 == 0 and new_ba is not None and new_ba > px
                at_touch = old_ba == px
            fill = 0
            if crossed:
                # Opposite orders at or through our price would have matched the better-priced side first.
                opposite = book.iter_asks() if order.is_bid else book.iter_bids()
                avail = 0
                taken: list[tuple[int, int]] = []
                for opx, osz in opposite:
                    if (order.is_bid and opx > px) or (not order.is_bid and opx < px):
                        break
                    a = self._available(cid, not order.is_bid, opx, osz)
                    if a > 0:
                        avail += a
                        taken.append((opx, a))
                better = sum(
                    q
                    for p, q in (book.iter_bids() if order.is_bid else book.iter_asks())
                    if (p > px if order.is_bid else p < px)
                )
                usable = max(0, avail - better)
                fill = min(order.remaining, max(0, usable - ahead))
                order.ahead = max(0, ahead - usable)
                used = fill + (ahead - order.ahead)  # the queue ahead of us took its share too
                for opx, a in taken:  # remember the opposite liquidity our queue and fill consumed
                    if used <= 0:
                        break
                    take = min(a, used)
                    key = (not order.is_bid, opx)
                    self._consumed[cid][key] = self._consumed[cid].get(key, 0) + take
                    used -= take
            elif through:
                fill = order.remaining
                order.ahead = 0
            elif l1 < l0:
                gone = l0 - l1
                if at_touch:
                    fill = min(order.remaining, max(0, gone - ahead))
                    order.ahead = max(0, ahead - gone)
                else:
                    order.ahead = ahead * l1 // l0 if l0 else 0
            if fill > 0:
                self._fill(cid, order, fill, order.yes_px, Liquidity.MAKER, ts)

    # --- order entry -------------------------------------------------------------------------
    def submit(self, request: OrderRequest) -> None:
        arrival = self.clock.now_ms() + self.latency.submit_delay(self.rng)
        self.clock.call_at(arrival, lambda: self._arrive(request))

    def cancel(self, client_order_id: str) -> None:
        effective = self.clock.now_ms() + self.latency.cancel_delay(self.rng)
        self.clock.call_at(effective, lambda: self._cancel_now(client_order_id, "CANCELED"))

    def cancel_all(self) -> None:
        for resting in self._resting.values():
            for oid in list(resting):
                self.cancel(oid)

    def cancel_market(self, condition_id: str, reason: str) -> None:
        """Cancel every order resting in one market at once, saying why (the venue's own decision)."""
        for oid in list(self._resting.get(condition_id, ())):
            self._cancel_now(oid, reason)

    def open_orders(self) -> list[str]:
        return [oid for resting in self._resting.values() for oid in resting]

    def _cancel_now(self, client_order_id: str, reason: str) -> None:
        for resting in self._resting.values():
            order = resting.pop(client_order_id, None)
            if order is not None:
                self._release(order)
                self.outbox.append(OrderCancelled(client_order_id, self.clock.now_ms(), reason))
                return

    def _expire(self, client_order_id: str) -> None:
        for resting in self._resting.values():
            order = resting.pop(client_order_id, None)
            if order is not None:
                self._release(order)
                self.outbox.append(OrderExpired(client_order_id, self.clock.now_ms()))
                return

    def _reject(self, req: OrderRequest, reason: str) -> None:
        self.outbox.append(OrderRejected(req.client_order_id, self.clock.now_ms(), reason))

    def _arrive(self, req: OrderRequest) -> None:
        now = self.clock.now_ms()
        cid = req.condition_id
        market = self.markets.get(cid)
        vid = venue_order_id(req.client_order_id)
        if market is None:
            return self._reject(req, "market not found")
        if cid in self.closed or (market.end_ts is not None and now >= market.end_ts):
            return self._reject(req, MSG_CLOSED)
        if req.client_order_id in self._seen_ids:
            return self._reject(req, MSG_DUPLICATE.format(id=vid))
        self._seen_ids.add(req.client_order_id)
        tick = self.ticks[cid]
        if req.price % tick or not tick <= req.price <= ONE - tick:
            return self._reject(
                req, MSG_TICK.format(id=vid, price=px_to_str(req.price), tick=px_to_str(tick))
            )
        if req.size < market.min_order_size:
            return self._reject(
                req,
                MSG_MIN_SIZE.format(id=vid, size=qty_to_str(req.size), min=qty_to_str(market.min_order_size)),
            )
        if req.post_only and not req.order_type.rests:
            return self._reject(req, MSG_POST_ONLY_TYPE)
        if req.order_type is OrderType.GTD and (
            req.expiration is None or req.expiration * 1000 < now + GTD_SECURITY_S * 1000
        ):
            return self._reject(req, MSG_EXPIRATION)
        is_bid, yes_px = _to_yes(req)
        book = self.books[cid]
        best_opp = book.best_ask if is_bid else book.best_bid
        marketable = best_opp is not None and (best_opp <= yes_px if is_bid else best_opp >= yes_px)
        if req.side is Side.BUY:
            need = notional(req.price, req.size)
            if marketable:
                need += market.fees.taker_fee(req.price, req.size)
            if self.account.free_cash() < need:
                return self._reject(req, MSG_BALANCE)
        elif self.account.free_tokens(req.token_id) < req.size:
            return self._reject(req, MSG_BALANCE)
        if marketable and req.post_only:
            return self._reject(req, MSG_POST_ONLY_CROSS)
        if marketable and req.side is Side.BUY and notional(req.price, req.size) < 1:
            amount = format(notional(req.price, req.size).quantize(Decimal("0.01")), "f")
            return self._reject(req, MSG_MARKETABLE_MIN.format(amount=amount))

        # What the book can give us at or better than our limit, net of what we already took.
        walk: list[tuple[int, int]] = []
        available = 0
        if marketable:
            levels = book.iter_asks() if is_bid else book.iter_bids()
            for px, size in levels:
                if (is_bid and px > yes_px) or (not is_bid and px < yes_px):
                    break
                a = self._available(cid, not is_bid, px, size)
                if a > 0:
                    walk.append((px, a))
                    available += a
        if req.order_type is OrderType.FOK and available < req.size:
            return self._reject(req, MSG_FOK)
        if req.order_type is OrderType.FAK and available == 0:
            return self._reject(req, MSG_FAK)
        if req.side is Side.BUY and walk and self.account.free_cash() < self._walk_cost(req, market, walk):
            # Per-fill fee rounding at the makers' prices can exceed the fee at the limit by a few 1e-6 USDC.
            return self._reject(req, MSG_BALANCE)

        order = _Resting(req, vid, is_bid, yes_px, req.size, 0)
        self.outbox.append(OrderAccepted(req.client_order_id, vid, now))
        consumed = self._consumed[cid]
        for px, a in walk:
            if order.remaining == 0:
                break
            take = min(a, order.remaining)
            key = (not is_bid, px)
            consumed[key] = consumed.get(key, 0) + take
            self._fill(cid, order, take, px, Liquidity.TAKER, now, resting=False)
        if order.remaining == 0:
            return None
        if not req.order_type.rests:
            self.outbox.append(OrderCancelled(req.client_order_id, now, f"{req.order_type.value} remainder"))
            return None
        order.ahead = book.bid_size(yes_px) if is_bid else book.ask_size(yes_px)
        self._reserve(order)
        self._resting[cid][req.client_order_id] = order
        if req.order_type is OrderType.GTD and req.expiration is not None:
            self.clock.call_at(req.expiration * 1000, lambda: self._expire(req.client_order_id))
        return None

    # --- fills and balances ------------------------------------------------------------------
    @staticmethod
    def _walk_cost(req: OrderRequest, market: Market, walk: list[tuple[int, int]]) -> Decimal:
        """Cash a BUY will use: its taker fills with their fees, plus the reservation for what rests."""
        left, cost = req.size, Decimal(0)
        for px, a in walk:
            take = min(a, left)
            token_px = px if req.outcome is Outcome.YES else ONE - px
            cost += notional(token_px, take) + market.fees.taker_fee(token_px, take)
            left -= take
            if left == 0:
                break
        if left and req.order_type.rests:
            cost += notional(req.price, left)
        return cost

    def _reserve(self, order: _Resting) -> None:
        req = order.request
        if req.side is Side.BUY:
            self.account.reserved_cash += notional(req.price, order.remaining)
        else:
            self.account.reserved_tokens[req.token_id] = (
                self.account.reserved_tokens.get(req.token_id, 0) + order.remaining
            )

    def _release(self, order: _Resting, qty: int | None = None) -> None:
        req = order.request
        q = order.remaining if qty is None else qty
        if req.side is Side.BUY:
            self.account.reserved_cash -= notional(req.price, q)
        else:
            self.account.reserved_tokens[req.token_id] -= q

    def _fill(
        self,
        cid: str,
        order: _Resting,
        qty: int,
        yes_px: int,
        liquidity: Liquidity,
        ts: int,
        resting: bool = True,
    ) -> None:
        req = order.request
        market = self.markets[cid]
        token_px = yes_px if req.outcome is Outcome.YES else ONE - yes_px
        fee = market.fees.taker_fee(token_px, qty) if liquidity is Liquidity.TAKER else Decimal(0)
        if resting:
            self._release(order, qty)
        order.remaining -= qty
        value = notional(token_px, qty)
        acct = self.account
        if req.side is Side.BUY:
            acct.cash -= value + fee
            acct.tokens[req.token_id] = acct.tokens.get(req.token_id, 0) + qty
        else:
            acct.cash += value - fee
            acct.tokens[req.token_id] = acct.tokens.get(req.token_id, 0) - qty
        self._trade_seq += 1
        fill = Fill(
            trade_id=f"{self._trade_prefix}{self._trade_seq:09d}",
            client_order_id=req.client_order_id,
            condition_id=cid,
            token_id=req.token_id,
            outcome=req.outcome,
            side=req.side,
            price=token_px,
            size=qty,
            fee=fee,
            liquidity=liquidity,
            ts=ts,
        )
        self.outbox.append(OrderFilled(fill, order.remaining))
        if resting and order.remaining == 0:
            self._resting[cid].pop(req.client_order_id, None)

    # --- market lifecycle --------------------------------------------------------------------
    def close_market(self, condition_id: str) -> None:
        self.closed.add(condition_id)
        for oid in list(self._resting.get(condition_id, {})):
            self._cancel_now(oid, "CANCELED_MARKET_CLOSED")

    def settle(self, condition_id: str, yes_payout: Decimal) -> None:
        """Pay out every token balance of a resolved market: the winner is worth its payout, the loser 0."""
        self.close_market(condition_id)
        market = self.markets[condition_id]
        now = self.clock.now_ms()
        for outcome in (Outcome.YES, Outcome.NO):
            token = market.token(outcome)
            size = self.account.tokens.get(token, 0)
            if size <= 0:
                continue
            per_share = yes_payout if outcome is Outcome.YES else 1 - yes_payout
            cash = (per_share * size).scaleb(-6)
            self.account.tokens[token] = 0
            self.account.cash += cash
            self.outbox.append(Settled(condition_id, token, outcome, now, size, per_share, cash))
