"""Plain-text articles in the archive layout.

    Headline
    By <u>AGENCY</u>          (optional by-line)
    February 07, 2022         (optional date line)
    body …
    Original url:
    https://…

A file not in this layout gives its first line as title, the rest as text, undated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from charset_normalizer import from_bytes

from index.article import Article, ReadProblem
from index.ingest import limits
from index.ingest.dates import parse_date
from index.ingest.readers.jsonl import STREAM_ERRORS, open_binary, record_to_article, split_authors

_BINARY_SAMPLE = 8192
# Bytes no text file holds, in any encoding we read (UTF-16 is told apart by its byte order mark).
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13, 27})
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DETECTION_BYTES = 65536
_BYLINE = re.compile(r"^\s*by\s+\S.{0,80}$", re.IGNORECASE)
_ORIGINAL_URL = re.compile(r"^\s*original url:\s*(?P<url>\S*)\s*$", re.IGNORECASE)
_MAX_DATE_LINE = 40
_HEADER_LINES = 2  # a by-line and a date line, in either order


def read_text(path: Path) -> Iterator[Article | ReadProblem]:
    """The article in a .txt file (gzipped or not)."""
    data = read_small(path)
    if isinstance(data, ReadProblem):
        yield data
    else:
        yield from article_from_text(decode_bytes(data), str(path))


def looks_binary(data: bytes) -> bool:
    """Whether the bytes are no text: NULs or many control bytes near the start."""
    sample = data[:_BINARY_SAMPLE]
    if not sample or sample.startswith(_UTF16_BOMS):
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return b"\0" in sample or controls > len(sample) // 10


def read_small(path: Path, limit: int | None = None) -> bytes | ReadProblem:
    """All of a one-article file's bytes, or a problem if it is too big, broken or binary."""
    limit = limits.current().max_file_bytes if limit is None else limit
    try:
        with open_binary(path) as stream:
            data = stream.read(limit + 1)
    except STREAM_ERRORS as err:
        return ReadProblem(str(path), f"cannot read file: {err}")
    if len(data) > limit:
        return ReadProblem(str(path), f"file over {limit} bytes; not one article")
    if looks_binary(data):
        return ReadProblem(str(path), "binary content, not text")
    return data


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from bytes in the declared encoding, else UTF-8, else a detected one (never fails)."""
    for encoding in (declared, "utf-8-sig"):
        if encoding:
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeError):  # "undefined" raises a bare UnicodeError
                pass
    return data.decode(_guess_encoding(data), errors="replace")


def _guess_encoding(data: bytes) -> str:
    candidates = [match.encoding for match in from_bytes(data[:_DETECTION_BYTES])]
    # On short Western text charset_normalizer ranks Baltic or Central European
    # code pages above cp1252, which is by far the likelier in English news.
    if "cp1252" in candidates:
        return "cp1252"
    return candidates[0] if candidates else "utf-8"


def article_from_text(text: str, source: str) -> Iterator[Article | ReadProblem]:
    """The article (or the problem) in text of the archive layout."""
    lines, url = _take_original_url([line.rstrip() for line in text.splitlines()])
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    title = lines[start].strip() if start < len(lines) else None
    authors, published, body_start = _read_header(lines, start + 1)
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines[body_start:]))
    record = {"title": title, "text": body, "url": url, "authors": authors, "published": published}
    yield from record_to_article(record, source)


def _take_original_url(lines: list[str]) -> tuple[list[str], str | None]:
    """The lines without the last `Original url:` block, and its URL (same or next line)."""
    marks = [i for i, line in enumerate(lines) if _ORIGINAL_URL.match(line)]
    if not marks:
        return lines, None
    mark = marks[-1]
    found = _ORIGINAL_URL.match(lines[mark])
    url = found["url"] if found else None
    end = mark + 1
    if not url:
        following = [i for i in range(mark + 1, len(lines)) if lines[i].strip()]
        if following and lines[following[0]].strip().startswith(("http://", "https://")):
            url, end = lines[following[0]].strip(), following[0] + 1
    return lines[:mark] + lines[end:], url or None


def _read_header(lines: list[str], start: int) -> tuple[list[str], datetime | None, int]:
    """By-line authors and date from the lines after the title, and where the body starts."""
    authors: list[str] = []
    published: datetime | None = None
    position = start
    for _ in range(_HEADER_LINES):
        while position < len(lines) and not lines[position].strip():
            position += 1
        line = lines[position] if position < len(lines) else ""
        if not authors and _BYLINE.match(line):
            authors = split_authors(line)
        elif published is None and (moment := _date_line(line)):
            published = moment
        else:
            break
        position += 1
    return authors, published, position


def _date_line(line: str) -> datetime | None:
    """The date a short line holds, if it is nothing but a date."""
    line = line.strip()
    if len(line) > _MAX_DATE_LINE or not any(char.isdigit() for char in line):
        return None
    try:
        return parse_date(line)
    except ValueError:
        return None
