"""`bigearn-tui`: the console by default, the engine alone with `--no-ui`, and batch replays.

The headless paths import only `engine`; the Textual console is imported lazily, so a server running
`--no-ui` never loads textual.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from typer.core import TyperGroup

from engine.config import ConfigError, Settings, load_settings
from engine.logs import setup_json_logging
from engine.runtime import EngineFailed, SetupError, run_headless

app = typer.Typer(add_completion=False, help="Big Earn: a trading console for Polymarket.", pretty_exceptions_enable=False)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="config.toml to load (default: the repo's).")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="semi | auto | observe")]
VenueOpt = Annotated[str | None, typer.Option("--venue", help="replay | quotes | sim | polymarket")]
SpeedOpt = Annotated[str | None, typer.Option("--speed", help="replay speed: 1 = real time, N = N times faster, max")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="replay books file (JSON lines, optionally gzip); with --venue quotes the quotes CSV")]
MarketsOpt = Annotated[Path | None, typer.Option("--markets", help="replay markets file (JSON)")]
LabelsOpt = Annotated[Path | None, typer.Option("--labels", help="--venue quotes: the settled outcomes CSV (slug,y,question)")]
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
        "markets": "venue.markets", "labels": "venue.labels", "db": "store.path", "seed": "engine.seed", "log_level": "log.level",
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
    labels: LabelsOpt = None,
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
    settings = _settings(config, mode=mode, venue=venue, speed=speed, data=data, markets=markets, labels=labels, db=db,
                         seed=seed, log_level=log_level, live=live, exchange=exchange, strategies=strategies)
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
    labels: LabelsOpt = None,
    db: DbOpt = None,
    seed: SeedOpt = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary object")] = False,
    venue: Annotated[str, typer.Option("--venue", help="replay (recorded books) | quotes (recorded quotes with outcomes: --data, --labels) | sim (synthetic market)")] = "replay",
    strategies: StrategiesOpt = None,
) -> None:
    """Replay recorded books or quotes (or a synthetic market) to the end, headless, and summarise the run."""
    if venue not in ("replay", "quotes", "sim"):
        _fail(f"--venue = {venue!r}: accepted: 'replay', 'quotes' or 'sim' (a batch run needs data with an end)")
    if labels is not None and venue != "quotes":
        _fail(f"--labels goes with --venue quotes (got --venue {venue!r})")
    settings = _settings(config, mode=mode, venue=venue, speed=speed, data=data, markets=markets, labels=labels, db=db,
                         seed=seed, log_level=log_level, strategies=strategies)
    summary = _headless(settings, control=False)
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        typer.echo(f"{key:<{width}}  {value}")


def _report_time(field: str, text: str | None) -> int | None:
    """A --since/--until value as unix ms (UTC): a date (2026-09-28) or a date and time (2026-09-28T14:30)."""
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        _fail(f"{field} = {text!r}: accepted: a UTC date 2026-09-28 or date and time 2026-09-28T14:30")
        raise  # unreachable: _fail exits
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@app.command()
def report(
    config: ConfigOpt = None,
    db: Annotated[str | None, typer.Option("--db", help="the run's SQLite ledger (default: store.path)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="from this UTC date/time (2026-09-28[T14:30])")] = None,
    until: Annotated[str | None, typer.Option("--until", help="up to (not including) this UTC date/time")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="one strategy's fills, orders and P&L line")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="also write a self-contained HTML page here")] = None,
) -> None:
    """The truth report of a run's ledger (live, paper or replay): P&L attribution, execution, markouts,
    risk-adjusted returns, calibration, health and the promotion gates."""
    from engine.analytics.ledger_frame import LedgerError
    from engine.analytics.report_text import render_text
    from engine.analytics.truth_report import build_report

    settings = _settings(config)
    since_ms, until_ms = _report_time("--since", since), _report_time("--until", until)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        _fail(f"--until = {until!r}: must be after --since = {since!r}")
    try:
        result = build_report(
            db or settings.store.path, since_ms=since_ms, until_ms=until_ms, strategy=strategy,
            stress_fee_multiple=settings.reports.stress_fee_multiple, stress_cents=settings.reports.stress_cents,
        )  # fmt: skip
    except LedgerError as exc:
        _fail(str(exc))
        return
    if strategy is not None and strategy not in result["strategies"]:
        known = ", ".join(result["strategies"]) or "none"
        _fail(f"--strategy = {strategy!r}: not in this ledger; accepted: {known}")
    if html is not None:
        from engine.analytics.report_html import render_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(result), encoding="utf-8")
    if json_out:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return
    typer.echo(render_text(result))
    if html is not None:
        typer.echo(f"HTML page: {html}")


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


class _CtlGroup(TyperGroup):
    """`ctl WORD`: an unknown word is named with the accepted ones, like any bad input (exit 2)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            _fail(f"ctl {args[0]!r}: accepted: {', '.join(self.commands)}")
        return super().resolve_command(ctx, args)


