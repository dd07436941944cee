"""Market state machine and price zones (`engine/risk/market_state.py`): every phase boundary and every
zone boundary on both sides, the actions allowed in each phase, the size ratchet and the strategy rules."""

from types import SimpleNamespace

import pytest

from engine.book import OrderBook
from engine.config import Settings
from engine.domain import Market, OrderRequest, OrderType, Outcome, Side
from engine.execution.firewall import Firewall, FirewallLimits
from engine.risk.market_state import (
    ALLOWED,
    DEFAULT_ZONES,
    HOUR_MS,
    Allowed,
    MarketStateLimits,
    MarketStates,
    Phase,
    PhaseChange,
    Zone,
    ZonePolicy,
)

END = 1_800_000_000_000
H = HOUR_MS


def states(**kw) -> MarketStates:
    s = MarketStates(MarketStateLimits(**kw))
    s.add("m", END)
    return s


@pytest.mark.parametrize(
    ("now", "phase"),
    [
        (END - 72 * H - 1, Phase.NORMAL),
        (END - 72 * H, Phase.WATCH),
        (END - 24 * H - 1, Phase.WATCH),
        (END - 24 * H, Phase.CLOSE_WINDOW),
        (END - 1, Phase.CLOSE_WINDOW),
        (END, Phase.CLOSED),
        (END + 2 * H - 1, Phase.CLOSED),
        (END + 2 * H, Phase.RESOLVING),
    ],
)
def test_phase_boundaries(now: int, phase: Phase) -> None:
    assert states().phase("m", now) is phase


def test_update_reports_each_step_once_with_its_cause() -> None:
    s = states()
    assert s.update(END - 100 * H) == []
    assert s.update(END - 72 * H) == [PhaseChange("m", Phase.NORMAL, Phase.WATCH, END - 72 * H, "clock")]
    assert s.update(END - 72 * H + 1) == []
    assert s.update(END - 1) == [PhaseChange("m", Phase.WATCH, Phase.CLOSE_WINDOW, END - 1, "clock")]
    assert s.update(END + 5 * H) == [
        PhaseChange("m", Phase.CLOSE_WINDOW, Phase.RESOLVING, END + 5 * H, "clock")
    ]
    assert s.on_resolved("m", END + 6 * H) == [
        PhaseChange("m", Phase.RESOLVING, Phase.RESOLVED, END + 6 * H, "resolved")
    ]
    assert s.update(END + 10 * H) == []


def test_venue_events_move_a_market_ahead_of_its_clock_and_nothing_moves_it_back() -> None:
    s = states()
    assert s.on_closed("m", END - 30 * H) == [
        PhaseChange("m", Phase.NORMAL, Phase.CLOSED, END - 30 * H, "closed")
    ]
    assert s.phase("m", END - 100 * H) is Phase.CLOSED  # an earlier time does not reopen it
    # The expected proposal now counts from the actual close.
    assert s.phase("m", END - 28 * H - 1) is Phase.CLOSED
    assert s.phase("m", END - 28 * H) is Phase.RESOLVING
    s2 = states()
    assert s2.on_proposal("m", END + H)[0].new is Phase.RESOLVING
    assert s2.on_resolved("m", END + 2 * H)[0].new is Phase.RESOLVED
    assert s2.on_closed("m", END + 3 * H) == []


def test_three_clocks() -> None:
    s = states(proposal_delay_ms=3 * H, dispute_window_ms=2 * H)
    c = s.clocks("m", END - H)
    assert (c.time_to_close_ms, c.time_to_proposal_ms, c.dispute_ends_ts, c.dispute_left_ms) == (
        H,
        4 * H,
        END + 5 * H,
        6 * H,
    )
    s.on_proposal("m", END + H)
    c = s.clocks("m", END + 2 * H)
    assert (c.time_to_close_ms, c.time_to_proposal_ms, c.dispute_ends_ts, c.dispute_left_ms) == (
        -2 * H,
        -H,
        END + 3 * H,
        H,
    )
    assert s.clocks("m", END + 10 * H).dispute_left_ms == 0
    s.add("p", END, proposal_ts=END + 30 * H)
    assert s.clocks("p", END).time_to_proposal_ms == 30 * H
    assert s.phase("p", END + 30 * H - 1) is Phase.CLOSED and s.phase("p", END + 30 * H) is Phase.RESOLVING


