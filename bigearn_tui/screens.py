"""Modal screens: size entry and help. (Yes/no questions are an inline bar: widgets/confirm_bar.py.)"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class SizeScreen(ModalScreen[float | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#size-input"  # the app's own AUTO_FOCUS (#markets) does not exist on a modal
    DEFAULT_CSS = """
    SizeScreen { align: center middle; }
    SizeScreen > Vertical { width: 64; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    """

    def __init__(self, prompt: str, current: float) -> None:
        super().__init__()
        self.prompt = prompt
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt)
            yield Input(value=f"{self.current:.2f}", id="size-input")
            yield Label("enter to apply, escape to cancel", id="size-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            value = float(event.value)
        except ValueError:
            self.query_one("#size-hint", Label).update(f"not a number: {event.value!r} (shares, e.g. 12.5)")
            return
        if value <= 0:
            self.query_one("#size-hint", Label).update("size must be > 0 shares")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP = """\
Big Earn console

Proposals     a approve selected (or first pending)   r reject   e edit size
              w what-if of the selected one (fee, book walk, caps, every rule)
Safety        H HALT new risk   X cancel ALL orders  (at once, no confirmation)
              R resume (asks to confirm)
Hand orders   o order ticket: live what-if as you type, ctrl+s sends, esc closes
Positions     c cancel the order under the cursor   x flatten the position (asks)
Mode          m cycle SEMI -> AUTO -> OBSERVE (AUTO asks to confirm)
Markets       enter show in the Book pane   / filter   t Book pane: other outcome
              F find a market in the venue's catalogue (enter adds or removes)
Views         s strategies   b blotter (/ filters it)   g charts (mid, equity)
              the same key again: back to Markets and Book
Strategies    P pause selected   U resume selected (asks)   V revoke mandate (asks)
              f Positions and P&L: all -> each strategy -> all
Navigation    tab / shift+tab between panes   ctrl+p command palette
Log pane      up down pgup pgdn home scroll back (or the wheel)   end follow
Quit          q (asks when orders are open; attached, it detaches)

Keys can be remapped in config.toml [ui] keymap, e.g. keymap = { approve = "A" }.
SEMI: every trade waits for you.   AUTO: gated trades go out.
OBSERVE: nothing is sent.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    HelpScreen #help-text { text-wrap: nowrap; }  /* wrapping would also drop the continuation lines' indent */
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP, markup=False, id="help-text")  # "[ui]" is text here, not a style tag
            yield Static("Current keys: " + "  ".join(f"{k}={d}" for k, d in self.keys))

    def action_close(self) -> None:
        self.dismiss(None)


class ArmLiveScreen(ModalScreen[str | None]):
    """Before the first real order: the operator types LIVE. Escape leaves the venue disarmed (nothing is sent)."""

    BINDINGS = [Binding("escape", "cancel", "Stay disarmed")]
    AUTO_FOCUS = "#arm-input"
    DEFAULT_CSS = """
    ArmLiveScreen { align: center middle; }
    ArmLiveScreen > Vertical { width: 72; height: auto; border: thick $error; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]LIVE venue[/b]: orders will spend real money on Polymarket.")
            yield Label("Type LIVE + enter to allow real orders. Escape: stay disarmed.")
            yield Input(placeholder="LIVE", id="arm-input")
            yield Label("", id="arm-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value != "LIVE":
            self.query_one("#arm-hint", Label).update(f"{event.value!r} is not LIVE (exactly, in capitals)")
            return
        self.dismiss("LIVE")

    def action_cancel(self) -> None:
        self.dismiss(None)
