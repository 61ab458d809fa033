"""Keeping the vector index in step with the store: embed the chunks it lacks, drop vectors of chunks
that are gone, save checkpoints on the way, and record what the index was built with."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from index.embedding import Embedder
from index.ingest.chunking import embedding_text
from index.ingest.pipeline import batched
from index.store import Store, now_iso
from index.store.vectors import VectorIndex, choose_kind, parse_setting

if TYPE_CHECKING:
    from index.archive import Archive

EMBED_BATCH = 512  # chunks embedded between index checkpoints' bookkeeping
CHECKPOINT_EVERY = 20_000  # chunks embedded between saves, so a killed ingest resumes near where it stopped
Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


class Syncer:
    """Embeds into the archive's vectors, or into a rebuild's (call under the writer lock)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def sync(self, progress: bool) -> int:
        """Embeds the chunks the index lacks and drops vectors of deleted chunks; returns how many it embedded."""
        archive = self.archive
        with archive.lock:
            stored = np.asarray(archive.store.chunk_ids(), dtype=np.int64)
            if archive.vectors is None:
                archive.vectors = VectorIndex.create(archive.embedder.dimension)  # settled into its kind once filled
            vectors, indexed = archive.vectors, archive.vectors.ids()
            vectors.remove(np.setdiff1d(indexed, stored))
        missing = np.setdiff1d(stored, indexed)
        archive.keywords.sync(progress)  # first: tokens are cheap, so new chunks are found by keyword at once
        count = self.embed_into(archive.store, vectors, archive.vectors_path, missing, progress)
        self.record_build(archive.store, vectors, build_id=None)
        return count

    def embed_into(
        self,
        store: Store,
        vectors: VectorIndex,
        path: Path,
        ids: np.ndarray,
        progress: bool,
        on_progress: Progress | None = None,
    ) -> int:
        bar = tqdm(total=len(ids), desc="embedding", unit=" chunks", disable=not progress)
        since_save = 0
        for batch, matrix in embedded(self.archive.embedder, self._texts(store, ids)):
            with self.archive.lock:
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
        self.archive.saved_vectors(path)

    def _texts(self, store: Store, ids: np.ndarray) -> Iterator[tuple[np.ndarray, list[str]]]:
        """The chunks' embedding texts, a batch at a time, read as the embedder asks for them."""
        for batch in batched(ids.tolist(), EMBED_BATCH):
            with self.archive.lock:
                chunks = store.chunks(batch)
            yield np.asarray(batch, dtype=np.int64), [embedding_text(chunks[i].title, chunks[i].text) for i in batch]

    def _settle(self, vectors: VectorIndex) -> None:
        """A flat index grown past exact search's limit becomes the configured approximate kind."""
        setting = self.archive.config.index_kind
        kind = choose_kind(len(vectors), setting)
        if vectors.kind != "flat" or kind == "flat":
            return
        converted = vectors.converted(kind, parse_setting(setting)[1])  # searches go on meanwhile
        with self.archive.lock:
            vectors.adopt(converted)

    def record_build(self, store: Store, vectors: VectorIndex, build_id: str | None) -> None:
        values = {
            "embedding_model": self.archive.model_name,
            "embedding_dimension": vectors.dimension,
            "index_kind": vectors.kind,
            "index_params": json.dumps(vectors.params, sort_keys=True),
            "index_updated_at": now_iso(),
        }
        if vectors.built_here:
            values["index_build_seconds"] = round(vectors.build_seconds, 3)
        if build_id:
            values.update(index_build_id=build_id, index_built_at=now_iso())
        with self.archive.lock, store.committed():
            store.set_meta(**values)
