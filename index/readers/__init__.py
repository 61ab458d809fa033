"""Read articles from files and folders, whatever their format.

`read_path` never raises for a bad file: what it cannot read comes out as a
`ReadProblem` naming the file (and line), and reading goes on. Other formats
plug in with `register_reader((".warc", ".warc.gz"), read_warc)`.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from index.article import Article, ReadProblem
from index.readers.html import read_html
from index.readers.jsonl import read_json
from index.readers.text import read_text

Reader = Callable[[Path], Iterable[Article | ReadProblem]]
READERS: dict[str, Reader] = {}


def register_reader(suffixes: tuple[str, ...], fn: Reader) -> None:
    """Read files ending in any of `suffixes` (".warc.gz", case-insensitive) with `fn`."""
    if isinstance(suffixes, str):  # register_reader(".warc", …) must not register ".w", ".a", …
        suffixes = (suffixes,)
    for suffix in suffixes:
        READERS["." + suffix.lower().lstrip(".")] = fn


def reader_for(path: Path) -> Reader | None:
    """The reader registered for the longest suffix the file name ends with."""
    name = path.name.lower()
    matches = [suffix for suffix in READERS if name.endswith(suffix) and name != suffix]
    return READERS[max(matches, key=len)] if matches else None


def read_path(path: Path | str) -> Iterator[Article | ReadProblem]:
    """Articles and problems from a file, or from every readable file under a folder, sorted."""
    path = Path(path)
    try:
        is_folder, exists = path.is_dir(), path.exists()
    except (OSError, ValueError) as err:  # ValueError: a NUL in the name
        yield ReadProblem(str(path), _describe(err))
        return
    if is_folder:
        yield from _read_folder(path)
    elif not exists:
        yield ReadProblem(str(path), "no such file or folder")
    elif (reader := reader_for(path)) is None:
        yield ReadProblem(str(path), f"no reader for files like {path.name!r}")
    else:
        yield from _read_file(path, reader)


def _read_folder(folder: Path) -> Iterator[Article | ReadProblem]:
    for found in _walk(folder):
        if isinstance(found, ReadProblem):
            yield found
        else:
            yield from _read_file(*found)


def _walk(folder: Path) -> Iterator[tuple[Path, Reader] | ReadProblem]:
    """Files with a reader under `folder`, depth first in name order; hidden ones skipped."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as err:
        yield ReadProblem(str(folder), f"cannot list folder: {err.strerror or err}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path)
        elif (reader := reader_for(path)) is not None:
            yield path, reader


def _read_file(path: Path, reader: Reader) -> Iterator[Article | ReadProblem]:
    try:
        for item in reader(path):
            if isinstance(item, Article) and not item.source:
                item.source = str(path)
            yield item
    except Exception as err:  # one unreadable file must not stop a whole ingest
        yield ReadProblem(str(path), _describe(err))


def _describe(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:  # "Permission denied", not a traceback
        return f"cannot read file: {err.strerror}"
    return f"cannot read file: {type(err).__name__}: {err}"


register_reader((".txt", ".txt.gz"), read_text)
register_reader((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"), read_json)
register_reader((".html", ".htm", ".html.gz", ".htm.gz"), read_html)

# The WARC reader registers itself on import; importing it here makes read_path know its suffixes
# wherever read_path is called from (it imports register_reader, so it comes last).
import index.readers.warc  # noqa: E402,F401
