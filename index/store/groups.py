"""The SQL of duplicate stories: `group_id` on articles, LSH buckets in `minhash_bands`, exact copies
in `article_copies`. `index.ingest.dedup` decides what is a duplicate; this class only stores it."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import sqlite_utils

BoundRow = tuple[str | None, str | None, str | None]  # outlet, url, published


class Groups:
    """Duplicate groups in one archive database; every query takes the store's lock."""

    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def set_group(self, article_id: int, group_id: int) -> None:
        with self.lock:
            self.db.execute("UPDATE articles SET group_id = ? WHERE id = ?", [group_id, article_id])

    def add_buckets(self, article_id: int, buckets: Iterable[tuple[int, int]]) -> None:
        with self.lock:
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO minhash_bands (band, bucket, article_id) VALUES (?, ?, ?)",
                [(band, bucket, article_id) for band, bucket in buckets],
            )

    def remove_buckets(self, article_id: int, buckets: Iterable[tuple[int, int]]) -> None:
        with self.lock:
            self.db.conn.executemany(
                "DELETE FROM minhash_bands WHERE band = ? AND bucket = ? AND article_id = ?",
                [(band, bucket, article_id) for band, bucket in buckets],
            )

    def candidates(self, article_id: int, buckets: list[tuple[int, int]], limit: int) -> list[int]:
        """Articles sharing a bucket with these, most shared bands first."""
        if not buckets:
            return []
        matches = " OR ".join(["(band = ? AND bucket = ?)"] * len(buckets))
        with self.lock:
            rows = self.db.execute(
                f"SELECT article_id FROM minhash_bands WHERE ({matches}) AND article_id != ? "
                "GROUP BY article_id ORDER BY count(*) DESC LIMIT ?",
                [value for pair in buckets for value in pair] + [article_id, limit],
            ).fetchall()
        return [int(row[0]) for row in rows]

    def texts(self, ids: list[int]) -> list[tuple[int, str]]:
        with self.lock:
            rows = self.db.execute(f"SELECT id, text FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)
            return [(int(i), str(text)) for i, text in rows.fetchall()]

    def group_of(self, article_id: int) -> int:
        with self.lock:
            row = self.db.execute("SELECT group_id FROM articles WHERE id = ?", [article_id]).fetchone()
        return int(row[0]) if row and row[0] is not None else article_id

    def text_and_group(self, article_id: int) -> tuple[str, int | None] | None:
        with self.lock:
            row = self.db.execute("SELECT text, group_id FROM articles WHERE id = ?", [article_id]).fetchone()
        return (str(row[0]), row[1]) if row else None

    def hand_over(self, group_id: int) -> None:
        """The group's other members move to the group of its oldest other member."""
        with self.lock:
            heir = self.db.execute(
                "SELECT min(id) FROM articles WHERE group_id = ? AND id != ?", [group_id, group_id]
            ).fetchone()[0]
            if heir is not None:
                self.db.execute(
                    "UPDATE articles SET group_id = ? WHERE group_id = ? AND id != ?", [heir, group_id, group_id]
                )

    def record_copy(
        self, key: str, original_id: int, url: str | None, outlet: str | None, published: str | None, ingested_at: str
    ) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO article_copies (key, article_id, url, outlet, published, ingested_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [key, original_id, url, outlet, published, ingested_at],
            )

    def ungrouped(self, limit: int) -> list[tuple[int, str]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, text FROM articles WHERE group_id IS NULL ORDER BY id LIMIT ?", [limit]
            ).fetchall()
        return [(int(i), str(text)) for i, text in rows]

    def members_elsewhere(self, article_id: int) -> list[BoundRow]:
        """Outlet, URL and date of the other members of the article's group and of their exact copies."""
        with self.lock:
            rows = self.db.execute(
                "SELECT m.outlet, m.url, m.published FROM articles a JOIN articles m ON m.group_id = a.group_id "
                "WHERE a.id = ? AND m.id != a.id UNION ALL "
                "SELECT c.outlet, c.url, c.published FROM articles a JOIN articles m ON m.group_id = a.group_id "
                "JOIN article_copies c ON c.article_id = m.id WHERE a.id = ?",
                [article_id, article_id],
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def outlet_and_url(self, article_id: int) -> tuple[str | None, str | None] | None:
        with self.lock:
            row = self.db.execute("SELECT outlet, url FROM articles WHERE id = ?", [article_id]).fetchone()
        return (row[0], row[1]) if row else None

    def members(self, group_id: int) -> list[int]:
        with self.lock:
            return [int(r[0]) for r in self.db.execute("SELECT id FROM articles WHERE group_id = ?", [group_id])]

    def counts(self) -> tuple[int, int]:
        """Stories with more than one version, and the versions folded under another."""
        with self.lock:
            groups, folded = self.db.execute(
                "SELECT count(*), coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM ("
                "SELECT group_id AS g FROM articles WHERE group_id IS NOT NULL UNION ALL "
                "SELECT a.group_id FROM article_copies c JOIN articles a ON a.id = c.article_id"
                ") GROUP BY g HAVING n > 1)"
            ).fetchone()
        return int(groups), int(folded)
