"""Rebuild: every article re-chunked and re-embedded into a new database file and vector index, then
swapped in with one `os.replace`. Until the swap the old ones keep answering; a crash before it leaves
them untouched (the leftovers are cleared by the next writer), and the next rebuild starts over."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from index.ingest.pipeline import STORE_BATCH, batched
from index.keyword_index import KEYWORDS_DIR
from index.store import DB_NAME, Store
from index.store.vectors import VectorIndex
from index.sync import Progress

if TYPE_CHECKING:
    from index.archive import Archive

REBUILD_DB = f"{DB_NAME}.rebuild"


def clean_leftovers(data_dir: Path, current_vectors: str) -> None:
    """A rebuild's unfinished database and index files that no database names (call under the writer lock)."""
    for path in data_dir.glob("vectors*.faiss*"):
        if path.name != current_vectors:
            path.unlink(missing_ok=True)
    for name in (REBUILD_DB, f"{REBUILD_DB}-journal"):
        (data_dir / name).unlink(missing_ok=True)
    for path in (data_dir / KEYWORDS_DIR).glob("*.tmp"):  # a keyword index save cut short
        path.unlink(missing_ok=True)


class Rebuilder:
    """Rebuilds the archive's database and index (call under the writer lock)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def rebuild(self, progress: bool, on_progress: Progress | None) -> int:
        """Returns the number of chunks embedded into the new index, now in place."""
        build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        new_db = self.archive.data_dir / REBUILD_DB
        new_store = self._copy_articles(new_db)
        try:
            count = self._rebuild_into(new_store, f"vectors-{build_id}.faiss", build_id, progress, on_progress)
            new_store.optimize_text_index()
        finally:
            new_store.close()
        self._swap_in(new_db)
        self.archive.keywords.sync(progress)  # every chunk id is new: FTS5 answers until this is done
        return count

    def _copy_articles(self, new_db: Path) -> Store:
        for leftover in (new_db, new_db.with_name(new_db.name + "-journal")):
            leftover.unlink(missing_ok=True)
        self.archive.store.copy_to(new_db)
        store = Store(new_db)
        with store.committed():
            store.clear_chunks()
        return store

    def _rebuild_into(
        self, store: Store, vectors_file: str, build_id: str, progress: bool, on_progress: Progress | None
    ) -> int:
        self._chunk_all(store, progress, on_progress)
        ids = np.asarray(store.chunk_ids(), dtype=np.int64)
        vectors = VectorIndex.create(self.archive.embedder.dimension)
        syncer = self.archive.syncer
        syncer.embed_into(store, vectors, self.archive.data_dir / vectors_file, ids, progress, on_progress)
        store.set_meta(vectors_file=vectors_file)
        syncer.record_build(store, vectors, build_id)
        return len(ids)

    def _chunk_all(self, store: Store, progress: bool, on_progress: Progress | None) -> None:
        total = store.count("articles")
        bar = tqdm(total=total, desc="chunking", unit=" articles", disable=not progress)
        for done, batch in enumerate(batched(store.iter_articles(), STORE_BATCH)):
            with store.db.atomic():  # one commit per batch, not one per statement
                for row in batch:
                    self.archive.ingester.chunk_into(store, row.id, row.title, row.text)
            bar.update(len(batch))
            if on_progress:
                on_progress("chunking", min((done + 1) * STORE_BATCH, total), total)
        bar.close()

    def _swap_in(self, new_db: Path) -> None:
        archive = self.archive
        old_vectors = archive.vectors_path
        with archive.lock:
            archive.store.close()
            os.replace(new_db, archive.data_dir / DB_NAME)
            archive.reopen()
        if old_vectors != archive.vectors_path:
            old_vectors.unlink(missing_ok=True)
