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
from index.search.keywords import index_terms, keyword_query
from index.search.time_phrases import TimeWindow, find_window
from index.store import utc_iso
from index.store.lookups import NO_FILTER, ChunkFilter
from index.store.postings import TITLE_WEIGHT

Scored = list[tuple[int, float]]  # (chunk id, score), best first


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
        cls,
        since: datetime | None = None,
        until: datetime | None = None,
        outlets: Iterable[str] = (),
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
    """Every ranking constant, in one place. The defaults are the method with the best held-out figures
    under 5-fold cross-validation over the RealTimeQA dev questions: reciprocal-rank fusion with round
    constants; tuned grids, normalised-score blends, lede boosts and phrase queries all scored lower on
    the held-out folds (docs/benchmarks.md, "Retrieval quality")."""

    fusion: str = "rrf"  # "rrf" (reciprocal ranks) or "blend" (per-query normalised scores, convex combination)
    rrf_k: float = 30.0
    dense_weight: float = 1.0  # rrf: weight of the dense ranking; 0 leaves it out (either fusion)
    keyword_weight: float = 1.0  # rrf: weight of the keyword ranking; 0 leaves it out (either fusion)
    dense_share: float = 0.5  # blend: weight of the dense score, the keyword score getting the rest
    normalise: str = "minmax"  # blend: "minmax" or "zscore" over each ranking's candidates
    lede_boost: float = 0.0  # a story's first chunk (headline and lede) scores × (1 + this) in each ranking
    title_weight: float = TITLE_WEIGHT  # BM25 weight of a headline word against a body word
    phrases: str = "none"  # keyword query: also match neighbouring question words as phrases: "none", "names", "all"
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
            "url": self.url,
            "title": self.title,
            "outlet": self.outlet,
            "published": self.published,
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


@dataclass(frozen=True)
class ChunkFacts:
    """What ranking needs of one candidate chunk; texts are read only for the results shown."""

    article_id: int
    story: int  # the article's duplicate group (itself when it has none)
    position: int  # 0: the chunk holding the headline's lede
    published: str | None
    outlet: str | None
    version: tuple[str, int]  # newer versions of a story sort later
    moment: float | None = None  # `published` in seconds since the epoch


@dataclass
class Ranked:
    """A story's place in the fused ranking: the version that answers for it and its best chunks."""

    article_id: int
    story: int
    score: float
    dense: float
    chunk_ids: list[int]
    chunk_scores: list[float]


