"""Read articles from files and folders, whatever their format.

`read_path` never raises for a bad file: what it cannot read comes out as a
`ReadProblem` naming the file (and line), and reading goes on. Other formats
plug in with `register_reader((".warc", ".warc.gz"), read_warc)`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from index.article import Article, ReadProblem
from index.ingest import limits
from index.ingest.readers.html import read_html
from index.ingest.readers.jsonl import read_json
from index.ingest.readers.text import read_text

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
    elif (refusal := _file_problem(path)) is not None:
        yield ReadProblem(str(path), refusal)
    elif (reader := reader_for(path)) is None:
        yield ReadProblem(str(path), f"no reader for files like {path.name!r}")
    else:
        yield from _read_file(path, reader)


def _read_folder(folder: Path) -> Iterator[Article | ReadProblem]:
    for found in _walk(folder, set()):
        if isinstance(found, ReadProblem):
            yield found
        else:
            yield from _read_file(*found)


def _walk(folder: Path, seen: set[tuple[int, int]]) -> Iterator[tuple[Path, Reader] | ReadProblem]:
    """Files with a reader under `folder`, depth first in name order; hidden ones skipped.

    Symlinked folders are followed, each real folder once (`seen`), so a link loop ends."""
    try:
        info = folder.stat()
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as err:
        yield ReadProblem(str(folder), f"cannot list folder: {err.strerror or err}")
        return
    if (info.st_dev, info.st_ino) in seen:
        yield ReadProblem(str(folder), "folder already read through another path (a symlink loop?); skipped")
        return
    seen.add((info.st_dev, info.st_ino))
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if _is_folder(entry):
            yield from _walk(path, seen)
        elif (reader := reader_for(path)) is not None:
            yield path, reader


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a symlink loop on the entry itself (ELOOP): read as a file, and reported
        return False


def _read_file(path: Path, reader: Reader) -> Iterator[Article | ReadProblem]:
    refusal = _file_problem(path)
    if refusal:
        yield ReadProblem(str(path), refusal)
        return
    problems, limit = 0, limits.current().max_problems_per_file
    try:
        for item in reader(path):
            if isinstance(item, Article) and not item.source:
                item.source = str(path)
            problems += isinstance(item, ReadProblem)
            yield item
            if problems >= limit:
                yield ReadProblem(str(path), f"{limit} problems in this file; the rest of it is skipped")
                return
    except Exception as err:  # one unreadable file must not stop a whole ingest
        yield ReadProblem(str(path), _describe(err))


def _file_problem(path: Path) -> str | None:
    """Why a file is not read at all: a FIFO or device would block or never end; empty is no article."""
    try:
        info = path.stat()
    except OSError as err:
        return f"cannot read file: {err.strerror or err}"
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file ({_file_kind(info.st_mode)}); not read"
    return "empty file" if info.st_size == 0 else None


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _describe(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:  # "Permission denied", not a traceback
        return f"cannot read file: {err.strerror}"
    return f"cannot read file: {type(err).__name__}: {err}"


register_reader((".txt", ".txt.gz"), read_text)
register_reader((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"), read_json)
register_reader((".html", ".htm", ".html.gz", ".htm.gz"), read_html)

# The WARC reader registers itself on import; importing it here makes read_path know its suffixes
# wherever read_path is called from (it imports register_reader, so it comes last).
import index.ingest.readers.warc  # noqa: E402,F401
