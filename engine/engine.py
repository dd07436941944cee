"""The trading engine: books -> brain -> sizing -> risk -> proposal -> (approval) -> firewall -> order -> fills -> P&L.

Risk (docs/risk.md): before a proposal, the sizer's trade passes the circuit breakers, the market's state and
price zone, and the exposure caps (which may shrink it); every order, whatever its path, then passes the
execution firewall (breakers, market state and exposure again as guards, then the order rules) and reserves
its cash or shares before it is written ahead and sent. Every refusal is recorded with its code, the value
that decided it and the threshold. A kill-switch file halts and cancels all within a second (a watcher polls
it in real time).

One asyncio task owns all state. Market data and venue events arrive through `on_market`/`on_venue`
(the venue drives them), periodic work runs from clock timers, operator commands through `execute`.
A lock serialises the three so an await inside one (the write-ahead flush) never interleaves with
another's state changes. `snapshot()` hands the UI an immutable read model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from engine import catalogue, daily_reports, maker_flow, manual_flow, watchlist, what_if
from engine.accounting import StrategyBooks
from engine.analytics.calibration import Calibration
from engine.analytics.maker_income import MakerIncome
from engine.analytics.markouts import Markouts
from engine.blotter import Blotter
from engine.book import OrderBook
from engine.brains.base import Brain
from engine.brains.microprice import MicropriceBrain
from engine.brains.registry import brains_with_loops, build_brain
from engine.clock import Clock
from engine.commands import (
    Approve,
    ArmLive,
    CancelAll,
    CancelOrder,
    Command,
    CommandResult,
    EditSize,
    Flatten,
    Halt,
    PauseStrategy,
    PlaceOrder,
    Reject,
    Resume,
    ResumeStrategy,
    RevokeMandate,
    SetMode,
    UnwatchMarket,
    WatchMarket,
)
from engine.config import Settings
from engine.domain import (
    TRADING_STATES,
    EngineState,
    Fill,
    Market,
    MarketPhase,
    Mode,
    OrderRequest,
    Outcome,
    ProposalStatus,
    Side,
)
from engine.execution.firewall import Firewall, FirewallLimits
from engine.execution.order_manager import (
    apply_venue_event,
    manage_resting,
    strategy_cancel,
)
from engine.execution.orders import Order, OrderState
from engine.feeds.events import (
    BookDeltas,
    BookSnapshot,
    MarketClosed,
    MarketEvent,
    MarketResolved,
    TickSizeChange,
)
from engine.logs import log_event
from engine.mandate_flow import (
    held_by,
    lapse_mandates,
    mandate_command,
    mandate_decision,
    request_mandate,
    send_quote,
)
from engine.mandates import Mandates, MandateStatus
from engine.portfolio import Portfolio
from engine.price_history import PriceHistoryRecorder
from engine.proposal_flow import execute_proposal, propose
from engine.proposals import Proposal, decide
from engine.queries import MarketHistory, PreviewOrder, Query, RunReport
from engine.read_model import run_summary, snapshot_steps, stale_count
from engine.recovery import LedgerState, load_ledger
from engine.refusal import Refusal
from engine.restore import restore, resume_request, state_doc
from engine.risk.breakers import (
    RECONCILE as RECONCILE_BREAKER,
)
from engine.risk.breakers import (
    BreakerAction,
    BreakerEvent,
    BreakerLimits,
    Breakers,
    KillSwitch,
)
from engine.risk.exposure import ClusterMap, ExposureBook, ExposureLimits
from engine.risk.market_state import MarketStateLimits, MarketStates, Phase, ZonePolicy
from engine.risk.pipeline import check_intent
from engine.risk.sizing import SizingLimits
from engine.risk.strategy_limits import PauseKind, StrategyLimits, StrategyPause
from engine.snapshot import (
    EngineSnapshot,
    MarketRow,
    ProposalRow,
)
from engine.steps import run_steps, run_steps_yielding
from engine.store import Store
from engine.strategies.base import (
    Budget,
    Cancel,
    Intent,
    IntentKind,
    MandateRequest,
    OrderUpdate,
    Reply,
    Strategy,
    StrategyServices,
    Verdict,
)
from engine.strategies.registry import AVAILABLE
from engine.strategies.value import ValueStrategy
from engine.strategy_context import EngineContext
from engine.supervisor import Supervisor, describe
from engine.units import (
    DAY_MS,
    ONE,
    WEEK_MS,
    floor_size,
    notional,
    qty_to_str,
)
from engine.venues.base import (
    CountsReconnects,
    HasAccount,
    KnowsStaleBooks,
    OrderAccepted,
    Reconcilable,
    RecordedData,
    Resumable,
    Venue,
    VenueEvent,
    VenueReconciled,
)

EVALUATIONS_PER_YIELD = 4
COMMIT_INTERVAL_S = 0.5  # group commit: what is queued reaches the database within this (real time)
# Backpressure: a cycle that finds more rows than this waiting for the group commit writes them first, so a
# replay at --speed max cannot outrun the disk and grow memory (bench/soak.py); live rates never get near.
STORE_BACKLOG_MAX = 1_000
# In memory, a run keeps its working orders and pending proposals, and only the latest finished ones (for the
# screen, `ctl` ids and late venue reports): the ledger holds them all. A finished order is kept at least an
# hour of engine time, far beyond any venue's late report on it.
KEEP_FINISHED_ORDERS = 2_000
KEEP_FINISHED_ORDERS_MS = 3_600_000
KEEP_DECIDED_PROPOSALS = 500
HOUSEKEEPING_S = 0.25  # real-time chores: the kill-switch file, proposals' time to live
DRAIN_TIMEOUT_S = 10.0  # on stop: how long to wait for the venue to confirm the cancels
RECHECK_S = 3.0  # a start reconciliation that disagrees is checked once more after this (real time)


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class MarketState:
    market: Market
    book: OrderBook = field(default_factory=OrderBook)
    tick: int = 100
    phase: MarketPhase = MarketPhase.OPEN
    first_ts: int | None = None
    last_event_ts: int = 0  # the feed's last word on this book, a line that changed nothing included
    updates: int = 0
    last_decision: str = ""
    last_edge: float | None = None  # the sizer's last conservative edge; None when it never got that far
    cluster: str = ""
    yes_payout: Decimal | None = None


class Engine:
    def __init__(
        self,
        settings: Settings,
        venue: Venue,
        clock: Clock,
        store: Store,
        *,
        brain: Brain | None = None,
        strategies: Sequence[Strategy] = (),
        logger: logging.Logger | None = None,
        run_id: str | None = None,
        wall: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _epoch_ms,
    ) -> None:
        self.settings = settings
        self.venue = venue
        self.clock = clock
        self.store = store
        self._brain_stop = asyncio.Event()
        self._event_index: tuple[int, dict[str, tuple[str, ...]]] = (-1, {})
        value = settings.strategies.get("value")
        self.brain = brain or (build_brain(value.brains, value.brain_weights) if value is not None else MicropriceBrain())
        self.log = logger or logging.getLogger("bigearn")
        self.run_id = run_id or uuid.uuid4().hex
        self._wall = wall  # real time, only for UI pacing and rates (never for trading decisions)
        # The operator's clock (unix ms): a proposal's time to live is the human's time, whatever the speed.
        self._wall_ms = wall_ms
        self._tag = self.run_id[:6]
        self.mode = Mode(settings.engine.mode)
        self.state = EngineState.RUNNING
        self.error = ""  # why the engine is in ERROR
        self.failure: BaseException | None = None
        # Whose money this is. A venue with an account of its own (paper, live) is resumed from the ledger on
        # a restart; a replay's account is its own run and starts afresh.
        venue_account = venue.account if isinstance(venue, HasAccount) else ""
        self.account = venue_account or f"{venue.kind.lower()}:{self.run_id}"
        self.resumes = bool(venue_account)
        self.restored: dict[str, Any] = {}  # what a restart brought back, for the summary and the log
        self.supervisor = Supervisor(self.fail, self.log)
        self._reconcile_pending: VenueReconciled | None = None
        self._collateral_base: Decimal | None = None  # venue collateral minus ledger cash, once known
        self._stop_requested = False
        self._started = False
        self._venue_done = False  # the venue's run() has returned: nothing more will be delivered
        self.data_ended = False  # the venue's data played out to its end (a replay): nothing more will come
        self._safety: asyncio.Task[None] | None = None
        self._idle: asyncio.Future[None] | None = None  # set when no order is working (a stop waits for it)
        self._awaiting_reconcile = False  # a resuming venue has not yet said what it holds
        self._rechecked = False
        self.recheck_s = RECHECK_S  # how long before a start reconciliation that disagreed is looked at again
        self._fills_total = 0  # fills in the account's ledger, this run's included
        self._last_venue_cash: int | None = None  # the venue's collateral at the last reconciliation (1e-6)
        self.halt_reason = ""
        self.portfolio = Portfolio(settings.bankroll.starting_usdc)
        now = clock.now_ms()
        # Risk (docs/risk.md). A kill-switch file already present trips the breaker here, before anything runs.
        self.breakers = Breakers(
            BreakerLimits.from_settings(settings),
            kill_switch=KillSwitch(settings.kill_switch_path),
            reduce_only=settings.risk.reduce_only,
            now=now,
        )
        self.exposure = ExposureBook(
            settings.bankroll.starting_usdc,
            ExposureLimits.from_settings(settings),
            ClusterMap(settings.risk.cluster_keywords),
        )
        self.states = MarketStates(MarketStateLimits.from_settings(settings))
        self.zones = ZonePolicy.from_settings(settings)
        self.zone_strategy = settings.zones.strategy  # what value bets count as in the price zones
        self.markets: dict[str, MarketState] = {}
        for market in venue.markets():
            ms = MarketState(market, tick=market.tick, cluster=self.exposure.add_market(market))
            self.states.add_market(market)
            self.markets[market.condition_id] = ms
        # Every order passes the firewall; its guards re-check the breakers, the market's state and the caps
        # at send time, whatever the order's path (auto, an operator's approval, a later one).
        self.firewall = Firewall(
            FirewallLimits.from_settings(settings),
            guards=[
                self.breakers.guard(self.exposure.reduces),
                self.states.guard(self.exposure.reduces),
                self._exposure_guard,
            ],
        )
        self.token_index = {m.token(o): (m.condition_id, o) for m in venue.markets() for o in Outcome}
        self.orders: dict[str, Order] = {}  # every order of the run, for history and lookups by id
        self.proposals: dict[str, Proposal] = {}
        # Indexes kept in step with the two above, so per-evaluation checks cost O(live), not O(history):
        # a run lives for weeks and its proposals and finished orders only grow.
        self.working: dict[str, Order] = {}
        self.pending: dict[str, Proposal] = {}
        self.calibration = Calibration()  # the value strategy's brain (the summary's brain_model)
        self.brain_calibration: dict[str, Calibration] = {}  # every brain that answered, by name
        # Maker analytics (engine/maker_flow.py): markouts of every fill, rebates and reward estimates.
        self.markouts = Markouts()
        self.maker_income = MakerIncome()
        self.blotter = Blotter()  # the trade history the snapshot shows (engine/blotter.py)
        self.price_history = PriceHistoryRecorder()  # the Chart pane's mids and fills per market
        self.next_reward_sample = 0
        self.limits = self._limits()
        # The book of strategies: those enabled in [strategies.<name>] (value bets by default), then any given
        # in code (tests, embedding). Each has its own orders, positions, P&L, budget and loss pauses.
        services = StrategyServices(
            brain=self.brain, limits=self.limits, requote_min_ticks=settings.execution.requote_min_ticks
        )
        configured = [
            AVAILABLE[name].create(settings.strategies[name], services)
            for name in settings.enabled_strategies()
        ]
        self.strategies: list[Strategy] = [*configured, *strategies]
        ids = [st.strategy_id for st in self.strategies]
        if len(set(ids)) != len(ids):
            raise ValueError(f"strategies: ids must be unique, got {ids}")
        self.contexts = {sid: EngineContext(self, sid) for sid in ids}
        self._by_id = {st.strategy_id: st for st in self.strategies}
        self.strategy_limits = StrategyLimits({st.strategy_id: st.config for st in self.strategies})
        self.last_decision: dict[str, str] = {}  # per strategy: its latest verdict, for the Strategies pane
        self.mandates = Mandates()  # quoting mandates (engine/mandates.py)
        self.proposal_ttl_ms = int(settings.engine.proposal_ttl_s * 1000)  # a proposal's or mandate's wait
        # What happened to strategies' orders, delivered to their hooks once the event that caused it is done.
        self._heard: deque[tuple[str, OrderUpdate | Fill]] = deque()
        self.accounts = StrategyBooks(ids)  # positions and P&L per strategy
        self.strategy_counts: dict[str, dict[str, int]] = {sid: {} for sid in ids}
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "market_events",
                "evaluations",
                "proposals",
                "orders",
                "fills",
                "rejections",
                "settlements",
                "cancels",
            ),
            0,
        )
        self.decisions: dict[str, int] = {}
        self.halts: list[dict[str, Any]] = []
        self._seq = 0
        self._ids = 0
        self._lock = asyncio.Lock()
        self._cycle_scheduled = False
        self._stopped = False
        self._snapshot: EngineSnapshot | None = None
        self._stale_cache: tuple[int, frozenset[str]] = (-1, frozenset())
        self._venue_caps: dict[tuple[type, type], bool] = {}
        self._row_cache: dict[str, MarketRow] = {}
        self._last_reconcile = -(10**18)
        self._unreconciled: set[str] = set()
        self._row_cursor = 0
        # Real money needs an explicit human step: a LIVE venue sends nothing until ArmLive("LIVE").
        self.live_armed = venue.kind != "LIVE"
        self._snapshot_wall = 0.0
        self._dirty = True
        self._log_lines: deque[str] = deque(maxlen=200)
        self._log_count = 0
        self._equity_history: deque[float] = deque(maxlen=240)
        self._high_water = settings.bankroll.starting_usdc
        self._period_start: dict[str, tuple[int, Decimal]] = {}
        self._msg_window: deque[tuple[float, int]] = deque(maxlen=20)
        self.halt_kind = ""  # MANUAL, or the breaker that halted the engine
        self.refusals: dict[str, int] = {}  # refusal code -> count (proposals not made, orders not sent)
        self.blocked: dict[str, ProposalRow] = {}  # strategy:market -> the last trade a risk layer stopped
        self._last_market_ts: int | None = None
        self._cancel_all_pending = False
        self._cancel_markets: set[str] = set()
        self._cancel_orders: set[str] = set()  # single orders to withdraw (a paused strategy's buys)
        self.unwatched: set[str] = set()  # markets the operator took off the watchlist (engine/watchlist.py)
        self.flattening: dict[str, manual_flow.PendingFlatten] = {}  # flattens waiting for their cancels
        self.gamma_catalogue: catalogue.GammaCatalogue | None = None  # paper and live: market search on Gamma

    # --- setup -----------------------------------------------------------------------------------
    def _limits(self) -> SizingLimits:
        r, x = self.settings.risk, self.settings.execution
        return SizingLimits(
            kelly_fraction=r.kelly_fraction,
            max_ci_width=r.max_ci_width,
            min_edge=r.min_edge,
            min_depth_usdc=r.min_depth_usdc,
            max_position_pct=r.max_position_pct,
            max_book_impact_pct=r.max_book_impact_pct,
            max_slippage_bps=x.max_slippage_bps,
            max_cluster_pct=r.max_cluster_pct,
            max_aggregate_pct=r.max_aggregate_pct,
            min_order_usdc=r.min_order_usdc,
        )

    def _exposure_guard(self, request: OrderRequest, now: int) -> Refusal | None:
        """Firewall guard: the order fits the market, cluster and aggregate caps and free cash at today's equity."""
        verdict = self.exposure.check(request, bankroll=self._equity())
        return None if verdict.ok else Refusal.of(verdict)

    async def start(self) -> None:
        """Record the run; on a restart of a paper or live account, restore its ledger and hand the venue
        what it must reconcile; then the group commit and the real-time chores start."""
        s = self.settings
        now = self.clock.now_ms()
        ledger: LedgerState | None = None
        if self.resumes:
            known = {cid: ms.market for cid, ms in self.markets.items()}
            ledger = await load_ledger(self.store, self.account, known)
        else:
            for run in await self.store.unfinished_runs():
                self._note(
                    "earlier run never finished: this is a new run",
                    logging.WARNING,
                    unfinished_run=run["run_id"],
                    venue=run["venue"],
                    started_ts=run["started_ts"],
                )
        self.store.start_run(
            run_id=self.run_id,
            started_ts=now,
            venue=self.venue.kind,
            mode=self.mode.value,
            seed=s.engine.seed,
            config=s.model_dump(mode="json"),
            account=self.account,
        )
        starting = ledger.starting_cash if ledger is not None else s.bankroll.starting_usdc
        self.store.add_account(
            account=self.account, created_ts=now, starting_cash=starting, venue_cash_start=None
        )
        if ledger is not None:
            restore(self, ledger, now)
        for cid, ms in self.markets.items():
            ms.cluster = self.exposure.cluster(cid)  # final once every market has joined its clusters
            self._store_market(ms, now)
        self._note(
            "engine started",
            run_id=self.run_id,
            venue=self.venue.kind,
            mode=self.mode.value,
            markets=len(self.markets),
            account=self.account if self.resumes else "-",
        )
        if self.resumes and isinstance(self.venue, Resumable):
            # Nothing new until the venue has said what it holds and the ledger agrees (VenueReconciled).
            self._awaiting_reconcile = True
            if self.state is EngineState.RUNNING:
                self.state = EngineState.RECONCILING
            self.venue.resume(resume_request(self, ledger, now))
        # A kill-switch file present at start halts before the first order could exist.
        self._on_breaker_events(self.breakers.evaluate(now))
        await self._flush_cancels()
        self._queue_state()
        await self.store.flush()
        self.supervisor.spawn(
            self.store.commit_loop(COMMIT_INTERVAL_S, before=self._queue_state), "group commit"
        )
        self.supervisor.spawn(self._housekeeping(), "housekeeping")
        for brain in brains_with_loops(self.brain):  # the llm brain asks its endpoint off the engine's loop
            self.supervisor.spawn(brain.run(self._brain_stop), f"brain {brain.name}")
        self._started = True

    def _queue_state(self) -> None:
        if self.resumes:
            self.store.save_engine_state(
                account=self.account, run_id=self.run_id, ts=self.clock.now_ms(), state=state_doc(self)
            )

    async def _housekeeping(self) -> None:
        """Real-time chores, whatever the engine clock's speed: the kill-switch file (a human puts it there in
        real time) and proposals whose time to live ran out in the operator's time."""
        while not self._stopped:
            events = self.breakers.check_kill_switch(self.clock.now_ms())
            if events:
                await self._on_watched_events(events)
            if self.pending or self.mandates.has_pending():
                await self._expire_due()
            await asyncio.sleep(HOUSEKEEPING_S)

    async def _expire_due(self) -> None:
        wall = self._wall_ms()
        if any(wall >= p.expires_wall for p in self.pending.values()) or any(
            wall >= m.expires_wall for m in self.mandates.pending()
        ):
            async with self._lock:
                self._expire_pending()

    def _expire_pending(self) -> None:
        """Proposals whose time to live ran out in the operator's time (checked every cycle and in real time)."""
        wall = self._wall_ms()
        for p in [p for p in self.pending.values() if wall >= p.expires_wall]:
            decide(self, p, ProposalStatus.EXPIRED, "EXPIRE", "ttl", note="time to live ran out")
            self._touch()
        for m in [m for m in self.mandates.pending() if wall >= m.expires_wall]:
            self.mandates.close(m, MandateStatus.EXPIRED, self.clock.now_ms(), "ttl", "time to live ran out")
            mandate_decision(self, m, "EXPIRE", "ttl")
            self._touch()

    def healthy(self) -> bool:
        """Keep the venue's dead-man heartbeat alive only while this is true: running, not in ERROR, and no
        breaker that cancels everything (kill switch, stale feed) tripped. A live venue takes it as
        `is_healthy`: if the engine cannot look after its orders, the exchange cancels them."""
        return (
            not self._stopped
            and self.state is not EngineState.ERROR
            and self.breakers.heartbeat_ok(self.clock.now_ms())
        )

    def _store_market(self, ms: MarketState, ts: int, resolved_ts: int | None = None) -> None:
        m = ms.market
        self.store.upsert_market(
            condition_id=m.condition_id,
            slug=m.slug,
            question=m.question,
            category=m.category,
            yes_token_id=m.yes_token,
            no_token_id=m.no_token,
            yes_outcome=m.yes_label,
            no_outcome=m.no_label,
            tick_size=Decimal(ms.tick).scaleb(-4),
            min_order_size=Decimal(m.min_order_size).scaleb(-6),
            neg_risk=int(m.neg_risk),
            fee_rate=m.fees.rate,
            fee_exponent=m.fees.exponent,
            start_ts=m.start_ts,
            end_ts=m.end_ts,
            cluster=ms.cluster,
            resolved_ts=resolved_ts,
            yes_payout=ms.yes_payout,
            updated_ts=ts,
        )

    async def run(self) -> dict[str, Any]:
        """Start, let the venue drive until its data ends, `stop()` or a failure, then stop cleanly. A failure
        (a bad data line, a dead feed, a bug) leaves the engine in ERROR with the reason, never unseen."""
        try:
            await self.start()
            await self.venue.run(self)
            # The venue's data is over (a recording played out): said on screen, and the feed rate stops.
            self.data_ended = not self._stop_requested and self.state is not EngineState.ERROR
            if self.data_ended:
                self._note("data ended: the recording has played out", at=self.clock.now_ms())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recorded as the engine's ERROR with its traceback, then a clean stop
            self._log_failure("venue" if self._started else "start", exc)
            self.fail("venue" if self._started else "start", exc)
        finally:
            await self.shutdown()
        return self.summary()

    def _log_failure(self, where: str, exc: BaseException) -> None:
        from engine.supervisor import log_failure

        log_failure(self.log, where, exc)

    def fail(self, where: str, exc: BaseException) -> None:
        """Something failed that the engine cannot judge (a task died, the venue or the ledger broke): ERROR,
        no new risk, every order cancelled, and the run stops. Safe to call from any callback."""
        if self.state is EngineState.ERROR:
            self._note("further failure", logging.ERROR, where=where, error=describe(exc))
            return
        self.failure = exc
        self.error = f"{where}: {describe(exc)}"[:300]
        self.state = EngineState.ERROR
        self.halt_reason = self.error
        self.halt_kind = "ERROR"
        now = self.clock.now_ms()
        self.halts.append({"kind": "ERROR", "reason": self.error, "ts": now, "actor": "engine"})
        with contextlib.suppress(Exception):  # a closed store must not hide the failure being reported
            self.store.add_halt(
                run_id=self.run_id,
                ts=now,
                kind="ERROR",
                reason=self.error,
                trigger_value=None,
                threshold=None,
                action="halt, cancel all, stop",
            )
        self._note("ENGINE ERROR", logging.ERROR, where=where, error=describe(exc))
        self._hold_data()
        self._cancel_all_pending = True
        self._snapshot = None
        self._touch()
        if self._safety is None:
            self._safety = asyncio.get_running_loop().create_task(self._safety_action(), name="safety action")

    def _hold_data(self) -> None:
        """A recorded venue reads no further once the engine stops or fails (its time still passes for the
        cancels under way); a live feed simply keeps coming until the venue stops."""
        if isinstance(self.venue, RecordedData):
            self.venue.hold_data()

    async def _safety_action(self) -> None:
        """After a failure: cancel everything, make the ledger durable as far as it can be, stop the venue."""
        try:
            async with self._lock:
                await self._flush_cancels()
            await self.store.flush()
        except Exception as exc:  # noqa: BLE001 - already failing: report, and still stop
            self._log_failure("safety action", exc)
        await self.stop("engine error")

    async def stop(self, reason: str = "stop requested") -> None:
        """Stop as an operator would: no new risk, cancel every order, wait (at most DRAIN_TIMEOUT_S of real
        time) until the venue has reported each one's final state, then let the venue stop. What has not
        answered by then stays non-terminal in the ledger, and the next start asks the venue about it."""
        if self._stop_requested or self._stopped:
            return
        self._stop_requested = True
        self._brain_stop.set()
        if self.state is not EngineState.ERROR:
            self.state = EngineState.STOPPING
        self._snapshot = None
        self._note("stopping", reason=reason, orders=len(self.working))
        self._hold_data()
        async with self._lock:
            for p in list(self.pending.values()):
                decide(
                    self, p, ProposalStatus.EXPIRED, "EXPIRE", "engine", note=f"engine stopping ({reason})"
                )
            # A mandate is leave for this run: it ends with it (its orders are cancelled just below), so the
            # ledger never shows one ACTIVE that nothing is acting under. A restart asks again.
            now = self.clock.now_ms()
            for m in list(self.mandates.open()):
                self.mandates.close(m, MandateStatus.ENDED, now, "engine", f"engine stopping ({reason})")
                mandate_decision(self, m, "ENDED", "engine", note=f"engine stopping ({reason})")
            if self.working:
                for o in self.working.values():
                    o.cancel_requested = True
                self.firewall.cancel_all()
                await self.venue.cancel_all()
        if self.working and not self._venue_done:
            self._idle = asyncio.get_running_loop().create_future()
            await asyncio.wait({self._idle}, timeout=DRAIN_TIMEOUT_S)
        if self.working:
            self._note(
                "stopping with orders the venue has not confirmed",
                logging.WARNING,
                orders=",".join(sorted(self.working)),
            )
        self.venue.stop()

    async def shutdown(self) -> None:
        if self._stopped:
            return
        self._venue_done = True
        if self._safety is not None and not self._safety.done():
            await self._safety
        self._stopped = True
        await self.supervisor.close()
        working = list(self.working.values())
        if working:
            with contextlib.suppress(Exception):  # the venue may be gone; the next start reconciles
                await self.venue.cancel_all()
            self._note("shutdown: cancel all", orders=len(working))
        self._record_pnl_snapshot()
        self.store.end_run(run_id=self.run_id, ended_ts=self.clock.now_ms(), summary=self.summary())
        self._queue_state()
        try:
            await self.store.flush()
        except Exception as exc:
            self._log_failure("final flush", exc)
            if self.failure is None:
                self.fail("final flush", exc)
        if self.state is not EngineState.ERROR:
            self.state = EngineState.STOPPED
        self._touch()

    # --- ids, logging --------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{self._tag}{prefix}{self._ids:06d}"

    def note_event(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        """An event for the log and the console's event pane (flow modules outside the engine use this)."""
        self._note(event, level, **fields)

    def _note(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        now = self.clock.now_ms()
        log_event(self.log, event, level, sim_ts=now, **fields)
        detail = " ".join(f"{k}={v}" for k, v in fields.items())
        stamp = time.strftime("%H:%M:%S", time.gmtime(now / 1000))
        self._log_lines.append(f"{stamp} {event} {detail}".rstrip())
        self._log_count += 1
        self._touch()

    def _touch(self) -> None:
        self._dirty = True

    def _at(self, ts: int, name: str, fn: Callable[[], Any]) -> None:
        """An engine timer whose failure is the engine's ERROR, never a lost task: on the wall clock a timer
        runs as a task of its own, on the replay's clock inside the venue's loop; either way it lands here."""

        async def guarded() -> None:
            if self._stopped:
                return
            try:
                await fn()
            except Exception as exc:
                self._log_failure(name, exc)
                self.fail(name, exc)

        self.clock.call_at(ts, guarded)

    # --- market data ---------------------------------------------------------------------------
    async def on_market(self, event: MarketEvent) -> None:
        async with self._lock:
            self.counters["market_events"] += 1
            ms = self.markets.get(event.condition_id)
            if ms is None:
                return
            # Engine time, not the event's: a venue's clock may run apart from ours (a local exchange at 10x,
            # or plain skew), and timers, warm-up and staleness are measured on the engine's clock.
            heard = self.clock.now_ms()
            if isinstance(event, BookDeltas):
                ms.book.apply(event.deltas, event.ts)
                ms.updates += 1
                ms.last_event_ts = heard
                self._last_market_ts = heard
                self.price_history.sample(event.condition_id, heard, ms.book)
            elif isinstance(event, BookSnapshot):
                ms.book.replace(event.bids, event.asks, event.ts)
                ms.updates += 1
                ms.last_event_ts = heard
                self._last_market_ts = heard
                self.price_history.sample(event.condition_id, heard, ms.book)
                if ms.first_ts is None:
                    ms.first_ts = heard
                    if not self._cycle_scheduled:
                        self._cycle_scheduled = True
                        self._at(
                            heard + int(self.settings.engine.cycle_interval_s * 1000), "cycle", self._cycle
                        )
                        self._at(heard, "pnl snapshot", self._pnl_timer)
                        self._at(daily_reports.next_midnight(heard), "daily report", self._daily_report_timer)
            elif isinstance(event, TickSizeChange):
                ms.tick = event.new_tick
            elif isinstance(event, MarketClosed):
                ms.phase = MarketPhase.CLOSED
                self.states.on_closed(event.condition_id, event.ts)
                self._forget_blocked(event.condition_id)
                for p in list(self.pending.values()):
                    if p.market.condition_id == event.condition_id:
                        decide(self, p, ProposalStatus.EXPIRED, "EXPIRE", "engine", note="market closed")
                self._note("market closed", market=ms.market.slug)
            elif isinstance(event, MarketResolved):
                ms.phase = MarketPhase.RESOLVED
                ms.yes_payout = event.yes_payout
                self.states.on_resolved(event.condition_id, event.ts)
                self._forget_blocked(event.condition_id)
                m = ms.market
                self.exposure.set_mark(m.yes_token, event.yes_payout)  # worth its payout until it settles
                self.exposure.set_mark(m.no_token, 1 - event.yes_payout)
                outcome = float(event.yes_payout)
                scored = self.calibration.resolve(event.condition_id, outcome)
                for per_brain in self.brain_calibration.values():
                    per_brain.resolve(event.condition_id, outcome)
                self.store.resolve_evaluations(event.condition_id, outcome)
                self._store_market(ms, event.ts, resolved_ts=event.ts)
                self._note(
                    "market resolved", market=ms.market.slug, yes_payout=str(event.yes_payout), scored=scored
                )
            self._touch()

    # --- venue events --------------------------------------------------------------------------
    async def on_venue(self, event: VenueEvent) -> None:
        async with self._lock:
            apply_venue_event(self, event)
            await self._flush_cancels()  # a fill or a rejection may have tripped a breaker that cancels
            await self._tell_strategies()
            if isinstance(event, OrderAccepted):
                order = self.orders.get(event.client_order_id)
                if order is not None and order.cancel_requested and order.state.working:
                    # Cancelled while in flight: the venue could not cancel an order it had not seen yet.
                    await self.venue.cancel(order.client_order_id)
                    self._note("cancel on acceptance", order=order.client_order_id)
            self._touch()

    async def _tell_strategies(self) -> None:
        """Deliver what happened to each strategy's orders (state changes, fills) to its hooks, in order, and
        act on what it answers."""
        while self._heard:
            sid, news = self._heard.popleft()
            strategy = self._by_id.get(sid)
            if strategy is None:
                continue  # an adopted order, or a strategy no longer running
            ctx = self.contexts[sid]
            if isinstance(news, OrderUpdate):
                reply = strategy.on_order(ctx, news)
            else:
                reply = strategy.on_fill(ctx, news)
            await self._handle_reply(sid, reply, self.clock.now_ms())

    def _on_breaker_events(self, events: list[BreakerEvent]) -> None:
        """Record, log and act on what the breakers report. A TRIP is a halt row (with its trigger value,
        threshold and action) and an entry of the summary's `halts`; a halt-type breaker halts the engine;
        a cancel-all breaker queues its cancels (sent by `_flush_cancels`, at once by the caller)."""
        for e in events:
            if e.kind == "TRIP":
                row = e.halt_row()
                self.store.add_halt(run_id=self.run_id, ts=e.ts, **row)
                self.halts.append(
                    {
                        "kind": e.name,
                        "reason": row["reason"],
                        "ts": e.ts,
                        "actor": "breaker",
                        "trigger_value": e.value,
                        "threshold": e.threshold,
                        "action": e.action,
                        **({"markets": list(e.markets)} if e.markets else {}),
                    }
                )
                self.counters["breaker_trips"] = self.counters.get("breaker_trips", 0) + 1
                self.store.request_flush()  # a trip is durable at once: a restart must find it tripped
                self._note(
                    "BREAKER TRIPPED",
                    logging.WARNING,
                    breaker=e.name,
                    value=f"{e.value:.6g}",
                    threshold=f"{e.threshold:.6g}",
                    action=e.action,
                    detail=e.detail,
                    **({"markets": len(e.markets)} if e.markets else {}),
                )
                if e.cancel_all:
                    if e.markets:
                        self._cancel_markets.update(e.markets)
                    else:
                        self._cancel_all_pending = True
                if self.breakers.limits.policy(e.name).action is BreakerAction.HALT:
                    reason = e.detail or e.name
                    kill = self.breakers.kill_switch
                    if (
                        kill is not None
                    ):  # the file's name on screen; its whole path is in the halt row and log
                        reason = reason.replace(str(kill.path), kill.path.name)
                    self._halt(reason, "breaker", kind=e.name, record=False)
            elif e.kind == "RESUME":
                by = e.detail.removeprefix("resumed by ") if e.detail.startswith("resumed by ") else "auto"
                self.store.resume_halts(run_id=self.run_id, ts=e.ts, by=by, kind=e.name)
                self._note("breaker resumed", breaker=e.name, detail=e.detail)
            elif e.kind == "COOLDOWN":
                self._note("breaker cooling down", breaker=e.name, detail=e.detail)
            else:  # RESUME_REFUSED
                self._note("breaker resume refused", logging.WARNING, breaker=e.name, detail=e.detail)

    async def _on_watched_events(self, events: list[BreakerEvent]) -> None:
        """From the kill-switch watcher (its own task, real time): the halt applies at once, the cancels as
        soon as no cycle or command is mid-way."""
        self._on_breaker_events(events)
        self._snapshot = None
        self._touch()
        if self._cancel_all_pending or self._cancel_markets or self._cancel_orders:
            async with self._lock:
                await self._flush_cancels()
            await self.store.flush()

    async def _flush_cancels(self) -> None:
        """Send the cancels breakers and strategy pauses asked for. Safety cancels are never refused for budget."""
        if self._cancel_all_pending:
            self._cancel_all_pending = False
            self._cancel_markets.clear()
            self._cancel_orders.clear()
            working = list(self.working.values())
            for o in working:
                o.cancel_requested = True  # orders still in flight are cancelled when they are accepted
            self.firewall.cancel_all()
            await self.venue.cancel_all()
            self._note("breaker: cancel all", logging.WARNING, orders=len(working))
        if self._cancel_markets:
            cids, self._cancel_markets = self._cancel_markets, set()
            for o in list(self.working.values()):
                if o.request.condition_id in cids and not o.cancel_requested:
                    o.cancel_requested = True
                    await self.venue.cancel(o.client_order_id)
                    self._note(
                        "breaker: cancel",
                        order=o.client_order_id,
                        market=self.markets[o.request.condition_id].market.slug,
                    )
        if self._cancel_orders:
            ids, self._cancel_orders = self._cancel_orders, set()
            for oid in sorted(ids):
                o = self.working.get(oid)
                if o is not None and not o.cancel_requested:
                    o.cancel_requested = True
                    await self.venue.cancel(oid)
                    self._note("strategy paused: cancel", order=oid, strategy=o.strategy_id)

    def _feed_ages(self, now: int) -> tuple[dict[str, int], int]:
        """How long since each watched book was known current, and since any was. A venue that knows when its
        copy of a book can't be trusted (`stale_markets`: live books unsynced or silent, recorded books quiet
        beyond the recording's own cadence) decides; a book it does not name is current (a quiet live market's
        book is current though nothing changed: its time is renewed; a recording's is left as recorded).
        A market with no data yet is watched only if the venue says it should have some."""
        stale_ms = self.breakers.limits.stale_market_ms
        if self.venue_is(KnowsStaleBooks):
            recorded = self.venue_is(RecordedData) and cast(RecordedData, self.venue).recorded
            ages: dict[str, int] = {}
            for cid, ms in self.markets.items():
                if ms.phase is not MarketPhase.OPEN:
                    continue
                if self.is_stale(cid, now):
                    ages[cid] = (
                        max(now - max(ms.book.ts, ms.last_event_ts), stale_ms + 1)
                        if ms.first_ts is not None
                        else stale_ms + 1
                    )
                elif ms.first_ts is not None:
                    if not recorded:
                        ms.book.touch(now)
                    ages[cid] = 0
            if not ages or min(ages.values()) == 0:
                return ages, 0  # some book is current: the feed is alive
            heard = [
                ms.last_event_ts
                for cid, ms in self.markets.items()
                if cid in ages and ms.first_ts is not None
            ]
            return ages, (now - max(heard)) if heard else min(ages.values())
        ages = {
            cid: now - ms.book.ts
            for cid, ms in self.markets.items()
            if ms.phase is MarketPhase.OPEN and ms.first_ts is not None
        }
        if not ages or self._last_market_ts is None:
            return ages, 0  # nothing is being watched: nothing can be stale
        return ages, now - self._last_market_ts

    def _risk_tick(self, now: int) -> None:
        """Each cycle: equity and feed into the breakers and each strategy's limits, market clocks, marks."""
        equity = self._equity()
        self._on_breaker_events(self.breakers.on_equity(equity, now))
        self._strategy_limit_tick(now, equity)
        ages, global_age = self._feed_ages(now)
        self._on_breaker_events(self.breakers.on_feed(ages, global_age, now))
        for change in self.states.update(now):
            ms = self.markets[change.condition_id]
            if change.new in (Phase.WATCH, Phase.CLOSE_WINDOW):
                self._note("market phase", market=ms.market.slug, phase=change.new.value)
        for ms in self.markets.values():
            if ms.first_ts is not None and ms.yes_payout is None:
                self.exposure.mark_from_book(ms.market, ms.book)

    async def _reconcile(self, now: int) -> None:
        """Compare what the venue says we hold and have working with the engine's own books, and feed the
        reconciliation breaker. A difference counts only when it is seen at two checks in a row: a fill
        or a cancel in flight between venue and engine is not a mismatch."""
        interval_ms = int(self.settings.breakers.reconcile_interval_s * 1000)
        if (
            not isinstance(self.venue, Reconcilable)
            or interval_ms <= 0
            or now - self._last_reconcile < interval_ms
        ):
            return
        self._last_reconcile = now
        try:
            state = await self.venue.venue_state()
        except Exception as exc:  # noqa: BLE001 - an unreachable venue is the stale/rejection breakers' job
            self._note("reconciliation failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return
        seen: set[str] = set()
        for pos in self.portfolio.open_positions():
            held = state.positions.get(pos.token_id, 0)
            if held < pos.size:  # the wallet may hold more (other activity); never less than we think
                seen.add(
                    f"position {pos.token_id[:10]}: engine {qty_to_str(pos.size)} venue {qty_to_str(held)}"
                )
        for o in self.working.values():
            resting = o.state.resting and not o.cancel_requested
            if resting and o.venue_order_id and o.venue_order_id.lower() not in state.open_order_ids:
                seen.add(f"order {o.client_order_id} resting here, not at the venue")
        persistent = sorted(seen & self._unreconciled)
        self._unreconciled = seen
        self.counters["reconciliations"] = self.counters.get("reconciliations", 0) + 1
        self._on_breaker_events(self.breakers.on_reconcile(len(persistent), now, "; ".join(persistent)[:300]))

    # --- evaluation cycle ------------------------------------------------------------------------
    async def _cycle(self) -> None:
        if self._stopped or self.state is EngineState.ERROR:
            return  # after a failure only the safety action runs
        now = self.clock.now_ms()
        self._at(now + int(self.settings.engine.cycle_interval_s * 1000), "cycle", self._cycle)
        if self.store.pending_count() > STORE_BACKLOG_MAX:
            await self.store.flush()
        async with self._lock:
            self.counters["cycles"] = self.counters.get("cycles", 0) + 1
            if self.state is EngineState.RESUMING:
                self.state = EngineState.RUNNING
                self._note("resumed")
            self._risk_tick(now)
            maker_flow.tick(self, now)
            self._prune_history(now)
            if self.pending or self.mandates.has_pending():
                self._expire_pending()
            await lapse_mandates(self, now)
            if not self._awaiting_reconcile:
                await self._reconcile(now)
            await self._flush_cancels()
            warm_ms = int(self.settings.engine.warmup_s * 1000)
            active = [
                ms
                for ms in self.markets.values()
                if ms.phase is MarketPhase.OPEN
                and ms.first_ts is not None
                and now - ms.first_ts >= warm_ms
                and ms.market.condition_id not in self.unwatched
            ]
            active = active[: self.settings.engine.max_active_markets]
            for i, ms in enumerate(active, start=1):
                await self._evaluate(ms, now)
                if i % EVALUATIONS_PER_YIELD == 0:
                    # A cycle over 100 markets costs ~20 ms of Python: let timers, feeds and commands run
                    # between slices instead of stalling the loop for all of it (bench/ui.py loop lag).
                    await asyncio.sleep(0)
            if self.flattening:
                await manual_flow.flatten_tick(self)
            await manage_resting(self, now)
            for strategy in self.strategies:
                sid = strategy.strategy_id
                await self._handle_reply(sid, strategy.on_timer(self.contexts[sid]), now)
            await self._tell_strategies()
            self._touch()

    def _prune_history(self, now: int) -> None:
        """Forget the oldest finished orders and decided proposals beyond what the screen and late reports need
        (both dicts keep creation order, so the oldest come first)."""
        extra = len(self.orders) - len(self.working) - KEEP_FINISHED_ORDERS
        if extra > 0:
            cutoff = now - KEEP_FINISHED_ORDERS_MS
            doomed = []
            for oid, o in self.orders.items():
                if len(doomed) >= extra or o.updated_ts > cutoff:
                    break  # the rest are younger still (near enough: created in order, finished soon after)
                if not (o.state.working or o.state is OrderState.PENDING):
                    doomed.append(oid)
            for oid in doomed:
                del self.orders[oid]
        extra = len(self.proposals) - len(self.pending) - KEEP_DECIDED_PROPOSALS
        if extra > 0:
            gone = []
            for pid, p in self.proposals.items():
                if len(gone) >= extra:
                    break  # the oldest come first: stop as soon as enough are found
                if p.status is not ProposalStatus.PENDING:
                    gone.append(pid)
            for pid in gone:
                del self.proposals[pid]

    def strategy_equity(self, strategy_id: str) -> Decimal:
        """The bankroll a strategy's sizing sees: its budget, its share of the engine's equity."""
        self._strategy(strategy_id)
        return self.strategy_limits.limit(strategy_id, self._equity())

    def strategy_committed(self, strategy_id: str) -> Decimal:
        """What a strategy has spoken for: the cost of what it holds, the unfilled part of its working buys,
        and its buys waiting for the operator (a proposal reserves, so two cannot both count on one dollar)."""
        committed = sum((p.cost for p in self.accounts.book(strategy_id).open_positions()), Decimal(0))
        for o in self.working.values():
            if o.strategy_id == strategy_id and o.request.side is Side.BUY:
                committed += notional(o.request.price, max(0, o.request.size - o.filled))
        for p in self.pending.values():
            if p.strategy_id == strategy_id and p.side is Side.BUY:
                committed += notional(p.price, p.size)
        return committed

    def _strategy_refusal(
        self, strategy_id: str, request: OrderRequest, reduces: bool, reserved: Decimal = Decimal(0)
    ) -> Refusal | None:
        if strategy_id not in self._by_id:
            return None  # an adopted order's strategy is no longer configured: the global layers judged it
        paused = self.strategy_limits.block(strategy_id, reduces=reduces)
        if paused is not None or reduces:
            return paused
        cost = notional(request.price, request.size)
        return self.strategy_limits.budget_refusal(
            strategy_id, cost, self._equity(), self.strategy_committed(strategy_id) + reserved
        )

    def strategy_budget(self, strategy_id: str) -> Budget:
        return Budget(self.strategy_equity(strategy_id), self.strategy_committed(strategy_id))

    def strategy_pnl(self, strategy_id: str) -> Decimal:
        """Realized and unrealized P&L after fees: the book's cash (it starts at 0) plus its holdings marked."""
        book = self.accounts.book(strategy_id)
        return book.cash + book.marked_value(self.mark)

    def _strategy_limit_tick(self, now: int, equity: Decimal) -> None:
        """Each cycle: every strategy's P&L against its own daily-loss and drawdown limits."""
        for st in self.strategies:
            pause = self.strategy_limits.on_pnl(
                st.strategy_id, self.strategy_pnl(st.strategy_id), equity, now
            )
            if pause is not None:
                self._paused(pause)

    def _paused(self, pause: StrategyPause) -> None:
        """A strategy stops taking new risk: its buys waiting for approval are rejected and its working buys
        cancelled (sent by `_flush_cancels`); its exits may still go. Durable at once, like a breaker trip."""
        sid = pause.strategy_id
        self.store.add_halt(
            run_id=self.run_id,
            ts=pause.ts,
            kind=pause.halt_kind,
            reason=f"{sid}: {pause.reason}",
            trigger_value=pause.value if pause.kind is not PauseKind.MANUAL else None,
            threshold=pause.threshold if pause.kind is not PauseKind.MANUAL else None,
            action=f"pause {sid}: no new risk, its buys cancelled",
        )
        self.halts.append(
            {"kind": pause.halt_kind, "reason": f"{sid}: {pause.reason}", "ts": pause.ts,
             "actor": pause.by, "strategy": sid}
        )  # fmt: skip
        for p in [p for p in self.pending.values() if p.strategy_id == sid and p.side is Side.BUY]:
            decide(self, p, ProposalStatus.REJECTED, "REJECT", pause.by, note=f"strategy {sid} paused")
        for o in self.working.values():
            if o.strategy_id == sid and o.request.side is Side.BUY and not o.cancel_requested:
                self._cancel_orders.add(o.client_order_id)
        for m in [m for m in self.mandates.open() if m.strategy_id == sid]:
            self.mandates.close(m, MandateStatus.ENDED, pause.ts, pause.by, f"strategy {sid} paused")
            mandate_decision(self, m, "ENDED", pause.by, note=f"strategy {sid} paused")
            self._cancel_orders.update(oid for oid in m.orders if oid in self.working)
        self.store.request_flush()
        self._queue_state()
        self._note("STRATEGY PAUSED", logging.WARNING, strategy=sid, kind=pause.kind.value, reason=pause.reason,
                   by=pause.by)  # fmt: skip

    def zone_name(self, strategy_id: str) -> str:
        """What the price zones call this strategy: value bets are `zones.strategy`, others their `zone_as`."""
        if strategy_id == ValueStrategy.strategy_id:
            return self.zone_strategy
        strategy = self._by_id.get(strategy_id)
        return (strategy.zone_as if strategy is not None else "") or strategy_id

    def _strategy(self, strategy_id: str) -> Strategy:
        strategy = self._by_id.get(strategy_id)
        if strategy is None:
            raise KeyError(f"strategy {strategy_id!r}: not running (running: {sorted(self._by_id)})")
        return strategy

    async def _evaluate(self, ms: MarketState, now: int) -> None:
        """Ask every strategy about this market; record each one's verdict and act on its reply."""
        for strategy in self.strategies:
            reply = strategy.on_book(self.contexts[strategy.strategy_id], ms.market)
            await self._handle_reply(strategy.strategy_id, reply, now)

    async def _handle_reply(self, sid: str, reply: Reply, now: int) -> None:
        """A strategy's answer: cancels of its own orders first, then each verdict is recorded, and an
        intent it carries goes through the risk layers to become a proposal (or a recorded refusal)."""
        intents: dict[str, deque[Intent]] = {}
        for action in reply.actions:
            if isinstance(action, Cancel):
                await strategy_cancel(self, sid, action, now)
            elif isinstance(action, MandateRequest):
                request_mandate(self, sid, action, now)
            else:
                if action.strategy_id != sid:
                    raise ValueError(f"strategy {sid} returned an intent for {action.strategy_id}")
                first = action.legs[0].condition_id
                intents.setdefault(first, deque()).append(action)
        for verdict in reply.verdicts:
            # A PROPOSE verdict carries the next intent of its market, in order (a maker's bid and ask are
            # two intents with two verdicts, judged apart); any other verdict carries none.
            queue = intents.get(verdict.condition_id)
            mine = [queue.popleft()] if verdict.decision == "PROPOSE" and queue else []
            await self._record_verdict(sid, self.markets[verdict.condition_id], verdict, mine, now)
        for cid, left in intents.items():  # an intent without a verdict still gets one
            for intent in left:
                await self._record_verdict(
                    sid, self.markets[cid], Verdict(cid, "PROPOSE", intent.rationale.summary), [intent], now
                )

    async def _record_verdict(
        self, sid: str, ms: MarketState, verdict: Verdict, intents: list[Intent], now: int
    ) -> None:
        market = ms.market
        cid = market.condition_id
        self.counters["evaluations"] += 1
        decision, reason = verdict.decision, verdict.reason
        details: dict[str, Any] = dict(verdict.details)
        refusal: Refusal | None = None
        if "refusal" in details:
            r = details["refusal"]
            refusal = Refusal(r["code"], float(r["value"]), float(r["threshold"]), r.get("detail", ""))
        mid = ms.book.mid().value
        if verdict.p_hat is not None and mid is not None:
            self.calibration.record(cid, verdict.p_hat, mid)
            # per brain: the one that answered, and each member of an ensemble (features "<member>.p")
            brain = verdict.brain or sid
            per = {brain: verdict.p_hat} | {
                k[:-2]: float(v) for k, v in (verdict.details.get("features") or {}).items() if k.endswith(".p")
            }
            for name, p in per.items():
                self.brain_calibration.setdefault(name, Calibration()).record(cid, p, mid)
        intent = intents[0] if intents else None
        sizes: tuple[int, ...] = ()
        binding = ""
        if intent is not None and decision == "PROPOSE":
            decision, refusal, sizes, binding, risk_gates = check_intent(self, intent, now, self._equity())
            if risk_gates:
                details["risk"] = risk_gates
            if refusal is not None:
                reason = refusal.text()
                details["refusal"] = refusal.as_dict()
        self._count_decision(ms, decision, verdict.edge)
        self.last_decision[sid] = f"{market.slug}: {decision}"
        self._note_blocked(ms, sid, intent, decision, refusal, now)
        if refusal is not None and decision != "SKIP_CLOSED":
            self.refusals[refusal.code] = self.refusals.get(refusal.code, 0) + 1
        book = ms.book
        mid = book.mid()
        self.store.add_evaluation(
            run_id=self.run_id,
            ts=now,
            condition_id=cid,
            brain=verdict.brain or sid,
            strategy_id=sid,
            market_mid=mid.value,
            best_bid=None if book.best_bid is None else Decimal(book.best_bid).scaleb(-4),
            best_ask=None if book.best_ask is None else Decimal(book.best_ask).scaleb(-4),
            spread=None if book.spread() is None else book.spread() / ONE,
            depth_usdc=book.depth_usdc(self.limits.depth_band),
            time_to_close_s=None if market.end_ts is None else (market.end_ts - now) / 1000,
            p_hat=verdict.p_hat,
            ci_low=verdict.ci_low,
            ci_high=verdict.ci_high,
            decision=decision,
            reason=reason,
            details=details,
        )
        if intent is not None and decision == "PROPOSE":
            # A quote inside an active mandate goes out without a proposal (auto grants mandates at once).
            if intent.kind is IntentKind.QUOTE and self.mode is not Mode.OBSERVE:
                mandate = self.mandates.active_for(sid, cid)
                if mandate is not None:
                    outside = mandate.covers(intent, held_by(self, sid, market))
                    if outside is None:
                        await send_quote(self, mandate, intent, sizes)
                        return
                    details["mandate"] = {"id": mandate.mandate_id, "outside": outside.as_dict()}
            await propose(self, ms, intent, now, f"{cid}:{now}", sizes, binding, details.get("risk", []))

    def _note_blocked(
        self,
        ms: MarketState,
        sid: str,
        intent: Intent | None,
        decision: str,
        refusal: Refusal | None,
        now: int,
    ) -> None:
        """Keep the latest trade a risk layer stopped in this market for the Proposals pane (or forget it)."""
        cid = ms.market.condition_id
        key = f"{sid}:{cid}"
        if refusal is None or intent is None or decision in ("WITHDRAW", "SKIP_CLOSED"):
            self.blocked.pop(key, None)
            return
        m = ms.market
        leg, r = intent.legs[0], intent.rationale
        self.blocked[key] = ProposalRow(
            proposal_id=f"blocked:{cid}",
            condition_id=cid,
            title=m.question or m.slug,
            outcome=m.label(leg.outcome),
            side=leg.side.value,
            price=leg.price,
            size=leg.size,
            order_type=leg.order_type.value,
            post_only=leg.post_only,
            p_hat=r.p_hat or 0.0,
            ci_low=r.ci_low or 0.0,
            ci_high=r.ci_high or 0.0,
            edge_net=r.edge_net or 0.0,
            kelly=r.kelly or 0.0,
            binding_cap=r.binding_cap,
            expected_slippage_bps=r.expected_slippage_bps or 0.0,
            created_ts=now,
            expires_ts=now,
            status="BLOCKED",
            reason=refusal.text(),
            **self._refusal_fields(refusal),
        )

    def _forget_blocked(self, cid: str) -> None:
        for sid in self.contexts:
            self.blocked.pop(f"{sid}:{cid}", None)

    @staticmethod
    def _refusal_fields(refusal: Refusal | None) -> dict[str, Any]:
        if refusal is None:
            return {}
        return {
            "reason_code": refusal.code,
            "reason_value": refusal.value,
            "reason_threshold": refusal.threshold,
        }

    def _count_for(self, strategy_id: str, what: str, n: int = 1) -> None:
        counts = self.strategy_counts.setdefault(strategy_id, {})
        counts[what] = counts.get(what, 0) + n

    def _count_decision(self, ms: MarketState, decision: str, edge: float | None) -> None:
        self.decisions[decision] = self.decisions.get(decision, 0) + 1
        ms.last_decision = decision
        ms.last_edge = edge

    def is_stale(self, condition_id: str, now: int) -> bool:
        """The venue knows when its copy of a book can't be trusted (live: unsynced after a reconnect or a gap,
        or silent too long; recorded: quiet beyond the recording's cadence); no order is built or sent from
        such a book."""
        if not self.venue_is(KnowsStaleBooks):
            return False
        if self._stale_cache[0] != now:
            venue = cast(KnowsStaleBooks, self.venue)
            self._stale_cache = (now, frozenset(venue.stale_markets(now)))
        return condition_id in self._stale_cache[1]

    def event_index(self) -> dict[str, tuple[str, ...]]:
        """Event id -> its markets' condition ids; rebuilt when the market set changes (a watch adds one)."""
        if self._event_index[0] != len(self.markets):
            index: dict[str, list[str]] = {}
            for cid, ms in self.markets.items():
                if ms.market.event_id:
                    index.setdefault(ms.market.event_id, []).append(cid)
            self._event_index = (len(self.markets), {k: tuple(v) for k, v in index.items()})
        return self._event_index[1]

    def venue_is(self, capability: type) -> bool:
        """`isinstance(venue, capability)` for a venue capability protocol, remembered per venue class: a
        runtime protocol check walks every member (~20 us), and staleness is asked per market per cycle."""
        key = (type(self.venue), capability)
        known = self._venue_caps.get(key)
        if known is None:
            known = self._venue_caps[key] = isinstance(self.venue, capability)
        return known

    # --- P&L -----------------------------------------------------------------------------------
    def mark(self, token_id: str) -> Decimal | None:
        cid, outcome = self.token_index[token_id]
        ms = self.markets[cid]
        if ms.yes_payout is not None:
            return ms.yes_payout if outcome is Outcome.YES else 1 - ms.yes_payout
        return ms.book.view(outcome).mid().exact

    def _equity(self) -> Decimal:
        return self.portfolio.cash + self.portfolio.marked_value(self.mark)

    def _period_pnl(self, kind: str, length_ms: int, now: int, equity: Decimal) -> Decimal:
        start = self._period_start.get(kind)
        index = now // length_ms
        if start is None or start[0] != index:
            self._period_start[kind] = start = (index, equity)
        return equity - start[1]

    def _record_pnl_snapshot(self) -> None:
        now = self.clock.now_ms()
        equity = self._equity()
        self._high_water = max(self._high_water, equity)
        unrealized = (
            equity - self.portfolio.cash - sum((p.cost for p in self.portfolio.open_positions()), Decimal(0))
        )
        dd = float((self._high_water - equity) / self._high_water) if self._high_water else 0.0
        self._equity_history.append(float(equity))
        self.store.add_pnl_snapshot(
            run_id=self.run_id,
            ts=now,
            cash=self.portfolio.cash,
            positions_value=equity - self.portfolio.cash,
            equity=equity,
            realized=self.portfolio.realized_pnl,
            unrealized=unrealized,
            fees=self.portfolio.fees,
            high_water=self._high_water,
            drawdown=dd,
            day_pnl=self._period_pnl("day", DAY_MS, now, equity),
            week_pnl=self._period_pnl("week", WEEK_MS, now, equity),
            open_positions=len(self.portfolio.open_positions()),
            open_orders=len(self.working),
        )
        for st in self.strategies:
            self._record_strategy_pnl(st.strategy_id, now, equity)
        self._record_health(now)

    def _record_health(self, now: int) -> None:
        """The feed as seen now, next to the P&L line: the truth report's uptime, reconnects and stale-book
        time come from these rows (migration 0008)."""
        ages, global_age = self._feed_ages(now)
        stale_ms = self.breakers.limits.stale_market_ms
        self.store.add_health(
            run_id=self.run_id,
            ts=now,
            books=len(ages),
            stale_books=stale_count(self, now, list(ages.values()), stale_ms),
            feed_age_ms=int(global_age),
            reconnects=cast(CountsReconnects, self.venue).feed_reconnects()
            if self.venue_is(CountsReconnects)
            else 0,
            market_events=self.counters["market_events"],
        )

    def _record_strategy_pnl(self, sid: str, now: int, equity: Decimal) -> None:
        """One strategy's line of the P&L history, from its own book (see migration 0006)."""
        book = self.accounts.book(sid)
        pnl = self.strategy_pnl(sid)
        cost = sum((p.cost for p in book.open_positions()), Decimal(0))
        best = self.strategy_limits.best(sid, pnl)
        budget = self.strategy_limits.limit(sid, equity)
        self.store.add_pnl_snapshot(
            run_id=self.run_id,
            ts=now,
            strategy_id=sid,
            cash=book.cash,
            positions_value=pnl - book.cash,
            equity=pnl,
            realized=book.realized_pnl,
            unrealized=pnl - book.cash - cost,
            fees=book.fees,
            high_water=best,
            drawdown=float((best - pnl) / budget) if budget else 0.0,
            day_pnl=self._period_pnl(f"day:{sid}", DAY_MS, now, pnl),
            week_pnl=self._period_pnl(f"week:{sid}", WEEK_MS, now, pnl),
            open_positions=len(book.open_positions()),
            open_orders=sum(1 for o in self.working.values() if o.strategy_id == sid),
        )

    async def _pnl_timer(self) -> None:
        if self._stopped:
            return
        async with self._lock:
            self._record_pnl_snapshot()
        self._at(
            self.clock.now_ms() + int(self.settings.engine.pnl_snapshot_interval_s * 1000),
            "pnl snapshot",
            self._pnl_timer,
        )

    async def _daily_report_timer(self) -> None:
        """At each UTC midnight of engine time: the day that ended, as reports/YYYY-MM-DD.json."""
        if self._stopped:
            return
        now = self.clock.now_ms()
        midnight = now - now % DAY_MS
        self._at(daily_reports.next_midnight(now), "daily report", self._daily_report_timer)
        await daily_reports.write_day(self, midnight - DAY_MS)

    # --- commands ------------------------------------------------------------------------------
    async def ask(self, query: Query) -> Any:
        """Answer an operator's question (engine/queries.py). Nothing changes; the answer is built now, from
        the state the engine holds between two events (the lock keeps a half-applied event out of it). The
        truth report reads the ledger in a worker thread, without the lock: the engine goes on meanwhile."""
        if isinstance(query, RunReport):
            return await daily_reports.answer(self, query)
        async with self._lock:
            if isinstance(query, PreviewOrder):
                return what_if.preview(self, query.ticket, self.clock.now_ms())
            if isinstance(query, MarketHistory):
                return self.price_history.answer(self, query.condition_id)
            return await catalogue.search(self, query)

    def submit(self, command: Command) -> asyncio.Task[CommandResult]:
        """Fire-and-forget entry for the UI: the command runs on the engine's loop at once."""
        return asyncio.get_running_loop().create_task(self.execute(command))

    async def execute(self, command: Command) -> CommandResult:
        if isinstance(command, Halt | Resume):
            # State flips with no await: applied at once, not after a cycle that holds the lock, so the
            # operator sees HALTED the moment the key is pressed and nothing new starts after it.
            result = (
                self._halt_command(command.reason, command.actor)
                if isinstance(command, Halt)
                else self._resume(command.actor)
            )
            self._touch()
            self._snapshot = None
            return result
        async with self._lock:
            result = await self._execute(command)
            self._touch()
            self._snapshot = None  # publish the effect at once
            return result

    def _halt(self, reason: str, actor: str, kind: str = "MANUAL", record: bool = True) -> None:
        """Stop new risk until a human resumes. `record`: add the halt row here (a breaker's TRIP has its own)."""
        if self.state in (EngineState.HALTED, EngineState.ERROR, EngineState.STOPPED):
            return
        self.state = EngineState.HALTED
        self.halt_reason = reason
        self.halt_kind = kind
        now = self.clock.now_ms()
        if record:
            self.halts.append({"kind": kind, "reason": reason, "ts": now, "actor": actor})
            self.store.add_halt(
                run_id=self.run_id,
                ts=now,
                kind=kind,
                reason=reason,
                trigger_value=None,
                threshold=None,
                action="halt new risk",
            )
        self._note("HALTED", level=logging.WARNING, reason=reason, by=actor)
        self.store.request_flush()  # a halt is durable at once: a restart must come back halted

    def _halt_command(self, reason: str, actor: str) -> CommandResult:
        self._halt(reason, actor)
        return CommandResult(True, f"halted: {self.halt_reason}")

    def _resume(self, actor: str) -> CommandResult:
        """A human resumes: every tripped breaker resets (its baseline restarts from now), the engine runs again
        from the next cycle. Refused while a halt-type breaker's condition remains (the kill-switch file)."""
        now = self.clock.now_ms()
        if self.state is EngineState.ERROR:
            return CommandResult(
                False,
                f"ERROR ({self.error}): restart the engine; it restores the ledger and reconciles first",
            )
        if self.state in (EngineState.STOPPING, EngineState.STOPPED):
            return CommandResult(False, f"{self.state.value}: nothing to resume")
        tripped = [b.name for b in self.breakers.views(now) if b.state != "OK"]
        if self.state is not EngineState.HALTED and not tripped:
            return CommandResult(False, "not halted")
        events = self.breakers.resume(now, by=actor)
        self._on_breaker_events(events)
        refused = [e for e in events if e.kind == "RESUME_REFUSED"]
        holding = [e for e in refused if self.breakers.limits.policy(e.name).action is BreakerAction.HALT]
        if holding:
            why = "; ".join(f"{e.name}: {e.detail}" for e in holding)
            self._note("resume refused", logging.WARNING, by=actor, reason=why)
            return CommandResult(False, f"still halted: {why}")
        if RECONCILE_BREAKER in tripped and self._last_venue_cash is not None:
            # The operator has looked at the difference and accepts the venue's collateral as it is now.
            self._collateral_base = Decimal(self._last_venue_cash).scaleb(-6) - self.portfolio.cash
            self._note("collateral re-based", by=actor, base=str(self._collateral_base))
        halted = self.state is EngineState.HALTED
        if halted:
            self.state = EngineState.RECONCILING if self._awaiting_reconcile else EngineState.RESUMING
            self.halt_reason = ""
            self.halt_kind = ""
            self.store.resume_halts(run_id=self.run_id, ts=now, by=actor, kind="MANUAL")
        self._note("resume requested", by=actor)
        left = "; ".join(f"{e.name}: {e.detail}" for e in refused)
        done = "resuming at the next cycle" if halted else "breakers reset"
        return CommandResult(True, done + (f" ({left})" if left else ""))

    async def _execute(self, command: Command) -> CommandResult:
        if isinstance(command, CancelAll):
            working = list(self.working.values())
            for o in working:
                o.cancel_requested = True  # orders still in flight are cancelled when they are accepted
            await self.venue.cancel_all()
            for p in list(self.pending.values()):
                decide(self, p, ProposalStatus.REJECTED, "REJECT", command.actor, note="cancel all")
            self._note("cancel all", orders=len(working), by=command.actor)
            return CommandResult(True, f"cancel requested for {len(working)} orders")
        if isinstance(command, CancelOrder):
            return await self._cancel_order(command)
        if isinstance(command, PlaceOrder):
            return await manual_flow.place(self, command)
        if isinstance(command, Flatten):
            return await manual_flow.flatten(self, command)
        if isinstance(command, WatchMarket):
            return await watchlist.watch(self, command)
        if isinstance(command, UnwatchMarket):
            return await watchlist.unwatch(self, command)
        if isinstance(command, PauseStrategy | ResumeStrategy):
            return await self._strategy_command(command)
        if isinstance(command, ArmLive):
            if command.confirmation != "LIVE":
                return CommandResult(False, "not armed: type LIVE exactly to allow real orders")
            if not self.live_armed:
                self.live_armed = True
                self.store.add_decision(
                    proposal_id="",
                    ts=self.clock.now_ms(),
                    action="ARM_LIVE",
                    actor=command.actor,
                    size=None,
                    note="real orders allowed",
                )
                self._note("LIVE armed: real orders allowed", logging.WARNING, by=command.actor)
            return CommandResult(True, "LIVE armed")
        if isinstance(command, SetMode):
            old = self.mode
            self.mode = Mode(command.mode)
            self.store.add_decision(
                proposal_id="",
                ts=self.clock.now_ms(),
                action="MODE",
                actor=command.actor,
                size=None,
                note=f"{old.value}->{self.mode.value}",
            )
            self._note("mode", mode=self.mode.value, by=command.actor)
            return CommandResult(True, f"mode {self.mode.value}")
        if isinstance(command, RevokeMandate) or (
            command.proposal_id in self.mandates.by_id and not isinstance(command, EditSize)
        ):
            return await mandate_command(self, command)
        p = self.proposals.get(command.proposal_id)
        if p is None:
            return CommandResult(False, f"no proposal {command.proposal_id}")
        if p.status is not ProposalStatus.PENDING:
            return CommandResult(False, f"proposal {p.proposal_id} is {p.status}")
        if isinstance(command, Reject):
            decide(self, p, ProposalStatus.REJECTED, "REJECT", command.actor, note=command.note)
            self._note("rejected", id=p.proposal_id, by=command.actor)
            return CommandResult(True, f"rejected {p.proposal_id}")
        if isinstance(command, EditSize):
            if p.extra_legs:
                return CommandResult(
                    False,
                    f"{p.proposal_id} has {1 + len(p.extra_legs)} legs that go together: approve or reject it",
                )
            size = floor_size(command.size)
            if not p.market.min_order_size <= size <= p.max_size:
                return CommandResult(
                    False,
                    f"size must be between {qty_to_str(p.market.min_order_size)} and "
                    f"{qty_to_str(p.max_size)} shares (the risk checks approved up to that)",
                )
            p.size = size
            self.store.add_decision(
                proposal_id=p.proposal_id,
                ts=self.clock.now_ms(),
                action="EDIT",
                actor=command.actor,
                size=Decimal(size).scaleb(-6),
                note="",
            )
            self._note("edited", id=p.proposal_id, size=qty_to_str(size), by=command.actor)
            return CommandResult(True, f"{p.proposal_id} size {qty_to_str(size)}")
        if isinstance(command, Approve):
            if self.state is EngineState.HALTED:
                return CommandResult(False, f"halted ({self.halt_reason}): approvals are disabled")
            if self.state not in TRADING_STATES:
                why = self.error if self.state is EngineState.ERROR else "the venue's word is not in yet"
                return CommandResult(False, f"{self.state.value} ({why}): approvals are disabled")
            if self._wall_ms() >= p.expires_wall:
                decide(self, p, ProposalStatus.EXPIRED, "EXPIRE", "ttl", note="time to live ran out")
                return CommandResult(False, f"proposal {p.proposal_id} expired")
            if self.is_stale(p.market.condition_id, self.clock.now_ms()):
                return CommandResult(
                    False, f"{p.market.slug}: the book is stale; approve again once it is fresh"
                )
            decide(self, p, ProposalStatus.APPROVED, "APPROVE", command.actor, size=p.size)
            refused = await execute_proposal(self, p)
            if refused:
                return CommandResult(False, f"approved {p.proposal_id}, but the order was refused: {refused}")
            return CommandResult(True, f"approved {p.proposal_id}")
        return CommandResult(False, f"unknown command {command!r}")

    # --- quoting mandates ------------------------------------------------------------------------------
    async def _cancel_order(self, command: CancelOrder) -> CommandResult:
        """One working order withdrawn by the operator; an id's unique tail is enough."""
        wanted = command.client_order_id
        found = [o for oid, o in self.working.items() if oid == wanted or (wanted and oid.endswith(wanted))]
        if len(found) != 1:
            why = "no working order" if not found else f"{len(found)} working orders end with"
            return CommandResult(False, f"{why} {wanted!r}")
        order = found[0]
        oid = order.client_order_id
        if order.cancel_requested:
            return CommandResult(False, f"order {oid} is already being cancelled")
        if not await self.withdraw_order(order, command.actor, "operator"):
            return CommandResult(False, f"order {oid}: the mutation budget is spent this minute; try again")
        return CommandResult(True, f"cancel requested for order {oid}")

    async def withdraw_order(self, order: Order, actor: str, reason: str) -> bool:
        """An operator's cancel of one working order, through the firewall's mutation budget; False (nothing
        done) when the budget is spent this minute. One in flight is cancelled once the venue acknowledges it."""
        oid = order.client_order_id
        if not self.firewall.cancel([oid], self.clock.now_ms()).allowed:
            return False
        order.cancel_requested = True
        if order.state.resting:
            await self.venue.cancel(oid)
        self._note("cancel", order=oid, reason=reason, by=actor, strategy=order.strategy_id)
        return True

    def is_watched(self, condition_id: str) -> bool:
        return condition_id in self.markets and condition_id not in self.unwatched

    def add_market(self, market: Market) -> None:
        """A market the venue started trading while running (engine/watchlist.py): known from now on."""
        ms = MarketState(market, tick=market.tick, cluster=self.exposure.add_market(market))
        self.states.add_market(market)
        self.markets[market.condition_id] = ms
        for o in Outcome:
            self.token_index[market.token(o)] = (market.condition_id, o)

    def active_mandates(self, strategy_id: str) -> int:
        return self.mandates.count_active(strategy_id)

    async def _strategy_command(self, command: PauseStrategy | ResumeStrategy) -> CommandResult:
        sid = command.strategy_id
        if sid not in self._by_id:
            return CommandResult(False, f"no running strategy {sid!r} (running: {', '.join(self._by_id)})")
        now = self.clock.now_ms()
        if isinstance(command, PauseStrategy):
            pause = self.strategy_limits.pause(sid, command.reason, now, command.actor)
            if pause is None:
                return CommandResult(
                    False, f"{sid} is already paused: {self.strategy_limits.paused[sid].reason}"
                )
            self._paused(pause)
            await self._flush_cancels()
            return CommandResult(True, f"{sid} paused: no new risk, its buys cancelled")
        lifted = self.strategy_limits.resume(sid, self.strategy_pnl(sid), now)
        if lifted is None:
            return CommandResult(False, f"{sid} is not paused")
        self.store.resume_halts(run_id=self.run_id, ts=now, by=command.actor, kind=lifted.halt_kind)
        self.store.request_flush()
        self._queue_state()
        self._note("strategy resumed", strategy=sid, was=lifted.kind.value, by=command.actor)
        return CommandResult(True, f"{sid} resumed")

    # --- read model ----------------------------------------------------------------------------
    def snapshot(self, force: bool = False) -> EngineSnapshot:
        """The newest read model: rebuilt if anything changed, at most `publish_hz` times a second unless
        `force` (a command's effect), which also rebuilds every market row."""
        if not self._snapshot_due(force):
            assert self._snapshot is not None
            return self._snapshot
        return self._build_snapshot(full=force)

    async def snapshot_stepwise(self, now: bool = False) -> EngineSnapshot:
        """As `snapshot()`, built in steps with the loop free between them, so that publishing a read model for
        another process never holds the engine's loop for more than about a millisecond (bench/ui.py).
        What changes between steps is in the next snapshot; the steps of one never see half an event.
        `now` skips the rate cap (a command's effect), rebuilding only a slice of market rows as usual."""
        if not self._snapshot_due(now):
            assert self._snapshot is not None
            return self._snapshot
        return await run_steps_yielding(snapshot_steps(self, full=False))

    def _snapshot_due(self, force: bool) -> bool:
        if self._snapshot is None:
            return True
        cap = 1.0 / self.settings.engine.publish_hz
        return self._dirty and (force or self._wall() - self._snapshot_wall >= cap)

    def _build_snapshot(self, full: bool = True) -> EngineSnapshot:
        return run_steps(snapshot_steps(self, full))

    # --- summary -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return run_summary(self)
