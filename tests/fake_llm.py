"""A fake OpenAI-compatible chat-completions server on 127.0.0.1 (a real HTTP server on a free port).

Each request takes the next scripted `Reply` (`push`); with none left it answers HTTP 599 "unscripted",
which no test expects. Every request is recorded (`requests`) so a test can check what the brain sent.
A slow reply waits `delay_s` or until the server closes, so closing never waits on a slow handler.

    async with FakeLlm() as fake:
        fake.push(good(p=0.6, low=0.5, high=0.7))
        ... LlmSettings(url=fake.base_url, ...) ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

UNSCRIPTED_STATUS = 599


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: str = ""  # sent verbatim
    content_type: str = "application/json"
    delay_s: float = 0.0  # wait this long before answering


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def user_prompt(self) -> str:
        return next(m["content"] for m in self.json["messages"] if m["role"] == "user")


def completion(content: str | None, *, finish_reason: str = "stop", **message: Any) -> Reply:
    """A chat-completions response whose message content is `content`, verbatim."""
    doc = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish_reason,
            }
        ],
    }
    return Reply(body=json.dumps(doc))


def answer(**fields: Any) -> Reply:
    """The content is these fields as JSON (any of them may be wrong on purpose)."""
    return completion(json.dumps(fields))


def good(p: float = 0.62, low: float = 0.5, high: float = 0.71, reasoning: str = "Base rates.") -> Reply:
    return answer(p=p, low=low, high=high, reasoning=reasoning)


def http_error(status: int = 500, body: str = '{"error": {"message": "internal error"}}') -> Reply:
    return Reply(status=status, body=body)


def slow(delay_s: float = 2.0, then: Reply | None = None) -> Reply:
    base = then or good()
    return Reply(status=base.status, body=base.body, content_type=base.content_type, delay_s=delay_s)


def raw(body: str, *, status: int = 200, content_type: str = "text/html") -> Reply:
    """A body sent as is (not a chat-completions document)."""
    return Reply(status=status, body=body, content_type=content_type)


@dataclass
class FakeLlm:
    host: str = "127.0.0.1"
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    unscripted: int = 0
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _got: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def wait_request(self, count: int = 1, timeout_s: float = 5.0) -> None:
        """Until at least `count` requests arrived (bounded)."""

        async def reached() -> None:
            while len(self.requests) < count:
                self._got.clear()
                await self._got.wait()

        await asyncio.wait_for(reached(), timeout_s)

    async def _handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), text))
        self._got.set()
        if not self.script:
            self.unscripted += 1
            return web.Response(status=UNSCRIPTED_STATUS, text="fake_llm: no scripted reply")
        reply = self.script.popleft()
        if reply.delay_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay_s)
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    async def start(self) -> FakeLlm:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLlm:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
