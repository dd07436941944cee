"""Assembly: settings -> clock, venue, store, engine. Shared by the headless CLI, the console and tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.brains.base import Brain
from engine.catalogue import GammaCatalogue
from engine.clock import SimClock, WallClock
from engine.config import Settings
from engine.control import ControlError, ControlServer, default_socket_path
from engine.engine import Engine
from engine.feeds.quotes import load_labels, load_quotes
from engine.feeds.replay import ReplayDataError
from engine.feeds.synthetic import SyntheticConfig, synthetic_catalog, synthetic_lines
from engine.gc_tuning import tune_gc
from engine.logs import log_event
from engine.sim.matching import LatencyModel
from engine.store import Store, StoreError
from engine.strategies.base import Strategy
from engine.supervisor import guard_loop
from engine.units import SIZE_SCALE
from engine.venues.quotes import QuoteVenue
from engine.venues.replay import ReplayVenue


class SetupError(Exception):
    """The run cannot start, or stopped on bad input; the message is one line for the operator."""


class EngineFailed(Exception):
    """The run ended in ERROR (a task died, the venue or the ledger failed). The engine halted, cancelled
    and stopped cleanly; `summary` is its final summary and the message says what failed."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


def outcome(engine: Engine, summary: dict[str, Any]) -> dict[str, Any]:
    """The summary of a run that ended well; the matching exception for one that did not."""
    failure = engine.failure
    if isinstance(failure, ReplayDataError):
        raise SetupError(str(failure))  # bad input: the line, the field and what is accepted
    if failure is not None:
        raise EngineFailed(f"engine error: {engine.error}", summary)
    return summary


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    store: Store
    venue: Any  # ReplayVenue (replay, sim, quotes) or a Polymarket venue (paper, live): the Venue protocol + stop()


def _speed(settings: Settings) -> float | None:
    speed = settings.venue.speed
    return None if speed == "max" else float(speed)


async def build(
    settings: Settings,
    logger: logging.Logger | None = None,
    brain: Brain | None = None,
    *,
    strategies: Sequence[Strategy] = (),
    run_id: str | None = None,
    wall: Callable[[], float] | None = None,
    ttl_on_engine_clock: bool = False,
    wall_ms: Callable[[], int] | None = None,
) -> Runtime:
    """`ttl_on_engine_clock` (tests and tools): proposals' time to live counts on the engine's clock instead of
    the operator's, so a simulated run that lets proposals expire is deterministic. `wall_ms` (tests): the
    operator's clock itself, unix ms."""
    v = settings.venue
    if v.live and v.kind != "polymarket":
        raise SetupError(
            f"venue.live = true needs venue.kind = 'polymarket' (got {v.kind!r}): real orders only go to Polymarket"
        )
    if v.kind == "polymarket":
        venue, clock = await _polymarket_venue(settings)
    elif v.kind == "quotes":
        venue, clock = _quote_venue(settings)
    else:
        venue, clock = _replay_venue(settings)
    try:
        store = await Store.open(settings.store.path)
    except StoreError as exc:
        await _close_venue(venue)
        raise SetupError(str(exc)) from None
    extra: dict[str, Any] = {"wall": wall} if wall is not None else {}
    if ttl_on_engine_clock:
        extra["wall_ms"] = clock.now_ms
    elif wall_ms is not None:
        extra["wall_ms"] = wall_ms
    engine = Engine(
        settings, venue, clock, store, logger=logger, brain=brain, strategies=strategies, run_id=run_id, **extra
    )
    if v.kind == "polymarket":  # market search reads Gamma's open markets (engine/catalogue.py)
        engine.gamma_catalogue = GammaCatalogue(v.gamma_url)
    if hasattr(venue, "set_health_check"):  # LIVE: heartbeats only while the engine is healthy
        venue.set_health_check(engine.healthy)
    return Runtime(settings, engine, store, venue)


async def _close_venue(venue: Any) -> None:
    close = getattr(venue, "close", None)
    if close is not None:
        result = close()
        if asyncio.iscoroutine(result):
            await result


def _replay_venue(settings: Settings) -> tuple[ReplayVenue, SimClock]:
    """Recorded books (replay) or the seeded synthetic market (sim), on a simulated clock set to the first line."""
    v = settings.venue
    source = None
    if v.kind == "sim":
        try:
            cfg = SyntheticConfig(markets=v.sim_markets, rounds=v.sim_rounds, seed=settings.engine.seed)
        except ValueError as exc:
            raise SetupError(f"venue: {exc}") from exc
        catalog = synthetic_catalog(cfg)
        source = (catalog, partial(synthetic_lines, cfg, catalog))
    try:
        clock = SimClock()
        venue = ReplayVenue(
            clock,
            starting_cash=settings.bankroll.starting_usdc,
            latency=_latency(settings),
            seed=settings.engine.seed,
            speed=_speed(settings),
            books_path=Path(v.data) if v.data else None,
            markets_path=Path(v.markets) if v.markets else None,
            source=source,
            kind="SIM" if v.kind == "sim" else "REPLAY",
            stale_after_ms=int(settings.breakers.stale_feed_s * 1000),
        )
        first = next(iter(venue.lines()), None)
    except ReplayDataError as exc:
        raise SetupError(str(exc)) from exc
    if first is None:
        raise SetupError(f"{venue.books_path}: the books file has no lines")
    clock.advance_to(first.ts)
    return venue, clock


