"""The seeded synthetic market generator: determinism, book validity, the replay file round trip,
resolution from the latent process, and a headless engine run over a generated dataset."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import defaultdict
from decimal import Decimal
from functools import cache
from pathlib import Path

import orjson
import pytest

from engine.domain import CRYPTO_15M_FEES, FeeSchedule, Outcome
from engine.feeds.replay import ReplayLine, ReplayMarket, load_markets, local_token_id, read_lines
from engine.feeds.synthetic import (
    SyntheticConfig,
    latent_path,
    market_row,
    synthetic_catalog,
    synthetic_feed,
    synthetic_lines,
    write_dataset,
)
from engine.runtime import build
from engine.units import ONE
from tests.conftest import FixedBrain, settings_for
from tests.test_replay_e2e import replay

CFG = SyntheticConfig(seed=11, duration_s=300)  # 12 markets, ~14k lines
SMALL = SyntheticConfig(seed=5, markets=4, neg_risk_markets=2, duration_s=60)


@cache
def run(cfg: SyntheticConfig) -> tuple[dict[str, ReplayMarket], tuple[ReplayLine, ...]]:
    catalog = synthetic_catalog(cfg)
    return catalog, tuple(synthetic_lines(cfg, catalog))


def price(line: ReplayLine) -> float:
    """The touch mid, or the one side's best price when the book is one-sided."""
    touch = [px for px, _ in line.bids[:1]] + [px for px, _ in line.asks[:1]]
    return sum(touch) / len(touch) / ONE


def test_same_seed_same_stream_other_seed_another() -> None:
    catalog, lines = run(SMALL)
    assert synthetic_catalog(SMALL) == catalog
    assert tuple(synthetic_lines(SMALL, synthetic_catalog(SMALL))) == lines
    other_catalog, other_lines = run(dataclasses.replace(SMALL, seed=6))
    assert set(other_catalog).isdisjoint(catalog)
    assert [(ln.bids, ln.asks) for ln in other_lines[:200]] != [(ln.bids, ln.asks) for ln in lines[:200]]


def test_catalog_mix_ids_fees_ticks_and_neg_risk_event() -> None:
    catalog, _ = run(CFG)
    assert len(catalog) == CFG.markets
    markets = [entry.market for entry in catalog.values()]
    for m in markets:
        assert re.fullmatch(r"0x[0-9a-f]{64}", m.condition_id)
        assert m.yes_token == local_token_id(m.condition_id, m.yes_label)
        assert m.no_token == local_token_id(m.condition_id, m.no_label)
        assert m.end_ts - m.start_ts == CFG.duration_s * 1000
    assert {(m.fees.rate, m.fees.exponent) for m in markets} == {(CRYPTO_15M_FEES.rate, 2), (0, 1)}
    assert {m.tick for m in markets} == {100, 10}
    neg = [m for m in markets if m.neg_risk]
    assert len(neg) == CFG.neg_risk_markets and len({m.event_id for m in neg}) == 1 and neg[0].event_id
    assert len({(m.start_ts, m.end_ts) for m in neg}) == 1  # an event's markets close together
    # Staggered: markets keep opening and closing through the run.
    assert len({m.start_ts for m in markets}) == CFG.markets - CFG.neg_risk_markets + 1


def test_every_line_is_a_valid_book_in_time_order() -> None:
    catalog, lines = run(CFG)
    last_ts = 0
    seen: dict[str, int] = defaultdict(int)
    one_sided = down = fine = 0
    for line in lines:
        market = catalog[line.condition_id].market
        assert line.ts >= last_ts
        last_ts = line.ts
        assert market.start_ts <= line.ts < market.end_ts
        tick = 10 if line.fine_tick else market.tick
        bid_px = [px for px, _ in line.bids]
        ask_px = [px for px, _ in line.asks]
        assert bid_px == sorted(set(bid_px), reverse=True) and ask_px == sorted(set(ask_px))
        assert bid_px or ask_px
        if bid_px and ask_px:
            assert bid_px[0] < ask_px[0]  # uncrossed
        for px in bid_px + ask_px:
            assert px % tick == 0 and tick <= px <= ONE - tick
        assert all(qty > 0 and qty % 10_000 == 0 for _, qty in line.bids + line.asks)
        assert len(line.bids) <= CFG.levels and len(line.asks) <= CFG.levels
        assert line.fine_tick == any(px % 100 for px in bid_px + ask_px)  # as the replay reader sees it
        seen[line.condition_id] += 1
        one_sided += not (bid_px and ask_px)
        down += line.source is Outcome.NO
        fine += line.fine_tick
    assert set(seen) == set(catalog)
    # ~4 updates a second per market, with jitter.
    assert all(3 * CFG.duration_s < n < 5 * CFG.duration_s for n in seen.values())
    assert one_sided and down and fine


