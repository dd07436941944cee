"""The console runs unchanged on `--venue polymarket` pointed at the local exchange: paper (PAPER on the
status bar, books from the exchange's WebSocket, nothing sent) and live (LIVE not armed until the operator
types LIVE, then orders go to the exchange through the official SDK). Built through the real runtime path
(`engine.runtime.build` with the CLI's `--exchange` URL layout)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bigearn_tui.app import BigEarnApp
from bigearn_tui.cli import _exchange_urls
from bigearn_tui.screens import ArmLiveScreen
from engine.runtime import build
from localexchange import start_exchange
from tests.conftest import FixedBrain, settings_for
from tests.test_pm_market_data import until
from tests.test_sim_exchange_support import CID, market

SHARES = 1_000_000
BIDS = [(4900, 3000 * SHARES), (4800, 3000 * SHARES)]
ASKS = [(5000, 3000 * SHARES), (5100, 3000 * SHARES)]
HARDHAT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # a public test key


def polymarket_settings(tmp_path: Path, base_url: str, **extra):
    return settings_for(
        tmp_path,
        **{
            "venue.kind": "polymarket",
            "engine.warmup_s": 0,
            "engine.cycle_interval_s": 0.2,
            **_exchange_urls(base_url),
            **extra,
        },
    )


async def console_session(settings, check) -> None:
    rt = await build(settings, brain=FixedBrain(p=0.70))
    task = asyncio.create_task(rt.engine.run())
    try:
        app = BigEarnApp(rt.engine, refresh_hz=10)
        async with app.run_test(size=(140, 40)) as pilot:
            await check(rt, app, pilot)
    finally:
        rt.venue.stop()
        await asyncio.wait_for(task, 20)
        await rt.store.close()


def test_console_paper_trading_on_the_local_exchange(tmp_path: Path) -> None:
    async def go() -> None:
        async with start_exchange(markets=[market()], lines=[], speed=None) as h:
            h.exchange.set_background(CID, BIDS, ASKS)

            async def check(rt, app, pilot) -> None:
                assert rt.venue.kind == "PAPER"
                await until(
                    lambda: app.snap is not None and app.snap.markets and app.snap.markets[0].mid, 5, "a book"
                )
                assert " PAPER " in str(app.status.render())
                assert app.snap.markets[0].mid == pytest.approx(0.495)
                await until(lambda: app.snap.pending_proposals, 5, "a proposal")
                await pilot.press("a")
                await until(lambda: rt.engine.counters["fills"] > 0, 5, "a paper fill")
                assert not isinstance(app.screen, ArmLiveScreen)

            await console_session(polymarket_settings(tmp_path, h.base_url), check)
            # (that the paper venue sends the exchange nothing is proven in tests/test_pm_paper.py)

    asyncio.run(go())


def test_console_live_on_the_local_exchange_waits_for_the_word_live(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BIGEARN_PRIVATE_KEY", HARDHAT_0)

    async def go() -> None:
        async with start_exchange(markets=[market()], lines=[], speed=None) as h:
            h.exchange.set_background(CID, BIDS, ASKS)

            async def check(rt, app, pilot) -> None:
                assert rt.venue.kind == "LIVE"
                await pilot.pause()
                assert isinstance(app.screen, ArmLiveScreen)
                assert "LIVE not armed" in str(app.status.render())
                await until(lambda: app.snap is not None and app.snap.pending_proposals, 5, "a proposal")
                await pilot.press("escape")  # stay disarmed: an approval is refused at send time
                await pilot.pause()
                await pilot.press("a")
                await until(
                    lambda: any(p.status == "REFUSED" for p in rt.engine.proposals.values()), 5, "refusal"
                )
                assert rt.engine.counters["orders"] == 0
                app.action_arm_live()
                await pilot.pause()
                await pilot.press("L", "I", "V", "E", "enter")
                await until(lambda: rt.engine.live_armed, 5, "armed")
                await until(lambda: app.snap.pending_proposals, 5, "a new proposal")
                await pilot.press("a")
                await until(lambda: rt.engine.counters["fills"] > 0, 10, "a live fill from the exchange")
                assert "LIVE ARMED" in str(app.status.render())

            settings = polymarket_settings(
                tmp_path, h.base_url, **{"venue.live": True, "venue.signature_type": 0}
            )
            await console_session(settings, check)

    asyncio.run(go())
