"""Shared fixtures: a tiny recorded-format dataset, isolated settings, and a deterministic test brain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.brains.base import BrainInput
from engine.config import Settings, load_settings
from engine.domain import Estimate

CID = "0x" + "ab" * 32
START = 1_790_000_000_000


class FixedBrain:
    """Test double: a constant estimate, so a scenario controls exactly when the sizer sees an edge."""

    name = "fixed"

    def __init__(self, p: float = 0.70, half_width: float = 0.02) -> None:
        self.p = p
        self.half_width = half_width

    def estimate(self, data: BrainInput) -> Estimate:
        return Estimate(self.name, self.p, self.p - self.half_width, self.p + self.half_width)


def write_dataset(
    root: Path,
    *,
    seconds: int = 300,
    book: Callable[[int], tuple[list[list[float]], list[list[float]]]] | None = None,
    end_offset_s: int | None = None,
    payout_up: float = 1.0,
    markets_count: int = 1,
    start: int = START,
) -> tuple[Path, Path]:
    """Up/down markets with the same book, one UP line per second each (plus a mirrored DOWN line every
    10 s). The first market's condition id is CID."""

    def default_book(i: int) -> tuple[list[list[float]], list[list[float]]]:
        return [[0.49, 500.0], [0.48, 800.0], [0.47, 900.0]], [[0.50, 400.0], [0.51, 700.0], [0.52, 900.0]]

    book = book or default_book
    end_ts = start + 1000 * (end_offset_s if end_offset_s is not None else seconds - 30)
    cids = [CID] + ["0x" + f"{k:02x}" * 32 for k in range(1, markets_count)]
    markets = [
        {
            "market_id": cid,
            "slug": f"btc-updown-test-{k}",
            "question": f"Bitcoin Up or Down - test {k}",
            "category": "crypto",
            "timeframe": "15m",
            "start_ts": start,
            "end_ts": end_ts,
            "outcome_up": "Up",
            "outcome_down": "Down",
            "payout_up": payout_up,
            "payout_down": 1 - payout_up,
        }
        for k, cid in enumerate(cids)
    ]
    lines = []
    for i in range(seconds):
        bids, asks = book(i)
        ts = start + 1000 * i
        for cid in cids:
            lines.append({"market": cid, "ts": ts, "side": "UP", "bids": bids, "asks": asks})
            if i % 10 == 5:
                down_bids = [[round(1 - p, 4), s] for p, s in asks]
                down_asks = [[round(1 - p, 4), s] for p, s in bids]
                lines.append({"market": cid, "ts": ts, "side": "DOWN", "bids": down_bids, "asks": down_asks})
    books_path = root / "books.jsonl"
    markets_path = root / "markets.json"
    books_path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    markets_path.write_text(json.dumps(markets))
    return books_path, markets_path


def settings_for(
    root: Path, books: Path | None = None, markets: Path | None = None, **overrides: Any
) -> Settings:
    base: dict[str, Any] = {
        "store.path": str(root / "test.db"),
        "venue.speed": "max",
        "engine.warmup_s": 5,
        "ui.control_socket": str(root / "ctl" / "bigearn.sock"),
        "reports.dir": str(root / "reports"),
    }
    # Tests written for one strategy see the value strategy alone, with the whole bankroll (as before the
    # market maker shipped); a test that names the market maker, or sets a strategy's budget, decides itself.
    # The operator's hand orders (`manual`) likewise only where a test names them.
    if not any(k.startswith("strategies.market_maker.") for k in overrides):
        base["strategies.market_maker.enabled"] = False
        if not any(k.startswith(("strategies.value.", "strategies.manual.")) for k in overrides):
            base["strategies.value.budget_pct"] = 100
    if not any(k.startswith("strategies.manual.") for k in overrides):
        base["strategies.manual.enabled"] = False
    if books is not None:
        base["venue.data"] = str(books)
        base["venue.markets"] = str(markets)
    base.update(overrides)
    return load_settings(None, overrides=base, env={})


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    return write_dataset(tmp_path)


@pytest.fixture(autouse=True)
def _close_ui_runtimes():
    """The console tests' engines (tests/ui_harness.py) are closed after each test: an open store's worker
    thread is not a daemon and would hold the interpreter at exit."""
    yield
    from tests.ui_harness import close_open_runtimes

    close_open_runtimes()
