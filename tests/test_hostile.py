"""Hostile input, as an attacker or an unlucky operator would give it (issue 10's table).

Each case is a small fixture generated in tmp_path, with limits lowered so it stays small and fast;
network cases talk only to the local test server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from bot.cli import EXIT_SKIPPED, cli, redact
from index.archive import Archive, ArchiveConfig
from index.article import Article, ReadProblem
from index.embedding import FakeEmbedder
from index.ingest import limits
from index.ingest.readers import read_path
from index.ingest.readers.warc import read_warc
from index.search import search
from index.web import netguard
from index.web.feeds import parse_feed, read_feed
from index.web.fetch import Fetcher, FetchSettings
from index.web.watch import Watcher
from tests.conftest import NEWS, REPO, make_article
from tests.http_fixture import LOOPBACK, NewsServer


def split(items: Any) -> tuple[list[Article], list[ReadProblem]]:
    found = list(items)
    return [i for i in found if isinstance(i, Article)], [i for i in found if isinstance(i, ReadProblem)]


def fetcher(**overrides: Any) -> Fetcher:
    return Fetcher(FetchSettings(**{"timeout": 2.0, "backoff": 0.01, "retries": 0, **overrides}))


# --- network: no fetches of internal addresses ---------------------------------------------------

FORBIDDEN_HOSTS = [
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "0",
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "[fe80::1]",
    "[fc00::1]",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "255.255.255.255",
    "[2002:7f00:1::]",
    "[64:ff9b::a00:1]",
    "localhost",
    "LOCALHOST.",
    "printer.local",
    "db.internal",
]


@pytest.mark.parametrize("host", FORBIDDEN_HOSTS)
def test_internal_hosts_are_refused_in_every_spelling(host: str) -> None:
    problem = netguard.host_problem(host, netguard.Allow())
    assert problem is not None
    assert problem.endswith((" address", " is a local name")), problem  # says why, in one line


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:4700:4700::1111]", "news.example.com", "8.8.8.8"])
def test_public_hosts_pass_the_name_check(host: str) -> None:
    assert netguard.host_problem(host, netguard.Allow()) is None


def test_allow_takes_hosts_and_networks() -> None:
    allow = netguard.parse_allow(["intranet.example", "10.0.0.0/8", " ", "[::1]"])
    assert netguard.host_problem("intranet.example", allow) is None
    assert netguard.host_problem("10.1.2.3", allow) is None
    assert netguard.host_problem("0x0a000001", allow) is None
    assert netguard.host_problem("[::1]", allow) is None
    assert netguard.host_problem("[::ffff:10.0.0.1]", allow) is None
    assert netguard.host_problem("192.168.0.1", allow) == "192.168.0.1 is a private address"


def test_every_resolved_address_must_pass() -> None:
    infos = [(socket.AF_INET, 0, 0, "", ("93.184.216.34", 80)), (socket.AF_INET, 0, 0, "", ("10.0.0.5", 80))]
    with pytest.raises(netguard.AddressRefused, match="private"):
        netguard.checked_addresses("mixed.example", infos, netguard.Allow())


async def test_loopback_is_never_requested_without_allow(news_server: NewsServer) -> None:
    async with fetcher() as f:
        for url in (
            news_server.url("/articles/one.html"),
            f"http://0x7f000001:{news_server.port}/articles/one.html",
            f"http://2130706433:{news_server.port}/articles/one.html",
            f"http://[::1]:{news_server.port}/",
        ):
            result = await f.fetch(url)
            assert not result.ok
            assert "refused" in (result.error or "")
    assert sum(news_server.hits.values()) == 0


def _resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> list[str]:
    """A DNS that answers `names` (a name → an address); returns the names it was asked."""
    asked: list[str] = []

    async def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]

    monkeypatch.setattr(netguard.anyio, "getaddrinfo", getaddrinfo)
    return asked


async def test_a_name_resolving_to_loopback_is_refused(
    news_server: NewsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolving(monkeypatch, {"rebind.example": "127.0.0.1"})
    async with fetcher(respect_robots=False) as f:
        result = await f.fetch(f"http://rebind.example:{news_server.port}/articles/one.html")
    assert "refused rebind.example: 127.0.0.1 is a loopback address" in (result.error or "")
    assert sum(news_server.hits.values()) == 0


async def test_the_connection_goes_to_the_address_that_was_checked(
    news_server: NewsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No system resolver knows pinned.example: the page can only come from the checked address."""
    asked = _resolving(monkeypatch, {"pinned.example": "127.0.0.1"})
    async with fetcher(allow=LOOPBACK, respect_robots=False) as f:
        result = await f.fetch(f"http://pinned.example:{news_server.port}/articles/one.html")
    assert result.ok
    assert result.status == 200
    assert asked == ["pinned.example"]


