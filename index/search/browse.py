"""Browsing the archive: outlets, the most recent articles, one article by its URL."""
from __future__ import annotations

import re
from typing import Any

from index.archive import Archive
from index.web.urls import canonical_url


def outlet_names(archive: Archive, typed: str, limit: int = 25) -> list[str]:
    """Distinct outlets containing `typed`, those with most articles first."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", typed.strip()) + "%"
    with archive.lock:
        rows = archive.store.db.execute(
            "SELECT outlet FROM articles WHERE outlet LIKE ? ESCAPE '\\' GROUP BY outlet ORDER BY count(*) DESC LIMIT ?",
            [pattern, limit],
        ).fetchall()
    return [row[0] for row in rows]


def recent_articles(archive: Archive, count: int, outlet: str | None = None) -> list[dict[str, Any]]:
    where, args = ("AND outlet = ?", [outlet]) if outlet else ("", [])
    archive.refresh()
    with archive.lock:
        return list(archive.store.db.query(
            f"SELECT url, title, outlet, published FROM articles WHERE published IS NOT NULL {where} "
            "ORDER BY published DESC LIMIT ?",
            [*args, count],
        ))


def find_article(archive: Archive, url: str) -> dict[str, Any] | None:
    """The stored article at `url`, matched as given or by its canonical form."""
    archive.refresh()
    with archive.lock:
        row = archive.store.db.execute(
            "SELECT id FROM articles WHERE key = ? OR url = ? LIMIT 1", [canonical_url(url), url.strip()]
        ).fetchone()
        return archive.store.article(row[0]) if row else None
