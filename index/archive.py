"""The archive: a store and its vector index kept in step, ingested into and rebuilt atomically.

`Archive` is the facade: it opens the data directory, keeps up with other processes and holds the
writer lock; the work is done by its parts, one job each: `Ingester` (index/ingest/pipeline.py:
admit, store, deduplicate, chunk), `Syncer` (index/sync.py: embed what the index lacks, checkpoints,
build metadata) and `Rebuilder` (index/rebuild.py: a new database and index, swapped in)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.article import Article, ReadProblem
from index.embedding import (
    AUTO_MODEL,
    BATCH_SIZE,
    DEFAULT_DEVICE,
    Embedder,
    embed_queries,
    load_embedder,
    model_identity,
    resolve_model,
)
from index.ingest import dedup
from index.ingest.chunking import CHUNK_TOKENS, OVERLAP_TOKENS
from index.ingest.pipeline import STORE_BATCH, Ingester, IngestReport, admit, batched
from index.keyword_index import KeywordIndex
from index.rebuild import Rebuilder, clean_leftovers
from index.store import DB_NAME, ArchiveStats, Store
from index.store.files import file_stamp, inode
from index.store.vectors import SEARCH_PARAMS, VectorIndex, parse_setting
from index.sync import CHECKPOINT_EVERY, EMBED_BATCH, Syncer, embedded

__all__ = [  # the parts' names that callers have imported from here
    "CHECKPOINT_EVERY",
    "EMBED_BATCH",
    "STORE_BATCH",
    "Archive",
    "ArchiveBusy",
    "ArchiveConfig",
    "ArchiveError",
    "IngestReport",
    "admit",
    "batched",
    "embedded",
]


# a bulk ingest leaves FTS5 with many segments to merge at every query: on the full corpus (310k chunks)
# `optimize` took 9 s and cut the keyword query from 73.5 to 55.2 ms CPU (p50; scale3's note, docs/scaling.md)
OPTIMIZE_AFTER_CHUNKS = 50_000


class ArchiveError(RuntimeError):
    """The archive cannot be used as it is; the message says which command fixes it."""


class ArchiveBusy(ArchiveError):
    """Another ingest or rebuild holds the archive."""


@dataclass
class ArchiveConfig:
    """How the archive chunks, embeds and indexes; the CLI fills it from the settings."""

    model: str = AUTO_MODEL  # the archive's own encoder; a new one's: index/embedding/base.py new_archive_encoder
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


class Archive:
    """Opened on a data directory: `archive.db` and the FAISS file its meta names."""

    def __init__(self, data_dir: Path, config: ArchiveConfig | None = None, embedder: Embedder | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.config = config or ArchiveConfig()
        self._given = embedder
        self._loaded: tuple[str, Embedder] | None = None  # loaded for this model setting (`auto` resolved)
        self._built_with: tuple[str | None] | None = None  # the recorded encoder, once read (`auto` only)
        self.lock = threading.RLock()  # one SQLite connection, used from worker threads
        self.store = Store(self.data_dir / DB_NAME, self.lock)
        self._db_inode, self._data_version = self._db_stamp()
        self._vectors_stamp: tuple[str, int, int, int] | None = None
        self.vectors = self._load_vectors()
        self.keywords = KeywordIndex(self)
        self.ingester, self.syncer, self.rebuilder = Ingester(self), Syncer(self), Rebuilder(self)
        with contextlib.suppress(ArchiveBusy, OSError), self.writing():
            clean_leftovers(self.data_dir, self.vectors_path.name)  # only while no ingest or rebuild is using them

    # opening
    @property
    def model_setting(self) -> str:
        """The model setting with `auto` resolved, the one place it is: the encoder recorded in the
        archive (kept through rebuilds), or for a new archive the default encoder. The recorded one is
        read once and again only when another process changed the database (`refresh`): a question's
        embedding asks for it while the keyword query holds the connection."""
        if self.config.model != AUTO_MODEL:
            return self.config.model
        if self._built_with is None:
            with self.lock:
                self._built_with = (self.store.get_meta("embedding_model"),)
        return resolve_model(AUTO_MODEL, self._built_with[0], self.config.embedding_device)

    @property
    def model_name(self) -> str:
        if self._given is not None:
            return self._given.name
        setting = self.model_setting
        return self._loaded[1].name if self._loaded and self._loaded[0] == setting else model_identity(setting)

    @property
    def embedder(self) -> Embedder:
        if self._given is not None:
            return self._given
        setting = self.model_setting
        if self._loaded is None or self._loaded[0] != setting:  # `auto` follows a rebuild another process swapped in
            config = self.config
            local = load_embedder(setting, batch_size=config.embed_batch_size, device=config.embedding_device)
            cluster = config.ray_address
            self._loaded = setting, on_cluster(local, cluster, config.embed_batch_size) if cluster else local
        return self._loaded[1]

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / (self.store.get_meta("vectors_file") or "vectors.faiss")

    def _load_vectors(self) -> VectorIndex | None:
        path = self.vectors_path
        self._vectors_stamp = file_stamp(path)
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
        return inode(self.store.path), self.store.data_version()

    def refresh(self) -> bool:
        """Catches up with other processes, cheaply when nothing changed: reopens the database an
        external `index rebuild` swapped in, reloads vectors an external ingest saved. True if it did."""
        with self.lock:
            self.keywords.reload_if_saved()  # a rebuild saves it after its last database write
            if inode(self.data_dir / DB_NAME) not in (None, self._db_inode):
                self.store.close()
                self.store = Store(self.data_dir / DB_NAME, self.lock)
            elif self._db_stamp() == (self._db_inode, self._data_version):
                return False
            self._db_inode, self._data_version = self._db_stamp()
            self._built_with = None  # another process may have built or rebuilt it with another encoder
            self.keywords.reload_if_read()
            if file_stamp(self.vectors_path) == self._vectors_stamp:
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
                f"run `newsbot index rebuild` to re-embed (or set NEWSBOT_EMBEDDING_MODEL=auto to keep {built_with})"
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
        with self.writing():
            self._prepare_writes()
            report = self.ingester.store_all(items, progress)
            if report.chunks >= OPTIMIZE_AFTER_CHUNKS:
                self.store.optimize_text_index()
            report.embedded = self.syncer.sync(progress)
        return report

    def sync(self, progress: bool = True) -> int:
        """Embeds chunks missing from the index and drops vectors of chunks that are gone."""
        self.require_compatible_model()
        with self.writing():
            self._prepare_writes()
            return self.syncer.sync(progress)

    def warm(self) -> None:
        """Loads the embedding model and embeds one question, so that the first person to ask does not
        wait for the model, its first runs or its question trace (index/embedding/query_trace.py). Reads
        the keyword index, and what ranking reads of every chunk, so that the first searches do not wait
        on the disk (docs/benchmarks.md, "Search from a cold page cache")."""
        _ = self.keywords.postings  # first: a model that fails to load must not leave the pages cold
        self.store.lookups.read_facts()
        embed_queries(self.embedder, ["What happened this week?"])

    def repair(self, progress: bool = False) -> int:
        """At start-up of a long-running writer (the bot, `watch`): embeds the chunks a crash left
        out of the index; 0 when another process is writing (it syncs the index itself)."""
        try:
            return self.sync(progress)
        except ArchiveBusy:
            return 0

    def rebuild(self, progress: bool = True, on_progress: Callable[[str, int, int], None] | None = None) -> int:
        """Re-chunks and re-embeds everything into a new database and index, then swaps them in.

        Until the swap (one `os.replace`) the old database and index keep answering; a crash before
        it leaves them untouched, and the next rebuild starts over."""
        with self.writing():
            self._prepare_writes()
            return self.rebuilder.rebuild(progress, on_progress)

    def _prepare_writes(self) -> None:
        """Under the writer lock: clears what crashed writers left and finishes what older versions left undone."""
        clean_leftovers(self.data_dir, self.vectors_path.name)
        self.ingester.finish_earlier()

    def reopen(self) -> None:
        """The database now at `archive.db` (a rebuild swapped it in), its stamps and its vectors (under the lock)."""
        self.store = Store(self.data_dir / DB_NAME, self.lock)
        self._db_inode, self._data_version = self._db_stamp()
        self._built_with = None
        self.vectors = self._load_vectors()
        self.keywords.reload_if_read()

    def saved_vectors(self, path: Path) -> None:
        """The parts saved vectors to `path`: our own save is no news to `refresh`."""
        if path == self.vectors_path:
            self._vectors_stamp = file_stamp(path)

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
