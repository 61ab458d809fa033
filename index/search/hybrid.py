"""Hybrid search: dense (FAISS) and keyword (FTS5/BM25) rankings fused, grouped by article."""
from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from index.archive import Archive
from index.embedding import embed_queries
from index.ingest import dedup
from index.search.keywords import match_expression, question_terms, rarest_terms
from index.search.time_phrases import TimeWindow, find_window
from index.store import utc_iso


@dataclass
class Filters:
    """What the asker limited the search to, and the moment the question is asked at."""

    since: datetime | None = None
    until: datetime | None = None
    outlets: list[str] = field(default_factory=list)
    as_of: datetime | None = None
    recency: bool = True  # lean towards articles near `as_of` when the question names no time

    @classmethod
    def given(
        cls, since: datetime | None = None, until: datetime | None = None, outlets: Iterable[str] = (),
        as_of: datetime | None = None,
    ) -> Filters:
        """Filters as a person gives them, in the CLI or in Discord: `until` as a plain date
        includes that whole day (`--until 2022-02-28` keeps articles of 28 February)."""
        return cls(since=since, until=whole_day_until(until), outlets=list(outlets), as_of=as_of)

    def to_json(self) -> dict[str, Any]:
        return {k: (utc_iso(v) if isinstance(v, datetime) else v) for k, v in asdict(self).items()}


def whole_day_until(until: datetime | None) -> datetime | None:
    """The exclusive end for an `until` someone gave: a plain date (midnight) becomes the next midnight."""
    if until is not None and until == until.replace(hour=0, minute=0, second=0, microsecond=0):
        return until + timedelta(days=1)
    return until


@dataclass
class Tuning:
    """Fusion weights, tuned on the RealTimeQA dev questions (a small grid; docs/benchmarks.md)."""

    rrf_k: float = 30.0
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 200  # chunks fetched from each ranking
    window_boost: float = 1.0  # how much an article inside the question's window is preferred
    recency_boost: float = 1.0  # preference for articles near `as_of` when no window is named
    recency_days: float = 14.0  # how fast that preference fades
    passages: int = 2


@dataclass
class Passage:
    chunk_id: int
    text: str
    score: float


@dataclass
class Result:
    article_id: int
    url: str | None
    title: str | None
    outlet: str | None
    published: str | None
    score: float
    dense: float  # best cosine similarity of its chunks to the question
    passages: list[Passage]
    also_in: list[str] = field(default_factory=list)  # other outlets that ran the same story

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url, "title": self.title, "outlet": self.outlet, "published": self.published,
            "score": round(self.score, 6),
            "passages": [{"text": p.text, "chunk_id": p.chunk_id} for p in self.passages],
            "also_in": self.also_in,
        }


@dataclass
class SearchResponse:
    query: str
    filters: Filters
    window: TimeWindow | None
    results: list[Result]
    query_vector: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        filters = self.filters.to_json()
        filters["window"] = self.window.describe() if self.window else None
        return {"query": self.query, "filters": filters, "results": [r.to_json() for r in self.results]}