async def test_each_redirect_hop_is_checked(news_server: NewsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, {"site.example": "127.0.0.1"})
    start = f"http://site.example:{news_server.port}/redirect-to?url="
    async with fetcher(allow=("site.example",), respect_robots=False) as f:
        to_loopback = await f.fetch(start + news_server.url("/articles/one.html"))
        to_metadata = await f.fetch(start + "http://169.254.169.254/latest/meta-data/")
    assert "127.0.0.1 is a loopback address" in (to_loopback.error or "")
    assert "169.254.169.254 is a link-local address" in (to_metadata.error or "")
    assert news_server.hits["/redirect-to"] == 2
    assert news_server.hits["/articles/one.html"] == 0


async def test_robots_txt_is_checked_for_every_hop(news_server: NewsServer) -> None:
    async with fetcher(allow=LOOPBACK) as f:
        result = await f.fetch(news_server.url("/redirect-to?url=/private/secret.html"))
    assert result.error == "disallowed by robots.txt"
    assert news_server.hits["/private/secret.html"] == 0


async def test_robots_txt_is_cached_for_its_ttl_and_errors_are_retried() -> None:
    answers = iter([503, 200, 200])
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/robots.txt":
            return httpx.Response(next(answers), text="User-agent: *\nDisallow: /private/\n")
        return httpx.Response(200, text="fine")

    now = [0.0]
    settings = FetchSettings(retries=0, robots_ttl=100.0, robots_error_ttl=10.0)
    async with Fetcher(settings, transport=httpx.MockTransport(answer), clock=lambda: now[0]) as f:
        assert "robots.txt unreachable" in ((await f.fetch("https://news.example/a")).error or "")
        now[0] = 5.0
        assert not (await f.fetch("https://news.example/a")).ok  # within the error TTL: still closed
        now[0] = 11.0
        assert (await f.fetch("https://news.example/a")).ok  # asked again
        now[0] = 50.0
        assert (await f.fetch("https://news.example/b")).ok
        now[0] = 200.0
        assert (await f.fetch("https://news.example/c")).ok
    assert asked.count("/robots.txt") == 3


async def test_credentials_are_never_stored_or_shown(news_server: NewsServer) -> None:
    secret_url = f"http://reader:hunter2@127.0.0.1:{news_server.port}"
    async with fetcher(allow=LOOPBACK) as f:
        page = await f.fetch(secret_url + "/articles/one.html")
        items = [item async for item in read_feed(secret_url + "/feeds/news.atom", f)]
        missing = [item async for item in read_feed(secret_url + "/no-such-feed.rss", f)]
    assert page.ok
    assert "hunter2" not in page.url + page.final_url
    assert items
    assert all("hunter2" not in repr(item) for item in items + missing)
    feed = b'<rss version="2.0"><channel><item><title>T</title><link>https://u:pw@a.example/x</link></item></channel></rss>'
    (item,), _ = parse_feed(feed, "https://a.example/feed")
    assert item.url == "https://a.example/x"
    assert Article(text="t", url="https://u:pw@a.example/y").url == "https://a.example/y"
    assert "pw" not in ReadProblem("https://u:pw@a.example/z", "see https://u:pw@b.example/").reason


async def test_a_slow_loris_page_is_cut_off_by_the_page_deadline(news_server: NewsServer) -> None:
    async with fetcher(allow=LOOPBACK, page_deadline=0.5, deadline=30.0) as f:
        result = await f.fetch(news_server.url("/trickle"))
    assert not result.ok
    assert "page not fetched within 0.5s" in (result.error or "")


def test_a_feed_poll_takes_at_most_the_item_limit() -> None:
    items = "".join(f"<item><title>T{n}</title><link>https://a.example/{n}</link></item>" for n in range(40))
    feed = f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    found, problems = parse_feed(feed, "https://a.example/feed", max_items=5)
    assert [i.title for i in found] == ["T0", "T1", "T2", "T3", "T4"]
    assert [p.reason for p in problems] == ["feed lists 40 items; only the first 5 taken"]


