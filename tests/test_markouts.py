"""Markouts after each fill at 30 s, 2 min and 10 min, signed for our side, and the toxicity flag."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.analytics.markouts import Markouts
from engine.domain import Fill, Liquidity, Outcome, Side

CID = "0x" + "ab" * 32
T0 = 1_790_000_000_000


def fill(i: int, side: Side, price: int, ts: int = T0) -> Fill:
    return Fill(
        f"t{i}", f"o{i}", CID, "tok", Outcome.YES, side, price, 10_000_000, Decimal(0), Liquidity.MAKER, ts
    )


def test_a_buy_marks_out_positive_when_the_mid_rises_and_a_sell_negative() -> None:
    m = Markouts()
    m.on_fill(fill(1, Side.BUY, 5_000), "mm", maker=True)
    m.on_fill(fill(2, Side.SELL, 5_000), "mm", maker=True)
    assert m.on_time(T0 + 29_999, lambda c, o: 5_100) == []  # nothing due yet
    due = m.on_time(T0 + 30_000, lambda c, o: 5_100)  # the mid is 1 cent higher
    assert sorted((x.trade_id, x.horizon_ms, round(x.cents, 6)) for x in due) == [
        ("t1", 30_000, 1.0),
        ("t2", 30_000, -1.0),
    ]
    m.on_time(T0 + 600_000, lambda c, o: 4_900)
    s = m.summary("mm")
    assert s["30s"] == {"count": 2, "mean_cents": 0.0}
    assert s["2m"]["count"] == 2 and s["10m"]["count"] == 2
    assert m.summary("other")["30s"] == {"count": 0, "mean_cents": None}


def test_a_markout_waits_for_a_mid() -> None:
    m = Markouts()
    m.on_fill(fill(1, Side.BUY, 5_000), "mm", maker=True)
    assert m.on_time(T0 + 30_000, lambda c, o: None) == []
    (late,) = [x for x in m.on_time(T0 + 31_000, lambda c, o: 5_050) if x.horizon_ms == 30_000]
    assert late.cents == pytest.approx(0.5)


@pytest.mark.parametrize(("move", "toxic"), [(-21, True), (-20, False), (-19, False)])
def test_toxic_below_minus_02_cents_over_a_full_window(move: int, toxic: bool) -> None:
    # Mid moves by `move` price units (1e-4) against each buy: -21 = -0.21 cents, -20 = exactly -0.20.
    m = Markouts(toxic_window=5, toxic_below_cents=-0.2)
    for i in range(5):
        m.on_fill(fill(i, Side.BUY, 5_000, ts=T0 + i), "mm", maker=True)
    assert not m.toxic(CID)
    m.on_time(T0 + 130_000, lambda c, o: 5_000 + move)
    assert m.toxic(CID) is toxic
