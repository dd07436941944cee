"""`market_maker`: two-sided post-only quotes around a fair value, skewed by inventory, in the best markets.

Each evaluation, for each warm open market:
1. Re-rank the watchlist when due (`rerank_s`): score and veto every market (strategies/quoteability.py) and
   keep the top `active_markets` quotable ones. A market that leaves the set, turns toxic or is blocked has
   its quotes pulled at once.
2. Ask for a quoting mandate per market (semi: the operator approves it once; auto: granted at once); until
   it is active nothing is quoted.
3. Fair value = the canonical mid (optionally pulled toward the brain's estimate); half-spread = base +
   k_vol x sigma + k_tox x toxicity, at least a tick, inside the reward band when the market pays rewards;
   both quotes skewed against inventory, the side that would grow it past the cap shrunk (strategies/
   mm_quotes.py).
4. Each side in the token form the balance allows: the bid buys YES, or sells NO when NO is held; the ask
   sells YES when held, or buys NO at 1 - ask. Post-only GTD (the venue adds its 60 s security buffer).
5. A resting quote stays unless its target moved more than `requote_min_ticks` ticks or its size by more
   than `requote_size_share`: each requote costs a cancel and a place from the shared mutation budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from engine.analytics.resolution_risk import ResolutionRisk, resolution_risk
from engine.brains.base import Brain, BrainInput, NoEstimate
from engine.domain import Market, OrderType, Outcome, Side
from engine.strategies.base import (
    Cancel,
    Intent,
    IntentKind,
    Leg,
    MandateRequest,
    MarketNote,
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
from engine.strategies.mm_quotes import QuoteParams, TwoSided, half_spread, quote
from engine.strategies.quoteability import MarketFacts, Quoteability, ScorerLimits, active_set, rank
from engine.units import ONE, floor_size, px_to_str, qty_to_str

ALL_SIDES = ((Outcome.YES, Side.BUY), (Outcome.YES, Side.SELL), (Outcome.NO, Side.BUY), (Outcome.NO, Side.SELL))
QUOTING = frozenset({"HOLD", "REQUOTE", "NO_QUOTE"})  # decisions made with a quote in hand
VOL_ALPHA = 0.1  # weight of the newest mid change in the volatility average (about the last 10 evaluations)


class MarketMakerConfig(StrategyConfig):
    """The product is maker-first: this runs by default with most of the bankroll."""

    enabled: bool = setting(True, "run this strategy", "true or false")
    budget_pct: float = setting(
        70.0, "share of the bankroll this strategy may commit, percent", "a number of percent, > 0 and <= 100",
        gt=0, le=100,
    )  # fmt: skip
    active_markets: int = setting(40, "markets quoted at once (the best ranked)", "an integer 1-2000", ge=1, le=2000)
    rerank_s: float = setting(60.0, "seconds between re-rankings of the watchlist", "seconds, 1-86400", ge=1, le=86400)
    base_half_spread_cents: float = setting(
        1.0, "half-spread before volatility and toxicity, cents", "cents, 0-50", ge=0, le=50
    )
    k_vol: float = setting(1.0, "half-spread added per unit of recent mid volatility", "a number 0-100", ge=0, le=100)
    k_tox_cents: float = setting(
        1.0, "half-spread added at full toxicity, cents", "cents, 0-50", ge=0, le=50
    )
    skew: float = setting(
        1.0, "half-spreads both quotes move at a full inventory cap", "a number 0-10", ge=0, le=10
    )
    quote_usdc: float = setting(5.0, "size of each quote, USDC", "USDC, > 0 and <= 1000000", gt=0, le=1_000_000)
    max_inventory_pct: float = setting(
        1.0, "most either token may be held per market, share of the bankroll, percent", "percent, > 0 and <= 100",
        gt=0, le=100,
    )  # fmt: skip
    quote_lifetime_s: int = setting(
        120, "GTD lifetime of each quote, seconds (the venue's 60 s buffer is added)", "seconds, 1-86400",
        ge=1, le=86400,
    )  # fmt: skip
    requote_size_share: float = setting(
        0.5, "requote when the target size moved by more than this share", "a share, > 0 and <= 1", gt=0, le=1
    )
    brain_weight: float = setting(
        0.0, "pull of the fair value toward the brain's estimate (0: the mid alone)", "a share 0-1", ge=0, le=1
    )
    max_resolution_risk: float = setting(
        0.35, "no quotes above this resolution risk score", "a score 0-1", ge=0, le=1
    )
    max_spread_cents: float = setting(10.0, "no quotes where the spread is wider, cents", "cents, > 0", gt=0, le=100)
    min_depth_usdc: float = setting(
        100.0, "no quotes where less is visible near the mid, USDC", "USDC >= 0", ge=0, le=1e12
    )
    max_book_age_live_s: float = setting(
        5.0, "live venue: no quotes on a book older than this, seconds", "seconds, > 0", gt=0, le=86400
    )
    max_book_age_s: float = setting(
        120.0, "paper and replay: no quotes on a book older than this, seconds", "seconds, > 0", gt=0, le=86400
    )
    min_time_to_close_s: float = setting(
        120.0, "no quotes this close to the market's close, seconds", "seconds >= 0", ge=0, le=31_536_000
    )
    mandate_lifetime_s: int = setting(
        3600, "lifetime of each market's quoting mandate, seconds", "seconds, 1-604800", ge=1, le=604800
    )
    mandate_band_cents: float = setting(
        20.0, "a mandate's price band: this far either side of the fair value when asked, cents",
        "cents, 1-50", ge=1, le=50,
    )  # fmt: skip
    mandate_retry_s: float = setting(
        300.0, "seconds before a market's mandate is asked again (after a rejection, expiry or observe mode)",
        "seconds, 1-86400", ge=1, le=86400,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Want:
    """One side's target order."""

    slot: str  # "bid" or "ask" (YES terms)
    outcome: Outcome
    side: Side
    price: int  # in the token's own terms
    size: int


