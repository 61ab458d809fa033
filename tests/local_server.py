"""Servers for tests on their own event loop in a daemon thread, so that sync tests, `asyncio.run` and
pytest-asyncio tests can all use them: `LoopThread` for any coroutine-started server (the fake Discord),
`LocalServer` for an aiohttp app on 127.0.0.1 (random port), `serving` for a fixture's body."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")
S = TypeVar("S", bound="LocalServer")


class LoopThread:
    """An event loop running in a daemon thread; `run` runs a coroutine there and waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class LocalServer:
    """The aiohttp app that `app()` builds, served on 127.0.0.1 from `start()` to `stop()`."""

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread: LoopThread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread = LoopThread()
        self._thread.run(self._serve())
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            self._thread.run(self._runner.cleanup())
        self._thread.close()

    async def _serve(self) -> None:
        # Cancel handlers whose client went away (a hanging page after a timeout), so shutdown is quick.
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]


def serving(server: S) -> Iterator[S]:
    """A fixture's body: the server started, and stopped after the test."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