# --- one bad record never stops anything ----------------------------------------------------------


def test_an_out_of_range_date_is_kept_undated_and_the_file_goes_on(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "dates.jsonl"
    lines = [
        {"url": "https://a.example/1", "text": "First text.", "published": "0001-01-01T00:00:00+05:00"},
        {"url": "https://a.example/2", "text": "Second text.", "published": "9999-12-31T23:00:00-05:00"},
        {"url": "https://a.example/3", "text": "Third text.", "published": "2022-02-07"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = archive.ingest(read_path(path), progress=False)
    assert report.added == 3
    assert [p.source for p in report.problems] == [f"{path}:line 1", f"{path}:line 2"]
    assert all("undated" in p.reason for p in report.problems)


def test_an_article_built_with_an_unstorable_date_is_stored_undated(archive: Archive) -> None:
    tz = timezone(timedelta(hours=5))
    report = archive.ingest([make_article(1, published=datetime(1, 1, 1, tzinfo=tz)), make_article(2)], progress=False)
    assert report.added == 2
    assert [p.reason for p in report.problems] == ["date out of range, article kept undated"]


def test_an_article_that_fails_to_store_is_reported_and_the_batch_goes_on(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = archive.ingester._store_one

    def failing(item: Article, report: Any) -> None:
        if item.title == "Headline 2":
            raise RecursionError("maximum recursion depth exceeded")
        original(item, report)

    monkeypatch.setattr(archive.ingester, "_store_one", failing)
    report = archive.ingest([make_article(n) for n in range(1, 4)], progress=False)
    assert report.added == 2
    assert archive.store.count("articles") == 2
    assert "not stored: RecursionError" in report.problems[0].reason


def _gzip_bomb(path: Path, size: int) -> None:
    with gzip.open(path, "wb") as out:
        for _ in range(size // 1_000_000):
            out.write(bytes(1_000_000))


def test_a_warc_gzip_bomb_is_bounded_with_a_short_message(tmp_path: Path) -> None:
    path = tmp_path / "zeros.warc.gz"
    _gzip_bomb(path, 20_000_000)  # 20 MB of zeros in ~20 KB: one endless first line
    with limits.use(max_warc_header_bytes=64 * 1024):
        found = list(read_warc(path))
    assert found
    assert all(isinstance(item, ReadProblem) for item in found)
    assert all(len(item.reason) <= 300 for item in found)


def test_a_warc_flood_of_header_lines_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "headers.warc.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"WARC/1.0\r\nWARC-Type: response\r\n" + b"X-Junk: y\r\n" * 200_000)
    with limits.use(max_warc_header_bytes=64 * 1024):
        (problem,) = read_warc(path)
    assert "header lines over 65536 bytes" in problem.reason


def test_one_deeply_nested_value_loses_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"text": ' + "[" * 900 + '"x"' + "]" * 900 + "}"
    good = [json.dumps({"id": str(n), "text": f"Text {n}."}) for n in range(5)]
    path.write_text("\n".join([deep, *good]) + "\n")
    with limits.use(max_json_depth=20):
        articles, problems = split(read_path(path))
    assert [a.source_id for a in articles] == ["0", "1", "2", "3", "4"]
    assert problems == [ReadProblem(f"{path}:line 1", "JSON nested deeper than 20 levels")]


def test_a_newline_bomb_is_skipped_at_c_speed_with_line_numbers_kept(tmp_path: Path) -> None:
    path = tmp_path / "newlines.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"\n" * 5_000_000 + b"   \r\n" * 1000 + b'{"text": "at the end"}\n' + b"[1]\n")
    articles, problems = split(read_path(path))
    assert [a.source for a in articles] == [f"{path}:line 5001001"]
    assert problems == [ReadProblem(f"{path}:line 5001002", "expected a JSON object, got list")]


def test_a_gzip_bomb_of_json_lines_stops_at_the_decompressed_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(b'{"text": "first"}\n' + b" " * 5_000_000)
    with limits.use(max_decompressed_bytes=1_000_000):
        articles, problems = split(read_path(path))
    assert [a.text for a in articles] == ["first"]
    assert "decompresses to over 1000000 bytes" in problems[0].reason


def test_a_long_json_line_and_a_big_document_are_refused(tmp_path: Path) -> None:
    lines, document = tmp_path / "long.jsonl", tmp_path / "array.json"
    lines.write_text(json.dumps({"text": "x" * 5000}) + "\n" + json.dumps({"text": "short"}) + "\n")
    document.write_text(json.dumps([{"text": "y" * 100} for _ in range(100)]))  # one line of 11 kB
    one_line_array = tmp_path / "one-line.json"
    one_line_array.write_text(json.dumps([{"text": f"z{n}"} for n in range(100)]))
    with limits.use(max_line_bytes=1000):
        long_articles, long_problems = split(read_path(lines))
    with limits.use(max_document_bytes=5000, max_line_bytes=1000):
        _, document_problems = split(read_path(document))
        one_line_articles, _ = split(read_path(one_line_array))
    assert len(one_line_articles) == 100  # an array on one over-long line is still a document
    assert [a.text for a in long_articles] == ["short"]
    assert "line longer than 1000 bytes" in long_problems[0].reason
    assert "JSON document over 5000 bytes" in document_problems[0].reason


def test_article_size_and_headline_length_are_capped(archive: Archive) -> None:
    with limits.use(max_article_chars=200, max_title_chars=30):
        report = archive.ingest(
            [make_article(1, text="word " * 100), make_article(2, title="H" * 1000)], progress=False
        )
    assert report.added == 1
    assert [p.reason for p in report.problems] == [
        "article text over 200 characters; not stored",
        "headline over 30 characters, cut",
    ]
    (row,) = archive.store.iter_articles()
    assert len(row.title or "") == 30


def test_a_file_full_of_problems_is_abandoned_after_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_text("not json\n" * 50)
    with limits.use(max_problems_per_file=10):
        problems = list(read_path(path))
    assert len(problems) == 11
    assert "the rest of it is skipped" in problems[-1].reason


def test_special_files_are_refused_and_never_block(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "good.txt").write_text("A headline\n\nA body that is fine.\n")
    articles, problems = split(read_path(folder))
    assert [a.title for a in articles] == ["A headline"]
    reasons = {Path(p.source).name: p.reason for p in problems}
    assert reasons == {
        "pipe.txt": "not a regular file (a FIFO); not read",
        "zero.txt": "not a regular file (a character device); not read",
        "empty.jsonl": "empty file",
        "binary.txt": "binary content, not text",
    }
    (problem,) = read_path(folder / "pipe.txt")
    assert "FIFO" in problem.reason


def test_symlinked_folders_are_followed_once_and_loops_reported(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    root.mkdir()
    (outside / "story.txt").write_text("Linked headline\n\nBody of a linked story.\n")
    (root / "linked").symlink_to(outside)
    (root / "loop").symlink_to(root)
    articles, problems = split(read_path(root))
    assert [a.title for a in articles] == ["Linked headline"]
    assert [Path(p.source).name for p in problems] == ["loop"]
    assert "already read" in problems[0].reason


async def test_one_failing_feed_or_item_never_loses_the_others(
    archive: Archive, news_server: NewsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.web.watch as watch_module

    real_item, real_parse = watch_module._item_article, watch_module.parse_feed

    async def item_article(item: Any, fetcher: Fetcher, feed_url: str) -> Article | ReadProblem:
        if item.url and "/articles/one.html" in item.url:
            raise OverflowError("date value out of range")
        return await real_item(item, fetcher, feed_url)

    def parse(data: bytes, url: str, *args: Any) -> Any:
        if url.endswith("/feeds/news.atom"):
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(data, url, *args)

    monkeypatch.setattr(watch_module, "_item_article", item_article)
    monkeypatch.setattr(watch_module, "parse_feed", parse)
    feeds = [news_server.url("/feeds/news.rss"), news_server.url("/feeds/news.atom")]
    async with Watcher(archive, feeds, FetchSettings(timeout=2.0, retries=0, allow=LOOPBACK)) as watcher:
        new = await watcher.poll_once()
    reasons = [p.reason for p in watcher.problems]
    assert new
    assert all(a.feed == feeds[0] for a in new)
    assert "item failed: OverflowError: date value out of range" in reasons
    assert "poll failed: RecursionError: maximum recursion depth exceeded" in reasons


# --- long-running processes stay current ----------------------------------------------------------


def opened(data_dir: Path) -> Archive:
    return Archive(data_dir, ArchiveConfig(model="fake", chunk_tokens=60, overlap_tokens=12), embedder=FakeEmbedder())


def test_a_reader_sees_what_another_archive_ingested(tmp_path: Path) -> None:
    reader, writer = opened(tmp_path / "d"), opened(tmp_path / "d")
    writer.ingest(NEWS[:2], progress=False)
    assert reader.refresh()
    assert len(reader.vectors or []) == len(writer.vectors or [])
    assert search(reader, "USB-C charger", k=1).results[0].title == NEWS[0].title
    writer.ingest(NEWS[2:], progress=False)
    assert search(reader, "Sudan prime minister resigns", k=1).results[0].title == NEWS[2].title
    assert not reader.refresh()  # nothing new: a cheap no-op
    reader.close()
    writer.close()


def test_a_long_running_archive_keeps_working_across_an_external_rebuild(tmp_path: Path) -> None:
    data = tmp_path / "d"
    bot = opened(data)
    bot.ingest(NEWS[:2], progress=False)
    env = {
        **os.environ,
        "NEWSBOT_EMBEDDING_MODEL": "fake",
        "NEWSBOT_CHUNK_TOKENS": "60",
        "NEWSBOT_OVERLAP_TOKENS": "12",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "index", "rebuild", "--quiet", "--data-dir", str(data)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = bot.ingest(NEWS[2:], progress=False)  # no "readonly database" after the swap
    assert report.added == 2
    assert bot.check() == []
    assert bot.stats().index_build_id
    assert search(bot, "wheat prices", k=1).results[0].title == NEWS[3].title
    other = opened(data)
    assert other.store.count("articles") == 4
    assert other.check() == []
    bot.close()
    other.close()


# --- clear errors ---------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    archive = opened(tmp_path / "data")
    archive.ingest(NEWS, progress=False)
    archive.close()

    def invoke(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize(
    "args",
    [
        ("search", "wheat", "--k", "-1"),
        ("search", "wheat", "--k", "100000"),
        ("ask", "wheat?", "--since", "0001-01-01"),
        ("ask", "wheat?", "--until", "9999-12-31"),
        ("search", "wheat", "--as-of", "1e400"),
        ("search", "wheat", "--since", "not a date"),
    ],
)
def test_bad_values_are_one_line_usage_errors(run: Any, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: Invalid value")


def test_a_bad_batch_line_is_an_error_line_and_the_rest_answer(run: Any) -> None:
    lines = [
        '{"query": "wheat", "k": 1e400}',
        '{"query": "wheat", "k": -3}',
        '{"query": "wheat", "until": "0001-01-01"}',
        '{"query": "wheat", "k": 1}',
    ]
    result = run("search", "--batch", "-", stdin="\n".join(lines) + "\n")
    outputs = [json.loads(line) for line in result.output.splitlines()]
    assert [o.get("line") for o in outputs[:3]] == [1, 2, 3]
    assert all("error" in o for o in outputs[:3])
    assert len(outputs[3]["results"]) == 1
    assert result.exit_code == 0


def test_disk_full_is_one_line_and_nothing_is_lost(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Archive, *args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Archive, "ingest", full)
    (tmp_path / "a.txt").write_text("Headline\n\nBody.\n")
    result = run("ingest", str(tmp_path / "a.txt"), "--quiet")
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "Error: the disk is full: nothing stored so far is lost; free some space and run the command again"
    )


def test_a_bad_setting_is_one_line(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_FEED_MAX_ITEMS", "lots")
    result = run("index", "stats")
    assert result.exit_code == 1
    assert result.output.startswith("Error: bad setting: NEWSBOT_FEED_MAX_ITEMS")


def test_a_token_echoed_by_discord_is_never_printed() -> None:
    token = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
    assert token not in redact(f"401 Unauthorized: bad token {token}")
    assert "s3cret" not in redact("body echoes s3cret", "s3cret")


def test_problems_name_file_and_line_and_stay_short(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "fine"}\n{"text": ' + '"' + "z" * 5000 + "\n")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--quiet"], catch_exceptions=False)
    assert result.exit_code == EXIT_SKIPPED
    (line,) = [line for line in result.stderr.splitlines() if "mixed.jsonl:line 2" in line]
    assert "invalid JSON" in line
    assert len(line) < 400
