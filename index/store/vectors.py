"""FAISS vectors keyed by chunk id, saved beside the database.

Three kinds (docs/benchmarks.md, "Vector index by size", has the numbers behind the choices):

- `flat`: exact inner product over `IDMap2,Flat`; every archive starts as one.
- `ivf`: `IVF<nlist>,SQ8` holding chunk ids itself (not under IDMap2, whose `remove_ids` returns
  wrong ids for IVF afterwards). Removal is native and cheap; ~4x less memory than flat.
- `hnsw`: `IDMap2,HNSW<M>,Flat`. HNSW cannot remove, so a removal rebuilds the graph from the
  vectors it stores (exact, but minutes at a million chunks): for read-mostly archives only.

`auto` stays flat below FLAT_LIMIT and becomes IVF above it. An archive is built flat and settled
into its kind at the end of an embedding pass (`converted`), so an IVF is trained on a sample of
all its vectors, never on the first batch, and an archive that grows past the limit switches
without re-embedding.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

# Exact search, one thread per question (`_threads_for`), costs ~0.13 ms per 1,000 vectors (7.3 ms at
# corpus_5k's 57k); IVF there ~0.3 ms at recall@10 0.98, with unchanged retrieval (docs/benchmarks.md,
# "Vector index by size", "Search against the bare query embedding")
FLAT_LIMIT = 50_000
KINDS = ("flat", "ivf", "hnsw")
TRAIN_PER_LIST = 50  # k-means sample per IVF list: faiss warns under 39; more costs build time
TRAIN_ITERATIONS = 10  # faiss's default 25 takes minutes at 1M chunks on 2 cores
SEARCH_PARAMS = {"ivf": "nprobe", "hnsw": "efSearch"}
IVF_CODES = {8: "SQ8", 16: "SQfp16", 32: "Flat"}  # bits per dimension stored

Params = dict[str, int]


def parse_setting(setting: str) -> tuple[str, Params]:
    """`auto`, `flat`, `ivf`, `hnsw`, optionally with parameters: `ivf:nlist=4096,nprobe=64`."""
    kind, _, rest = setting.strip().lower().partition(":")
    if kind not in (*KINDS, "auto"):
        raise ValueError(f"unknown index kind {setting!r}: use auto, flat, ivf or hnsw")
    params = {}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        params[_canonical(key.strip())] = int(value)
    return kind, params


def _canonical(key: str) -> str:
    names = {
        "nlist": "nlist",
        "nprobe": "nprobe",
        "bits": "bits",
        "m": "M",
        "efsearch": "efSearch",
        "efconstruction": "efConstruction",
    }
    if key.lower() not in names:
        raise ValueError(f"unknown index parameter {key!r}")
    return names[key.lower()]


def choose_kind(count: int, setting: str = "auto") -> str:
    """The index type for an archive of `count` chunks: exact while small, approximate above."""
    kind, _ = parse_setting(setting)
    if kind != "auto":
        return kind
    return "flat" if count < FLAT_LIMIT else "ivf"


def default_params(kind: str, count: int) -> Params:
    """Build and search parameters for `count` vectors (nprobe/efSearch measured for recall@10 ≥ 0.98)."""
    if kind == "ivf":
        nlist = ivf_lists(count)
        return {"nlist": nlist, "nprobe": default_nprobe(nlist), "bits": 8}
    if kind == "hnsw":
        return {"M": 32, "efConstruction": 40, "efSearch": 64}
    return {}


def default_nprobe(nlist: int) -> int:
    """An eighth of the lists: recall@10 ≥ 0.98 against exact search on MiniLM news vectors from 57k
    to 1M chunks, in under 4 ms (SQ8 loses ~0.01 of recall to fp16, for half the memory)."""
    return min(nlist, max(8, nlist // 8))


def ivf_lists(count: int) -> int:
    """About 4·√n lists (a power of two), never more than the vectors can train."""
    wanted = 1 << max(0, round(float(np.log2(max(1.0, 4 * np.sqrt(count))))))
    return max(1, min(wanted, count // TRAIN_PER_LIST, 65_536))


def factory_string(kind: str, params: Params | None = None) -> str:
    params = params or {}
    if kind == "flat":
        return "IDMap2,Flat"
    if kind == "ivf":
        return f"IVF{params.get('nlist', 1024)},{IVF_CODES[params.get('bits', 8)]}"
    if kind == "hnsw":
        return f"IDMap2,HNSW{params.get('M', 32)},Flat"
    raise ValueError(f"unknown index kind {kind!r}")


class VectorIndex:
    """Inner-product search over normalised vectors (cosine), ids are chunk ids."""

    def __init__(self, index: faiss.Index, kind: str, params: Params | None = None) -> None:
        self.index = index
        self.kind = kind
        self.params: Params = dict(params or {})
        self.build_seconds = 0.0  # FAISS time (train + add) spent on this index in this process
        self.built_here = False  # created or converted here, rather than loaded
        self._apply_search_params()

    @classmethod
    def create(cls, dimension: int, kind: str = "flat", params: Params | None = None) -> "VectorIndex":
        params = params or {}
        index = faiss.index_factory(dimension, factory_string(kind, params), faiss.METRIC_INNER_PRODUCT)
        if kind == "hnsw":
            _hnsw(index).hnsw.efConstruction = params.get("efConstruction", 40)
        if kind == "ivf":
            faiss.extract_index_ivf(index).cp.niter = TRAIN_ITERATIONS
        created = cls(index, kind, params)
        created.built_here = True
        return created

    @classmethod
    def load(cls, path: Path, params: Params | None = None) -> "VectorIndex":
        """The saved index; its kind is read from the file, `params` (from meta) set its search depth."""
        index = faiss.read_index(str(path))
        found = _kind_of(index)
        return cls(index, found, {**_build_params(index, found), **(params or {})})

    def _apply_search_params(self) -> None:
        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            hashtable = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]  # not in faiss's stubs
            if ivf.direct_map.type != hashtable:  # reconstruct by chunk id (`stored`)
                ivf.set_direct_map_type(hashtable)
            self.params["nlist"] = int(ivf.nlist)
            ivf.nprobe = min(int(ivf.nlist), self.params.setdefault("nprobe", default_nprobe(int(ivf.nlist))))
        elif self.kind == "hnsw":
            _hnsw(self.index).hnsw.efSearch = self.params.setdefault("efSearch", 64)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        if self.kind == "ivf":
            return _ivf_ids(faiss.extract_index_ivf(self.index))
        return faiss.vector_to_array(faiss.downcast_index(self.index).id_map).astype(np.int64)  # type: ignore[attr-defined]  # faiss's stubs type downcast_index as returning the base Index

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) stored exactly: flat and HNSW keep them; IVF's are quantized."""
        if self.kind == "ivf":
            raise ValueError("an IVF index keeps only quantized vectors")
        inner = faiss.downcast_index(faiss.downcast_index(self.index).index)  # type: ignore[attr-defined]  # faiss's stubs type downcast_index as returning the base Index
        return self.ids(), inner.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self.dimension), np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) == 0:
            return
        started = time.perf_counter()
        if not self.index.is_trained:
            self.index.train(_training_sample(vectors, int(self.params.get("nlist", 1))))
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        self.build_seconds += time.perf_counter() - started

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0 or len(self) == 0:
            return 0
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            return self._rebuild_without(ids)
        if self.kind == "ivf":  # its id hashtable removes only by an explicit array
            return int(self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _rebuild_without(self, ids: np.ndarray) -> int:
        kept_ids, vectors = self.vectors()
        keep = ~np.isin(kept_ids, ids)
        removed = int(len(kept_ids) - keep.sum())
        if removed:
            rebuilt = VectorIndex.create(self.dimension, self.kind, self.params)
            rebuilt.add(kept_ids[keep], vectors[keep])
            self.adopt(rebuilt)
        return removed

    def converted(self, kind: str, params: Params | None = None) -> "VectorIndex":
        """A new index of `kind` holding the same ids and vectors (this one must be flat or HNSW)."""
        ids, vectors = self.vectors()
        params = {**default_params(kind, len(ids)), **(params or {})}
        target = VectorIndex.create(self.dimension, kind, params)
        target.add(ids, vectors)
        return target

    def adopt(self, other: "VectorIndex") -> None:
        """Becomes `other` in place, so holders of this object see the new index."""
        self.index, self.kind, self.params = other.index, other.kind, other.params
        self.build_seconds += other.build_seconds
        self.built_here = True

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best `k` (scores, ids) per query; `allowed` restricts the search to those ids."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        k = max(1, min(k, len(self)))
        with _threads_for(len(queries)):
            if allowed is None:
                return self.index.search(queries, k)
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            return self.index.search(queries, k, params=self._filtered_params(selector, len(allowed), k))

    def stored(self, ids: list[int]) -> dict[int, np.ndarray] | None:
        """The stored vectors of these ids (those the index holds), read back without a search: exact
        from flat and HNSW, decoded from IVF's 8-bit codes (cosines within ~0.002 of the exact ones);
        None for an index that can give none back."""
        outer = faiss.downcast_index(self.index)
        if isinstance(outer, faiss.IndexIDMap2):
            source: Any = outer
        elif self.kind == "ivf":
            source = faiss.extract_index_ivf(self.index)  # its direct map finds a chunk id's code
        else:
            return None
        found: dict[int, np.ndarray] = {}
        for i in ids:
            with contextlib.suppress(RuntimeError):  # an id not (yet) in the index
                found[i] = np.asarray(source.reconstruct(int(i)))
        return found

    def _filtered_params(self, selector: faiss.IDSelector, allowed: int, k: int) -> faiss.SearchParameters:
        # an approximate index visits a fraction of the vectors: widen it by the share filtered
        # out, so as many allowed vectors are visited as an unfiltered search visits in all
        widen = len(self) / max(1, allowed)
        if self.kind == "ivf":
            nprobe = int(min(int(self.params["nlist"]), np.ceil(self.params["nprobe"] * widen)))
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]  # stubs lack kwargs
        if self.kind == "hnsw":
            ef = int(min(len(self), max(k, self.params["efSearch"] * widen)))
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef)  # type: ignore[attr-defined,no-any-return]  # not in stubs
        return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]  # faiss's stubs omit the keyword constructor

    def save(self, path: Path) -> None:
        """Written to a temporary file, then swapped in: a crash never leaves half an index."""
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


