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
    group_id = store.groups.group_of(match) if match else article_id
    store.groups.set_group(article_id, group_id)
    store.groups.add_buckets(article_id, buckets)
    return group_id


def _best_match(
    store: Store, article_id: int, own: set[str], buckets: list[tuple[int, int]], threshold: float
) -> int | None:
    candidates = store.groups.candidates(article_id, buckets, MAX_CANDIDATES)
    if not candidates:
        return None
    similarity = {i: jaccard(own, shingles(text)) for i, text in store.groups.texts(candidates)}
    best = max(similarity, key=lambda i: (similarity[i], -i), default=None)  # on a tie, the oldest
    return best if best is not None and similarity[best] >= threshold else None


def forget(store: Store, article_id: int) -> None:
    """Before an article's text changes: drops its buckets (recomputed from the old text) and
    takes it out of its group, handing the group's id to the next member if it held it."""
    found = store.groups.text_and_group(article_id)
    if found is None:
        return
    text, group_id = found
    store.groups.remove_buckets(article_id, band_buckets(shingles(text)))
    if group_id == article_id:
        store.groups.hand_over(article_id)
    store.groups.set_group(article_id, article_id)


def record_copy(store: Store, article: Article, original_id: int) -> None:
    """An exact copy is not stored again, but where it appeared is kept for "also in"."""
    store.groups.record_copy(
        article_key(article), original_id, article.url, article.outlet, utc_iso(article.published), now_iso()
    )


def backfill(store: Store, threshold: float = DEFAULT_THRESHOLD, batch: int = 500) -> int:
    """Groups articles stored before grouping existed (schema 1), in id order; returns how many."""
    done = 0
    while rows := store.groups.ungrouped(batch):
        for article_id, text in rows:
            assign(store, article_id, text, threshold)
        done += len(rows)
    return done


def ungrouped(store: Store) -> bool:
    return bool(store.groups.ungrouped(1))


def also_in(store: Store, article_id: int) -> list[str]:
    """Outlets where the article's story also appeared (other group members, exact copies), oldest first."""
    rows = store.groups.members_elsewhere(article_id)
    own = store.groups.outlet_and_url(article_id)
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
