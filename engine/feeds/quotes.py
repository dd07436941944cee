"""Top-of-book quotes with settled outcomes (the `calibration-dinesh` format), read once into compact columns.

Format (documented in README "Quote replays"):
- quotes file: CSV with a header, optionally gzip, sorted by `ts`: `ts` (unix ms), `slug`, `category`,
  `bid`, `ask` (YES prices in (0, 1), at most 3 decimals, bid <= ask), `segment` (collector series: an
  integer; a change of series is a break in the data, never a move).
- labels file: CSV with a header, optionally gzip: `slug`, `y` (the YES payout: 1 = YES won, 0 = NO won),
  `question` (the outcomes of one event share it), optionally `category`.

Columns are found by name (extra columns are ignored). Each quoted market becomes one `Market`: its tick is
0.01 unless one of its prices needs 0.001; it opens at its first quote, closes one collector cadence after its
last, and settles at its label. A market without a label is skipped (and counted). A bad row stops the load
with one line naming the file, the line, the field and what is accepted.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.domain import FeeSchedule, Market, Resolution
from engine.feeds.replay import ReplayDataError, ReplayMarket, local_token_id
from engine.units import ONE

QUOTE_COLUMNS = ("ts", "slug", "category", "bid", "ask", "segment")
LABEL_COLUMNS = ("slug", "y", "question")  # and optionally "category"
COARSE_TICK = 100  # 0.01 in price units (1e-4)
FINE_TICK = 10  # 0.001
MIN_ORDER_SIZE = 5_000_000  # 5 shares, Polymarket's usual minimum
DEFAULT_CADENCE_MS = 60_000  # when no market was quoted twice in one series, there is no cadence to read
_PRICE_ACCEPTED = "a YES price in (0, 1) with at most 3 decimals (tick 0.01, or 0.001 where needed)"


class QuoteDataError(ReplayDataError):
    """Bad quotes or labels; the message is one line naming the file, the line and the field."""


@dataclass(frozen=True, slots=True)
class QuoteLabel:
    y: Decimal  # the YES payout
    question: str
    category: str


@dataclass(slots=True)
class QuoteData:
    """Every quote of the labelled markets in file (time) order, as parallel columns, with the catalog."""

    path: Path
    markets: list[ReplayMarket]  # by market index, in order of first quote
    ts: array  # unix ms
    market: array  # market index of each quote
    bid: array  # YES price units (1e-4)
    ask: array
    series_start: array  # 1 where a market's quotes start a collector series (its first quote included), else 0
    cadence_ms: int  # the collector's usual gap between two quotes of one market in one series
    skipped_markets: int  # quoted but without a label

    @property
    def catalog(self) -> dict[str, ReplayMarket]:
        return {m.market.condition_id: m for m in self.markets}

    def __len__(self) -> int:
        return len(self.ts)


def quote_condition_id(slug: str) -> str:
    """The data has no condition ids: a stable 0x-prefixed 32-byte id from the slug, like Polymarket's."""
    return "0x" + hashlib.sha256(f"quotes:{slug}".encode()).hexdigest()


def event_id(question: str) -> str:
    """Markets that share a question are the outcomes of one event: one id for them."""
    return "q" + hashlib.sha256(question.encode()).hexdigest()[:16] if question else ""


def _open_text(path: Path, what: str) -> io.TextIOWrapper:
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
    except FileNotFoundError as exc:
        raise QuoteDataError(f"{path}: {what} file not found") from exc
    except IsADirectoryError as exc:
        raise QuoteDataError(f"{path}: {what} file is a directory") from exc
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")  # noqa: SIM115 - closed by caller
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


