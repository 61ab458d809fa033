"""Feeds and URLs read over real HTTP from the local test site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.article import Article, ReadProblem
from index.web.feeds import html_text, is_feed, is_url, parse_feed, read_feed, read_feed_sync, read_url
from index.web.fetch import Fetcher, FetchSettings
from tests.http_fixture import LOOPBACK, PACED_ITEMS, WEB_ROOT, NewsServer

Item = Article | ReadProblem
UTC = timezone.utc


def fetcher(**overrides: Any) -> Fetcher:
    return Fetcher(FetchSettings(**{"timeout": 2.0, "backoff": 0.01, "allow": LOOPBACK, **overrides}))


async def collect(reader: Callable[[str, Fetcher], AsyncIterator[Item]], url: str, **overrides: Any) -> list[Item]:
    async with fetcher(**overrides) as f:
        return [found async for found in reader(url, f)]


def articles(items: list[Item]) -> dict[str, Article]:
    """Articles by title, so tests read like the feed."""
    return {item.title or "": item for item in items if isinstance(item, Article)}


def problems(items: list[Item]) -> list[ReadProblem]:
    return [item for item in items if isinstance(item, ReadProblem)]


async def test_rss_items_become_articles(news_server: NewsServer) -> None:
    found = articles(await collect(read_feed, news_server.url("/feeds/news.rss")))
    harbour = found["Harbour reopens after storm"]
    assert harbour.url == news_server.url("/articles/one.html")  # the page's canonical link, no utm_source
    assert harbour.outlet == "Harbour Gazette"
    assert harbour.authors == ["Mara Quinn"]
    assert harbour.source_id == "gazette-1"
    # The page gives only the day; the feed's time of day on that day is kept.
    assert harbour.published == datetime(2024, 5, 6, 8, 30, tzinfo=UTC)
    assert "divers had cleared the channel" in harbour.text


async def test_feed_fills_what_the_page_lacks(news_server: NewsServer) -> None:
    library = articles(await collect(read_feed, news_server.url("/feeds/news.rss")))["Library extends opening hours"]
    assert library.url == news_server.url("/articles/bare.html")
    assert library.published == datetime(2024, 5, 4, 7, 15, tzinfo=UTC)
    assert library.authors == ["Olu Park"]
    assert "stay open until ten" in library.text


async def test_redirected_item_gets_its_final_url(news_server: NewsServer) -> None:
    tram = articles(await collect(read_feed, news_server.url("/feeds/news.rss")))["Council approves new tram line"]
    assert tram.url == news_server.url("/articles/two.html")
    assert news_server.hits["/redirect/two"] == 1


async def test_unfetchable_items_are_problems_and_the_rest_continues(news_server: NewsServer) -> None:
    items = await collect(read_feed, news_server.url("/feeds/news.rss"))
    reasons = {problem.source: problem.reason for problem in problems(items)}
    assert reasons == {
        news_server.url("/missing.html"): "HTTP 404",
        news_server.url("/private/secret.html"): "disallowed by robots.txt",
    }
    assert len(articles(items)) == 4
    assert news_server.hits["/private/secret.html"] == 0


async def test_unfetchable_page_with_feed_content_uses_that_content(news_server: NewsServer) -> None:
    ferry = articles(await collect(read_feed, news_server.url("/feeds/news.rss")))["Ferry timetable changes"]
    assert ferry.text == (
        "The summer ferry timetable starts on the first of June, with an extra evening crossing on Fridays.\n"
        "Tickets bought before the change remain valid on every sailing."
    )
    assert ferry.url == news_server.url("/gone.html")
    assert ferry.published == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert ferry.source_id == "gazette-5"


async def test_atom_entries_with_relative_links_and_empty_pages(news_server: NewsServer) -> None:
    items = await collect(read_feed, news_server.url("/feeds/news.atom"))
    found = articles(items)
    assert not problems(items)
    mural = found["Museum unveils restored mural"]
    assert mural.url == news_server.url("/articles/three.html")
    assert mural.published == datetime(2024, 5, 7, 10, tzinfo=UTC)
    assert mural.authors == ["Teo Brandt"]
    regatta = found["Regatta postponed"]  # its page has no body: the entry's own content stands in
    assert regatta.text == "The annual regatta has been postponed by a week because of the forecast gales."
    assert regatta.published == datetime(2024, 5, 6, 18, tzinfo=UTC)


async def test_broken_dates_keep_the_article_undated_and_name_the_item(news_server: NewsServer) -> None:
    items = await collect(read_feed, news_server.url("/feeds/broken-dates.xml"))
    library = articles(items)["Library extends opening hours"]
    assert library.published is None
    reasons = [problem.reason for problem in problems(items)]
    assert any("'Library extends opening hours'" in r and "'not a date at all'" in r for r in reasons)
    assert any("'Museum unveils restored mural'" in r and "'2024-13-45'" in r for r in reasons)


async def test_slow_page_times_out_and_the_rest_continues(news_server: NewsServer) -> None:
    items = await collect(read_feed, news_server.url("/feeds/slow.rss"), timeout=0.3)
    (problem,) = problems(items)
    assert problem.source == news_server.url("/slow")
    assert "timed out" in problem.reason
    assert list(articles(items)) == ["Harbour reopens after storm"]


async def test_item_pages_are_fetched_concurrently_within_the_host_limit(news_server: NewsServer) -> None:
    items = await collect(read_feed, news_server.url("/feeds/paced.rss"), per_host=3)
    assert len(items) == PACED_ITEMS
    assert all(isinstance(item, Article) for item in items)
    assert news_server.max_in_flight[news_server.host] == 3


async def test_unreachable_feed_is_one_problem(news_server: NewsServer) -> None:
    assert await collect(read_feed, news_server.url("/feeds/none.rss")) == [
        ReadProblem(news_server.url("/feeds/none.rss"), "HTTP 404")
    ]


async def test_html_page_given_as_feed_is_a_problem(news_server: NewsServer) -> None:
    (problem,) = await collect(read_feed, news_server.url("/articles/one.html"))
    assert isinstance(problem, ReadProblem)
    assert problem.reason.startswith("not a feed")


async def test_read_url_reads_a_bare_article_page(news_server: NewsServer) -> None:
    (article,) = await collect(read_url, news_server.url("/redirect/two"))
    assert isinstance(article, Article)
    assert article.url == news_server.url("/articles/two.html")
    assert article.title == "Council approves new tram line"


async def test_read_url_sniffs_a_feed_served_as_plain_xml(news_server: NewsServer) -> None:
    items = await collect(read_url, news_server.url("/feeds/broken-dates.xml"))
    assert set(articles(items)) == {"Library extends opening hours", "Museum unveils restored mural"}


async def test_read_url_reports_pages_without_an_article(news_server: NewsServer) -> None:
    (problem,) = await collect(read_url, news_server.url("/nobody.html"))
    assert isinstance(problem, ReadProblem)
    assert problem.source == news_server.url("/nobody.html")


def test_sync_wrapper_reads_a_feed(news_server: NewsServer) -> None:
    items = read_feed_sync(news_server.url("/feeds/news.atom"), FetchSettings(timeout=2.0, allow=LOOPBACK))
    assert set(articles(items)) == {"Museum unveils restored mural", "Regatta postponed"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/a", True),
        ("HTTP://Example.com", True),
        ("  http://127.0.0.1:8080/feed.xml ", True),
        ("ftp://example.com/a", False),
        ("example.com/a", False),
        ("data/archive.warc.gz", False),
        ("http://", False),
        ("http://exa mple.com", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_is_url(text: str, expected: bool) -> None:
    assert is_url(text) is expected


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/rss+xml; charset=utf-8", b"", True),
        ("application/atom+xml", b"", True),
        ("text/xml", b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- hi -->\n<rss version="2.0">', True),
        ("application/xml", b'<?xml version="1.0"?><?xml-stylesheet href="a.xsl"?><feed xmlns="x">', True),
        ("text/html", b"<rdf:RDF xmlns:rdf='x'>", True),
        ("text/html", b"<!DOCTYPE html><html><link type='application/rss+xml'> <rss", False),
        ("application/xml", b'<?xml version="1.0"?><urlset>', False),
    ],
)
def test_is_feed(content_type: str, body: bytes, expected: bool) -> None:
    assert is_feed(content_type, body) is expected


def test_parse_feed_never_fetches_what_it_is_given() -> None:
    items, found = parse_feed(b"http://127.0.0.1:9/feed.xml", "http://127.0.0.1:9/")
    assert items == []
    assert found[0].reason.startswith("not a feed")


def test_html_text_keeps_paragraphs_and_entities() -> None:
    assert html_text("<p>One &amp; <b>two</b></p><p>three<br>four</p>") == "One & two\nthree\nfour"
    assert html_text("<p>odd <![foo[ markup ]]> here &amp; there</p>") == "odd here & there"


FEEDS = [path.read_bytes() for path in sorted((WEB_ROOT / "feeds").iterdir())]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.tuples(st.sampled_from(FEEDS), st.floats(0, 1)).map(lambda pair: pair[0][: int(len(pair[0]) * pair[1])]),
    )
)
def test_parse_feed_never_raises(data: bytes) -> None:
    items, found = parse_feed(data, "http://127.0.0.1/feed")
    assert all(isinstance(problem, ReadProblem) for problem in found)
    assert all(item.published is None or item.published.utcoffset() is not None for item in items)
