"""The quoting-mandate flow through the console, as an operator lives it in semi mode: the mandate waits in
Proposals, `a` approves it, requotes inside it go out with no proposal, a requote outside its band becomes a
proposal, and `V` (confirmed) revokes it and cancels every order placed under it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import FixedBrain
from tests.test_mandates import Quoter
from tests.ui_harness import make_app, make_runtime


def test_mandate_flow_through_the_console(tmp_path: Path) -> None:
    quoter = Quoter()  # asks to bid YES 0.40-0.49 in the first market, then sends the bids queued
    rt = make_runtime(
        tmp_path,
        brain=FixedBrain(p=0.45, half_width=0.01),
        until_s=12,
        strategies=[quoter],
        **{
            "engine.mode": "semi",
            "strategies.value.budget_pct": 60,
            "zones.bands": {"all": {"low": 0.01, "high": 0.99, "strategies": ["value_betting", "quoter"]}},
        },
    )
    engine = rt.engine
    (mandate,) = engine.mandates.pending()
    mid = mandate.mandate_id

    def quoter_orders() -> list:
        return [o for o in engine.orders.values() if o.strategy_id == "quoter"]

    def quoter_proposals() -> list:
        return [p for p in engine.proposals.values() if p.strategy_id == "quoter"]

    async def main() -> None:
        app = make_app(rt)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            table = app.proposal_table
            assert table.selected_id() == mid  # the pending mandate heads the pending rows
            await pilot.press("a")
            await pilot.pause()
            assert mandate.status.value == "ACTIVE" and mandate.decided_by == "operator"
            # Three requotes inside the band: each goes out at once, no proposal asked.
            quoter.quotes.extend([4500, 4600, 4700])
            for _ in range(3):
                await engine._cycle()
            assert [o.request.price for o in quoter_orders()] == [4500, 4600, 4700]
            assert all(o.proposal_id == mid for o in quoter_orders())
            assert quoter_proposals() == []
            # One above the band's top (0.49): a proposal for the operator, nothing sent.
            quoter.quotes.append(4950)
            await engine._cycle()
            assert len(quoter_orders()) == 3
            (outside,) = quoter_proposals()
            assert outside.status == "PENDING" and outside.price == 4950
            # Revoke from the Strategies view: asked, then every order under the mandate is cancelled.
            await pilot.press("s")
            await pilot.pause()
            mandates = app.strategies_view.mandate_table
            mandates.move_cursor(row=mandates.get_row_index(mid))
            await pilot.press("V")
            await pilot.pause()
            assert app.confirm_bar.asking
            await pilot.press("y")
            await pilot.pause()
            assert mandate.status.value == "REVOKED"
            assert all(o.cancel_requested or not o.state.working for o in quoter_orders())
            assert "3 orders cancelled" in app.last_result
            await pilot.pause(0.3)
            assert (
                outside.proposal_id in table.proposals
            )  # the requote outside waits on screen for a decision

    asyncio.run(main())
