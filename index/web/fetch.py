"""Polite async HTTP fetching: robots.txt, per-host and global limits, retries, no exceptions."""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
import urllib.robotparser
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib import metadata
from urllib.parse import urlsplit

import httpx

from index.web.netguard import AddressRefused, Allow, guarded_transport, host_problem, parse_allow
from index.web.urls import strip_credentials

log = logging.getLogger(__name__)


def user_agent(version: str) -> str:
    """The User-Agent that says who we are and where to complain."""
    return f"newsbot/{version} (+https://github.com/newsbot)"


def _installed_version() -> str:
    try:
        return metadata.version("newsbot")
    except metadata.PackageNotFoundError:
        return "0"


DEFAULT_USER_AGENT = user_agent(_installed_version())
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Connection-phase failures are worth retrying; a read timeout means the server is slow, and
# retrying it would multiply the wait for little gain.
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)

Sleep = Callable[[float], Awaitable[None]]
RobotsAnswer = urllib.robotparser.RobotFileParser | str  # a string: why the site counts as closed


@dataclass(frozen=True)
class FetchSettings:
    """How politely and patiently to fetch; the bot's settings object fills these."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0  # seconds, per connect/read/write/pool phase
    deadline: float = 120.0  # seconds for one whole attempt, however slowly the bytes trickle in
    retries: int = 3  # further attempts after the first
    backoff: float = 1.0  # first retry delay in seconds, doubled each time
    max_retry_after: float = 60.0  # never wait longer than this, whatever the server asks
    per_host: int = 2
    total: int = 10
    max_bytes: int = 10_000_000  # larger bodies are refused, not truncated
    max_redirects: int = 10
    respect_robots: bool = True
    page_deadline: float = 60.0  # seconds for one page, redirects, retries and robots.txt included
    robots_ttl: float = 86_400.0  # seconds a robots.txt answer is trusted (RFC 9309: at most a day)
    robots_error_ttl: float = 300.0  # seconds before an unreachable robots.txt is asked again
    max_feed_items: int = 500  # items taken from one feed poll; the rest are reported and left
    allow: tuple[str, ...] = ()  # hosts or networks fetched even though private (NEWSBOT_FETCH_ALLOW)


@dataclass
class FetchResult:
    """What one URL gave: the body when it worked, else `error` says why not.

    Both URLs are without credentials (`user:password@`), so they can be stored and shown."""

    url: str
    final_url: str
    status: int | None = None
    content: bytes = b""
    content_type: str = ""
    error: str | None = None
    location: str | None = None  # where a redirect points (only between hops)

    def __post_init__(self) -> None:
        self.url, self.final_url = strip_credentials(self.url), strip_credentials(self.final_url)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.content_type) or "utf-8", errors="replace")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            try:
                return codecs.lookup(value.strip().strip("\"'")).name
            except LookupError:
                return None
    return None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def origin_of(url: str) -> str:
    """Scheme and authority: what one robots.txt governs."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _host_key(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class Fetcher:
    """Fetches URLs within the limits; `fetch` never raises for a bad URL, it reports."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or FetchSettings()
        self._sleep = sleep
        self._clock = clock
        self.allow: Allow = parse_allow(self.settings.allow)
        # Redirects are followed here, hop by hop, so each hop is checked like the first URL.
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.settings.user_agent},
            timeout=self.settings.timeout,
            follow_redirects=False,
            transport=transport or guarded_transport(self.allow),
            trust_env=False,  # a proxy from the environment would connect where the guard cannot see
        )
        self._global = asyncio.Semaphore(self.settings.total)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, tuple[float, asyncio.Task[RobotsAnswer]]] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for _, task in self._robots.values():
            task.cancel()
        await self._client.aclose()

    async def fetch(self, url: str) -> FetchResult:
        """GET one URL, following redirects; the result's `error` is set on any failure.

        The whole of it, redirects, retries and robots.txt included, ends by `page_deadline`."""
        try:
            async with asyncio.timeout(self.settings.page_deadline):
                return await self._follow(url)
        except TimeoutError:
            return FetchResult(url, url, error=f"timed out (page not fetched within {self.settings.page_deadline:g}s)")

    async def _follow(self, url: str) -> FetchResult:
        """Each hop of a redirect chain checked (scheme, address, robots.txt) before it is requested."""
        hop = url
        for _ in range(self.settings.max_redirects + 1):
            result = await self._fetch_hop(hop)
            if result.location is None:
                result.url = strip_credentials(url)
                return result
            hop = result.location
        return FetchResult(url, hop, error=f"more than {self.settings.max_redirects} redirects")

    async def _fetch_hop(self, url: str) -> FetchResult:
        problem = _url_problem(url, self.allow)
        if problem:
            return FetchResult(url, url, error=problem)
        if self.settings.respect_robots:
            refusal = await self._robots_refusal(url)
            if refusal:
                return FetchResult(url, url, error=refusal)
        # The host slot is held across retry sleeps so a 429/503 really slows us down for that host;
        # the global slot is only held while a request is in flight, so other hosts keep going.
        async with self._host_slot(url):
            return await self._fetch_with_retries(url)

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = _host_key(url)
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.settings.per_host)
        return self._hosts[host]

    async def _fetch_with_retries(self, url: str) -> FetchResult:
        attempt = 0
        while True:
            result, wait = await self._attempt(url)
            if wait is None or attempt >= self.settings.retries:
                return result
            delay = self._delay(attempt, wait)
            log.debug("retrying %s in %.1fs: %s", url, delay, result.error)
            await self._sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, asked: float) -> float:
        backoff = self.settings.backoff * 2.0**attempt
        return min(max(backoff, asked), self.settings.max_retry_after)

    async def _attempt(self, url: str) -> tuple[FetchResult, float | None]:
        """One request; the float, when not None, means "worth retrying, after at least this"."""
        async with self._global:
            try:
                async with asyncio.timeout(self.settings.deadline):
                    return await self._get(url)
            except RETRY_ERRORS as exc:
                return FetchResult(url, url, error=_describe(exc)), 0.0
            except TimeoutError:
                return FetchResult(url, url, error=f"timed out (no answer within {self.settings.deadline:g}s)"), None
            except AddressRefused as refused:
                return FetchResult(url, url, error=str(refused)), None
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ValueError, OSError) as exc:
                return FetchResult(url, url, error=_describe(exc)), None

    async def _get(self, url: str) -> tuple[FetchResult, float | None]:
        async with self._client.stream("GET", url) as response:
            result = FetchResult(
                url, str(response.url), response.status_code, content_type=response.headers.get("content-type", "")
            )
            if response.next_request is not None:  # a redirect with a usable Location
                result.location = str(response.next_request.url)
                return result, None
            if not 200 <= response.status_code < 300:  # 3xx here: a redirect without a usable Location
                result.error = f"HTTP {response.status_code}"
                return result, _retry_wait(response)
            body = await _read_capped(response, self.settings.max_bytes)
            if body is None:
                result.error = f"response larger than {self.settings.max_bytes} bytes"
            else:
                result.content = body
            return result, None

    async def _robots_refusal(self, url: str) -> str | None:
        """Why robots.txt forbids the URL, or None when it may be fetched."""
        # Shielded: the task is shared by every fetch for this origin; one cancelled caller
        # must not cancel it for the others.
        rules = await asyncio.shield(self._robots_task(origin_of(url)))
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(self.settings.user_agent, url):
            return None
        return "disallowed by robots.txt"

    def _robots_task(self, origin: str) -> asyncio.Task[RobotsAnswer]:
        """The shared answer for the origin, asked again once its time to live is over."""
        now = self._clock()
        cached = self._robots.get(origin)
        if cached is None or (cached[1].done() and now - cached[0] > self._robots_ttl(cached[1])):
            cached = (now, asyncio.create_task(self._load_robots(origin)))
            self._robots[origin] = cached
        return cached[1]

    def _robots_ttl(self, task: asyncio.Task[RobotsAnswer]) -> float:
        failed = task.cancelled() or task.exception() is not None or isinstance(task.result(), str)
        return self.settings.robots_error_ttl if failed else self.settings.robots_ttl

    async def _load_robots(self, origin: str) -> RobotsAnswer:
        robots_url = f"{origin}/robots.txt"
        async with self._host_slot(robots_url):
            result = await self._fetch_with_retries(robots_url)
        return _robots_rules(result)


def _robots_rules(result: FetchResult) -> RobotsAnswer:
    """Parsed rules; a string when the site must be treated as closed (RFC 9309, section 2.3.1)."""
    rules = urllib.robotparser.RobotFileParser(result.final_url)
    if result.status is not None and 400 <= result.status < 500 and result.status != 429:
        rules.parse([])  # no robots.txt (401/403 included, per the RFC): everything is allowed
    elif result.ok:
        rules.parse(result.text.splitlines())
    else:
        return f"robots.txt unreachable ({result.error})"
    return rules


def _retry_wait(response: httpx.Response) -> float | None:
    if response.status_code not in RETRY_STATUSES:
        return None
    if response.status_code in (429, 503):
        return retry_after_seconds(response.headers.get("retry-after")) or 0.0
    return 0.0


async def _read_capped(response: httpx.Response, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _url_problem(url: str, allow: Allow) -> str | None:
    """Why the URL is not fetched, judged by the URL alone (the connection checks the addresses)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "not an http(s) URL"
    problem = host_problem(host, allow)
    return f"refused {host}: {problem}" if problem else None


def _describe(exc: Exception) -> str:
    detail = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
