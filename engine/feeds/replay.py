"""Recorded Polymarket books (the resolvedkit format) read as a time-ordered stream.

Format (documented in README "Replay data format"):
- books file: JSON lines, optionally gzip, sorted by `ts`:
  {"market": <condition id>, "ts": <unix ms>, "side": "UP"|"DOWN", "bids": [[price, size], ...],
   "asks": [[price, size], ...]}, best level first, top levels only.
- markets file: a JSON list of {"market_id", "slug", "question", "category", "timeframe", "start_ts",
  "end_ts", "outcome_up", "outcome_down", "payout_up", "payout_down"} plus optional "tick_size",
  "min_order_size", "fee_rate", "fee_exponent", "neg_risk", "event_id", "token_up", "token_down".

UP is the YES token. A DOWN line describes the same unified book from the other token, so its levels are
mirrored into YES terms. Every line becomes one `ReplayLine`; the venue derives level deltas from them.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.book import Level
from engine.domain import CRYPTO_15M_FEES, FeeSchedule, Market, Outcome, Resolution
from engine.units import ONE, UnitError, px_from_float, qty_from_float, qty_from_str, tick_from_str

ATTRIBUTION = "Polymarket order-book data from Resolved Markets (https://resolvedmarkets.com)"
_CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


class ReplayDataError(ValueError):
    """Bad replay input; the message is one line naming the file, the place and the field."""


def bundled_paths() -> tuple[Path, Path]:
    base = resources.files("engine") / "data" / "resolvedkit-sample"
    return Path(str(base / "books.jsonl.gz")), Path(str(base / "markets.json"))


def local_token_id(condition_id: str, label: str) -> str:
    """The sample has no token ids; derive a stable uint256 decimal id like Polymarket's."""
    digest = hashlib.sha256(f"{condition_id.lower()}:{label}".encode()).digest()
    return str(int.from_bytes(digest, "big"))