def dense_candidates(archive: Archive, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> Scored:
    """Chunk ids and cosine scores, best first; `allowed` restricts the search to those ids."""
    if archive.vectors is None or len(archive.vectors) == 0:
        return []
    with archive.lock:  # the index picks the filter parameters its kind accepts (IVF rejects plain ones)
        scores, ids = archive.vectors.search(vector, n, allowed)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def chunk_filter(filters: Filters, window: TimeWindow | None) -> ChunkFilter:
    """What the store may return for these filters and the question's strict time window."""
    since, until = _bounds(filters, window)
    return ChunkFilter(utc_iso(since) if since else None, utc_iso(until) if until else None, tuple(filters.outlets))


def keyword_candidates(
    archive: Archive,
    question: str,
    n: int,
    only: ChunkFilter = NO_FILTER,
    tuning: Tuning | None = None,
) -> Scored:
    """Chunk ids and BM25 scores (higher is better) for the question's rarest content words: from the
    in-memory index where it is current and scores what is asked (FTS5's own ranking, ~15-20x faster),
    else from FTS5."""
    tuning = tuning or Tuning()
    postings = archive.keywords.postings
    if postings is not None and not only and tuning.phrases == "none" and tuning.title_weight == TITLE_WEIGHT:
        return postings.score(index_terms(archive.store.lookups, question, postings), n)
    expression = keyword_query(archive.store.lookups, question, tuning.phrases)
    if not expression:
        return []
    return archive.store.lookups.keyword_matches(expression, n, tuning.title_weight, only)


def allowed_chunks(archive: Archive, only: ChunkFilter) -> np.ndarray | None:
    if not only:
        return None
    return np.asarray(archive.store.lookups.allowed_chunks(only), dtype=np.int64)


DAY_GRACE = 86400.0  # a date written in another time zone than `as_of`'s


def time_prior(moments: np.ndarray, window: TimeWindow | None, filters: Filters, tuning: Tuning) -> np.ndarray:
    """Multipliers ≥ 1 for articles published at `moments` (epoch seconds, NaN unknown): inside the
    question's loose window ("this week"), or near `as_of` when the question names no time."""
    known = ~np.isnan(moments)
    if window and not window.strict:
        since = window.since.timestamp() if window.since else -math.inf
        until = window.until.timestamp() if window.until else math.inf
        with np.errstate(invalid="ignore"):
            inside: np.ndarray = known & (moments >= since) & (moments < until)
        return 1.0 + tuning.window_boost * inside
    if not (filters.as_of and filters.recency and not window and tuning.recency_boost):
        return np.ones_like(moments)
    now = filters.as_of.timestamp()
    age = np.nan_to_num(now - moments, nan=-math.inf)
    # an undated article (age -inf) gets no boost; later ones than `as_of` are dropped (`published_by`)
    boost = np.where(age >= -DAY_GRACE, np.exp(-np.maximum(age, 0.0) / (86400 * tuning.recency_days)), 0.0)
    return 1.0 + tuning.recency_boost * boost


def published_by(moments: np.ndarray, filters: Filters) -> np.ndarray:
    """Which articles were published by `as_of` (a day's grace for time zones), or have no date:
    asked as of a moment, the archive holds only what had been published by then."""
    if filters.as_of is None:
        return np.ones(len(moments), dtype=bool)
    with np.errstate(invalid="ignore"):
        return ~(moments > filters.as_of.timestamp() + DAY_GRACE)


def _passes(facts: ChunkFacts, only: ChunkFilter) -> bool:
    published = facts.published
    if (only.since or only.until) and not published:
        return False
    if only.since and published and published < only.since:
        return False
    if only.until and published and published >= only.until:
        return False
    return not only.outlets or facts.outlet in only.outlets


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
    archive: Archive,
    query: str,
    k: int = 10,
    filters: Filters | None = None,
    tuning: Tuning | None = None,
    vector: np.ndarray | None = None,
) -> SearchResponse:
    """The `k` articles that best answer `query`, each with its best passages."""
    filters, tuning = filters or Filters(), tuning or Tuning()
    archive.refresh()  # what other processes ingested, or a database another process rebuilt
    window = find_window(query, filters.as_of)
    only = chunk_filter(filters, window)
    # the model and SQLite both release the GIL: the question is embedded while the keyword query runs
    embedding = _EMBED_POOL.submit(_embed_beside_keywords, archive, query) if vector is None else None
    keyword = keyword_candidates(archive, query, tuning.candidates, only, tuning)
    facts = chunk_facts(archive, [c for c, _ in keyword])  # read while the question is still being embedded
    vector = embedding.result() if embedding else vector
    assert vector is not None
    dense = _dense_filtered(archive, vector, tuning.candidates, only, k, facts)
    results = fuse(archive, dense, keyword, filters, window, tuning, k, facts)
    with archive.lock:
        for result in results:
            result.also_in = dedup.also_in(archive.store, result.article_id)
    return SearchResponse(query, filters, window, results, vector)


def _dense_filtered(
    archive: Archive,
    vector: np.ndarray,
    n: int,
    only: ChunkFilter,
    k: int,
    known: dict[int, ChunkFacts] | None = None,
) -> Scored:
    """Over-fetch and filter; when too few survive, search again inside the allowed chunks only."""
    if not only:
        return dense_candidates(archive, vector, n, None)
    hits = dense_candidates(archive, vector, n * 4, None)
    facts = chunk_facts(archive, [c for c, _ in hits], known)
    kept = [(c, s) for c, s in hits if c in facts and _passes(facts[c], only)]
    if len({facts[c].story for c, _ in kept}) >= k:
        return kept[:n]
    return dense_candidates(archive, vector, n, allowed_chunks(archive, only))


def chunk_facts(
    archive: Archive, chunk_ids: Iterable[int], known: dict[int, ChunkFacts] | None = None
) -> dict[int, ChunkFacts]:
    """Chunk id → what ranking needs of it, in one query (no texts); `known` facts are kept, not read
    again, and the dict returned includes them."""
    found = dict(known) if known else {}
    moments: dict[str | None, float | None] = {None: None}
    for r in archive.store.lookups.chunk_facts([c for c in chunk_ids if c not in found]):
        if r[4] is not None and r[4] not in moments:
            moments[r[4]] = datetime.fromisoformat(r[4]).timestamp()
        found[int(r[0])] = ChunkFacts(r[1], r[2], r[3], r[4], r[5], (r[6], r[1]), moments[r[4]])
    return found


