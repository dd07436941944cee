"""`ctl order`, `flatten`, `watch`, `unwatch`, `search` and `history` from a shell, against a real replay engine
on a control socket: the CLI runs in typer's CliRunner on a thread of its own while the engine's loop answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner, Result

from bigearn_tui.cli import app
from engine.control import ControlServer
from engine.runtime import Runtime
from tests.conftest import CID, START
from tests.test_manual_orders import at, close

TIMEOUT_S = 60
TAIL = CID[-6:]  # the console shows tails; ctl takes them
Ctl = Callable[..., Awaitable[Result]]


async def _ctl(sock: Path, *args: str) -> Result:
    """`bigearn-tui ctl ARGS --socket SOCK` on a daemon thread (it runs its own event loop there), so this loop
    keeps serving the engine; bounded, so a hang fails the test instead of the suite."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Result] = loop.create_future()

    def work() -> None:
        result = CliRunner().invoke(app, ["ctl", *args, "--socket", str(sock)])
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))

    threading.Thread(target=work, daemon=True).start()
    return await asyncio.wait_for(done, TIMEOUT_S)


def with_ctl(tmp_path: Path, body: Callable[[Runtime, Ctl], Awaitable[None]], **extra: Any) -> None:
    """The manual-orders replay engine 20 s in, served on a socket; the store closed afterwards."""

    async def main() -> None:
        rt = await at(tmp_path, 20, **extra)
        sock_dir = tmp_path / "ctl"
        sock_dir.mkdir(mode=0o700)
        server = ControlServer(rt.engine, sock_dir / "s.sock")
        await server.start()
        try:
            await body(rt, lambda *args: _ctl(server.path, *args))
        finally:
            await server.close()
            await close(rt)

    asyncio.run(asyncio.wait_for(main(), TIMEOUT_S))


def test_dry_run_prints_the_what_if_and_sends_nothing(tmp_path: Path) -> None:
    async def body(rt: Runtime, ctl: Ctl) -> None:
        e = rt.engine
        before = (len(e.orders), e.counters["orders"], e.counters["proposals"])
        r = await ctl("order", TAIL, "up", "buy", "150", "--type", "FAK", "--dry-run")
        assert r.exit_code == 0, r.output
        out = r.stdout
        assert "fee 2.34313" in out and "BUY Up  limit 0.51  size 150  after caps 150" in out, out
        assert "levels 2" in out and "✓ engine" in out and "✗" not in out, out
        assert (len(e.orders), e.counters["orders"], e.counters["proposals"]) == before
        raw = await ctl("order", TAIL, "UP", "BUY", "150", "--type", "fak", "--dry-run", "--json")
        assert orjson.loads(raw.stdout)["fee"] == "2.34313"
        assert (len(e.orders), e.counters["orders"]) == before[:2]

    with_ctl(tmp_path, body)


def test_a_post_only_order_is_placed_then_cancelled_by_its_tail(tmp_path: Path) -> None:
    async def body(rt: Runtime, ctl: Ctl) -> None:
        e = rt.engine
        r = await ctl("order", TAIL, "Up", "buy", "20", "--price", "0.45", "--post-only")
        assert r.exit_code == 0, r.output
        assert "what-if:" in r.stdout and "fee 0" in r.stdout, r.stdout
        sent = r.stdout.strip().splitlines()[-1]
        assert sent.startswith("sent ") and sent.endswith("BUY Up 0.45 x20 GTC post-only"), sent
        oid = sent.split()[1].rstrip(":")
        await rt.venue.run(e, until_ts=START + 22_000)  # the venue acknowledges it
        assert e.orders[oid].state.value == "LIVE" and e.orders[oid].strategy_id == "manual"
        c = await ctl("cancel", oid[-5:])
        assert c.exit_code == 0 and orjson.loads(c.stdout)["ok"] is True, c.output
        await rt.venue.run(e, until_ts=START + 24_000)
        assert oid not in e.working and e.orders[oid].state.value == "CANCELLED"
        # A refused hand order: the what-if names the rule, nothing is sent, exit 1.
        refused = await ctl("order", TAIL, "up", "buy", "10", "--price", "0.85")
        assert refused.exit_code == 1 and "✗ ZONE_STRATEGY" in refused.stdout, refused.output
        assert refused.stdout.strip().splitlines()[-1].startswith("not sent: refused: ZONE_STRATEGY")
        assert len(e.orders) == 1

    with_ctl(tmp_path, body)


