from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

import pytest

import index.ingest.readers as readers
from index.article import Article, ReadProblem
from index.ingest import limits
from index.ingest.readers import jsonl as jsonl_module
from index.ingest.readers import read_path, register_reader
from index.ingest.readers.html import article_from_html
from index.ingest.readers.text import article_from_text

UTC = timezone.utc
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "seed" / "000_6b47ec4c9354f0a2.txt"
CORPORA = [
    SHARED / "data" / "realtimeqa" / "corpus_5k.jsonl.gz",
    SHARED / "data" / "reuters21578" / "reuters21578.jsonl.gz",
]


def split(items: Iterable[Article | ReadProblem]) -> tuple[list[Article], list[ReadProblem]]:
    items = list(items)
    return ([i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, ReadProblem)])


def by_id(articles: list[Article]) -> dict[str | None, Article]:
    return {a.source_id: a for a in articles}


# --- plain text ---------------------------------------------------------------


@pytest.mark.skipif(not SEED.exists(), reason="../shared is absent")
def test_seed_article() -> None:
    (article,) = read_path(SEED)
    assert isinstance(article, Article)
    assert article.title == "No Major Breakthroughs Expected From Putin-Macron Meeting – Kremlin"
    assert article.url == (
        "https://www.themoscowtimes.com/2022/02/07/"
        "no-major-breakthroughs-expected-from-putin-macron-meeting-kremlin-a76284"
    )
    assert article.outlet == "The Moscow Times"
    assert article.authors == ["AFP"]
    assert article.published == datetime(2022, 2, 7, tzinfo=UTC)
    assert "The Kremlin said Monday" in article.text
    assert "Original url" not in article.text
    assert "themoscowtimes.com" not in article.text
    assert "February 07, 2022" not in article.text
    assert "AFP" not in article.text
    assert article.text.endswith("Ukrainian President Volodymyr Zelenskiy.")
    assert article.source == str(SEED)


def test_layout_with_url_on_the_same_line_and_two_authors() -> None:
    (article,) = read_path(FIXTURES / "layout_article.txt")
    assert isinstance(article, Article)
    assert article.title == "City Council Approves New Tram Line"
    assert article.authors == ["Jane Doe", "John Roe"]
    assert article.published == datetime(2022, 2, 7, 7, tzinfo=UTC)
    assert article.url == "https://www.dw.com/en/city-council-approves-new-tram-line/a-60000000"
    assert article.outlet == "DW"
    assert article.text.startswith("The city council voted on Monday")
    assert article.text.endswith("take three years.")


def test_text_not_in_the_layout() -> None:
    (article,) = read_path(FIXTURES / "plain_note.txt")
    assert isinstance(article, Article)
    assert article.title == "Notes on the river festival"
    assert article.text.startswith("The festival drew a record crowd")
    assert article.published is None
    assert article.url is None
    assert article.authors == []


def test_text_with_only_a_title_is_a_problem() -> None:
    (problem,) = read_path(FIXTURES / "title_only.txt")
    assert problem == ReadProblem(str(FIXTURES / "title_only.txt"), "no text")


def test_date_line_before_by_line_and_crlf() -> None:
    text = "Title\r\n\r\n2022-06-12\r\nBy Ann Kim\r\nBody text.\r\nOriginal url:\r\n\r\nhttps://cnn.com/a\r\n"
    (article,) = article_from_text(text, "mem")
    assert isinstance(article, Article)
    assert (article.published, article.authors, article.text) == (
        datetime(2022, 6, 12, tzinfo=UTC),
        ["Ann Kim"],
        "Body text.",
    )
    assert (article.url, article.outlet) == ("https://cnn.com/a", "CNN")


def test_latin1_text_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    text = "Café au lait\nLe café était très chaud ce matin-là à Paris.\n"
    path.write_bytes(text.encode("latin-1"))
    (article,) = read_path(path)
    assert isinstance(article, Article)
    assert "café" in article.text.lower()
    assert "très" in article.text


# --- JSON ---------------------------------------------------------------------


