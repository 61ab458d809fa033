"""RSS/Atom feeds and bare article URLs, read over HTTP through a `Fetcher`."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from index.article import Article, ReadProblem
from index.ingest.dates import parse_date
from index.ingest.readers.html import article_from_html
from index.web.fetch import Fetcher, FetchResult, FetchSettings
from index.web.urls import outlet_for_url, strip_credentials

log = logging.getLogger(__name__)

Item = Article | ReadProblem
FEED_MEDIA_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
PAGE_MEDIA_TYPES = frozenset({"", "text/html", "application/xhtml+xml", "text/plain"})
# The root element after any XML prologue, comments and doctype decides it; a search anywhere
# would take an HTML page that merely mentions "<rss" for a feed.
_FEED_ROOT = re.compile(rb"^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:rss|feed|rdf:RDF)[\s>/]", re.S | re.I)
_SNIFF_BYTES = 4096
TRUNCATED_FEED = "feed lists"
_ITEM_START = re.compile(rb"<(?:item|entry)[\s>/]", re.IGNORECASE)  # RSS and Atom items, as the cap counts them
_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})


@dataclass
class FeedItem:
    """What a feed says about one entry."""

    url: str | None
    title: str | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    text: str = ""  # the feed's own content or summary, as plain text
    source_id: str | None = None
    date_problem: str | None = None

    def fallback(self) -> dict[str, Any]:
        values = {"title": self.title, "published": self.published, "url": self.url, "authors": self.authors}
        return {key: value for key, value in values.items() if value}

    def label(self) -> str:
        return repr(self.title) if self.title else (self.url or self.source_id or "(untitled)")


def is_url(s: str) -> bool:
    """True for an absolute http(s) URL (what the bot should fetch rather than read from disk)."""
    s = s.strip()
    if not s or any(ch.isspace() for ch in s):
        return False
    try:
        parts = urlsplit(s)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def is_feed(content_type: str, body: bytes) -> bool:
    """A feed by its declared media type, else by its root element."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in FEED_MEDIA_TYPES:
        return True
    return bool(_FEED_ROOT.match(body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")))


def parse_feed(
    data: bytes, url: str, content_type: str = "", max_items: int | None = None
) -> tuple[list[FeedItem], list[ReadProblem]]:
    """The feed's first `max_items` items, or a problem saying why it is no feed. Never fetches, never raises."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    total = len(_ITEM_START.findall(data))
    if max_items is not None and total > max_items:
        data = data[: _nth_item_start(data, max_items)]  # the parser never sees the rest (100k items: minutes)
    try:
        parsed = feedparser.parse(data, response_headers=headers)
    except Exception as exc:  # feedparser's lenient parsers raise a grab bag on hostile bytes
        return [], [ReadProblem(url, f"feed unreadable: {type(exc).__name__}: {exc}")]
    if not parsed.entries:
        return [], [ReadProblem(url, _empty_feed_reason(parsed))]
    entries = parsed.entries if max_items is None else parsed.entries[:max_items]
    items = [_feed_item(entry, url) for entry in entries]
    problems = [ReadProblem(item.url or url, item.date_problem) for item in items if item.date_problem]
    listed = max(total, len(parsed.entries))
    if len(entries) < listed:
        problems.append(ReadProblem(url, f"{TRUNCATED_FEED} {listed} items; only the first {len(entries)} taken"))
    return items, problems


def _nth_item_start(data: bytes, n: int) -> int:
    """Where the feed's item number n (from 0) begins."""
    for number, match in enumerate(_ITEM_START.finditer(data)):
        if number == n:
            return match.start()
    return len(data)


def _empty_feed_reason(parsed: Any) -> str:
    if parsed.get("version"):
        return "feed has no items"
    return f"not a feed ({parsed.get('bozo_exception') or 'no RSS or Atom root'})"


def _feed_item(entry: Any, feed_url: str) -> FeedItem:
    link = entry.get("link")
    item = FeedItem(
        url=strip_credentials(urljoin(feed_url, link)) if isinstance(link, str) and link else None,
        title=_clean(entry.get("title")),
        authors=_authors(entry),
        text=_entry_text(entry),
        source_id=entry.get("id") or None,
    )
    raw_date = entry.get("published") or entry.get("updated") or entry.get("created")
    try:
        # Our parser, not feedparser's: feedparser silently rolls "2024-13-45" over into 2025.
        item.published = parse_date(raw_date)
    except (ValueError, OverflowError):
        item.date_problem = f"feed item {item.label()}: unparseable date {str(raw_date)[:80]!r} ignored"
    return item


def _authors(entry: Any) -> list[str]:
    listed = [a.get("name") or a.get("email") for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [name.strip() for name in listed if isinstance(name, str) and name.strip()]
    author = entry.get("author")
    if not names and isinstance(author, str) and author.strip():
        names = [author.strip()]
    return names


def _entry_text(entry: Any) -> str:
    values = [part.get("value", "") for part in entry.get("content") or [] if isinstance(part, dict)]
    values.append(entry.get("summary") or "")
    texts = [html_text(value) for value in values if isinstance(value, str)]
    return max(texts, key=len, default="")


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag, [])


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed summary), one paragraph a line."""
    parser = _TextOnly()
    try:
        parser.feed(fragment)
        parser.close()
    except AssertionError:  # html.parser's answer to some malformed declarations ("<![foo[")
        parser.parts = [html.unescape(_TAG.sub(" ", fragment))]
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


async def read_feed(url: str, fetcher: Fetcher) -> AsyncIterator[Item]:
    """Every item of the feed at `url` as an article (its page, else the feed's own text) or a problem."""
    result = await fetcher.fetch(url)
    if not result.ok:
        yield ReadProblem(url, result.error or "fetch failed")
        return
    async for found in _feed_articles(result, fetcher):
        yield found


async def read_url(url: str, fetcher: Fetcher) -> AsyncIterator[Item]:
    """A feed URL gives its items; any other URL gives the one article on that page."""
    result = await fetcher.fetch(url)
    if not result.ok:
        yield ReadProblem(url, result.error or "fetch failed")
    elif is_feed(result.content_type, result.content):
        async for found in _feed_articles(result, fetcher):
            yield found
    elif result.media_type not in PAGE_MEDIA_TYPES:
        yield ReadProblem(url, f"not an HTML page or feed ({result.media_type})")
    else:
        yield await _extract(result.content, result.final_url, url, None)


async def _feed_articles(result: FetchResult, fetcher: Fetcher) -> AsyncIterator[Item]:
    items, problems = parse_feed(result.content, result.final_url, result.content_type, fetcher.settings.max_feed_items)
    for problem in problems:
        yield problem
    # All pages are fetched at once (the fetcher enforces the limits) but yielded in feed order.
    tasks = [asyncio.create_task(_item_article(item, fetcher, result.final_url)) for item in items]
    try:
        for task in tasks:
            yield await task
    finally:
        for task in tasks:
            task.cancel()


async def _item_article(item: FeedItem, fetcher: Fetcher, feed_url: str) -> Item:
    if not item.url:
        if item.text:
            return _feed_article(item, feed_url)
        return ReadProblem(feed_url, f"feed item {item.label()} has no link and no text")
    page = await fetcher.fetch(item.url)
    if page.ok:
        found = await _extract(page.content, page.final_url, item.url, item.fallback())
        if isinstance(found, Article):
            found.source_id = found.source_id or item.source_id
            found.published = _finer_date(found.published, item.published)
            return found
    else:
        found = ReadProblem(item.url, page.error or "fetch failed")
    if item.text:
        log.debug("using the feed's text for %s: %s", item.url, found.reason)
        return _feed_article(item, feed_url)
    return found


def _finer_date(page: datetime | None, feed: datetime | None) -> datetime | None:
    """The feed's timestamp when the page gave only the same day (a date without a time of day)."""
    if page and feed and page.time() == time(0) and page.date() == feed.date():
        return feed
    return page or feed


async def _extract(page: bytes, url: str, source: str, fallback: dict[str, Any] | None) -> Item:
    # Extraction is CPU-bound; a thread keeps the event loop (other downloads) moving meanwhile.
    return await asyncio.to_thread(article_from_html, page, url, source, fallback)


def _feed_article(item: FeedItem, feed_url: str) -> Article:
    return Article(
        text=item.text,
        title=item.title,
        url=item.url,
        outlet=outlet_for_url(item.url or feed_url),
        authors=list(item.authors),
        published=item.published,
        source_id=item.source_id,
        source=item.url or feed_url,
    )


def read_feed_sync(url: str, settings: FetchSettings | None = None) -> list[Item]:
    """`read_feed` for callers without an event loop (the CLI); not for use inside the bot."""
    return asyncio.run(_collect(read_feed, url, settings))


def read_url_sync(url: str, settings: FetchSettings | None = None) -> list[Item]:
    """`read_url` for callers without an event loop (the CLI); not for use inside the bot."""
    return asyncio.run(_collect(read_url, url, settings))


async def _collect(
    reader: Callable[[str, Fetcher], AsyncIterator[Item]], url: str, settings: FetchSettings | None
) -> list[Item]:
    async with Fetcher(settings) as fetcher:
        return [found async for found in reader(url, fetcher)]
