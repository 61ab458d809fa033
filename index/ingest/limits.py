"""How much one file, line, record or article may take, so hostile input is refused, not obeyed.

Readers take the limits in force (`current()`); the CLI sets them from the settings once at start
(`configure`), tests lower them for a block (`use`). Every refusal is a `ReadProblem` with a reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReadLimits:
    """Each refused or cut value is reported where it was found."""

    max_file_bytes: int = 64 * 1024 * 1024  # one-article files (.txt, .html), after decompression
    max_decompressed_bytes: int = 4 * 1024**3  # any gzipped file, after decompression
    max_line_bytes: int = 32 * 1024 * 1024  # one JSON Lines line
    max_document_bytes: int = 64 * 1024 * 1024  # one JSON array or object file (use JSON Lines beyond)
    max_json_depth: int = 64  # nesting of one JSON value
    max_article_chars: int = 2_000_000  # longer article texts are refused
    max_title_chars: int = 500  # longer headlines are cut to this
    max_problems_per_file: int = 1000  # a file this broken is abandoned after so many problems
    max_warc_header_bytes: int = 1024 * 1024  # header lines of one WARC record (and its HTTP headers)


_current = ReadLimits()


def current() -> ReadLimits:
    return _current


def configure(limits: ReadLimits) -> None:
    global _current
    _current = limits


@contextlib.contextmanager
def use(**changes: Any) -> Iterator[ReadLimits]:
    """The current limits with `changes`, for the duration of a block."""
    before = _current
    configure(dataclasses.replace(before, **changes))
    try:
        yield _current
    finally:
        configure(before)


def json_depth_over(value: object, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than `limit`, found without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False