ctl_app = typer.Typer(
    cls=_CtlGroup, no_args_is_help=True, add_completion=False,
    help="Steer a running engine from a shell. Exit 0 done, 1 refused by the engine, 2 bad input/no engine.",
)
app.add_typer(ctl_app, name="ctl")
JsonOpt = Annotated[bool, typer.Option("--json", help="print the engine's raw answer as JSON")]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="the id (its tail, as the console shows it)")]
MarketArg = Annotated[str, typer.Argument(metavar="MARKET", help="condition id, its tail (4+ chars) or slug")]


def _request(path: Path, body: dict[str, Any]) -> dict[str, Any]:
    """One request on the control socket; a socket that cannot be used exits 2 with one line."""
    from engine.control import ControlClient, ControlError

    async def go() -> dict[str, Any]:
        client = ControlClient(path)
        try:
            return await client.request(body)
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except ControlError as exc:
        _fail(str(exc))
        raise


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _command(body: dict[str, Any], config: Path | None, socket_path: str | None) -> None:
    """Send one command, print the engine's JSON answer; exit 1 when it refuses."""
    reply = _request(_socket(config, socket_path), {"op": "command", "command": body})
    _print_json(reply)
    if not reply.get("ok"):
        raise typer.Exit(1)


def _act(path: Path, command: Any, json_out: bool) -> None:
    """Send one command object, print the engine's word on it; exit 1 when it refuses."""
    from engine.control import command_to_wire

    reply = _request(path, {"op": "command", "command": command_to_wire(command)})
    if json_out:
        _print_json(reply)
    else:
        typer.echo(str(reply.get("message", "")))
    if not reply.get("ok"):
        raise typer.Exit(1)


def _ask(path: Path, query: Any) -> dict[str, Any]:
    """A query's answer as JSON (engine/queries.py); the engine refusing the question exits 1."""
    from engine.queries import query_to_wire

    reply = _request(path, {"op": "query", "query": query_to_wire(query)})
    if not reply.get("ok"):
        typer.echo(f"bigearn-tui: {reply.get('message', 'the engine refused the query')}", err=True)
        raise typer.Exit(1)
    return reply["answer"]


