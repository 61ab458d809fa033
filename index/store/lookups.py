"""The SQL of a search: keyword matches (FTS5/BM25), the chunks a filter allows, what ranking needs of
each candidate chunk, and how many chunks hold a term. `index.search` ranks; this class only reads."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from index.store.params import rows_for

FactsRow = tuple[int, int, int, int, str | None, str | None, str]
# (chunk id, article id, story, position, published, outlet, published or ingested_at)

# articles_facts and chunks_facts (migrations 3, 4) cover these columns: the tables' rows hold the texts,
# so reading the facts from them walks text pages (articles: group_id and ingested_at come after the text)
_FACTS_SQL = (
    "SELECT c.id, c.article_id, coalesce(a.group_id, a.id), c.position, a.published, a.outlet, "
    "coalesce(a.published, a.ingested_at, '') FROM chunks c INDEXED BY chunks_facts "
    "JOIN articles a INDEXED BY articles_facts ON a.id = c.article_id WHERE c.id IN ({})"
)

# every page of those two indexes, in one scan each (what `Lookups.read_facts` reads)
WARM_SQL = (
    "SELECT count(*), sum(article_id + position) FROM chunks INDEXED BY chunks_facts",
    "SELECT count(group_id), count(published), count(outlet), count(ingested_at) FROM articles INDEXED BY articles_facts",
)


@dataclass(frozen=True)
class ChunkFilter:
    """Which articles' chunks a search may return: published in [since, until) (UTC ISO strings), from
    one of `outlets` (any when empty)."""

    since: str | None = None
    until: str | None = None
    outlets: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.outlets)

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause over `articles a`, and its arguments."""
        clauses, args = [], []
        if self.since:
            clauses.append("a.published >= ?")
            args.append(self.since)
        if self.until:
            clauses.append("a.published < ?")
            args.append(self.until)
        if self.outlets:
            clauses.append(f"a.outlet IN ({','.join('?' * len(self.outlets))})")
            args.extend(self.outlets)
        return " AND ".join(clauses), args


NO_FILTER = ChunkFilter()


class Lookups:
    """A search's reads of one archive database; every query takes the store's lock."""

    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def keyword_matches(
        self, expression: str, n: int, title_weight: float, only: ChunkFilter
    ) -> list[tuple[int, float]]:
        """The best `n` chunks for an FTS5 query, with BM25 scores (higher is better)."""
        where, args = only.sql()
        join = (
            f" JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id WHERE {where} AND"
            if where
            else " WHERE"
        )
        rank = f"bm25(chunks_fts, {float(title_weight)!r}, 1.0)"
        sql = f"SELECT f.rowid, {rank} AS s FROM chunks_fts f{join} chunks_fts MATCH ? ORDER BY s LIMIT ?"
        with self.lock:
            return [(int(r[0]), -float(r[1])) for r in self.db.conn.execute(sql, [*args, expression, n])]

    def allowed_chunks(self, only: ChunkFilter) -> list[int]:
        """Every chunk id of the articles the filter allows."""
        where, args = only.sql()
        with self.lock:
            rows = self.db.execute(
                f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}", args
            )
            return [int(r[0]) for r in rows.fetchall()]

    def chunk_facts(self, chunk_ids: Iterable[int]) -> list[FactsRow]:
        """What ranking needs of each of these chunks (no texts)."""
        with self.lock:
            return rows_for(self.db.conn, _FACTS_SQL, list(chunk_ids))

    def read_facts(self) -> int:
        """Reads the two indexes that ranking reads for every candidate (chunks_facts, articles_facts),
        so that the OS caches their pages before the first question; returns the chunks read. From a
        cold page cache the first searches otherwise wait on the disk (docs/benchmarks.md, "Search
        from a cold page cache")."""
        with self.lock:
            chunks, _ = (self.db.conn.execute(sql).fetchone() for sql in WARM_SQL)
        return int(chunks[0])

    def changes(self) -> int:
        """Rows this connection has written so far: what counts kept from it are valid for."""
        return int(self.db.conn.total_changes)

    def chunk_count(self) -> int:
        with self.lock:
            return int(self.db.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def term_count(self, stemmed: str) -> int:
        """Chunks whose text or headline holds the (stemmed) term."""
        with self.lock:
            row = self.db.conn.execute("SELECT doc FROM chunks_fts_vocab WHERE term = ?", [stemmed]).fetchone()
        return int(row[0]) if row else 0