@contextmanager
def _csv(path: Path, what: str, required: tuple[str, ...]) -> Iterator[tuple[Any, dict[str, int], list[str]]]:
    """The reader past the header, the column index by name and the header. A damaged file (not gzip, not
    UTF-8, not CSV) is a one-line error, whenever it shows."""
    fh = _open_text(path, what)
    try:
        with fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise QuoteDataError(
                    f"{path}: the {what} file is empty: accepted: a CSV header with the columns {','.join(required)}"
                )
            columns = {name.strip().lower(): i for i, name in enumerate(header)}
            missing = [c for c in required if c not in columns]
            if missing:
                raise QuoteDataError(
                    f"{path} line 1: header {','.join(header)!r} lacks {', '.join(missing)}: "
                    f"accepted: a CSV header with the columns {','.join(required)}"
                )
            yield reader, columns, header
    except UnicodeDecodeError as exc:
        raise QuoteDataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip stream
        raise QuoteDataError(f"{path}: cannot read the {what} file ({exc})") from exc
    except csv.Error as exc:
        raise QuoteDataError(f"{path}: not valid CSV ({exc})") from exc


def _width_error(path: Path, lineno: int, row: list[str], header: list[str]) -> QuoteDataError:
    return QuoteDataError(
        f"{path} line {lineno}: {len(row)} fields: accepted: {len(header)} comma-separated fields, as in the "
        f"header ({','.join(header)})"
    )


def load_labels(path: Path) -> dict[str, QuoteLabel]:
    """slug -> its settled outcome, question and category."""
    path = Path(path)
    out: dict[str, QuoteLabel] = {}
    seen_at: dict[str, int] = {}
    with _csv(path, "labels", LABEL_COLUMNS) as (reader, col, header):
        c_slug, c_y, c_question = (col[c] for c in LABEL_COLUMNS)
        c_category = col.get("category")
        for row in reader:
            lineno = reader.line_num
            if len(row) != len(header):
                if not row:
                    continue  # a blank line
                raise _width_error(path, lineno, row, header)
            where = f"{path} line {lineno}"
            slug = row[c_slug].strip()
            if not slug:
                raise QuoteDataError(f"{where}: field 'slug' = {row[c_slug]!r}: accepted: a non-empty market slug")
            if slug in seen_at:
                raise QuoteDataError(
                    f"{where}: field 'slug' = {slug!r} is labelled twice (first on line {seen_at[slug]}): "
                    "accepted: one label per market"
                )
            text = row[c_y].strip()
            try:
                y = Decimal(text)
            except InvalidOperation:
                y = Decimal("NaN")
            if not (y.is_finite() and 0 <= y <= 1):
                raise QuoteDataError(
                    f"{where}: field 'y' = {text!r}: accepted: 1 (YES won), 0 (NO won) or a payout between 0 and 1"
                )
            seen_at[slug] = lineno
            category = row[c_category].strip() if c_category is not None else ""
            out[slug] = QuoteLabel(y, row[c_question].strip(), category)
    if not out:
        raise QuoteDataError(f"{path}: the labels file has no labels")
    return out


