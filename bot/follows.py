"""Topic follows: which newly ingested articles match a followed topic well enough to be posted.

A match is scored like an answer's relevance (bot/answer.py): the best cosine between the topic and
the article's chunks, plus COVERAGE_WEIGHT times the share of the topic's content words the
article's headline and best chunk contain. The threshold (NEWSBOT_FOLLOW_THRESHOLD) was calibrated
on real articles (benchmarks/follow_threshold.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.answer import COVERAGE_WEIGHT, term_overlap
from bot.state import Follow, Follows
from index.archive import Archive
from index.search import dense_candidates
from index.store.rows import ArticleRow, NewArticle
from index.web.watch import to_announce


@dataclass
class Post:
    follow: Follow
    article: ArticleRow
    score: float


def fresh_articles(new: Iterable[NewArticle]) -> list[ArticleRow]:
    """A poll's articles that may be posted: never a new feed's backlog, nor a story already known."""
    return to_announce(new, limit=10_000).articles


def _chunks_of(archive: Archive, article_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """chunk id → (article id, text)."""
    return archive.store.chunks_of_articles(article_ids)


def topic_scores(archive: Archive, topic: str, articles: Sequence[ArticleRow]) -> dict[int, float]:
    """article id → how well it matches `topic` (only articles with indexed chunks)."""
    chunks = _chunks_of(archive, [a.id for a in articles]) if articles else {}
    if not chunks:
        return {}
    vector = archive.embedder.embed([topic])[0]
    hits = dense_candidates(archive, vector, len(chunks), np.asarray(list(chunks), dtype=np.int64))
    best: dict[int, tuple[float, str]] = {}
    for chunk_id, cosine in hits:  # best first: the first chunk seen is the article's best
        article_id, text = chunks[chunk_id]
        best.setdefault(article_id, (cosine, text))
    titles = {a.id: a.title or "" for a in articles}
    ids = list(best)
    overlap = term_overlap(topic, [f"{titles.get(i, '')} {best[i][1]}" for i in ids])
    return {i: best[i][0] + COVERAGE_WEIGHT * float(o) for i, o in zip(ids, overlap, strict=True)}


def due_posts(
    archive: Archive,
    follows: Follows,
    new: Iterable[NewArticle],
    threshold: float,
    per_hour: int,
    now: datetime | None = None,
) -> list[Post]:
    """What to post for a poll: per follow, its matching fresh articles best first, within the hourly limit.
    Each post is recorded before it is returned, so a crash posts less rather than twice."""
    articles = fresh_articles(new)
    subscriptions = follows.all() if articles else []
    posts: list[Post] = []
    for follow in subscriptions:
        scores = topic_scores(archive, follow.topic, articles)
        matching = sorted((a for a in articles if scores.get(a.id, 0.0) >= threshold), key=lambda a: -scores[a.id])
        matching = [a for a in matching if not follows.was_posted(follow.id, a.id)]
        for article in matching[: follows.room_this_hour(follow.id, per_hour, now)]:
            follows.record_post(follow.id, article.id, now)
            posts.append(Post(follow, article, scores[article.id]))
    return posts
