"""A small ledger written row by row, for the truth report's tests: the real schema (the store's migrations),
rows with exactly the values a test hand-computes against."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from engine.store import Store

RUN = "run-1"
T0 = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000  # a UTC midnight
MIN = 60_000
DAY = 86_400_000
CONFIG = {
    "bankroll": {"starting_usdc": "1000"},
    "execution": {"min_fill_rate": 0.6, "mutation_budget_per_min": 10},
    "breakers": {"stale_feed_global_s": 30.0},
    "strategies": {"market_maker": {"budget_pct": 70.0}, "value": {"budget_pct": 20.0}, "manual": {"budget_pct": 10.0}},
    "reports": {"stress_fee_multiple": 2.0, "stress_cents": 0.5},
}


def yes_token(cid: str) -> str:
    return f"{cid}-yes"


def no_token(cid: str) -> str:
    return f"{cid}-no"


class Ledger:
    def __init__(self, path: Path, config: dict[str, Any] | None = None, run: str = RUN, started: int = T0) -> None:
        self.path = path

        async def create() -> None:
            store = await Store.open(path)
            await store.close()

        asyncio.run(create())
        self.conn = sqlite3.connect(path)
        self.run = run
        self.n = 0
        self.conn.execute(
            "INSERT INTO runs (run_id, started_ts, ended_ts, venue, mode, seed, config_json, summary_json, account)"
            " VALUES (?, ?, NULL, 'REPLAY', 'auto', 7, ?, ?, ?)",
            (run, started, json.dumps(config or CONFIG), json.dumps({"refusals": {"ZONE_STRATEGY": 3}}),
             f"replay:{run}"),
        )

    def market(self, cid: str, cluster: str = "", resolved_ts: int | None = None, yes_payout: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO markets VALUES (?, ?, ?, 'crypto', ?, ?, 'Up', 'Down', '0.01', '5', 0, '0', 0, NULL, NULL,"
            " ?, ?, ?, 0)",
            (cid, f"slug-{cid}", f"question {cid}", yes_token(cid), no_token(cid), cluster or None, resolved_ts,
             yes_payout),
        )

    def order(self, oid: str, strategy: str, ts: int, state: str, size: str, filled: str, *, cid: str = "A",
              side: str = "BUY", proposal: str | None = None, token: str | None = None, updated: int | None = None) -> None:
        self.conn.execute(
            "INSERT INTO order_intents (client_order_id, run_id, ts, proposal_id, condition_id, token_id, side,"
            " order_type, post_only, price, size, expiration, state, venue_order_id, filled, updated_ts, strategy_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'GTC', 0, '0.50', ?, NULL, ?, NULL, ?, ?, ?)",
            (oid, self.run, ts, proposal, cid, token or yes_token(cid), side, size, state, filled, updated or ts,
             strategy),
        )

    def event(self, oid: str, ts: int, state_to: str, cause: str) -> None:
        self.conn.execute(
            "INSERT INTO order_events (client_order_id, ts, state_from, state_to, cause, venue_order_id, detail_json)"
            " VALUES (?, ?, NULL, ?, ?, NULL, '{}')",
            (oid, ts, state_to, cause),
        )

    def fill(self, strategy: str, cid: str, yes: bool, side: str, price: str, size: str, *, fee: str = "0",
             maker: bool = True, ts: int = T0, order: str | None = None, trade: str | None = None) -> str:
        self.n += 1
        trade = trade or f"T{self.n}"
        self.conn.execute(
            "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'CONFIRMED', ?)",
            (trade, order or f"O{self.n}", ts, cid, yes_token(cid) if yes else no_token(cid), side, price, size, fee,
             "MAKER" if maker else "TAKER", strategy),
        )
        return trade

    def markout(self, trade: str, strategy: str, horizon_s: int, cents: float, *, ts: int = T0, maker: bool = True,
                cid: str = "A") -> None:
        self.conn.execute(
            "INSERT INTO markouts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.run, trade, ts + horizon_s * 1000, strategy, cid, horizon_s, cents, int(maker)),
        )

    def snapshot(self, ts: int, equity: str, strategy: str = "") -> None:
        self.conn.execute(
            "INSERT INTO pnl_snapshots (run_id, ts, cash, positions_value, equity, realized, unrealized, fees,"
            " high_water, drawdown, day_pnl, week_pnl, open_positions, open_orders, strategy_id)"
            " VALUES (?, ?, ?, '0', ?, '0', '0', '0', ?, 0.0, '0', '0', 0, 0, ?)",
            (self.run, ts, equity, equity, equity, strategy),
        )

    def evaluation(self, cid: str, brain: str, p_hat: float, mid: float | None, outcome: float | None,
                   ts: int = T0) -> None:
        self.conn.execute(
            "INSERT INTO evaluations (run_id, ts, condition_id, brain, p_hat, ci_low, ci_high, market_mid, best_bid,"
            " best_ask, spread, depth_usdc, time_to_close_s, decision, reason, details_json, outcome, strategy_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, 'HOLD', '', '{}', ?, 'value')",
            (self.run, ts, cid, brain, p_hat, p_hat, p_hat, mid, outcome),
        )

    def settlement(self, cid: str, yes: bool, size: str, payout: str, cash: str, ts: int = T0) -> None:
        self.conn.execute(
            "INSERT INTO settlements (run_id, ts, condition_id, token_id, size, payout_per_share, cash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.run, ts, cid, yes_token(cid) if yes else no_token(cid), size, payout, cash),
        )

    def health(self, ts: int, books: int, stale: int, age_ms: int, reconnects: int) -> None:
        self.conn.execute("INSERT INTO health VALUES (?, ?, ?, ?, ?, ?, 0)", (self.run, ts, books, stale, age_ms,
                                                                               reconnects))

    def halt(self, ts: int, kind: str, reason: str, resumed_ts: int | None, resumed_by: str | None) -> None:
        self.conn.execute(
            "INSERT INTO halts (run_id, ts, kind, reason, trigger_value, threshold, action, resumed_ts, resumed_by)"
            " VALUES (?, ?, ?, ?, '1', '1', 'pause', ?, ?)",
            (self.run, ts, kind, reason, resumed_ts, resumed_by),
        )

    def income(self, strategy: str, cid: str, kind: str, amount: str, ts: int = T0) -> None:
        self.conn.execute(
            "INSERT INTO maker_income VALUES (?, ?, ?, ?, ?, ?, '{}')", (self.run, ts, strategy, cid, kind, amount)
        )

    def proposal(self, pid: str, strategy: str, side: str, expected_bps: float, touch: str, ts: int = T0) -> None:
        self.conn.execute(
            "INSERT INTO proposals (id, run_id, ts, evaluation_id, condition_id, token_id, outcome, side, order_type,"
            " post_only, price, size, p_hat, ci_low, ci_high, edge_net, kelly_fraction, binding_cap,"
            " expected_slippage_bps, expires_ts, status, rationale_json, strategy_id)"
            " VALUES (?, ?, ?, NULL, 'A', ?, 'YES', ?, 'FAK', 0, '0.60', '10', 0.6, 0.5, 0.7, 0.05, 0.1, '', ?, ?,"
            " 'APPROVED', ?, ?)",
            (pid, self.run, ts, yes_token("A"), side, expected_bps, ts + 30_000, json.dumps({"touch": touch}),
             strategy),
        )

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()
