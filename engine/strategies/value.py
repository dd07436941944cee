"""`value`: value bets from a calibrated brain, sized by Kelly behind gates, with exits and resting-order care.

For each warm, open market: the brain estimates the YES probability with a band; the sizer (engine/risk/
sizing.py) picks the best trade by conservative edge (a taker when the edge pays the spread and fee, else the
best maker price; selling what is held counts as a trade) and sizes it. While new risk is blocked in a market,
only an exit is sought. A resting order stays while the sizer would still place it within
`requote_min_ticks` of where it rests; otherwise it is withdrawn. One working order per market.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from engine.brains.base import Brain, BrainInput, NoEstimate
from engine.domain import Estimate, Market, OrderType, Side
from engine.risk.sizing import SizingLimits, SizingResult, size_trade
from engine.strategies.base import (
    Intent,
    IntentKind,
    Leg,
    OrderView,
    Rationale,
    Reply,
    Strategy,
    StrategyConfig,
    StrategyContext,
    StrategyServices,
    Verdict,
    setting,
    withdraw,
)
from engine.units import px_to_str, qty_to_str


class ValueConfig(StrategyConfig):
    """Value bets are today's default path, so the strategy runs unless `[strategies.value] enabled = false`."""

    enabled: bool = setting(True, "run this strategy", "true or false")
    budget_pct: float = setting(
        20.0,
        "share of the bankroll this strategy may commit (held positions, working buys and proposals), percent;"
        " the enabled strategies' shares may add up to at most 100",
        "a number of percent, > 0 and <= 100",
        gt=0,
        le=100,
    )
    brains: list[str] = setting(
        ["microprice"],
        "the brains asked for a probability, combined in an ensemble (log-odds) when more than one",
        "a list of brain names: microprice, calibrated, base_rate, llm",
        min_length=1,
    )
    brain_weights: list[float] = setting(
        [], "the ensemble's weight of each brain, in the order of `brains`", "[] (equal) or one number > 0 a brain"
    )

    @model_validator(mode="after")
    def _known_brains(self) -> ValueConfig:
        from engine.brains.registry import BRAINS

        unknown = [b for b in self.brains if b not in BRAINS]
        if unknown or len(set(self.brains)) != len(self.brains):
            raise ValueError(f"brains = {self.brains!r}: accepted: distinct names among {', '.join(BRAINS)}")
        if self.brain_weights and (
            len(self.brain_weights) != len(self.brains) or not all(w > 0 for w in self.brain_weights)
        ):
            raise ValueError(
                f"brain_weights = {self.brain_weights!r}: accepted: [] or {len(self.brains)} numbers > 0 (one a brain)"
            )
        return self


