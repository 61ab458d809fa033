"""Stamps of the files beside the database, by which a process sees that another one saved them."""

from __future__ import annotations

import os
from pathlib import Path

Stamp = tuple[str, int, int, int]


def inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def file_stamp(path: Path) -> Stamp | None:
    """Name, inode, mtime and size: any save (an atomic replace or not) changes one of them."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return path.name, found.st_ino, found.st_mtime_ns, found.st_size
