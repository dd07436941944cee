"""Operator questions: what the engine would do, what it has seen, what the venue offers. A query changes
nothing (commands do, engine/commands.py); the UI, the control socket and `ctl` all ask these, and each answer
is a plain frozen dataclass of str, int, float and Decimal fields that crosses the socket as JSON.

Queries and their answers:
    PreviewOrder(ticket)       -> WhatIf       the order ticket's what-if: fee, book walk, caps, refusals
    MarketHistory(cid)         -> PriceHistory the mid over time, our fills and resting orders in one market
    SearchMarkets(words, ...)  -> MarketMatches the venue's catalogue (Gamma, or the replay's data file)
    RunReport(since, until, strategy) -> TruthReport  the truth report of this engine's ledger
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain import OrderType, Outcome, Side
from engine.units import ONE


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """An order the operator types in: one market, one token, one side. Exactly one of `size` (shares, 1e-6)
    and `usdc` (dollars to spend or to receive) is set; `price` None means marketable (the ticket walks the
    book and limits at the worst level it needs, so an FOK/FAK takes what is there and no worse)."""

    condition_id: str
    outcome: Outcome
    side: Side
    price: int | None = None  # 1e-4 units, strictly inside (0, 1); None = marketable
    size: int | None = None  # shares, 1e-6 units
    usdc: Decimal | None = None  # or a dollar amount
    order_type: OrderType = OrderType.GTC
    post_only: bool = False
    expiry_s: int | None = None  # GTD only

    def __post_init__(self) -> None:
        if self.price is not None and not 0 < self.price < ONE:
            raise ValueError(f"ticket price: {self.price / ONE:g} is not strictly between 0 and 1")
        if (self.size is None) == (self.usdc is None):
            raise ValueError("ticket size: give shares or dollars (one of them)")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"ticket size: {self.size / 1e6:g} shares must be > 0")
        if self.usdc is not None and self.usdc <= 0:
            raise ValueError(f"ticket usdc: {self.usdc} must be > 0 dollars")
        if self.post_only and not self.order_type.rests:
            raise ValueError(f"ticket post_only: a {self.order_type.value} order cannot rest (GTC or GTD only)")
        if self.post_only and self.price is None:
            raise ValueError("ticket post_only: a post-only order needs a limit price (marketable would cross)")
        if self.expiry_s is not None and (self.order_type is not OrderType.GTD or self.expiry_s <= 0):
            raise ValueError("ticket expiry_s: seconds > 0, and only for GTD orders")


@dataclass(frozen=True, slots=True)
class PreviewOrder:
    ticket: OrderTicket


@dataclass(frozen=True, slots=True)
class MarketHistory:
    condition_id: str


@dataclass(frozen=True, slots=True)
class SearchMarkets:
    """Words match the question, slug, category and outcomes (every word must match, any case); the rest
    narrow it. `watched` None: both watched and unwatched markets."""

    words: str = ""
    category: str = ""
    min_liquidity: float = 0.0  # USDC
    ends_within_h: float | None = None
    limit: int = 40


@dataclass(frozen=True, slots=True)
class RunReport:
    """The truth report (engine/analytics/truth_report.py) of the ledger this engine writes; times unix ms."""

    since_ms: int | None = None
    until_ms: int | None = None
    strategy: str | None = None


Query = PreviewOrder | MarketHistory | SearchMarkets | RunReport


# --- answers --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One risk rule's word on the ticket: its name, the value it judged, its threshold, and whether it
    lets the order through (`detail` says why not)."""

    name: str
    value: float
    threshold: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WhatIf:
    """What the ticket would do if sent now. Prices 1e-4, sizes 1e-6, money in USDC."""

    ok: bool  # every rule lets it through: sending it would place the order
    summary: str  # one line: what would be sent, or the first refusal
    outcome_label: str  # Up/Down or YES/NO, as the market names it
    side: str
    limit_price: int  # the order's limit (the ticket's, or the worst level a marketable one needs)
    size: int  # shares the order would be for (after a dollar amount is turned into shares)
    size_after_caps: int  # what the risk layers would let through (0 if refused)
    binding_cap: str  # the cap that cut it, "" if none
    notional: Decimal  # price x size
    fee: Decimal  # taker fee on the part that would cross now (0 for a post-only or a resting order)
    fee_rate_bps: float  # fee per share at the effective price, in bps of notional
    crosses: bool  # some of it would trade at once
    fills_now: int  # shares that would trade against the book now
    effective_price: float | None  # average price of the part that trades now (None if nothing would)
    slippage_bps: float  # effective price against the best level, in bps of the best
    levels: int  # book levels the walk takes
    depth_share: float  # part of the visible depth on that side the walk takes
    rests: int  # shares that would rest on the book
    reserves: Decimal  # cash (a buy) or shares (a sell, in shares) this order holds while it works
    cash: Decimal
    available: Decimal  # cash not reserved by working buys
    rules: tuple[RuleCheck, ...]


