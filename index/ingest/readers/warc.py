"""WARC and ARC web archives, gzipped or not: every archived HTML page (200) is an article candidate."""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from index.article import Article, ReadProblem
from index.ingest import limits
from index.ingest.dates import parse_date
from index.ingest.readers import register_reader
from index.ingest.readers.html import article_from_html

Item = Article | ReadProblem
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MAX_PAGE_BYTES = 20_000_000
GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/1."
MAX_RESYNCS = 100
_CHUNK = 1 << 16


@dataclass
class _Pass:
    """How far one run of warcio's iterator got."""

    end: int  # byte offset just after the last record read in full
    last_start: int | None = None  # where that record began
    damaged_at: int | None = None  # start of a record warcio handed over damaged (already reported)
    error: str | None = None  # what stopped it early, if anything raised


def read_warc(path: Path) -> Iterator[Item]:
    """Articles from the HTML responses in a WARC/ARC file; problems for what could not be read."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield ReadProblem(str(path), f"cannot open: {exc}")
        return
    with stream:
        yield from read_warc_stream(stream, str(path))


def read_warc_stream(stream: BinaryIO, source: str) -> Iterator[Item]:
    """Like `read_warc` for an open, seekable binary stream; `source` names it in messages."""
    magic = _record_magic(stream)
    start = 0
    done: set[int] = set()  # offsets of the records read: a pass restarted behind them skips them
    for _ in range(MAX_RESYNCS):
        state = yield from _read_pass(stream, start, source, done)
        if state.damaged_at is not None:
            resume = state.damaged_at + 1  # its length is not to be trusted: look inside it
        elif _only_blank_after(stream, state.end):
            if magic == GZIP_MAGIC and not _gzip_member_complete(stream, state.last_start):
                yield ReadProblem(source, f"archive cut off in its last gzip member (byte {state.last_start})")
            return
        else:
            if state.end > start or start == 0:  # one problem per damaged stretch, not per false restart
                reason = state.error or "unreadable record"
                yield ReadProblem(source, f"archive damaged at byte {state.end}: {reason}")
            # a damaged header can take in the records after it, and their lengths with it: look again
            # from just after the last record's start, so no whole record behind the damage is lost
            resume = (state.last_start if state.last_start is not None else state.end) + 1
        # warcio cannot step over damage itself; restart it at the next thing that looks like a record.
        next_start = _find(stream, magic, resume) if magic else None
        if next_start is None:
            return
        start = next_start
    yield ReadProblem(source, f"gave up after {MAX_RESYNCS} damaged stretches")


class _LineBudget:
    """Caps what warcio reads line by line for one record: its first line (a gzip bomb of zeros
    has no end), its header lines and the blank lines after it; warcio itself reads them unbounded."""

    def __init__(self, reader: Any, limit: int) -> None:
        self.limit = limit
        self.left = limit
        self._readline = reader.readline
        reader.readline = self.readline

    def reset(self) -> None:
        self.left = self.limit

    def readline(self, length: int | None = None) -> bytes:
        if self.left <= 0:
            raise ValueError(f"record header lines over {self.limit} bytes")
        allowed = self.left if length is None or length < 0 else min(length, self.left)
        line: bytes = self._readline(allowed)
        self.left -= len(line)
        return line


def _iterator(stream: BinaryIO) -> tuple[ArchiveIterator, _LineBudget]:
    records = ArchiveIterator(stream, arc2warc=True)
    records.INC_RECORD = ""  # warcio prints each garbage line to stderr; we report damage ourselves
    return records, _LineBudget(records.reader, limits.current().max_warc_header_bytes)


def _read_pass(stream: BinaryIO, start: int, source: str, done: set[int]) -> Generator[Item, None, _Pass]:
    """Records from `start` on, until the end, an exception, or a damaged record; those at offsets
    in `done` (read by an earlier pass) are not yielded again, and new ones are added to it."""
    stream.seek(start)
    records, budget = _iterator(stream)
    state = _Pass(start)
    try:
        for record in records:
            budget.reset()
            found = _record_item(record, source)
            offset = records.get_record_offset()  # reads the record to its end
            damage = _damage(record)
            if damage:
                state.damaged_at = offset
                yield ReadProblem(source, f"record at byte {offset} {damage} ({_target(record) or 'no URI'})")
                break
            # max(): warcio's own arithmetic can go backwards on garbage, and we must not.
            state.last_start, state.end = offset, max(state.end, offset + records.get_record_length())
            if found is not None and offset not in done:
                yield found
            done.add(offset)
    except Exception as exc:  # warcio raises a grab bag (parser, zlib, EOF, index errors) on bad bytes
        state.error = f"{type(exc).__name__}: {' '.join(str(exc)[:200].split())}"
    return state


def _record_item(record: ArcWarcRecord, source: str) -> Item | None:
    """An article (or a problem) for an HTML 200 response record; None for every other record."""
    if not _is_html_page(record):
        return None
    uri = _target(record)
    try:
        body = record.content_stream().read(MAX_PAGE_BYTES + 1)
    except Exception as exc:  # a bad chunked/gzip body: this record is lost, the next may be fine
        return ReadProblem(source, f"{uri}: unreadable body ({type(exc).__name__}: {str(exc)[:200]})")
    if len(body) > MAX_PAGE_BYTES:
        return ReadProblem(source, f"{uri}: page larger than {MAX_PAGE_BYTES} bytes")
    fallback = {"url": uri, "published": _warc_date(record)}
    item = article_from_html(body, uri, source=source, fallback={k: v for k, v in fallback.items() if v})
    if isinstance(item, ReadProblem) and uri:  # "file.warc.gz" alone would not say which page
        item.source = f"{source} {uri}"
    return item


def _damage(record: ArcWarcRecord) -> str | None:
    """What is wrong with a record warcio handed over without complaint (it does, when cut off)."""
    declared = record.rec_headers.get_header("Content-Length") or ""
    if not declared.strip().isdigit():
        return "has no length (a cut-off header?)"
    return "is truncated" if getattr(record.raw_stream, "limit", 0) > 0 else None


def _target(record: ArcWarcRecord) -> str | None:
    uri = record.rec_headers.get_header("WARC-Target-URI")
    return uri[:300] if uri else None  # a damaged header can make anything look like a URI


def _is_html_page(record: ArcWarcRecord) -> bool:
    headers = record.http_headers
    if record.rec_type != "response" or headers is None:
        return False
    media_type = (headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    return headers.get_statuscode() == "200" and media_type in HTML_TYPES


def _warc_date(record: ArcWarcRecord) -> datetime | None:
    """The capture time: only a fallback, as it is when the page was archived, not published."""
    try:
        return parse_date(record.rec_headers.get_header("WARC-Date"))
    except ValueError:
        return None


def _record_magic(stream: BinaryIO) -> bytes | None:
    """What a record start looks like in this file, to find the next one after damage."""
    stream.seek(0)
    head = stream.read(_CHUNK)
    if head.startswith(GZIP_MAGIC):
        return GZIP_MAGIC  # each record is its own gzip member
    if head.startswith(WARC_MAGIC):
        return WARC_MAGIC
    # The very first record is damaged: go by what the rest of the head looks like.
    return next((magic for magic in (GZIP_MAGIC, WARC_MAGIC) if magic in head), None)


def _find(stream: BinaryIO, magic: bytes, start: int) -> int | None:
    """Offset of the next record start at or after `start`, or None."""
    pos = start
    stream.seek(pos)
    while chunk := stream.read(_CHUNK + len(magic)):
        found = chunk.find(magic)
        if found >= 0:
            return pos + found
        pos += _CHUNK
        stream.seek(pos)
    return None


def _gzip_member_complete(stream: BinaryIO, start: int | None) -> bool:
    """Whether the gzip member at `start` ends properly; warcio reads a member without its trailer."""
    if start is None:
        return True
    stream.seek(start)
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    while not inflater.eof and (chunk := stream.read(_CHUNK)):
        try:
            inflater.decompress(chunk)
        except zlib.error:
            return False
    return inflater.eof


def _only_blank_after(stream: BinaryIO, pos: int) -> bool:
    stream.seek(pos)
    while chunk := stream.read(_CHUNK):
        if chunk.strip():
            return False
    return True


register_reader(WARC_SUFFIXES, read_warc)
