"""A local news site on 127.0.0.1 (random port) for tests that need real HTTP.

It runs in its own thread with its own event loop (tests/local_server.py), so sync tests,
`asyncio.run` and pytest-asyncio tests can all use it. It serves `tests/fixtures/web/` ({{BASE}} in a file
becomes the server's base URL) plus a few misbehaving paths, and records what it saw.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.local_server import LocalServer, serving

WEB_ROOT = Path(__file__).parent / "fixtures" / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",  # served as plain XML so readers must sniff it
    ".txt": "text/plain",
}
PACED_ITEMS = 6
LOOPBACK = ("127.0.0.1",)  # FetchSettings.allow for tests: the fetcher refuses loopback otherwise
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NewsServer(LocalServer):
    """Start with `start()` (or use the `news_server` fixture); inspect `hits`, `user_agents`, `max_in_flight`."""

    def __init__(self, root: Path = WEB_ROOT, slow_delay: float = 2.0, paced_delay: float = 0.15) -> None:
        super().__init__()
        self.root = root
        self.slow_delay = slow_delay  # /slow: longer than the short timeouts tests use
        self.paced_delay = paced_delay  # /paced/...: long enough for requests to overlap
        self.hits: Counter[str] = Counter()
        self.user_agents: list[str] = []
        self.max_in_flight: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/redirect/{name}", self._redirect)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/redirect-to", self._redirect_to)
        app.router.add_get("/trickle", self._trickle)
        app.router.add_get("/paced/{n}", self._paced)
        app.router.add_get("/feeds/paced.rss", self._paced_feed)
        app.router.add_get("/too-many-once", self._too_many_once)
        app.router.add_get("/unavailable-twice", self._unavailable_twice)
        app.router.add_get("/{path:.*}", self._file)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.user_agents.append(request.headers.get("User-Agent", ""))
        self._in_flight[request.host] += 1
        self.max_in_flight[request.host] = max(self.max_in_flight[request.host], self._in_flight[request.host])
        try:
            return await handler(request)
        finally:
            self._in_flight[request.host] -= 1

    def _page(self, relative: str) -> web.Response:
        path = (self.root / relative).resolve()
        if not path.is_file() or self.root.resolve() not in path.parents:
            return web.Response(status=404, text="not found")
        body = path.read_text(encoding="utf-8").replace("{{BASE}}", self.base)
        content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        return web.Response(body=body.encode(), headers={"Content-Type": content_type})

    async def _file(self, request: web.Request) -> web.Response:
        return self._page(request.match_info["path"])

    async def _robots(self, request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS_TXT)

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"/articles/{request.match_info['name']}.html")

    async def _redirect_to(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        """A slow-loris page: a byte every tenth of a second, for a minute."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(600):
            await response.write(b" ")
            await asyncio.sleep(0.1)
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.slow_delay)
        return self._page("articles/one.html")

    async def _paced(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.paced_delay)
        return self._page("articles/two.html")

    async def _paced_feed(self, request: web.Request) -> web.Response:
        """A feed of PACED_ITEMS slow pages, to watch the reader fetch them side by side."""
        items = "".join(
            f"<item><title>Paced {n}</title><link>{self.base}/paced/{n}</link></item>" for n in range(PACED_ITEMS)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Paced</title>{items}</channel></rss>'
        return web.Response(text=body, content_type="application/rss+xml")

    async def _too_many_once(self, request: web.Request) -> web.Response:
        if self.hits[request.path] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        return self._page("articles/one.html")

    async def _unavailable_twice(self, request: web.Request) -> web.Response:
        if self.hits[request.path] <= 2:
            return web.Response(status=503, text="try later")
        return self._page("articles/two.html")


@pytest.fixture
def news_server() -> Iterator[NewsServer]:
    yield from serving(NewsServer())
