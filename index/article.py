"""The one record every reader produces."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Article:
    """A news article as read from any source."""

    text: str
    title: str | None = None
    url: str | None = None
    outlet: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None  # always timezone-aware when set
    source_id: str | None = None  # the id the source gave it, if any
    source: str | None = None  # file or URL it was read from, for messages

    @property
    def content_hash(self) -> str:
        """Hash of what the index depends on: title and text."""
        data = f"{self.title or ''}\n{self.text}".encode()
        return hashlib.sha256(data).hexdigest()


@dataclass
class ReadProblem:
    """Something a reader could not turn into an article, with the reason."""

    source: str
    reason: str


def article_key(article: Article) -> str:
    """Stable identity: the canonical URL where there is one, else the content hash."""
    from index.urls import canonical_url

    if article.url:
        return canonical_url(article.url)
    return f"sha256:{article.content_hash}"
