"""Per-strategy books: fills land in their strategy's book; a settlement is split by what each book holds and
the parts add up to the venue's cash exactly."""

from __future__ import annotations

from decimal import Decimal

from engine.accounting import StrategyBooks
from engine.domain import Fill, Liquidity, Outcome, Side
from engine.execution.orders import FOREIGN


def fill(trade: str, side: Side, price: int, size: int, fee: str = "0") -> Fill:
    return Fill(trade, "O" + trade, "c", "tok", Outcome.YES, side, price, size, Decimal(fee), Liquidity.TAKER, 1)


def test_fills_go_to_their_strategy_and_sum_to_the_total() -> None:
    books = StrategyBooks(["a", "b"])
    books.apply_fill("a", fill("1", Side.BUY, 4_000, 3_000_000, "0.01"))
    books.apply_fill("b", fill("2", Side.BUY, 6_000, 1_000_000, "0.02"))
    books.apply_fill("a", fill("3", Side.SELL, 5_000, 3_000_000))
    assert books.book("a").held("tok") == 0 and books.book("b").held("tok") == 1_000_000
    assert books.book("a").realized_pnl == Decimal("0.3") - Decimal("0.01")
    assert books.book("a").fees + books.book("b").fees == Decimal("0.03")


def test_a_settlement_is_split_by_holdings_and_adds_up_exactly() -> None:
    books = StrategyBooks(["a", "b"])
    books.apply_fill("a", fill("1", Side.BUY, 3_000, 1_000_000))
    books.apply_fill("b", fill("2", Side.BUY, 3_000, 2_000_000))
    # 3 shares held by the books, the venue settles 4 (one bought before the ledger knew it): FOREIGN's.
    books.apply_settlement("tok", "c", Outcome.YES, 4_000_000, Decimal("4"), 9)
    a, b, f = books.book("a"), books.book("b"), books.book(FOREIGN)
    assert (a.settlement_payouts, b.settlement_payouts, f.settlement_payouts) == (1, 2, 1)
    assert a.held("tok") == b.held("tok") == 0
    assert a.settlement_payouts + b.settlement_payouts + f.settlement_payouts == Decimal("4")


def test_a_short_settlement_is_taken_pro_rata_and_still_adds_up() -> None:
    books = StrategyBooks(["a", "b"])
    books.apply_fill("a", fill("1", Side.BUY, 3_000, 1_000_000))
    books.apply_fill("b", fill("2", Side.BUY, 3_000, 2_000_000))
    books.apply_settlement("tok", "c", Outcome.YES, 1_000_000, Decimal("0.333333"), 9)
    paid = books.book("a").settlement_payouts + books.book("b").settlement_payouts
    assert paid == Decimal("0.333333")
    assert books.book("a").held("tok") + books.book("b").held("tok") == 2_000_000
