"""Market search: the venue's catalogue (engine/catalogue.py) by words and filters, and the watchlist changed
from the results.

One line holds free words and filters: `cat:crypto` (category), `liq>5000` (liquidity at least, USDC; `5k`,
`$5,000` and `1.5m` also read), `ends<24h` (ends within: `90m`, `24h`, `3d`). The search runs as the operator
types (0.3 s after the last key, one query in flight, a stale answer dropped) and at once on enter.

Keys: down (in the box) moves to the results, up on the first result moves back to the box; enter on a result
adds it to the watchlist, or takes it off after a y/n question on the status line (its strategy orders are
cancelled); escape closes the screen at once, whatever the box holds (or answers "no" to an open question).
While the box has focus, capital H and X are letters (Textual drops the bindings of a printable key that an
Input consumes, priority ones too); from the results they reach the app's HALT and cancel-all as everywhere.
"""

from __future__ import annotations

import math
import re
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from engine.commands import CommandResult, UnwatchMarket, WatchMarket
from engine.queries import CatalogueRow, MarketMatches, SearchMarkets
from widgets.format import cell, clip, clip_middle, compact_usd, plain

DEBOUNCE_S = 0.3
LIMIT = 40
ACCEPTED = "cat:NAME, liq>USDC (liq>5000, liq>5k), ends<TIME (ends<90m, ends<24h, ends<3d)"
_FILTER = re.compile(r"^([A-Za-z]+)(>=|<=|:|>|<|=)(.*)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$", re.I)
_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0}
_CATEGORY, _LIQUIDITY, _ENDS = ("cat", "category"), ("liq", "liquidity"), ("ends", "end")
# Fixed columns: check 1, Outs 9, Category 10, Liquidity 9, Ends 5, each with a cell padding of 1 either side.
_FIXED_W = (1 + 9 + 10 + 9 + 5) + 2 * 6 + 2  # + the vertical scrollbar


def _usdc(token: str, raw: str) -> float:
    text = raw.strip().lstrip("$").replace(",", "").lower()
    scale = 1.0
    if text[-1:] in ("k", "m"):
        scale = 1_000.0 if text[-1] == "k" else 1_000_000.0
        text = text[:-1]
    try:
        value = float(text) * scale
    except ValueError:
        raise ValueError(f"{token!r}: {raw!r} is not an amount: liq>5000, liq>5k, liq>1.5m (USDC)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{token!r}: the liquidity must be a USDC amount >= 0 (liq>5000)")
    return value


def _hours(token: str, raw: str) -> float:
    found = _DURATION.match(raw.strip())
    if found is None:
        raise ValueError(f"{token!r}: {raw!r} is not a time: a number and m, h or d (ends<90m, ends<24h, ends<3d)")
    hours = float(found.group(1)) * _HOURS[found.group(2).lower()]
    if hours <= 0:
        raise ValueError(f"{token!r}: the time must be > 0 (ends<90m, ends<24h, ends<3d)")
    return hours


def parse_search(text: str) -> SearchMarkets:
    """The search line as a query: free words plus `cat:NAME`, `liq>USDC`, `ends<TIME` anywhere in it.

    A malformed filter (or `key<...` / `key>...` with a key not listed) is a ValueError naming the token and what
    is accepted. `word:rest` with another word before the colon is a plain word."""
    words: list[str] = []
    category: str | None = None
    liquidity: float | None = None
    hours: float | None = None
    for token in text.split():
        found = _FILTER.match(token)
        if found is None:
            words.append(token)
            continue
        key, op, value = found.group(1).lower(), found.group(2), found.group(3)
        if key in _CATEGORY:
            if op != ":" or not value:
                raise ValueError(f"{token!r}: a category is cat:NAME (cat:crypto); accepted: {ACCEPTED}")
            if category is not None:
                raise ValueError(f"{token!r}: a second category (one cat: per search)")
            category = value
        elif key in _LIQUIDITY:
            if op not in (">", ">=") or not value:
                raise ValueError(f"{token!r}: liquidity is a floor: liq>5000 (USDC); accepted: {ACCEPTED}")
            if liquidity is not None:
                raise ValueError(f"{token!r}: a second liquidity floor (one liq> per search)")
            liquidity = _usdc(token, value)
        elif key in _ENDS:
            if op not in ("<", "<=") or not value:
                raise ValueError(f"{token!r}: the end is a bound: ends<24h (or 90m, 3d); accepted: {ACCEPTED}")
            if hours is not None:
                raise ValueError(f"{token!r}: a second end bound (one ends< per search)")
            hours = _hours(token, value)
        elif op == ":":
            words.append(token)  # "word:rest" is text to match, not a filter
        else:
            raise ValueError(f"{token!r}: not a filter; accepted: {ACCEPTED}")
    return SearchMarkets(
        words=" ".join(words),
        category=category or "",
        min_liquidity=liquidity or 0.0,
        ends_within_h=hours,
        limit=LIMIT,
    )


