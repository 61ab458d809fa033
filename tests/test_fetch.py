"""The fetcher against a real local HTTP server: limits, retries, robots.txt, errors as reasons."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx

from index.web.fetch import Fetcher, FetchResult, FetchSettings, _robots_rules, retry_after_seconds, user_agent
from tests.http_fixture import LOOPBACK, NewsServer

UA = user_agent("9.9-test")


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers the delays, waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fetcher(sleep: RecordingSleep | None = None, **overrides: Any) -> Fetcher:
    settings = FetchSettings(**{"user_agent": UA, "timeout": 2.0, "backoff": 0.01, "allow": LOOPBACK, **overrides})
    return Fetcher(settings, sleep=sleep or RecordingSleep())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_fetches_a_page_and_sends_the_user_agent(news_server: NewsServer) -> None:
    async with fetcher() as f:
        result = await f.fetch(news_server.url("/articles/one.html"))
    assert result.ok
    assert result.status == 200
    assert result.media_type == "text/html"
    assert b"Harbour reopens after storm" in result.content
    assert "Harbour reopens" in result.text
    assert set(news_server.user_agents) == {UA}
    assert UA == "newsbot/9.9-test (+https://github.com/newsbot)"


async def test_redirect_is_followed_and_final_url_recorded(news_server: NewsServer) -> None:
    async with fetcher() as f:
        result = await f.fetch(news_server.url("/redirect/two"))
    assert result.ok
    assert result.url == news_server.url("/redirect/two")
    assert result.final_url == news_server.url("/articles/two.html")


async def test_404_is_a_reason_not_an_exception(news_server: NewsServer) -> None:
    async with fetcher() as f:
        result = await f.fetch(news_server.url("/missing.html"))
    assert not result.ok
    assert (result.status, result.error) == (404, "HTTP 404")
    assert news_server.hits["/missing.html"] == 1  # a 404 is not retried


async def test_timeout_is_a_reason(news_server: NewsServer) -> None:
    async with fetcher(timeout=0.3) as f:
        started = time.monotonic()
        result = await f.fetch(news_server.url("/slow"))
    assert result.error is not None
    assert "timed out" in result.error
    assert time.monotonic() - started < news_server.slow_delay  # a read timeout is not retried


async def test_deadline_bounds_a_whole_attempt(news_server: NewsServer) -> None:
    async with fetcher(timeout=5.0, deadline=0.3) as f:
        result = await f.fetch(news_server.url("/slow"))
    assert result.error == "timed out (no answer within 0.3s)"


async def test_429_is_retried_after_retry_after(news_server: NewsServer) -> None:
    sleep = RecordingSleep()
    async with fetcher(sleep) as f:
        result = await f.fetch(news_server.url("/too-many-once"))
    assert result.ok
    assert result.status == 200
    assert news_server.hits["/too-many-once"] == 2
    assert sleep.delays == [1.0]


async def test_503_is_retried_with_exponential_backoff(news_server: NewsServer) -> None:
    sleep = RecordingSleep()
    async with fetcher(sleep, backoff=0.5) as f:
        result = await f.fetch(news_server.url("/unavailable-twice"))
    assert result.ok
    assert news_server.hits["/unavailable-twice"] == 3
    assert sleep.delays == [0.5, 1.0]


async def test_retries_give_up_with_the_last_reason(news_server: NewsServer) -> None:
    sleep = RecordingSleep()
    async with fetcher(sleep, retries=1) as f:
        result = await f.fetch(news_server.url("/unavailable-twice"))
    assert (result.status, result.error) == (503, "HTTP 503")
    assert news_server.hits["/unavailable-twice"] == 2
    assert len(sleep.delays) == 1


async def test_connection_refused_is_retried_then_reported() -> None:
    sleep = RecordingSleep()
    url = f"http://127.0.0.1:{closed_port()}/page"
    async with fetcher(sleep, retries=2, respect_robots=False) as f:
        result = await f.fetch(url)
    assert result.error is not None
    assert result.error.startswith("ConnectError")
    assert result.url == url
    assert sleep.delays == [0.01, 0.02]


async def test_unreachable_robots_txt_closes_the_site() -> None:
    async with fetcher(retries=0) as f:
        result = await f.fetch(f"http://127.0.0.1:{closed_port()}/page")
    assert result.error is not None
    assert result.error.startswith("robots.txt unreachable (ConnectError")


async def test_robots_txt_disallowed_url_is_never_requested(news_server: NewsServer) -> None:
    async with fetcher() as f:
        results = await asyncio.gather(
            f.fetch(news_server.url("/private/secret.html")), f.fetch(news_server.url("/articles/one.html"))
        )
    assert results[0].error == "disallowed by robots.txt"
    assert results[1].ok
    assert news_server.hits["/private/secret.html"] == 0
    assert news_server.hits["/robots.txt"] == 1  # cached per host, even for concurrent fetches


async def test_robots_txt_can_be_ignored_on_purpose(news_server: NewsServer) -> None:
    async with fetcher(respect_robots=False) as f:
        result = await f.fetch(news_server.url("/private/secret.html"))
    assert result.ok
    assert news_server.hits["/robots.txt"] == 0


def robots_allow(status: int, body: bytes = b"", path: str = "/x") -> bool | str:
    """What robots.txt served with `status` and `body` says about `path` (a string: site closed)."""
    url = "http://127.0.0.1/robots.txt"
    error = None if status == 200 else f"HTTP {status}"
    rules = _robots_rules(FetchResult(url, url, status, body, error=error))
    return rules if isinstance(rules, str) else rules.can_fetch(UA, f"http://127.0.0.1{path}")


def test_robots_rules_follow_rfc_9309() -> None:
    assert robots_allow(404) is True
    assert robots_allow(403) is True
    assert robots_allow(503) == "robots.txt unreachable (HTTP 503)"
    assert robots_allow(429) == "robots.txt unreachable (HTTP 429)"
    assert robots_allow(200, b"User-agent: newsbot\nDisallow: /x\n") is False
    assert robots_allow(200, b"User-agent: newsbot\nDisallow: /x\n", "/y") is True
    assert robots_allow(200, b"User-agent: otherbot\nDisallow: /\n") is True


async def test_per_host_concurrency_never_exceeds_the_limit(news_server: NewsServer) -> None:
    async with fetcher(per_host=2, total=10) as f:
        results = await asyncio.gather(*(f.fetch(news_server.url(f"/paced/{n}")) for n in range(8)))
    assert [result.ok for result in results] == [True] * 8
    assert news_server.max_in_flight[news_server.host] == 2


async def test_global_limit_applies_across_requests(news_server: NewsServer) -> None:
    async with fetcher(per_host=10, total=3) as f:
        await asyncio.gather(*(f.fetch(news_server.url(f"/paced/{n}")) for n in range(9)))
    assert news_server.max_in_flight[news_server.host] == 3


async def test_oversized_body_is_refused(news_server: NewsServer) -> None:
    async with fetcher(max_bytes=100) as f:
        result = await f.fetch(news_server.url("/articles/one.html"))
    assert result.error == "response larger than 100 bytes"
    assert result.content == b""


async def test_bad_urls_are_reasons() -> None:
    async with fetcher() as f:
        results = [await f.fetch(url) for url in ("ftp://example.com/x", "not a url", "http://[::1", "")]
    assert [result.url for result in results if not result.error] == []
    assert len(results) == 4


async def test_retry_after_is_capped() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(429, headers={"Retry-After": "3600"})

    sleep = RecordingSleep()
    settings = FetchSettings(user_agent=UA, retries=2, max_retry_after=5.0)
    async with Fetcher(settings, sleep=sleep, transport=httpx.MockTransport(answer)) as f:
        result = await f.fetch("http://news.invalid/page")
    assert result.error == "HTTP 429"
    assert sleep.delays == [5.0, 5.0]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now=now.timestamp()) == 90.0
    assert retry_after_seconds(earlier, now=now.timestamp()) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
