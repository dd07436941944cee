"""Number formatting shared by the panes (fixed widths so columns never jump)."""

from __future__ import annotations

import time
from decimal import Decimal

from rich.text import Text

from engine.units import ONE, SIZE_SCALE


def px(value: int | None) -> str:
    return "-" if value is None else f"{value / ONE:.4f}".rstrip("0").rstrip(".") if value % 100 else f"{value / ONE:.2f}"


def prob(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def shares(value: int) -> str:
    return f"{value / SIZE_SCALE:,.2f}"


def usd(value: Decimal | float, signed: bool = False) -> str:
    v = float(value)
    return f"{v:+,.2f}" if signed else f"{v:,.2f}"


def age(ms: int | None) -> str:
    if ms is None:
        return "-"
    s = ms / 1000
    if s < 60:
        return f"{int(s)}s"  # whole seconds: tenths would repaint every row of a busy list every frame
    if s < 3600:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


def clock(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts_ms / 1000))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "~"


# Text from market data or an exchange reaches the terminal as raw segments in the line-based panes (Markets,
# Book, Log): control characters are shown as spaces, so that none can move the cursor or restyle the screen.
_CONTROL = dict.fromkeys((*range(32), 127), " ")


def plain(text: str) -> str:
    return text.translate(_CONTROL)


def clip_middle(text: str, width: int) -> str:
    """Market titles share long prefixes ("Bitcoin Up or Down - September 28, ..."); their distinguishing
    detail is usually at the end, so keep both ends. Control characters become spaces (`plain`)."""
    text = plain(text)
    if len(text) <= width:
        return text
    head = max(4, width // 3)
    return text[:head] + "~" + text[-(width - head - 1):]


def cell(text: str) -> Text:
    """A table cell as plain text. DataTable reads a str cell as markup: a title, note or reason holding
    "[...]" would lose it, or stop the app on a stray closing tag."""
    return Text(text, no_wrap=True, end="")


def compact_usd(value: float) -> str:
    """Two significant figures above $1k: a figure for scanning a list, steady while depth churns."""
    if value < 1000:
        return f"{value:,.0f}"
    if value < 1_000_000:
        return f"{value / 1000:.{1 if value < 10_000 else 0}f}k"
    return f"{value / 1_000_000:.{1 if value < 10_000_000 else 0}f}M"


def countdown(seconds: float | None) -> str:
    """Time left to a close in at most five cells: 42s, 9m18, 14m, 3h05, 2d; "ended" once past; "-" when the
    market has no end."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "ended"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}" if s < 600 else f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{s // 86_400}d"


def money(value: Decimal | float) -> str:
    """Signed dollars in six cells: cents below $100, whole dollars above (a column never jumps)."""
    v = float(value)
    return f"{v:+.2f}" if abs(v) < 100 else f"{v:+,.0f}"


def short_px(value: float) -> str:
    """A price in five cells: .455 (the leading zero dropped), 1.000 at a payout."""
    text = f"{value:.3f}"
    return text[1:] if text.startswith("0.") else text
