"""Operator commands. The UI, the CLI and the control socket all speak these; the engine applies them."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain import Mode
from engine.queries import OrderTicket


@dataclass(frozen=True, slots=True)
class Approve:
    proposal_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Reject:
    proposal_id: str
    actor: str = "operator"
    note: str = ""


@dataclass(frozen=True, slots=True)
class EditSize:
    """Change a pending proposal's size (shares, in size units); the proposal stays pending."""

    proposal_id: str
    size: int
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Halt:
    reason: str = "manual halt"
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Resume:
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class CancelAll:
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class SetMode:
    mode: Mode
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class ArmLive:
    """Allow real orders on a LIVE venue. The operator must type the word LIVE; anything else is refused."""

    confirmation: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class PauseStrategy:
    """Stop one strategy taking new risk (its exits may still go); its buys are cancelled."""

    strategy_id: str
    reason: str = "paused by the operator"
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class ResumeStrategy:
    strategy_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class RevokeMandate:
    """Withdraw a quoting mandate: its orders are cancelled at once. (Approve and Reject take a pending
    mandate's id like a proposal's.)"""

    mandate_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Withdraw one working order (its id, or the unique tail of it the console shows). Cancels only reduce
    risk: no approval, in any mode, through the firewall's mutation budget like any cancel."""

    client_order_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A hand order from the order ticket (or `ctl order`): an order of the `manual` strategy, through the same
    risk pipeline and firewall as any other. The ticket is the operator's approval: it is sent at once in
    semi and auto mode (observe sends nothing)."""

    ticket: OrderTicket
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Flatten:
    """Close one held token: its working orders are cancelled and every strategy that holds it sells what it
    holds, marketable (FAK at the worst bid the walk needs), through the risk pipeline and the firewall.
    `token_id`: the token, its unique tail, or a market's condition id (or tail) with `outcome`."""

    token_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class WatchMarket:
    """Add a market of the venue's catalogue to the watchlist (its book shown, the strategies judging it)."""

    condition_id: str
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class UnwatchMarket:
    """Take a market off the watchlist: strategies stop judging it and their working orders in it are
    cancelled; a position held in it stays on screen (and marked) until it is closed or settles."""

    condition_id: str
    actor: str = "operator"


Command = (
    Approve
    | Reject
    | EditSize
    | Halt
    | Resume
    | CancelAll
    | SetMode
    | ArmLive
    | PauseStrategy
    | ResumeStrategy
    | RevokeMandate
    | CancelOrder
    | PlaceOrder
    | Flatten
    | WatchMarket
    | UnwatchMarket
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
