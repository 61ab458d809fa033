"""The archive: a store and its vector index kept in step, ingested into and rebuilt atomically."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from index.article import Article, ReadProblem, article_key
from index.embedding import BATCH_SIZE, DEFAULT_DEVICE, DEFAULT_MODEL, Embedder, load_embedder, model_identity
from index.ingest import dedup
from index.ingest import limits as read_limits
from index.ingest.chunking import CHUNK_TOKENS, OVERLAP_TOKENS, chunk_text, embedding_text
from index.ingest.dates import storable
from index.store import DB_NAME, ArchiveStats, Store, now_iso
from index.store.vectors import SEARCH_PARAMS, VectorIndex, choose_kind, parse_setting

T = TypeVar("T")
EMBED_BATCH = 512  # chunks embedded between index checkpoints' bookkeeping
CHECKPOINT_EVERY = 20_000  # chunks embedded between saves, so a killed ingest resumes near where it stopped
STORE_BATCH = 200  # articles per transaction


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


class ArchiveError(RuntimeError):
    """The archive cannot be used as it is; the message says which command fixes it."""


class ArchiveBusy(ArchiveError):
    """Another ingest or rebuild holds the archive."""


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


@dataclass
class ArchiveConfig:
    """How the archive chunks, embeds and indexes; the CLI fills it from the settings."""

    model: str = DEFAULT_MODEL
    chunk_tokens: int = CHUNK_TOKENS
    overlap_tokens: int = OVERLAP_TOKENS
    index_kind: str = "auto"
    embed_batch_size: int = BATCH_SIZE
    dedup_threshold: float = dedup.DEFAULT_THRESHOLD  # word-shingle Jaccard at which two articles are one story
    embedding_device: str = DEFAULT_DEVICE  # auto (a GPU where torch sees one), cpu or cuda
    ray_address: str | None = None  # embed on this Ray cluster (index/embedding/ray_cluster.py)


def on_cluster(local: Embedder, address: str, batch_size: int) -> Embedder:
    from index.embedding.ray_cluster import RayEmbedder

    return RayEmbedder(local, address, batch_size=batch_size)


def embedded(
    embedder: Embedder, batches: Iterator[tuple[np.ndarray, list[str]]]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(chunk ids, vectors): streamed by an embedder that has `embed_stream` (a cluster), else batch by batch."""
    stream = getattr(embedder, "embed_stream", None)
    if callable(stream):
        yield from stream(batches)
        return
    for ids, texts in batches:
        yield ids, embedder.embed(texts)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Archive:
    """Opened on a data directory: `archive.db` and the FAISS file its meta names."""

    def __init__(self, data_dir: Path, config: ArchiveConfig | None = None, embedder: Embedder | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.config = config or ArchiveConfig()
        self._embedder = embedder
        self.lock = threading.RLock()  # one SQLite connection, used from worker threads
        self.store = Store(self.data_dir / DB_NAME, self.lock)
        self._db_inode, self._data_version = self._db_stamp()
        self._vectors_stamp: tuple[str, int, int, int] | None = None
        self.vectors = self._load_vectors()
        with contextlib.suppress(ArchiveBusy, OSError), self.writing():
            self._clean_leftovers()  # only while no ingest or rebuild is using them

    # opening
    @property
    def model_name(self) -> str:
        return self._embedder.name if self._embedder else model_identity(self.config.model)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            config = self.config
            local = load_embedder(config.model, batch_size=config.embed_batch_size, device=config.embedding_device)
            self._embedder = (
                on_cluster(local, config.ray_address, config.embed_batch_size) if config.ray_address else local
            )
        return self._embedder

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / (self.store.get_meta("vectors_file") or "vectors.faiss")

    def _load_vectors(self) -> VectorIndex | None:
        path = self.vectors_path
        self._vectors_stamp = _file_stamp(path)
        if not path.exists():
            return None
        params = json.loads(self.store.get_meta("index_params") or "{}")
        _, configured = parse_setting(self.config.index_kind)  # a search depth set in the settings wins
        params.update({k: v for k, v in configured.items() if k in SEARCH_PARAMS.values()})
        return VectorIndex.load(path, params=params)

    def close(self) -> None:
        with self.lock:  # closing a connection a worker thread is using can crash SQLite
            self.store.close()

    # staying current
    def _db_stamp(self) -> tuple[int | None, int]:
        return _inode(self.store.path), self.store.data_version()

    def refresh(self) -> bool:
        """Catches up with other processes, cheaply when nothing changed: reopens the database an
        external `index rebuild` swapped in, reloads vectors an external ingest saved. True if it did."""
        with self.lock:
            if _inode(self.data_dir / DB_NAME) not in (None, self._db_inode):
                self.store.close()
                self.store = Store(self.data_dir / DB_NAME, self.lock)
            elif self._db_stamp() == (self._db_inode, self._data_version):
                return False
            self._db_inode, self._data_version = self._db_stamp()
            if _file_stamp(self.vectors_path) == self._vectors_stamp:
                return False
            self.vectors = self._load_vectors()
            return True

    def check(self) -> list[str]:
        """Mismatches between store, index and configured model, each with the command that fixes it."""
        problems = []
        built_with = self.store.get_meta("embedding_model")
        if built_with and built_with != self.model_name:
            problems.append(
                f"the archive was embedded with {built_with!r} but the model setting is {self.model_name!r}: "
                f"run `newsbot index rebuild` to re-embed (or set NEWSBOT_EMBEDDING_MODEL={built_with})"
            )
        chunks = self.store.count("chunks")
        indexed = len(self.vectors) if self.vectors else 0
        if chunks != indexed:
            problems.append(
                f"the store holds {chunks} chunks but the vector index {indexed}: "
                "run `newsbot index sync` to embed just the missing ones"
            )
        return problems

    def require_compatible_model(self) -> None:
        problems = [p for p in self.check() if "embedded with" in p]
        if problems:
            raise ArchiveError(problems[0])

    # writing
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time across processes: an ingest never races a rebuild."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".writer.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ArchiveBusy(
                    f"another ingest or rebuild is writing to {self.data_dir}; try again when it ends"
                ) from None
            self.refresh()  # what another writer left: write on top of it, never on a swapped-out file
            yield

    def ingest(self, items: Iterable[Article | ReadProblem], progress: bool = True) -> IngestReport:
        """Stores new and changed articles, then embeds just the chunks the index lacks."""
        self.require_compatible_model()
        report = IngestReport()
        with self.writing():
            self._prepare_writes()
            bar = tqdm(desc="reading", unit=" articles", disable=not progress)
            for batch in batched(items, STORE_BATCH):
                with self.store.transaction():  # one transaction per batch
                    for item in batch:
                        self._ingest_one(item, report)
                bar.update(len(batch))
            bar.close()
            report.embedded = self._sync(progress)
        return report

    def _ingest_one(self, item: Article | ReadProblem, report: IngestReport) -> None:
        """One item, in its own savepoint: an item that fails is reported and the batch goes on."""
        if isinstance(item, ReadProblem):
            report.problems.append(item)
            return
        article = admit(item, report.problems)
        if article is None:
            return
        conn = self.store.db.conn
        conn.execute("SAVEPOINT item")
        try:
            self._store_one(article, report)
        except (sqlite3.Error, OSError, MemoryError):
            raise  # the disk or the database, not the item: stop, what was committed stays
        except Exception as err:  # one record the code did not foresee must not lose the others
            conn.execute("ROLLBACK TO item")
            report.problems.append(
                ReadProblem(article.source or article.url or "article", f"not stored: {type(err).__name__}: {err}")
            )
        conn.execute("RELEASE item")

    def _store_one(self, item: Article, report: IngestReport) -> None:
        found = self.store.find_article(article_key(item))
        if found and found[1] == item.content_hash:
            report.unchanged += 1
            return
        original = None if found or not item.url else self.store.find_by_hash(item.content_hash)
        if original:
            dedup.record_copy(self.store, item, original)
            report.duplicates += 1
            return
        if found:
            self.store.delete_chunks(found[0])
            dedup.forget(self.store, found[0])
            report.updated += 1
        else:
            report.added += 1
        article_id = self.store.save_article(item, found[0] if found else None)
        dedup.assign(self.store, article_id, item.text, self.config.dedup_threshold)
        report.new_article_ids.append(article_id)
        report.chunks += self._chunk_into(self.store, article_id, item.title, item.text)

    def _chunk_into(self, store: Store, article_id: int, title: str | None, text: str) -> int:
        chunks = chunk_text(text, title, self.embedder, self.config.chunk_tokens, self.config.overlap_tokens)
        store.add_chunks(article_id, title, chunks)
        return len(chunks)

    def sync(self, progress: bool = True) -> int:
        """Embeds chunks missing from the index and drops vectors of chunks that are gone."""
        self.require_compatible_model()
        with self.writing():
            self._prepare_writes()
            return self._sync(progress)

    def repair(self, progress: bool = False) -> int:
        """At start-up of a long-running writer (the bot, `watch`): embeds the chunks a crash left
        out of the index; 0 when another process is writing (it syncs the index itself)."""
        try:
            return self.sync(progress)
        except ArchiveBusy:
            return 0

    def _prepare_writes(self) -> None:
        """Under the writer lock: clears what crashed writers left, chunks articles stored without
        chunks and groups articles stored before grouping existed."""
        self._clean_leftovers()
        with self.store.transaction():
            for (
                article_id,
                title,
                text,
            ) in self.store.unchunked():  # committed alone by versions before per-batch transactions
                self._chunk_into(self.store, article_id, title, text)
            if dedup.ungrouped(self.store):
                dedup.backfill(self.store, self.config.dedup_threshold)

    def _clean_leftovers(self) -> None:
        """A rebuild's unfinished database and index files no database names (call under the writer lock)."""
        current = self.vectors_path.name
        for path in self.data_dir.glob("vectors*.faiss*"):
            if path.name != current:
                path.unlink(missing_ok=True)
        for name in (f"{DB_NAME}.rebuild", f"{DB_NAME}.rebuild-journal"):
            (self.data_dir / name).unlink(missing_ok=True)

    def _sync(self, progress: bool) -> int:
        with self.lock:
            stored = np.asarray(self.store.chunk_ids(), dtype=np.int64)
            if self.vectors is None:
                self.vectors = VectorIndex.create(self.embedder.dimension)  # settled into its kind once filled
            indexed = self.vectors.ids()
            self.vectors.remove(np.setdiff1d(indexed, stored))
        missing = np.setdiff1d(stored, indexed)
        embedded = self._embed_into(self.store, self.vectors, self.vectors_path, missing, progress)
        self._record_build(self.store, self.vectors, build_id=None)
        return embedded

    def _kind_for(self, count: int) -> str:
        return choose_kind(count, self.config.index_kind)

    def _embed_into(
        self,
        store: Store,
        vectors: VectorIndex,
        path: Path,
        ids: np.ndarray,
        progress: bool,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> int:
        bar = tqdm(total=len(ids), desc="embedding", unit=" chunks", disable=not progress)
        since_save = 0
        for batch, matrix in embedded(self.embedder, self._texts(store, ids)):
            with self.lock:
                vectors.add(batch, matrix)
            since_save += len(batch)
            if since_save >= CHECKPOINT_EVERY:
                self._save(vectors, path)
                since_save = 0
            bar.update(len(batch))
            if on_progress:
                on_progress("embedding", bar.n, len(ids))
        bar.close()
        self._settle(vectors)
        self._save(vectors, path)
        return len(ids)

    def _save(self, vectors: VectorIndex, path: Path) -> None:
        vectors.save(path)
        if path == self.vectors_path:  # our own save is no news to `refresh`
            self._vectors_stamp = _file_stamp(path)

    def _texts(self, store: Store, ids: np.ndarray) -> Iterator[tuple[np.ndarray, list[str]]]:
        """The chunks' embedding texts, a batch at a time, read as the embedder asks for them."""
        for batch in batched(ids.tolist(), EMBED_BATCH):
            with self.lock:
                chunks = store.chunks(batch)
            yield np.asarray(batch, dtype=np.int64), [embedding_text(chunks[i].title, chunks[i].text) for i in batch]

    def _settle(self, vectors: VectorIndex) -> None:
        """A flat index grown past exact search's limit becomes the configured approximate kind."""
        kind = self._kind_for(len(vectors))
        if vectors.kind != "flat" or kind == "flat":
            return
        converted = vectors.converted(kind, parse_setting(self.config.index_kind)[1])  # searches go on meanwhile
        with self.lock:
            vectors.adopt(converted)

    def _record_build(self, store: Store, vectors: VectorIndex, build_id: str | None) -> None:
        values = {
            "embedding_model": self.model_name,
            "embedding_dimension": vectors.dimension,
            "index_kind": vectors.kind,
            "index_params": json.dumps(vectors.params, sort_keys=True),
            "index_updated_at": now_iso(),
        }
        if vectors.built_here:
            values["index_build_seconds"] = round(vectors.build_seconds, 3)
        if build_id:
            values.update(index_build_id=build_id, index_built_at=now_iso())
        with self.lock, store.db.conn:
            store.set_meta(**values)

    def rebuild(self, progress: bool = True, on_progress: Callable[[str, int, int], None] | None = None) -> int:
        """Re-chunks and re-embeds everything into a new database and index, then swaps them in.

        Until the swap (one `os.replace`) the old database and index keep answering; a crash before
        it leaves them untouched, and the next rebuild starts over."""
        with self.writing():
            self._prepare_writes()
            build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
            new_db = self.data_dir / f"{DB_NAME}.rebuild"
            vectors_file = f"vectors-{build_id}.faiss"
            new_store = self._copy_articles(new_db)
            try:
                count = self._rebuild_into(new_store, vectors_file, build_id, progress, on_progress)
            finally:
                new_store.close()
            self._swap_in(new_db)
        return count

    def _copy_articles(self, new_db: Path) -> Store:
        for leftover in (new_db, new_db.with_name(new_db.name + "-journal")):
            leftover.unlink(missing_ok=True)
        self.store.copy_to(new_db)
        store = Store(new_db)
        with store.db.conn:
            store.clear_chunks()
        return store

    def _rebuild_into(
        self,
        store: Store,
        vectors_file: str,
        build_id: str,
        progress: bool,
        on_progress: Callable[[str, int, int], None] | None,
    ) -> int:
        total = store.count("articles")
        bar = tqdm(total=total, desc="chunking", unit=" articles", disable=not progress)
        for done, batch in enumerate(batched(store.iter_articles(), STORE_BATCH)):
            with store.db.atomic():  # one commit per batch, not one per statement
                for row in batch:
                    self._chunk_into(store, row.id, row.title, row.text)
            bar.update(len(batch))
            if on_progress:
                on_progress("chunking", min((done + 1) * STORE_BATCH, total), total)
        bar.close()
        ids = np.asarray(store.chunk_ids(), dtype=np.int64)
        vectors = VectorIndex.create(self.embedder.dimension)
        self._embed_into(store, vectors, self.data_dir / vectors_file, ids, progress, on_progress)
        store.set_meta(vectors_file=vectors_file)
        self._record_build(store, vectors, build_id)
        return len(ids)

    def _swap_in(self, new_db: Path) -> None:
        old_vectors = self.vectors_path
        with self.lock:
            self.store.close()
            os.replace(new_db, self.data_dir / DB_NAME)
            self.store = Store(self.data_dir / DB_NAME, self.lock)
            self._db_inode, self._data_version = self._db_stamp()
            self.vectors = self._load_vectors()
        if old_vectors != self.vectors_path:
            old_vectors.unlink(missing_ok=True)

    def stats(self) -> ArchiveStats:
        """Counts, coverage, model and index facts for `index stats` and `/status`."""
        self.refresh()
        with self.lock:
            first, last, last_ingest = self.store.coverage()
            meta = self.store.meta()
            groups, folded = self.store.groups.counts()
            return ArchiveStats(
                articles=self.store.count("articles"),
                chunks=self.store.count("chunks"),
                vectors=len(self.vectors) if self.vectors else 0,
                published_from=first,
                published_to=last,
                outlets={name or "(unknown)": n for name, n in self.store.outlet_counts()},
                duplicate_groups=int(groups),
                articles_folded=int(folded),
                embedding_model=meta.get("embedding_model"),
                embedding_dimension=int(meta["embedding_dimension"]) if meta.get("embedding_dimension") else None,
                index_kind=meta.get("index_kind"),
                index_params=json.loads(meta.get("index_params") or "{}"),
                index_build_seconds=float(meta["index_build_seconds"]) if meta.get("index_build_seconds") else None,
                index_build_id=meta.get("index_build_id"),
                index_built_at=meta.get("index_built_at"),
                index_updated_at=meta.get("index_updated_at"),
                last_ingest=last_ingest,
                database_bytes=self.store.path.stat().st_size,
                index_bytes=self.vectors_path.stat().st_size if self.vectors_path.exists() else 0,
                schema_version=int(meta.get("schema_version", 0)),
                problems=tuple(self.check()),
            )


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _file_stamp(path: Path) -> tuple[str, int, int, int] | None:
    """Name, inode, mtime and size: any save (an atomic replace or not) changes one of them."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return path.name, found.st_ino, found.st_mtime_ns, found.st_size