@ctl_app.command("status")
def ctl_status(config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """JSON: state, mode, equity, pending proposals."""
    reply = _request(_socket(config, socket_path), {"op": "status"})
    _print_json(reply.get("status", reply))
    if not reply.get("ok"):
        raise typer.Exit(1)


@ctl_app.command("approve")
def ctl_approve(proposal_id: IdArg, config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Approve a pending proposal or mandate."""
    _command({"type": "approve", "proposal_id": proposal_id}, config, socket_path)


@ctl_app.command("reject")
def ctl_reject(proposal_id: IdArg, config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Reject a pending proposal or mandate."""
    _command({"type": "reject", "proposal_id": proposal_id}, config, socket_path)


@ctl_app.command("halt")
def ctl_halt(
    reason: Annotated[str | None, typer.Argument(metavar="REASON", help="why, for the record")] = None,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Halt: nothing new is sent until resume."""
    _command({"type": "halt", "reason": reason or "halt via ctl"}, config, socket_path)


@ctl_app.command("resume")
def ctl_resume(config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Resume after a halt."""
    _command({"type": "resume"}, config, socket_path)


@ctl_app.command("cancel-all")
def ctl_cancel_all(config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Cancel every working order."""
    _command({"type": "cancel_all"}, config, socket_path)


@ctl_app.command("cancel")
def ctl_cancel(order_id: IdArg, config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Cancel one working order."""
    _command({"type": "cancel_order", "client_order_id": order_id}, config, socket_path)


@ctl_app.command("mode")
def ctl_mode(
    mode: Annotated[str, typer.Argument(metavar="MODE", help="semi | auto | observe")],
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Switch the mode."""
    _command({"type": "set_mode", "mode": mode}, config, socket_path)


@ctl_app.command("arm")
def ctl_arm(
    word: Annotated[str, typer.Argument(metavar="LIVE", help="the word LIVE")],
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Allow real orders on a live venue."""
    _command({"type": "arm_live", "confirmation": word}, config, socket_path)


@ctl_app.command("strategy")
def ctl_strategy(
    action: Annotated[str, typer.Argument(metavar="pause|resume", help="pause | resume")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="the strategy's name")],
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Pause one strategy (no new risk) or resume it."""
    if action not in ("pause", "resume"):
        _fail("ctl strategy: accepted: strategy pause NAME | strategy resume NAME")
    _command({"type": f"{action}_strategy", "strategy_id": name}, config, socket_path)


@ctl_app.command("revoke")
def ctl_revoke(mandate_id: IdArg, config: ConfigOpt = None, socket_path: SocketOpt = None) -> None:
    """Withdraw a quoting mandate: its orders are cancelled at once."""
    _command({"type": "revoke_mandate", "mandate_id": mandate_id}, config, socket_path)


# --- hand orders, the watchlist, search and history ------------------------------------------------


def _choice(field: str, text: str, enum: Any) -> Any:
    """`buy` -> Side.BUY, `fak` -> OrderType.FAK: any case; anything else names the field and the values."""
    try:
        return enum(text.strip().upper())
    except ValueError:
        _fail(f"{field} {text!r}: accepted: {', '.join(m.value for m in enum)} (any case)")
        raise


def parse_ticket_text(price: str | None, size: str) -> tuple[int | None, tuple[int | None, Decimal | None]]:
    """The ticket's price and size as the console's ticket reads them (engine/ticket_text.py); a text that is
    not accepted exits 2 naming the field."""
    from engine.ticket_text import parse_price, parse_size

    try:
        return parse_price(price or ""), parse_size(size)
    except ValueError as exc:
        _fail(str(exc))
        raise


def _find_market(path: Path, ident: str) -> tuple[str, str, str] | None:
    """(condition id, first label, second label) of a market named as the engine names it: its id or unique
    tail among the watched markets, else its slug in the venue's catalogue. None if neither is unique."""
    from engine.queries import SearchMarkets

    ident = ident.strip()
    def named(cid: str) -> bool:
        return cid == ident or (len(ident) >= 4 and cid.endswith(ident))

    snap = _request(path, {"op": "snapshot"}).get("snapshot") or {}
    markets = snap.get("markets", ())
    found = {(m["condition_id"], m["yes_label"], m["no_label"]) for m in markets if named(m["condition_id"])}
    if not found:
        rows = _ask(path, SearchMarkets(words=ident, limit=200))["rows"]
        found = {(r["condition_id"], *r["outcomes"].split("/", 1)) for r in rows if ident == r["slug"]}
    return next(iter(found)) if len(found) == 1 else None


def _outcome(path: Path, market: str, word: str) -> Any:
    """yes/up -> YES, no/down -> NO; another word is matched against the market's own labels."""
    from engine.domain import Outcome

    w = word.strip().lower()
    if w in ("yes", "up"):
        return Outcome.YES
    if w in ("no", "down"):
        return Outcome.NO
    found = _find_market(path, market)
    if found is None:
        _fail(f"OUTCOME {word!r}: accepted: yes, no, up, down, or a label of MARKET {market!r},"
              " which names no watched market (a condition id, its tail or a slug)")
        raise AssertionError  # unreachable: _fail exits
    for outcome, label in zip(Outcome, found[1:], strict=True):
        if w == label.strip().lower():
            return outcome
    _fail(f"OUTCOME {word!r}: accepted: {', '.join(['yes', 'no', 'up', 'down', *found[1:]])} (any case)")


def _usdc(text: str) -> str:
    """An exact Decimal from the wire without its trailing zeros: "76.5000000000" -> "76.5"."""
    return f"{Decimal(text).normalize():f}"


def _print_what_if(w: dict[str, Any]) -> None:
    from engine.units import px_to_str, qty_to_str

    cut = f" (cut by {w['binding_cap']})" if w["binding_cap"] else ""
    held = "USDC" if w["side"] == "BUY" else "shares"
    lines = [
        f"what-if: {w['summary']}",
        f"  {w['side']} {w['outcome_label']}  limit {px_to_str(w['limit_price'])}"
        f"  size {qty_to_str(w['size'])}  after caps {qty_to_str(w['size_after_caps'])}{cut}",
        f"  notional {_usdc(w['notional'])}  fee {_usdc(w['fee'])} ({w['fee_rate_bps']:.1f} bps)",
        f"  trades now {qty_to_str(w['fills_now'])} at {w['effective_price']:.6g}"
        f"  slippage {w['slippage_bps']:.1f} bps  levels {w['levels']}  depth share {w['depth_share']:.1%}"
        if w["effective_price"] is not None else "  trades nothing now",
        f"  rests {qty_to_str(w['rests'])}  reserves {_usdc(w['reserves'])} {held}"
        f"  cash {_usdc(w['cash'])}  available {_usdc(w['available'])}",
    ]
    passed = ""  # the rules that let it through share lines; each refusing one has its own, with why
    for r in w["rules"]:
        if not r["passed"]:
            lines.append(f"  ✗ {r['name']}" + (f": {r['detail']}" if r["detail"] else ""))
        elif len(passed) + len(r["name"]) > 96:
            lines.append(passed)
            passed = ""
        if r["passed"]:
            passed += f"  ✓ {r['name']}"
    typer.echo("\n".join([*lines, passed] if passed else lines))


@ctl_app.command("order")
def ctl_order(
    market: MarketArg,
    outcome: Annotated[str, typer.Argument(metavar="OUTCOME", help="up/yes, down/no or the market's label")],
    side: Annotated[str, typer.Argument(metavar="SIDE", help="buy | sell")],
    size: Annotated[str, typer.Argument(metavar="SIZE", help="shares (10) or dollars ('$25')")],
    price: Annotated[str | None, typer.Option("--price", help="limit, e.g. 0.45 (none: marketable)")] = None,
    order_type: Annotated[str, typer.Option("--type", help="GTC | GTD | FOK | FAK")] = "GTC",
    post_only: Annotated[bool, typer.Option("--post-only", help="rest only (GTC/GTD with --price)")] = False,
    expiry_s: Annotated[int | None, typer.Option("--expiry-s", help="GTD: seconds until it expires")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the what-if, send nothing")] = False,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """A hand order (the manual strategy's, through every risk layer): prints its what-if, then sends it."""
    from engine.commands import PlaceOrder
    from engine.domain import OrderType, Side
    from engine.queries import OrderTicket, PreviewOrder

    side_, kind = _choice("SIDE", side, Side), _choice("--type", order_type, OrderType)
    px, (shares, usdc) = parse_ticket_text(price, size)
    path = _socket(config, socket_path)
    try:
        ticket = OrderTicket(market.strip(), _outcome(path, market, outcome), side_, px, shares, usdc, kind,
                             post_only, expiry_s)  # fmt: skip
    except ValueError as exc:
        _fail(str(exc))
        raise
    what_if = _ask(path, PreviewOrder(ticket))
    if dry_run:
        if json_out:
            _print_json(what_if)
        else:
            _print_what_if(what_if)
        return
    if not json_out:
        _print_what_if(what_if)
    from engine.control import command_to_wire

    reply = _request(path, {"op": "command", "command": command_to_wire(PlaceOrder(ticket))})
    if json_out:
        _print_json({"what_if": what_if, **reply})
    else:
        typer.echo(str(reply.get("message", "")))
    if not reply.get("ok"):
        raise typer.Exit(1)


@ctl_app.command("flatten")
def ctl_flatten(
    token: Annotated[str, typer.Argument(metavar="TOKEN", help="token id/tail, or MARKET:OUTCOME")],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Close one held token: cancel its working orders and sell what each strategy holds, marketable."""
    from engine.commands import Flatten

    _act(_socket(config, socket_path), Flatten(token.strip()), json_out)


@ctl_app.command("watch")
def ctl_watch(
    market: MarketArg, json_out: JsonOpt = False, config: ConfigOpt = None, socket_path: SocketOpt = None
) -> None:
    """Put a market of the venue's catalogue on the watchlist (see `ctl search`)."""
    from engine.commands import WatchMarket

    _act(_socket(config, socket_path), WatchMarket(market.strip()), json_out)


@ctl_app.command("unwatch")
def ctl_unwatch(
    market: MarketArg, json_out: JsonOpt = False, config: ConfigOpt = None, socket_path: SocketOpt = None
) -> None:
    """Take a market off the watchlist: the strategies' orders in it are cancelled (yours stay)."""
    from engine.commands import UnwatchMarket

    _act(_socket(config, socket_path), UnwatchMarket(market.strip()), json_out)


def _when(ts_ms: int | None) -> str:
    from datetime import UTC, datetime

    return "-" if ts_ms is None else datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@ctl_app.command("search")
def ctl_search(
    words: Annotated[list[str] | None, typer.Argument(metavar="WORDS", help="all must match")] = None,
    category: Annotated[str, typer.Option("--category", help="only this category")] = "",
    min_liquidity: Annotated[float, typer.Option("--min-liquidity", min=0, help="USDC")] = 0.0,
    ends_within_h: Annotated[float | None, typer.Option("--ends-within-h", min=0, help="hours")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="rows to show")] = 40,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """Search the venue's catalogue (Gamma, or the replay's data file); ✓ marks a watched market."""
    from engine.queries import SearchMarkets

    query = SearchMarkets(" ".join(words or ()), category, min_liquidity, ends_within_h, limit)
    found = _ask(_socket(config, socket_path), query)
    if json_out:
        _print_json(found)
        return
    typer.echo(f"{len(found['rows'])} of {found['total']} matches in {found['source']}")
    width = min(60, max((len(r["title"]) for r in found["rows"]), default=0))
    for r in found["rows"]:
        title = r["title"] if len(r["title"]) <= width else r["title"][: width - 1] + "…"
        mark = "✓" if r["watched"] else " "
        typer.echo(f"{mark} {title:<{width}}  {r['outcomes']}  {r['category'] or '-'}"
                   f"  liq ${r['liquidity']:,.0f}  ends {_when(r['end_ts'])}"
                   f"  …{r['condition_id'][-8:]}  {r['slug']}")


@ctl_app.command("history")
def ctl_history(
    market: MarketArg,
    last: Annotated[int, typer.Option("--last", min=1, help="mids to show")] = 20,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
    socket_path: SocketOpt = None,
) -> None:
    """A watched market's last mids, our fills and our working orders (prices in YES terms)."""
    from engine.queries import MarketHistory

    path = _socket(config, socket_path)
    found = _find_market(path, market)
    if found is None:
        _fail(f"MARKET {market!r}: accepted: a watched market's condition id, its unique tail (4+) or slug")
        raise AssertionError  # unreachable: _fail exits
    h = _ask(path, MarketHistory(found[0]))
    if json_out:
        _print_json(h)
        return
    typer.echo(f"{h['title']} (…{h['condition_id'][-8:]}): {len(h['mids'])} mids, {len(h['fills'])} fills")
    for p in h["mids"][-last:]:
        typer.echo(f"  {_when(p['ts'])}  mid {p['mid']:.4f}")
    for f in h["fills"]:
        typer.echo(f"  {_when(f['ts'])}  fill {f['side']} {f['size']:g} @ {f['price']:.4f}")
    for side, price in h["resting"]:
        typer.echo(f"  working {side} @ {price:.4f}")


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
