"""Chaos: trade LIVE against the local exchange, kill -9 the engine at random moments, restart it, and check
that the ledger and the exchange account agree to the share and to the trade.

    .venv/bin/python bench/chaos.py --kills 50 [--seed 1] [--json] [--workdir DIR]

What runs: `bigearn-tui sim-exchange` serving lively generated books in real time (`write_dataset`: several
markets at once, one ending every few minutes) and, as the engine under test,
the headless CLI path (`engine.runtime.run_headless`, LIVE, auto mode, a throwaway test key) with one change:
a brain that always wants to trade (`ChaosBrain`: it flips its view of each market far above or below the mid
every half minute, so the engine buys, sells back and buys the other side: fills both ways, positions that
open and close). Each cycle: start, arm LIVE over the control socket, trade for a random while, `kill -9`,
then restart at once or after up to `--max-down` seconds (longer than the exchange's 15 s heartbeat timeout,
after which the exchange cancels the dead engine's orders itself). A final run ends with SIGINT.

Then the ledger (the SQLite file) is compared with the account as the exchange reports it through the
official SDK (`polymarket-client`):
* every trade of the account is in `fills` exactly once (taker fills by trade id, maker fills by trade id and
  order id), with its size and price, and no fill is in the ledger that the exchange does not have;
* shares per token (fills and settlements) equal the exchange's balances;
* collateral spent equals the ledger's (to 1e-6 USDC per fill: the exchange moves whole micro-USDC);
* no order rests at the exchange that the ledger does not know, and no order was placed twice.
Each restart must also come back with the ledger it had (`ledger restored`) and agree with the venue
(no `ledger and venue disagree`), and no run may print a traceback.

Exit 0 when every check holds. `--json` prints one object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.brains.base import BrainInput, NoEstimate  # noqa: E402
from engine.domain import Estimate  # noqa: E402

# Hardhat account #0: a public test key, never funded anywhere real.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
EXCHANGE_BALANCE = Decimal(10_000)
MICRO = Decimal("0.000001")


class ChaosBrain:
    """A brain that wants to trade, for this harness only. Every `period_ms` its view of each market moves
    through four states: far above the mid (the sizer takes: marketable orders), a little above (under the
    harness's min edge: a maker order rests at the best price), then the same below. Orders rest, fill, are
    withdrawn when the view turns, and positions open and close: every order path is exercised."""

    name = "chaos"

    def __init__(self, far: float = 0.15, near: float = 0.10, period_ms: int = 6_000) -> None:
        self.swings = (far, near, -far, -near)
        self.period_ms = period_ms

    def estimate(self, data: BrainInput) -> Estimate:
        mid = data.book.mid().value
        if mid is None:
            raise NoEstimate("NO_BOOK", "the book is empty")
        phase = (data.now_ms // self.period_ms + int(data.market.condition_id[-4:], 16)) % 4
        p = min(0.97, max(0.03, mid + self.swings[phase]))
        return Estimate(self.name, p, p - 0.01, p + 0.01)


ENGINE_ENV = {
    "BIGEARN_PRIVATE_KEY": KEY,
    "BIGEARN_VENUE__SIGNATURE_TYPE": "0",
    "BIGEARN_ENGINE__MODE": "auto",
    "BIGEARN_ENGINE__WARMUP_S": "1",
    "BIGEARN_ENGINE__CYCLE_INTERVAL_S": "1",
    "BIGEARN_RISK__MIN_EDGE": "0.08",  # between the brain's near and far views: both makers and takers
    "BIGEARN_RISK__KELLY_FRACTION": "1",
    "BIGEARN_RISK__MAX_CI_WIDTH": "1",
    "BIGEARN_ZONES__BANDS": '{"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting"]}}',
    # The chaos brain loses money on purpose; the loss and quality breakers would soon stop it trading.
    "BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT": "1",
    "BIGEARN_BREAKERS__MAX_WEEKLY_LOSS_PCT": "1",
    "BIGEARN_BREAKERS__MAX_DRAWDOWN_PCT": "1",
    "BIGEARN_BREAKERS__MAX_CONSECUTIVE_LOSSES": "10000",
    "BIGEARN_BREAKERS__MAX_ROLLING_LOSS_USDC": "1000000",
    "BIGEARN_BREAKERS__MAX_REJECTIONS": "10000",
    "BIGEARN_EXECUTION__MIN_FILL_RATE": "0",
}


# --- the market the exchange serves -------------------------------------------------------------------


def write_dataset(root: Path, *, markets: int, minutes: int, seed: int) -> tuple[Path, Path]:
    """Lively books for the exchange to serve (the bundled recording has one or two books open at a time):
    `markets` up/down markets from the start, a random-walk mid each, a new 5-level book every 500 ms. One
    market ends every few minutes (the exchange resolves and auto-redeems it, so settlements happen while
    the engine is up and while it is down); the last lives `minutes`."""
    rng = random.Random(seed)
    start = 1_790_000_000_000
    ends = [start + 60_000 * min(minutes, 5 + 4 * k) for k in range(markets - 1)] + [start + 60_000 * minutes]
    catalog = []
    cids = []
    for k, end in enumerate(ends):
        cid = "0x" + f"{0xC0 + k:02x}" * 32
        cids.append(cid)
        up = rng.random() < 0.5
        catalog.append({
            "market_id": cid, "slug": f"chaos-updown-{k}", "question": f"Chaos market {k} Up or Down",
            "category": "crypto", "timeframe": "15m", "start_ts": start, "end_ts": end,
            "outcome_up": "Up", "outcome_down": "Down", "payout_up": 1.0 if up else 0.0,
            "payout_down": 0.0 if up else 1.0,
        })  # fmt: skip
    mids = [rng.uniform(0.3, 0.7) for _ in cids]
    books = root / "chaos-books.jsonl"
    with books.open("w") as fh:
        for step in range(minutes * 120):
            ts = start + 500 * step
            for k, cid in enumerate(cids):
                if ts > ends[k] + 30_000:
                    continue
                mids[k] = min(0.9, max(0.1, mids[k] + rng.gauss(0, 0.004)))
                half = rng.choice((1, 1, 2))
                best_bid = round(mids[k] * 100) - half
                best_ask = best_bid + 2 * half
                bids = [[(best_bid - i) / 100, float(rng.randint(50, 500))] for i in range(5)]
                asks = [[(best_ask + i) / 100, float(rng.randint(50, 500))] for i in range(5)]
                fh.write(json.dumps({"market": cid, "ts": ts, "side": "UP", "bids": bids, "asks": asks}) + "\n")
    path = root / "chaos-markets.json"
    path.write_text(json.dumps(catalog))
    return books, path


# --- the engine under test ------------------------------------------------------------------------------


def engine_main(argv: list[str]) -> int:
    """`chaos.py engine --db FILE --exchange URL --socket PATH --log FILE`: the headless LIVE engine."""
    from bigearn_tui.cli import _exchange_urls
    from engine.config import load_settings
    from engine.logs import setup_json_logging
    from engine.runtime import EngineFailed, SetupError, run_headless

    ap = argparse.ArgumentParser(prog="chaos.py engine")
    ap.add_argument("--db", required=True)
    ap.add_argument("--exchange", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args(argv)
    overrides = {
        "venue.kind": "polymarket",
        "venue.live": True,
        "store.path": args.db,
        "ui.control_socket": args.socket,
        **_exchange_urls(args.exchange),
    }
    settings = load_settings(None, overrides=overrides)
    logger = setup_json_logging("info", args.log)
    try:
        summary = asyncio.run(run_headless(settings, logger, control=True, brain=ChaosBrain()))
    except SetupError as exc:
        print(f"chaos engine: {exc}", file=sys.stderr)
        return 2
    except EngineFailed as exc:
        print(f"chaos engine: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


# --- the harness --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Cycle:
    n: int
    up_s: float
    down_s: float
    armed_after_s: float
    ended: str  # "kill -9" | "SIGINT rc=N"
    restored: dict[str, Any]
    reconciled: dict[str, Any]
    disagreements: list[str]
    tracebacks: int
    orders_sent: int


class Harness:
    def __init__(self, workdir: Path, seed: int, speed: float) -> None:
        self.dir = workdir
        self.rng = random.Random(seed)
        self.speed = speed
        self.db = workdir / "chaos.db"
        sock_dir = workdir / "sock"
        sock_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket = sock_dir / "ctl.sock"
        self.exchange: subprocess.Popen[str] | None = None
        self.base = ""
        self.python = sys.executable

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIGEARN_")}
        env.update(ENGINE_ENV)
        env["PYTHONPATH"] = str(ROOT)
        return env

    def start_exchange(self, seed: int, markets: int, minutes: int) -> None:
        books, catalog = write_dataset(self.dir, markets=markets, minutes=minutes, seed=seed)
        cmd = [self.python, "-m", "bigearn_tui.cli", "sim-exchange", "--port", "0", "--speed", str(self.speed),
               "--balance", str(EXCHANGE_BALANCE), "--seed", str(seed), "--data", str(books),
               "--markets", str(catalog)]  # fmt: skip
        with open(self.dir / "exchange.log", "w") as err:  # the child keeps its own copy of the descriptor
            self.exchange = subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=self._env()
            )
        assert self.exchange.stdout is not None
        for _ in range(20):
            line = self.exchange.stdout.readline()
            m = re.match(r"CLOB\s+(http://\S+)", line)
            if m:
                self.base = m.group(1)
                return
        raise RuntimeError("the exchange did not print its URL")

    def stop_exchange(self) -> None:
        if self.exchange is not None and self.exchange.poll() is None:
            self.exchange.send_signal(signal.SIGINT)
            try:
                self.exchange.wait(10)
            except subprocess.TimeoutExpired:
                self.exchange.kill()

    def start_engine(self, n: int) -> tuple[subprocess.Popen[str], Path, Path]:
        log = self.dir / f"engine-{n:03d}.log"
        err = self.dir / f"engine-{n:03d}.err"
        cmd = [self.python, str(Path(__file__).resolve()), "engine", "--db", str(self.db), "--exchange", self.base,
               "--socket", str(self.socket), "--log", str(log)]  # fmt: skip
        with open(self.dir / f"engine-{n:03d}.out", "w") as out, open(err, "w") as errors:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=errors, text=True, env=self._env())
        return proc, log, err

    def arm(self, proc: subprocess.Popen[str], timeout: float = 60.0) -> float:
        """Type LIVE over the control socket once the engine listens; seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"the engine exited with {proc.returncode} before it could be armed")
            r = subprocess.run(
                [self.python, "-m", "bigearn_tui.cli", "ctl", "arm", "LIVE", "--socket", str(self.socket)],
                cwd=ROOT, capture_output=True, text=True, env=self._env(), timeout=30,
            )  # fmt: skip
            if r.returncode == 0:
                return time.monotonic() - t0
            time.sleep(0.3)
        raise RuntimeError("the engine never answered on its control socket")

    def run(self, kills: int, min_up: float, max_up: float, max_down: float, final_up: float) -> list[Cycle]:
        cycles = []
        for n in range(kills + 1):
            proc, log, err = self.start_engine(n)
            armed = self.arm(proc)
            last = n == kills
            up = final_up if last else self.rng.uniform(min_up, max_up)
            time.sleep(up)
            if last:
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(90)
                ended, down = f"SIGINT rc={rc}", 0.0
            else:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                ended = "kill -9"
                down = 0.0 if self.rng.random() < 0.5 else self.rng.uniform(0, max_down)
            cycles.append(self._cycle(n, up, down, armed, ended, log, err))
            print(_cycle_line(cycles[-1]), file=sys.stderr, flush=True)
            if down:
                time.sleep(down)
        return cycles

    @staticmethod
    def _cycle(n: int, up: float, down: float, armed: float, ended: str, log: Path, err: Path) -> Cycle:
        restored: dict[str, Any] = {}
        reconciled: dict[str, Any] = {}
        disagree: list[str] = []
        sent = 0
        for line in log.read_text().splitlines() if log.exists() else ():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            ev = e.get("event")
            if ev == "ledger restored":
                restored = {k: e.get(k) for k in ("runs", "fills", "positions", "cash", "orders", "halted")}
            elif ev == "reconciled with the venue":
                reconciled = {k: e.get(k) for k in ("adopted", "closed", "lost", "foreign", "backfilled")}
            elif ev in ("ledger and venue disagree", "ENGINE ERROR", "task failed"):
                disagree.append(f"{ev}: {e.get('diffs') or e.get('error')}")
            elif ev == "order sent":
                sent += 1
        errors = err.read_text() if err.exists() else ""
        return Cycle(n, up, down, armed, ended, restored, reconciled, disagree, errors.count("Traceback"), sent)


