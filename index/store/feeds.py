"""The SQL of watched feeds: `watched_feeds` (each feed's polls) and `feed_items` (what each feed showed,
what it became). `index.web.watch` decides what to fetch; this class only remembers it."""

from __future__ import annotations

import threading

import sqlite_utils

from index.store.params import rows_for

Seen = dict[str, tuple[int | None, int]]  # item key → (article id, attempts)


class FeedLog:
    """Feeds and their items in one archive database; every query takes the store's lock."""

    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def is_new_feed(self, feed: str) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM watched_feeds WHERE url = ?", [feed]).fetchone() is None

    def seen(self, feed: str, keys: list[str]) -> Seen:
        """item key → (article id, attempts) for the keys this feed showed before."""
        sql = "SELECT item, article_id, attempts FROM feed_items WHERE feed = ? AND item IN ({})"
        with self.lock:
            rows = rows_for(self.db.conn, sql, keys, before=[feed])
        return {row[0]: (row[1], row[2]) for row in rows}

    def remember_item(self, feed: str, item: str, article_id: int | None, error: str | None, now: str) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO feed_items (feed, item, article_id, attempts, last_error, seen_at) "
                "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (feed, item) DO UPDATE SET article_id = excluded.article_id, "
                "attempts = attempts + 1, last_error = excluded.last_error, seen_at = excluded.seen_at",
                [feed, item, article_id, error, now],
            )

    def polled(self, feed: str, now: str) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO watched_feeds (url, first_polled_at, last_polled_at) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET last_polled_at = excluded.last_polled_at",
                [feed, now, now],
            )
