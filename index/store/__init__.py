"""Persistence: the SQLite store (articles, chunks, full-text index, metadata) and the FAISS vector index.

The names of `index.store.sqlite` are re-exported, so `from index.store import Store` works."""

from index.store.migrations import SCHEMA_VERSION
from index.store.rows import ArchiveStats, ArticleRow, NewArticle
from index.store.sqlite import DB_NAME, Store, StoredChunk, now_iso, utc_iso

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "ArchiveStats",
    "ArticleRow",
    "NewArticle",
    "Store",
    "StoredChunk",
    "now_iso",
    "utc_iso",
]
