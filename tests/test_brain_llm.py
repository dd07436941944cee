"""The llm brain against a fake chat-completions server on loopback: what it sends, what a good answer
becomes, every bad answer refused (own reason code, logged with the slug, nothing cached, backed off), the
hourly budget, the cache TTL and the failure backoff on an injected clock, and the key never shown.

No test waits on luck: the clock is a variable the test moves; the one real wait is the timeout case
(brain timeout 0.2 s, server delay 2 s, released when the server closes).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from engine.book import OrderBook
from engine.brains.base import BrainInput, NoEstimate
from engine.brains.llm import (
    BAD_JSON,
    BAND,
    BUDGET,
    CONNECT,
    ENV_API_KEY,
    ENV_MODEL,
    ENV_URL,
    LLM_ENV_VARS,
    NO_CONTENT,
    NOT_JSON,
    PENDING,
    RANGE,
    REFUSAL,
    SCHEMA,
    TIMEOUT,
    TOO_LARGE,
    TRUNCATED,
    LlmBrain,
    LlmSettings,
)
from engine.domain import Market
from tests.fake_llm import FakeLlm, Reply, answer, completion, good, http_error, raw, slow

KEY = "sk-test-" + "7f3a9c" * 6
T0 = 1_780_000_000.0  # 2026-05-28 UTC
END_MS = 1_798_675_200_000  # 2026-12-31 00:00 UTC


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [getattr(r, "fields", {}) for r in self.records if r.getMessage() == name]

    def everything(self) -> str:
        return "\n".join(f"{r.getMessage()} {getattr(r, 'fields', {})} {r.__dict__}" for r in self.records)


def capture() -> tuple[logging.Logger, Records]:
    logger = logging.getLogger(f"bigearn.test_llm.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = Records()
    logger.addHandler(handler)
    return logger, handler


def market(k: int = 1, **kw: Any) -> Market:
    values: dict[str, Any] = {
        "condition_id": "0x" + f"{k:02x}" * 32,
        "question": f"Will the test event number {k} happen by the end of 2026?",
        "slug": f"test-event-{k}",
        "yes_token": f"{k}1",
        "no_token": f"{k}2",
        "category": "science",
        "end_ts": END_MS,
    }
    values.update(kw)
    return Market(**values)


def data(m: Market) -> BrainInput:
    return BrainInput(m, OrderBook(), int(T0 * 1000))


def settings(url: str, **kw: Any) -> LlmSettings:
    kw.setdefault("api_key", KEY)
    kw.setdefault("timeout_s", 5.0)
    return LlmSettings(url=url, model="fake-model-1", **kw)


def code_of(brain: LlmBrain, m: Market) -> str:
    with pytest.raises(NoEstimate) as info:
        brain.estimate(data(m))
    return info.value.code


class Harnessed(LlmBrain):
    """The brain with the test's HTTP session at hand."""

    session: aiohttp.ClientSession | None = None

    async def refresh_now(self) -> int:
        return await self.refresh(self.session)


Scenario = Callable[[FakeLlm, Harnessed, Clock, Records], Awaitable[None]]


def with_fake(scenario: Scenario, **settings_kw: Any) -> None:
    async def main() -> None:
        async with FakeLlm() as fake, aiohttp.ClientSession() as session:
            clock = Clock()
            logger, records = capture()
            brain = Harnessed(settings(fake.base_url, **settings_kw), now=clock, logger=logger)
            brain.session = session
            await scenario(fake, brain, clock, records)
            assert fake.unscripted == 0, "the brain made a call the test did not script"

    asyncio.run(main())


# --- settings ------------------------------------------------------------------------------------------


def test_from_env_is_off_without_url_and_model() -> None:
    assert LlmSettings.from_env({}) is None
    assert LlmSettings.from_env({ENV_URL: "https://llm.example/v1"}) is None
    assert LlmSettings.from_env({ENV_MODEL: "gpt-x", ENV_API_KEY: KEY}) is None
    assert LlmSettings.from_env({ENV_URL: "  ", ENV_MODEL: "gpt-x"}) is None
    assert sorted(LLM_ENV_VARS) == sorted([ENV_URL, ENV_MODEL, ENV_API_KEY])


