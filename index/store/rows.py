"""What `index/` hands to `bot/`: frozen, typed rows instead of dicts, each with `to_json()` for JSON output."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# the columns an ArticleRow is read from, without the (long) text
ARTICLE_COLUMNS = "id, key, url, title, outlet, authors, published, source, group_id, ingested_at"


@dataclass(frozen=True)
class ArticleRow:
    """One stored article. `text` is "" when it was read without (`Store.articles(..., with_text=False)`)."""

    id: int
    key: str
    url: str | None
    title: str | None
    outlet: str | None
    published: str | None  # ISO 8601 in UTC, or None when undated
    authors: tuple[str, ...] = ()
    source: str | None = None  # the file (and line) or URL it was read from
    group_id: int | None = None  # its story: articles of one group are versions of one story
    ingested_at: str | None = None
    text: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ArticleRow:
        """From a SQLite row of the articles table (all columns, or ARTICLE_COLUMNS)."""
        authors = tuple(json.loads(row["authors"])) if row.get("authors") else ()
        return cls(
            id=int(row["id"]),
            key=row["key"],
            url=row["url"],
            title=row["title"],
            outlet=row["outlet"],
            published=row["published"],
            authors=authors,
            source=row.get("source"),
            group_id=row.get("group_id"),
            ingested_at=row.get("ingested_at"),
            text=row.get("text") or "",
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "authors": list(self.authors)}


@dataclass(frozen=True)
class NewArticle:
    """An article one feed poll stored, with what `to_announce` judges it by."""

    article: ArticleRow
    feed: str
    first_poll: bool  # the feed's first poll: its backlog, never announced
    known_story: bool  # the archive had this story before the poll (another version of it)

    @property
    def story(self) -> int:
        """Its story's id: the group's, else the article's own."""
        return self.article.group_id or self.article.id

    def to_json(self) -> dict[str, Any]:
        return {
            **self.article.to_json(),
            "feed": self.feed,
            "first_poll": self.first_poll,
            "known_story": self.known_story,
        }


@dataclass(frozen=True)
class ArchiveStats:
    """What `Archive.stats()` reports for `index stats` and `/status`; `to_json()` is `index stats --json`."""

    articles: int = 0
    chunks: int = 0
    vectors: int = 0
    published_from: str | None = None
    published_to: str | None = None
    outlets: dict[str, int] = field(default_factory=dict)  # name → articles, most first
    duplicate_groups: int = 0  # stories with more than one version
    articles_folded: int = 0  # versions folded under another
    embedding_model: str | None = None
    embedding_dimension: int | None = None
    index_kind: str | None = None
    index_params: dict[str, Any] = field(default_factory=dict)
    index_build_seconds: float | None = None
    index_build_id: str | None = None
    index_built_at: str | None = None
    index_updated_at: str | None = None
    last_ingest: str | None = None
    database_bytes: int = 0
    index_bytes: int = 0
    schema_version: int = 0
    problems: tuple[str, ...] = ()  # mismatches, each with the command that fixes it

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": list(self.problems)}