@dataclass(slots=True)
class MakerLine:
    """What the operator sees about one market: where it ranks, why not, and the quote it would make."""

    score: float = 0.0
    active: bool = False
    veto: str = ""
    why: str = ""  # the first veto in full: its value, threshold and meaning
    inventory: int = 0  # net YES shares held (YES - NO), 1e-6
    skew: int = 0  # the inventory shift, 1e-4
    half: int = 0  # half-spread, 1e-4
    fair: int = 0
    bid: int = 0
    ask: int = 0
    markout: float | None = None
    decision: str = ""


class MarketMakerStrategy(Strategy):
    strategy_id = "market_maker"
    description = "two-sided post-only quotes with inventory skew in the best-ranked markets, under mandates"
    Config = MarketMakerConfig
    zone_as = "market_making"

    def __init__(self, config: StrategyConfig, *, brain: Brain | None, depth_band: int, requote_min_ticks: int):
        super().__init__(config)
        assert isinstance(config, MarketMakerConfig)
        self.cfg: MarketMakerConfig = config
        self.brain = brain
        self.depth_band = depth_band
        self.requote_min_ticks = requote_min_ticks
        self.limits = ScorerLimits(
            max_resolution_risk=config.max_resolution_risk,
            max_spread_cents=config.max_spread_cents,
            max_book_age_s=config.max_book_age_s,
            min_depth_usdc=config.min_depth_usdc,
            min_time_to_close_s=config.min_time_to_close_s,
        )
        self.next_rank_ms = 0
        self.ranked: dict[str, Quoteability] = {}
        self.active: frozenset[str] = frozenset()
        self.lines: dict[str, MakerLine] = {}
        self._vol: dict[str, tuple[int, float]] = {}  # market -> (last mid x2, mean squared change, cents^2)
        self._asked: dict[str, int] = {}  # market -> when its mandate was last asked (engine ms)
        self._risk: dict[str, tuple[int, ResolutionRisk]] = {}  # market -> (hour bucket, its score)

    @classmethod
    def create(cls, config: StrategyConfig, services: StrategyServices) -> MarketMakerStrategy:
        return cls(
            config,
            brain=services.brain,
            depth_band=services.limits.depth_band,
            requote_min_ticks=services.requote_min_ticks,
        )

    # --- ranking --------------------------------------------------------------------------------
    def resolution(self, market: Market, now: int) -> ResolutionRisk:
        """The market's resolution risk, recomputed when its hours to close change bucket."""
        hours = None if market.end_ts is None else max(0.0, (market.end_ts - now) / 3_600_000)
        bucket = -1 if hours is None else int(hours)
        cached = self._risk.get(market.condition_id)
        if cached is not None and cached[0] == bucket:
            return cached[1]
        risk = resolution_risk(
            question=market.question,
            rules=market.rules,
            resolution_source=market.resolution_source,
            neg_risk=market.neg_risk,
            outcome_labels=(market.yes_label, market.no_label),
            hours_to_close=hours,
            short_lived=market.short_lived,
        )
        self._risk[market.condition_id] = (bucket, risk)
        return risk

    def facts(self, ctx: StrategyContext, market: Market, now: int) -> MarketFacts:
        cid = market.condition_id
        book = ctx.book(cid)
        risk = self.resolution(market, now)
        vol = self._vol.get(cid)
        return MarketFacts(
            condition_id=cid,
            maker_allowed=ctx.maker_allowed(cid),
            phase=ctx.phase(cid),
            best_bid=book.best_bid,
            best_ask=book.best_ask,
            depth_usdc=book.depth_usdc(self.depth_band),
            book_age_s=ctx.book_age_s(cid),
            seconds_to_close=None if market.end_ts is None else (market.end_ts - now) / 1000,
            resolution_risk=risk.score,
            resolution_reason=risk.first_reason(),
            sigma_cents=0.0 if vol is None else math.sqrt(vol[1]),
            markout_cents=ctx.markout(cid),
            toxic=ctx.toxic(cid),
            reward_daily_usdc=0.0 if market.rewards is None else market.rewards.daily_rate,
        )

    def rerank(self, ctx: StrategyContext, now: int) -> None:
        limits = self.limits
        if ctx.live_venue():
            limits = replace(limits, max_book_age_s=self.cfg.max_book_age_live_s)
        ranked = rank((self.facts(ctx, m, now) for m in ctx.markets()), limits)
        self.ranked = {q.condition_id: q for q in ranked}
        self.active = active_set(ranked, self.cfg.active_markets)
        self.next_rank_ms = now + int(self.cfg.rerank_s * 1000)
        for q in ranked:
            line = self.lines.setdefault(q.condition_id, MakerLine())
            line.score, line.active, line.veto = q.score, q.condition_id in self.active, q.first_veto
            line.why = q.vetoes[0].text() if q.vetoes else ""

    def _track_vol(self, cid: str, x2: int | None) -> None:
        if x2 is None:
            return
        last = self._vol.get(cid)
        if last is None:
            self._vol[cid] = (x2, 0.0)
            return
        change_cents = (x2 - last[0]) / 2 / 100
        self._vol[cid] = (x2, (1 - VOL_ALPHA) * last[1] + VOL_ALPHA * change_cents * change_cents)

    # --- hooks ----------------------------------------------------------------------------------
    def on_book(self, ctx: StrategyContext, market: Market) -> Reply:
        cid = market.condition_id
        now = ctx.now_ms()
        book = ctx.book(cid)
        self._track_vol(cid, book.mid().x2)
        if now >= self.next_rank_ms:
            self.rerank(ctx, now)
        line = self.lines.setdefault(cid, MakerLine())
        blocked = ctx.tradable(cid)
        if blocked is not None:
            line.decision = blocked.decision
            pulls = [] if blocked.decision == "SKIP_BUSY" else withdraw(ctx, cid, blocked.decision)
            return Reply(actions=pulls, verdicts=[Verdict(cid, blocked.decision, blocked.reason, details=dict(blocked.details))])
        q = self.ranked.get(cid)
        if ctx.toxic(cid):
            return self._stand_aside(ctx, cid, line, "SKIP_TOXIC", "recent fills mark out below -0.2 cents")
        if q is None or not q.quotable:
            veto = q.vetoes[0] if q is not None else None
            code = "SKIP_NOT_RANKED" if veto is None else f"SKIP_{veto.code}"
            return self._stand_aside(ctx, cid, line, code, "" if veto is None else veto.text())
        if cid not in self.active:
            return self._stand_aside(ctx, cid, line, "SKIP_NOT_ACTIVE", f"ranked outside the top {self.cfg.active_markets}")
        plan = self._plan(ctx, market, now)
        if plan is None:
            return self._stand_aside(ctx, cid, line, "SKIP_NO_FAIR", "the book gives no fair value")
        two, size, cap, fair = plan
        mandate = ctx.mandate(cid)
        if mandate is None:
            asked = self._asked.get(cid)
            if asked is not None and now - asked < self.cfg.mandate_retry_s * 1000:
                return self._stand_aside(ctx, cid, line, "NO_MANDATE", "asked recently; waiting to ask again")
            self._asked[cid] = now
            line.decision = "ASK_MANDATE"
            request = self._mandate_request(ctx, market, two, size, cap, fair, q)
            return Reply(actions=[request], verdicts=[Verdict(cid, "ASK_MANDATE", request.rationale.summary)])
        if mandate.status != "ACTIVE":
            line.decision = "WAIT_MANDATE"
            return Reply(verdicts=[Verdict(cid, "WAIT_MANDATE", f"mandate {mandate.mandate_id} awaits the operator")])
        band = (mandate.request.band_low, mandate.request.band_high)
        return self._requote(ctx, market, two, size, fair, band, line)

    # --- quoting --------------------------------------------------------------------------------
    def _plan(self, ctx: StrategyContext, market: Market, now: int) -> tuple[TwoSided, int, int, int] | None:
        """(both quotes, size per side, inventory cap in shares, fair value) or None without a fair value."""
        cid = market.condition_id
        book = ctx.book(cid)
        x2 = book.mid().x2
        if x2 is None:
            return None
        tick = ctx.tick(cid)
        fair = x2 // 2
        if self.cfg.brain_weight > 0 and self.brain is not None:
            try:
                est = self.brain.estimate(BrainInput(market, book, now))
                fair = int(round((1 - self.cfg.brain_weight) * fair + self.cfg.brain_weight * est.p_hat * ONE))
            except NoEstimate:
                pass  # no estimate: the mid alone is the fair value (the verdict shows which)
        fair = max(tick, min(ONE - tick, fair))
        vol = self._vol.get(cid)
        sigma = 0.0 if vol is None else math.sqrt(vol[1]) * 100  # price units
        markout = ctx.markout(cid)
        toxicity = 0.0 if markout is None else max(0.0, min(1.0, -markout / 0.5))
        rich = max(fair, ONE - fair)  # the dearer token: what a share of inventory can cost at most
        bankroll = ctx.equity() * Decimal(100) / Decimal(str(self.config.budget_pct))
        cap_usdc = float(bankroll) * self.cfg.max_inventory_pct / 100
        cap = floor_size(int(cap_usdc / (rich / ONE) * 1_000_000))
        size = floor_size(int(self.cfg.quote_usdc / (rich / ONE) * 1_000_000))
        size = max(size, market.min_order_size)
        params = QuoteParams(
            base_half_spread=int(round(self.cfg.base_half_spread_cents * 100)),
            k_vol=self.cfg.k_vol,
            k_tox=self.cfg.k_tox_cents * 100,
            skew=self.cfg.skew,
            size=size,
            max_inventory=cap,
        )
        max_incentive = None if market.rewards is None else market.rewards.max_spread
        half = half_spread(params, sigma, toxicity, tick, max_incentive)
        yes_held = ctx.position(market.yes_token)
        no_held = ctx.position(market.no_token)
        two = quote(fair, yes_held - no_held, params, tick, half)
        # Post-only must not cross: stay a tick off the other side's best.
        bid, ask = two.bid, two.ask
        if book.best_ask is not None:
            bid = min(bid, book.best_ask - tick)
        if book.best_bid is not None:
            ask = max(ask, book.best_bid + tick)
        if bid != two.bid or ask != two.ask:
            two = TwoSided(max(tick, bid), two.bid_size, min(ONE - tick, ask), two.ask_size, two.half_spread, two.shift)
        return two, size, cap, fair

    def _wants(self, ctx: StrategyContext, market: Market, two: TwoSided, band: tuple[int, int]) -> list[Want]:
        """Each side's order in the form the balance allows, at least the minimum; buys inside the mandate's
        band only."""
        smallest = market.min_order_size
        yes_held = ctx.position(market.yes_token)
        no_held = ctx.position(market.no_token)
        out: list[Want] = []
        low, high = band
        # A sell of what is held works inventory off, so it is wanted even outside the band: the engine turns
        # a quote outside the mandate into a proposal for the operator (auto: approved at once).
        if two.bid_size > 0:
            if no_held >= smallest:
                out.append(Want("bid", Outcome.NO, Side.SELL, ONE - two.bid, min(no_held, two.bid_size)))
            elif two.bid_size >= smallest and low <= two.bid <= high:
                out.append(Want("bid", Outcome.YES, Side.BUY, two.bid, two.bid_size))
        if two.ask_size > 0:
            if yes_held >= smallest:
                out.append(Want("ask", Outcome.YES, Side.SELL, two.ask, min(yes_held, two.ask_size)))
            elif two.ask_size >= smallest and low <= two.ask <= high:
                out.append(Want("ask", Outcome.NO, Side.BUY, ONE - two.ask, two.ask_size))
        return out

    def _keeps(self, order: OrderView, want: Want, tick: int, ratchet: float) -> bool:
        """The resting order is close enough to the target: same form, within the price debounce, and its
        size within the size debounce of the target as the risk pipeline will send it (the size ratchet near
        the close cuts every new order, so the target is compared after that cut)."""
        if (order.outcome, order.side) != (want.outcome, want.side):
            return False
        if abs(order.price - want.price) > self.requote_min_ticks * tick:
            return False
        target = floor_size(int(want.size * ratchet))
        left = order.size - order.filled
        return abs(left - target) <= self.cfg.requote_size_share * target

    def _requote(
        self,
        ctx: StrategyContext,
        market: Market,
        two: TwoSided,
        size: int,
        fair: int,
        band: tuple[int, int],
        line: MakerLine,
    ) -> Reply:
        cid = market.condition_id
        tick = ctx.tick(cid)
        wants = {w.slot: w for w in self._wants(ctx, market, two, band)}
        resting: dict[str, list[OrderView]] = {"bid": [], "ask": []}
        for o in ctx.orders(cid):
            if o.resting:
                resting[_slot(o)].append(o)
        reply = Reply()
        numbers = self._numbers(ctx, market, two, fair)
        line.inventory, line.skew, line.half, line.fair = numbers["net_yes"], two.shift, two.half_spread, fair
        line.bid, line.ask, line.markout = two.bid, two.ask, ctx.markout(cid)
        placed = 0
        ratchet = ctx.size_multiplier(cid)
        for slot in ("bid", "ask"):
            want = wants.get(slot)
            orders = resting[slot]
            if want is not None and len(orders) == 1 and self._keeps(orders[0], want, tick, ratchet):
                continue
            reply.actions.extend(Cancel(o.client_order_id, f"requote {slot}") for o in orders)
            if want is None or (orders and want.side is Side.SELL):
                # A sell waits for the cancel of the order it replaces: until the venue confirms it, those
                # shares are still offered, and selling them twice is refused.
                continue
            leg = Leg(cid, want.outcome, want.side, want.price, want.size, OrderType.GTD, True, self.cfg.quote_lifetime_s)
            label = market.label(want.outcome)
            summary = f"quote {slot}: {want.side.value} {label} @ {px_to_str(want.price)} x {qty_to_str(want.size)}"
            token_fair = fair if want.outcome is Outcome.YES else ONE - fair
            rationale = Rationale(summary, q_cons=token_fair / ONE, binding_cap="", numbers=numbers)
            reply.actions.append(Intent(self.strategy_id, (leg,), rationale, IntentKind.QUOTE))
            reply.verdicts.append(Verdict(cid, "PROPOSE", summary, details=numbers))
            placed += 1
        if placed == 0:
            decision = "HOLD" if any(resting.values()) or wants else "NO_QUOTE"
            why = "quotes still on target" if decision == "HOLD" else "no side to quote inside the band and caps"
            reply.verdicts.append(Verdict(cid, decision, why, details=numbers))
            line.decision = decision
        else:
            line.decision = "REQUOTE"
        return reply

    def _numbers(self, ctx: StrategyContext, market: Market, two: TwoSided, fair: int) -> dict[str, Any]:
        q = self.ranked.get(market.condition_id)
        return {
            "fair": fair / ONE,
            "bid": two.bid / ONE,
            "ask": two.ask / ONE,
            "half_spread_cents": two.half_spread / 100,
            "skew_cents": two.shift / 100,
            "net_yes": ctx.position(market.yes_token) - ctx.position(market.no_token),
            "score": None if q is None else round(q.score, 4),
            "markout_cents": ctx.markout(market.condition_id),
        }

    def _mandate_request(
        self,
        ctx: StrategyContext,
        market: Market,
        two: TwoSided,
        size: int,
        cap: int,
        fair: int,
        q: Quoteability,
    ) -> MandateRequest:
        cid = market.condition_id
        tick = ctx.tick(cid)
        reach = int(round(self.cfg.mandate_band_cents * 100))
        low = max(tick, (fair - reach) // tick * tick)
        high = min(ONE - tick, -((-(fair + reach)) // tick) * tick)
        risk = self.resolution(market, ctx.now_ms())
        summary = (
            f"score {q.score:.2f}, resolution risk {risk.score:.2f}: quote {px_to_str(two.bid)} / {px_to_str(two.ask)}"
            f" around {px_to_str(fair)}, {qty_to_str(size)} a side, hold <= {qty_to_str(cap)}"
        )
        numbers = self._numbers(ctx, market, two, fair)
        numbers["resolution_risk"] = round(risk.score, 3)
        numbers["rewards_daily_usdc"] = 0.0 if market.rewards is None else market.rewards.daily_rate
        return MandateRequest(
            strategy_id=self.strategy_id,
            condition_id=cid,
            sides=ALL_SIDES,
            max_order_size=2 * size,
            max_inventory=cap + cap // 2,  # room for a fill or two past the cap while a requote is in flight
            band_low=low,
            band_high=high,
            lifetime_s=self.cfg.mandate_lifetime_s,
            rationale=Rationale(summary, q_cons=fair / ONE, numbers=numbers),
        )

    def _stand_aside(self, ctx: StrategyContext, cid: str, line: MakerLine, code: str, why: str) -> Reply:
        market = ctx.market(cid)
        line.decision, line.why = code, why or line.why
        line.inventory = ctx.position(market.yes_token) - ctx.position(market.no_token)
        line.markout = ctx.markout(cid)
        return Reply(actions=withdraw(ctx, cid, code), verdicts=[Verdict(cid, code, why)])


    def market_note(self, condition_id: str) -> MarketNote | None:
        line = self.lines.get(condition_id)
        if line is None:
            return None
        score = f"{line.score:.2f}".removeprefix("0")
        cell = f"ON {score}" if line.active else f"{score} {line.veto or 'RANK'}"
        markout = "-" if line.markout is None else f"{line.markout:+.2f}c"
        head = f"maker {line.decision or '-'}: inv {line.inventory / 1e6:+g} YES"
        if line.decision in QUOTING and line.fair:
            text = (
                f"{head}, skew {line.skew / 100:+.1f}c, half {line.half / 100:.1f}c, fair {px_to_str(line.fair)},"
                f" bid {px_to_str(line.bid)} / ask {px_to_str(line.ask)}, markout 2m {markout}"
            )
        else:  # standing aside: why, not the last quote's numbers
            text = f"{head}, score {line.score:.2f}, {line.why or 'not quoting'}, markout 2m {markout}"
        return MarketNote(cell, text)


def _slot(order: OrderView) -> str:
    """A YES bid or a NO ask sits on the bid side in YES terms; a YES ask or a NO bid on the ask side."""
    bid = (order.outcome is Outcome.YES) == (order.side is Side.BUY)
    return "bid" if bid else "ask"

