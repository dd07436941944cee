"""Assembly: settings -> clock, venue, store, engine. Shared by the headless CLI, the console and tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.brains.base import Brain
from engine.clock import SimClock, WallClock
from engine.config import Settings
from engine.control import ControlError, ControlServer, default_socket_path
from engine.engine import Engine
from engine.feeds.replay import ReplayDataError
from engine.feeds.synthetic import SyntheticConfig, synthetic_catalog, synthetic_lines
from engine.gc_tuning import tune_gc
from engine.logs import log_event
from engine.sim.matching import LatencyModel
from engine.store import Store
from engine.venues.replay import ReplayVenue


class SetupError(Exception):
    """The run cannot start; the message is one line for the operator."""


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    store: Store
    venue: Any  # ReplayVenue (replay, sim) or a Polymarket venue (paper, live): the Venue protocol + stop()


def _speed(settings: Settings) -> float | None:
    speed = settings.venue.speed
    return None if speed == "max" else float(speed)


async def build(
    settings: Settings,
    logger: logging.Logger | None = None,
    brain: Brain | None = None,
    *,
    run_id: str | None = None,
    wall: Callable[[], float] | None = None,
) -> Runtime:
    v = settings.venue
    if v.live and v.kind != "polymarket":
        raise SetupError(
            f"venue.live = true needs venue.kind = 'polymarket' (got {v.kind!r}): real orders only go to Polymarket"
        )
    if v.kind == "polymarket":
        venue, clock = await _polymarket_venue(settings)
    else:
        venue, clock = _replay_venue(settings)
    store = await Store.open(settings.store.path)
    extra = {"wall": wall} if wall is not None else {}
    engine = Engine(settings, venue, clock, store, logger=logger, brain=brain, run_id=run_id, **extra)
    if hasattr(venue, "set_health_check"):  # LIVE: heartbeats only while the engine is healthy
        venue.set_health_check(engine.healthy)
    return Runtime(settings, engine, store, venue)


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
            latency=LatencyModel(v.submit_latency_ms, v.cancel_latency_ms, v.latency_jitter_ms),
            seed=settings.engine.seed,
            speed=_speed(settings),
            books_path=Path(v.data) if v.data else None,
            markets_path=Path(v.markets) if v.markets else None,
            source=source,
            kind="SIM" if v.kind == "sim" else "REPLAY",
        )
        first = next(iter(venue.lines()), None)
    except ReplayDataError as exc:
        raise SetupError(str(exc)) from exc
    if first is None:
        raise SetupError(f"{venue.books_path}: the books file has no lines")
    clock.advance_to(first.ts)
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
    settings: Settings, logger: logging.Logger, *, handle_signals: bool = True, control: bool = False
) -> dict[str, Any]:
    """Run until the data ends or SIGINT/SIGTERM arrives; then cancel resting orders and flush the store.
    With `control`, the engine listens on its control socket for `attach` and `ctl`."""
    rt = await build(settings, logger)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[int] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
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
    task = asyncio.create_task(rt.engine.run())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set() and not task.done():
            log_event(logger, "signal: stopping", level=logging.WARNING)
            rt.venue.stop()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await rt.engine.shutdown()
        try:
            summary = await task if task.done() and not task.cancelled() else rt.engine.summary()
        except ReplayDataError as exc:
            # The engine has already stopped cleanly (cancel, flush); report the bad input in one line.
            raise SetupError(str(exc)) from exc
    finally:
        if server is not None:
            await server.close()
        stopper.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await rt.store.close()
    summary["db"] = str(Path(rt.store.path).resolve()) if rt.store.path != ":memory:" else ":memory:"
    return summary
