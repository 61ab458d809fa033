"""Browsing the archive: outlets, the most recent articles, one article by its URL."""

from __future__ import annotations

import re

from index.archive import Archive
from index.store.rows import ArticleRow
from index.web.urls import canonical_url


def outlet_names(archive: Archive, typed: str, limit: int = 25) -> list[str]:
    """Distinct outlets containing `typed`, those with most articles first."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", typed.strip()) + "%"
    return archive.store.outlets_like(pattern, limit)


def recent_articles(archive: Archive, count: int, outlet: str | None = None) -> list[ArticleRow]:
    archive.refresh()
    return archive.store.recent(count, outlet)


def find_article(archive: Archive, url: str) -> ArticleRow | None:
    """The stored article at `url`, matched as given or by its canonical form."""
    archive.refresh()
    with archive.lock:  # the id and its row from one database, not one each side of a swap
        found = archive.store.find_by_key_or_url(canonical_url(url), url.strip())
        return archive.store.article(found) if found is not None else None