def test_from_env_reads_the_three_variables_and_never_shows_the_key() -> None:
    s = LlmSettings.from_env({ENV_URL: "https://llm.example/v1/", ENV_MODEL: "gpt-x", ENV_API_KEY: KEY})
    assert s is not None
    assert (s.url, s.model, s.api_key) == ("https://llm.example/v1/", "gpt-x", KEY)
    assert s.endpoint == "https://llm.example/v1/chat/completions"
    assert (s.timeout_s, s.calls_per_hour, s.cache_ttl_s) == (20.0, 60, 3600.0)
    brain = LlmBrain(s)
    for shown in (repr(s), str(s), f"{s}", repr(brain), str(brain)):
        assert KEY not in shown
        assert "<set>" in shown
    no_key = LlmSettings.from_env({ENV_URL: "http://localhost:8080/v1", ENV_MODEL: "local"})
    assert no_key is not None and no_key.api_key == "" and "<none>" in repr(no_key)
    # a credential in the URL's user info or query is not shown either
    s2 = LlmSettings(url="https://user:hunter2@llm.example/v1?key=hunter2", model="m")
    assert "hunter2" not in repr(s2)


def test_settings_refuse_nonsense() -> None:
    for bad in ({"timeout_s": 0}, {"calls_per_hour": 0}, {"cache_ttl_s": -1}, {"max_tokens": 0}):
        with pytest.raises(ValueError):
            LlmSettings(url="https://llm.example/v1", model="m", **bad)
    with pytest.raises(ValueError):
        LlmSettings(url="llm.example/v1", model="m")
    with pytest.raises(ValueError, match=ENV_URL) as info:
        LlmSettings.from_env({ENV_URL: "ftp://x", ENV_MODEL: "m", ENV_API_KEY: KEY})
    assert KEY not in str(info.value)


# --- a good answer --------------------------------------------------------------------------------------


def test_a_good_answer_becomes_an_estimate_and_the_request_is_what_the_model_needs() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market(rules="Resolves YES if the event happens before 2027.")
        assert code_of(brain, m) == PENDING
        assert brain.wanted == [m.condition_id]
        fake.push(good(p=0.62, low=0.5, high=0.71, reasoning="Base rates favour it."))
        assert await brain.refresh_now() == 1
        assert brain.wanted == []

        (req,) = fake.requests
        assert (req.method, req.path) == ("POST", "/v1/chat/completions")
        assert req.headers["Authorization"] == f"Bearer {KEY}"
        body = req.json
        assert body["model"] == "fake-model-1"
        assert body["temperature"] == 0
        assert body["max_tokens"] == 400
        assert [msg["role"] for msg in body["messages"]] == ["system", "user"]
        assert "JSON" in body["messages"][0]["content"]
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema"
        assert fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["name"]
        schema = fmt["json_schema"]["schema"]
        assert schema["additionalProperties"] is False
        assert sorted(schema["required"]) == ["high", "low", "p", "reasoning"]
        assert {k: v["type"] for k, v in schema["properties"].items()} == {
            "p": "number",
            "low": "number",
            "high": "number",
            "reasoning": "string",
        }
        prompt = req.user_prompt
        assert m.question in prompt
        assert 'YES = "Yes"' in prompt and 'NO = "No"' in prompt
        assert "science" in prompt
        assert "2026-12-31 00:00 UTC" in prompt
        assert "2026-05-28" in prompt  # today, from the injected clock
        assert m.rules in prompt

        clock.t += 30
        est = brain.estimate(data(m))
        assert (est.brain, est.p_hat, est.ci_low, est.ci_high) == ("llm", 0.62, 0.5, 0.71)
        assert est.ci_low <= est.p_hat <= est.ci_high
        assert all(isinstance(v, float) for v in est.features.values())
        assert est.features["age_s"] == 30.0
        assert {"age_s", "latency_s", "reasoning_hash", "model_hash"} <= set(est.features)
        assert brain.last_reasoning[m.condition_id] == "Base rates favour it."
        stored = brain.answer(m.condition_id)
        assert stored is not None and stored.model == "fake-model-1"
        assert float(int(stored.reasoning_hash, 16)) == est.features["reasoning_hash"]
        (logged,) = records.events("llm answer")
        assert logged["slug"] == m.slug and logged["p"] == 0.62
        assert logged["reasoning_hash"] == stored.reasoning_hash

    with_fake(scenario)


