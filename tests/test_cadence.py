"""Recorded data is stale relative to its own cadence: a gap in a recording is not a dead feed, a recording
that stops while its market is open is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from engine.feeds.cadence import RecordingCadence
from engine.runtime import build
from tests.conftest import CID, START, FixedBrain, settings_for, write_dataset


def test_cadence_learns_the_recordings_gaps_and_keeps_the_live_floor() -> None:
    c = RecordingCadence(30_000)
    assert c.allowance_ms == 30_000
    for ts in (0, 1_000, 2_000, 42_000):  # a 40 s pause in the recording
        c.on_line("a", ts)
    assert c.max_gap_ms == 40_000 and c.allowance_ms == 80_000
    assert c.stale(42_000 + 80_000) == set() and c.stale(42_000 + 80_001) == {"a"}
    c.forget("a")  # its market closed: silence means nothing now
    assert c.stale(10**12) == set()


def with_gaps(tmp_path: Path, pauses: tuple[tuple[int, int], ...], stop_s: int | None = None) -> tuple[Path, Path]:
    """The test dataset (a line a second) with the first market's lines removed during each (start, length)
    pause, and, with `stop_s`, every line of it after that second (a recording that stops)."""
    books, markets = write_dataset(tmp_path, seconds=600, markets_count=2)
    start = json.loads(books.read_text().splitlines()[0])["ts"]
    kept = []
    for line in books.read_text().splitlines():
        row = json.loads(line)
        t = (row["ts"] - start) // 1000
        paused = any(a < t <= a + n for a, n in pauses)
        if row["market"] == CID and (paused or (stop_s is not None and t > stop_s)):
            continue
        kept.append(line)
    books.write_text("\n".join(kept) + "\n")
    return books, markets


def replay(tmp_path: Path, books: Path, markets: Path) -> dict[str, Any]:
    settings = settings_for(tmp_path, books, markets, **{"engine.mode": "observe"})

    async def main() -> dict[str, Any]:
        rt = await build(settings, brain=FixedBrain(), ttl_on_engine_clock=True)
        return await rt.engine.run()

    return asyncio.run(main())


def test_a_pause_the_recording_has_shown_before_trips_nothing(tmp_path: Path) -> None:
    # A line a second, then a 40 s pause: the first time, that is far outside the recording's cadence and the
    # book is called stale (the live threshold is 30 s). Once the recording has shown such pauses, the next
    # one is its cadence, not a dead feed.
    summary = replay(tmp_path, *with_gaps(tmp_path, pauses=((100, 40), (300, 40), (450, 40))))
    stale = [h for h in summary["halts"] if h["kind"] == "stale_market"]
    first_pause_end = START + 141_000
    assert len(stale) == 1 and stale[0]["ts"] <= first_pause_end


def test_a_recording_that_stops_while_its_market_is_open_trips_the_stale_book_breaker(tmp_path: Path) -> None:
    summary = replay(tmp_path, *with_gaps(tmp_path, pauses=(), stop_s=200))
    stale = [h for h in summary["halts"] if h["kind"] == "stale_market"]
    assert stale and stale[0]["markets"] == [CID] and stale[0]["trigger_value"] > stale[0]["threshold"]
    assert summary["decisions"].get("SKIP_STALE_BOOK", 0) > 0
