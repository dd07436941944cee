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
from engine.runtime import EngineFailed, SetupError, run_headless

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
StrategiesOpt = Annotated[
    str | None,
    typer.Option("--strategies", help="run exactly these strategies, comma-separated (see `bigearn-tui strategies`)"),
]


def _fail(message: str) -> None:
    typer.echo(f"bigearn-tui: {message}", err=True)
    raise typer.Exit(2)


def _settings(config: Path | None, **flags: Any) -> Settings:
    keys = {
        "mode": "engine.mode", "venue": "venue.kind", "speed": "venue.speed", "data": "venue.data",
        "markets": "venue.markets", "db": "store.path", "seed": "engine.seed", "log_level": "log.level",
        "live": "venue.live",
    }
    exchange = flags.pop("exchange", None)
    chosen = flags.pop("strategies", None)
    overrides = {keys[k]: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    if chosen is not None:
        overrides.update(_strategy_overrides(chosen))
    if exchange:
        overrides.update(_exchange_urls(exchange))
    try:
        return load_settings(config, overrides=overrides)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _strategy_overrides(chosen: str) -> dict[str, bool]:
    """`--strategies a,b`: exactly those run, every other strategy is off."""
    from engine.strategies.registry import AVAILABLE

    names = [n.strip() for n in chosen.split(",") if n.strip()]
    unknown = [n for n in names if n not in AVAILABLE]
    if unknown or not names:
        _fail(
            f"--strategies {chosen!r}: accepted: a comma-separated list of {', '.join(AVAILABLE)}"
            + (f" ({', '.join(unknown)} unknown)" if unknown else "")
        )
    return {f"strategies.{name}.enabled": name in names for name in AVAILABLE}


def _exchange_urls(base: str) -> dict[str, str]:
    """One base URL of a Polymarket-protocol exchange (e.g. `bigearn-tui sim-exchange`) -> every endpoint,
    laid out as the local exchange serves them: CLOB at /, WebSockets at /ws/*, Gamma and Data API below."""
    from localexchange.urls import exchange_urls

    if not base.startswith(("http://", "https://")):
        _fail(f"--exchange = {base!r}: accepted: an http(s):// base URL, e.g. http://127.0.0.1:8790")
    u = exchange_urls(base)
    # The relayer is not served: pointing it at the exchange keeps deposit-wallet checks on loopback.
    return {"venue.clob_url": u.base_url, "venue.gamma_url": u.gamma_url, "venue.data_api_url": u.data_url,
            "venue.ws_market_url": u.market_ws_url, "venue.ws_user_url": u.user_ws_url,
            "polymarket.relayer_url": f"{u.base_url}/relayer"}


def _headless(settings: Settings, *, control: bool) -> dict[str, Any]:
    """The run's summary. A run that ended in ERROR prints its summary, then one line, and exits 1."""
    logger = setup_json_logging(settings.log.level, settings.log.file)
    try:
        return asyncio.run(run_headless(settings, logger, control=control))
    except SetupError as exc:
        _fail(str(exc))
        raise
    except EngineFailed as exc:
        sys.stdout.write(orjson.dumps(exc.summary).decode() + "\n")
        typer.echo(f"bigearn-tui: {exc}", err=True)
        raise typer.Exit(1) from None


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
    live: Annotated[bool | None, typer.Option("--live", help="with --venue polymarket: send real orders (asks you to type LIVE)")] = None,
    exchange: Annotated[str | None, typer.Option("--exchange", help="base URL of a Polymarket-protocol exchange, e.g. the local sim-exchange")] = None,
    strategies: StrategiesOpt = None,
) -> None:
    """Open the console (default) or run the engine headless (--no-ui)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, mode=mode, venue=venue, speed=speed, data=data, markets=markets, db=db, seed=seed,
                         log_level=log_level, live=live, exchange=exchange, strategies=strategies)
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
    venue: Annotated[str, typer.Option("--venue", help="replay (recorded books) | sim (synthetic market)")] = "replay",
    strategies: StrategiesOpt = None,
) -> None:
    """Replay recorded books (or a synthetic market) to the end, headless, and summarise the run."""
    if venue not in ("replay", "sim"):
        _fail(f"--venue = {venue!r}: accepted: 'replay' or 'sim' (a batch run needs data with an end)")
    settings = _settings(config, mode=mode, venue=venue, speed=speed, data=data, markets=markets, db=db, seed=seed,
                         log_level=log_level, strategies=strategies)
    summary = _headless(settings, control=False)
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        typer.echo(f"{key:<{width}}  {value}")


@app.command("strategies")
def strategies_command(
    json_out: Annotated[bool, typer.Option("--json", help="print the list as JSON")] = False,
) -> None:
    """List every available strategy: its name, what it does, and its [strategies.<name>] keys."""
    from engine.strategies.registry import describe

    rows = describe()
    if json_out:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for row in rows:
        typer.echo(f"{row['name']}: {row['description']}")
        for key in row["keys"]:
            typer.echo(f"    {key['key']:<20} default {key['default']!r:<8} {key['accepted']}: {key['doc']}")
        typer.echo("")
    typer.echo("Configure in config.toml as [strategies.<name>]; --strategies a,b runs exactly those.")


SocketOpt = Annotated[str | None, typer.Option("--socket", help="control socket of the engine (default: from config)")]


def _socket(config: Path | None, socket_path: str | None) -> Path:
    from engine.control import default_socket_path

    if socket_path:
        return Path(socket_path)
    return default_socket_path(_settings(config).ui.control_socket)


@app.command()
def attach(config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Open the console against a running headless engine (`bigearn-tui --no-ui`)."""
    from bigearn_tui.attach import run_attached  # lazy: textual loads only for the console

    settings = _settings(config)
    raise typer.Exit(run_attached(settings, _socket(config, socket_path)))