class ValueStrategy(Strategy):
    strategy_id = "value"
    description = "value bets from the brain's calibrated probability, Kelly-sized behind gates, with exits"
    Config = ValueConfig

    def __init__(
        self, config: StrategyConfig, *, brain: Brain, limits: SizingLimits, requote_min_ticks: int
    ) -> None:
        super().__init__(config)
        self.brain = brain
        self.limits = limits
        self.requote_min_ticks = requote_min_ticks

    @classmethod
    def create(cls, config: StrategyConfig, services: StrategyServices) -> ValueStrategy:
        return cls(
            config,
            brain=services.brain,
            limits=services.limits,
            requote_min_ticks=services.requote_min_ticks,
        )

    def on_book(self, ctx: StrategyContext, market: Market) -> Reply:
        cid = market.condition_id
        book = ctx.book(cid)
        now = ctx.now_ms()
        try:
            est = self.brain.estimate(BrainInput(market, book, now, event_mids=ctx.event_mids(cid)))
        except NoEstimate as exc:
            reply = Reply(verdicts=[Verdict(cid, f"SKIP_{exc.code}", exc.detail)])
            if exc.code == "NO_BOOK":  # no book to judge a resting order by: fail closed
                reply.actions.extend(withdraw(ctx, cid, "edge gone (SKIP_NO_BOOK)"))
            return reply
        blocked = ctx.tradable(cid)
        if blocked is not None:
            return Reply(
                verdicts=[self._verdict(blocked.decision, blocked.reason, est, cid, blocked.details)]
            )
        result = self._size(ctx, market, est, sell_only=False)
        gate = result.deciding
        reason = "" if gate is None else f"{gate.name}={gate.value:.6g} vs {gate.threshold:.6g}"
        resting = [o for o in ctx.orders(cid) if o.resting]
        if resting:
            # One working order per market: re-check it instead of proposing another.
            keep = all(self._still_supported(o, result, ctx.tick(cid)) for o in resting)
            details: dict[str, Any] = {}
            if keep and not ctx.may_add_risk(cid) and any(o.side is Side.BUY for o in resting):
                refusal = ctx.risk_block(cid)
                keep, reason = False, f"new risk blocked: {refusal.code} {refusal.detail}"
                details["refusal"] = refusal.as_dict()
            if keep:
                return Reply(
                    verdicts=[self._verdict("HOLD", "order still has its edge", est, cid, details, result)]
                )
            reason = reason if details else f"edge gone: {result.reason} {reason}".strip()
            return Reply(
                actions=withdraw(ctx, cid, "edge gone (WITHDRAW)"),
                verdicts=[self._verdict("WITHDRAW", reason, est, cid, details, result)],
            )
        if not result.ok:
            return Reply(verdicts=[self._verdict(result.reason, reason, est, cid, {}, result)])
        c = result.candidate
        assert c is not None
        if c.side is Side.BUY and not ctx.may_add_risk(cid) and ctx.may_reduce(cid):
            # New risk is blocked here but exits may go: is there one worth taking?
            exit_ = self._size(ctx, market, est, sell_only=True)
            if exit_.ok:
                result = exit_
        intent = self._intent(market, est, result)
        return Reply(actions=[intent], verdicts=[self._verdict("PROPOSE", reason, est, cid, {}, result)])

    # --- helpers ---------------------------------------------------------------------------------
    def _size(self, ctx: StrategyContext, market: Market, est: Estimate, *, sell_only: bool) -> SizingResult:
        cid = market.condition_id
        return size_trade(
            est, ctx.book(cid), market, ctx.sizing_exposure(cid), self.limits, sell_only=sell_only
        )

    def _still_supported(self, order: OrderView, result: SizingResult, tick: int) -> bool:
        """A resting order stays while the sizer would still place it: its side clears the edge gate at a
        price within `requote_min_ticks` of where it rests (a smaller move is not worth a cancel/replace)."""
        c = result.candidate
        edge_ok = any(g.name == "edge" and g.passed for g in result.gates)
        return (
            edge_ok
            and c is not None
            and c.outcome is order.outcome
            and c.side is order.side
            and abs(c.price - order.price) <= self.requote_min_ticks * tick
        )


    def _verdict(
        self,
        decision: str,
        reason: str,
        est: Estimate,
        cid: str,
        extra: dict[str, Any],
        result: SizingResult | None = None,
    ) -> Verdict:
        details: dict[str, Any] = {"features": est.features}
        c = None
        if result is not None:
            details["gates"] = [(g.name, g.value, g.threshold, g.passed) for g in result.gates]
            c = result.candidate
            if c is not None:
                details["candidate"] = {
                    "outcome": c.outcome.value,
                    "side": c.side.value,
                    "price": px_to_str(c.price),
                    "liquidity": c.liquidity,
                    "edge_point": c.edge_point,
                    "edge_cons": c.edge_cons,
                    "fee_per_share": c.fee_per_share,
                }
        details.update(extra)
        return Verdict(
            cid,
            decision,
            reason,
            p_hat=est.p_hat,
            ci_low=est.ci_low,
            ci_high=est.ci_high,
            edge=None if c is None else c.edge_cons,
            details=details,
            brain=est.brain,
        )

    def _intent(self, market: Market, est: Estimate, result: SizingResult) -> Intent:
        c = result.candidate
        assert c is not None
        price = result.limit_price if result.limit_price is not None else c.price
        leg = Leg(
            market.condition_id,
            c.outcome,
            c.side,
            price,
            result.size,
            result.order_type,
            result.post_only,
            None if result.order_type is not OrderType.GTD else 0,
        )
        rationale = Rationale(
            summary=f"{c.side.value} {market.label(c.outcome)} @ {px_to_str(price)}: edge {c.edge_cons:+.4f}",
            p_hat=est.p_hat,
            ci_low=est.ci_low,
            ci_high=est.ci_high,
            edge_net=c.edge_cons,
            kelly=result.kelly_applied,
            expected_slippage_bps=result.expected_slippage_bps,
            binding_cap=result.binding_cap,
            q_cons=c.q_cons,
            numbers={
                "edge_point": c.edge_point,
                "touch": px_to_str(c.price),  # the best price when decided: realized slippage is against it
                "fee_per_share": c.fee_per_share,
                "kelly_full": result.kelly_full,
                "stake_usdc": result.stake_usdc,
                "liquidity": c.liquidity,
                "gates": [(g.name, g.value, g.threshold, g.passed) for g in result.gates],
                "sized": qty_to_str(result.size),
            },
        )
        kind = IntentKind.EXIT if c.side is Side.SELL else IntentKind.ENTRY
        return Intent(self.strategy_id, (leg,), rationale, kind)
