"""The message line's questions (widgets/confirm_bar.py): a yes leaves the question up until its outcome is
shown, so the answer and its effect are one repaint; a no restores the line at once."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from widgets.confirm_bar import ConfirmBar


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ConfirmBar()


def test_a_yes_waits_for_its_outcome_and_a_no_restores_the_line() -> None:
    async def main() -> None:
        app = BarApp()
        async with app.run_test(size=(80, 3)) as pilot:
            bar = app.query_one(ConfirmBar)
            bar.show_message("Halt: halted")

            question = asyncio.create_task(bar.ask("Resume?"))
            await pilot.pause()
            assert bar.asking and bar.has_class("-asking") and "Resume?" in bar.message
            assert not bar.answer_key("x")  # not an answer: the question stays open
            assert bar.answer_key("y")
            assert await question is True
            assert not bar.asking
            assert bar.has_class("-asking") and "Resume?" in bar.message  # until the outcome is shown
            bar.show_message("Resume: resuming at the next cycle")
            assert not bar.has_class("-asking") and bar.message == "Resume: resuming at the next cycle"

            question = asyncio.create_task(bar.ask("Switch to AUTO?"))
            await pilot.pause()
            assert await bar.ask("A second one?") is False  # one question at a time
            assert bar.answer_key("escape")
            assert await question is False
            assert not bar.has_class("-asking") and bar.message == "Resume: resuming at the next cycle"

    asyncio.run(main())
