"""Nothing is lost: real `newsbot` processes killed mid-way (SIGKILL), a crash mid-save, an index
missing chunks, and bad input of every kind for every reader."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.cli import EXIT_SKIPPED, cli
from index.archive import Archive, ArchiveConfig
from index.article import Article, ReadProblem
from index.embedding import FakeEmbedder
from index.ingest.readers import READERS, read_path
from index.search import search
from index.store import DB_NAME
from index.web.feeds import parse_feed
from tests.http_fixture import NewsServer

CONFIG = ArchiveConfig(model="fake", chunk_tokens=60, overlap_tokens=12)
ARTICLES = 400  # two store transactions of 200: a kill after the first commit lands inside the second
SLOW = "fake:delay=0.002"  # seconds per text tokenised or embedded: slow enough to kill mid-way
QUERIES = ["harbour council vote", "prices rise sharply", "storm damage repairs"]


# --- a corpus and a way to run newsbot as its own process


def write_corpus(path: Path, n: int = ARTICLES) -> Path:
    """Distinct made-up stories, every tenth followed by a lightly edited version from another outlet."""
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    words += QUERIES[0].split() + QUERIES[1].split() + QUERIES[2].split()
    lines = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(70)) + "."
        record = {
            "url": f"https://wire.example/{i}",
            "title": f"Story {i}",
            "outlet": "Wire",
            "text": text,
            "published": f"2023-01-{1 + i % 28:02d}",
        }
        lines.append(record)
        if i % 10 == 0:
            edited = text.replace(text.split()[5], "changed", 1)
            lines.append(
                {
                    **record,
                    "url": f"https://paper.example/{i}",
                    "outlet": "Paper",
                    "text": edited,
                    "published": f"2023-02-{1 + i % 28:02d}",
                }
            )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def newsbot(data: Path, *args: str, model: str = "fake", config: ArchiveConfig = CONFIG) -> subprocess.Popen:
    """`newsbot ARGS` in its own process on the archive in `data`, with the chunking of `config`."""
    env = {
        **os.environ,
        "NEWSBOT_EMBEDDING_MODEL": model,
        "NEWSBOT_DATA_DIR": str(data),
        "NEWSBOT_CHUNK_TOKENS": str(config.chunk_tokens),
        "NEWSBOT_OVERLAP_TOKENS": str(config.overlap_tokens),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=data.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def db_value(path: Path, sql: str) -> int:
    """A value read from another process's database, 0 while it does not exist yet."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 30) -> None:
    """SIGKILL the process as soon as `ready()`; it must still be working then."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"finished before the kill point: {process.communicate()}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.01)
    assert process.poll() is None, "finished before the kill point"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def snapshot(archive: Archive) -> dict:
    """Everything a reader can see, by content rather than by row id."""
    db = archive.store.db
    keys = dict(db.execute("SELECT id, key FROM articles").fetchall())
    groups: dict[int, set[str]] = {}
    for article_id, group_id in db.execute("SELECT id, group_id FROM articles"):
        groups.setdefault(group_id, set()).add(keys[article_id])
    chunk_ids = set(archive.store.chunk_ids())
    assert set(archive.vectors.ids().tolist()) == chunk_ids, "vectors == chunks"
    assert {r[0] for r in db.execute("SELECT rowid FROM chunks_fts")} == chunk_ids
    assert archive.check() == []
    return {
        "articles": set(db.execute("SELECT key, content_hash FROM articles").fetchall()),
        "chunks": {(keys[a], p, t) for a, p, t in db.execute("SELECT article_id, position, text FROM chunks")},
        "groups": {frozenset(g) for g in groups.values() if len(g) > 1},
    }


def opened(data: Path) -> Archive:
    return Archive(data, CONFIG, embedder=FakeEmbedder())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "wire.jsonl")


@pytest.fixture(scope="module")
def clean_run(corpus: Path, tmp_path_factory) -> dict:
    archive = opened(tmp_path_factory.mktemp("clean") / "data")
    archive.ingest(read_path(corpus), progress=False)
    try:
        return snapshot(archive)
    finally:
        archive.close()


# --- killed processes


def stored_articles(data: Path) -> int:
    return db_value(data / DB_NAME, "SELECT count(*) FROM articles")


@pytest.mark.parametrize("phase", ["storing", "embedding"])
def test_a_killed_ingest_resumes_to_the_same_archive(corpus, clean_run, tmp_path, phase):
    data = tmp_path / "data"
    total = len(corpus.read_text().splitlines())
    process = newsbot(data, "ingest", str(corpus), "--quiet", model=SLOW)
    if phase == "storing":  # the first transaction is committed, the second is half done
        kill_when(process, lambda: 0 < stored_articles(data) < total)
    else:  # every article stored, no vector saved yet
        kill_when(process, lambda: stored_articles(data) == total)
    before = stored_articles(data)
    out = finish(newsbot(data, "ingest", str(corpus), "--quiet"))
    assert f"unchanged {before}," in out, "what was committed is not stored again"
    archive = opened(data)
    assert snapshot(archive) == clean_run
    archive.close()


def results(archive: Archive) -> list[list[tuple]]:
    return [[(r.article_id, r.title, round(r.score, 9)) for r in search(archive, q, k=5).results] for q in QUERIES]


def test_a_killed_rebuild_leaves_the_previous_index_answering(corpus, tmp_path):
    data = tmp_path / "data"
    archive = opened(data)
    archive.ingest(read_path(corpus), progress=False)
    archive.rebuild(progress=False)
    before = results(archive), archive.store.get_meta("index_build_id"), archive.vectors_path
    archive.close()
    process = newsbot(data, "index", "rebuild", "--quiet", model=SLOW)
    kill_when(process, lambda: db_value(data / f"{DB_NAME}.rebuild", "SELECT count(*) FROM chunks") > 100)
    assert (data / f"{DB_NAME}.rebuild").exists(), "killed in the middle of the rebuild"
    orphans = leave_orphans(data)

    archive = opened(data)
    assert (results(archive), archive.store.get_meta("index_build_id"), archive.vectors_path) == before
    assert archive.check() == [], "opening clears what the crash left"
    assert not any(p.exists() for p in orphans), "opening clears what the crash left"
    archive.close()

    orphans = leave_orphans(data)
    assert "rebuilt:" in finish(newsbot(data, "index", "rebuild", "--quiet"))
    archive = opened(data)
    assert archive.store.get_meta("index_build_id") != before[1]
    assert archive.check() == []
    assert sorted(p.name for p in data.glob("vectors*")) == [archive.vectors_path.name]
    assert not any(p.exists() for p in orphans)
    assert [[title for _, title, _ in found] for found in results(archive)] == [[t for _, t, _ in f] for f in before[0]]
    archive.close()


def leave_orphans(data: Path) -> list[Path]:
    """What a rebuild killed at other moments leaves: its database, a half-written and a whole index."""
    orphans = [
        data / f"{DB_NAME}.rebuild",
        data / "vectors-20240101T000000-0badf00d.faiss",
        data / "vectors-20240101T000000-0badf00d.faiss.tmp",
    ]
    for path in orphans:
        path.write_bytes(b"\x00half written")
    return orphans


# --- a crash mid-save, an index missing chunks


def test_a_crash_mid_save_of_the_index_is_harmless(tmp_path):
    archive = opened(tmp_path / "data")
    archive.ingest([_article(n) for n in range(5)], progress=False)
    tmp = archive.vectors_path.with_name(archive.vectors_path.name + ".tmp")
    archive.close()
    tmp.write_bytes(b"FAISS index cut short by a power failure")
    archive = opened(tmp_path / "data")
    assert archive.check() == []
    assert search(archive, "topic3", k=1).results[0].title == "Headline 3"
    assert not tmp.exists()
    assert archive.ingest([_article(9)], progress=False).embedded == 1
    assert archive.check() == []
    archive.close()


def _article(n: int) -> Article:
    return Article(
        text=f"Story number {n} tells about topic{n} at length.",
        title=f"Headline {n}",
        url=f"https://news.example.com/{n}",
        outlet="Example",
    )


def drop_vectors(data: Path, count: int) -> None:
    archive = opened(data)
    archive.vectors.remove(np.array(archive.store.chunk_ids()[:count]))
    archive.vectors.save(archive.vectors_path)
    archive.close()


def test_repair_embeds_just_the_missing_chunks(tmp_path):
    archive = opened(tmp_path / "data")
    archive.ingest([_article(n) for n in range(6)], progress=False)
    archive.close()
    drop_vectors(tmp_path / "data", 3)
    archive = opened(tmp_path / "data")
    assert any("newsbot index sync" in p for p in archive.check())
    assert archive.repair() == 3
    assert archive.check() == []
    assert archive.repair() == 0
    with archive.writing():  # another process writing: it will sync the index itself
        assert archive.repair() == 0
    archive.close()


def test_ingest_repairs_while_search_and_ask_only_warn(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.chdir(tmp_path)
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(corpus.read_text().splitlines()[:5]) + "\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(small), "--quiet", "--data-dir", "d"]).exit_code == 0
    drop_vectors(tmp_path / "d", 2)
    for command in (["search", "harbour"], ["ask", "What did the harbour council vote on?"]):
        result = runner.invoke(cli, [*command, "--data-dir", "d"])
        assert result.exit_code == 0
        assert "warning:" in result.stderr
        assert "newsbot index sync" in result.stderr
    assert "2 embedded" in runner.invoke(cli, ["ingest", str(small), "--quiet", "--data-dir", "d"]).output
    assert not Archive(tmp_path / "d", ArchiveConfig(model="fake")).check()


# --- bad input, for every reader

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
SUFFIXES = sorted(READERS)  # every registered reader: text, JSON, HTML, WARC/ARC, gzipped or not
ENCODINGS = ["utf-8", "utf-16", "latin-1", "cp1252", "cp1251", "shift_jis", "koi8_r"]


def read_file(suffix: str, data: bytes) -> list[Article | ReadProblem]:
    """What read_path makes of `data` in a file named *suffix: articles and problems naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        items = list(read_path(path))
    for item in items:
        assert isinstance(item, (Article, ReadProblem))
        assert item.source.startswith(str(path))
        assert isinstance(item, Article) or item.reason
    return items


