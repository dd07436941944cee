"""Control socket: steer a running engine from another process (`bigearn-tui attach`, `bigearn-tui ctl`).

A Unix socket readable only by its owner: it lives in a directory only the owner can enter, the file is
mode 0600, and every connection's peer credentials (SO_PEERCRED) must carry the owner's uid, so neither
the filesystem nor a misconfigured directory lets another user approve trades. The protocol is JSON
lines: one request object per line, one reply per line.

    {"op": "snapshot"}                                  -> {"ok": true, "snapshot": {...}}
    {"op": "snapshot", "since": 41}                     -> {"ok": true, "unchanged": true} while seq is 41
    {"op": "snapshot", "fresh": true}                   -> a snapshot built now (after a command)
    {"op": "status"}                                    -> {"ok": true, "status": {...}}
    {"op": "command", "command": {"type": "approve", "proposal_id": "P000012"}}
                                                        -> {"ok": true|false, "message": "..."}
    ... with "with_snapshot": true                      -> and "snapshot": {...} built after the command
    ... with "actor": "console" in the command          -> recorded as the console's act (default "ctl")
    {"op": "query", "query": {"type": "preview", "ticket": {...}}}
                                                        -> {"ok": true, "answer": {...}} (engine/queries.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import socket
import struct
import types
import typing
from collections.abc import Callable, Generator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

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
from engine.domain import Mode
from engine.queries import (
    Query,
    answer_type,
    query_from_wire,
    query_to_wire,
    ticket_from_wire,
    ticket_to_wire,
)
from engine.snapshot import EngineSnapshot
from engine.steps import run_steps, run_steps_yielding

MAX_LINE = 16 * 1024 * 1024


class ControlError(Exception):
    """The control socket cannot be used; one line for the operator."""


def default_socket_path(configured: str = "") -> Path:
    if configured:
        return Path(configured).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "bigearn.sock"
    return Path(f"/tmp/bigearn-{os.getuid()}") / "bigearn.sock"


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


# --- snapshot codec ---------------------------------------------------------------------------------


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


# Book ladders encoded per step of a stepwise encoding: ~0.2 ms, where all 100 of the bench's books and the
# rest of the snapshot in one pass held the engine's loop for ~0.8 ms (bench/ui.py).
BOOKS_PER_ENCODE_STEP = 25


def encode_snapshot(snap: EngineSnapshot) -> bytes:
    """The snapshot as JSON (Decimals as exact strings), in one go."""
    return run_steps(encode_snapshot_steps(snap))


def encode_snapshot_steps(snap: EngineSnapshot) -> Generator[None, None, bytes]:
    """The same bytes as one orjson pass over the snapshot, made in pieces with a pause (yield) between
    them: the book ladders a few at a time, then the market rows, then the rest around both (orjson takes
    the finished pieces as fragments and copies them in)."""
    items = list(snap.books.items())
    parts = []
    for i in range(0, len(items), BOOKS_PER_ENCODE_STEP):
        parts.append(orjson.dumps(dict(items[i : i + BOOKS_PER_ENCODE_STEP]), default=_default)[1:-1])
        yield
    books = orjson.Fragment(b"{" + b",".join(parts) + b"}")
    markets = orjson.Fragment(orjson.dumps(snap.markets, default=_default))
    yield
    return orjson.dumps(dataclasses.replace(snap, books=books, markets=markets), default=_default)


def _keep(value: Any) -> Any:
    return value


@functools.cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    """A decoder for type `tp`, built once per type: resolving type hints per value costs ~1 ms per 100
    objects, which at 10 snapshots/s would be most of a UI process's budget."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return _keep
        dec = _decoder(inner[0])
        return _keep if dec is _keep else (lambda v: None if v is None else dec(v))
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(tp)]
        plain = [name for name, dec in fields if dec is _keep]
        converted = [(name, dec) for name, dec in fields if dec is not _keep]

        def dataclass_decoder(v: dict[str, Any]) -> Any:
            kw = {name: v[name] for name in plain}
            for name, dec in converted:
                kw[name] = dec(v[name])
            return tp(**kw)

        return dataclass_decoder
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return tuple if item is _keep else (lambda v: tuple(map(item, v)))
        decs = [_decoder(a) for a in args]
        if all(d is _keep for d in decs):
            return tuple
        return lambda v: tuple(d(x) for d, x in zip(decs, v, strict=True))
    if origin is dict:
        value = _decoder(args[1])
        return dict if value is _keep else (lambda v: {k: value(x) for k, x in v.items()})
    if tp is Decimal:
        return Decimal
    return _keep


