"""FAISS vectors keyed by chunk id, saved beside the database."""
from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

FLAT_LIMIT = 200_000  # below this many vectors exact search is fast enough on 2 cores


def choose_kind(count: int, setting: str = "auto") -> str:
    """The index type for an archive of `count` chunks: exact while small, approximate above."""
    if setting != "auto":
        return setting
    return "flat" if count < FLAT_LIMIT else "hnsw"


def factory_string(kind: str) -> str:
    return {"flat": "IDMap2,Flat", "hnsw": "IDMap2,HNSW32,Flat", "ivf": "IDMap2,IVF1024,SQ8"}[kind]


class VectorIndex:
    """Inner-product search over normalised vectors (cosine), ids are chunk ids."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self.index = index
        self.kind = kind

    @classmethod
    def create(cls, dimension: int, kind: str = "flat") -> "VectorIndex":
        index = faiss.index_factory(dimension, factory_string(kind), faiss.METRIC_INNER_PRODUCT)
        return cls(index, kind)

    @classmethod
    def load(cls, path: Path, kind: str = "flat") -> "VectorIndex":
        return cls(faiss.read_index(str(path)), kind)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(faiss.downcast_index(self.index).id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.index.is_trained:
            self.index.train(vectors)
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(queries, k)

    def save(self, path: Path) -> None:
        """Written to a temporary file, then swapped in: a crash never leaves half an index."""
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def nbytes_on_disk(self, path: Path) -> int:
        return path.stat().st_size if path.exists() else 0