@FUZZ
@given(st.sampled_from(SUFFIXES), st.binary(max_size=1500))
@example(".warc.gz", b"\x1f\x8b\x08\x00" + bytes(40))
@example(".arc", b"http://a.example/ 1.2.3.4 20240101000000 text/html 99999999\n<html>")
def test_random_bytes_in_every_format(suffix: str, data: bytes) -> None:
    read_file(suffix, data)


@FUZZ
@given(st.sampled_from(SUFFIXES), st.binary(min_size=1, max_size=2000), st.floats(0, 1))
def test_truncated_gzip_in_every_format(suffix: str, data: bytes, keep: float) -> None:
    packed = gzip.compress(data)
    read_file(suffix, packed[: int(len(packed) * keep)])


@FUZZ
@given(st.sampled_from(SUFFIXES), st.text(max_size=300), st.sampled_from(ENCODINGS))
def test_wrong_encodings_in_every_format(suffix: str, text: str, encoding: str) -> None:
    record = json.dumps({"url": "https://a.example/x", "title": text[:20], "text": text}, ensure_ascii=False)
    for data in (text.encode(encoding, errors="replace"), record.encode(encoding, errors="replace")):
        read_file(suffix, data)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_enormous_line_in_every_format(suffix: str) -> None:
    line = b"<p>" + b"word " * 250_000 + b"</p>"  # over a megabyte without a newline
    read_file(suffix, line + b"\n" + line)


