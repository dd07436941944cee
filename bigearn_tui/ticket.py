"""The order ticket: a hand order typed in a modal, with a live what-if beside every keystroke.

`OrderTicketScreen` is a small form (outcome, side, price, size, type, post-only, GTD lifetime). Whenever a field
changes it asks the engine `PreviewOrder(ticket)` (debounced, one question in flight, stale answers dropped) and
shows the answer: what would be sent, the fee, the book walk, the caps and every rule. ctrl+s dismisses with the
`OrderTicket` only when the last what-if for exactly the fields on screen was ok; the caller sends it
(`PlaceOrder`). `ProposalWhatIfScreen` shows the same what-if for a pending proposal, read-only, with approve
and reject keys. Both render the answer with `render_what_if`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from engine.domain import OrderType, Outcome, Side
from engine.queries import OrderTicket, PreviewOrder, RuleCheck, WhatIf
from engine.snapshot import MarketRow, ProposalRow
from engine.ticket_text import parse_expiry, parse_price, parse_size
from engine.units import ONE
from widgets.format import clip_middle, plain, px, shares, usd

DEBOUNCE_S = 0.2
REFRESH_S = 2.0  # the book moves: the shown what-if is asked again this often while nothing is typed

def ticket_for_proposal(proposal: ProposalRow, market: MarketRow) -> OrderTicket:
    """The proposal's one order as a ticket (its outcome matched to the market's labels)."""
    label = proposal.outcome.strip().lower()
    if label in (market.yes_label.lower(), "yes"):
        outcome = Outcome.YES
    elif label in (market.no_label.lower(), "no"):
        outcome = Outcome.NO
    else:
        raise ValueError(
            f"proposal outcome {proposal.outcome!r} is neither {market.yes_label} nor {market.no_label}"
        )
    order_type = OrderType(proposal.order_type)
    return OrderTicket(proposal.condition_id, outcome, Side(proposal.side), proposal.price, proposal.size,
                       order_type=order_type, post_only=proposal.post_only and order_type.rests)  # fmt: skip


# --- the what-if, rendered ------------------------------------------------------------------------


def _num(v: float) -> str:
    return f"{v:.4g}"


def _rule_line(r: RuleCheck) -> Text:
    line = Text("✗ ", style="bold red")
    line.append(r.name, style="bold red")
    line.append(f" {_num(r.value)}/{_num(r.threshold)}")
    if r.detail:
        line.append(f" {plain(r.detail)}", style="dim")
    return line


def render_what_if(w: WhatIf) -> Text:
    """The answer in ~9 lines: the verdict, the order, money, the walk, cash, then the rules (refusing first,
    one a line; passing ones on one line)."""
    out = Text()
    out.append(plain(w.summary), style="bold green" if w.ok else "bold red")
    out.append("\n")
    out.append(f"{w.side} {plain(w.outcome_label)}  limit {px(w.limit_price) if w.limit_price else '-'}  "
               f"size {shares(w.size)}")  # fmt: skip
    if w.binding_cap and w.size_after_caps < w.size:
        out.append(f"  -> {shares(w.size_after_caps)} after caps ({w.binding_cap})", style="yellow")
    out.append("\n")
    out.append(f"notional ${usd(w.notional)}  fee ${w.fee:.5f}")
    if w.fee_rate_bps:
        out.append(f" ({w.fee_rate_bps:.1f} bps)")
    out.append("\n")
    if w.crosses:
        out.append("crosses: ", style="bold")
        eff = "-" if w.effective_price is None else f"{w.effective_price:.4f}"
        out.append(f"fills {shares(w.fills_now)} @ {eff}  slip {w.slippage_bps:.1f} bps  "
                   f"{w.levels} level{'s' if w.levels != 1 else ''}  {w.depth_share:.1%} of depth")  # fmt: skip
        if w.rests:
            out.append(f"  then rests {shares(w.rests)}")
    elif w.rests:
        out.append(f"no cross: rests {shares(w.rests)} on the book")
    else:
        out.append("no cross, nothing rests")
    out.append("\n")
    held = f"{usd(w.reserves)} shares" if w.side == Side.SELL.value else f"${usd(w.reserves)}"
    out.append(f"reserves {held}  cash ${usd(w.cash)}  available ${usd(w.available)}")
    refused = [r for r in w.rules if not r.passed]
    passed = [r for r in w.rules if r.passed]
    for r in refused:
        out.append("\n")
        out.append_text(_rule_line(r))
    if passed:
        out.append("\n")
        out.append("✓ ", style="green")
        out.append(" ".join(r.name for r in passed), style="green")
    return out


def _error_text(message: str, note: str = "") -> Text:
    out = Text(plain(message), style="bold red")
    if note:
        out.append("\n" + note, style="dim")
    return out


def market_header(market: MarketRow, width: int = 140) -> Text:
    """Title (middle-clipped to two lines' worth), both outcomes' bid/ask, the tick and the time to close."""
    out = Text(clip_middle(market.title, width), style="bold")
    out.append("\n")
    bid, ask = market.best_bid, market.best_ask
    no_bid = None if ask is None else ONE - ask
    no_ask = None if bid is None else ONE - bid
    out.append(f"{plain(market.yes_label)} {px(bid)}/{px(ask)}  {plain(market.no_label)} {px(no_bid)}/{px(no_ask)}"
               f"  tick {px(market.tick)}  closes {_until(market.time_to_close_s)}  ~{market.condition_id[-6:]}",
               style="dim")  # fmt: skip
    return out


def _until(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "closed"
    s = int(seconds)
    if s < 3600:
        return f"in {s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"in {s // 3600}h{s % 3600 // 60:02d}m"
    return f"in {s // 86_400}d{s % 86_400 // 3600}h"


def fresh_market(engine: Any, market: MarketRow) -> MarketRow:
    """The market's row in the engine's latest snapshot (the header's bid/ask and time to close move), or the
    one given when the snapshot has none."""
    try:
        rows = engine.snapshot().markets
    except Exception:  # a remote engine between snapshots: keep what is shown
        return market
    return next((m for m in rows if m.condition_id == market.condition_id), market)


# --- the asking, shared ---------------------------------------------------------------------------


class _WhatIfAsker:
    """Asks the engine for one ticket's what-if at a time; an answer for a ticket that is no longer the wanted
    one is dropped, and the wanted one is asked next."""

    def __init__(self, screen: ModalScreen[Any], engine: Any, show: Any) -> None:
        self.screen = screen
        self.engine = engine
        self.show = show  # show(ticket, answer | None, error message | None)
        self.wanted: OrderTicket | None = None
        self.in_flight = False
        self.asks = 0

    def want(self, ticket: OrderTicket | None) -> None:
        self.wanted = ticket
        if ticket is not None and not self.in_flight:
            self.in_flight = True
            self.screen.run_worker(self._ask(ticket), group="what-if", exit_on_error=False)

    async def _ask(self, ticket: OrderTicket) -> None:
        answer: WhatIf | None = None
        error: str | None = None
        self.asks += 1
        try:
            answer = await self.engine.ask(PreviewOrder(ticket))
        except ValueError as exc:
            error = f"engine: {exc}"
        except Exception as exc:  # the engine went away (a socket error): said, not raised into the UI
            error = f"engine unreachable: {type(exc).__name__}: {exc}"
        finally:
            self.in_flight = False
        if ticket == self.wanted:
            self.show(ticket, answer, error)
        elif self.wanted is not None:  # stale: the fields moved on while it was asked
            self.want(self.wanted)


# --- the ticket -----------------------------------------------------------------------------------


class OrderTicketScreen(ModalScreen[OrderTicket | None]):
    """A hand order for one market. Dismisses with the ticket (the caller sends `PlaceOrder`) or None."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="ticket_send"),
        Binding("escape", "cancel", "Cancel", id="ticket_cancel"),
    ]
    AUTO_FOCUS = "#ticket-price"
    DEFAULT_CSS = """
    OrderTicketScreen { align: center middle; }
    OrderTicketScreen > Vertical {
        width: 78; height: auto; max-height: 100%; border: thick $accent; background: $surface; padding: 0 1;
    }
    OrderTicketScreen #ticket-header { height: auto; max-height: 3; margin-bottom: 1; }
    OrderTicketScreen .ticket-row { height: 1; margin-bottom: 1; }
    OrderTicketScreen .ticket-row Label { width: auto; padding: 0 1 0 0; }
    OrderTicketScreen .ticket-row Select { width: 14; margin-right: 2; }
    OrderTicketScreen #ticket-side { width: 10; }
    OrderTicketScreen #ticket-type { width: 9; }
    OrderTicketScreen .ticket-row Input { width: 10; margin-right: 2; }
    OrderTicketScreen #ticket-expiry { width: 8; margin-right: 0; }
    OrderTicketScreen .ticket-row Checkbox { width: auto; margin-right: 2; }
    OrderTicketScreen #ticket-what-if {
        height: auto; min-height: 6; max-height: 12; border-top: solid $primary-darken-2; padding: 0 0;
    }
    OrderTicketScreen #ticket-foot { height: 1; margin-top: 1; }
    OrderTicketScreen #ticket-foot Label { width: 1fr; color: $text-muted; }
    OrderTicketScreen #ticket-foot Button { width: auto; min-width: 10; }
    """

    def __init__(
        self,
        engine: Any,
        market: MarketRow,
        *,
        side: Side = Side.BUY,
        outcome: Outcome = Outcome.YES,
        price: int | None = None,
        size_text: str = "",
        refresh_s: float = REFRESH_S,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.market = market
        self._side = side
        self._outcome = outcome
        self._price = price
        self._size_text = size_text
        self.refresh_s = refresh_s
        self.asker = _WhatIfAsker(self, engine, self._show)
        self.last: tuple[OrderTicket, WhatIf | None, str | None] | None = None  # the latest answer shown
        self.panel_text = Text()  # what the what-if panel shows (tests read it)
        self.body = Text()  # the panel without the note
        self.note = ""  # why the last ctrl+s sent nothing, until a field changes or the what-if turns ok
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        m = self.market
        with Vertical():
            yield Static(market_header(m), id="ticket-header")
            with Horizontal(classes="ticket-row"):
                yield Label("Outcome")
                yield Select([(m.yes_label, Outcome.YES), (m.no_label, Outcome.NO)], value=self._outcome,
                             allow_blank=False, compact=True, id="ticket-outcome")  # fmt: skip
                yield Label("Side")
                yield Select([("BUY", Side.BUY), ("SELL", Side.SELL)], value=self._side, allow_blank=False,
                             compact=True, id="ticket-side")  # fmt: skip
                yield Label("Type")
                yield Select([(t.value, t) for t in OrderType], value=OrderType.GTC, allow_blank=False,
                             compact=True, id="ticket-type")  # fmt: skip
                yield Checkbox("post-only", False, compact=True, id="ticket-post-only")
            with Horizontal(classes="ticket-row"):
                yield Label("Price")
                yield Input("" if self._price is None else px(self._price), placeholder="mkt", compact=True,
                            id="ticket-price")  # fmt: skip
                yield Label("Size")
                yield Input(self._size_text, placeholder="10 or $25", compact=True, id="ticket-size")
                yield Label("GTD lifetime s")
                yield Input("", placeholder="default", compact=True, disabled=True, id="ticket-expiry")
            yield Static(Text("asking...", style="dim"), id="ticket-what-if")
            with Horizontal(id="ticket-foot"):
                yield Label("ctrl+s send  esc cancel  tab next field  blank price = mkt")
                yield Button("Send", variant="primary", compact=True, id="ticket-send")

    def on_mount(self) -> None:
        self._sync_enabled()
        self.refresh_now()
        if self.refresh_s > 0:
            self.set_interval(self.refresh_s, self._periodic)

    # --- fields -> ticket ----------------------------------------------------------------------
    def _sync_enabled(self) -> None:
        order_type = self.query_one("#ticket-type", Select).value
        self.query_one("#ticket-expiry", Input).disabled = order_type is not OrderType.GTD
        rests = isinstance(order_type, OrderType) and order_type.rests
        self.query_one("#ticket-post-only", Checkbox).disabled = not rests

    def ticket_from_fields(self) -> OrderTicket:
        """The ticket the fields say; ValueError naming the field and what it accepts."""
        outcome = self.query_one("#ticket-outcome", Select).value
        side = self.query_one("#ticket-side", Select).value
        order_type = self.query_one("#ticket-type", Select).value
        assert isinstance(outcome, Outcome) and isinstance(side, Side) and isinstance(order_type, OrderType)
        price = parse_price(self.query_one("#ticket-price", Input).value)
        size, usdc = parse_size(self.query_one("#ticket-size", Input).value)
        expiry = (
            parse_expiry(self.query_one("#ticket-expiry", Input).value)
            if order_type is OrderType.GTD
            else None
        )
        post_only = self.query_one("#ticket-post-only", Checkbox).value and order_type.rests
        return OrderTicket(
            self.market.condition_id, outcome, side, price, size, usdc, order_type, post_only, expiry
        )

    # --- asking ---------------------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event: Any) -> None:
        if isinstance(event, Select.Changed) and event.select.id == "ticket-type":
            self._sync_enabled()
        self.note = ""
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self.refresh_now)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.refresh_now()  # enter asks at once (it never sends: ctrl+s does)

    def refresh_now(self) -> None:
        """Ask for the fields' what-if now (a parse error is shown instead, and nothing is asked)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        try:
            ticket = self.ticket_from_fields()
        except ValueError as exc:
            self.asker.want(None)
            self.last = None
            self._paint(_error_text(str(exc), "nothing asked: fix the field"))
            return
        if self.last is None or self.last[0] != ticket:
            self._paint(Text("asking...", style="dim") if self.last is None else self._dimmed())
        self.asker.want(ticket)

    def _periodic(self) -> None:
        self.market = fresh_market(self.engine, self.market)
        self.query_one("#ticket-header", Static).update(market_header(self.market))
        if self._debounce is None and self.last is not None and not self.asker.in_flight:
            self.asker.want(self.last[0])

    def _show(self, ticket: OrderTicket, answer: WhatIf | None, error: str | None) -> None:
        self.last = (ticket, answer, error)
        if answer is not None and answer.ok:
            self.note = ""
        self._paint(render_what_if(answer) if answer is not None else _error_text(error or "no answer"))

    def _dimmed(self) -> Text:
        """The previous answer, dimmed, while the new one is asked (no flicker to blank)."""
        text = self.body.copy()
        text.stylize("dim")
        return text

    def _paint(self, body: Text) -> None:
        self.body = body
        shown = body
        if self.note:
            shown = Text(self.note, style="bold red reverse")
            shown.append("\n")
            shown.append_text(body)
        self.panel_text = shown
        self.query_one("#ticket-what-if", Static).update(shown)

    # --- keys -----------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ticket-send":
            event.stop()
            self.action_send()

    def action_send(self) -> None:
        try:
            ticket = self.ticket_from_fields()
        except ValueError as exc:
            self.note = "not sent: a field is not accepted"
            self._paint(_error_text(str(exc)))
            return
        last = self.last
        if last is not None and last[0] == ticket and last[1] is not None and last[1].ok:
            self.dismiss(ticket)
            return
        if last is not None and last[0] == ticket:
            self.note = (
                f"not sent: {plain(last[1].summary if last[1] is not None else last[2] or 'no answer')}"
            )
            self._paint(self.body)
            return
        self.note = "not sent yet: the what-if for these fields is being asked; look, then ctrl+s again"
        self.refresh_now()

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- a pending proposal's what-if -----------------------------------------------------------------


class ProposalWhatIfScreen(ModalScreen[str | None]):
    """A pending proposal's order, asked as a what-if; a approves, r rejects (the caller sends the command)."""

    BINDINGS = [
        Binding("a", "decide('approve')", "Approve", id="proposal_what_if_approve"),
        Binding("r", "decide('reject')", "Reject", id="proposal_what_if_reject"),
        Binding("escape", "decide('')", "Close", id="proposal_what_if_close"),
    ]
    DEFAULT_CSS = """
    ProposalWhatIfScreen { align: center middle; }
    ProposalWhatIfScreen > Vertical {
        width: 78; height: auto; max-height: 100%; border: thick $accent; background: $surface; padding: 0 1;
    }
    ProposalWhatIfScreen #proposal-header { height: auto; max-height: 3; }
    ProposalWhatIfScreen #proposal-order { height: auto; max-height: 4; margin-bottom: 1; }
    ProposalWhatIfScreen #proposal-what-if { height: auto; min-height: 6; max-height: 14;
                                             border-top: solid $primary-darken-2; }
    ProposalWhatIfScreen #proposal-foot { height: 1; margin-top: 1; color: $text-muted; }
    """

    def __init__(
        self, engine: Any, proposal: ProposalRow, market: MarketRow, *, refresh_s: float = REFRESH_S
    ) -> None:
        super().__init__()
        self.engine = engine
        self.proposal = proposal
        self.market = market
        self.refresh_s = refresh_s
        self.asker = _WhatIfAsker(self, engine, self._show)
        self.ticket: OrderTicket | None = None
        self.panel_text = Text()
        self.last: tuple[OrderTicket, WhatIf | None, str | None] | None = None

    def compose(self) -> ComposeResult:
        p = self.proposal
        with Vertical():
            yield Static(market_header(self.market), id="proposal-header")
            yield Static(self._order_line(), id="proposal-order")
            yield Static(Text("asking...", style="dim"), id="proposal-what-if")
            yield Label(f"a approve  r reject  esc close   proposal ~{p.proposal_id[-7:]} {p.status}",
                        id="proposal-foot")  # fmt: skip

    def _order_line(self) -> Text:
        p = self.proposal
        out = Text(f"{p.strategy_id or 'strategy'} proposes ", style="bold")
        if p.kind == "MANDATE":
            out.append("a quoting MANDATE: ", style="bold")
            out.append(plain(p.bounds or "-"))
            return out
        out.append(f"{p.side} {plain(p.outcome)} {px(p.price)} x{shares(p.size)} {p.order_type}"
                   f"{' post-only' if p.post_only else ''}")  # fmt: skip
        out.append(f"\nedge {p.edge_net:+.3f}  p {p.p_hat:.3f} [{p.ci_low:.3f}, {p.ci_high:.3f}]  "
                   f"kelly {p.kelly:.3f}  what-if as a hand order", style="dim")  # fmt: skip
        if p.legs:
            out.append(f"\nlegs (all or none): {plain(p.legs)}", style="yellow")
        return out

    def on_mount(self) -> None:
        p = self.proposal
        if p.kind == "MANDATE":
            self._paint(Text("a mandate has no single order to preview: it quotes within the bounds above "
                             "until it lapses or is revoked", style="italic"))  # fmt: skip
            return
        try:
            self.ticket = ticket_for_proposal(p, self.market)
        except ValueError as exc:
            self._paint(_error_text(str(exc), "no what-if"))
            return
        self.asker.want(self.ticket)
        if self.refresh_s > 0:
            self.set_interval(self.refresh_s, self._periodic)

    def _periodic(self) -> None:
        self.market = fresh_market(self.engine, self.market)
        self.query_one("#proposal-header", Static).update(market_header(self.market))
        if self.ticket is not None and not self.asker.in_flight:
            self.asker.want(self.ticket)

    def _show(self, ticket: OrderTicket, answer: WhatIf | None, error: str | None) -> None:
        self.last = (ticket, answer, error)
        text = render_what_if(answer) if answer is not None else _error_text(error or "no answer")
        if self.proposal.legs:
            note = Text("the first leg, asked as a hand order would be:\n", style="dim")
            note.append_text(text)
            text = note
        self._paint(text)

    def _paint(self, text: Text) -> None:
        self.panel_text = text
        self.query_one("#proposal-what-if", Static).update(text)

    def action_decide(self, verdict: str) -> None:
        self.dismiss(verdict or None)