def dense_candidates(archive: Archive, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
    """Chunk ids and cosine scores, best first; `allowed` restricts the search to those ids."""
    if archive.vectors is None or len(archive.vectors) == 0:
        return []
    with archive.lock:  # the index picks the filter parameters its kind accepts (IVF rejects plain ones)
        scores, ids = archive.vectors.search(vector, n, allowed)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def _filter_sql(filters: Filters, window: TimeWindow | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    since, until = filters.since, filters.until
    if window and window.strict:
        since = max(since, window.since) if since and window.since else (since or window.since)
        until = min(until, window.until) if until and window.until else (until or window.until)
    if since:
        clauses.append("a.published >= ?")
        args.append(utc_iso(since))
    if until:
        clauses.append("a.published < ?")
        args.append(utc_iso(until))
    if filters.outlets:
        clauses.append(f"a.outlet IN ({','.join('?' * len(filters.outlets))})")
        args.extend(filters.outlets)
    return " AND ".join(clauses), args


def keyword_candidates(archive: Archive, question: str, n: int, where: str, args: list[Any]) -> list[tuple[int, float]]:
    """Chunk ids and BM25 scores (higher is better) for the question's rarest content words."""
    with archive.lock:
        conn = archive.store.db.conn
        expression = match_expression(rarest_terms(conn, question_terms(question)))
        if not expression:
            return []
        join = f" JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id WHERE {where} AND" if where else " WHERE"
        sql = f"SELECT f.rowid, bm25(chunks_fts, 2.0, 1.0) AS s FROM chunks_fts f{join} chunks_fts MATCH ? ORDER BY s LIMIT ?"
        return [(int(r[0]), -float(r[1])) for r in conn.execute(sql, [*args, expression, n])]


def allowed_chunks(archive: Archive, where: str, args: list[Any]) -> np.ndarray | None:
    if not where:
        return None
    with archive.lock:
        rows = archive.store.db.execute(
            f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}", args
        ).fetchall()
    return np.asarray([r[0] for r in rows], dtype=np.int64)


def _ranks(candidates: list[tuple[int, float]], article_of: dict[int, int]) -> dict[int, int]:
    """Each article's rank by its best chunk in one ranking (0 = best)."""
    ranks: dict[int, int] = {}
    for chunk_id, _ in candidates:
        ranks.setdefault(article_of[chunk_id], len(ranks))
    return ranks


def time_prior(published: str | None, window: TimeWindow | None, filters: Filters, tuning: Tuning) -> float:
    """A multiplier ≥ 1 for articles inside the named window, or near `as_of`."""
    if not published:
        return 1.0
    moment = datetime.fromisoformat(published)
    if window and not window.strict:
        inside = (window.since is None or moment >= window.since) and (window.until is None or moment < window.until)
        return 1.0 + tuning.window_boost if inside else 1.0
    if filters.as_of and filters.recency and not window:
        days = (filters.as_of - moment).total_seconds() / 86400
        if days < -1:  # after the question was asked: it cannot be what the asker means
            return 1.0
        return 1.0 + tuning.recency_boost * math.exp(-max(days, 0.0) / tuning.recency_days)
    return 1.0


def _passes(row: dict[str, Any], filters: Filters, window: TimeWindow | None) -> bool:
    where, _ = _filter_sql(filters, window)
    if not where:
        return True
    published: str = row.get("published") or ""
    since, until = _bounds(filters, window)
    if (since or until) and not published:
        return False
    if since and published < utc_iso(since):
        return False
    if until and published >= utc_iso(until):
        return False
    return not filters.outlets or row.get("outlet") in filters.outlets


def _bounds(filters: Filters, window: TimeWindow | None) -> tuple[datetime | None, datetime | None]:
    since, until = filters.since, filters.until
    if window and window.strict:
        since = max(filter(None, [since, window.since]), default=None)
        until = min(filter(None, [until, window.until]), default=None)
    return since, until


def embed_query(archive: Archive, query: str) -> np.ndarray:
    vector: np.ndarray = embed_queries(archive.embedder, [query])[0]
    return vector


_EMBED_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="query-embedding")


def _embed_beside_keywords(archive: Archive, query: str) -> np.ndarray:
    """In a pool thread with one intra-op torch thread (torch's count is per thread): on two cores,
    two torch threads beside the keyword query run slower than one (docs/benchmarks.md, query latency)."""
    torch = sys.modules.get("torch")  # only if the model uses it; never imported for other embedders
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return embed_query(archive, query)


def search(
    archive: Archive, query: str, k: int = 10, filters: Filters | None = None,
    tuning: Tuning | None = None, vector: np.ndarray | None = None,
) -> SearchResponse:
    """The `k` articles that best answer `query`, each with its best passages."""
    filters, tuning = filters or Filters(), tuning or Tuning()
    archive.refresh()  # what other processes ingested, or a database another process rebuilt
    window = find_window(query, filters.as_of)
    where, args = _filter_sql(filters, window)
    # the model and SQLite both release the GIL: the question is embedded while the keyword query runs
    embedding = _EMBED_POOL.submit(_embed_beside_keywords, archive, query) if vector is None else None
    keyword = keyword_candidates(archive, query, tuning.candidates, where, args)
    vector = embedding.result() if embedding else vector
    assert vector is not None  # embedded above when not given
    dense = _dense_filtered(archive, vector, tuning.candidates, filters, window, where, args, k)
    results = fuse(archive, dense, keyword, filters, window, tuning)[:k]
    with archive.lock:
        for result in results:
            result.also_in = dedup.also_in(archive.store, result.article_id)
    return SearchResponse(query, filters, window, results, vector)