def _cycle_line(c: Cycle) -> str:
    r = c.restored
    back = f"restored fills={r.get('fills')} positions={r.get('positions')} orders={r.get('orders')}" if r else "fresh"
    return (
        f"run {c.n:3d}: up {c.up_s:5.1f}s, {c.orders_sent:3d} orders sent, {c.ended}, down {c.down_s:4.1f}s; {back}; "
        f"venue {c.reconciled}; disagreements {len(c.disagreements)}; tracebacks {c.tracebacks}"
    )


# --- the comparison -----------------------------------------------------------------------------------


async def exchange_account(base: str) -> dict[str, Any]:
    """The account as the exchange reports it, through the official SDK."""
    from polymarket import AsyncSecureClient
    from polymarket._internal.environment import PRODUCTION_CONFIG, with_environment_config
    from polymarket.environments import PRODUCTION

    ws = base.replace("http://", "ws://")
    env = with_environment_config(
        PRODUCTION,
        config=dataclasses.replace(
            PRODUCTION_CONFIG, clob_url=base, clob_market_ws_url=f"{ws}/ws/market",
            clob_user_ws_url=f"{ws}/ws/user", gamma_url=f"{base}/gamma", data_url=f"{base}/data-api",
        ),
    )  # fmt: skip
    client = await AsyncSecureClient.create(private_key=KEY, wallet=ADDRESS, environment=env)
    try:
        trades = await _all(client.list_account_trades())
        opened = await _all(client.list_open_orders())
        cash = (await client.get_balance_allowance(asset_type="COLLATERAL")).balance
        tokens = {str(t.asset_id) for t in trades}
        for t in trades:
            tokens.update(str(m.asset_id) for m in t.maker_orders)
        balances = {}
        for token in sorted(tokens):
            res = await client.get_balance_allowance(asset_type="CONDITIONAL", token_id=token)
            balances[token] = int(res.balance)
    finally:
        await client.close()
    me = ADDRESS.lower()
    fills: dict[str, tuple[str, str, Decimal, Decimal, str]] = {}  # fill id -> (order, token, size, price, side)
    for t in trades:
        if str(t.trader_side).upper() == "TAKER" and str(t.maker_address).lower() == me:
            fills[t.id] = (t.taker_order_id.lower(), str(t.asset_id), t.size, t.price, str(t.side))
        for m in t.maker_orders:
            if str(m.maker_address).lower() == me:
                fills[f"{t.id}:{m.order_id.lower()}"] = (
                    m.order_id.lower(), str(m.asset_id), m.matched_amount, m.price, str(m.side)
                )
    statuses = Counter(str(t.status) for t in trades)
    return {
        "fills": fills,
        "open_orders": [o.id.lower() for o in opened],
        "cash": Decimal(int(cash)) * MICRO,
        "balances": balances,
        "trade_statuses": dict(statuses),
    }


