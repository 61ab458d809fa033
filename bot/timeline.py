"""How a story developed: the archive's articles on a topic in date order, and how many a week."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.answer import COVERAGE_WEIGHT, term_overlap
from index.archive import Archive
from index.search import Filters, Result, search

TIMELINE_ARTICLES = 60  # stories searched for; a timeline longer than this is a topic, not a story


@dataclass
class Timeline:
    topic: str
    entries: list[Result]  # one per story (duplicates folded into `also_in`), oldest first
    since: datetime | None = None
    until: datetime | None = None
    undated: list[Result] = field(default_factory=list)

    def weeks(self) -> list[tuple[date, int]]:
        """(Monday, articles published that week) from the first week to the last, empty weeks too."""
        days = [date.fromisoformat(e.published[:10]) for e in self.entries if e.published]
        if not days:
            return []
        counts: dict[date, int] = {}
        for day in days:
            monday = day - timedelta(days=day.weekday())
            counts[monday] = counts.get(monday, 0) + 1
        first, last = min(counts), max(counts)
        return [
            (first + timedelta(weeks=n), counts.get(first + timedelta(weeks=n), 0))
            for n in range((last - first).days // 7 + 1)
        ]


def on_topic(result: Result, topic: str) -> float:
    """The answer's relevance measure, for any result: best cosine plus the topic words it contains."""
    text = " ".join([result.title or "", *(p.text for p in result.passages)])
    return result.dense + COVERAGE_WEIGHT * float(term_overlap(topic, [text])[0])


def build_timeline(
    archive: Archive,
    topic: str,
    since: datetime | None = None,
    until: datetime | None = None,
    threshold: float | None = None,
    limit: int = TIMELINE_ARTICLES,
) -> Timeline:
    """Stories on `topic` (relevant as an answer would have to be), oldest first; undated ones apart.
    `until` is an exclusive end, as in `Filters`: callers make it from what a person typed with `Filters.given`."""
    threshold = archive.embedder.relevance_floor if threshold is None else threshold
    response = search(archive, topic, k=limit, filters=Filters(since=since, until=until, recency=False))
    kept = [r for r in response.results if on_topic(r, topic) >= threshold]
    dated = sorted((r for r in kept if r.published), key=lambda r: (r.published or "", r.article_id))
    return Timeline(topic, dated, since, until, [r for r in kept if not r.published])