def warc(*pages: tuple[str, bytes, str]) -> bytes:
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    for uri, body, content_type in pages:
        headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers))
    return out.getvalue()


ARTICLE_HTML = "<html><body><article><h1>Title</h1><p>{}</p></article></body></html>"


BAD_PAGES = [
    ("https://a.example/empty", b"", "text/html"),
    ("https://a.example/nobody", b"<html><head><title>x</title></head></html>", "text/html"),
]


@FUZZ
@given(st.text(min_size=60, max_size=300), st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS))
def test_warc_pages_in_wrong_encodings_huge_headers_and_without_a_body(text: str, declared: str, actual: str) -> None:
    page = ARTICLE_HTML.format(text).encode(actual, errors="replace")
    items = read_file(
        ".warc.gz",
        warc(
            ("https://a.example/wrong", page, f"text/html; charset={declared}"),
            *BAD_PAGES,
            ("https://a.example/huge-header", ARTICLE_HTML.format("y " * 40).encode(), "text/html; x=" + "z" * 100_000),
        ),
    )
    assert sum(isinstance(i, ReadProblem) for i in items) >= len(BAD_PAGES)


def test_a_warc_page_without_an_article_is_named_by_its_url() -> None:
    problems = [i for i in read_file(".warc.gz", warc(*BAD_PAGES)) if isinstance(i, ReadProblem)]
    assert problems
    assert all("a.example" in f"{p.source} {p.reason}" for p in problems)


