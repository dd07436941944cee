"""Truth report over a week of trading: wall time and memory of `build_report` on a 1M-fill ledger.

A synthetic ledger is built first (timed, but not the figure of interest): one run of seven days, 400 markets
in 20 clusters (300 resolve during the week), --fills fills (default 1,000,000) from about 2.5 orders per
fill (market maker quotes, value orders, some rejected), each order's SUBMITTED / LIVE / fill / terminal
events, four markouts per fill (0, 30, 120, 600 s), settlements of what was held in resolved markets, a P&L
snapshot (and a health row) per minute for the account and each strategy, ~N/5 evaluations, ~N/250
proposals with their decisions, halts, maker rebates and reward samples. The schema is the store's own
(engine.store.db.Store.open applies the migrations); rows go in with sqlite3 executemany (multi-row
INSERTs) in one transaction, the indexes dropped during the load and recreated from their own SQL. Money is exact decimal text
('0.4900', '9.900000'), timestamps unix ms, as the engine writes them. The build runs in a child process so
that its memory does not hide the report's.

Then engine.analytics.truth_report.build_report(path) runs twice in this process: once for the wall time and
the peak resident set (ru_maxrss growth: the whole process, SQLite's page cache included), once under
tracemalloc for the peak of Python allocations (slower; its wall time is printed apart). No target: figures
only.

    .venv/bin/python bench/report.py [--fills 1000000] [--seed 7] [--db PATH [--reuse]]

--db keeps the database (default: a temporary directory, removed at exit); --reuse times the report on an
existing file (a kept bench ledger, or a real one) without building.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import orjson

try:
    import numpy as np
except ImportError:  # not a dependency of the engine: only this benchmark needs it
    print("bench/report.py needs numpy: .venv/bin/pip install numpy", file=sys.stderr)
    raise SystemExit(1) from None

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import Settings  # noqa: E402
from engine.store.db import Store  # noqa: E402

RUN_ID = "bench-run"
ACCOUNT = f"replay:{RUN_ID}"
STARTING_USDC = 10_000
MIN_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
T0 = 1_789_948_800_000  # Monday 2026-09-21 00:00 UTC
T_END = T0 + WEEK_MS
N_MARKETS = 400
N_CLUSTERS = 20
N_RESOLVED = 300
STRATEGIES = ("market_maker", "value", "manual")
BUDGET_PCT = {"market_maker": 70.0, "value": 20.0, "manual": 10.0}
HORIZONS = (0, 30, 120, 600)
CHUNK = 200_000  # rows turned into Python values at a time: bounds the memory of the load

# Order kinds: how an order ended.
K_FILLED, K_FILLED2, K_PART_CANCEL, K_CANCELLED, K_EXPIRED, K_REJECTED = range(6)
REJECT_CAUSES = (
    "invalid post-only order: order crosses book",
    "not enough balance / allowance",
    "order size below the market's minimum",
)

# Exact decimal text as the store writes it (Decimal(int).scaleb(-k) through db._plain), by integer code.
PX4 = tuple(f"{c // 100}.{c % 100:02d}00" for c in range(101))  # cents -> '0.4900'
PX_MIN = tuple(f"{c / 100:g}" for c in range(101))  # px_to_str: '0.49', '0.5'
MAX_Q = 40_000  # centishares covered by the size tables (an order is at most 2 x 100 + 50 shares)
SIZE6 = tuple(f"{q // 100}.{q % 100:02d}0000" for q in range(MAX_Q + 1))  # centishares -> '9.900000'
FILLED_JSON = tuple(orjson.dumps({"filled": f"{q / 100:g}"}).decode() for q in range(MAX_Q + 1))
SIDES = ("BUY", "SELL")
STRATEGY_OF = ("market_maker", "value")  # an order's strategy by its `value` flag
STATES = ("PENDING", "SUBMITTED", "LIVE", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "EXPIRED", "REJECTED")
S_PENDING, S_SUBMITTED, S_LIVE, S_PARTIAL, S_FILLED, S_CANCELLED, S_EXPIRED, S_REJECTED = range(len(STATES))
STATE_OF_KIND = ("FILLED", "FILLED", "CANCELLED", "CANCELLED", "EXPIRED", "REJECTED")


def _money6(x: np.ndarray) -> list[str]:
    """Floats to 6-decimal exact text ('10012.345678')."""
    return [f"{v:.6f}" for v in np.round(x, 6).tolist()]


def _ids(prefix: str, n: int, width: int) -> list[str]:
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


class Cat(NamedTuple):
    """A column as integer codes into its values. Text is looked up chunk by chunk as it is inserted, never
    held in numpy object arrays (every operation on those pays a reference count per element)."""

    codes: np.ndarray
    values: Sequence[Any]


class Rows:
    """One table's rows by column: a numpy array, a list, a Cat, or one constant for every row."""

    def __init__(self, table: str, n: int, **cols: Any) -> None:
        self.table, self.n, self.cols = table, n, cols
        for name, col in cols.items():
            if isinstance(col, np.generic):  # sqlite3 would store a numpy scalar as a BLOB of its bytes
                cols[name] = col = col.item()
            k = len(col.codes) if isinstance(col, Cat) else len(col) if isinstance(col, np.ndarray | list) else n
            if k != n:
                raise ValueError(f"{table}.{name}: {k} values for {n} rows")

    @staticmethod
    def _part(col: Any, lo: int, hi: int) -> list[Any]:
        if isinstance(col, np.ndarray):
            return col[lo:hi].tolist()
        if isinstance(col, Cat):
            return list(map(col.values.__getitem__, col.codes[lo:hi].tolist()))
        if isinstance(col, list):
            return col[lo:hi]
        return [col] * (hi - lo)

    def insert(self, db: sqlite3.Connection) -> None:
        """executemany of multi-row INSERTs (up to 200 rows a statement: per-statement costs, the GIL hand-off
        and AUTOINCREMENT's sqlite_sequence update among them, are paid once per 200 rows, which more than
        halves the load time). Parameters are laid out flat by slice assignment, without a tuple per row."""
        names = list(self.cols)
        c = len(names)
        per = max(1, min(200, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // c))
        one = f"({', '.join('?' * c)})"
        head = f"INSERT INTO {self.table} ({', '.join(names)}) VALUES "
        many = head + ", ".join([one] * per)
        for lo in range(0, self.n, CHUNK):
            hi = min(self.n, lo + CHUNK)
            flat: list[Any] = [None] * ((hi - lo) * c)
            for j, col in enumerate(self.cols.values()):
                flat[j::c] = self._part(col, lo, hi)
            full = (hi - lo) // per * per * c
            db.executemany(many, (flat[s : s + per * c] for s in range(0, full, per * c)))
            db.executemany(head + one, (flat[s : s + c] for s in range(full, len(flat), c)))


# --------------------------------------------------------------------------------------------------
# Generation (vectorised; nothing here touches the database)
# --------------------------------------------------------------------------------------------------


def _config_json() -> str:
    config = Settings().model_dump(mode="json")
    config["bankroll"]["starting_usdc"] = str(STARTING_USDC)
    config["engine"]["mode"] = "auto"
    return orjson.dumps(config).decode()


def gen_markets(rng: np.random.Generator) -> dict[str, Any]:
    bases = ("crypto", "politics", "sports", "economics", "culture")
    clusters = [b if k == 0 else f"{b}-{k}" for b in bases for k in range(N_CLUSTERS // len(bases))]
    idx = np.arange(N_MARKETS)
    resolved = np.zeros(N_MARKETS, dtype=bool)
    resolved[rng.permutation(N_MARKETS)[:N_RESOLVED]] = True
    resolved_ts = T0 + rng.integers(DAY_MS, WEEK_MS - 3_600_000, N_MARKETS)
    end_ts = np.where(resolved, resolved_ts - rng.integers(0, 3_600_000, N_MARKETS),
                      T_END + rng.integers(DAY_MS, 60 * DAY_MS, N_MARKETS))  # fmt: skip
    # Where trading stops in each market: before it closes (or the week ends), leaving room for the fills
    # and markouts of the last order.
    limit = np.minimum(end_ts, T_END) - 11 * MIN_MS
    weight = rng.lognormal(0.0, 1.0, N_MARKETS) * (limit - T0)
    return {
        "cid": ["0x" + hashlib.sha256(f"bench-market-{i}".encode()).hexdigest() for i in range(N_MARKETS)],
        # token_id by market * 2 + (0 YES, 1 NO)
        "token": [str(int.from_bytes(hashlib.sha256(f"bench-token-{i}".encode()).digest()) // 10)
                  for i in range(2 * N_MARKETS)],
        "cluster": [clusters[i % N_CLUSTERS] for i in range(N_MARKETS)],
        "resolved": resolved, "resolved_ts": resolved_ts, "end_ts": end_ts,
        "start_ts": T0 - rng.integers(DAY_MS, 60 * DAY_MS, N_MARKETS),
        "yes_wins": rng.random(N_MARKETS) < 0.5,
        "fee_bearing": idx % 10 == 0,  # 40 markets on the 15-minute crypto schedule: rate 0.25, exponent 2
        "limit": limit, "p": weight / weight.sum(),
        "mid": rng.integers(8, 93, N_MARKETS),  # the YES mid the week trades around, in cents
    }  # fmt: skip


def markets_rows(m: dict[str, Any]) -> Rows:
    idx = np.arange(N_MARKETS)
    return Rows(
        "markets", N_MARKETS,
        condition_id=m["cid"], slug=[f"{c}-bench-{i}" for i, c in enumerate(m["cluster"])],
        question=[f"Will bench event {i} happen before it closes?" for i in range(N_MARKETS)],
        category=[c.split("-")[0] for c in m["cluster"]],
        yes_token_id=Cat(idx * 2, m["token"]), no_token_id=Cat(idx * 2 + 1, m["token"]),
        yes_outcome="Yes", no_outcome="No", tick_size="0.01", min_order_size="5", neg_risk=0,
        fee_rate=Cat(m["fee_bearing"].astype(np.int64), ("0", "0.25")),
        fee_exponent=np.where(m["fee_bearing"], 2, 0), start_ts=m["start_ts"], end_ts=m["end_ts"],
        cluster=m["cluster"], resolved_ts=np.where(m["resolved"], m["resolved_ts"], None),
        yes_payout=Cat(np.where(m["resolved"], m["yes_wins"].astype(np.int64), 2), ("0", "1", None)),
        updated_ts=np.where(m["resolved"], m["resolved_ts"], T_END),
    )  # fmt: skip


def gen_trading(
    rng: np.random.Generator, m: dict[str, Any], n_fills: int
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Rows]]:
    """Orders, their events, fills, markouts, settlements and maker income, consistent with each other.
    Returns the order_intents columns (gen_proposals sets proposal_id), what the orders were, and the rest."""
    # How many orders of each kind: N fills come from F filled orders, n2 of which filled twice.
    n2 = round(0.15 * n_fills)
    n_filled = n_fills - n2
    n_part = round(0.10 * (n_filled - n2))
    n_orders = max(round(2.5 * n_fills), n_filled + 3)
    n_unfilled = n_orders - n_filled
    n_rej = max(1, min(n_unfilled // 3, 100 + n_fills // 2500))
    n_exp = round(0.2 * (n_unfilled - n_rej))
    counts = [n_filled - n2 - n_part, n2, n_part, n_unfilled - n_rej - n_exp, n_exp, n_rej]
    kind = rng.permutation(np.repeat(np.arange(6), counts))
    value = rng.random(n_orders) < 0.2
    kind[(kind == K_EXPIRED) & value] = K_CANCELLED  # value orders are GTC: they never expire
    mkt = rng.choice(N_MARKETS, n_orders, p=m["p"])
    tok = rng.integers(0, 2, n_orders)  # 0 YES, 1 NO
    side = rng.integers(0, 2, n_orders)  # 0 BUY, 1 SELL
    mid = np.where(tok == 0, m["mid"][mkt], 100 - m["mid"][mkt])
    price = np.clip(mid + rng.integers(-3, 4, n_orders), 2, 98)
    created = T0 + (rng.random(n_orders) * (m["limit"][mkt] - 10 * MIN_MS - T0)).astype(np.int64)
    # Creation order is id order, as the engine numbers its orders.
    o = np.argsort(created, kind="stable")
    kind, value, mkt, tok, side, price, created = (a[o] for a in (kind, value, mkt, tok, side, price, created))
    value_i = value.astype(np.int64)
    coid = _ids("bnchO", n_orders, 8)
    no_void = n_orders  # venue order ids by order index, then None
    voids = [f"0x{i:064x}" for i in range(1, n_orders + 1)] + [None]

    filled_kind = kind <= K_PART_CANCEL
    q1 = rng.integers(500, 10_001, n_orders)  # centishares: 5.00 .. 100.00 shares
    q2 = np.where(kind == K_FILLED2, rng.integers(500, 10_001, n_orders), 0)
    extra = np.where(kind == K_PART_CANCEL, rng.integers(100, 5_001, n_orders), 0)
    size_q = q1 + q2 + extra
    filled_q = np.where(filled_kind, q1 + q2, 0)
    # A value order takes liquidity 3 times in 4 (at once); a maker quote is post-only and rests.
    taker1 = filled_kind & value & (rng.random(n_orders) < 0.75)

    def lag(mean: float, cap: int) -> np.ndarray:
        return np.minimum(rng.exponential(mean, n_orders), cap).astype(np.int64)

    t_live = created + rng.integers(20, 300, n_orders)
    t_f1 = np.where(taker1, t_live + rng.integers(1, 50, n_orders), t_live + lag(60_000, 240_000))
    t_f2 = t_f1 + lag(30_000, 200_000)
    t_end = np.select(
        [kind == K_FILLED, kind == K_FILLED2, kind == K_PART_CANCEL, kind == K_CANCELLED, kind == K_EXPIRED],
        [t_f1, t_f2, t_f2, t_live + lag(40_000, 400_000), created + 120_000],
        t_live,
    )

    # ---- fills: first fill of every filled order, second of the K_FILLED2 ones; trade ids in time order.
    first = np.flatnonzero(filled_kind)
    second = np.flatnonzero(kind == K_FILLED2)
    f_order = np.concatenate([first, second])
    f_ts = np.concatenate([t_f1[first], t_f2[second]])
    f_q = np.concatenate([q1[first], q2[second]])
    f_cum = np.concatenate([q1[first], q1[second] + q2[second]])  # filled after this fill
    f_taker = np.concatenate([taker1[first], np.zeros(len(second), dtype=bool)])
    f_last = np.concatenate([kind[first] == K_FILLED, np.ones(len(second), dtype=bool)])
    o = np.argsort(f_ts, kind="stable")
    f_order, f_ts, f_q, f_cum, f_taker, f_last = (a[o] for a in (f_order, f_ts, f_q, f_cum, f_taker, f_last))
    n = len(f_order)
    trade_id = _ids("Tbe7c4a11-", n, 9)
    f_mkt, f_px, f_value = mkt[f_order], price[f_order], value_i[f_order]
    f_taker_i = f_taker.astype(np.int64)
    liquidity = ("MAKER", "TAKER")
    # Taker fee on a fee-bearing market, exactly as FeeSchedule.taker_fee: shares x 0.25 x (p(1-p))^2,
    # in units of 0.00001 rounded half up, 0 below one unit. Integer arithmetic: q centishares, c cents.
    c = f_px.astype(np.int64)
    num = f_q.astype(np.int64) * (c * (100 - c)) ** 2  # fee = num / 4e10 USDC = num / 4e5 units
    charged = f_taker & m["fee_bearing"][f_mkt] & (num >= 400_000)
    units = (num[charged] + 200_000) // 400_000
    fee_code = np.zeros(n, dtype=np.int64)
    fee_code[charged] = np.arange(1, len(units) + 1)
    fees = ["0", *(f"{u // 100_000}.{u % 100_000:05d}" for u in units.tolist())]
    fills = Rows(
        "fills", n,
        trade_id=trade_id, client_order_id=Cat(f_order, coid), ts=f_ts, condition_id=Cat(f_mkt, m["cid"]),
        token_id=Cat(f_mkt * 2 + tok[f_order], m["token"]), side=Cat(side[f_order], SIDES),
        price=Cat(f_px, PX4), size=Cat(f_q, SIZE6), fee=Cat(fee_code, fees),
        liquidity=Cat(f_taker_i, liquidity), status="CONFIRMED", strategy_id=Cat(f_value, STRATEGY_OF),
    )  # fmt: skip

    # ---- order_events: PENDING->SUBMITTED 'sent', SUBMITTED->LIVE 'accepted' (REJECTED instead for the
    # rejected), one event per fill, and the terminal event of those that did not end on a fill.
    causes = ["sent", "accepted", "CANCELED", "GTD expiry", *REJECT_CAUSES]
    c_fill = len(causes)  # + fill number: "fill <trade id> MAKER|TAKER"
    causes += [f"fill {t} {liquidity[k]}" for t, k in zip(trade_id, f_taker_i.tolist(), strict=True)]
    live_o = np.flatnonzero(kind != K_REJECTED)
    rej_o = np.flatnonzero(kind == K_REJECTED)
    term_o = np.flatnonzero((kind == K_PART_CANCEL) | (kind == K_CANCELLED) | (kind == K_EXPIRED))
    term_exp = kind[term_o] == K_EXPIRED
    parts = [  # order, ts, state_from, state_to, cause, venue order id, filled (detail), sequence in the order
        (np.arange(n_orders), created, S_PENDING, S_SUBMITTED, 0, no_void, 0, 0),
        (live_o, t_live[live_o], S_SUBMITTED, S_LIVE, 1, live_o, 0, 1),
        (rej_o, t_live[rej_o], S_SUBMITTED, S_REJECTED, 4 + rng.choice(3, len(rej_o), p=[0.6, 0.3, 0.1]),
         no_void, 0, 1),
        (f_order, f_ts, np.where(f_cum == f_q, S_LIVE, S_PARTIAL), np.where(f_last, S_FILLED, S_PARTIAL),
         c_fill + np.arange(n), f_order, f_cum, 2),
        (term_o, t_end[term_o], np.where(kind[term_o] == K_PART_CANCEL, S_PARTIAL, S_LIVE),
         np.where(term_exp, S_EXPIRED, S_CANCELLED), np.where(term_exp, 3, 2), term_o, filled_q[term_o], 3),
    ]  # fmt: skip
    ev = [np.concatenate([np.broadcast_to(np.asarray(part[i], dtype=np.int64), len(part[0])) for part in parts])
          for i in range(8)]  # fmt: skip
    o = np.lexsort((ev[7], ev[0], ev[1]))  # time order; an order's own events in their order
    ev_o, ev_ts, ev_from, ev_to, ev_cause, ev_void, ev_filled, _ = (a[o] for a in ev)
    events = Rows(
        "order_events", len(o),
        client_order_id=Cat(ev_o, coid), ts=ev_ts, state_from=Cat(ev_from, STATES), state_to=Cat(ev_to, STATES),
        cause=Cat(ev_cause, causes), venue_order_id=Cat(ev_void, voids), detail_json=Cat(ev_filled, FILLED_JSON),
    )  # fmt: skip

    orders = {  # order_intents columns; proposal_id is set by gen_proposals
        "client_order_id": coid, "run_id": RUN_ID, "ts": created,
        "proposal_id": Cat(np.zeros(n_orders, dtype=np.int64), (None,)),
        "condition_id": Cat(mkt, m["cid"]), "token_id": Cat(mkt * 2 + tok, m["token"]), "side": Cat(side, SIDES),
        "order_type": Cat(value_i, ("GTD", "GTC")), "post_only": 1 - value_i, "price": Cat(price, PX4),
        "size": Cat(size_q, SIZE6),
        "expiration": np.where(value, None, created // 1000 + 180),  # GTD: 120 s quote life + 60 s buffer
        "state": Cat(kind, STATE_OF_KIND),
        "venue_order_id": Cat(np.where(kind == K_REJECTED, no_void, np.arange(n_orders)), voids),
        "filled": Cat(filled_q, SIZE6), "updated_ts": t_end, "strategy_id": Cat(value_i, STRATEGY_OF),
    }  # fmt: skip

    # ---- markouts: 4 per fill, signed for our side in cents; a maker earns the half-spread at the fill and
    # gives some back to adverse selection later, a taker pays it.
    sign = np.where(f_taker, -1.0, 1.0)
    mo_cents = []
    for h, (mean, sd) in zip(HORIZONS, ((0.5, 0.3), (0.2, 1.0), (0.0, 1.6), (-0.3, 2.5)), strict=True):
        drift = sign * mean if h == 0 else np.where(f_taker, -0.5 * mean, mean)
        mo_cents.append(np.round(drift + rng.normal(0.0, sd, n), 6))
    mo_fill = np.tile(np.arange(n), len(HORIZONS))
    mo_h = np.repeat(np.array(HORIZONS), n)
    mo_ts = f_ts[mo_fill] + mo_h * 1000
    o = np.argsort(mo_ts, kind="stable")
    mo_fill, mo_h, mo_ts = mo_fill[o], mo_h[o], mo_ts[o]
    markouts = Rows(
        "markouts", len(o),
        run_id=RUN_ID, trade_id=Cat(mo_fill, trade_id), ts=mo_ts, strategy_id=Cat(f_value[mo_fill], STRATEGY_OF),
        condition_id=Cat(f_mkt[mo_fill], m["cid"]), horizon_s=mo_h, cents=np.concatenate(mo_cents)[o],
        maker=1 - f_taker_i[mo_fill],
    )  # fmt: skip

    # ---- settlements: what was held of each token of a resolved market when it resolved.
    key = f_mkt * 2 + tok[f_order]
    net = np.bincount(key, weights=np.where(side[f_order] == 0, f_q, -f_q), minlength=2 * N_MARKETS)
    held = np.flatnonzero((net > 0) & m["resolved"][np.arange(2 * N_MARKETS) // 2])
    s_mkt, s_q = held // 2, net[held].astype(np.int64)
    pays = np.where(held % 2 == 0, m["yes_wins"][s_mkt], ~m["yes_wins"][s_mkt])
    s_size = [f"{q // 100}.{q % 100:02d}0000" for q in s_q.tolist()]
    settlements = Rows(
        "settlements", len(held),
        run_id=RUN_ID, ts=m["resolved_ts"][s_mkt] + rng.integers(1_000, 60_000, len(held)),
        condition_id=Cat(s_mkt, m["cid"]), token_id=Cat(held, m["token"]), size=s_size,
        payout_per_share=Cat(pays.astype(np.int64), ("0", "1")),
        cash=[sz if pay else "0.000000" for sz, pay in zip(s_size, pays.tolist(), strict=True)],
    )  # fmt: skip

    # ---- maker_income: a rebate for each maker fill on a fee-bearing market (20% of the fee a taker paid),
    # and reward samples: (market, minute) pairs with our quotes in them.
    reb = np.flatnonzero(~f_taker & m["fee_bearing"][f_mkt])
    reb_amount = 0.2 * f_q[reb] / 100 * 0.25 * (c[reb] * (100 - c[reb]) / 10_000) ** 2
    n_rw = max(1, n_fills // 10)
    rw_ts = np.sort(T0 + rng.integers(1, WEEK_MS // MIN_MS, n_rw) * MIN_MS)
    q_ours = np.round(rng.gamma(2.0, 40.0, n_rw), 6)
    q_vis = np.round(q_ours * rng.uniform(3.0, 30.0, n_rw), 6)
    inc_ts = np.concatenate([f_ts[reb], rw_ts])
    o = np.argsort(inc_ts, kind="stable")  # Cat(o, unsorted values) reads them in time order
    details = [f'{{"trade_id":"{trade_id[i]}","rebate_rate":"0.2"}}' for i in reb.tolist()]
    details += [f'{{"q_ours":{a},"q_visible":{b}}}' for a, b in zip(q_ours.tolist(), q_vis.tolist(), strict=True)]
    income = Rows(
        "maker_income", len(o),
        run_id=RUN_ID, ts=inc_ts[o], strategy_id=Cat(np.concatenate([f_value[reb], np.zeros(n_rw, np.int64)])[o],
                                                      STRATEGY_OF),
        condition_id=Cat(np.concatenate([f_mkt[reb], rng.choice(N_MARKETS, n_rw, p=m["p"])])[o], m["cid"]),
        kind=Cat((o >= len(reb)).astype(np.int64), ("REBATE", "REWARD")),
        amount=Cat(o, _money6(reb_amount) + _money6(rng.exponential(0.002, n_rw))), detail_json=Cat(o, details),
    )  # fmt: skip

    meta = {"kind": kind, "value": value, "mkt": mkt, "tok": tok, "side": side, "price": price,
            "size_q": size_q, "created": created}  # fmt: skip
    rows = {"order_events": events, "fills": fills, "markouts": markouts, "settlements": settlements,
            "maker_income": income}  # fmt: skip
    return orders, meta, rows


def gen_proposals(rng: np.random.Generator, m: dict[str, Any], meta: dict[str, np.ndarray],
                  orders: dict[str, Any], n_fills: int) -> tuple[Rows, Rows]:
    """Value proposals: the approved ones sent the value orders that filled (their order's proposal_id);
    the expired and rejected ones never became orders. One decision each."""
    n = max(50, n_fills // 250)
    candidates = np.flatnonzero(meta["value"] & (meta["kind"] <= K_PART_CANCEL))
    n_app = min(len(candidates), round(0.6 * n))
    n_other = n - n_app
    n_exp = round(0.75 * n_other)
    status = np.repeat(np.arange(3), [n_app, n_exp, n_other - n_exp])  # APPROVED, EXPIRED, REJECTED
    linked = rng.choice(candidates, n_app, replace=False)
    mkt = np.concatenate([meta["mkt"][linked], rng.choice(N_MARKETS, n_other, p=m["p"])])
    tok = np.concatenate([meta["tok"][linked], rng.integers(0, 2, n_other)])
    side = np.concatenate([meta["side"][linked], rng.integers(0, 2, n_other)])
    leg_mid = np.where(tok == 0, m["mid"][mkt], 100 - m["mid"][mkt])
    price = np.concatenate([meta["price"][linked], np.clip(leg_mid[n_app:] + rng.integers(-3, 4, n_other), 2, 98)])
    size_q = np.concatenate([meta["size_q"][linked], rng.integers(500, 10_001, n_other)])
    other_ts = T0 + (rng.random(n_other) * (m["limit"][mkt[n_app:]] - 10 * MIN_MS - T0)).astype(np.int64)
    ts = np.concatenate([meta["created"][linked] - rng.integers(1, 3_000, n_app), other_ts])
    order = np.argsort(ts, kind="stable")
    linked_pos = np.argsort(order)[:n_app]  # where each linked proposal went
    status, mkt, tok, side, price, size_q, ts, leg_mid = (
        a[order] for a in (status, mkt, tok, side, price, size_q, ts, leg_mid)
    )
    pid = _ids("bnchP", n, 6)
    codes = np.zeros(len(orders["client_order_id"]), dtype=np.int64)
    codes[linked] = linked_pos + 1
    orders["proposal_id"] = Cat(codes, [None, *pid])

    p_hat = np.clip(leg_mid / 100 + rng.normal(0.0, 0.04, n), 0.01, 0.99)  # the leg token's probability
    half = rng.uniform(0.02, 0.08, n)
    edge = np.round(np.abs(p_hat - price / 100) * 0.5 + 0.005, 6)
    kelly = np.round(rng.uniform(0.01, 0.08, n), 6)
    slip = np.round(rng.gamma(2.0, 12.0, n), 3)
    # The best price when decided: the order's price, or (3 times in 10) a tick better for us (realized
    # slippage is measured against it).
    touch = np.clip(price - np.where(side == 0, 1, -1) * (rng.random(n) < 0.3), 1, 99)
    caps = ("", "market_cap", "cluster_cap", "cash")
    binding = rng.choice(len(caps), n, p=[0.7, 0.15, 0.1, 0.05])
    outcomes = ("YES", "NO")
    # As proposal_flow.propose stores it: the evaluation key, the summary, the strategy's numbers (the value
    # strategy's, touch among them) at the top level, and the risk gates.
    rationale = [
        orjson.dumps({
            "evaluation": f"{m['cid'][mk]}:{t}", "summary": f"{SIDES[sd]} {outcomes[tk]} @ {PX_MIN[px]}: edge {e:+.4f}",
            "edge_point": round(e + 0.01, 6), "touch": PX_MIN[tc], "fee_per_share": 0.0, "kelly_full": round(4 * k, 6),
            "stake_usdc": round(sq / 100 * px / 100, 4), "liquidity": round(1000.0 + 50 * px, 2),
            "gates": [["min_edge", e, 0.005, True], ["max_ci_width", round(2 * h, 6), 0.3, True]],
            "sized": f"{sq / 100:g}", "risk": [["market_cap", round(sq / 100 * px / 100, 4), 500.0, True]],
        }).decode()
        for mk, t, sd, tk, px, e, k, h, tc, sq in zip(
            mkt.tolist(), ts.tolist(), side.tolist(), tok.tolist(), price.tolist(), edge.tolist(), kelly.tolist(),
            half.tolist(), touch.tolist(), size_q.tolist(), strict=True)
    ]  # fmt: skip
    expires = ts + 60_000
    reasons = ("", "time to live ran out", "not now")
    proposals = Rows(
        "proposals", n,
        id=pid, run_id=RUN_ID, ts=ts, evaluation_id=None, condition_id=Cat(mkt, m["cid"]),
        token_id=Cat(mkt * 2 + tok, m["token"]), outcome=Cat(tok, outcomes), side=Cat(side, SIDES),
        order_type="GTC", post_only=0, price=Cat(price, PX4), size=Cat(size_q, SIZE6), p_hat=np.round(p_hat, 6),
        ci_low=np.round(p_hat - half, 6), ci_high=np.round(p_hat + half, 6), edge_net=edge, kelly_fraction=kelly,
        binding_cap=Cat(binding, caps), expected_slippage_bps=slip, expires_ts=expires,
        status=Cat(status, ("APPROVED", "EXPIRED", "REJECTED")), rationale_json=rationale,
        reason=Cat(status, reasons), expires_wall=expires, strategy_id="value",
    )  # fmt: skip
    decided = np.select([status == 0, status == 1], [ts + rng.integers(5, 500, n), expires], ts + 20_000)
    o = np.argsort(decided, kind="stable")
    decisions = Rows(
        "decisions", n,
        proposal_id=Cat(o, pid), ts=decided[o], action=Cat(status[o], ("APPROVE", "EXPIRE", "REJECT")),
        actor=Cat(status[o], ("auto", "ttl", "operator")), size=None, note=Cat(status[o], reasons),
    )  # fmt: skip
    return proposals, decisions


def gen_evaluations(rng: np.random.Generator, m: dict[str, Any], n: int) -> Rows:
    mkt = rng.choice(N_MARKETS, n, p=m["p"])
    ts = T0 + (rng.random(n) * (m["limit"][mkt] - T0)).astype(np.int64)
    o = np.argsort(ts, kind="stable")
    mkt, ts = mkt[o], ts[o]
    mid_c = np.clip(m["mid"][mkt] + rng.integers(-2, 3, n), 3, 97)
    half_c = rng.integers(1, 3, n)
    market_mid = mid_c / 100
    p_hat = np.clip(market_mid + rng.normal(0.0, 0.02, n), 0.005, 0.995)
    band = rng.uniform(0.02, 0.1, n)
    resolved = m["resolved"][mkt]
    return Rows(
        "evaluations", n,
        run_id=RUN_ID, ts=ts, condition_id=Cat(mkt, m["cid"]), brain="microprice", p_hat=np.round(p_hat, 6),
        ci_low=np.round(np.maximum(p_hat - band, 0.0), 6), ci_high=np.round(np.minimum(p_hat + band, 1.0), 6),
        market_mid=market_mid, best_bid=Cat(mid_c - half_c, PX4), best_ask=Cat(mid_c + half_c, PX4),
        spread=2 * half_c / 100, depth_usdc=np.round(rng.lognormal(7.0, 1.0, n), 2),
        time_to_close_s=(m["end_ts"][mkt] - ts) / 1000, decision="SKIP_NO_EDGE", reason="", details_json="{}",
        outcome=np.where(resolved, np.where(m["yes_wins"][mkt], 1.0, 0.0), None), strategy_id="value",
    )  # fmt: skip


def gen_minutes(rng: np.random.Generator, m: dict[str, Any]) -> tuple[Rows, Rows]:
    """pnl_snapshots (the account's line, then one per strategy, every minute) and health (every minute)."""
    k = WEEK_MS // MIN_MS
    ts = T0 + MIN_MS * np.arange(1, k + 1)
    day = (ts - T0 - 1) // DAY_MS
    lines = []
    for sid in ("", *STRATEGIES):
        start = float(STARTING_USDC) if sid == "" else 0.0
        scale = 1.5 if sid == "" else 1.5 * BUDGET_PCT[sid] / 100
        equity = start + np.cumsum(rng.normal(0.01 * scale, scale, k))
        unrealized = np.convolve(rng.normal(0.0, 4.0 * scale, k), np.ones(30) / 30, mode="same")
        fees = np.cumsum(rng.exponential(0.01 * scale, k))
        cash = (0.6 * STARTING_USDC if sid == "" else 0.0) + (equity - start) * 0.8 + rng.normal(0, 2 * scale, k)
        high = np.maximum.accumulate(np.maximum(equity, start))
        budget = STARTING_USDC * (1.0 if sid == "" else BUDGET_PCT[sid] / 100)
        drawdown = (high - equity) / (high if sid == "" else budget)
        day_start = np.concatenate([[start], equity])[np.searchsorted(day, np.arange(day[-1] + 1))][day]
        lines.append({
            "cash": _money6(cash), "positions_value": _money6(equity - cash), "equity": _money6(equity),
            "realized": _money6(equity - start - unrealized), "unrealized": _money6(unrealized), "fees": _money6(fees),
            "high_water": _money6(high), "drawdown": np.round(drawdown, 9), "day_pnl": _money6(equity - day_start),
            "week_pnl": _money6(equity - start), "open_positions": rng.integers(0 if sid else 20, 60, k),
            "open_orders": rng.integers(0 if sid else 40, 120, k), "strategy_id": [sid] * k,
        })  # fmt: skip
    # Interleave: at each minute the account's row, then each strategy's (as the engine writes them).
    pnl_cols: dict[str, list[Any]] = {}
    for name in lines[0]:
        per_line = [v if isinstance(v, list) else v.tolist() for v in (ln[name] for ln in lines)]
        pnl_cols[name] = [v for row in zip(*per_line, strict=True) for v in row]
    pnl = Rows("pnl_snapshots", k * len(lines), run_id=RUN_ID, ts=np.repeat(ts, len(lines)), **pnl_cols)

    open_markets = (m["end_ts"][None, :] > ts[:, None]).sum(axis=1)
    feed_age = rng.exponential(400.0, k).astype(np.int64)
    outage = np.zeros(k, dtype=bool)
    for s in rng.integers(0, k - 20, 6):  # six feed outages of 2-12 minutes
        outage[s:s + rng.integers(2, 13)] = True
    feed_age = np.where(outage, 60_000 + rng.integers(0, 600_000, k), feed_age)
    reconnect = (rng.random(k) < 0.001) | (outage & ~np.roll(outage, 1))
    health = Rows(
        "health", k,
        run_id=RUN_ID, ts=ts, books=np.minimum(open_markets, 120), stale_books=rng.poisson(0.3, k) + outage * 20,
        feed_age_ms=feed_age, reconnects=np.cumsum(reconnect), market_events=np.cumsum(rng.poisson(3_000, k)),
    )  # fmt: skip
    return pnl, health


def gen_halts(rng: np.random.Generator) -> Rows:
    rows = [  # kind, reason, trigger, threshold, action, resumed
        ("fill_rate", "fill rate 0.42 below 0.6 over the last 50 orders", "0.42", "0.6", "pause", True),
        ("stale_feed", "no book update for 94 s", "94.0", "60.0", "halt", True),
        ("daily_loss", "day loss 5.1% of equity", "0.0512", "0.05", "halt", True),
        ("reconcile", "venue and ledger disagree on 1 order", "1", "0", "halt", True),
        ("rejections", "6 rejections in 60 s", "6", "5", "pause", True),
        ("MANUAL", "operator: news pending", None, None, "halt new risk", False),
    ]
    ts = np.sort(T0 + rng.integers(DAY_MS // 2, WEEK_MS - DAY_MS // 2, len(rows)))
    resumed = ts + rng.integers(5 * MIN_MS, 90 * MIN_MS, len(rows))
    return Rows(
        "halts", len(rows),
        run_id=RUN_ID, ts=ts, kind=[r[0] for r in rows], reason=[r[1] for r in rows],
        trigger_value=[r[2] for r in rows], threshold=[r[3] for r in rows], action=[r[4] for r in rows],
        resumed_ts=[t if r[5] else None for r, t in zip(rows, resumed.tolist(), strict=True)],
        resumed_by=["operator" if r[5] else None for r in rows],
    )  # fmt: skip


def generate(n_fills: int, seed: int) -> list[Rows]:
    rng = np.random.default_rng(seed)
    m = gen_markets(rng)
    orders, meta, trading = gen_trading(rng, m, n_fills)
    proposals, decisions = gen_proposals(rng, m, meta, orders, n_fills)
    pnl, health = gen_minutes(rng, m)
    summary = {"mode": "auto", "venue": "REPLAY", "seed": seed, "state": "STOPPED", "markets": N_MARKETS,
               "fills": trading["fills"].n, "orders": len(orders["client_order_id"]),
               "evaluations": max(1, n_fills // 5), "proposals": proposals.n,
               "settlements": trading["settlements"].n}  # fmt: skip
    return [
        Rows("runs", 1, run_id=RUN_ID, started_ts=T0, ended_ts=T_END, venue="REPLAY", mode="auto", seed=seed,
             config_json=_config_json(), summary_json=orjson.dumps(summary).decode(), account=ACCOUNT),
        Rows("accounts", 1, account=ACCOUNT, created_ts=T0, starting_cash=str(STARTING_USDC), venue_cash_start=None),
        markets_rows(m),
        gen_evaluations(rng, m, max(1, n_fills // 5)),
        proposals,
        decisions,
        Rows("order_intents", len(orders["client_order_id"]), **orders),
        trading["order_events"],
        trading["fills"],
        trading["settlements"],
        pnl,
        gen_halts(rng),
        trading["markouts"],
        trading["maker_income"],
        health,
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Build (in a child process)
# --------------------------------------------------------------------------------------------------


async def _create_schema(path: str) -> None:
    store = await Store.open(path)  # applies every migration, exactly as the engine does
    await store.close()


def build(path: str, n_fills: int, seed: int) -> dict[str, Any]:
    # Tens of millions of tuples and strings, none in a cycle: without this the collector rescans them all
    # again and again (it doubles the build time).
    gc.disable()
    t0 = time.perf_counter()
    asyncio.run(_create_schema(path))
    t_schema = time.perf_counter()
    tables = generate(n_fills, seed)
    t_gen = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        existing = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
        # Build-only settings: no fsync, no journal, a helper thread for the index sorts. WAL is put back at
        # the end, as the store left it. (A bigger page cache measured slower, and keeping the indexes
        # during the load slower than recreating them.)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")
        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f"DROP INDEX {name}")
        counts: dict[str, int] = {}
        for rows in tables:
            if rows.table not in existing:
                continue  # e.g. health, before migration 0008
            rows.insert(db)
            counts[rows.table] = rows.n
        t_insert = time.perf_counter()
        for _, sql in indexes:
            db.execute(sql)
        db.execute("COMMIT")
        t_index = time.perf_counter()
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    t_end = time.perf_counter()
    return {
        "counts": counts, "skipped": sorted(r.table for r in tables if r.table not in existing),
        "times": {"schema": t_schema - t0, "generate": t_gen - t_schema, "insert": t_insert - t_gen,
                  "indexes": t_index - t_insert, "total": t_end - t0},
    }  # fmt: skip


def _counts(path: str) -> dict[str, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' ORDER BY name")]  # fmt: skip
        return {n: db.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}
    finally:
        db.close()


def _db_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def run(path: str, args: argparse.Namespace) -> int:
    if args.reuse:
        print(f"database          {path}  (reused: not built)")
        counts = _counts(path)
    else:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            built = pool.submit(build, path, args.fills, args.seed).result()
        counts = built["counts"]
        t = built["times"]
        print(f"database          {path}")
        print(f"build             {t['total']:>10.2f} s  (schema {t['schema']:.2f}, generate {t['generate']:.2f}, "
              f"insert {t['insert']:.2f}, indexes {t['indexes']:.2f})  seed {args.seed}")
        if built["skipped"]:
            print(f"not in the schema {', '.join(built['skipped'])}  (skipped)")
    for table, n in counts.items():
        print(f"  {table:<16}{n:>12,} rows")
    print(f"  {'total':<16}{sum(counts.values()):>12,} rows")
    print(f"db size           {_mb(_db_bytes(path)):>14}")

    try:
        from engine.analytics.truth_report import build_report
    except (ImportError, SyntaxError) as exc:
        again = f"--db {path} --reuse" if args.db else "--db PATH to keep the database, then --reuse"
        print(f"\nengine.analytics.truth_report does not import yet ({type(exc).__name__}: {exc}).\n"
              f"The database is built; re-run this script once it does ({again}).")  # fmt: skip
        return 1

    del build_report  # measured in a fresh process of its own: nothing of the build in its memory
    cmd = [sys.executable, __file__, "--measure", path, *(["--no-tracemalloc"] if args.no_tracemalloc else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr[-3000:])
        return 1
    m = json.loads(out.stdout.strip().splitlines()[-1])
    fills = m["fills"]
    print(f"report wall       {m['wall']:>10.3f} s  (time.perf_counter, in a fresh process, no tracing;"
          f" a large ledger is read by three processes)")  # fmt: skip
    print(f"report peak RSS   {_mb(m['rss_self']):>14}  the report's process (ru_maxrss, SQLite cache included);"
          f" the largest of its helper processes {_mb(m['rss_children'])}")  # fmt: skip
    if m.get("traced_peak") is not None:
        print(f"report tracemalloc{_mb(m['traced_peak']):>14}  peak of Python allocations in the report's process"
              f" (second run, {m['traced_wall']:.3f} s under tracing)")  # fmt: skip
    expected = counts.get("fills")
    check = "" if expected is None else (" = every fill" if fills == expected else f"  (!= {expected:,} in the ledger)")
    print(f"report fills      {fills:>10,}{check}")
    return 0


def measure(path: str, traced: bool) -> None:
    """The report alone, in this fresh process: wall time and peak memory, as one JSON line."""
    from engine.analytics.truth_report import build_report

    t0 = time.perf_counter()
    report = build_report(path)
    wall = time.perf_counter() - t0
    out: dict[str, float | int | None] = {
        "wall": wall,
        "fills": report["pnl"]["total"]["fills"],
        "rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "traced_peak": None,
    }
    del report
    if traced:
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        build_report(path)
        out["traced_wall"] = time.perf_counter() - t0
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps(out))


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "--measure":
        measure(sys.argv[2], traced="--no-tracemalloc" not in sys.argv)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--fills", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", help="where to build the ledger and keep it (default: a temporary directory)")
    ap.add_argument("--reuse", action="store_true", help="time the report on the existing --db without building")
    ap.add_argument("--no-tracemalloc", action="store_true", help="skip the second, traced report run")
    args = ap.parse_args()
    if args.fills < 10:
        ap.error("--fills must be at least 10")
    if args.reuse:
        if not args.db or not os.path.exists(args.db):
            ap.error("--reuse needs an existing --db PATH")
        sys.exit(run(args.db, args))
    if args.db:
        if os.path.exists(args.db):
            ap.error(f"{args.db} exists: pass --reuse to time the report on it, or remove it to build anew")
        sys.exit(run(args.db, args))
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        code = run(str(Path(tmp) / "ledger.db"), args)
    sys.exit(code)


if __name__ == "__main__":
    main()
