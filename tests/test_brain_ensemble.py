"""The ensemble's maths by hand, its members declining, and the value strategy's `brains` setting."""

from __future__ import annotations

import math

import pytest

from engine.brains.base import BrainInput, NoEstimate
from engine.brains.ensemble import EnsembleBrain, combine, logistic, logit
from engine.brains.microprice import MicropriceBrain
from engine.brains.registry import build_brain
from engine.config import ConfigError, load_settings
from engine.domain import Estimate

Z = 1.6448536269514722


class Fixed:
    def __init__(self, name: str, p: float, low: float, high: float) -> None:
        self.name, self.est = name, Estimate(name, p, low, high)

    def estimate(self, data: BrainInput) -> Estimate:
        return self.est


class Declines:
    name = "shy"

    def estimate(self, data: BrainInput) -> Estimate:
        raise NoEstimate("NO_BOOK", "empty")


DATA = BrainInput(market=None, book=None, now_ms=0)  # type: ignore[arg-type]  # the fixed members read nothing


def test_weighted_mean_in_log_odds_and_band_from_own_width_and_disagreement() -> None:
    a, b = Estimate("a", 0.6, 0.5, 0.7), Estimate("b", 0.8, 0.75, 0.85)
    p, low, high, spread = combine([(a, 3.0), (b, 1.0)])
    mean = (3 * logit(0.6) + logit(0.8)) / 4
    sd = math.sqrt((3 * (logit(0.6) - mean) ** 2 + (logit(0.8) - mean) ** 2) / 4)
    own = (3 * (logit(0.7) - logit(0.5)) / 2 + (logit(0.85) - logit(0.75)) / 2) / 4
    half = math.sqrt(own**2 + (Z * sd) ** 2)
    assert p == pytest.approx(logistic(mean)) and spread == pytest.approx(sd)
    assert (low, high) == (pytest.approx(logistic(mean - half)), pytest.approx(logistic(mean + half)))
    assert low < p < high


def test_agreeing_members_keep_their_own_band() -> None:
    e = Estimate("a", 0.3, 0.25, 0.35)
    p, low, high, spread = combine([(e, 1.0), (Estimate("b", 0.3, 0.25, 0.35), 2.0)])
    assert spread == pytest.approx(0.0) and p == pytest.approx(0.3)
    assert low == pytest.approx(logistic(logit(0.3) - (logit(0.35) - logit(0.25)) / 2))


def test_disagreement_widens_the_band() -> None:
    calm = combine([(Estimate("a", 0.5, 0.45, 0.55), 1.0), (Estimate("b", 0.5, 0.45, 0.55), 1.0)])
    torn = combine([(Estimate("a", 0.3, 0.25, 0.35), 1.0), (Estimate("b", 0.7, 0.65, 0.75), 1.0)])
    assert torn[2] - torn[1] > calm[2] - calm[1]


def test_a_declining_member_is_left_out_and_all_declining_is_no_estimate() -> None:
    brain = EnsembleBrain([(Fixed("a", 0.6, 0.5, 0.7), 1.0), (Declines(), 5.0)])
    est = brain.estimate(DATA)
    assert est.brain == "ensemble" and est.p_hat == pytest.approx(0.6)
    assert est.features["declined"] == 1.0 and est.features["a.p"] == 0.6
    with pytest.raises(NoEstimate) as err:
        EnsembleBrain([(Declines(), 1.0)]).estimate(DATA)
    assert err.value.code == "NO_MEMBER" and "shy:NO_BOOK" in err.value.detail


def test_weights_must_be_positive() -> None:
    with pytest.raises(ValueError, match="accepted: numbers > 0"):
        EnsembleBrain([(Fixed("a", 0.6, 0.5, 0.7), 0.0)])


def test_one_name_builds_that_brain_several_an_ensemble() -> None:
    assert isinstance(build_brain(["microprice"]), MicropriceBrain)
    with pytest.raises(ValueError, match="BIGEARN_LLM_URL"):
        build_brain(["llm"], env={})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"strategies.value.brains": ["oracle"]}, "accepted: distinct names among microprice"),
        ({"strategies.value.brains": ["microprice", "microprice"]}, "accepted: distinct names"),
        ({"strategies.value.brains": ["microprice"], "strategies.value.brain_weights": [1.0, 2.0]},
         "accepted: [] or 1 numbers > 0"),
    ],
)
def test_the_brains_setting_names_what_is_accepted(value: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, overrides=value, env={})
    assert message in str(err.value)


def test_background_brains_are_found_in_an_ensemble() -> None:
    from engine.brains.llm import LlmBrain, LlmSettings
    from engine.brains.registry import brains_with_loops

    llm = LlmBrain(LlmSettings(url="http://127.0.0.1:9/v1", model="m"))
    plain = Fixed("a", 0.6, 0.5, 0.7)
    assert brains_with_loops(EnsembleBrain([(plain, 1.0), (llm, 1.0)])) == [llm]
    assert brains_with_loops(llm) == [llm] and brains_with_loops(plain) == []


def test_calibration_summary_by_hand() -> None:
    from engine.analytics.calibration import Calibration

    c = Calibration()
    c.record("A", 0.8, 0.7)
    c.record("B", 0.3, 0.4)
    assert c.resolve("A", 1.0) == 1 and c.resolve("B", 0.0) == 1
    s = c.summary()
    assert s["n"] == 2
    assert s["brier"] == pytest.approx((0.2**2 + 0.3**2) / 2) and s["brier_market"] == pytest.approx(0.125)
    assert s["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2, abs=1e-6)
    assert s["log_loss_market"] == pytest.approx(-(math.log(0.7) + math.log(0.6)) / 2, abs=1e-6)
    assert [(x["predicted"], x["observed"], x["count"]) for x in s["reliability"]] == [(0.3, 0.0, 1), (0.8, 1.0, 1)]


def test_the_config_loader_leaves_exactly_the_llm_brains_variables_alone() -> None:
    from engine.brains.llm import LLM_ENV_VARS
    from engine.config import BRAIN_ENV_VARS

    assert BRAIN_ENV_VARS == LLM_ENV_VARS


def test_a_strategy_sees_the_mids_of_its_markets_event() -> None:
    import types

    from engine.book import OrderBook
    from engine.domain import Market
    from engine.engine import Engine
    from engine.strategy_context import EngineContext

    def state(cid: str, event: str, bid: int | None, ask: int | None) -> types.SimpleNamespace:
        book = OrderBook()
        book.replace([(bid, 10_000_000)] if bid else [], [(ask, 10_000_000)] if ask else [], 0)
        market = Market(cid, f"q {cid}", f"s-{cid}", f"{cid}y", f"{cid}n", event_id=event)
        return types.SimpleNamespace(market=market, book=book)

    stub = types.SimpleNamespace(
        markets={"A": state("A", "E", 2000, 2200), "B": state("B", "E", 5000, 5200), "C": state("C", "E", None, None),
                 "D": state("D", "F", 3000, 3200), "S": state("S", "", 1000, 1200)},
        _event_index=(-1, {}),
    )  # fmt: skip
    stub.event_index = types.MethodType(Engine.event_index, stub)
    ctx = EngineContext(stub, "value")  # type: ignore[arg-type]
    assert ctx.event_mids("A") == pytest.approx((0.51,))  # B has a mid; C has none; D is another event
    assert ctx.event_mids("S") == ()  # no event