def test_market_without_a_close_time_stays_normal_until_told() -> None:
    s = MarketStates()
    s.add_market(Market(condition_id="x", question="q", slug="s", yes_token="1", no_token="2"))
    assert s.phase("x", END * 2) is Phase.NORMAL and s.size_multiplier("x", END) == 1.0
    c = s.clocks("x", END)
    assert (c.time_to_close_ms, c.time_to_proposal_ms, c.dispute_ends_ts) == (None, None, None)
    assert s.check("x", END, maker=True, reduces=False) is None
    s.on_closed("x", END)
    assert s.phase("x", END) is Phase.CLOSED
    assert s.check("x", END, maker=False, reduces=True).value == -1.0


def test_allowed_actions_table() -> None:
    assert ALLOWED[Phase.NORMAL] == ALLOWED[Phase.WATCH] == Allowed(True, True, True, True, False)
    assert ALLOWED[Phase.CLOSE_WINDOW] == Allowed(True, False, True, True, False)
    assert ALLOWED[Phase.CLOSED] == ALLOWED[Phase.RESOLVING] == Allowed(False, False, False, True, False)
    assert ALLOWED[Phase.RESOLVED] == Allowed(False, False, False, True, True)
    assert states().allowed("m", END - 24 * H) == ALLOWED[Phase.CLOSE_WINDOW]


@pytest.mark.parametrize(("now", "ok"), [(END - 24 * H - 1, True), (END - 24 * H, False)])
def test_no_new_maker_quotes_in_close_window(now: int, ok: bool) -> None:
    s = states()
    block = s.check("m", now, maker=True, reduces=False)
    assert (block is None) is ok
    if not ok:
        assert block.code == "MARKET_CLOSE_WINDOW" and (block.value, block.threshold) == (24 * H, 24 * H)
    assert s.check("m", now, maker=False, reduces=False) is None  # takers still may
    assert s.check("m", now, maker=True, reduces=True) is None  # and exits


@pytest.mark.parametrize(("now", "ok"), [(END - 1, True), (END, False)])
def test_nothing_after_close(now: int, ok: bool) -> None:
    s = states()
    # (A maker quote one ms before close is already refused by the close window.)
    for maker, reduces in (
        ((False, False), (False, True)) if ok else ((False, False), (True, False), (False, True))
    ):
        block = s.check("m", now, maker=maker, reduces=reduces)
        assert (block is None) is ok
        if not ok:
            assert block.code == "MARKET_CLOSED"


def test_resolving_and_resolved_refuse_orders() -> None:
    s = states()
    s.on_proposal("m", END)
    assert s.check("m", END, maker=False, reduces=True).code == "MARKET_RESOLVING"
    s.on_resolved("m", END)
    assert s.check("m", END, maker=False, reduces=False).code == "MARKET_RESOLVED"
    assert s.allowed("m", END).redeem


@pytest.mark.parametrize(
    ("left", "mult"),
    [
        (72 * H + 1, 1.0),
        (72 * H, 0.75),
        (24 * H + 1, 0.75),
        (24 * H, 0.5),
        (6 * H + 1, 0.5),
        (6 * H, 0.25),
        (1, 0.25),
        (0, 0.0),
    ],
)
def test_size_ratchet_as_close_nears(left: int, mult: float) -> None:
    assert states().size_multiplier("m", END - left) == mult


@pytest.mark.parametrize(("left", "blocked"), [(H + 1, False), (H, True)])
def test_a_zero_ratchet_step_blocks_new_risk_but_not_exits(left: int, blocked: bool) -> None:
    s = states(ratchet=((24 * H, 0.5), (H, 0.0)))
    block = s.check("m", END - left, maker=False, reduces=False)
    assert (block is not None) is blocked
    if blocked:
        assert block.code == "SIZE_RATCHET"
    assert s.check("m", END - left, maker=False, reduces=True) is None


def test_unknown_market_is_refused() -> None:
    assert MarketStates().check("nope", END, maker=False, reduces=True).code == "MARKET_UNKNOWN"