def time_left(end_ts: int | None, now_ms: int | None) -> str:
    """Time to the market's end on the engine's clock: "14m", "3h", "2d"; "-" unknown, "ended" past."""
    if end_ts is None or now_ms is None:
        return "-"
    left_s = (end_ts - now_ms) / 1000
    if left_s <= 0:
        return "ended"
    if left_s < 60:
        return "<1m"
    if left_s < 3600:
        return f"{int(left_s // 60)}m"
    if left_s < 86_400:
        return f"{int(left_s // 3600)}h"
    return f"{int(left_s // 86_400)}d"


class SearchInput(Input):
    """The search box (a class of its own so the screen and the tests can find it)."""


class SearchResults(DataTable):
    """The matches. Enter adds or removes the market under the cursor (a click only moves the cursor: adding
    a market lets the strategies trade it, so it takes a key); up on the first row goes back to the box."""

    BINDINGS = [Binding("enter", "screen.toggle_watch", "Add / remove", id="search_toggle")]

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.screen.query_one(SearchInput).focus()
        else:
            super().action_cursor_up()


class MarketSearchScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="search_close"),
        Binding("down", "to_results", "Results", show=False, id="search_to_results"),
    ]
    AUTO_FOCUS = "#search-input"
    DEFAULT_CSS = """
    MarketSearchScreen { align: center middle; }
    MarketSearchScreen > Vertical {
        width: 100%; max-width: 120; height: 100%; max-height: 40;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    MarketSearchScreen #search-hint { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    MarketSearchScreen #search-results { height: 1fr; }
    MarketSearchScreen #search-count { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MarketSearchScreen #search-status { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    MarketSearchScreen #search-status.-asking { background: $warning; color: $text; text-style: bold; }
    MarketSearchScreen #search-status.-error { color: $error; }
    """

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine
        self.answer: MarketMatches | None = None  # the answer on screen
        self.asked_text = ""  # the line it answers
        self.confirming: CatalogueRow | None = None  # the market a y/n question is about
        self._wanted = 0  # bumped by every change of the line (and by a toggle): answers to older ones are stale
        self._due = 0  # the newest request whose debounce has run out
        self._searching = False
        self._sending = False
        self._timer: Timer | None = None
        self._search_said = False  # the status line holds a search's complaint (cleared by the next answer)
        self.last_result: CommandResult | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Search: words  cat:crypto  liq>5000  ends<24h    down: results  enter: add/remove  esc: close",
                markup=False,
                id="search-hint",
            )
            yield SearchInput(placeholder="bitcoin cat:crypto liq>5000 ends<24h", id="search-input")
            yield SearchResults(cursor_type="row", zebra_stripes=True, id="search-results")
            yield Static("", markup=False, id="search-count")
            yield Static("", markup=False, id="search-status")

    def on_mount(self) -> None:
        table = self.query_one(SearchResults)
        table.add_column(" ", width=1, key="watched")
        table.add_column("Market", width=48, key="title")
        table.add_column("Outs", width=9, key="outs")
        table.add_column("Category", width=10, key="category")
        table.add_column(Text("Liquidity", justify="right"), width=9, key="liquidity")
        table.add_column(Text("Ends", justify="right"), width=5, key="ends")
        self._request(now=True)  # the whole catalogue (watched first) until something is typed

    # --- asking ---------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._drop_question()
        self._request(now=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._request(now=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the app's own handler is for its proposal table

    def _request(self, now: bool) -> None:
        self._wanted += 1
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if now:
            self._kick()
        else:
            self._timer = self.set_timer(DEBOUNCE_S, self._kick)

    def _kick(self) -> None:
        self._timer = None
        self._due = self._wanted
        if not self._searching:  # else the running search sees the newer request when its answer comes
            self._searching = True
            self.run_worker(self._search(), group="market-search")

    async def _search(self) -> None:
        try:
            while True:
                asked = self._due
                text = self.query_one(SearchInput).value
                answer: MarketMatches | None = None
                try:
                    answer = await self.engine.ask(parse_search(text))
                except ValueError as exc:  # the line's (parse_search) or the engine's refusal
                    if asked == self._wanted:
                        self._complain(str(exc))
                except Exception as exc:  # the socket's (ControlError), or Gamma could not be read
                    if asked == self._wanted:
                        self._complain(f"search failed: {exc}")
                if answer is not None and asked == self._wanted:
                    self._show(answer, text)
                if self._due == asked:
                    return  # nothing newer is due (a newer line still in its debounce kicks a new search)
        finally:
            self._searching = False

    # --- showing --------------------------------------------------------------------------------
    def _show(self, answer: MarketMatches, text: str) -> None:
        self.answer, self.asked_text = answer, text
        self._fill()
        shown, total = len(answer.rows), answer.total
        if total == 0:
            asked = text.strip()
            self._count(f"No market matches {asked!r} in {answer.source}" if asked else f"No market in {answer.source}")
        else:
            self._count(f"{shown} of {total} matches in {answer.source}; enter adds or removes the selected market")
        if self._search_said:
            self._status("")

    def _fill(self) -> None:
        table = self.query_one(SearchResults)
        answer = self.answer
        if answer is None:
            return
        keep = self._cursor_cid()
        try:
            now: int | None = self.engine.snapshot().ts
        except Exception:  # a remote console before its first snapshot: no clock to count from
            now = None
        title_w = max(16, (table.size.width or 96) - _FIXED_W)
        table.columns["title"].width = title_w
        with self.app.batch_update():
            table.clear()
            for r in answer.rows:
                table.add_row(
                    "✓" if r.watched else " ",
                    cell(clip_middle(r.title, title_w)),
                    cell(clip(plain(r.outcomes), 9)),
                    cell(clip(plain(r.category), 10)),
                    Text(f"${compact_usd(r.liquidity)}", justify="right", no_wrap=True),
                    Text(time_left(r.end_ts, now), justify="right", no_wrap=True),
                    key=r.condition_id,
                )
            index = next((i for i, r in enumerate(answer.rows) if r.condition_id == keep), 0)
            if answer.rows:
                table.move_cursor(row=index, animate=False)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fill)  # the title column takes the width that is left

    def _count(self, text: str) -> None:
        self.query_one("#search-count", Static).update(text)

    def _complain(self, text: str) -> None:
        if self.confirming is None:  # an open question stays until it is answered
            self._status(text, error=True)
            self._search_said = True

    def _status(self, text: str, error: bool = False, asking: bool = False) -> None:
        self._search_said = False
        status = self.query_one("#search-status", Static)
        status.set_class(error, "-error")
        status.set_class(asking, "-asking")
        status.update(text)

    def _cursor_cid(self) -> str | None:
        table = self.query_one(SearchResults)
        if self.answer is None or not self.answer.rows or table.row_count == 0:
            return None
        row = table.cursor_row
        return self.answer.rows[row].condition_id if 0 <= row < len(self.answer.rows) else None

    def selected(self) -> CatalogueRow | None:
        cid = self._cursor_cid()
        return next((r for r in self.answer.rows if r.condition_id == cid), None) if self.answer else None

    # --- the watchlist --------------------------------------------------------------------------
    def action_toggle_watch(self) -> None:
        row = self.selected()
        if row is None or self._sending or self.confirming is not None:
            return
        if row.watched:
            self.confirming = row
            name = clip_middle(row.title, 30)
            self._status(f"Take {name} off the watchlist? Its strategy orders are cancelled. y/n", asking=True)
        else:
            self._send(WatchMarket(row.condition_id), row)

    def on_key(self, event: events.Key) -> None:
        if self.confirming is None:
            return
        if event.key in ("y", "n"):
            event.stop()
            event.prevent_default()
            row, self.confirming = self.confirming, None
            if event.key == "y":
                self._send(UnwatchMarket(row.condition_id), row)
            else:
                self._status("")
        elif event.key != "escape":
            self._drop_question()  # any other key: the question is dropped and the key does its own thing

    def _drop_question(self) -> None:
        if self.confirming is not None:
            self.confirming = None
            self._status("")

    def _send(self, command: WatchMarket | UnwatchMarket, row: CatalogueRow) -> None:
        self._sending = True
        self._status(f"{'adding' if isinstance(command, WatchMarket) else 'removing'} {clip_middle(row.title, 40)}...")
        self.run_worker(self._execute(command), group="market-watch")

    async def _execute(self, command: WatchMarket | UnwatchMarket) -> None:
        try:
            result: CommandResult = await self.engine.execute(command)
        except Exception as exc:  # the socket failed: nothing is known to have changed
            result = CommandResult(False, f"{type(command).__name__}: {exc}")
        finally:
            self._sending = False
        self.last_result = result
        self._status(result.message, error=not result.ok)
        self._request(now=True)  # the check mark follows (the cursor stays on the market)

    # --- moving and closing ---------------------------------------------------------------------
    def action_to_results(self) -> None:
        table = self.query_one(SearchResults)
        if table.row_count:
            table.focus()

    def action_close(self) -> None:
        if self.confirming is not None:
            self.confirming = None
            self._status("")
            return
        self.dismiss(None)