def test_jsonl_aliases_and_problems() -> None:
    path = FIXTURES / "articles.jsonl"
    articles, problems = split(read_path(path))
    found = by_id(articles)
    assert set(found) == {"7", "b", "baddate", "undated"}
    rain = found["7"]
    assert rain.url == "https://www.npr.org/2022/06/12/1/rain"
    assert rain.title == "Heavy Rain Expected"
    assert rain.published == datetime(2022, 6, 12, 9, 15, tzinfo=UTC)
    assert rain.text.startswith("Forecasters warned")
    assert rain.authors == ["Sam Lee"]
    assert rain.outlet == "NPR News"
    assert rain.source == f"{path}:line 1"
    markets = found["b"]
    assert markets.authors == ["Ann Kim", "Bo Park"]
    assert markets.outlet == "AP News"
    assert markets.published == datetime(2022, 6, 12, tzinfo=UTC)
    assert found["baddate"].published is None
    assert found["undated"].published is None
    reasons = {p.source.removeprefix(f"{path}:"): p.reason for p in problems}
    assert set(reasons) == {"line 3", "line 5", "line 6", "line 7"}
    assert "invalid JSON" in reasons["line 3"]
    assert reasons["line 5"] == "no text"
    assert "date" in reasons["line 6"]
    assert "sometime last week" in reasons["line 6"]
    assert "JSON object" in reasons["line 7"]


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    data = (FIXTURES / "articles.jsonl").read_bytes()
    (tmp_path / "gzipped.jsonl").write_bytes(gzip.compress(data))
    (tmp_path / "plain.jsonl.gz").write_bytes(data)
    for name in ("gzipped.jsonl", "plain.jsonl.gz"):
        articles, problems = split(read_path(tmp_path / name))
        assert len(articles) == 4
        assert len(problems) == 4


