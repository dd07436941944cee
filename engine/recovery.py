"""Restart = resume: read back what the ledger knows of an account.

A paper or live engine started on a database that holds earlier runs of the same account rebuilds its books
from the ledger instead of starting from the configured bankroll:

* cash and positions by replaying every fill that still stands and every settlement, in the order they were
  applied: the same arithmetic as when they happened, so the result is exact, not an approximation;
* the orders the venue may still act on (intents not in a terminal state), with what filled of them;
* pending proposals, and the saved engine state (breakers, a manual halt, the high-water mark, the day and
  week starting equity), so a tripped loss limit stays tripped.

Then the venue reconciles (engine.venues.base.Resume / VenueReconciled) before the engine may trade.
Replay and sim runs have an account of their own run and never resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.domain import FeeSchedule, Fill, Liquidity, Market, OrderRequest, OrderType, Outcome, Side
from engine.execution.orders import Order, OrderState
from engine.store import Store
from engine.units import notional, px_from_decimal, qty_from_decimal

STATE_VERSION = 1


def market_from_row(row: dict[str, Any]) -> Market:
    """A market as the ledger recorded it (for positions in markets the venue no longer lists)."""
    return Market(
        condition_id=row["condition_id"],
        question=row["question"],
        slug=row["slug"],
        yes_token=row["yes_token_id"],
        no_token=row["no_token_id"],
        yes_label=row["yes_outcome"],
        no_label=row["no_outcome"],
        category=row["category"],
        tick=px_from_decimal(row["tick_size"]),
        min_order_size=qty_from_decimal(row["min_order_size"]),
        neg_risk=bool(row["neg_risk"]),
        fees=FeeSchedule(rate=row["fee_rate"], exponent=int(row["fee_exponent"])),
        start_ts=row["start_ts"],
        end_ts=row["end_ts"],
    )


@dataclass(slots=True)
class Settlement:
    ts: int
    condition_id: str
    token_id: str
    size: int
    payout_per_share: Decimal
    cash: Decimal


@dataclass(slots=True)
class LedgerState:
    """One account's books as the ledger holds them."""

    account: str
    runs: list[dict[str, Any]]
    starting_cash: Decimal
    fills: list[Fill]
    settlements: list[Settlement]
    orders: list[Order]  # possibly still working at the venue
    pending: list[dict[str, Any]]  # proposals rows still PENDING
    saved: dict[str, Any] | None  # the engine state saved with the last group commit
    markets: dict[str, Market] = field(default_factory=dict)  # every market the ledger refers to
    resolved: dict[str, Decimal] = field(default_factory=dict)  # condition id -> YES payout, if resolved
    fill_strategy: dict[str, str] = field(default_factory=dict)  # client order id -> the strategy it was

    @property
    def last_fill_ts(self) -> int | None:
        return max((f.ts for f in self.fills), default=None)

    @property
    def since_ms(self) -> int:
        """Fills after this may be missing: from the oldest order that may still be working, or the
        newest fill recorded, or the last run's start, whichever is earliest."""
        marks = [o.created_ts for o in self.orders]
        last = self.last_fill_ts
        if last is not None:
            marks.append(last)
        marks.append(int(self.runs[-1]["started_ts"]))
        return min(marks)


async def load_ledger(store: Store, account: str, known: dict[str, Market]) -> LedgerState | None:
    """The account's ledger, or None when no earlier run traded it. `known` are the venue's markets by
    condition id; markets the ledger refers to beyond them are rebuilt from its markets table."""
    runs = await store.account_runs(account)
    if not runs:
        return None
    row = await store.account(account)
    markets = dict(known)
    resolved: dict[str, Decimal] = {}
    for m in await store.fetch_all("SELECT * FROM markets"):
        cid = m["condition_id"]
        if m["yes_payout"] is not None:
            resolved[cid] = m["yes_payout"]
        if cid not in markets:
            markets[cid] = market_from_row(m)
    by_token = {m.token(o): (m, o) for m in markets.values() for o in Outcome}

    def outcome_of(token_id: str, cid: str) -> Outcome:
        hit = by_token.get(token_id)
        if hit is None:
            raise LedgerError(f"the ledger refers to token {token_id} of market {cid}, which it does not describe")
        return hit[1]

    fill_rows = await store.account_fills(account)
    fills = [
        Fill(
            trade_id=f["trade_id"],
            client_order_id=f["client_order_id"],
            condition_id=f["condition_id"],
            token_id=f["token_id"],
            outcome=outcome_of(f["token_id"], f["condition_id"]),
            side=Side(f["side"]),
            price=px_from_decimal(f["price"]),
            size=qty_from_decimal(f["size"]),
            fee=f["fee"],
            liquidity=Liquidity(f["liquidity"]),
            ts=int(f["ts"]),
        )
        for f in fill_rows
    ]
    settlements = [
        Settlement(
            int(s["ts"]), s["condition_id"], s["token_id"], qty_from_decimal(s["size"]), s["payout_per_share"],
            s["cash"],
        )
        for s in await store.account_settlements(account)
    ]  # fmt: skip
    filled: dict[str, list[Fill]] = {}
    for f in fills:
        filled.setdefault(f.client_order_id, []).append(f)
    orders = []
    for r in await store.account_open_intents(account):
        token = r["token_id"]
        request = OrderRequest(
            client_order_id=r["client_order_id"],
            condition_id=r["condition_id"],
            token_id=token,
            outcome=outcome_of(token, r["condition_id"]),
            side=Side(r["side"]),
            price=px_from_decimal(r["price"]),
            size=qty_from_decimal(r["size"]),
            order_type=OrderType(r["order_type"]),
            post_only=bool(r["post_only"]),
            expiration=r["expiration"],
        )
        order = Order(
            request=request,
            created_ts=int(r["ts"]),
            proposal_id=r["proposal_id"],
            strategy_id=r.get("strategy_id") or "value",
            state=OrderState(r["state"]),
            venue_order_id=r["venue_order_id"],
            updated_ts=int(r["updated_ts"]),
        )
        for f in filled.get(order.client_order_id, ()):
            order.filled += f.size
            order.notional += notional(f.price, f.size)
            order.fees += f.fee
        orders.append(order)
    starting = row["starting_cash"] if row is not None else None
    if starting is None:
        raise LedgerError(f"account {account} has runs but no record of its starting bankroll")
    return LedgerState(
        account=account,
        runs=runs,
        starting_cash=starting,
        fills=fills,
        settlements=settlements,
        orders=orders,
        pending=await store.account_pending_proposals(account),
        saved=await store.engine_state(account),
        markets=markets,
        resolved=resolved,
        fill_strategy={f["client_order_id"]: f["strategy_id"] for f in fill_rows},
    )


class LedgerError(Exception):
    """The ledger cannot be read back consistently; the engine must not trade on a guess."""


__all__ = ["STATE_VERSION", "LedgerError", "LedgerState", "Settlement", "load_ledger", "market_from_row"]
