"""Watching feeds: each poll fetches and ingests only the items a feed never showed before, and
`to_announce` decides which of them are news worth posting.

One `Watcher` serves both `newsbot watch` and the bot's event loop: fetching is async (one
`Fetcher`, its limits shared by every feed) and the archive's blocking writes run in a thread.
Items are remembered per feed in `feed_items` only after they are stored, so a poll that dies
half-way is simply redone; an item whose page keeps failing is given up after a few polls.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from index.archive import Archive, ArchiveBusy
from index.article import Article, ReadProblem, article_key
from index.store import Store, now_iso
from index.store.rows import ArticleRow, NewArticle
from index.web.feeds import TRUNCATED_FEED, FeedItem, _item_article, parse_feed
from index.web.fetch import Fetcher, FetchSettings
from index.web.urls import canonical_url, strip_credentials

log = logging.getLogger(__name__)

ANNOUNCE_LIMIT = 10
MAX_ATTEMPTS = 3  # polls in which a failing item is tried before it is given up
T = TypeVar("T")


@dataclass
class Announcement:
    """What to post about one poll: these articles, then "and N more"."""

    articles: list[ArticleRow] = field(default_factory=list)
    more: int = 0

    def lines(self) -> list[str]:
        lines = [_headline(article) for article in self.articles]
        return lines + ([f"…and {self.more} more"] if self.more else [])


def _headline(article: ArticleRow) -> str:
    outlet = f" — {article.outlet}" if article.outlet else ""
    url = f" <{article.url}>" if article.url else ""
    return f"**{article.title or 'Untitled'}**{outlet}{url}"


def to_announce(new: Iterable[NewArticle], limit: int = ANNOUNCE_LIMIT) -> Announcement:
    """The articles of a poll worth announcing, at most `limit`. A feed's first poll announces
    nothing (its whole backlog would flood the channel), nor does a story already in the
    archive; a story several feeds brought in the same poll is announced once."""
    fresh: list[ArticleRow] = []
    stories: set[int] = set()
    for found in new:
        if found.first_poll or found.known_story or found.story in stories:
            continue
        stories.add(found.story)
        fresh.append(found.article)
    return Announcement(fresh[:limit], max(0, len(fresh) - limit))


def item_key(item: FeedItem) -> str:
    """How a feed names its item: its GUID, else its link, else its content."""
    if item.source_id:
        return item.source_id
    if item.url:
        return canonical_url(item.url)
    return "sha256:" + hashlib.sha256(f"{item.title}\n{item.text}".encode()).hexdigest()


class Watcher:
    """Polls `feeds` into `archive`; `problems` holds what the last poll could not read."""

    def __init__(self, archive: Archive, feeds: Sequence[str], settings: FetchSettings | None = None) -> None:
        self.archive = archive
        self.feeds = list(dict.fromkeys(feeds))  # a feed listed twice is polled once
        self.settings = settings
        self.problems: list[ReadProblem] = []
        self._fetcher: Fetcher | None = None
        self._writing = asyncio.Lock()  # one ingest at a time: the archive has one writer

    async def __aenter__(self) -> Watcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._fetcher is not None:
            await self._fetcher.aclose()
            self._fetcher = None

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:  # made on first use, inside the event loop that will use it
            self._fetcher = Fetcher(self.settings)
        return self._fetcher

    async def poll_once(self) -> list[NewArticle]:
        """Fetches every feed once; returns the articles this poll stored, for `to_announce`."""
        self.problems = []
        polls = await asyncio.gather(*(self._poll_feed_safely(feed) for feed in self.feeds))
        return [article for found in polls for article in found]

    async def _poll_feed_safely(self, feed: str) -> list[NewArticle]:
        """One feed's poll; whatever goes wrong in it is its problem, and the other feeds go on."""
        try:
            return await self._poll_feed(feed)
        except Exception as err:  # an unforeseen failure in one feed must not lose every feed's news
            log.warning("polling %s failed", strip_credentials(feed), exc_info=True)
            self.problems.append(ReadProblem(feed, f"poll failed: {type(err).__name__}: {err}"))
            return []

    async def run(self, minutes: float, on_poll: Callable[[list[NewArticle]], Awaitable[None]]) -> None:
        """Polls every `minutes` until cancelled; a failed poll is logged and the next one goes on."""
        while True:
            try:
                await on_poll(await self.poll_once())
            except Exception:  # a feed or the disk misbehaving must not end the watch
                log.exception("polling the feeds failed")
            await asyncio.sleep(minutes * 60)

    async def _poll_feed(self, feed: str) -> list[NewArticle]:
        result = await self.fetcher.fetch(feed)
        if not result.ok:
            self.problems.append(ReadProblem(feed, result.error or "fetch failed"))
            return []
        items, problems = parse_feed(
            result.content, result.final_url, result.content_type, self.fetcher.settings.max_feed_items
        )
        if not items:
            self.problems.extend(problems)
            return []
        self.problems.extend(p for p in problems if p.reason.startswith(TRUNCATED_FEED))
        feed = strip_credentials(feed)  # the name it is remembered by
        first = await self._in_archive(is_new_feed, feed)
        fresh = await self._in_archive(unseen_items, feed, items)
        self.problems.extend(ReadProblem(i.url or feed, i.date_problem) for i in fresh if i.date_problem)
        found = await asyncio.gather(*(self._item(item, result.final_url) for item in fresh))
        return await self._store(feed, fresh, found, first)

    async def _item(self, item: FeedItem, feed_url: str) -> Article | ReadProblem:
        try:
            return await _item_article(item, self.fetcher, feed_url)
        except Exception as err:  # one item's failure is that item's problem, remembered like a failed fetch
            return ReadProblem(item.url or feed_url, f"item failed: {type(err).__name__}: {err}")

    async def _store(
        self, feed: str, items: list[FeedItem], found: list[Article | ReadProblem], first: bool
    ) -> list[NewArticle]:
        self.problems.extend(f for f in found if isinstance(f, ReadProblem))
        async with self._writing:
            try:
                return await asyncio.to_thread(self._ingest, feed, items, found, first)
            except ArchiveBusy as busy:
                self.problems.append(ReadProblem(feed, f"not stored, retried next poll: {busy}"))
                return []

    def _ingest(
        self, feed: str, items: list[FeedItem], found: list[Article | ReadProblem], first: bool
    ) -> list[NewArticle]:
        """In a worker thread: stores the articles, then remembers the items as seen."""
        articles = [f for f in found if isinstance(f, Article)]
        with self.archive.lock:
            known = {key for key in map(article_key, articles) if self.archive.store.find_article(key)}
        new_ids = self.archive.ingest(articles, progress=False).new_article_ids if articles else []
        with self.archive.store.transaction():
            remember_items(self.archive.store, feed, items, found)
            return describe_new(self.archive.store, new_ids, known, feed, first)

    async def _in_archive(self, action: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            self.archive.refresh()  # another process may have ingested or rebuilt meanwhile
            with self.archive.lock:
                return action(self.archive.store, *args)

        return await asyncio.to_thread(locked)


def is_new_feed(store: Store, feed: str) -> bool:
    return store.feeds.is_new_feed(feed)


def unseen_items(store: Store, feed: str, items: list[FeedItem]) -> list[FeedItem]:
    """Items never stored from this feed; failed ones again until MAX_ATTEMPTS."""
    unique = {item_key(item): item for item in items}  # a feed listing one item twice fetches it once
    seen = store.feeds.seen(feed, list(unique))
    return [
        item
        for key, item in unique.items()
        if key not in seen or (seen[key][0] is None and seen[key][1] < MAX_ATTEMPTS)
    ]


def remember_items(store: Store, feed: str, items: list[FeedItem], found: list[Article | ReadProblem]) -> None:
    now = now_iso()
    for item, outcome in zip(items, found, strict=True):
        article_id, error = _outcome(store, outcome)
        store.feeds.remember_item(feed, item_key(item), article_id, error, now)
    store.feeds.polled(feed, now)


def _outcome(store: Store, outcome: Article | ReadProblem) -> tuple[int | None, str | None]:
    """The stored article an item became (an exact copy: its original), or why it did not."""
    if isinstance(outcome, ReadProblem):
        return None, outcome.reason
    found = store.find_article(article_key(outcome))
    return (found[0] if found else store.find_by_hash(outcome.content_hash)), None


def describe_new(store: Store, ids: list[int], known: set[str], feed: str, first: bool) -> list[NewArticle]:
    """The poll's new articles; `known_story` when the archive had the story before."""
    rows = store.articles(ids, with_text=False)
    return [
        NewArticle(rows[i], feed, first, rows[i].key in known or _story_predates(store, rows[i].group_id, ids))
        for i in ids
    ]


def _story_predates(store: Store, group_id: int | None, ids: list[int]) -> bool:
    """Whether the group has a member this poll did not bring."""
    if group_id is None:
        return False
    return any(member not in ids for member in store.groups.members(group_id))
