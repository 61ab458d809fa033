"""The SQLite store: articles, chunks, their full-text index and build metadata."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import overload

import sqlite_utils

from index.article import Article, article_key
from index.ingest.chunking import Chunk
from index.store.feeds import FeedLog
from index.store.groups import Groups
from index.store.lookups import Lookups
from index.store.migrations import migrate
from index.store.params import PARAMETERS, rows_for
from index.store.rows import ARTICLE_COLUMNS, ArticleRow

DB_NAME = "archive.db"


@dataclass
class StoredChunk:
    id: int
    article_id: int
    position: int
    start: int
    end: int
    text: str
    title: str | None


@overload
def utc_iso(moment: datetime) -> str: ...
@overload
def utc_iso(moment: None) -> None: ...
def utc_iso(moment: datetime | None) -> str | None:
    """Datetimes are stored as UTC ISO 8601 text, so text order is time order."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def now_iso() -> str:
    return utc_iso(datetime.now(timezone.utc)) or ""


class Store:
    """Articles and chunks in one SQLite file, through sqlite-utils."""

    def __init__(self, path: Path, lock: threading.RLock | None = None) -> None:
        self.path = Path(path)
        self.lock = lock or threading.RLock()  # one connection, used from worker threads
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the bot reads from worker threads; the archive serialises its own access
        conn = sqlite3.connect(self.path, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.groups = Groups(self.db, self.lock)
        self.feeds = FeedLog(self.db, self.lock)
        self.lookups = Lookups(self.db, self.lock)
        version = migrate(self.db)  # a file of any earlier schema is brought up to this one, in place
        if self.get_meta("schema_version") != str(version):
            with self.db.atomic():
                self.set_meta(schema_version=version)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Holds the lock for one transaction: everything in it is committed together, or nothing."""
        with self.lock, self.db.atomic():
            yield

    @contextlib.contextmanager
    def savepoint(self, name: str = "item") -> Iterator[None]:
        """A nested transaction: rolled back alone when the block raises (the error still propagates),
        so one item's failure never undoes the others of its batch."""
        conn = self.db.conn
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except Exception:
            with contextlib.suppress(sqlite3.Error):  # a full disk may refuse even this: the error says why
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")

    @contextlib.contextmanager
    def committed(self) -> Iterator[None]:
        """What the block writes is committed at its end (rolled back if it raises), under the lock."""
        with self.lock, self.db.conn:
            yield

    def optimize_text_index(self) -> None:
        """Merges the full-text index's segments into one (seconds at 300k chunks, after a bulk write)."""
        with self.committed():
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')")

    def close(self) -> None:
        self.db.conn.close()

    # meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: object) -> None:
        rows = [{"key": k, "value": None if v is None else str(v)} for k, v in values.items()]
        self.db.table("meta").upsert_all(rows, pk="key")

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    # articles
    def find_article(self, key: str) -> tuple[int, str] | None:
        row = self.db.execute("SELECT id, content_hash FROM articles WHERE key = ?", [key]).fetchone()
        return (row[0], row[1]) if row else None

    def find_by_hash(self, content_hash: str) -> int | None:
        row = self.db.execute("SELECT id FROM articles WHERE content_hash = ? LIMIT 1", [content_hash]).fetchone()
        return row[0] if row else None

    def save_article(self, article: Article, article_id: int | None = None) -> int:
        """Insert an article, or overwrite the one with `article_id`; returns its id."""
        row = {
            "key": article_key(article),
            "url": article.url,
            "title": article.title,
            "outlet": article.outlet,
            "authors": json.dumps(article.authors) if article.authors else None,
            "published": utc_iso(article.published),
            "text": article.text,
            "content_hash": article.content_hash,
            "source": article.source,
            "source_id": article.source_id,
            "ingested_at": now_iso(),
        }
        if article_id is None:
            return int(self.db.table("articles").insert(row).last_pk)  # type: ignore[arg-type]  # sqlite-utils types last_pk as optional; an insert sets it
        self.db.table("articles").update(article_id, row)
        return article_id

    def article(self, article_id: int) -> ArticleRow | None:
        rows = self.articles([article_id])
        return rows.get(article_id)

    def articles(self, ids: Iterable[int], with_text: bool = True) -> dict[int, ArticleRow]:
        ids = list(ids)
        columns = "*" if with_text else ARTICLE_COLUMNS
        found: dict[int, ArticleRow] = {}
        for i in range(0, len(ids), PARAMETERS):  # SQLite's limit on bound parameters
            part = ids[i : i + PARAMETERS]
            rows = self.db.query(f"SELECT {columns} FROM articles WHERE id IN ({','.join('?' * len(part))})", part)
            found.update({row["id"]: ArticleRow.from_row(row) for row in rows})
        return found

    # chunks
    def add_chunks(self, article_id: int, title: str | None, chunks: list[Chunk]) -> list[int]:
        ids = []
        for chunk in chunks:
            cursor = self.db.execute(
                'INSERT INTO chunks (article_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?)',
                [article_id, chunk.position, chunk.start, chunk.end, chunk.text],
            )
            ids.append(int(cursor.lastrowid))  # type: ignore[arg-type]  # typeshed: optional; an INSERT sets it
        self.db.conn.executemany(
            "INSERT INTO chunks_fts (rowid, title, text) VALUES (?, ?, ?)",
            [(i, title or "", c.text) for i, c in zip(ids, chunks)],
        )
        return ids

    def delete_chunks(self, article_id: int) -> list[int]:
        """Removes an article's chunks; returns their ids, so their vectors can go too."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE article_id = ?", [article_id])]
        self.db.execute("DELETE FROM chunks WHERE article_id = ?", [article_id])
        self.db.conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
        return ids

    def clear_chunks(self) -> None:
        self.db.execute("DELETE FROM chunks")
        self.db.execute("DELETE FROM chunks_fts")

    def chunk_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")]

    def chunk_bounds(self) -> tuple[int, int | None]:
        """How many chunks, and the highest id: ids only grow (AUTOINCREMENT), so any write changes one."""
        with self.lock:
            count, top = self.db.execute("SELECT count(*), max(id) FROM chunks").fetchone()
        return int(count), top

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        sql = (
            'SELECT c.id, c.article_id, c.position, c.start, c."end", c.text, a.title '
            "FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({})"
        )
        return {r[0]: StoredChunk(*r) for r in rows_for(self.db.conn, sql, list(ids))}

    def iter_articles(self, batch: int = 500) -> Iterator[ArticleRow]:
        last = 0
        while True:
            rows = list(self.db.query("SELECT * FROM articles WHERE id > ? ORDER BY id LIMIT ?", [last, batch]))
            if not rows:
                return
            yield from (ArticleRow.from_row(r) for r in rows)
            last = rows[-1]["id"]

    def chunks_of_articles(self, article_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """chunk id → (article id, text) for every chunk of these articles."""
        sql = "SELECT id, article_id, text FROM chunks WHERE article_id IN ({})"
        with self.lock:
            rows = rows_for(self.db.conn, sql, list(article_ids))
        return {int(r[0]): (int(r[1]), str(r[2])) for r in rows}

    def chunk_spans(self, article_ids: Iterable[int]) -> list[tuple[int, int, int, int]]:
        """(chunk id, article id, start, end) of every chunk of these articles: where in its article's
        text each chunk lies."""
        sql = 'SELECT id, article_id, start, "end" FROM chunks WHERE article_id IN ({})'
        with self.lock:
            rows = rows_for(self.db.conn, sql, list(article_ids))
        return [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def unchunked(self) -> list[tuple[int, str | None, str]]:
        """Articles stored without chunks (committed alone by versions before per-batch transactions)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT id, title, text FROM articles a WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_id = a.id)"
            ).fetchall()
        return [(int(r[0]), r[1], str(r[2])) for r in rows]

    def outlets_like(self, pattern: str, limit: int) -> list[str]:
        """Distinct outlets matching a LIKE pattern (backslash escapes), those with most articles first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT outlet FROM articles WHERE outlet LIKE ? ESCAPE '\\' GROUP BY outlet ORDER BY count(*) DESC LIMIT ?",
                [pattern, limit],
            ).fetchall()
        return [str(row[0]) for row in rows]

    def recent(self, count: int, outlet: str | None = None) -> list[ArticleRow]:
        where, args = ("AND outlet = ?", [outlet]) if outlet else ("", [])
        with self.lock:
            rows = self.db.query(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE published IS NOT NULL {where} "
                "ORDER BY published DESC LIMIT ?",
                [*args, count],
            )
            return [ArticleRow.from_row(row) for row in rows]

    def find_by_key_or_url(self, key: str, url: str) -> int | None:
        with self.lock:
            row = self.db.execute("SELECT id FROM articles WHERE key = ? OR url = ? LIMIT 1", [key, url]).fetchone()
        return int(row[0]) if row else None

    def coverage(self) -> tuple[str | None, str | None, str | None]:
        """The first and last publication dates and the last ingest time."""
        with self.lock:
            row = self.db.execute("SELECT min(published), max(published), max(ingested_at) FROM articles").fetchone()
        return row[0], row[1], row[2]

    def outlet_counts(self) -> list[tuple[str | None, int]]:
        with self.lock:
            rows = self.db.execute("SELECT outlet, count(*) FROM articles GROUP BY outlet ORDER BY count(*) DESC")
            return [(r[0], int(r[1])) for r in rows.fetchall()]

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's PRAGMA data_version)."""
        with self.lock:
            return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the whole database in a new file (VACUUM INTO)."""
        with self.lock:
            self.db.execute("VACUUM INTO ?", [str(path)])

    def count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0])
