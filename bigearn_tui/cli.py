"""`bigearn-tui`: the console by default, the engine alone with `--no-ui`, and batch replays.

The headless paths import only `engine`; the Textual console is imported lazily, so a server running
`--no-ui` never loads textual.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from engine.config import ConfigError, Settings, load_settings
from engine.logs import setup_json_logging
from engine.runtime import SetupError, run_headless

app = typer.Typer(add_completion=False, help="Big Earn: a trading console for Polymarket.", pretty_exceptions_enable=False)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="config.toml to load (default: the repo's).")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="semi | auto | observe")]
VenueOpt = Annotated[str | None, typer.Option("--venue", help="replay | sim | polymarket")]
SpeedOpt = Annotated[str | None, typer.Option("--speed", help="replay speed: 1 = real time, N = N times faster, max")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="replay books file (JSON lines, optionally gzip)")]
MarketsOpt = Annotated[Path | None, typer.Option("--markets", help="replay markets file (JSON)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLite file to write (store.path)")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="seed for latency jitter and ids")]
LogOpt = Annotated[str | None, typer.Option("--log-level", help="debug | info | warning | error")]


def _fail(message: str) -> None:
    typer.echo(f"bigearn-tui: {message}", err=True)
    raise typer.Exit(2)


def _settings(config: Path | None, **flags: Any) -> Settings:
    keys = {
        "mode": "engine.mode", "venue": "venue.kind", "speed": "venue.speed", "data": "venue.data",
        "markets": "venue.markets", "db": "store.path", "seed": "engine.seed", "log_level": "log.level",
    }
    overrides = {keys[k]: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    try:
        return load_settings(config, overrides=overrides)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _headless(settings: Settings, *, control: bool) -> dict[str, Any]:
    logger = setup_json_logging(settings.log.level, settings.log.file)
    try:
        return asyncio.run(run_headless(settings, logger, control=control))
    except SetupError as exc:
        _fail(str(exc))
        raise


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="run the engine headless with JSON-lines logs")] = False,
    config: ConfigOpt = None,
    mode: ModeOpt = None,
    venue: VenueOpt = None,
    speed: SpeedOpt = None,
    data: DataOpt = None,
    markets: MarketsOpt = None,
    db: DbOpt = None,
    seed: SeedOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Open the console (default) or run the engine headless (--no-ui)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, mode=mode, venue=venue, speed=speed, data=data, markets=markets, db=db, seed=seed,
                         log_level=log_level)
    if no_ui:
        summary = _headless(settings, control=True)
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    from bigearn_tui.console import run_console  # lazy: textual loads only for the console

    raise typer.Exit(run_console(settings))


@app.command()
def replay(
    config: ConfigOpt = None,
    mode: ModeOpt = None,
    speed: Annotated[str, typer.Option("--speed", help="1 = real time, N = N times faster, max")] = "max",
    data: DataOpt = None,
    markets: MarketsOpt = None,
    db: DbOpt = None,
    seed: SeedOpt = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary object")] = False,
) -> None:
    """Replay recorded books to the end, headless, and summarise the run."""
    settings = _settings(config, mode=mode, venue="replay", speed=speed, data=data, markets=markets, db=db, seed=seed,
                         log_level=log_level)
    summary = _headless(settings, control=False)
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        typer.echo(f"{key:<{width}}  {value}")


SocketOpt = Annotated[str | None, typer.Option("--socket", help="control socket of the engine (default: from config)")]


def _socket(config: Path | None, socket_path: str | None) -> Path:
    from engine.control import default_socket_path

    if socket_path:
        return Path(socket_path)
    return default_socket_path(_settings(config).ui.control_socket)


@app.command()
def attach(config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Open the console against a running headless engine (`bigearn-tui --no-ui`)."""
    from bigearn_tui.console import run_attached  # lazy: textual loads only for the console

    settings = _settings(config)
    raise typer.Exit(run_attached(settings, _socket(config, socket_path)))


@app.command()
def ctl(
    action: Annotated[str, typer.Argument(help="status | approve ID | reject ID | halt [REASON] | resume | cancel-all | mode MODE")],
    arg: Annotated[str | None, typer.Argument(help="proposal id (its tail is enough), halt reason or mode")] = None,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Steer a running engine from a shell. Exit 0 done, 1 refused by the engine, 2 cannot reach it."""
    from engine.control import ControlClient, ControlError

    bodies = {
        "status": None,
        "approve": {"type": "approve", "proposal_id": arg},
        "reject": {"type": "reject", "proposal_id": arg},
        "halt": {"type": "halt", "reason": arg or "halt via ctl"},
        "resume": {"type": "resume"},
        "cancel-all": {"type": "cancel_all"},
        "mode": {"type": "set_mode", "mode": arg},
    }
    if action not in bodies:
        _fail(f"ctl {action!r}: accepted: {', '.join(bodies)}")
    if action in ("approve", "reject", "mode") and not arg:
        _fail(f"ctl {action} needs an argument ({'a proposal id' if action != 'mode' else 'semi, auto or observe'})")
    path = _socket(config, socket_path)

    async def go() -> dict[str, Any]:
        client = ControlClient(path)
        try:
            body = bodies[action]
            return await client.request({"op": "status"} if body is None else {"op": "command", "command": body})
        finally:
            await client.close()

    try:
        reply = asyncio.run(go())
    except ControlError as exc:
        _fail(str(exc))
        raise
    sys.stdout.write(orjson.dumps(reply.get("status", reply), option=orjson.OPT_INDENT_2).decode() + "\n")
    if not reply.get("ok"):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