def test_market_state_guard_in_the_firewall() -> None:
    s = states()
    market = Market(condition_id="m", question="q", slug="s", yes_token="Y", no_token="N")
    book = OrderBook()
    now = END - 2 * H
    book.replace([(4900, 100_000_000)], [(5100, 100_000_000)], now)
    fw = Firewall(FirewallLimits(), guards=[s.guard(lambda r: r.side is Side.SELL)])
    quote = OrderRequest("q1", "m", "Y", Outcome.YES, Side.BUY, 4800, 10_000_000, OrderType.GTC)
    take = OrderRequest("t1", "m", "Y", Outcome.YES, Side.BUY, 5100, 10_000_000, OrderType.FAK)
    exit_ = OrderRequest("x1", "m", "Y", Outcome.YES, Side.SELL, 5200, 10_000_000, OrderType.GTC)
    v = fw.check(quote, market=market, tick=100, book=book, now=now)
    assert not v.ok and v.code == "MARKET_CLOSE_WINDOW"
    assert fw.check(take, market=market, tick=100, book=book, now=now).ok
    assert fw.check(exit_, market=market, tick=100, book=book, now=now).ok


# --- price zones -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "zone"),
    [
        (499, None),
        (500, "zone_1"),
        (1999, "zone_1"),
        (2000, "zone_2"),
        (3999, "zone_2"),
        (4000, "zone_3"),
        (5999, "zone_3"),
        (6000, "zone_4"),
        (7999, "zone_4"),
        (8000, "zone_5"),
        (9800, "zone_5"),
        (9801, None),
    ],
)
def test_zone_boundaries(price: int, zone: str | None) -> None:
    z = ZonePolicy().zone(price)
    assert (z.name if z else None) == zone


@pytest.mark.parametrize(
    ("price", "strategy", "code"),
    [
        (1000, "tail_risk", None),
        (1000, "news_scalping", "ZONE_STRATEGY"),
        (3000, "value_betting", None),
        (3000, "contrarian", "ZONE_STRATEGY"),
        (5000, "market_making", None),
        (5999, "arbitrage", None),
        (6000, "value_betting", "ZONE_DIRECTIONAL_PROHIBITED"),
        (6000, "market_making", None),
        (7999, "tail_risk", "ZONE_DIRECTIONAL_PROHIBITED"),
        (8000, "internal_arbitrage", None),
        (9800, "value_betting", "ZONE_DIRECTIONAL_PROHIBITED"),
        (9800, "market_making", "ZONE_STRATEGY"),
        (499, "value_betting", "ZONE_OUTSIDE"),
        (9801, "internal_arbitrage", "ZONE_OUTSIDE"),
    ],
)
def test_strategies_allowed_per_zone(price: int, strategy: str, code: str | None) -> None:
    block = ZonePolicy().check(price, strategy, prob=0.99)
    assert (None if block is None else block.code) == code


@pytest.mark.parametrize(("prob", "ok"), [(0.52, False), (0.5201, True), (None, False)])
def test_directional_bets_in_zone_3_need_probability_above_052(prob: float | None, ok: bool) -> None:
    block = ZonePolicy().check(5000, "value_betting", prob=prob)
    assert (block is None) is ok
    if not ok:
        assert block.code == "ZONE_MIN_PROB" and block.threshold == 0.52
    assert ZonePolicy().check(5000, "market_making", prob=None) is None


def test_directional_prohibition_wins_over_a_configured_strategy_list() -> None:
    zones = [Zone("top", 6000, 9800, frozenset({"value_betting"}), directional=False)]
    assert ZonePolicy(zones).check(7000, "value_betting").code == "ZONE_DIRECTIONAL_PROHIBITED"


def test_zones_from_config_and_outside_strategies() -> None:
    table = {
        "low": {"low": 0.01, "high": 0.5, "strategies": ["value_betting"]},
        "high": {"low": 0.5, "high": 0.99, "strategies": ["market_making"], "directional": False},
    }
    policy = ZonePolicy.from_config(table, outside=["arbitrage"])
    assert [(z.name, z.low, z.high) for z in policy.zones] == [("low", 100, 5000), ("high", 5000, 9900)]
    assert policy.check(4999, "value_betting") is None
    assert policy.check(5000, "value_betting").code == "ZONE_DIRECTIONAL_PROHIBITED"
    assert policy.check(50, "arbitrage") is None and policy.check(50, "value_betting").code == "ZONE_OUTSIDE"


