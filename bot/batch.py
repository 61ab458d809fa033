"""JSON Lines batches for `search --batch` and `ask --batch`: the model loaded once, one object per line."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from index.ingest.dates import parse_query_date
from index.search import Filters, whole_day_until

DATE_FIELDS = ("as_of", "since", "until")


class BadLine(ValueError):
    """A batch line that cannot be asked; its message is what the error object says."""


@dataclass
class BatchItem:
    line: int  # 1-based line number in the file
    text: str  # the question or query
    k: int
    filters: Filters


def parse_line(number: int, line: str, k: int, defaults: Filters, max_k: int = 100) -> BatchItem:
    """One line `{"question" | "query", "as_of"?, "since"?, "until"?, "k"?, "outlet"?}`; the command
    line's options fill in what it leaves out."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise BadLine('a line must be a JSON object such as {"question": "…"}')
    text = item.get("question", item.get("query"))
    if not isinstance(text, str) or not text.strip():
        raise BadLine('no "question" (or "query") text')
    return BatchItem(number, text, _k(item.get("k", k), max_k), _filters(item, defaults))


def _k(value: Any, max_k: int) -> int:
    whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if isinstance(value, bool) or not whole or not 1 <= value <= max_k:
        raise BadLine(f'"k" must be a whole number from 1 to {max_k}, not {value!r}')
    return int(value)


def _filters(item: dict, defaults: Filters) -> Filters:
    dates: dict[str, Any] = {}
    for name in DATE_FIELDS:
        if item.get(name) is not None:
            try:
                dates[name] = parse_query_date(item[name])
            except ValueError as exc:
                raise BadLine(f'"{name}": {exc}') from None
    if "until" in dates:  # as on the command line: a plain date includes its whole day
        dates["until"] = whole_day_until(dates["until"])
    outlets = item.get("outlet", defaults.outlets)
    outlets = [outlets] if isinstance(outlets, str) else outlets
    if not isinstance(outlets, list) or not all(isinstance(o, str) for o in outlets):
        raise BadLine('"outlet" must be a name or a list of names')
    return replace(defaults, outlets=list(outlets), **dates)


def run_batch(
    lines: Iterable[str],
    k: int,
    defaults: Filters,
    answer: Callable[[BatchItem], Any],
    max_k: int = 100,
) -> Iterator[tuple[int, Any]]:
    """(line number, what `answer` returned, or an error object `{"line", "error"}`) for each
    non-blank line, in order; a bad line never stops the rest."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, answer(parse_line(number, line, k, defaults, max_k))
        except (ValueError, OverflowError, RecursionError) as exc:  # BadLine, or what the search refuses
            yield number, {"line": number, "error": str(exc)[:300] or type(exc).__name__}


def error_text(error: dict) -> str:
    """A bad line as the rendered (not JSON) batch shows it."""
    return f"line {error['line']}: {error['error']}"