@app.command()
def ctl(
    action: Annotated[str, typer.Argument(help="status | approve ID | reject ID | halt [REASON] | resume | cancel-all | cancel ORDER | mode MODE | arm LIVE | strategy pause|resume NAME | revoke MANDATE")],
    arg: Annotated[str | None, typer.Argument(help="proposal id (its tail is enough), halt reason, mode, or pause|resume")] = None,
    name: Annotated[str | None, typer.Argument(help="with strategy: the strategy's name")] = None,
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
        "arm": {"type": "arm_live", "confirmation": arg or ""},
        "strategy": {"type": f"{arg}_strategy", "strategy_id": name},
        "revoke": {"type": "revoke_mandate", "mandate_id": arg},
        "cancel": {"type": "cancel_order", "client_order_id": arg},
    }
    if action not in bodies:
        _fail(f"ctl {action!r}: accepted: {', '.join(bodies)}")
    if action == "strategy" and (arg not in ("pause", "resume") or not name):
        _fail("ctl strategy: accepted: strategy pause NAME | strategy resume NAME")
    if action in ("approve", "reject", "mode", "arm", "revoke", "cancel") and not arg:
        needs = {"mode": "semi, auto or observe", "arm": "the word LIVE", "revoke": "a mandate id",
                 "cancel": "an order id (its tail is enough)"}.get(
            action, "a proposal or mandate id"
        )
        _fail(f"ctl {action} needs an argument ({needs})")
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