def decode_snapshot(data: dict[str, Any]) -> EngineSnapshot:
    return _decoder(EngineSnapshot)(data)


# --- commands on the wire ---------------------------------------------------------------------------


def command_to_wire(cmd: Command) -> dict[str, Any]:
    kind = {
        Approve: "approve",
        Reject: "reject",
        EditSize: "edit_size",
        Halt: "halt",
        Resume: "resume",
        CancelAll: "cancel_all",
        SetMode: "set_mode",
        ArmLive: "arm_live",
        PauseStrategy: "pause_strategy",
        ResumeStrategy: "resume_strategy",
        RevokeMandate: "revoke_mandate",
        CancelOrder: "cancel_order",
        PlaceOrder: "place_order",
        Flatten: "flatten",
        WatchMarket: "watch",
        UnwatchMarket: "unwatch",
    }[type(cmd)]
    body = {"type": kind, **dataclasses.asdict(cmd)}
    if isinstance(cmd, PlaceOrder):
        body["ticket"] = ticket_to_wire(cmd.ticket)
    del body["actor"]  # who sent it is the sender's to say (WIRE_ACTORS), not the command object's
    if isinstance(cmd, SetMode):
        body["mode"] = Mode(cmd.mode).value
    return body


# Who a command over the socket may say it comes from, as the engine's log and store record it: the
# console's UI process, or a shell (`bigearn-tui ctl`, the default).
WIRE_ACTORS = ("console", "ctl")


def command_from_wire(body: dict[str, Any]) -> Command:
    kind = body.get("type")
    actor = body.get("actor", "ctl")
    if actor not in WIRE_ACTORS:
        raise ValueError(f"command field actor: {actor!r} is not accepted: accepted: {', '.join(WIRE_ACTORS)}")
    try:
        if kind == "approve":
            return Approve(str(body["proposal_id"]), actor=actor)
        if kind == "reject":
            return Reject(str(body["proposal_id"]), actor=actor, note=str(body.get("note", "")))
        if kind == "edit_size":
            return EditSize(str(body["proposal_id"]), int(body["size"]), actor=actor)
        if kind == "halt":
            return Halt(str(body.get("reason") or "halt via control socket"), actor=actor)
        if kind == "resume":
            return Resume(actor=actor)
        if kind == "cancel_all":
            return CancelAll(actor=actor)
        if kind == "set_mode":
            return SetMode(Mode(body["mode"]), actor=actor)
        if kind == "arm_live":
            return ArmLive(str(body["confirmation"]), actor=actor)
        if kind == "pause_strategy":
            reason = str(body.get("reason") or f"paused via {actor}")
            return PauseStrategy(str(body["strategy_id"]), reason=reason, actor=actor)
        if kind == "resume_strategy":
            return ResumeStrategy(str(body["strategy_id"]), actor=actor)
        if kind == "revoke_mandate":
            return RevokeMandate(str(body["mandate_id"]), actor=actor)
        if kind == "cancel_order":
            return CancelOrder(str(body["client_order_id"]), actor=actor)
        if kind == "place_order":
            return PlaceOrder(ticket_from_wire(dict(body.get("ticket") or {})), actor=actor)
        if kind == "flatten":
            return Flatten(str(body["token_id"]), actor=actor)
        if kind == "watch":
            return WatchMarket(str(body["condition_id"]), actor=actor)
        if kind == "unwatch":
            return UnwatchMarket(str(body["condition_id"]), actor=actor)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"command {kind!r}: missing or invalid field {exc}") from exc
    raise ValueError(
        f"unknown command type {kind!r}: accepted: approve, reject, edit_size, halt, resume, "
        "cancel_all, set_mode, arm_live, pause_strategy, resume_strategy, revoke_mandate, cancel_order, "
        "place_order, flatten, watch, unwatch"
    )