def fuse(
    archive: Archive,
    dense: Scored,
    keyword: Scored,
    filters: Filters,
    window: TimeWindow | None,
    tuning: Tuning,
    k: int | None = None,
    known: dict[int, ChunkFacts] | None = None,
) -> list[Result]:
    """The best `k` stories (all when None) of the two rankings fused (`rank_stories`), as results."""
    facts = chunk_facts(archive, {c for c, _ in dense} | {c for c, _ in keyword}, known)
    return results_for(archive, rank_stories(facts, dense, keyword, filters, window, tuning, k))


@dataclass
class StoryTable:
    """A question's candidate stories with each ranking's value for them: what fusion weights and time
    priors act on (so a grid of those re-scores one table; benchmarks/eval_retrieval.py)."""

    stories: np.ndarray  # story ids, in order of first appearance (dense, then keyword)
    values: np.ndarray  # (2, stories): the dense and the keyword value of each story, 0 when absent
    moments: np.ndarray  # when each story's newest version was published (epoch seconds, NaN unknown)
    newest: dict[int, ChunkFacts]  # story → its newest version among the candidates
    chunk_values: list[dict[int, float]]  # per ranking: chunk → value (passages are chosen by these)
    best_dense: dict[int, float]  # story → best cosine of its chunks


def story_table(facts: dict[int, ChunkFacts], dense: Scored, keyword: Scored, tuning: Tuning) -> StoryTable:
    """Stories (an article with its duplicates) valued in each ranking by their best chunk."""
    dense, keyword = ([(c, s) for c, s in r if c in facts] for r in (dense, keyword))
    rankings = [_lede_weighted(r, facts, tuning.lede_boost) for r in (dense, keyword)]
    chunk_values = [_chunk_values(r, tuning) for r in rankings]
    per_ranking = [_story_values(r, v, facts, tuning) for r, v in zip(rankings, chunk_values)]
    newest = _newest_versions(facts, [c for r in rankings for c, _ in r])
    stories = list(dict.fromkeys([*per_ranking[0], *per_ranking[1]]))
    values = np.array([[v.get(s, 0.0) for s in stories] for v in per_ranking], dtype=np.float64).reshape(
        2, len(stories)
    )
    moments = np.array(
        [newest[s].moment if newest[s].moment is not None else np.nan for s in stories], dtype=np.float64
    )
    best_dense: dict[int, float] = {}
    for c, value in dense:
        best_dense.setdefault(facts[c].story, value)
    return StoryTable(np.array(stories, dtype=np.int64), values, moments, newest, chunk_values, best_dense)


