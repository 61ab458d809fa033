"""Duplicate stories: near-identical articles (one wire story in several outlets, a later version
of an article) share a `group_id`; the newest member answers for the group.

Grouping is incremental and never loads every signature: each article's MinHash signature is
cut into LSH bands whose buckets live in `minhash_bands`, so a new article finds its candidates
with one indexed query, and each candidate is verified by the exact Jaccard similarity of word
shingles. Exact copies (same text under another URL) are not stored twice: `article_copies`
remembers where else they appeared.
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable
from typing import Any

import numpy as np
from datasketch import MinHash

from index.article import Article, article_key
from index.store import Store, now_iso, utc_iso
from index.web.urls import host_of

SHINGLE_WORDS = 3  # short shingles: one edited word changes few of them
NUM_PERM = 128
BANDS, ROWS = 16, 8  # P(candidate) ≈ 0.95 at Jaccard 0.8, 0.06 at 0.5: verification stays cheap
MIN_SHINGLES = 15  # a few lines of text are too little evidence that two articles are one story
MAX_CANDIDATES = 20
DEFAULT_THRESHOLD = 0.8
_SCHEME = "affine32"  # fixed: stored buckets must come out the same in every later version
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=1, scheme=_SCHEME).permutations
_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def band_buckets(shingle_set: set[str]) -> list[tuple[int, int]]:
    """(band, bucket) pairs of the set's MinHash signature; none for a text too short to judge."""
    if len(shingle_set) < MIN_SHINGLES:
        return []
    minhash = MinHash(num_perm=NUM_PERM, permutations=_PERMUTATIONS, scheme=_SCHEME)
    minhash.update_batch([s.encode() for s in shingle_set])
    signature = minhash.hashvalues.astype(np.uint32)
    return [(band, _bucket(signature[band * ROWS : (band + 1) * ROWS])) for band in range(BANDS)]


def _bucket(rows: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(rows.tobytes(), digest_size=8).digest(), "little", signed=True)


def assign(store: Store, article_id: int, text: str, threshold: float = DEFAULT_THRESHOLD) -> int:
    """Puts a just-saved article into the group of its most similar earlier article, or its own."""
    own = shingles(text)
    buckets = band_buckets(own)
    match = _best_match(store, article_id, own, buckets, threshold)
    group_id = _group_of(store, match) if match else article_id
    store.db.execute("UPDATE articles SET group_id = ? WHERE id = ?", [group_id, article_id])
    store.db.conn.executemany(
        "INSERT OR IGNORE INTO minhash_bands (band, bucket, article_id) VALUES (?, ?, ?)",
        [(band, bucket, article_id) for band, bucket in buckets],
    )
    return group_id


def _best_match(store: Store, article_id: int, own: set[str], buckets: list[tuple[int, int]], threshold: float) -> int | None:
    candidates = _candidates(store.db.conn, article_id, buckets)
    if not candidates:
        return None
    texts = store.db.execute(
        f"SELECT id, text FROM articles WHERE id IN ({','.join('?' * len(candidates))})", candidates
    ).fetchall()
    similarity = {i: jaccard(own, shingles(text)) for i, text in texts}
    best = max(similarity, key=lambda i: (similarity[i], -i), default=None)  # on a tie, the oldest
    return best if best is not None and similarity[best] >= threshold else None


def _candidates(conn: sqlite3.Connection, article_id: int, buckets: list[tuple[int, int]]) -> list[int]:
    """Articles sharing a bucket with these, most shared bands first."""
    if not buckets:
        return []
    matches = " OR ".join(["(band = ? AND bucket = ?)"] * len(buckets))
    rows = conn.execute(
        f"SELECT article_id FROM minhash_bands WHERE ({matches}) AND article_id != ? "
        "GROUP BY article_id ORDER BY count(*) DESC LIMIT ?",
        [value for pair in buckets for value in pair] + [article_id, MAX_CANDIDATES],
    )
    return [row[0] for row in rows]


def _group_of(store: Store, article_id: int) -> int:
    row = store.db.execute("SELECT group_id FROM articles WHERE id = ?", [article_id]).fetchone()
    return row[0] if row and row[0] is not None else article_id


