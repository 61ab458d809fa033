"""JSON Lines, JSON arrays and single JSON objects, gzipped or not.

Also the record schema every reader maps into (`record_to_article`): field
aliases, author lists, dates, so text and HTML readers normalise the same way.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from index.article import Article, ReadProblem
from index.ingest import limits
from index.ingest.dates import parse_date
from index.web.urls import outlet_for_url

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "url": ("url", "link"),
    "title": ("title", "headline"),
    "published": ("published", "date", "publish_date", "pubDate"),
    "text": ("text", "body", "content"),
    "authors": ("authors", "author"),
    "source_id": ("id",),
    "outlet": ("outlet", "source", "site_name"),
}
GZIP_MAGIC = b"\x1f\x8b"
BLOCK_BYTES = 1 << 20
# A line's content: from its first non-blank byte to its end. Searched for by the regex engine,
# so a file of nothing but newlines or spaces goes by at C speed instead of line by line.
_CONTENT = re.compile(rb"[^\s][^\n]*")
# What a truncated or corrupt (gzip) stream raises part-way through.
STREAM_ERRORS = (EOFError, OSError, zlib.error)
_INVALID = object()

_TAG = re.compile(r"<[^>]*>")
_BY = re.compile(r"^\s*by\s+", re.IGNORECASE)
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|,|\band\b|&)\s*", re.IGNORECASE)


# --- the record schema ------------------------------------------------------


def pick(record: Mapping[str, Any], field: str) -> Any:
    """The first non-empty value among `field`'s aliases."""
    for name in FIELD_ALIASES.get(field, (field,)):
        value = record.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def as_text(value: Any) -> str | None:
    """A stripped string from a string, number, list of parts or {"name": …}; else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        parts = [part for part in map(as_text, value) if part]
        return "\n\n".join(parts) or None
    if isinstance(value, Mapping):
        return as_text(value.get("name"))
    return None


def split_authors(value: Any) -> list[str]:
    """Author names from a by-line string ("By <u>AFP</u>", "A and B") or a list, deduplicated."""
    if isinstance(value, list):
        names = [name for item in value for name in split_authors(item)]
    else:
        line = _BY.sub("", _TAG.sub("", as_text(value) or ""))
        names = [name.strip() for name in _AUTHOR_SEPARATORS.split(line)]
    return list(dict.fromkeys(name for name in names if name))


def record_to_article(record: Mapping[str, Any], source: str) -> Iterator[Article | ReadProblem]:
    """The article a record describes, then a problem for a date it could not read.

    No text: only a problem. A bad date: the article is kept undated and reported.
    """
    text = as_text(pick(record, "text"))
    if not text:
        yield ReadProblem(source, "no text")
        return
    url = as_text(pick(record, "url"))
    published, date_problem = _published(pick(record, "published"), source)
    yield Article(
        text=text,
        title=as_text(pick(record, "title")),
        url=url,
        outlet=as_text(pick(record, "outlet")) or outlet_for_url(url),
        authors=split_authors(pick(record, "authors")),
        published=published,
        source_id=as_text(pick(record, "source_id")),
        source=source,
    )
    if date_problem:
        yield date_problem


def _published(value: Any, source: str) -> tuple[datetime | None, ReadProblem | None]:
    try:
        return parse_date(value), None
    except ValueError as err:
        return None, ReadProblem(source, f"date not understood, article kept undated: {err}")


# --- reading files ----------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it starts with the gzip magic, whatever its name."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    return cast(IO[bytes], gzip.open(path, "rb")) if magic == GZIP_MAGIC else path.open("rb")


def read_json(path: Path) -> Iterator[Article | ReadProblem]:
    """Articles from JSON Lines (streamed), a JSON array or one JSON object."""
    with open_binary(path) as stream:
        is_document = _is_document(stream)
    with open_binary(path) as stream:
        if is_document:
            yield from _read_document(stream, str(path))
        else:
            yield from _read_lines(stream, str(path))


def _is_document(stream: IO[bytes]) -> bool:
    """True for a JSON array or a pretty-printed object, False for JSON Lines.

    A first line that is JSON on its own means JSON Lines, unless it is an array
    alone in the file; one that is not means a document, unless line 2 is.
    """
    try:
        head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        stream.seek(0)
        lines = [line for _, line in zip(range(2), _non_empty_lines(stream))]
    except (*STREAM_ERRORS, DecompressedTooLarge):
        return False  # the line reader reports where the file breaks
    if not lines:
        return False
    if not lines[0]:  # a first line over the line limit: a document only if it is an array alone
        return head[:1] == b"[" and len(lines) == 1
    first = _json_value(lines[0])
    if first is not _INVALID:
        return isinstance(first, list) and len(lines) == 1
    spans_lines = lines[0][:1] in (b"[", b"{")
    return spans_lines and not (len(lines) > 1 and isinstance(_json_value(lines[1]), dict))


def _non_empty_lines(stream: IO[bytes]) -> Iterator[bytes]:
    for _, line in _lines(stream):
        if line is None:  # an over-long line: the line reader reports it
            yield b""
            continue
        stripped = line.strip().removeprefix(b"\xef\xbb\xbf")
        if stripped:
            yield stripped


def _json_value(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return _INVALID


def _read_document(stream: IO[bytes], source: str) -> Iterator[Article | ReadProblem]:
    limit = limits.current().max_document_bytes
    try:
        data = stream.read(limit + 1)
    except STREAM_ERRORS as err:
        yield ReadProblem(source, f"file is truncated or corrupt: {err}")
        return
    if len(data) > limit:
        yield ReadProblem(source, f"JSON document over {limit} bytes; use JSON Lines")
        return
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as err:
        yield ReadProblem(source, f"invalid JSON: {err}")
        return
    if not isinstance(document, list):
        yield from _record(document, source)
        return
    for number, item in enumerate(document, 1):
        yield from _record(item, f"{source}:item {number}")


class DecompressedTooLarge(ValueError):
    """A gzipped file inflates past `max_decompressed_bytes` (a gzip bomb, or simply too big)."""


def _read_lines(stream: IO[bytes], source: str) -> Iterator[Article | ReadProblem]:
    number = 0
    try:
        for number, line in _lines(stream):
            yield from _line(line, f"{source}:line {number}")
    except STREAM_ERRORS as err:
        yield ReadProblem(f"{source}:line {number + 1}", f"file is truncated or corrupt from here on: {err}")
    except DecompressedTooLarge as err:
        yield ReadProblem(f"{source}:line {number + 1}", f"{err}; the rest is skipped")


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream in blocks; DecompressedTooLarge once a gzipped one inflates past the limit."""
    limit = limits.current().max_decompressed_bytes if isinstance(stream, gzip.GzipFile) else None
    total = 0
    read = getattr(stream, "read1", stream.read)  # one raw read at a time: a corrupt end loses only it
    while block := read(BLOCK_BYTES):
        total += len(block)
        if limit is not None and total > limit:
            yield block[: len(block) - (total - limit)]  # what fits is read, then the file stops
            raise DecompressedTooLarge(f"decompresses to over {limit} bytes")
        yield block


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines that have content; None for one over the line limit, never held whole."""
    limit = limits.current().max_line_bytes
    number, pending, skipping = 1, b"", False  # `pending`: the start of a line not yet ended
    for block in _blocks(stream):
        end = block.rfind(b"\n") + 1
        if end == 0:
            pending = b"" if skipping else pending + block
        else:
            data = pending + block[:end]
            if skipping:  # the over-long line ends in this block
                data, skipping, number = data[data.index(b"\n") + 1 :], False, number + 1
            yield from _numbered(data, number, limit)
            number, pending = number + data.count(b"\n"), block[end:]
        if len(pending) > limit:
            yield number, None
            pending, skipping = b"", True
    if pending and not skipping:
        yield from _numbered(pending, number, limit)


def _numbered(data: bytes, first: int, limit: int) -> Iterator[tuple[int, bytes | None]]:
    number, position = first, 0
    for match in _CONTENT.finditer(data):
        number += data.count(b"\n", position, match.start())
        position = match.start()
        yield number, (match.group() if match.end() - match.start() <= limit else None)


def _line(line: bytes | None, source: str) -> Iterator[Article | ReadProblem]:
    if line is None:
        yield ReadProblem(source, f"line longer than {limits.current().max_line_bytes} bytes")
        return
    if not line.strip():
        return
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as err:
        yield ReadProblem(source, f"invalid JSON: {err}")
        return
    yield from _record(record, source)


def _record(record: Any, source: str) -> Iterator[Article | ReadProblem]:
    depth = limits.current().max_json_depth
    if limits.json_depth_over(record, depth):
        yield ReadProblem(source, f"JSON nested deeper than {depth} levels")
    elif isinstance(record, dict):
        try:
            yield from record_to_article(record, source)
        except RecursionError:
            yield ReadProblem(source, "JSON nested too deeply to read")
    else:
        yield ReadProblem(source, f"expected a JSON object, got {type(record).__name__}")