class _MarketRow(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    market_id: str
    slug: str = ""
    question: str = ""
    category: str = ""
    timeframe: str = ""
    start_ts: int | None = Field(default=None, ge=0)
    end_ts: int = Field(ge=0)
    outcome_up: str = "Up"
    outcome_down: str = "Down"
    payout_up: Decimal | None = None
    payout_down: Decimal | None = None
    tick_size: str = "0.01"
    min_order_size: str = "5"
    fee_rate: Decimal | None = None
    fee_exponent: int | None = Field(default=None, ge=0, le=4)
    neg_risk: bool = False
    event_id: str = ""  # markets of one event (a neg-risk event) are one exposure cluster
    token_up: str | None = None
    token_down: str | None = None

    @field_validator("market_id")
    @classmethod
    def _cid(cls, v: str) -> str:
        if not _CONDITION_ID.match(v):
            raise ValueError("must be 0x followed by 64 hex digits")
        return v.lower()

    @field_validator("payout_up", "payout_down")
    @classmethod
    def _payout(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (0 <= v <= 1):
            raise ValueError("must be between 0 and 1")
        return v


@dataclass(frozen=True, slots=True)
class ReplayMarket:
    market: Market
    resolution: Resolution | None


def _fees_for(row: _MarketRow) -> FeeSchedule:
    if row.fee_rate is not None:
        return FeeSchedule(rate=row.fee_rate, exponent=row.fee_exponent or 1)
    if row.category == "crypto" and row.timeframe == "15m":
        return CRYPTO_15M_FEES
    return FeeSchedule()


def load_markets(path: Path) -> dict[str, ReplayMarket]:
    try:
        raw = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError as exc:
        raise ReplayDataError(f"{path}: markets file not found") from exc
    except orjson.JSONDecodeError as exc:
        raise ReplayDataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, list) or not raw:
        raise ReplayDataError(f"{path}: expected a non-empty JSON list of market objects")
    out: dict[str, ReplayMarket] = {}
    for i, item in enumerate(raw):
        try:
            row = _MarketRow.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "market"
            value = repr(err.get("input"))[:60]
            raise ReplayDataError(f"{path} market #{i}: field {field!r} = {value}: {err['msg']}") from exc
        try:
            tick = tick_from_str(row.tick_size)
            min_size = qty_from_str(row.min_order_size)
        except UnitError as exc:
            raise ReplayDataError(f"{path} market #{i}: {exc}") from exc
        up_label, down_label = row.outcome_up, row.outcome_down
        market = Market(
            condition_id=row.market_id,
            question=row.question,
            slug=row.slug,
            yes_token=row.token_up or local_token_id(row.market_id, up_label),
            no_token=row.token_down or local_token_id(row.market_id, down_label),
            yes_label=up_label,
            no_label=down_label,
            category=row.category,
            event_id=row.event_id,
            tick=tick,
            min_order_size=min_size,
            neg_risk=row.neg_risk,
            fees=_fees_for(row),
            start_ts=row.start_ts,
            end_ts=row.end_ts,
        )
        resolution = None
        if row.payout_up is not None:
            resolution = Resolution(row.market_id, row.end_ts, row.payout_up)
        if row.market_id in out:
            raise ReplayDataError(f"{path} market #{i}: market_id {row.market_id} appears twice")
        out[row.market_id] = ReplayMarket(market, resolution)
    return out


@dataclass(frozen=True, slots=True)
class ReplayLine:
    """One recorded snapshot, already in YES terms."""

    condition_id: str
    ts: int
    source: Outcome
    bids: list[Level]  # best first
    asks: list[Level]  # best first
    fine_tick: bool  # a level sits off the 0.01 grid: the market is on its 0.001 tick


def _levels(raw: Any, where: str, field: str) -> list[Level]:
    if not isinstance(raw, list):
        raise ReplayDataError(f"{where}: field {field!r} must be a list of [price, size] pairs")
    out: list[Level] = []
    for lvl in raw:
        if not (isinstance(lvl, list) and len(lvl) == 2):
            raise ReplayDataError(f"{where}: field {field!r} has {lvl!r}: accepted: [price, size]")
        price, size = lvl
        if not isinstance(price, int | float) or not 0 < price < 1:
            raise ReplayDataError(f"{where}: field {field!r} price {price!r}: accepted: a number in (0, 1)")
        if not isinstance(size, int | float) or size < 0:
            raise ReplayDataError(f"{where}: field {field!r} size {size!r}: accepted: a number >= 0")
        try:
            out.append((px_from_float(price), qty_from_float(size)))
        except UnitError as exc:
            raise ReplayDataError(f"{where}: field {field!r}: {exc}") from exc
    return out


def _open(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_lines(path: Path, markets: dict[str, ReplayMarket]) -> Iterator[ReplayLine]:
    """Stream and validate the books file. Raises ReplayDataError naming the line and field."""
    last_ts = -1
    try:
        fh = _open(path)
    except FileNotFoundError as exc:
        raise ReplayDataError(f"{path}: books file not found") from exc
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{path} line {lineno}"
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ReplayDataError(f"{where}: not valid JSON ({exc})") from exc
            if not isinstance(obj, dict):
                raise ReplayDataError(f"{where}: expected a JSON object")
            cid = obj.get("market")
            if not isinstance(cid, str) or cid.lower() not in markets:
                raise ReplayDataError(
                    f"{where}: field 'market' = {cid!r}: accepted: a market_id from the markets file"
                )
            ts = obj.get("ts")
            if not isinstance(ts, int) or ts < 0:
                raise ReplayDataError(
                    f"{where}: field 'ts' = {ts!r}: accepted: unix milliseconds (integer >= 0)"
                )
            if ts < last_ts:
                raise ReplayDataError(
                    f"{where}: field 'ts' = {ts} goes back in time (previous {last_ts}): the file must be sorted by ts"
                )
            last_ts = ts
            side = obj.get("side")
            bids = _levels(obj.get("bids", []), where, "bids")
            asks = _levels(obj.get("asks", []), where, "asks")
            fine = any(px % 100 for px, _ in bids) or any(px % 100 for px, _ in asks)
            if side == "UP":
                yield ReplayLine(cid.lower(), ts, Outcome.YES, bids, asks, fine)
            elif side == "DOWN":
                # DOWN asks at p are UP bids at 1-p (and vice versa); best-first order is preserved.
                yes_bids = [(ONE - px, q) for px, q in asks]
                yes_asks = [(ONE - px, q) for px, q in bids]
                yield ReplayLine(cid.lower(), ts, Outcome.NO, yes_bids, yes_asks, fine)
            else:
                raise ReplayDataError(f"{where}: field 'side' = {side!r}: accepted: 'UP' or 'DOWN'")