def test_json_array_and_single_object() -> None:
    articles, problems = split(read_path(FIXTURES / "articles_array.json"))
    assert not problems
    assert [a.title for a in articles] == ["First", "Second"]
    assert all(a.published == datetime(2022, 2, 7, 10, tzinfo=UTC) for a in articles)
    assert articles[1].source == f"{FIXTURES / 'articles_array.json'}:item 2"
    (single,) = read_path(FIXTURES / "single.json")
    assert isinstance(single, Article)
    assert (single.source_id, single.outlet) == ("one", "France 24")
    assert single.published == datetime(2022, 6, 12, tzinfo=UTC)


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    lines = [f'{{"id": "{i}", "title": "T{i}", "text": "{"word " * 200}"}}\n' for i in range(300)]
    whole = gzip.compress("".join(lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    articles, problems = split(read_path(path))
    assert 0 < len(articles) < 300
    assert [a.source_id for a in articles] == [str(i) for i in range(len(articles))]
    (problem,) = problems
    assert problem.source.startswith(f"{path}:line ")
    assert "truncated" in problem.reason


def test_over_long_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text('{"text": "' + "x" * 500 + '"}\n{"id": "ok", "text": "short"}\n')
    with limits.use(max_line_bytes=100):
        articles, problems = split(read_path(path))
    assert [a.source_id for a in articles] == ["ok"]
    assert problems == [ReadProblem(f"{path}:line 1", "line longer than 100 bytes")]


def test_undecodable_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n{"text": "fine"}\n')
    articles, problems = split(read_path(path))
    assert [a.text for a in articles] == ["fine"]
    assert problems[0].source == f"{path}:line 1"


# --- HTML ---------------------------------------------------------------------


def test_html_page() -> None:
    (article,) = read_path(FIXTURES / "page.html")
    assert isinstance(article, Article)
    assert article.title == "Harbour Bridge Reopens After Repairs"
    assert article.url == "https://www.theguardian.com/world/2022/jun/12/harbour-bridge-reopens"
    assert article.outlet == "The Guardian"
    assert article.authors == ["Jane Doe"]
    assert article.published == datetime(2022, 6, 12, tzinfo=UTC)
    assert "harbour bridge reopened to traffic on Sunday" in article.text
    assert "Home" not in article.text
    assert "Copyright" not in article.text
    assert article.source == str(FIXTURES / "page.html")


def test_html_fallback_fills_what_the_page_lacks() -> None:
    page = (
        "<html><body><article><p>A long enough paragraph about the cat that sat on the "
        "mat all afternoon.</p></article></body></html>"
    )
    fallback = {
        "headline": "Cat",
        "pubDate": "Mon, 07 Feb 2022 10:00:00 +0300",
        "author": ["A B"],
        "link": "https://ignored.example/x",
    }
    article = article_from_html(page, url="https://www.bbc.co.uk/news/1", fallback=fallback)
    assert isinstance(article, Article)
    assert (article.title, article.authors) == ("Cat", ["A B"])
    assert article.url == "https://www.bbc.co.uk/news/1"
    assert article.outlet == "BBC"
    assert article.published == datetime(2022, 2, 7, 10, tzinfo=timezone(timedelta(hours=3)))
    assert article.source == "https://www.bbc.co.uk/news/1"


def test_html_canonical_url_wins_over_fetch_url() -> None:
    page = (FIXTURES / "page.html").read_bytes()
    article = article_from_html(page, url="https://m.example.com/amp/1?utm_source=x", source="s")
    assert isinstance(article, Article)
    assert article.url == "https://www.theguardian.com/world/2022/jun/12/harbour-bridge-reopens"


def test_xhtml_with_an_xml_declaration() -> None:
    page = (FIXTURES / "page.html").read_text().replace("<!DOCTYPE html>", '<?xml version="1.0" encoding="utf-8"?>')
    for html in (page, page.encode()):
        article = article_from_html(html, source="xhtml")
        assert isinstance(article, Article)
        assert article.title == "Harbour Bridge Reopens After Repairs"


def test_html_with_no_article() -> None:
    path = FIXTURES / "no_article.html"
    assert list(read_path(path)) == [ReadProblem(str(path), "no article text found")]
    assert article_from_html(b"") == ReadProblem("html", "no article text found")


def test_html_charsets_and_undecodable_bytes() -> None:
    body = "<p>Le café était très chaud ce matin-là, dit le patron du bistrot.</p>"
    latin = f'<html><head><meta charset="iso-8859-1"></head><body>{body}</body></html>'
    article = article_from_html(latin.encode("latin-1"), source="latin")
    assert isinstance(article, Article)
    assert "café était très" in article.text
    broken = b"<html><body><p>Caf\xe9 \xff\xfe\x80 and then a long enough sentence follows it here.</p></body></html>"
    article = article_from_html(broken, source="broken")
    assert isinstance(article, Article)
    assert "long enough sentence" in article.text
    for charset in ("undefined", "no-such-charset", "base64"):  # codecs that raise odd errors
        page = f'<meta charset="{charset}"><p>{body}</p>'.encode()
        article = article_from_html(page, source=charset)
        assert isinstance(article, Article)
        assert "café était très" in article.text


# --- read_path ----------------------------------------------------------------


def test_folder_is_read_recursively_sorted_and_skips_unknown(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("Second\nbody two")
    (tmp_path / "a.txt").write_text("First\nbody one")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden.txt").write_text("Hidden\nbody")
    assert [a.title for a in read_path(tmp_path)] == ["First", "Second"]  # type: ignore[union-attr]
    assert list(read_path(tmp_path / "notes.docx")) == [
        ReadProblem(str(tmp_path / "notes.docx"), "no reader for files like 'notes.docx'")
    ]


def test_missing_path(tmp_path: Path) -> None:
    (problem,) = read_path(tmp_path / "nope.jsonl")
    assert problem == ReadProblem(str(tmp_path / "nope.jsonl"), "no such file or folder")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked.jsonl"
    locked.write_text('{"text": "x"}\n')
    locked.chmod(0)
    shut = tmp_path / "shut"
    shut.mkdir()
    shut.chmod(0)
    try:
        problems = list(read_path(tmp_path))
    finally:
        locked.chmod(0o600)
        shut.chmod(0o700)
    assert all(isinstance(p, ReadProblem) for p in problems)
    assert {p.source for p in problems} == {str(locked), str(shut)}  # type: ignore[union-attr]


def test_io_errors_become_problems(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "x"}\n')

    def denied(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(jsonl_module, "open_binary", denied)
    assert list(read_path(path)) == [ReadProblem(str(path), "cannot read file: Permission denied")]
    monkeypatch.setattr(readers.os, "scandir", denied)
    assert list(read_path(tmp_path)) == [ReadProblem(str(tmp_path), "cannot list folder: Permission denied")]


def test_registered_reader_and_its_failures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(readers, "READERS", dict(readers.READERS))

    def read_warc(path: Path) -> Iterable[Article | ReadProblem]:
        yield Article(text="from a warc")  # no source: read_path sets it
        raise RuntimeError("bad record")

    register_reader(("WARC.GZ",), read_warc)
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(b"x")
    article, problem = read_path(path)
    assert isinstance(article, Article)
    assert article.source == str(path)
    assert problem == ReadProblem(str(path), "cannot read file: RuntimeError: bad record")


# --- the real corpora ---------------------------------------------------------


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.parent.name)
def test_first_50_articles_of_each_real_corpus(corpus: Path) -> None:
    if not corpus.exists():
        pytest.skip("../shared/data is absent")
    items = list(islice(read_path(corpus), 50))
    assert len(items) == 50
    assert all(isinstance(i, Article) for i in items)
    for number, article in enumerate(items, 1):
        assert isinstance(article, Article)
        assert article.text
        assert article.source_id
        assert article.published is not None
        assert article.published.tzinfo is not None
        assert article.source == f"{corpus}:line {number}"
    if "realtimeqa" in str(corpus):
        outlets = {"CNN", "USA Today", "The Week"}
        assert all(isinstance(a, Article) and a.url and a.outlet in outlets for a in items)
    else:
        first = items[0]
        assert isinstance(first, Article)
        assert first.title == "Bahia Cocoa Review"
        assert first.published == datetime(1987, 2, 26, 15, 1, 1, 790000, tzinfo=UTC)
