"""The archive's schema as numbered migrations: fresh files get them all, pre-migration files upgrade in place."""

import sqlite3

from sqlite_utils import Database

from index.store import DB_NAME, SCHEMA_VERSION, Store
from index.store.migrations import migrations

# What `Store` created before migrations existed (schema 1, then schema 2's additions), verbatim.
OLD_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    url TEXT, title TEXT, outlet TEXT, authors TEXT,
    published TEXT, text TEXT NOT NULL, content_hash TEXT NOT NULL,
    source TEXT, source_id TEXT, ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    position INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, row);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
OLD_SCHEMA_2 = """
ALTER TABLE articles ADD COLUMN group_id INTEGER;
CREATE INDEX IF NOT EXISTS articles_group ON articles(group_id);
CREATE TABLE IF NOT EXISTS minhash_bands (
    band INTEGER NOT NULL, bucket INTEGER NOT NULL, article_id INTEGER NOT NULL,
    PRIMARY KEY (band, bucket, article_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS article_copies (
    key TEXT PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
    url TEXT, outlet TEXT, published TEXT, ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_copies_article ON article_copies(article_id);
CREATE TABLE IF NOT EXISTS watched_feeds (url TEXT PRIMARY KEY, first_polled_at TEXT, last_polled_at TEXT);
CREATE TABLE IF NOT EXISTS feed_items (
    feed TEXT NOT NULL, item TEXT NOT NULL, article_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, seen_at TEXT NOT NULL, PRIMARY KEY (feed, item)
);
"""
ALL = ["m001_articles_chunks_fts", "m002_groups_copies_feeds", "m003_article_facts_index", "m004_chunk_facts_index"]


def old_archive(path, version):
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA_1 + (OLD_SCHEMA_2 if version == 2 else ""))
        conn.execute(
            "INSERT INTO articles (key, title, text, content_hash, ingested_at) "
            "VALUES ('k1', 'Old headline', 'old text', 'h1', '2022-01-01T00:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('embedding_model', 'fake')", [str(version)]
        )
    conn.close()


def applied(path):
    return [m.name for m in migrations.applied(Database(path))]


def test_a_fresh_archive_gets_every_migration(tmp_path):
    store = Store(tmp_path / DB_NAME)
    assert [m.name for m in migrations.applied(store.db)] == ALL
    assert len(ALL) == SCHEMA_VERSION
    assert {
        "articles",
        "chunks",
        "chunks_fts",
        "meta",
        "minhash_bands",
        "article_copies",
        "feed_items",
        "watched_feeds",
    } <= set(store.db.table_names())
    assert "group_id" in store.db["articles"].columns_dict
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    store.close()


def test_a_schema_2_archive_from_before_migrations_upgrades_in_place(tmp_path):
    path = tmp_path / DB_NAME
    old_archive(path, version=2)
    store = Store(path)
    assert store.find_article("k1") == (1, "h1")  # the data is kept
    assert store.get_meta("embedding_model") == "fake"
    store.close()
    assert applied(path) == ALL


def test_a_schema_1_archive_gains_what_schema_2_added(tmp_path):
    path = tmp_path / DB_NAME
    old_archive(path, version=1)
    assert "group_id" not in Database(path)["articles"].columns_dict
    store = Store(path)
    assert "group_id" in store.db["articles"].columns_dict
    assert "feed_items" in store.db.table_names()
    assert store.article(1).title == "Old headline"
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    store.close()
    assert applied(path) == ALL


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / DB_NAME
    for _ in range(3):
        Store(path).close()
    rows = Database(path).execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ALL


def test_the_bot_tables_are_a_migration_set_of_their_own(tmp_path):
    from bot.state import bot_migrations, create_bot_tables

    store = Store(tmp_path / DB_NAME)
    store.db.execute("CREATE TABLE bot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")  # made before migrations
    store.db.execute("INSERT INTO bot_meta VALUES ('salt', 'kept')")
    for _ in range(2):
        create_bot_tables(store.db)
    assert [m.name for m in bot_migrations.applied(store.db)] == ["m001_bot_tables"]
    assert {"conversation_turns", "answers", "votes", "follows", "guild_settings"} <= set(store.db.table_names())
    assert store.db.execute("SELECT value FROM bot_meta").fetchone() == ("kept",)
    store.close()