def test_each_market_gets_its_own_answer_and_labels() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        up = market(1, yes_label="Up", no_label="Down", category="", end_ts=None)
        other = market(2)
        code_of(brain, up)
        clock.t += 1
        code_of(brain, other)
        fake.push(good(p=0.3, low=0.2, high=0.4), good(p=0.8, low=0.7, high=0.9))
        assert await brain.refresh_now() == 2
        assert up.question in fake.requests[0].user_prompt  # oldest first
        assert 'YES = "Up", NO = "Down"' in fake.requests[0].user_prompt
        assert "Trading closes: not stated" in fake.requests[0].user_prompt
        assert brain.estimate(data(up)).p_hat == 0.3
        assert brain.estimate(data(other)).p_hat == 0.8

    with_fake(scenario)


# --- bad answers ----------------------------------------------------------------------------------------

BAD_ANSWERS: dict[str, tuple[Callable[[], Reply], str]] = {
    "http 500": (lambda: http_error(500), "LLM_HTTP_500"),
    "http 429": (lambda: http_error(429, '{"error": "rate limited"}'), "LLM_HTTP_429"),
    "slow": (lambda: slow(2.0), TIMEOUT),
    "body not json": (lambda: raw("<html>bad gateway</html>"), NOT_JSON),
    "body json without choices": (
        lambda: raw('{"error": null}', content_type="application/json"),
        NO_CONTENT,
    ),
    "empty choices": (lambda: raw('{"choices": []}', content_type="application/json"), NO_CONTENT),
    "content null": (lambda: completion(None), NO_CONTENT),
    "refusal": (lambda: completion(None, refusal="I cannot help with that."), REFUSAL),
    "content not json": (lambda: completion("I think about 60%."), BAD_JSON),
    "content in a code fence": (lambda: completion('```json\n{"p": 0.5}\n```'), BAD_JSON),
    "content NaN": (lambda: completion('{"p": NaN, "low": 0.1, "high": 0.9, "reasoning": "x"}'), BAD_JSON),
    "content cut by max_tokens": (
        lambda: completion('{"p": 0.5, "low": 0.4', finish_reason="length"),
        TRUNCATED,
    ),
    "content a list": (lambda: completion("[0.5, 0.4, 0.6]"), SCHEMA),
    "missing high": (lambda: answer(p=0.5, low=0.4, reasoning="x"), SCHEMA),
    "extra field": (lambda: answer(p=0.5, low=0.4, high=0.6, reasoning="x", confidence=0.9), SCHEMA),
    "p a string": (lambda: answer(p="0.5", low=0.4, high=0.6, reasoning="x"), SCHEMA),
    "p a boolean": (lambda: answer(p=True, low=0.4, high=0.6, reasoning="x"), SCHEMA),
    "reasoning a number": (lambda: answer(p=0.5, low=0.4, high=0.6, reasoning=3), SCHEMA),
    "p above 1": (lambda: answer(p=1.5, low=0.4, high=0.6, reasoning="x"), RANGE),
    "p negative": (lambda: answer(p=-0.1, low=0.4, high=0.6, reasoning="x"), RANGE),
    "p = 0": (lambda: answer(p=0, low=0, high=0.1, reasoning="x"), RANGE),
    "p = 1": (lambda: answer(p=1, low=0.9, high=1, reasoning="x"), RANGE),
    "p = 1.0, band inside": (lambda: answer(p=1.0, low=0.5, high=0.9, reasoning="x"), RANGE),
    "low = 0": (lambda: answer(p=0.5, low=0.0, high=0.6, reasoning="x"), RANGE),
    "high = 1": (lambda: answer(p=0.5, low=0.4, high=1.0, reasoning="x"), RANGE),
    "p infinite": (lambda: completion('{"p": 1e999, "low": 0.4, "high": 0.6, "reasoning": "x"}'), RANGE),
    "p a huge integer": (
        lambda: completion('{"p": 1' + "0" * 400 + ', "low": 0.4, "high": 0.6, "reasoning": "x"}'),
        RANGE,
    ),
    "low above p": (lambda: answer(p=0.5, low=0.55, high=0.6, reasoning="x"), BAND),
    "p above high": (lambda: answer(p=0.7, low=0.4, high=0.6, reasoning="x"), BAND),
    "band inverted": (lambda: answer(p=0.5, low=0.6, high=0.4, reasoning="x"), BAND),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_a_bad_answer_is_no_estimate_logged_not_cached_and_backed_off(case: str) -> None:
    reply, code = BAD_ANSWERS[case]

    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        assert code_of(brain, m) == PENDING
        fake.push(reply())
        assert await brain.refresh_now() == 1
        assert len(fake.requests) == 1

        assert code_of(brain, m) == code
        assert brain.answer(m.condition_id) is None
        assert m.condition_id not in brain.last_reasoning
        failure = brain.failure(m.condition_id)
        assert failure is not None and failure.code == code
        (logged,) = records.events("llm no answer")
        assert logged["slug"] == m.slug and logged["reason"] == code
        assert logged["condition_id"] == m.condition_id
        assert not records.events("llm answer")

        # backed off: asked again, but no call until the backoff has passed
        clock.t += brain.settings.failure_backoff_s - 1
        assert code_of(brain, m) == code
        assert await brain.refresh_now() == 0
        clock.t += 1
        assert code_of(brain, m) == PENDING

        # the cache was not poisoned: the next good answer is served as is
        fake.push(good(p=0.4, low=0.3, high=0.5))
        assert await brain.refresh_now() == 1
        est = brain.estimate(data(m))
        assert (est.p_hat, est.ci_low, est.ci_high) == (0.4, 0.3, 0.5)
        assert brain.failure(m.condition_id) is None
        assert KEY not in records.everything()

    with_fake(scenario, timeout_s=5.0 if code != TIMEOUT else 0.2)


def test_connection_refused_is_an_answer_not_an_exception() -> None:
    async def main() -> None:
        with socket.socket() as sock:  # a port nobody listens on: bound, never listening
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            clock = Clock()
            logger, records = capture()
            brain = LlmBrain(settings(f"http://127.0.0.1:{port}/v1"), now=clock, logger=logger)
            m = market()
            code_of(brain, m)
            assert await brain.refresh() == 1  # its own session
        assert code_of(brain, m) == CONNECT
        (logged,) = records.events("llm no answer")
        assert logged["reason"] == CONNECT and logged["slug"] == m.slug

    asyncio.run(main())


def test_an_oversized_response_is_refused() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(good(reasoning="x" * 5000))
        assert await brain.refresh_now() == 1
        assert code_of(brain, m) == TOO_LARGE

    with_fake(scenario, max_response_bytes=1000)


def test_an_error_body_that_echoes_the_key_is_redacted() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(http_error(401, f'{{"error": "Incorrect API key provided: {KEY}"}}'))
        assert await brain.refresh_now() == 1
        with pytest.raises(NoEstimate) as info:
            brain.estimate(data(m))
        assert info.value.code == "LLM_HTTP_401"
        assert KEY not in str(info.value) and "<redacted>" in info.value.detail
        assert KEY not in records.everything()
        assert "<redacted>" in records.events("llm no answer")[0]["detail"]

    with_fake(scenario)


def test_a_failure_after_a_good_answer_does_not_serve_the_stale_one() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(good(p=0.6, low=0.5, high=0.7))
        await brain.refresh_now()
        clock.t += brain.settings.cache_ttl_s
        assert code_of(brain, m) == PENDING
        fake.push(answer(p=0.9, low=0.95, high=0.99, reasoning="x"))
        assert await brain.refresh_now() == 1
        assert code_of(brain, m) == BAND
        kept = brain.answer(m.condition_id)
        assert kept is not None and kept.p == 0.6  # the last good answer, kept for the UI, not served

    with_fake(scenario)


# --- budget, cache, backoff -----------------------------------------------------------------------------


def test_the_budget_caps_calls_in_any_rolling_hour() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        a, b, c = market(1), market(2), market(3)
        for m in (a, b, c):
            code_of(brain, m)
            clock.t += 1
        fake.push(good(), good())
        assert await brain.refresh_now() == 2  # the N+1-th call is not made
        assert [r.user_prompt.splitlines()[0] for r in fake.requests] == [
            f"Question: {a.question}",
            f"Question: {b.question}",
        ]
        assert brain.calls_last_hour() == 2 and brain.budget_left() == 0
        assert code_of(brain, c) == BUDGET
        (spent,) = records.events("llm budget spent")
        assert spent["reason"] == BUDGET and spent["slugs"] == [c.slug] and spent["waiting"] == 1
        assert await brain.refresh_now() == 0
        assert len(records.events("llm budget spent")) == 1  # logged once, not every cycle

        first_call = T0 + 3  # after the three asks
        clock.t = first_call + 3600 - 0.001
        assert await brain.refresh_now() == 0
        assert code_of(brain, c) == BUDGET
        clock.t = first_call + 3600  # the first call has left the window: one slot
        fake.push(good(p=0.7, low=0.6, high=0.8))
        assert await brain.refresh_now() == 1
        assert brain.estimate(data(c)).p_hat == 0.7
        assert len(fake.requests) == 3

    with_fake(scenario, calls_per_hour=2, cache_ttl_s=7200)


def test_a_fresh_answer_is_reused_until_the_ttl() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(good(p=0.6, low=0.5, high=0.7))
        await brain.refresh_now()
        clock.t += 599
        est = brain.estimate(data(m))
        assert est.p_hat == 0.6 and est.features["age_s"] == 599.0
        assert await brain.refresh_now() == 0
        clock.t += 1  # age 600 = ttl: stale
        assert code_of(brain, m) == PENDING
        fake.push(good(p=0.65, low=0.55, high=0.75, reasoning="New facts."))
        assert await brain.refresh_now() == 1
        est = brain.estimate(data(m))
        assert est.p_hat == 0.65 and est.features["age_s"] == 0.0
        assert brain.last_reasoning[m.condition_id] == "New facts."
        assert len(fake.requests) == 2

    with_fake(scenario, cache_ttl_s=600)


def test_a_market_not_asked_about_is_not_called() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        assert await brain.refresh_now() == 0
        assert await brain.refresh() == 0  # no session opened for nothing
        m = market()
        code_of(brain, m)
        code_of(brain, m)  # asked twice before the refresh: one call
        fake.push(http_error(503))
        assert await brain.refresh_now() == 1
        clock.t += 10_000  # long past the backoff, but nobody asked again
        assert await brain.refresh_now() == 0

    with_fake(scenario)


def test_the_failure_backoff_is_configurable() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(http_error(500))
        await brain.refresh_now()
        clock.t += 59
        assert code_of(brain, m) == "LLM_HTTP_500"
        assert await brain.refresh_now() == 0
        clock.t += 1
        fake.push(http_error(502))
        assert code_of(brain, m) == PENDING
        assert await brain.refresh_now() == 1
        assert code_of(brain, m) == "LLM_HTTP_502"
        assert [e["reason"] for e in records.events("llm no answer")] == ["LLM_HTTP_500", "LLM_HTTP_502"]

    with_fake(scenario, failure_backoff_s=60)


# --- run ------------------------------------------------------------------------------------------------


def test_run_answers_in_the_background_and_stops_on_the_event() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(good(p=0.55, low=0.45, high=0.65))
        stop = asyncio.Event()
        task = asyncio.create_task(brain.run(stop, interval_s=0.01))
        await fake.wait_request(1)
        stop.set()  # the call in flight finishes, then run returns
        await asyncio.wait_for(task, 5.0)
        assert task.result() is None
        assert brain.estimate(data(m)).p_hat == 0.55
        assert len(fake.requests) == 1

    with_fake(scenario)


def test_run_lets_an_unexpected_exception_out() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        def broken(market: Market) -> dict[str, Any]:
            raise RuntimeError("a bug, not a bad answer")

        brain.request_body = broken  # type: ignore[method-assign]
        code_of(brain, market())
        task = asyncio.create_task(brain.run(asyncio.Event(), interval_s=0.01))
        with pytest.raises(RuntimeError, match="a bug"):
            await asyncio.wait_for(task, 5.0)
        assert fake.requests == []

    with_fake(scenario)


def test_the_features_are_finite_floats() -> None:
    async def scenario(fake: FakeLlm, brain: Harnessed, clock: Clock, records: Records) -> None:
        m = market()
        code_of(brain, m)
        fake.push(good())
        await brain.refresh_now()
        est = brain.estimate(data(m))
        assert all(isinstance(v, float) and math.isfinite(v) for v in est.features.values())
        assert 0 <= est.features["reasoning_hash"] < 2**32 and 0 <= est.features["model_hash"] < 2**32

    with_fake(scenario)