def test_bad_input_names_the_field_and_exits_2(tmp_path: Path) -> None:
    async def body(rt: Runtime, ctl: Ctl) -> None:
        cases = {
            ("hold", "10", "up"): "SIDE 'hold': accepted: BUY, SELL",
            ("buy", "ten", "up"): "size: 'ten' is not accepted: shares like 10",
            ("buy", "$-5", "up"): "size: '$-5' must be > 0",
            ("buy", "10", "sideways"): "OUTCOME 'sideways': accepted: yes, no, up, down, Up, Down",
        }
        for (side, size, outcome), words in cases.items():
            r = await ctl("order", TAIL, outcome, side, size)
            assert r.exit_code == 2 and words in r.stderr, (side, size, outcome, r.output)
            assert "Traceback" not in r.output
        r = await ctl("order", "zzzz", "maybe", "buy", "10")
        assert r.exit_code == 2 and "OUTCOME 'maybe'" in r.stderr and "MARKET 'zzzz'" in r.stderr, r.output
        r = await ctl("order", TAIL, "up", "buy", "10", "--price", "1.5")
        assert r.exit_code == 2 and "price: '1.5' is not strictly between 0 and 1" in r.stderr
        r = await ctl("order", TAIL, "up", "buy", "10", "--type", "FAK", "--post-only", "--price", "0.4")
        assert r.exit_code == 2 and "post_only" in r.stderr, r.output
        r = await ctl("explode")
        assert r.exit_code == 2 and "accepted: status, approve" in r.stderr and "order" in r.stderr
        assert not rt.engine.orders  # nothing reached the engine

    with_ctl(tmp_path, body)


def test_search_lists_the_market_and_watch_round_trips(tmp_path: Path) -> None:
    other = "0x" + "01" * 32  # the dataset's second market, btc-updown-test-1

    async def body(rt: Runtime, ctl: Ctl) -> None:
        e = rt.engine
        r = await ctl("search", "test", "1")
        assert r.exit_code == 0, r.output
        lines = r.stdout.strip().splitlines()
        assert lines[0] == "1 of 1 matches in the replay's data file", lines
        assert lines[1].startswith("✓ Bitcoin Up or Down - test 1  Up/Down  crypto  liq $"), lines
        assert lines[1].endswith(f"…{other[-8:]}  btc-updown-test-1"), lines
        off = await ctl("unwatch", other[-6:])
        assert off.exit_code == 0 and "btc-updown-test-1 off the watchlist" in off.stdout, off.output
        assert other not in {m.condition_id for m in e.snapshot(force=True).markets}
        again = await ctl("search", "test", "1", "--json")
        assert orjson.loads(again.stdout)["rows"][0]["watched"] is False
        on = await ctl("watch", "btc-updown-test-1")
        assert on.exit_code == 0 and "btc-updown-test-1 on the watchlist" in on.stdout, on.output
        assert other in {m.condition_id for m in e.snapshot(force=True).markets}
        twice = await ctl("watch", other)
        assert twice.exit_code == 1 and "already on the watchlist" in twice.stdout
        nothing = await ctl("flatten", "btc-updown-test-0:up")
        assert nothing.exit_code == 1 and "nothing held" in nothing.stdout, nothing.output

    with_ctl(tmp_path, body)


def test_history_shows_mids_and_our_fill(tmp_path: Path) -> None:
    async def body(rt: Runtime, ctl: Ctl) -> None:
        bought = await ctl("order", "btc-updown-test-0", "up", "buy", "10", "--type", "FAK")
        assert bought.exit_code == 0, bought.output
        await rt.venue.run(rt.engine, until_ts=START + 40_000)
        h = await ctl("history", "btc-updown-test-0", "--last", "3")  # a slug: resolved through search
        assert h.exit_code == 0, h.output
        lines = h.stdout.strip().splitlines()
        assert lines[0].startswith(f"Bitcoin Up or Down - test 0 (…{CID[-8:]}): ") and " 1 fills" in lines[0]
        assert [line.split()[-1] for line in lines[1:4]] == ["0.4950"] * 3, lines
        assert lines[4].endswith("fill BUY 10 @ 0.5000"), lines
        by_tail = await ctl("history", TAIL, "--json")
        assert [f["size"] for f in orjson.loads(by_tail.stdout)["fills"]] == [10.0]
        unknown = await ctl("history", "nope-nope")
        assert unknown.exit_code == 2 and "MARKET 'nope-nope'" in unknown.stderr

    with_ctl(tmp_path, body)
