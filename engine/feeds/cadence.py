"""When is a recorded book stale? Relative to the recording's own cadence, not to a live feed's.

A live feed that stays silent for 30 s is probably dead. A recording is not a feed: its recorder writes a
book when it changes or when it polls, and the bundled Polymarket recordings go quiet for 30-60 s between
lines of one market as a matter of course (per-market gaps: median 0.1 s, p99 12 s, max 62 s). Held to the
live threshold, a replay tripped the stale-feed breaker 67 times, refused approvals and filled the log with
what were only the recording's normal pauses.

So a recorded book is stale when it has been quiet for longer than `multiple` times the longest gap the
recording has shown so far (any market: one recorder), and never before the live threshold. The rule learns
as the replay plays, uses nothing from the future, and still catches a recording that really stops (a
market whose lines end while it is open), which is what the breaker is for.
"""

from __future__ import annotations


class RecordingCadence:
    def __init__(self, floor_ms: int, multiple: float = 2.0) -> None:
        if floor_ms <= 0 or multiple < 1:
            raise ValueError("floor_ms must be > 0 and multiple >= 1")
        self.floor_ms = floor_ms
        self.multiple = multiple
        self.max_gap_ms = 0
        self.last: dict[str, int] = {}  # key -> time of its latest line

    def on_line(self, key: str, ts: int) -> None:
        prev = self.last.get(key)
        if prev is not None and ts - prev > self.max_gap_ms:
            self.max_gap_ms = ts - prev
        self.last[key] = ts

    def forget(self, key: str) -> None:
        """The key's data has ended for good (its market closed): its silence means nothing now."""
        self.last.pop(key, None)

    @property
    def allowance_ms(self) -> int:
        return max(self.floor_ms, int(self.multiple * self.max_gap_ms))

    def age_ms(self, key: str, now: int) -> int | None:
        ts = self.last.get(key)
        return None if ts is None else now - ts

    def stale(self, now: int) -> set[str]:
        allowance = self.allowance_ms
        return {key for key, ts in self.last.items() if now - ts > allowance}


__all__ = ["RecordingCadence"]
