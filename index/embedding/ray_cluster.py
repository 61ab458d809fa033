"""Embedding on a Ray cluster (`newsbot ingest --cluster ADDRESS`, NEWSBOT_RAY_ADDRESS).

Only the forward passes leave this machine: reading, chunking (the local model's tokenizer), SQLite
and FAISS stay with the one writer. The archive hands chunk batches to `embed_stream`; each segment
of them becomes a Ray Data dataset mapped by an actor pool (each actor loads the model once, on its
GPU where Ray gave it one), and the vectors stream back as they are done, each with its chunk id.
The archive adds them and checkpoints its index between segments, so a crash loses at most the
segment in flight: those chunks are still missing from the index, and the next ingest or
`newsbot index sync` embeds them.

Every node needs newsbot and the model installed (`pip install newsbot[cluster]`), as the driver has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from index.embedding.base import BATCH_SIZE, Embedder, ModelError, Span, Vectors

SEGMENT = 20_000  # chunks per dataset: the archive checkpoints between segments
BATCH = 256  # chunks per actor call
IdBatch = tuple[npt.NDArray[np.int64], list[str]]


class EmbedActor:
    """One per actor-pool slot: loads the model once, embeds each batch it is given."""

    def __init__(self, model: str, batch_size: int) -> None:
        from index.embedding import load_embedder

        self.embedder = load_embedder(model, batch_size=batch_size, device="auto")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"id": np.asarray(batch["id"], dtype=np.int64), "vector": vectors}


def connect(address: str) -> Any:
    """Joins the cluster at `address` (`auto`, `HOST:PORT`, `ray://HOST:10001`); one clear error if not."""
    try:
        import ray
        import ray.data  # noqa: F401  (a subpackage `import ray` does not load)
    except ImportError:
        raise ModelError("embedding on a cluster needs Ray: pip install 'newsbot[cluster]'") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # unreachable, refused, wrong version: all surface here
            raise ModelError(f"cannot join the Ray cluster at {address!r}: {exc}") from exc
    return ray


def pool_shape(resources: dict[str, float], max_actors: int | None) -> tuple[int, float]:
    """(actors, GPUs per actor): one actor per GPU where the cluster has GPUs, else one per CPU."""
    gpus = int(resources.get("GPU", 0))
    actors = gpus or max(1, int(resources.get("CPU", 1)))
    return (min(actors, max_actors) if max_actors else actors), (1.0 if gpus else 0.0)


def segments(batches: Iterable[IdBatch], size: int) -> Iterator[list[IdBatch]]:
    """Consecutive batches grouped until a group holds `size` chunks."""
    group: list[IdBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += len(batch[1])
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


class RayEmbedder:
    """The local model for tokens and questions; its forward passes for ingest on the cluster."""

    def __init__(
        self,
        local: Embedder,
        address: str,
        batch_size: int = BATCH_SIZE,
        max_actors: int | None = None,
        segment: int = SEGMENT,
    ) -> None:
        self.local, self.address = local, address
        self.name, self.dimension = local.name, local.dimension
        self.max_tokens, self.relevance_floor = local.max_tokens, local.relevance_floor
        self.batch_size, self.max_actors, self.segment = batch_size, max_actors, segment
        self.ray = connect(address)

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        return self.local.token_spans(texts)

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        return self.local.embed(texts, progress)  # questions and quotes: one round trip would cost more

    def embed_queries(self, texts: list[str]) -> Vectors:
        from index.embedding.base import embed_queries

        return embed_queries(self.local, texts)

    def embed_stream(self, batches: Iterable[IdBatch]) -> Iterator[tuple[npt.NDArray[np.int64], Vectors]]:
        """(ids, vectors) as the cluster finishes them, in no particular order."""
        for group in segments(batches, self.segment):
            yield from self._run(group)

    def _run(self, group: list[IdBatch]) -> Iterator[tuple[npt.NDArray[np.int64], Vectors]]:
        rows = [{"id": int(i), "text": t} for ids, texts in group for i, t in zip(ids.tolist(), texts)]
        actors, gpus = pool_shape(self.ray.cluster_resources(), self.max_actors)
        dataset = self.ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // BATCH)).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"model": self.name, "batch_size": self.batch_size},
            batch_size=BATCH,
            concurrency=actors,
            num_gpus=gpus,
            batch_format="numpy",
        )
        for out in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield np.asarray(out["id"], dtype=np.int64), np.asarray(out["vector"], dtype=np.float32)