@contextlib.contextmanager
def _threads_for(queries: int) -> Iterator[None]:
    """One OpenMP thread for a single question: splitting one scan over the cores saves little, and on a
    busy machine the waiting threads spin (4x the CPU of the scan, docs/benchmarks.md "Search against the
    bare query embedding"). OpenMP's thread count is per calling thread, so ingest keeps its own."""
    if queries > 1:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _kind_of(index: faiss.Index) -> str:
    outer = faiss.downcast_index(index)
    if isinstance(outer, faiss.IndexIVF):
        return "ivf"
    inner = faiss.downcast_index(outer.index) if isinstance(outer, faiss.IndexIDMap2) else outer
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    raise ValueError(f"unsupported FAISS index {type(inner).__name__}")


def _build_params(index: faiss.Index, kind: str) -> Params:
    if kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        return {"nlist": int(ivf.nlist), "bits": ivf.code_size * 8 // ivf.d}
    if kind == "hnsw":
        graph = _hnsw(index).hnsw
        return {"M": int(graph.nb_neighbors(1)), "efConstruction": int(graph.efConstruction)}  # type: ignore[attr-defined]  # faiss's stubs omit HNSW.nb_neighbors
    return {}


def _hnsw(index: faiss.Index) -> faiss.IndexHNSW:
    return faiss.downcast_index(faiss.downcast_index(index).index)  # type: ignore[attr-defined,return-value]  # faiss's stubs type downcast_index as returning the base Index


def _ivf_ids(ivf: faiss.IndexIVF) -> np.ndarray:
    lists = ivf.invlists
    if lists is None:  # an IVF always has its lists; the stubs allow None
        return np.zeros(0, np.int64)
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy() for i in range(ivf.nlist) if lists.list_size(i)
    ]
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _training_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    size = TRAIN_PER_LIST * nlist
    if len(vectors) <= size:
        return vectors
    rows = np.random.default_rng(0).choice(len(vectors), size, replace=False)
    return vectors[np.sort(rows)]
