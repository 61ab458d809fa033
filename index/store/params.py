"""Queries over many ids, cut to SQLite's limit on bound parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

PARAMETERS = 900  # SQLite's limit on bound parameters (999 in older builds), with room to spare


def rows_for(conn: sqlite3.Connection, sql: str, ids: Sequence[Any], before: Sequence[Any] = ()) -> list[Any]:
    """Every row of `sql` for these ids: its `{}` becomes the placeholders of an IN list of at most
    PARAMETERS ids per query; `before` are the arguments bound ahead of them."""
    rows: list[Any] = []
    for start in range(0, len(ids), PARAMETERS):
        part = list(ids[start : start + PARAMETERS])
        rows.extend(conn.execute(sql.format(",".join("?" * len(part))), [*before, *part]).fetchall())
    return rows
