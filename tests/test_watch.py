"""Watching feeds over real HTTP (a copy of the local test site that the tests change)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import EXIT_SKIPPED, cli
from index.archive import Archive, ArchiveConfig
from index.article import ReadProblem
from index.store.rows import ArticleRow, NewArticle
from index.web.fetch import FetchSettings
from index.web.watch import MAX_ATTEMPTS, Announcement, Watcher, to_announce
from tests.http_fixture import LOOPBACK, WEB_ROOT, NewsServer
from tests.local_server import serving

FEED = "/feeds/news.rss"
OLD_PAGES = ["/articles/one.html", "/redirect/two", "/articles/two.html", "/articles/bare.html"]
NEW_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="{{{{BASE}}}}/articles/{name}.html"><meta property="og:site_name" content="Harbour Gazette">
</head><body><article><h1>{title}</h1>
<p>The town council voted on Tuesday evening to build a new footbridge over the river, ending a debate that
had run for more than a decade and divided the two halves of the old town.</p>
<p>Construction is due to start next spring and the bridge should open to walkers and cyclists a year later.</p>
</article></body></html>"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[NewsServer]:
    """The test site, copied so a test can add items to its feed."""
    root = tmp_path / "web"
    shutil.copytree(WEB_ROOT, root)
    yield from serving(NewsServer(root=root))


def publish(site: NewsServer, name: str, title: str) -> None:
    """A new page, and an item for it at the top of the feed."""
    (site.root / "articles" / f"{name}.html").write_text(NEW_PAGE.format(title=title, name=name))
    feed = site.root / "feeds" / "news.rss"
    item = f"<item><title>{title}</title><link>{{{{BASE}}}}/articles/{name}.html</link><guid>{name}</guid></item>"
    feed.write_text(feed.read_text().replace("<item>", item + "\n  <item>", 1))


def watcher(archive: Archive, site: NewsServer, *paths: str) -> Watcher:
    settings = FetchSettings(timeout=2.0, backoff=0.01, retries=0, allow=LOOPBACK)
    return Watcher(archive, [site.url(p) for p in paths or (FEED,)], settings)


async def test_first_poll_ingests_quietly_then_only_new_items_are_fetched_and_announced(archive, site):
    async with watcher(archive, site) as watch:
        first = await watch.poll_once()
        assert {a.article.title for a in first} == {
            "Harbour reopens after storm",
            "Council approves new tram line",
            "Library extends opening hours",
            "Ferry timetable changes",
        }
        assert archive.store.count("articles") == 4
        assert archive.check() == []
        assert to_announce(first).articles == [], "a feed's backlog is never announced"
        assert {p.source for p in watch.problems} == {site.url("/missing.html"), site.url("/private/secret.html")}

        publish(site, "bridge", "Council backs footbridge")
        second = await watch.poll_once()
        assert [a.article.title for a in second] == ["Council backs footbridge"]
        assert [a.title for a in to_announce(second).articles] == ["Council backs footbridge"]
        assert second[0].feed == site.url(FEED)
        assert second[0].article.url == site.url("/articles/bridge.html")

        assert await watch.poll_once() == []
    assert site.hits[FEED] == 3
    assert all(site.hits[page] == 1 for page in [*OLD_PAGES, "/articles/bridge.html"]), site.hits
    assert archive.store.count("articles") == 5
    assert archive.check() == []


async def test_a_failing_item_is_retried_a_few_times_then_given_up(archive, site):
    async with watcher(archive, site) as watch:
        for _ in range(MAX_ATTEMPTS + 2):
            await watch.poll_once()
    assert site.hits["/missing.html"] == MAX_ATTEMPTS
    assert site.hits["/private/secret.html"] == 0  # robots.txt: never fetched at all


async def test_a_busy_archive_stores_nothing_and_the_next_poll_catches_up(archive, site):
    async with watcher(archive, site) as watch:
        with archive.writing():  # another process ingesting or rebuilding
            assert await watch.poll_once() == []
        assert any("retried next poll" in p.reason for p in watch.problems)
        assert archive.store.count("articles") == 0
        caught_up = await watch.poll_once()
    assert len(caught_up) == 4
    assert all(a.first_poll for a in caught_up)


async def test_two_feeds_in_one_poll(archive, site):
    async with watcher(archive, site, FEED, "/feeds/news.atom") as watch:
        found = await watch.poll_once()
    assert {a.feed for a in found} == {site.url(FEED), site.url("/feeds/news.atom")}
    assert archive.store.count("articles") == 6


async def test_an_unreachable_feed_is_a_problem_and_stays_new(archive, site):
    async with watcher(archive, site, "/feeds/none.rss") as watch:
        assert await watch.poll_once() == []
        assert watch.problems == [ReadProblem(site.url("/feeds/none.rss"), "HTTP 404")]


def article(n: int, first_poll: bool = False, known_story: bool = False, **fields) -> NewArticle:
    row = {"title": f"Story {n}", "outlet": "Gazette", "url": f"https://g.example/{n}", "group_id": n, **fields}
    return NewArticle(ArticleRow(id=n, key=f"k{n}", published=None, **row), "feed", first_poll, known_story)


def test_announcements_are_capped_with_a_count_of_the_rest():
    announcement = to_announce([article(n) for n in range(13)], limit=10)
    assert len(announcement.articles) == 10
    assert announcement.more == 3
    lines = announcement.lines()
    assert lines[0] == "**Story 0** — Gazette <https://g.example/0>"
    assert lines[-1] == "…and 3 more"
    assert to_announce([article(1)]).lines() == ["**Story 1** — Gazette <https://g.example/1>"]


def test_known_stories_first_polls_and_repeats_are_not_announced():
    new = [
        article(1, first_poll=True),
        article(2, known_story=True),  # a version of a story the archive already had
        article(3),
        article(4, group_id=3),  # one story from two feeds in the same poll
        article(5, title=None, outlet=None, url=None),
    ]
    announcement = to_announce(new)
    assert [a.id for a in announcement.articles] == [3, 5]
    assert announcement.more == 0
    assert announcement.lines()[-1] == "**Untitled**"
    assert Announcement().lines() == []


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSBOT_FETCH_RETRIES", "0")
    monkeypatch.setenv("NEWSBOT_FETCH_ALLOW", "127.0.0.1")
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_watch_once_from_the_command_line(run, site, monkeypatch):
    monkeypatch.setenv("NEWSBOT_FEEDS", f"{site.url(FEED)}, {site.url('/feeds/news.atom')}")
    result = run("watch", "--once")
    assert result.exit_code == EXIT_SKIPPED, result.output
    assert "6 new articles" in result.output
    assert "Harbour reopens after storm — Harbour Gazette" in result.output
    assert f"{site.url('/missing.html')}: HTTP 404" in result.output
    again = run("watch", "--once")
    assert "0 new articles" in again.output
    assert site.hits["/articles/one.html"] == 1


def test_watch_embeds_what_a_crash_left_out_of_the_index(run, site, monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSBOT_FEEDS", site.url("/feeds/news.atom"))
    assert run("watch", "--once").exit_code == 0
    archive = Archive(tmp_path / "data", ArchiveConfig(model="fake"))
    missing = archive.store.chunk_ids()[:2]
    archive.vectors.remove(np.array(missing))
    archive.vectors.save(archive.vectors_path)
    archive.close()
    result = run("watch", "--once")
    assert f"embedded {len(missing)} chunks missing from the index" in result.output
    assert Archive(tmp_path / "data", ArchiveConfig(model="fake")).check() == []


def test_watch_needs_feeds(run, monkeypatch):
    monkeypatch.delenv("NEWSBOT_FEEDS", raising=False)
    result = run("watch", "--once")
    assert result.exit_code == 1
    assert "NEWSBOT_FEEDS" in result.output


async def test_run_polls_until_cancelled_and_survives_a_failing_poll(archive, site):
    import asyncio

    polls: list[int] = []

    async def on_poll(new: list[dict]) -> None:
        polls.append(len(new))
        if len(polls) == 1:
            raise RuntimeError("the channel is gone")  # logged; the watch goes on
        if len(polls) == 3:
            raise asyncio.CancelledError

    async with watcher(archive, site) as watch:
        with pytest.raises(asyncio.CancelledError):
            await watch.run(0.001, on_poll)
    assert polls == [4, 0, 0]