def _latency(settings: Settings) -> LatencyModel:
    v = settings.venue
    return LatencyModel(v.submit_latency_ms, v.cancel_latency_ms, v.latency_jitter_ms)


def _quote_venue(settings: Settings) -> tuple[QuoteVenue, SimClock]:
    """Recorded top-of-book quotes and their settled outcomes, on a simulated clock set to the first quote."""
    v = settings.venue
    if not v.data or not v.labels:
        raise SetupError(
            "venue.kind = 'quotes' needs venue.data (the quotes file) and venue.labels (the labels file): "
            "--data FILE --labels FILE"
        )
    try:
        data = load_quotes(Path(v.data), load_labels(Path(v.labels)))
    except ReplayDataError as exc:
        raise SetupError(str(exc)) from exc
    if not len(data):
        raise SetupError(
            f"{v.data}: no quote of a labelled market ({data.skipped_markets} quoted markets have no label in "
            f"{v.labels})"
        )
    clock = SimClock(data.ts[0])
    venue = QuoteVenue(
        clock,
        data,
        starting_cash=settings.bankroll.starting_usdc,
        latency=_latency(settings),
        seed=settings.engine.seed,
        depth=v.quote_depth * SIZE_SCALE,
        speed=_speed(settings),
    )
    return venue, clock


async def _polymarket_venue(settings: Settings) -> tuple[Any, WallClock]:
    """Live Polymarket books: paper trading (default) or, with `venue.live`, real orders. Imported lazily so
    replay and sim runs never load the SDK."""
    from engine.venues.polymarket.assemble import VenueSetupError, build_polymarket_venue

    clock = WallClock()
    try:
        return await build_polymarket_venue(settings, clock), clock
    except VenueSetupError as exc:
        raise SetupError(str(exc)) from exc


async def run_headless(
    settings: Settings,
    logger: logging.Logger,
    *,
    handle_signals: bool = True,
    control: bool = False,
    brain: Brain | None = None,
) -> dict[str, Any]:
    """Run until the data ends or SIGINT/SIGTERM arrives; then cancel every order, wait for the venue's word
    on each, and flush the store. With `control`, the engine listens on its control socket for `attach` and
    `ctl`. A run that ends in ERROR raises EngineFailed (bad input: SetupError) after stopping cleanly."""
    rt = await build(settings, logger, brain)
    loop = asyncio.get_running_loop()
    guard_loop(loop, rt.engine.fail, logger)
    stopping: list[asyncio.Task[None]] = []
    task: asyncio.Task[dict[str, Any]] | None = None

    def on_signal(sig: signal.Signals) -> None:
        if not stopping:
            log_event(logger, "signal: stopping", level=logging.WARNING, signal=sig.name)
            stopping.append(loop.create_task(rt.engine.stop(f"signal {sig.name}"), name="stop"))
        elif task is not None and not task.done():
            # A second signal: the operator will not wait for the venue's last word. The next start reconciles.
            log_event(logger, "second signal: stopping now", level=logging.WARNING, signal=sig.name)
            task.cancel()

    installed: list[int] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
    server = ControlServer(rt.engine, default_socket_path(settings.ui.control_socket)) if control else None
    if server is not None:
        try:
            await server.start()
        except (ControlError, OSError) as exc:
            await rt.store.close()
            raise SetupError(f"control socket: {exc}") from exc
        log_event(logger, "control socket", path=str(server.path))
    tune_gc()
    task = asyncio.create_task(rt.engine.run(), name="engine")
    try:
        try:
            summary = await task
        except asyncio.CancelledError:
            if not stopping:
                raise
            await rt.engine.shutdown()
            summary = rt.engine.summary()
    finally:
        if server is not None:
            await server.close()
        for sig in installed:
            loop.remove_signal_handler(sig)
        for t in stopping:
            await t
        await rt.store.close()
    summary["db"] = str(Path(rt.store.path).resolve()) if rt.store.path != ":memory:" else ":memory:"
    if isinstance(rt.venue, QuoteVenue):
        summary["unlabelled_markets_skipped"] = rt.venue.skipped_markets
    return outcome(rt.engine, summary)