def story_order(
    table: StoryTable, filters: Filters, window: TimeWindow | None, tuning: Tuning, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes into the table of the best `limit` stories, best first, and their scores: the weighted
    sum of their ranking values times the time prior; none published after `as_of`."""
    weights = np.array(_weights(tuning), dtype=np.float64)
    scores = (weights @ table.values) * time_prior(table.moments, window, filters, tuning)
    order = np.argsort(-scores, kind="stable")
    order = order[published_by(table.moments[order], filters)][:limit]
    return order, scores[order]


def rank_stories(
    facts: dict[int, ChunkFacts],
    dense: Scored,
    keyword: Scored,
    filters: Filters,
    window: TimeWindow | None,
    tuning: Tuning,
    limit: int | None = None,
) -> list[Ranked]:
    """The best `limit` stories of the two rankings fused, each answered for by its newest version
    among the candidates, with that version's best chunks."""
    table = story_table(facts, dense, keyword, tuning)
    order, scores = story_order(table, filters, window, tuning, limit)
    chosen = [int(s) for s in table.stories[order]]
    chunk_score = _fused(list(zip(table.chunk_values, _weights(tuning))))
    passages = _passages(facts, chunk_score, table.newest, set(chosen), tuning.passages)
    return [
        Ranked(
            table.newest[s].article_id,
            s,
            float(score),
            table.best_dense.get(s, 0.0),
            passages[s],
            [chunk_score[c] for c in passages[s]],
        )
        for s, score in zip(chosen, scores)
    ]


def _weights(tuning: Tuning) -> tuple[float, float]:
    if tuning.fusion == "blend":
        return tuning.dense_share, 1.0 - tuning.dense_share
    return tuning.dense_weight, tuning.keyword_weight


def _lede_weighted(ranking: Scored, facts: dict[int, ChunkFacts], boost: float) -> Scored:
    """In news the headline and lede carry the story: the first chunk's score counts (1 + boost) times."""
    if not boost:
        return ranking
    weighted = [(c, s * (1.0 + boost) if facts[c].position == 0 else s) for c, s in ranking]
    return sorted(weighted, key=lambda item: item[1], reverse=True)


def _fused(parts: list[tuple[dict[int, float], float]]) -> dict[int, float]:
    total: dict[int, float] = {}
    for values, weight in parts:
        for key, value in values.items():
            total[key] = total.get(key, 0.0) + weight * value
    return total


def _chunk_values(ranking: Scored, tuning: Tuning) -> dict[int, float]:
    """Each chunk's value in one ranking, before its weight: 1/(rrf_k + rank), or its normalised score."""
    if tuning.fusion == "rrf":
        return {c: 1.0 / (tuning.rrf_k + rank + 1) for rank, (c, _) in enumerate(ranking)}
    return normalised(ranking, tuning.normalise)


def _story_values(
    ranking: Scored, values: dict[int, float], facts: dict[int, ChunkFacts], tuning: Tuning
) -> dict[int, float]:
    """Each story's value in one ranking, by its best chunk: 1/(rrf_k + rank among stories), or the
    best chunk's normalised score (rankings are best first: the first chunk seen is the best)."""
    story: dict[int, float] = {}
    for c, _ in ranking:
        s = facts[c].story
        if s not in story:
            story[s] = 1.0 / (tuning.rrf_k + len(story) + 1) if tuning.fusion == "rrf" else values[c]
    return story


def normalised(ranking: Scored, how: str = "minmax") -> dict[int, float]:
    """Scores on a scale shared across rankings, per query: min-max onto [0, 1], or z-scores shifted
    so the weakest candidate scores 0 (a chunk missing from a ranking counts as that weakest)."""
    if not ranking:
        return {}
    scores = np.fromiter((s for _, s in ranking), dtype=np.float64, count=len(ranking))
    low = float(scores.min())
    spread = float(scores.std() if how == "zscore" else scores.max() - low)
    if spread <= 0:
        return {c: 1.0 for c, _ in ranking}
    return {c: (s - low) / spread for c, s in ranking}


def _newest_versions(facts: dict[int, ChunkFacts], chunk_ids: list[int]) -> dict[int, ChunkFacts]:
    """Story → its newest version among the candidates (by published date, else ingest time)."""
    newest: dict[int, ChunkFacts] = {}
    for c in chunk_ids:
        f = facts[c]
        current = newest.get(f.story)
        if current is None or f.version > current.version:
            newest[f.story] = f
    return newest


def _passages(
    facts: dict[int, ChunkFacts],
    chunk_score: dict[int, float],
    newest: dict[int, ChunkFacts],
    stories: set[int],
    n: int,
) -> dict[int, list[int]]:
    """Story → the best `n` candidate chunks of its newest version (quotes are verbatim: one version's only)."""
    by_story: dict[int, list[int]] = {s: [] for s in stories}
    for c in sorted(chunk_score, key=chunk_score.__getitem__, reverse=True):
        f = facts[c]
        if f.story in by_story and f.article_id == newest[f.story].article_id and len(by_story[f.story]) < n:
            by_story[f.story].append(c)
    return by_story


def results_for(archive: Archive, ranked: list[Ranked]) -> list[Result]:
    """The ranked stories with their articles' facts and passage texts: two queries for all of them."""
    with archive.lock:
        articles = archive.store.articles({r.article_id for r in ranked}, with_text=False)
        chunks = archive.store.chunks([c for r in ranked for c in r.chunk_ids])
    results = []
    for r in ranked:
        a = articles[r.article_id]
        passages = [Passage(c, chunks[c].text, s) for c, s in zip(r.chunk_ids, r.chunk_scores)]
        results.append(Result(r.article_id, a.url, a.title, a.outlet, a.published, r.score, r.dense, passages))
    return results
