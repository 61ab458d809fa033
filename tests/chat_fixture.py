"""A misbehaving OpenAI-style chat endpoint on 127.0.0.1 (random port), for the generated answer's
fallbacks. Base URLs: /reply/v1 answers `reply`; /status/<code>/v1 fails with that status;
/hang/v1 answers after `hang_seconds`; /garbage/v1 is not JSON; /shape/v1 is JSON but no completion.
It runs in its own thread and event loop (tests/local_server.py), and records each request's headers and body."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.local_server import LocalServer, serving

CHAT = "/v1/chat/completions"


def completion(content: Any) -> dict:
    message = {"role": "assistant", "content": content}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


class ChatServer(LocalServer):
    def __init__(self, reply: str = "", hang_seconds: float = 3.0) -> None:
        super().__init__()
        self.reply = reply
        self.hang_seconds = hang_seconds
        self.requests: list[tuple[dict[str, str], dict]] = []

    def url(self, behaviour: str) -> str:
        return f"{self.base}/{behaviour}/v1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/reply" + CHAT, self._reply)
        app.router.add_post("/status/{code}" + CHAT, self._status)
        app.router.add_post("/hang" + CHAT, self._hang)
        app.router.add_post("/garbage" + CHAT, self._garbage)
        app.router.add_post("/shape" + CHAT, self._shape)
        return app

    async def _record(self, request: web.Request) -> None:
        self.requests.append((dict(request.headers), json.loads(await request.read())))

    async def _reply(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(completion(self.reply))

    async def _status(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=int(request.match_info["code"]), text="model not loaded")

    async def _hang(self, request: web.Request) -> web.Response:
        await self._record(request)
        await asyncio.sleep(self.hang_seconds)
        return web.json_response(completion(self.reply))

    async def _garbage(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")

    async def _shape(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"choices": []})


def dead_url() -> str:
    """A loopback port nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    yield from serving(ChatServer())
