"""Ingest: items admitted within the limits, stored one savepoint each, deduplicated and chunked.

Embedding what was stored is the sync's job (index/sync.py); `Archive.ingest` runs both under the
writer lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from tqdm import tqdm

from index.article import Article, ReadProblem, article_key
from index.ingest import dedup
from index.ingest import limits as read_limits
from index.ingest.chunking import chunk_text
from index.ingest.dates import storable
from index.store import Store

if TYPE_CHECKING:
    from index.archive import Archive

T = TypeVar("T")
STORE_BATCH = 200  # articles per transaction


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    chunks: int = 0
    embedded: int = 0
    problems: list[ReadProblem] = field(default_factory=list)
    new_article_ids: list[int] = field(default_factory=list)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def admit(article: Article, problems: list[ReadProblem]) -> Article | None:
    """The article within the limits (an unstorable date dropped, an over-long headline cut), or
    None when its text is too long; each change or refusal is added to `problems`."""
    limits = read_limits.current()
    source = article.source or article.url or "article"
    if len(article.text) > limits.max_article_chars:
        problems.append(ReadProblem(source, f"article text over {limits.max_article_chars} characters; not stored"))
        return None
    if not storable(article.published):
        problems.append(ReadProblem(source, "date out of range, article kept undated"))
        article.published = None
    if article.title and len(article.title) > limits.max_title_chars:
        problems.append(ReadProblem(source, f"headline over {limits.max_title_chars} characters, cut"))
        article.title = article.title[: limits.max_title_chars - 1] + "…"
    return article


class Ingester:
    """Stores what readers produce into the archive's store (call under the writer lock)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def store_all(self, items: Iterable[Article | ReadProblem], progress: bool) -> IngestReport:
        """New and changed articles stored and chunked, one transaction per batch; nothing embedded."""
        report = IngestReport()
        bar = tqdm(desc="reading", unit=" articles", disable=not progress)
        for batch in batched(items, STORE_BATCH):
            with self.archive.store.transaction():
                for item in batch:
                    self._ingest_one(item, report)
            bar.update(len(batch))
        bar.close()
        return report

    def _ingest_one(self, item: Article | ReadProblem, report: IngestReport) -> None:
        """One item, in its own savepoint: an item that fails is reported and the batch goes on."""
        if isinstance(item, ReadProblem):
            report.problems.append(item)
            return
        article = admit(item, report.problems)
        if article is None:
            return
        try:
            with self.archive.store.savepoint():
                self._store_one(article, report)
        except (sqlite3.Error, OSError, MemoryError):
            raise  # the disk or the database, not the item: stop, what was committed stays
        except Exception as err:  # one record the code did not foresee must not lose the others
            report.problems.append(
                ReadProblem(article.source or article.url or "article", f"not stored: {type(err).__name__}: {err}")
            )

    def _store_one(self, item: Article, report: IngestReport) -> None:
        store = self.archive.store
        found = store.find_article(article_key(item))
        if found and found[1] == item.content_hash:
            report.unchanged += 1
            return
        original = None if found or not item.url else store.find_by_hash(item.content_hash)
        if original:
            dedup.record_copy(store, item, original)
            report.duplicates += 1
            return
        if found:
            store.delete_chunks(found[0])
            dedup.forget(store, found[0])
            report.updated += 1
        else:
            report.added += 1
        article_id = store.save_article(item, found[0] if found else None)
        dedup.assign(store, article_id, item.text, self.archive.config.dedup_threshold)
        report.new_article_ids.append(article_id)
        report.chunks += self.chunk_into(store, article_id, item.title, item.text)

    def chunk_into(self, store: Store, article_id: int, title: str | None, text: str) -> int:
        config = self.archive.config
        chunks = chunk_text(text, title, self.archive.embedder, config.chunk_tokens, config.overlap_tokens)
        store.add_chunks(article_id, title, chunks)
        return len(chunks)

    def finish_earlier(self) -> None:
        """Chunks articles stored without chunks and groups articles stored before grouping existed."""
        store = self.archive.store
        with store.transaction():
            for article_id, title, text in store.unchunked():  # committed alone by versions before batches
                self.chunk_into(store, article_id, title, text)
            if dedup.ungrouped(store):
                dedup.backfill(store, self.archive.config.dedup_threshold)
