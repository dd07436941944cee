"""The Log pane's view (widgets/event_log.py): what it shows, scrolling back, and that a new line never
costs a layout of the whole screen."""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App, ComposeResult

from widgets.event_log import EventLog


class LogApp(App[None]):
    CSS = "EventLog { height: 5; width: 30; }"

    def compose(self) -> ComposeResult:
        yield EventLog(max_lines=20, id="log")


def rows(log: EventLog) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


def run(test) -> None:
    async def main() -> None:
        app = LogApp()
        async with app.run_test(size=(40, 10)) as pilot:
            log = app.query_one(EventLog)
            log.focus()
            await pilot.pause()
            await test(pilot, log)

    asyncio.run(main())


def test_fills_from_the_top_then_shows_the_newest_lines() -> None:
    async def test(pilot, log: EventLog) -> None:
        log.write_lines(["one", "two"])
        assert rows(log) == ["one", "two", "", "", ""]
        log.write_lines([f"line {i}" for i in range(8)])
        assert rows(log) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
        log.write_lines(["x" * 50])  # wider than the pane: clipped, not wrapped
        assert rows(log)[-1] == "x" * 30
        log.write_lines(["bad\x1b[2Jreply\r\nsecond line\n"])  # control characters never reach the terminal
        assert rows(log)[-1] == "bad [2Jreply  second line"

    run(test)


def test_a_new_line_repaints_the_pane_without_a_layout() -> None:
    # Textual's Log grows its virtual size per line, and a size change relays out every pane.
    async def test(pilot, log: EventLog) -> None:
        await pilot.pause()
        assert not log._layout_required
        log.write_lines(["halted by operator"])
        assert log._repaint_required and not log._layout_required
        assert log.size.height == 5

    run(test)


def test_scrolling_back_holds_the_view_while_lines_arrive_and_end_follows_again() -> None:
    async def test(pilot, log: EventLog) -> None:
        log.write_lines([f"line {i}" for i in range(10)])
        await pilot.press("up", "up")
        assert log.back == 2
        assert rows(log)[:4] == ["line 3", "line 4", "line 5", "line 6"]
        assert "2 newer" in rows(log)[4]
        log.write_lines(["line 10", "line 11"])  # arrive below: the lines being read stay put
        assert log.back == 4
        assert rows(log)[:4] == ["line 3", "line 4", "line 5", "line 6"]
        assert "4 newer" in rows(log)[4]
        await pilot.press("pageup", "pageup", "pageup")  # stops at the oldest line
        assert rows(log)[0] == "line 0"
        assert log.back == 12 - 5
        await pilot.press("end")
        assert log.back == 0
        assert rows(log) == ["line 7", "line 8", "line 9", "line 10", "line 11"]
        await pilot.press("down")  # already at the newest line
        assert log.back == 0

    run(test)


def test_mouse_wheel_scrolls_and_the_oldest_lines_fall_off_at_the_cap() -> None:
    async def test(pilot, log: EventLog) -> None:
        log.write_lines([f"line {i}" for i in range(25)])  # max_lines=20: lines 0-4 are gone
        assert log.lines[0] == "line 5" and len(log.lines) == 20
        log.post_message(events.MouseScrollUp(log, 1, 1, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert log.back == EventLog.WHEEL_LINES
        log.post_message(events.MouseScrollDown(log, 1, 1, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert log.back == 0
        await pilot.press("home")
        assert rows(log)[0] == "line 5"
        log.write_lines(["line 25"])  # at the cap the oldest line drops: the view is still the oldest lines
        assert log.back == 15 and rows(log)[0] == "line 6"

    run(test)