@app.command("sim-exchange")
def sim_exchange(
    port: Annotated[int, typer.Option("--port", help="port to serve on (0 = any free port)")] = 8790,
    host: Annotated[str, typer.Option("--host", help="address to bind (keep it loopback)")] = "127.0.0.1",
    venue: Annotated[str, typer.Option("--venue", help="replay | sim: where the background books come from")] = "replay",
    speed: Annotated[str, typer.Option("--speed", help="1 = real time, N = N times faster, manual = frozen")] = "1",
    data: DataOpt = None,
    markets: MarketsOpt = None,
    balance: Annotated[float, typer.Option("--balance", help="pUSD credited to every new account")] = 10000,
    seed: Annotated[int, typer.Option("--seed", help="seed for the synthetic venue, ids and faults")] = 0,
    ws_drop: Annotated[float, typer.Option("--ws-drop", help="fault: drop WS messages at this rate")] = 0.0,
    ws_duplicate: Annotated[float, typer.Option("--ws-duplicate", help="fault: send WS messages twice")] = 0.0,
    ws_reorder: Annotated[float, typer.Option("--ws-reorder", help="fault: swap WS messages")] = 0.0,
    ws_delay_ms: Annotated[int, typer.Option("--ws-delay-ms", help="fault: delay every WS message")] = 0,
    ws_close_after: Annotated[int | None, typer.Option("--ws-close-after", help="fault: close sockets after N messages")] = None,
    no_pong: Annotated[bool, typer.Option("--no-pong", help="fault: stop answering PING")] = False,
    http_error_rate: Annotated[float, typer.Option("--http-error-rate", help="fault: fail chosen routes at this rate")] = 0.0,
    http_error_status: Annotated[int, typer.Option("--http-error-status", help="425 | 429 | 500 | 502 | 503")] = 500,
    http_error_routes: Annotated[str | None, typer.Option("--http-error-routes", help="comma-separated path prefixes (default: trading routes; 'all' = every route)")] = None,
    http_delay_ms: Annotated[int, typer.Option("--http-delay-ms", help="fault: slow every response")] = 0,
    http_delay_after_ms: Annotated[int, typer.Option("--http-delay-after-ms", help="fault: answer trading routes this late after handling them (placed, outcome unknown to a client that gives up)")] = 0,
    trading_mode: Annotated[str, typer.Option("--trading-mode", help="normal | disabled | cancel_only | post_only")] = "normal",
    enforce_rate_limits: Annotated[bool, typer.Option("--enforce-rate-limits", help="429 past the per-signer buckets")] = False,
    trade_fail_rate: Annotated[float, typer.Option("--trade-fail-rate", help="trades that end FAILED (balances reversed)")] = 0.0,
    trade_retry_rate: Annotated[float, typer.Option("--trade-retry-rate", help="trades that pass through RETRYING")] = 0.0,
    deposit_wallet_only: Annotated[bool, typer.Option("--deposit-wallet-only", help="refuse EOA/proxy makers as production does")] = False,
) -> None:
    """Serve a local exchange that speaks Polymarket's CLOB V2 protocol (REST, WebSockets, Gamma, Data API)."""
    from decimal import Decimal

    from localexchange import ExchangeConfig, FaultConfig, start_exchange

    if venue not in ("replay", "sim"):
        _fail(f"--venue {venue!r}: accepted: replay, sim")
    try:
        rate: float | None = None if speed == "manual" else float(speed)
    except ValueError:
        rate = -1.0
    if rate is not None and rate <= 0:
        _fail(f"--speed {speed!r}: accepted: a number > 0 or manual")
    routes = None if http_error_routes is None else () if http_error_routes == "all" else tuple(
        r.strip() for r in http_error_routes.split(",") if r.strip())
    try:
        faults = FaultConfig(
            seed=seed, ws_drop_rate=ws_drop, ws_duplicate_rate=ws_duplicate, ws_reorder_rate=ws_reorder,
            ws_delay_ms=ws_delay_ms, ws_close_after=ws_close_after, ws_no_pong=no_pong,
            http_error_rate=http_error_rate, http_error_status=http_error_status, http_delay_ms=http_delay_ms,
            http_delay_after_ms=http_delay_after_ms,
            trading_mode=trading_mode, enforce_rate_limits=enforce_rate_limits,
            trade_fail_rate=trade_fail_rate, trade_retry_rate=trade_retry_rate,
        )
    except ValueError as exc:
        _fail(str(exc))
        raise
    if routes is not None:
        faults.http_error_routes = routes
    catalog = lines = None
    if data is not None or markets is not None:
        if venue != "replay" or data is None or markets is None:
            _fail("--data and --markets go together, with --venue replay")
        from engine.feeds.replay import ReplayDataError, load_markets, read_lines

        try:
            catalog = load_markets(markets)
        except ReplayDataError as exc:
            _fail(str(exc))
        lines = read_lines(data, catalog)

    async def serve() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        config = ExchangeConfig(allow_eoa=not deposit_wallet_only)
        async with start_exchange(host=host, port=port, venue=venue, markets=catalog, lines=lines, speed=rate,
                                  seed=seed, paper_balance=Decimal(str(balance)), faults=faults,
                                  config=config) as handle:
            for name, url in handle.urls.items():
                typer.echo(f"{name:<10} {url}")
            sys.stdout.flush()
            await stop.wait()

    try:
        asyncio.run(serve())
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()


@app.command()
def keystore(
    path: Annotated[Path, typer.Argument(help="keystore file to create (mode 0600); point [venue] keystore at it")],
) -> None:
    """Encrypt a private key into a keystore file for `--live`. Asks for the key and a password; neither is
    echoed, stored in config or logged."""
    import getpass

    from engine.venues.polymarket.keys import CredentialsError, create_keystore

    key = getpass.getpass("private key (0x + 64 hex, not echoed): ").strip()
    password = getpass.getpass("new keystore password: ")
    if getpass.getpass("repeat the password: ") != password:
        _fail("the passwords differ; nothing written")
    try:
        address = create_keystore(path, key, password)
    except CredentialsError as exc:
        _fail(str(exc))
        raise
    typer.echo(f"keystore {path} written for {address}; set [venue] keystore = \"{path}\" and keep the password safe")