def forget(store: Store, article_id: int) -> None:
    """Before an article's text changes: drops its buckets (recomputed from the old text) and
    takes it out of its group, handing the group's id to the next member if it held it."""
    row = store.db.execute("SELECT text, group_id FROM articles WHERE id = ?", [article_id]).fetchone()
    if row is None:
        return
    store.db.conn.executemany(
        "DELETE FROM minhash_bands WHERE band = ? AND bucket = ? AND article_id = ?",
        [(band, bucket, article_id) for band, bucket in band_buckets(shingles(row[0]))],
    )
    if row[1] == article_id:
        _hand_over_group(store, article_id)
    store.db.execute("UPDATE articles SET group_id = ? WHERE id = ?", [article_id, article_id])


def _hand_over_group(store: Store, group_id: int) -> None:
    heir = store.db.execute(
        "SELECT min(id) FROM articles WHERE group_id = ? AND id != ?", [group_id, group_id]
    ).fetchone()[0]
    if heir is not None:
        store.db.execute("UPDATE articles SET group_id = ? WHERE group_id = ? AND id != ?", [heir, group_id, group_id])


def record_copy(store: Store, article: Article, original_id: int) -> None:
    """An exact copy is not stored again, but where it appeared is kept for "also in"."""
    store.db.execute(
        "INSERT OR REPLACE INTO article_copies (key, article_id, url, outlet, published, ingested_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [article_key(article), original_id, article.url, article.outlet, utc_iso(article.published), now_iso()],
    )


def backfill(store: Store, threshold: float = DEFAULT_THRESHOLD, batch: int = 500) -> int:
    """Groups articles stored before grouping existed (schema 1), in id order; returns how many."""
    done = 0
    while rows := store.db.execute(
        "SELECT id, text FROM articles WHERE group_id IS NULL ORDER BY id LIMIT ?", [batch]
    ).fetchall():
        for article_id, text in rows:
            assign(store, article_id, text, threshold)
        done += len(rows)
    return done


def ungrouped(store: Store) -> bool:
    return store.db.execute("SELECT 1 FROM articles WHERE group_id IS NULL LIMIT 1").fetchone() is not None


def also_in(store: Store, article_id: int) -> list[str]:
    """Outlets where the article's story also appeared (other group members, exact copies), oldest first."""
    rows = store.db.execute(
        "SELECT m.outlet, m.url, m.published FROM articles a JOIN articles m ON m.group_id = a.group_id "
        "WHERE a.id = ? AND m.id != a.id UNION ALL "
        "SELECT c.outlet, c.url, c.published FROM articles a JOIN articles m ON m.group_id = a.group_id "
        "JOIN article_copies c ON c.article_id = m.id WHERE a.id = ?",
        [article_id, article_id],
    ).fetchall()
    own = store.db.execute("SELECT outlet, url FROM articles WHERE id = ?", [article_id]).fetchone()
    return _outlet_names(sorted(rows, key=lambda r: r[2] or ""), exclude=_outlet_name(*own) if own else None)


def _outlet_name(outlet: str | None, url: str | None) -> str | None:
    return outlet or (host_of(url) if url else None)


def _outlet_names(rows: Iterable[tuple[Any, ...]], exclude: str | None) -> list[str]:
    names: list[str] = []
    for outlet, url, _ in rows:
        name = _outlet_name(outlet, url)
        if name and name != exclude and name not in names:
            names.append(name)
    return names


def group_stats(store: Store) -> dict[str, int]:
    """Stories with more than one version, and the versions folded under another."""
    groups, folded = store.db.execute(
        "SELECT count(*), coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM ("
        "SELECT group_id AS g FROM articles WHERE group_id IS NOT NULL UNION ALL "
        "SELECT a.group_id FROM article_copies c JOIN articles a ON a.id = c.article_id"
        ") GROUP BY g HAVING n > 1)"
    ).fetchone()
    return {"duplicate_groups": int(groups), "articles_folded": int(folded)}