def test_overlapping_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ZonePolicy([Zone("a", 100, 5000, frozenset()), Zone("b", 4900, 6000, frozenset())])


def test_default_zones_follow_the_seed_table() -> None:
    assert [(z.low, z.high, z.directional) for z in DEFAULT_ZONES] == [
        (500, 2000, True),
        (2000, 4000, True),
        (4000, 6000, True),
        (6000, 8000, False),
        (8000, 9800, False),
    ]


def test_limits_from_settings() -> None:
    assert MarketStateLimits.from_settings(Settings()) == MarketStateLimits()
    section = SimpleNamespace(
        watch_h=48,
        close_window_h=0.25,
        ratchet=[[1, 0.5], [0.1, 0.0]],
        proposal_delay_h=1,
        dispute_window_h=24,
        short_close_window_s=90,
        short_ratchet=[[30, 0.2]],
    )
    lim = MarketStateLimits.from_settings(SimpleNamespace(market_state=section))
    assert lim == MarketStateLimits(
        48 * H, H // 4, ((H, 0.5), (H // 10, 0.0)), H, 24 * H, 90_000, ((30_000, 0.2),)
    )


# --- short-lived markets (15-minute up/down): a 60 s close window, no WATCH, their own ratchet -------------

START = END - 15 * 60_000


def short_states(**kw) -> MarketStates:
    s = MarketStates(MarketStateLimits(**kw))
    s.add_market(Market("m", "q", "s", "y", "n", start_ts=START, end_ts=END))
    return s


@pytest.mark.parametrize(
    ("now", "phase", "mult"),
    [
        (START, Phase.NORMAL, 1.0),
        (END - 60_001, Phase.NORMAL, 1.0),
        (END - 60_000, Phase.CLOSE_WINDOW, 0.5),
        (END - 1, Phase.CLOSE_WINDOW, 0.5),
        (END, Phase.CLOSED, 0.0),
    ],
)
def test_short_market_phases_and_ratchet(now: int, phase: Phase, mult: float) -> None:
    s = short_states()
    assert s.is_short("m")
    assert s.phase("m", now) is phase
    assert s.size_multiplier("m", now) == mult


def test_short_market_close_window_refuses_maker_quotes_with_its_own_threshold() -> None:
    s = short_states()
    assert s.check("m", END - 60_001, maker=True, reduces=False) is None
    block = s.check("m", END - 60_000, maker=True, reduces=False)
    assert block is not None and block.code == "MARKET_CLOSE_WINDOW" and block.threshold == 60_000
    assert s.check("m", END - 60_000, maker=False, reduces=False) is None  # takers still go


def test_a_market_is_short_only_when_its_whole_life_is_under_the_watch_threshold() -> None:
    s = MarketStates()
    s.add_market(Market("long", "q", "s", "y", "n", start_ts=END - 72 * H, end_ts=END))
    s.add_market(Market("short", "q", "s", "y2", "n2", start_ts=END - 72 * H + 1, end_ts=END))
    s.add_market(Market("unknown", "q", "s", "y3", "n3", end_ts=END))  # no start: the day-scale clocks
    assert [s.is_short(c) for c in ("long", "short", "unknown")] == [False, True, False]
    assert s.phase("long", END - 30 * H) is Phase.WATCH and s.phase("unknown", END - 30 * H) is Phase.WATCH
    assert s.phase("short", END - 30 * H) is Phase.NORMAL


def test_zone_policy_from_settings_is_the_default_table() -> None:
    policy = ZonePolicy.from_settings(Settings())
    assert [
        (z.name, z.low, z.high, z.strategies, z.directional, z.min_directional_prob) for z in policy.zones
    ] == [(z.name, z.low, z.high, z.strategies, z.directional, z.min_directional_prob) for z in DEFAULT_ZONES]
