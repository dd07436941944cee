"""The message line above the footer: the last command's result, or a yes/no question awaiting y / n.

Why not a ModalScreen for questions: pushing and popping a screen repaints the whole terminal (the background
is dimmed, then restored), and showing or hiding a docked line reflows every pane; both cost ~200 ms from `y`
to the effect on screen under a busy feed (bench/ui.py). This line is always there, so a question only
repaints one row, and the panes keep updating while it is open.
"""

from __future__ import annotations

import asyncio

from textual.widgets import Static


class ConfirmBar(Static):
    """Answers come through `answer_key` (the app forwards y / n / escape while a question is open): focus
    never moves, because a focus change restyles the panes (`:focus-within`) and that costs a frame."""

    ANSWERS = {"y": True, "n": False, "escape": False}
    DEFAULT_CSS = """
    ConfirmBar { height: 1; color: $text-muted; }
    ConfirmBar.-asking { background: $warning; color: $text; text-style: bold; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.message = ""
        self._answer: asyncio.Future[bool] | None = None

    @property
    def asking(self) -> bool:
        return self._answer is not None and not self._answer.done()

    async def ask(self, question: str) -> bool:
        """Show the question and wait for y (True) or n / escape (False).

        No puts the line back as it was. Yes leaves the question up until the caller shows what the yes did
        (`show_message`): the answer and its effect are then one repaint. Two would be at least a frame
        period apart (Textual draws at most 60 frames a second), and the effect would wait for the second."""
        if self.asking:
            return False  # one question at a time; a second one is a no
        self._answer = asyncio.get_running_loop().create_future()
        previous = self.message
        self.show_message(f"{question}   [y] yes   [n] no")
        self.add_class("-asking")
        answer = False
        try:
            answer = await self._answer
        finally:
            if not answer:
                self.remove_class("-asking")
                self.show_message(previous)
        return answer

    def show_message(self, text: str) -> None:
        """The last command's result (kept until the next one); it also closes a question answered yes."""
        if not self.asking:
            self.remove_class("-asking")
        if text != self.message:
            self.message = text
            self.update(f" {text}", layout=False)  # one fixed line: a layout pass would reflow every pane

    def answer_key(self, key: str) -> bool:
        """Take `key` as the answer if a question is open and it is y / n / escape; True if it was taken."""
        if not self.asking or key not in self.ANSWERS:
            return False
        assert self._answer is not None
        self._answer.set_result(self.ANSWERS[key])
        return True