class ControlServer:
    """Serves one engine. Proposal ids may be given by their unique tail as the console shows them."""

    def __init__(self, engine: Any, path: Path, *, allowed_uid: int | None = None) -> None:
        self.engine = engine
        self.path = Path(path)
        self.allowed_uid = os.getuid() if allowed_uid is None else allowed_uid
        self._server: asyncio.base_events.Server | None = None
        self._encoded: tuple[int, bytes] = (-1, b"")
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = directory.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise ControlError(
                f"{directory} must belong to uid {os.getuid()} and be private (mode 0700): "
                f"it is uid {st.st_uid} mode {oct(st.st_mode & 0o777)}"
            )
        if self.path.exists() or self.path.is_symlink():
            if await self._alive():
                raise ControlError(f"{self.path}: another engine is already listening here")
            self.path.unlink()
        old = os.umask(0o177)  # the socket is created 0600, never briefly world-accessible
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _alive(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(self.path)), 1)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    async def close(self) -> None:
        for writer in list(self._clients):  # attached consoles learn at once that the engine is gone
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _resolve(self, proposal_id: str) -> str:
        ids = [*self.engine.proposals, *self.engine.mandates.by_id]
        if proposal_id in ids:
            return proposal_id
        matches = [p for p in ids if p.endswith(proposal_id)]
        return matches[0] if len(matches) == 1 else proposal_id

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        self._clients.add(writer)
        try:
            uid = peer_uid(sock)
            if uid != self.allowed_uid:
                writer.write(
                    orjson.dumps({"ok": False, "message": f"refused: uid {uid} is not the engine's owner"})
                    + b"\n"
                )
                await writer.drain()
                return
            while True:
                line = await reader.readline()
                if not line:
                    return
                reply = await self._handle(line)
                writer.write(
                    reply if isinstance(reply, bytes) else orjson.dumps(reply, default=_default) + b"\n"
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _snapshot_reply(self, req: dict[str, Any]) -> bytes | dict[str, Any]:
        # Built in steps, so that a console polling at 10 Hz never stalls the engine's loop for the whole
        # build; a fresh one (after a command, whose effect must show at once) past the rate cap.
        snap = await self.engine.snapshot_stepwise(now=bool(req.get("fresh")))
        if req.get("since") == snap.seq:
            return {"ok": True, "unchanged": True}
        return b'{"ok":true,"snapshot":' + await self._encode(snap) + b"}\n"

    async def _encode(self, snap: EngineSnapshot) -> bytes:
        """Encoded once per snapshot however many consoles poll, in steps of ~0.2 ms (encode_snapshot_steps)."""
        seq, encoded = self._encoded
        if seq != snap.seq:
            await asyncio.sleep(0)  # the encoding's first step is not part of the build's last one
            encoded = await run_steps_yielding(encode_snapshot_steps(snap))
            if snap.seq > self._encoded[0]:
                self._encoded = (snap.seq, encoded)
        return encoded

    async def _handle(self, line: bytes) -> bytes | dict[str, Any]:
        try:
            req = orjson.loads(line)
        except orjson.JSONDecodeError:
            return {"ok": False, "message": "request is not JSON: send one JSON object per line"}
        op = req.get("op") if isinstance(req, dict) else None
        if op == "snapshot":
            return await self._snapshot_reply(req)
        if op == "status":
            return {"ok": True, "status": status_of(self.engine.snapshot(force=True))}
        if op == "command":
            try:
                body = dict(req.get("command") or {})
                for key in ("proposal_id", "mandate_id"):
                    if key in body:
                        body[key] = self._resolve(str(body[key]))
                cmd = command_from_wire(body)
            except ValueError as exc:
                return {"ok": False, "message": str(exc)}
            result: CommandResult = await self.engine.execute(cmd)
            reply: dict[str, Any] = {"ok": result.ok, "message": result.message}
            if req.get("with_snapshot"):  # the console's round trip: the effect comes back with the answer
                snap = await self.engine.snapshot_stepwise(now=True)
                reply["snapshot"] = orjson.Fragment(await self._encode(snap))
            return reply
        if op == "query":
            try:
                query = query_from_wire(dict(req.get("query") or {}))
                answer = await self.engine.ask(query)
            except ValueError as exc:
                return {"ok": False, "message": str(exc)}
            return {"ok": True, "answer": answer}
        return {"ok": False, "message": f"unknown op {op!r}: accepted: snapshot, status, command, query"}


def status_of(snap: EngineSnapshot) -> dict[str, Any]:
    return {
        "seq": snap.seq,
        "ts": snap.ts,
        "mode": snap.mode,
        "venue": snap.venue,
        "state": snap.state,
        "halt_reason": snap.halt_reason,
        "error": snap.error,
        "equity": str(snap.pnl.equity),
        "realized": str(snap.pnl.realized),
        "open_orders": len(snap.orders),
        "open_positions": len(snap.positions),
        "pending": [
            {
                "id": p.proposal_id,
                "market": p.title,
                "side": p.side,
                "outcome": p.outcome,
                "price": p.price / 10_000,
                "size": p.size / 1_000_000,
                "edge": round(p.edge_net, 4),
                "expires_ts": p.expires_ts,
                "expires_wall": p.expires_wall,
                "strategy": p.strategy_id,
                **({"kind": p.kind, "bounds": p.bounds} if p.kind != "ORDER" else {}),
                **({"legs": p.legs} if p.legs else {}),
            }
            for p in snap.pending_proposals
        ],
        "strategies": {
            s.strategy_id: {"state": s.state, **({"reason": s.reason} if s.state == "PAUSED" else {})}
            for s in snap.strategies
            if s.state != "OFF"
        },
        "mandates": [
            {"id": m.mandate_id, "strategy": m.strategy_id, "market": m.title, "status": m.status,
             "bounds": m.bounds, "orders": m.orders}  # fmt: skip
            for m in snap.mandates
            if m.status in ("PENDING", "ACTIVE")
        ],
    }


class ControlClient:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(str(self.path), limit=MAX_LINE)
        except FileNotFoundError as exc:
            raise ControlError(
                f"{self.path}: no engine is listening (start one with `bigearn-tui --no-ui`)"
            ) from exc
        except PermissionError as exc:
            raise ControlError(
                f"{self.path}: permission denied (the socket belongs to another user)"
            ) from exc
        except OSError as exc:
            raise ControlError(f"{self.path}: cannot connect: {exc.strerror or exc}") from exc

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._writer is None:
            await self.connect()
        assert self._reader is not None and self._writer is not None
        async with self._lock:
            self._writer.write(orjson.dumps(body) + b"\n")
            await self._writer.drain()
            line = await self._reader.readline()
        if not line:
            raise ControlError(f"{self.path}: the engine closed the connection")
        return orjson.loads(line)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None


class RemoteEngine:
    """The console's view of an engine in another process: the same `snapshot()` and `execute()`.

    Commands go over a connection of their own, so a key never queues behind a snapshot poll in flight."""

    def __init__(self, client: ControlClient, refresh_hz: float = 5.0) -> None:
        self.client = client
        self.commands = ControlClient(client.path)
        self.refresh_hz = refresh_hz
        self._snap: EngineSnapshot | None = None
        self._task: asyncio.Task[None] | None = None
        # Called once with a reason when the engine stops answering (its process ended or closed the socket).
        self.on_lost: Callable[[str], Any] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll())

    def _adopt(self, data: dict[str, Any]) -> None:
        # Polls and commands answer on two connections: an older snapshot never replaces a newer one.
        if self._snap is None or data["seq"] > self._snap.seq:
            self._snap = decode_snapshot(data)

    async def refresh(self) -> None:
        """Fetch the engine's newest snapshot, unless it is the one we have."""
        body: dict[str, Any] = {"op": "snapshot"}
        if self._snap is not None:
            body["since"] = self._snap.seq
        reply = await self.client.request(body)
        if reply.get("ok") and not reply.get("unchanged"):
            self._adopt(reply["snapshot"])

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(1 / self.refresh_hz)
            try:
                await self.refresh()
            except (ControlError, OSError) as exc:
                if self.on_lost is not None:
                    self.on_lost(str(exc) or type(exc).__name__)
                return

    def snapshot(self, force: bool = False) -> EngineSnapshot:
        if self._snap is None:
            raise ControlError("no snapshot received yet")
        return self._snap

    async def execute(self, command: Command) -> CommandResult:
        reply = await self.commands.request(
            {"op": "command", "command": {**command_to_wire(command), "actor": "console"}, "with_snapshot": True}
        )
        if "snapshot" in reply:  # absent only when the engine could not read the command: nothing changed
            self._adopt(reply["snapshot"])
        return CommandResult(bool(reply.get("ok")), str(reply.get("message", "")))

    async def ask(self, query: Query) -> Any:
        """A query's answer (engine/queries.py), on the command connection; ValueError with the engine's
        words when it refuses the question."""
        reply = await self.commands.request({"op": "query", "query": query_to_wire(query)})
        if not reply.get("ok"):
            raise ValueError(str(reply.get("message", "the engine refused the query")))
        return _decoder(answer_type(query))(reply["answer"])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()
        await self.commands.close()