async def _all(paginator: Any) -> list[Any]:
    out: list[Any] = []
    page = await paginator.first_page()
    while True:
        out.extend(page.items)
        if not page.has_more or page.next_cursor is None or page.limit_reached:
            return out
        page = await paginator.from_cursor(page.next_cursor).first_page()


def ledger(db: Path) -> dict[str, Any]:
    """The ledger as it stands in the database: fills, shares per token, cash, intents."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        fills = {r["trade_id"]: r for r in con.execute("SELECT * FROM fills WHERE status != 'REVERSED'")}
        shares: Counter[str] = Counter()
        spent = Decimal(0)
        for r in fills.values():
            size = Decimal(r["size"])
            value = Decimal(r["price"]) * size
            fee = Decimal(r["fee"])
            if r["side"] == "BUY":
                shares[r["token_id"]] += int(size / MICRO)
                spent += value + fee
            else:
                shares[r["token_id"]] -= int(size / MICRO)
                spent -= value - fee
        for r in con.execute("SELECT token_id, size, cash FROM settlements"):
            shares[r["token_id"]] -= int(Decimal(r["size"]) / MICRO)
            spent -= Decimal(r["cash"])
        intents = [dict(r) for r in con.execute("SELECT client_order_id, venue_order_id, state FROM order_intents")]
        runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()
    return {"fills": fills, "shares": shares, "spent": spent, "intents": intents, "runs": runs}


def compare(ex: dict[str, Any], led: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    ex_fills, led_fills = ex["fills"], led["fills"]
    missing = sorted(set(ex_fills) - set(led_fills))
    phantom = sorted(set(led_fills) - set(ex_fills))
    if missing:
        problems.append(f"{len(missing)} exchange fills missing from the ledger, e.g. {missing[:3]}")
    if phantom:
        problems.append(f"{len(phantom)} ledger fills the exchange does not have, e.g. {phantom[:3]}")
    for fid in set(ex_fills) & set(led_fills):
        _, token, size, price, _ = ex_fills[fid]
        row = led_fills[fid]
        if Decimal(row["size"]) != size or Decimal(row["price"]) != price or row["token_id"] != token:
            problems.append(f"fill {fid}: exchange {size}@{price} ledger {row['size']}@{row['price']}")
    tokens = set(ex["balances"]) | {t for t, n in led["shares"].items() if n}
    for token in sorted(tokens):
        theirs, ours = ex["balances"].get(token, 0), led["shares"].get(token, 0)
        if theirs != ours:
            problems.append(f"token {token[:12]}: exchange {theirs} ledger {ours} (1e-6 shares)")
    spent_ex = EXCHANGE_BALANCE - ex["cash"]
    tolerance = MICRO * (len(led_fills) + 1)
    if abs(spent_ex - led["spent"]) > tolerance:
        problems.append(f"collateral spent: exchange {spent_ex} ledger {led['spent']} (tolerance {tolerance})")
    by_venue: Counter[str] = Counter((i["venue_order_id"] or "").lower() for i in led["intents"] if i["venue_order_id"])
    dupes = [oid for oid, n in by_venue.items() if n > 1]
    if dupes:
        problems.append(f"{len(dupes)} orders written twice in the ledger, e.g. {dupes[:2]}")
    known = set(by_venue)
    unknown_open = [o for o in ex["open_orders"] if o not in known]
    if unknown_open:
        problems.append(f"{len(unknown_open)} orders resting at the exchange that the ledger does not know")
    traded_orders = {v[0] for v in ex_fills.values()}
    untracked = sorted(traded_orders - known)
    if untracked:
        problems.append(f"{len(untracked)} orders traded at the exchange that the ledger has no intent for")
    return {
        "exchange_fills": len(ex_fills),
        "ledger_fills": len(led_fills),
        "tokens_compared": len(tokens),
        "collateral_spent_exchange": str(spent_ex),
        "collateral_spent_ledger": str(led["spent"]),
        "collateral_difference": str(spent_ex - led["spent"]),
        "open_orders_at_exchange": len(ex["open_orders"]),
        "intents": len(led["intents"]),
        "trade_statuses": ex["trade_statuses"],
        "problems": problems,
    }


def chaos_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="chaos.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speed", type=float, default=1.0, help="the exchange's replay speed")
    ap.add_argument("--markets", type=int, default=6, help="markets the exchange serves")
    ap.add_argument("--min-up", type=float, default=3.0)
    ap.add_argument("--max-up", type=float, default=15.0)
    ap.add_argument("--max-down", type=float, default=20.0)
    ap.add_argument("--final-up", type=float, default=15.0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bigearn-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    h = Harness(workdir, args.seed, args.speed)
    t0 = time.monotonic()
    # Long enough for every cycle at its longest, plus the final run.
    minutes = int((args.kills * (args.max_up + args.max_down + 10) + args.final_up + 60) / 60) + 2
    h.start_exchange(args.seed, args.markets, minutes)
    try:
        cycles = h.run(args.kills, args.min_up, args.max_up, args.max_down, args.final_up)
        ex = asyncio.run(exchange_account(h.base))
    finally:
        h.stop_exchange()
    result = compare(ex, ledger(h.db))
    final = cycles[-1]
    restarts = cycles[1:]
    restored = sum(1 for c in restarts if c.restored)
    if final.ended != "SIGINT rc=0":
        result["problems"].append(f"the final run ended with {final.ended}")
    for c in cycles:
        if c.tracebacks:
            result["problems"].append(f"run {c.n}: {c.tracebacks} tracebacks (see {workdir}/engine-{c.n:03d}.err)")
        for d in c.disagreements:
            result["problems"].append(f"run {c.n}: {d}")
    if restored != len(restarts):
        result["problems"].append(f"{len(restarts) - restored} restarts did not restore the ledger")
    clean = not result["problems"]
    result.update(
        kills=args.kills,
        restarts_restored=f"{restored}/{len(restarts)}",
        orders_sent=sum(c.orders_sent for c in cycles),
        seconds=round(time.monotonic() - t0, 1),
        workdir=str(workdir),
        clean=clean,
    )
    if args.json:
        print(json.dumps(result, default=str))
    else:
        for key, value in result.items():
            print(f"{key:<26} {value}")
    return 0 if clean else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["engine"]:
        raise SystemExit(engine_main(sys.argv[2:]))
    raise SystemExit(chaos_main(sys.argv[1:]))
