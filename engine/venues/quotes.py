"""`--venue quotes`: real top-of-book quotes with settled outcomes, replayed in time order; our orders are matched
in-process against a one-level book per quote.

Each quote is the whole book of its market: the bid and the ask, each with an assumed size (`[venue]
quote_depth`: the data has none). It reaches the matching engine and the engine exactly as a replayed book
does (a snapshot first, then level deltas), so fills, fees, latency, queue position and partial fills follow
the book replay's rules (engine/sim/matching.py): a marketable order takes the quoted price up to the depth
(what it took stays taken until the quote moves), a resting order fills when a later quote crosses it.

Quotes are polls, and a poll either quotes a market or drops it (the data keeps no quote with a missing side
or crossed). So a quote stands until its market's next poll was due: one and a half collector cadences (the
usual gap between two quotes of one market in one series, read from the file). A market not quoted again by
then has no two-sided quote: its book is withdrawn (emptied, nothing traded) until its next quote, and our
resting orders stay where they are. Every book the venue shows is therefore current, and none is ever stale:
the usual 2-minute gap between polls, a dropped quote and the gap between two collector series are the
data's shape, not a feed failing (the engine renews the time of every book this venue shows).

A change of collector series (`segment`) is a break in the data, never a move: the first quote of a new series
cancels our resting orders in that market and starts its book afresh (a snapshot, with full depth).

Markets close one cadence after their last quote and settle at their label 90 s later (as in the replay).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

from engine.clock import SimClock
from engine.domain import Outcome
from engine.feeds.events import BookDeltas, BookSnapshot
from engine.feeds.quotes import COARSE_TICK, QuoteData
from engine.feeds.replay import ReplayLine
from engine.sim.matching import LatencyModel
from engine.venues.base import EventSink
from engine.venues.replay import ReplayVenue

SERIES_CHANGED = "CANCELED_SERIES_CHANGED: a new quote series starts the book afresh"
STANDS_CADENCES = 1.5  # a quote stands until its market's next poll was due


class QuoteVenue(ReplayVenue):
    """Quotes from `QuoteData` (engine.feeds.quotes) on the replay's clock, matching and market lifecycle."""

    def __init__(
        self,
        clock: SimClock,
        data: QuoteData,
        *,
        starting_cash: Decimal,
        latency: LatencyModel,
        seed: int,
        depth: int,
        speed: float | None = None,
    ) -> None:
        if depth <= 0:
            raise ValueError("depth must be > 0 shares")
        self.data = data
        self.depth = depth  # shares (1e-6) at the bid and at the ask
        super().__init__(
            clock,
            starting_cash=starting_cash,
            latency=latency,
            seed=seed,
            speed=speed,
            source=(data.catalog, self._replay_lines),
            kind="QUOTES",
        )
        self.books_path = data.path
        # Polled quotes are current while they stand, as a live feed's book is while it is heard: the engine
        # renews the time of every book this venue vouches for (all it shows; see stale_markets).
        self.recorded = False
        self.stands_ms = int(STANDS_CADENCES * data.cadence_ms)
        self._cids = [entry.market.condition_id for entry in data.markets]
        self._shown: list[tuple[int, int] | None] = [None] * len(self._cids)  # the quote each book shows
        self._quoted: dict[int, int] = {}  # market -> time of the quote its book shows, oldest first
        self._sweep_at: int | None = None  # when the next withdrawal check is due

    @property
    def skipped_markets(self) -> int:
        return self.data.skipped_markets

    def stale_markets(self, now_ms: int) -> set[str]:
        """None: a quote is shown only while it stands and withdrawn after, so every book shown is current."""
        return set()

    def _replay_lines(self) -> Iterator[ReplayLine]:
        """Every quote as a replayed book line (YES terms)."""
        d = self.data
        cids = self._cids
        for i in range(len(d)):
            bid, ask = d.bid[i], d.ask[i]
            fine = bool(bid % COARSE_TICK or ask % COARSE_TICK)
            yield ReplayLine(cids[d.market[i]], d.ts[i], Outcome.YES, [(bid, self.depth)], [(ask, self.depth)], fine)

    # --- quotes that no longer stand ------------------------------------------------------------------
    def _arm_sweep(self) -> None:
        if self._sweep_at is not None or not self._quoted:
            return
        oldest = next(iter(self._quoted.values()))
        self._sweep_at = at = oldest + self.stands_ms
        self.clock.call_at(at, self._sweep)

    async def _sweep(self) -> None:
        self._sweep_at = None
        sink = self._sink
        assert sink is not None
        cutoff = self.clock.now_ms() - self.stands_ms
        expired = []
        for m, ts in self._quoted.items():
            if ts > cutoff:
                break
            expired.append(m)
        closed = self.matcher.closed
        for m in expired:
            if self._cids[m] in closed:
                del self._quoted[m]  # its book is as it was when trading stopped
            else:
                await self._withdraw(sink, m)
        self._arm_sweep()

    async def _withdraw(self, sink: EventSink, m: int) -> None:
        """Its last quote no longer stands: the book is emptied. Nothing traded, so our resting orders do not
        react (the matcher's book is replaced, not moved) and rest on until a later quote crosses them."""
        cid = self._cids[m]
        now = self.clock.now_ms()
        del self._quoted[m]
        self._shown[m] = None
        self.matcher.books[cid].replace((), (), now)
        await sink.on_market(BookSnapshot(cid, now, [], []))

    def _new_series(self, cid: str, ts: int) -> None:
        """Our orders resting on the old series' picture are cancelled, and the book starts empty, so that what
        the new series shows arrives as fresh liquidity, never as a move across the break."""
        matcher = self.matcher
        matcher.cancel_market(cid, SERIES_CHANGED)
        matcher.books[cid].replace((), (), ts)

    async def run(self, sink: EventSink, until_ts: int | None = None) -> None:
        """Replay every quote (or, for tests and tools, up to `until_ts` of simulated time, leaving everything in
        place to be inspected at that moment), then let closes and settlements play out."""
        self._sink = sink
        await self.deliver_resumed(sink)
        last_event = self._schedule_lifecycle(sink)
        d = self.data
        ts_col, mkt_col, bid_col, ask_col, fresh_col = d.ts, d.market, d.bid, d.ask, d.series_start
        cids = self._cids
        matcher = self.matcher
        books = matcher.books
        shown = self._shown
        quoted = self._quoted
        started = bytearray(len(cids))
        clock = self.clock
        stop = self._stop
        deliver = self._deliver
        full_speed = self.speed is None
        depth = self.depth
        now = -1
        for i in range(len(ts_col)):
            if self._hold:
                await self._play_out()
                return
            if stop.is_set():
                return
            ts = ts_col[i]
            if ts != now:
                self._arm_sweep()  # after the quotes of the moment before
                if until_ts is not None and ts > until_ts:
                    await clock.run_until(until_ts, after=deliver)
                    return
                if not full_speed:
                    await self._pace(ts)
                await clock.run_until(ts, after=deliver)
                now = ts
            self.lines_processed += 1
            if full_speed and not self.lines_processed & 255:
                await asyncio.sleep(0)  # commands and the UI run even at full speed
            m = mkt_col[i]
            cid = cids[m]
            quoted.pop(m, None)
            quoted[m] = ts
            quote = (bid_col[i], ask_col[i])
            if fresh_col[i]:
                if started[m]:
                    self._new_series(cid, ts)
                started[m] = 1
                shown[m] = quote
                bids, asks = [(quote[0], depth)], [(quote[1], depth)]
                matcher.apply(cid, books[cid].diff(bids, asks), ts)
                await sink.on_market(BookSnapshot(cid, ts, bids, asks))
            elif quote == shown[m]:
                # The book as it was: nothing for the matcher, but the feed has spoken (the engine's
                # `last_event_ts`, e.g. the market maker's book age), as for a recorded line that changed nothing.
                await sink.on_market(BookDeltas(cid, ts, []))
                continue
            else:
                shown[m] = quote
                deltas = books[cid].diff([(quote[0], depth)], [(quote[1], depth)])
                matcher.apply(cid, deltas, ts)
                await sink.on_market(BookDeltas(cid, ts, deltas))
            if matcher.outbox:
                await deliver()
        if self._hold:
            await self._play_out()
            return
        # The data is over: let pending orders, withdrawals, closes and settlements play out.
        self._arm_sweep()
        end = max(last_event, clock.now_ms())
        while not stop.is_set():
            due = clock.next_due()
            if due is None or due > end:
                break
            await self._pace(due)
            await clock.run_until(due, after=deliver)
        clock.advance_to(end)