FEED_ITEM = "<item><title>{title}</title><link>https://a.example/{n}</link><pubDate>{date}</pubDate><description>{text}</description></item>"


def rss(items: str, encoding: str = "utf-8") -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'


@FUZZ
@given(
    st.text(max_size=40) | st.sampled_from(["2024-13-45", "Mon, 32 Foo 2024", "yesterday", "0", "9" * 30, "", "\x00"])
)
def test_feeds_with_broken_dates(date: str) -> None:
    from xml.sax.saxutils import escape

    items, problems = parse_feed(
        rss(FEED_ITEM.format(title="Item", n=1, date=escape(date), text="Some text")).encode(), "http://f.example/"
    )
    assert [i.title for i in items] == ["Item"]  # a bad date is a problem, not a lost article
    assert all(i.published is None or i.published.tzinfo is not None for i in items)
    assert all("'Item'" in p.reason or p.source.startswith("http") for p in problems)
    assert all(
        i.published is not None or not date.strip() or any("'Item'" in p.reason for p in problems) for i in items
    )


@FUZZ
@given(st.text(max_size=200), st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS))
def test_feeds_in_wrong_encodings(text: str, declared: str, actual: str) -> None:
    from xml.sax.saxutils import escape

    body = rss(
        FEED_ITEM.format(title=escape(text[:30]), n=1, date="Mon, 06 May 2024 08:30:00 +0000", text=escape(text)),
        declared,
    )
    items, problems = parse_feed(body.encode(actual, errors="replace"), "http://f.example/")
    assert all(isinstance(i.text, str) for i in items)
    assert all(p.reason for p in problems)


def test_feeds_with_enormous_lines() -> None:
    huge = "word " * 400_000
    items, problems = parse_feed(
        rss(FEED_ITEM.format(title=huge[:100_000], n=1, date="", text=huge)).encode(), "http://f.example/"
    )
    assert len(items) == 1
    assert len(items[0].text) > 1_000_000


def test_ingest_lists_every_bad_file_and_url_with_its_reason(tmp_path, monkeypatch, news_server: NewsServer):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("NEWSBOT_FETCH_ALLOW", "127.0.0.1")
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_text(
        json.dumps({"url": "https://a.example/1", "title": "A", "text": "Fine text here."}) + "\n"
    )
    records = "".join(json.dumps({"text": f"Record {n} of a file cut short."}) + "\n" for n in range(200)).encode()
    packed = gzip.compress(records)
    (folder / "cut.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    (folder / "noise.warc.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(200))
    (folder / "empty.html").write_bytes(b"<html><body></body></html>")
    urls = [news_server.url("/feeds/none.rss"), news_server.url("/nobody.html")]
    result = CliRunner().invoke(cli, ["ingest", str(folder), *urls, "--quiet", "--data-dir", "d"])
    assert result.exit_code == EXIT_SKIPPED
    assert "added" in result.output
    listed = result.stderr.splitlines()
    for source in ("cut.jsonl.gz", "noise.warc.gz", "empty.html", *urls):
        assert any(source in line and line.rsplit(": ", 1)[-1].strip() for line in listed), f"{source} not listed"
    assert f"  {urls[0]}: HTTP 404" in listed


def test_an_article_left_without_chunks_is_chunked_by_the_next_writer(tmp_path):
    """Archives written before batches were real transactions can hold such articles."""
    archive = opened(tmp_path / "data")
    archive.ingest([_article(n) for n in range(3)], progress=False)
    with archive.store.db.atomic():
        archive.store.delete_chunks(1)
    assert archive.repair() == 1
    assert archive.check() == []
    assert search(archive, "topic0", k=1).results[0].title == "Headline 0"
    archive.close()
