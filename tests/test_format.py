"""Text from outside (market titles, exchange messages) is drawn as raw segments by the line-based panes:
no control character may reach the terminal."""

from __future__ import annotations

from widgets.format import clip_middle, plain


def test_control_characters_in_outside_text_become_spaces() -> None:
    title = "Will X win?\x1b[2J\x07 (2026)"
    assert plain(title) == "Will X win? [2J  (2026)"
    assert clip_middle(title, 100) == "Will X win? [2J  (2026)"
    clipped = clip_middle("A" * 20 + "\r\n" + "B" * 20, 29)
    assert len(clipped) == 29 and not any(ord(c) < 32 for c in clipped)
    assert clipped.startswith("AAAAAAAAA~") and clipped.endswith("B" * 19)
