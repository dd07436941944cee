"""A fill whose trade FAILED on chain is undone exactly: the ledger reads as if it never happened."""

from __future__ import annotations

import copy
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain import Fill, Liquidity, Outcome, Side
from engine.portfolio import Portfolio


def fill(i: int, side: Side, price: int, size: int, fee: str = "0.01") -> Fill:
    return Fill(
        trade_id=f"T{i}",
        client_order_id=f"O{i}",
        condition_id="0x" + "ab" * 32,
        token_id="1",
        outcome=Outcome.YES,
        side=side,
        price=price,
        size=size,
        fee=Decimal(fee),
        liquidity=Liquidity.TAKER,
        ts=i,
    )


def ledger(p: Portfolio) -> tuple:
    pos = p.positions.get("1")
    return (
        p.cash,
        p.fees,
        p.fill_cash_flows,
        p.realized_gross,
        tuple(p.closed_results),
        None if pos is None else (pos.size, pos.cost, pos.realized, pos.fees),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(100, 9900), st.integers(1, 50)), min_size=1, max_size=6),
    st.integers(100, 9900),
    st.integers(1, 400),
    st.sampled_from([Side.BUY, Side.SELL]),
)
def test_reversing_the_last_fill_restores_the_ledger(buys, price, pct, side) -> None:
    p = Portfolio(Decimal(10_000))
    for i, (px, shares) in enumerate(buys):
        p.apply_fill(fill(i, Side.BUY, px, shares * 1_000_000))
    held = p.held("1")
    size = max(1, held * pct // 400) if side is Side.SELL else pct * 10_000
    before = copy.deepcopy(ledger(p))
    last = fill(99, side, price, size)
    p.apply_fill(last)
    p.reverse_fill(last)
    after = ledger(p)
    assert after[:5] == before[:5]
    assert after[5][:2] == before[5][:2]  # size and cost basis


def test_reversed_sell_that_closed_the_position_reopens_it() -> None:
    p = Portfolio(Decimal(100))
    p.apply_fill(fill(1, Side.BUY, 4000, 10_000_000))
    sell = fill(2, Side.SELL, 6000, 10_000_000)
    p.apply_fill(sell)
    assert p.closed_results and p.held("1") == 0
    p.reverse_fill(sell)
    assert p.closed_results == [] and p.held("1") == 10_000_000
    assert p.realized_gross == 0 and p.cash == Decimal(100) - Decimal(4) - Decimal("0.01")
