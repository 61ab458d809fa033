"""Whatever bytes a file holds, read_path yields articles and problems, never an exception."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.article import Article, ReadProblem
from index.ingest.dates import parse_date
from index.ingest.readers import read_path
from index.ingest.readers.html import article_from_html

# FUZZ_EXAMPLES=1000 for a long local hunt; CI stays at 50.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SUFFIXES = [".txt", ".json", ".jsonl", ".ndjson", ".jsonl.gz", ".html", ".htm", ".txt.gz"]
ENCODINGS = ["utf-8", "utf-16", "latin-1", "cp1252", "cp1251", "shift_jis", "koi8_r"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Records with the real field names, so values reach the date and author code.
records = st.fixed_dictionaries(
    {},
    optional={
        name: json_values | st.text(max_size=40)
        for name in (
            "id",
            "url",
            "link",
            "title",
            "published",
            "date",
            "pubDate",
            "text",
            "body",
            "author",
            "authors",
            "outlet",
            "source",
            "site_name",
        )
    },
)
html_pieces = st.lists(
    st.sampled_from(
        [
            "<html>",
            "<head>",
            "<title>T</title>",
            '<meta charset="koi8-r">',
            '<meta charset="nonsense">',
            '<meta charset="undefined">',
            '<link rel="canonical" href="/relative">',
            '<meta property="og:url" content="javascript:x">',
            "<body>",
            "<article>",
            "<p>",
            "</p>",
            "<script>",
            "<!--",
            "]]>",
            "&#0;",
            "&amp",
            "A sentence of the article that goes on long enough to be kept as text. ",
            "\x00",
            "é",
        ]
    ),
    max_size=30,
).map("".join)


@contextmanager
def file_with(suffix: str, data: bytes) -> Iterator[Path]:
    # tempfile, not tmp_path: hypothesis runs many examples in one test call
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        yield path


def check(path: Path) -> list[Article | ReadProblem]:
    items = list(read_path(path))
    for item in items:
        assert isinstance(item, (Article, ReadProblem))
        assert item.source
        assert item.source.startswith(str(path))
        if isinstance(item, ReadProblem):
            assert item.reason
        elif item.published is not None:
            assert item.published.tzinfo is not None
    return items


@FUZZ
@given(st.sampled_from(SUFFIXES), st.binary(max_size=2000))
@example(".jsonl", b"[" * 100_000)
@example(".json", b"[" * 100_000)
@example(".jsonl.gz", b"\x1f\x8b\x08\x00garbage")
@example(".html", b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>")
def test_random_bytes(suffix: str, data: bytes) -> None:
    with file_with(suffix, data) as path:
        check(path)


@FUZZ
@given(st.sampled_from(SUFFIXES), st.binary(min_size=1, max_size=3000), st.floats(0, 1))
def test_truncated_gzip(suffix: str, data: bytes, keep: float) -> None:
    packed = gzip.compress(data)
    with file_with(suffix, packed[: int(len(packed) * keep)]) as path:
        check(path)


@FUZZ
@given(st.lists(records | json_values, max_size=8), st.sampled_from([".jsonl", ".json"]), st.booleans(), st.booleans())
def test_json_records(items: list[object], suffix: str, as_array: bool, cut: bool) -> None:
    lines = [json.dumps(item) for item in items]
    text = json.dumps(items, indent=1) if as_array else "\n".join(lines)
    data = text.encode()[: len(text) // 2 if cut else None]
    with file_with(suffix, data) as path:
        items_read = check(path)
    lone_array = len(items) == 1 and isinstance(items[0], list)  # a JSON array file, not a line
    if not as_array and not cut and not lone_array:
        assert len(items_read) >= sum(1 for item in items if item is not None)


@FUZZ
@given(st.text(max_size=500), st.sampled_from(ENCODINGS), st.sampled_from([".txt", ".html", ".jsonl"]))
def test_wrong_encodings(text: str, encoding: str, suffix: str) -> None:
    with file_with(suffix, text.encode(encoding, errors="replace")) as path:
        check(path)


@FUZZ
@given(st.sampled_from([".txt", ".jsonl", ".html"]), st.integers(1, 4_000_000), st.sampled_from(b'x{["<\n'))
@example(".jsonl", 33 * 1024 * 1024, ord("x"))  # over MAX_LINE_BYTES
@example(".html", 21 * 1024 * 1024, ord("<"))  # over trafilatura's size limit
def test_enormous_lines(suffix: str, size: int, byte: int) -> None:
    with file_with(suffix, bytes([byte]) * size + b'\n{"text": "after"}\n') as path:
        check(path)


@FUZZ
@given(html_pieces, st.none() | st.sampled_from(["https://cnn.com/a", "not a url", ""]), st.none() | records)
def test_article_from_html(page: str, url: str | None, fallback: dict[str, object] | None) -> None:
    for html in (page, page.encode("utf-8", errors="replace"), page.encode("utf-16")):
        result = article_from_html(html, url=url, source="fuzz", fallback=fallback)
        assert isinstance(result, (Article, ReadProblem))
        assert result.source == "fuzz"


@FUZZ
@given(st.text(max_size=60) | st.integers() | st.floats())
def test_parse_date_only_raises_value_error(value: str | int | float) -> None:
    try:
        parsed = parse_date(value)
    except ValueError:
        return
    assert parsed is None or parsed.tzinfo is not None
