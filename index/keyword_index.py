"""The archive's in-memory keyword index (index/store/postings.py) kept in step with its store: read from
`keywords/` beside the database, used by search only while it covers exactly the store's chunks
(else FTS5 answers, as it did before the index existed), brought up to date by every sync."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from index.ingest.pipeline import batched
from index.store.files import Stamp, file_stamp
from index.store.postings import Postings, Row

if TYPE_CHECKING:
    from index.archive import Archive

KEYWORDS_DIR = "keywords"
POSTINGS_FILE = f"{KEYWORDS_DIR}/index.npz"  # the segment list; each segment is a file beside it
LEGACY_FILE = "postings.npz"  # the whole index in one file, before 2026-12-02: replaced by the next sync
READ_BATCH = 2_000  # chunk texts read from the store at a time while the index catches up
log = logging.getLogger(__name__)


class KeywordIndex:
    """Read at the first search or sync (a command that does neither never pays for it), reloaded
    when its file changes, checked against the store's chunks on each reload."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._stamp: Stamp | None = None
        self._postings: Postings | None = None
        self._current = False
        self._read_once = False

    @property
    def path(self) -> Path:
        return self.archive.data_dir / POSTINGS_FILE

    @property
    def postings(self) -> Postings | None:
        """The index when it covers exactly the store's chunks, else None (search uses FTS5)."""
        if not self._read_once:
            self.reload()
        return self._postings if self._current else None

    def reload(self) -> None:
        """Reads the file if another process saved it since, and checks it against the store."""
        self._read_once = True
        stamp = file_stamp(self.path)
        if stamp != self._stamp:
            self._stamp, self._postings = stamp, self._read() if stamp else None
        self._current = self._covers_store()

    def reload_if_read(self) -> None:
        """After the database changed: checked again, if it was read at all (else the first use reads it)."""
        if self._read_once:
            self.reload()

    def reload_if_saved(self) -> None:
        """One stat: reloads only when another process saved the file since it was read."""
        if self._read_once and file_stamp(self.path) != self._stamp:
            self.reload()

    def _read(self) -> Postings | None:
        try:
            return self._load()
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            log.warning("keyword index %s unreadable (%s); FTS5 answers until the next sync", self.path, error)
            return None

    def _load(self) -> Postings:
        try:
            return Postings.load(self.path)
        except FileNotFoundError:  # a segment removed by a sync that saved a newer list meanwhile: read that
            return Postings.load(self.path)

    def _covers_store(self) -> bool:
        postings = self._postings
        if postings is None:
            return False
        count, top = self.archive.store.chunk_bounds()
        ids = postings.chunk_ids()
        return postings.docs == count and (int(ids[-1]) if len(ids) else None) == top

    def sync(self, progress: bool) -> int:
        """Adds the chunks the index lacks and drops those gone, then saves it (under the writer lock);
        writes nothing when the saved index covers the store already. Returns how many chunks it added."""
        archive = self.archive
        if not self._read_once:
            self.reload()
        with archive.lock:
            stored = np.asarray(archive.store.chunk_ids(), dtype=np.int64)
        postings = self._postings or Postings.empty()
        have = postings.chunk_ids()
        missing, gone = np.setdiff1d(stored, have), np.setdiff1d(have, stored)
        if self._postings is not None and not len(missing) and not len(gone):
            self._current = True  # a feed's sync that found nothing new: no write every few minutes
            return 0
        if len(missing) == len(stored) and len(have):
            postings = Postings.empty()  # nothing in common (a rebuild): start afresh, not on top of the old
        postings.remove(gone)
        bar = tqdm(total=len(missing), desc="keyword index", unit=" chunks", disable=not progress or not len(missing))
        postings.add(self._rows(missing, bar))  # one segment for all of them
        bar.close()
        postings.save(self.path)
        (archive.data_dir / LEGACY_FILE).unlink(missing_ok=True)
        self._postings, self._stamp, self._current = postings, file_stamp(self.path), True
        return len(missing)

    def _rows(self, ids: np.ndarray, bar: tqdm) -> Iterator[Row]:
        """The chunks' headlines and texts, read a batch at a time."""
        for batch in batched(ids.tolist(), READ_BATCH):
            with self.archive.lock:
                chunks = self.archive.store.chunks(batch)
            yield from ((c, chunks[c].title, chunks[c].text) for c in batch if c in chunks)
            bar.update(len(batch))