def test_tick_goes_fine_past_096_and_004_and_back_inside() -> None:
    catalog, lines = run(CFG)
    fine_now: dict[str, bool] = {}
    switches = 0
    for line in lines:
        if catalog[line.condition_id].market.tick != 100:
            continue
        p = price(line)
        was = fine_now.get(line.condition_id, False)
        if line.fine_tick and not was:
            switches += 1
            assert p > 0.95 or p < 0.05
        elif was and not line.fine_tick:
            assert 0.04 < p < 0.96
        if line.fine_tick:
            assert p > 0.93 or p < 0.07
        fine_now[line.condition_id] = line.fine_tick
    assert switches >= 3


def test_books_thin_and_widen_near_close() -> None:
    catalog, lines = run(CFG)
    early: list[int] = []
    late: list[int] = []
    for line in lines:
        end = catalog[line.condition_id].market.end_ts
        depth = sum(q for _, q in line.bids + line.asks)
        if end - line.ts < 10_000:
            late.append(depth)
        elif line.ts - catalog[line.condition_id].market.start_ts > 30_000:
            early.append(depth)
    assert sum(late) / len(late) < 0.6 * sum(early) / len(early)


def test_resolution_is_where_the_latent_process_settles() -> None:
    catalog, lines = run(CFG)
    last: dict[str, ReplayLine] = {}
    mids: list[float] = []
    for line in lines:
        last[line.condition_id] = line
        if line.bids and line.asks:
            market = catalog[line.condition_id].market
            path = latent_path(CFG, line.condition_id)
            mids.append(abs(price(line) - path[(line.ts - market.start_ts) // 1000]))
    assert sum(mids) / len(mids) < 0.05  # the mid tracks the latent, with lag and noise
    for cid, entry in catalog.items():
        path = latent_path(CFG, cid)
        payout = entry.resolution.yes_payout
        assert len(path) == CFG.duration_s + 1 and path[-1] == float(payout) and payout in (0, 1)
        assert all(0 <= p <= 1 for p in path)
        assert abs(path[-2] - float(payout)) < 0.5  # the latent one second before close
        assert abs(price(last[cid]) - float(payout)) < 0.1  # the last book converged to the winner
        assert entry.resolution.ts == entry.market.end_ts
    event = [cid for cid, e in catalog.items() if e.market.neg_risk]
    assert sum(catalog[cid].resolution.yes_payout for cid in event) == 1  # exactly one winner
    for second in range(0, CFG.duration_s, 17):
        assert sum(latent_path(CFG, cid)[second] for cid in event) == pytest.approx(1.0, abs=1e-9)


def test_latent_is_calibrated_across_many_markets() -> None:
    cfg = SyntheticConfig(seed=3, markets=400, neg_risk_markets=0, duration_s=20)
    catalog = synthetic_catalog(cfg)
    outcomes = [float(e.resolution.yes_payout) for e in catalog.values()]
    for second in (0, 10):
        probs = [latent_path(cfg, cid)[second] for cid in catalog]
        assert abs(sum(probs) - sum(outcomes)) / len(outcomes) < 0.08


def test_fifteen_minute_up_down_markets_carry_the_crypto_schedule_through_the_file(tmp_path: Path) -> None:
    cfg = SyntheticConfig(seed=11)
    catalog = synthetic_catalog(cfg)
    assert {e.market.fees for e in catalog.values()} == {CRYPTO_15M_FEES, FeeSchedule()}
    path = tmp_path / "markets.json"
    path.write_bytes(orjson.dumps([market_row(cfg, e) for e in catalog.values()]))
    assert {cid: e.market.fees for cid, e in load_markets(path).items()} == {
        cid: e.market.fees for cid, e in catalog.items()
    }


@pytest.mark.parametrize("books_name", ["books.jsonl", "books.jsonl.gz"])
def test_write_dataset_round_trips_through_the_replay_reader(tmp_path: Path, books_name: str) -> None:
    catalog, lines = run(SMALL)
    books, markets = tmp_path / books_name, tmp_path / "markets.json"
    assert write_dataset(SMALL, books, markets) == len(lines)
    loaded = load_markets(markets)
    assert {cid: e.market for cid, e in loaded.items()} == {cid: e.market for cid, e in catalog.items()}
    assert {cid: e.resolution for cid, e in loaded.items()} == {
        cid: e.resolution for cid, e in catalog.items()
    }
    assert tuple(read_lines(books, loaded)) == lines


def test_feed_chains_rounds_without_end() -> None:
    cfg = dataclasses.replace(SMALL, duration_s=30)
    announced: dict[str, ReplayMarket] = {}
    last_ts = 0
    lines = 0
    for item in synthetic_feed(cfg):
        if isinstance(item, ReplayMarket):
            announced[item.market.condition_id] = item
            continue
        assert item.condition_id in announced  # announced before its first line
        assert item.ts >= last_ts
        last_ts = item.ts
        lines += 1
        if item.ts >= cfg.round_start(5):
            break
    assert len(announced) == 6 * cfg.markets  # rounds 0..5
    two = dataclasses.replace(cfg, rounds=2)
    assert list(synthetic_catalog(two)) == list(announced)[: 2 * cfg.markets]
    later = dataclasses.replace(cfg, first_round=1)
    assert list(synthetic_catalog(later)) == list(announced)[cfg.markets : 2 * cfg.markets]
    assert lines > 0


def test_lines_for_a_subset_and_unknown_markets() -> None:
    catalog, lines = run(SMALL)
    cid = next(iter(catalog))
    assert list(synthetic_lines(SMALL, {cid: catalog[cid]})) == [ln for ln in lines if ln.condition_id == cid]
    stranger = run(dataclasses.replace(SMALL, seed=99))[0]
    with pytest.raises(ValueError, match="not part of this synthetic run"):
        next(synthetic_lines(SMALL, stranger))


@pytest.mark.parametrize(
    ("field", "value"),
    [("markets", 0), ("tick", 50), ("neg_risk_markets", 1), ("informed_share", 0.0), ("duration_s", 5)],
)
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"SyntheticConfig\.{field} = .*accepted"):
        SyntheticConfig(**{field: value})


def test_generated_run_through_replay_venue_and_engine(tmp_path: Path) -> None:
    cfg = SyntheticConfig(seed=2, markets=4, neg_risk_markets=2, duration_s=120)
    books, markets = tmp_path / "books.jsonl.gz", tmp_path / "markets.json"
    count = write_dataset(cfg, books, markets)
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "auto"})

    async def main() -> dict:
        rt = await build(settings, brain=FixedBrain(0.6))
        summary = await rt.engine.run()
        await rt.store.close()
        return summary

    summary = asyncio.run(main())
    assert summary["markets"] == cfg.markets
    assert summary["events"] == count  # every line processed
    # FixedBrain(0.6) buys every market; those that resolve against it lose more than the 5% daily limit (and
    # $50 within 5 minutes): the loss breakers pause new risk from then on. Nothing else trips.
    assert summary["halts"] and {h["kind"] for h in summary["halts"]} <= {
        "daily_loss",
        "weekly_loss",
        "rolling_loss",
    }
    assert all(h["trigger_value"] >= h["threshold"] for h in summary["halts"])
    assert summary["decisions"]["SKIP_BREAKER"] > 0
    assert summary["fills"] > 0 and summary["settlements"] > 0 and summary["open_positions"] == 0
    assert summary["pnl_identity_ok"] is True
    assert Decimal(summary["cash"]) == Decimal(1000) + Decimal(summary["realized_pnl"])


def test_cli_replays_a_synthetic_dataset(tmp_path: Path) -> None:
    cfg = SyntheticConfig(seed=4, markets=3, neg_risk_markets=0, duration_s=60)
    books, markets = tmp_path / "books.jsonl.gz", tmp_path / "markets.json"
    count = write_dataset(cfg, books, markets)
    summary = replay(
        tmp_path, "r", "--data", str(books), "--markets", str(markets), "--mode", "auto", timeout=120
    )
    assert summary["markets"] == cfg.markets and summary["events"] == count
    assert summary["halts"] == [] and summary["pnl_identity_ok"] is True
