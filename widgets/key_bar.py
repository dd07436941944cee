"""The footer: the console's keys on one line, the ones that would do nothing now dimmed.

Why not Textual's Footer: it composes one widget per key and recomposes them all whenever the bindings'
state changes - here on every halt, resume and pending proposal. On the 140x40 console that was ~90 ms of
style updates plus a relayout of the whole screen (a cProfile of the UI process under bench/ui.py), during
which the next key waited. This bar is one widget: a state change re-renders one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyItem(NamedTuple):
    key: str  # as shown, e.g. "a", "H", "/"
    description: str
    action: str  # run on click
    enabled: bool


class KeyBar(Widget):
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .key-bar--disabled { color: $text-disabled; }
    """

    def __init__(self, *, hint: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.hint = hint  # right-aligned, e.g. "^p palette"
        self._items: tuple[KeyItem, ...] = ()
        self._spans: list[tuple[int, int, KeyItem]] = []

    def set_keys(self, items: Sequence[KeyItem]) -> None:
        items = tuple(items)
        if items != self._items:
            self._items = items
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        desc_style = self.get_component_rich_style("key-bar--description")
        off_style = self.get_component_rich_style("key-bar--disabled")
        text = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        for item in self._items:
            start = len(text)
            text.append(f" {item.key} ", off_style if not item.enabled else key_style)
            text.append(f"{item.description} ", off_style if not item.enabled else desc_style)
            self._spans.append((start, len(text), item))
        if self.hint:
            gap = self.size.width - len(text) - len(self.hint) - 1
            if gap > 0:
                text.append(" " * gap + "▏")
                text.append(self.hint, desc_style)
        return text

    async def on_click(self, event: events.Click) -> None:
        for start, end, item in self._spans:
            if start <= event.x < end:
                if item.enabled:
                    await self.app.run_action(item.action)
                return