def _price(path: Path, lineno: int, field: str, text: str) -> int:
    """A quoted price in price units, exactly; anything off the 0.001 grid or outside (0, 1) is refused."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if value.is_finite() and 0 < value < 1:
        scaled = value * ONE
        if scaled == scaled.to_integral_value() and int(scaled) % FINE_TICK == 0:
            return int(scaled)
    raise QuoteDataError(f"{path} line {lineno}: field {field!r} = {text!r}: accepted: {_PRICE_ACCEPTED}")


def load_quotes(path: Path, labels: dict[str, QuoteLabel]) -> QuoteData:
    """Read and check every quote; keep those of labelled markets as columns, and build their markets."""
    path = Path(path)
    prices: dict[str, int] = {}  # price text -> price units: a few hundred distinct texts in practice
    segments: dict[str, int] = {}  # segment text -> its number
    index: dict[str, int] = {}  # slug -> market index (labelled markets only)
    skipped: set[str] = set()
    slugs: list[str] = []
    categories: list[str] = []
    first_ts: list[int] = []
    last_ts: list[int] = []
    fine: list[bool] = []
    series: list[int] = []  # each market's current collector series
    ts_col, mkt_col, bid_col, ask_col, seg_col = array("q"), array("l"), array("l"), array("l"), array("b")
    gaps = array("q")
    last = -1
    with _csv(path, "quotes", QUOTE_COLUMNS) as (reader, col, header):
        c_ts, c_slug, c_cat, c_bid, c_ask, c_seg = (col[c] for c in QUOTE_COLUMNS)
        width = len(header)
        for row in reader:
            if len(row) != width:
                if not row:
                    continue  # a blank line
                raise _width_error(path, reader.line_num, row, header)
            text = row[c_ts]
            if not (text.isascii() and text.isdigit()):
                raise QuoteDataError(
                    f"{path} line {reader.line_num}: field 'ts' = {text!r}: accepted: unix milliseconds "
                    "(an integer >= 0)"
                )
            ts = int(text)
            if ts < last:
                raise QuoteDataError(
                    f"{path} line {reader.line_num}: field 'ts' = {ts} goes back in time (previous {last}): "
                    "the file must be sorted by ts"
                )
            last = ts
            text = row[c_bid]
            bid = prices.get(text)
            if bid is None:
                bid = prices[text] = _price(path, reader.line_num, "bid", text)
            text = row[c_ask]
            ask = prices.get(text)
            if ask is None:
                ask = prices[text] = _price(path, reader.line_num, "ask", text)
            if ask < bid:
                raise QuoteDataError(
                    f"{path} line {reader.line_num}: field 'ask' = {row[c_ask]!r} is below 'bid' = {row[c_bid]!r} "
                    "(a crossed quote): accepted: ask >= bid"
                )
            text = row[c_seg]
            seg = segments.get(text)
            if seg is None:
                if not (text.isascii() and text.isdigit()):
                    raise QuoteDataError(
                        f"{path} line {reader.line_num}: field 'segment' = {text!r}: accepted: a collector series "
                        "number (an integer >= 0)"
                    )
                seg = segments[text] = int(text)
            slug = row[c_slug]
            m = index.get(slug)
            if m is None:
                if not slug.strip():
                    raise QuoteDataError(
                        f"{path} line {reader.line_num}: field 'slug' = {slug!r}: accepted: a non-empty market slug"
                    )
                if slug not in labels:
                    skipped.add(slug)
                    continue
                m = index[slug] = len(slugs)
                slugs.append(slug)
                categories.append(row[c_cat].strip())
                first_ts.append(ts)
                last_ts.append(ts)
                fine.append(False)
                series.append(seg)
                fresh = 1
            elif series[m] != seg:
                series[m] = seg
                fresh = 1
            else:
                gaps.append(ts - last_ts[m])
                fresh = 0
            last_ts[m] = ts
            if (bid % COARSE_TICK or ask % COARSE_TICK) and not fine[m]:
                fine[m] = True
            ts_col.append(ts)
            mkt_col.append(m)
            bid_col.append(bid)
            ask_col.append(ask)
            seg_col.append(fresh)
    cadence = max(1, sorted(gaps)[len(gaps) // 2]) if gaps else DEFAULT_CADENCE_MS
    markets: list[ReplayMarket] = []
    for m, slug in enumerate(slugs):
        label = labels[slug]
        cid = quote_condition_id(slug)
        end = last_ts[m] + cadence  # the last quote stands until the next would have been due
        market = Market(
            condition_id=cid,
            question=label.question or slug,
            slug=slug,
            yes_token=local_token_id(cid, "Yes"),
            no_token=local_token_id(cid, "No"),
            category=categories[m] or label.category,
            event_id=event_id(label.question),
            tick=FINE_TICK if fine[m] else COARSE_TICK,
            min_order_size=MIN_ORDER_SIZE,
            fees=FeeSchedule(),
            start_ts=first_ts[m],
            end_ts=end,
        )
        markets.append(ReplayMarket(market, Resolution(cid, end, label.y)))
    return QuoteData(
        path=path,
        markets=markets,
        ts=ts_col,
        market=mkt_col,
        bid=bid_col,
        ask=ask_col,
        series_start=seg_col,
        cadence_ms=cadence,
        skipped_markets=len(skipped),
    )