def _dense_filtered(
    archive: Archive, vector: np.ndarray, n: int, filters: Filters, window: TimeWindow | None,
    where: str, args: list[Any], k: int,
) -> list[tuple[int, float]]:
    """Over-fetch and filter; when too few survive, search again inside the allowed chunks only."""
    if not where:
        return dense_candidates(archive, vector, n, None)
    hits = dense_candidates(archive, vector, n * 4, None)
    rows = _chunk_articles(archive, [c for c, _ in hits])
    kept = [(c, s) for c, s in hits if c in rows and _passes(rows[c], filters, window)]
    if len({_story(rows[c]) for c, _ in kept}) >= k:
        return kept[:n]
    return dense_candidates(archive, vector, n, allowed_chunks(archive, where, args))


def _chunk_articles(archive: Archive, chunk_ids: list[int]) -> dict[int, dict[str, Any]]:
    """chunk id → its article's row (id, published, outlet, …) and the chunk itself."""
    with archive.lock:
        chunks = archive.store.chunks(chunk_ids)
        articles = archive.store.articles({c.article_id for c in chunks.values()}, with_text=False)
    return {cid: {**articles[c.article_id], "chunk": c} for cid, c in chunks.items()}


def fuse(
    archive: Archive, dense: list[tuple[int, float]], keyword: list[tuple[int, float]],
    filters: Filters, window: TimeWindow | None, tuning: Tuning,
) -> list[Result]:
    """Reciprocal-rank fusion over stories (an article with its duplicates, ranked by its best chunk),
    times the time prior; the newest version among the candidates answers for its story."""
    rows = _chunk_articles(archive, list({c for c, _ in dense} | {c for c, _ in keyword}))
    dense = [(c, s) for c, s in dense if c in rows]
    keyword = [(c, s) for c, s in keyword if c in rows]
    story_of = {c: _story(row) for c, row in rows.items()}
    chunk_score = _chunk_scores(dense, keyword, tuning)
    ranks = (_ranks(dense, story_of), _ranks(keyword, story_of))
    best_dense: dict[int, float] = {}
    for c, s in dense:
        best_dense.setdefault(story_of[c], s)
    results = []
    for story, chunk_ids in _answering_chunks(rows, chunk_score, story_of).items():
        row = rows[chunk_ids[0]]
        score = _rrf(ranks[0].get(story), tuning.dense_weight, tuning) + _rrf(ranks[1].get(story), tuning.keyword_weight, tuning)
        score *= time_prior(row.get("published"), window, filters, tuning)
        passages = [Passage(c, rows[c]["chunk"].text, chunk_score[c]) for c in chunk_ids[: tuning.passages]]
        results.append(Result(row["id"], row["url"], row["title"], row["outlet"], row["published"], score, best_dense.get(story, 0.0), passages))
    return sorted(results, key=lambda r: r.score, reverse=True)


def _answering_chunks(rows: dict[int, dict[str, Any]], chunk_score: dict[int, float], story_of: dict[int, int]) -> dict[int, list[int]]:
    """Story → the candidate chunks of its newest version, best first (quotes are verbatim: one version's only)."""
    newest = _newest_versions(rows)
    by_story: dict[int, list[int]] = {}
    for c in sorted(chunk_score, key=chunk_score.__getitem__, reverse=True):
        if rows[c]["id"] == newest[story_of[c]]:
            by_story.setdefault(story_of[c], []).append(c)
    return by_story


def _story(row: dict[str, Any]) -> int:
    return int(row.get("group_id") or row["id"])


def _newest_versions(rows: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Story → its newest version among the candidates (by published date, else ingest time)."""
    newest: dict[int, dict[str, Any]] = {}
    for row in rows.values():
        current = newest.get(_story(row))
        if current is None or _version_time(row) > _version_time(current):
            newest[_story(row)] = row
    return {story: row["id"] for story, row in newest.items()}


def _version_time(row: dict[str, Any]) -> tuple[str, int]:
    return (row.get("published") or row.get("ingested_at") or "", row["id"])


def _rrf(rank: int | None, weight: float, tuning: Tuning) -> float:
    return 0.0 if rank is None else weight / (tuning.rrf_k + rank + 1)


def _chunk_scores(dense: list[tuple[int, float]], keyword: list[tuple[int, float]], tuning: Tuning) -> dict[int, float]:
    scores: dict[int, float] = {}
    for weight, ranking in ((tuning.dense_weight, dense), (tuning.keyword_weight, keyword)):
        for rank, (c, _) in enumerate(ranking):
            scores[c] = scores.get(c, 0.0) + _rrf(rank, weight, tuning)
    return scores