@dataclass(frozen=True, slots=True)
class PricePoint:
    ts: int
    mid: float


@dataclass(frozen=True, slots=True)
class FillMark:
    ts: int
    price: float  # YES terms, so it plots on the mid's axis
    side: str  # BUY | SELL, in YES terms
    size: float  # shares


@dataclass(frozen=True, slots=True)
class PriceHistory:
    condition_id: str
    title: str
    mids: tuple[PricePoint, ...]
    fills: tuple[FillMark, ...]
    resting: tuple[tuple[str, float], ...]  # (BUY|SELL in YES terms, YES price) of our working orders


@dataclass(frozen=True, slots=True)
class CatalogueRow:
    condition_id: str
    title: str
    slug: str
    category: str
    liquidity: float
    volume: float
    end_ts: int | None
    watched: bool
    outcomes: str  # "Up/Down" or "YES/NO"


@dataclass(frozen=True, slots=True)
class MarketMatches:
    source: str  # where the catalogue came from: "gamma", "replay file", ...
    rows: tuple[CatalogueRow, ...]
    total: int  # matches before the limit


@dataclass(frozen=True, slots=True)
class TruthReport:
    report: dict[str, Any]  # build_report's dict, JSON as it is


# --- on the wire ----------------------------------------------------------------------------------

_QUERY_TYPES: dict[str, type] = {
    "preview": PreviewOrder, "history": MarketHistory, "search": SearchMarkets, "report": RunReport,
}  # fmt: skip
_ANSWER_TYPES: dict[type, type] = {
    PreviewOrder: WhatIf, MarketHistory: PriceHistory, SearchMarkets: MarketMatches, RunReport: TruthReport,
}  # fmt: skip


def answer_type(query: Query) -> type:
    return _ANSWER_TYPES[type(query)]


def query_to_wire(query: Query) -> dict[str, Any]:
    kind = next(k for k, t in _QUERY_TYPES.items() if t is type(query))
    body = dataclasses.asdict(query)
    if isinstance(query, PreviewOrder):
        body["ticket"] = ticket_to_wire(query.ticket)
    return {"type": kind, **body}


def ticket_to_wire(t: OrderTicket) -> dict[str, Any]:
    body = dataclasses.asdict(t)
    body["usdc"] = None if t.usdc is None else str(t.usdc)
    return body


def ticket_from_wire(body: dict[str, Any]) -> OrderTicket:
    """A ticket from JSON; a bad field is named with what is accepted."""
    def enum(name: str, cls: Any, default: Any = None) -> Any:
        raw = body.get(name, default)
        try:
            return cls(raw)
        except ValueError:
            accepted = ", ".join(m.value for m in cls)
            raise ValueError(f"ticket {name}: {raw!r} is not accepted: accepted: {accepted}") from None

    def number(name: str, cast: Any) -> Any:
        raw = body.get(name)
        if raw is None:
            return None
        try:
            return cast(raw)
        except (ValueError, ArithmeticError, TypeError):
            raise ValueError(f"ticket {name}: {raw!r} is not a number") from None

    if not body.get("condition_id"):
        raise ValueError("ticket condition_id: missing (the market's condition id, or its unique tail)")
    return OrderTicket(
        condition_id=str(body["condition_id"]),
        outcome=enum("outcome", Outcome),
        side=enum("side", Side),
        price=number("price", int),
        size=number("size", int),
        usdc=number("usdc", lambda v: Decimal(str(v))),
        order_type=enum("order_type", OrderType, "GTC"),
        post_only=bool(body.get("post_only", False)),
        expiry_s=number("expiry_s", int),
    )


def query_from_wire(body: dict[str, Any]) -> Query:
    kind = body.get("type")
    if kind not in _QUERY_TYPES:
        raise ValueError(f"unknown query type {kind!r}: accepted: {', '.join(_QUERY_TYPES)}")
    try:
        if kind == "preview":
            return PreviewOrder(ticket_from_wire(dict(body.get("ticket") or {})))
        if kind == "history":
            return MarketHistory(str(body["condition_id"]))
        if kind == "report":
            since, until, strategy = body.get("since_ms"), body.get("until_ms"), body.get("strategy")
            return RunReport(
                None if since is None else int(since),
                None if until is None else int(until),
                None if strategy is None else str(strategy),
            )
        hours = body.get("ends_within_h")
        return SearchMarkets(
            words=str(body.get("words", "")),
            category=str(body.get("category", "")),
            min_liquidity=float(body.get("min_liquidity", 0.0)),
            ends_within_h=None if hours is None else float(hours),
            limit=max(1, min(200, int(body.get("limit", 40)))),
        )
    except KeyError as exc:
        raise ValueError(f"query {kind}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"query {kind}: {exc}") from None
