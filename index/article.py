"""The one record every reader produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from index.web.urls import redact_credentials, strip_credentials


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

    def __post_init__(self) -> None:
        self.url = strip_credentials(self.url) if self.url else self.url
        self.source = redact_credentials(self.source) if self.source else self.source

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

    def __post_init__(self) -> None:
        # Bounded, whatever a parser put in its exception, and no password of a URL shown.
        self.source = redact_credentials(_short(self.source, MAX_SOURCE_CHARS))
        self.reason = redact_credentials(_short(" ".join(self.reason.split()), MAX_REASON_CHARS))


MAX_REASON_CHARS = 300
MAX_SOURCE_CHARS = 500


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def article_key(article: Article) -> str:
    """Stable identity: the canonical URL where there is one, else the content hash."""
    from index.web.urls import canonical_url

    if article.url:
        return canonical_url(article.url)
    return f"sha256:{article.content_hash}"
