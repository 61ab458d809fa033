"""What every embedding backend is: the protocol the archive uses, its errors and shared defaults."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Relevance (best cosine + the share of question words found, bot/answer.py) below which a
# question counts as unanswered; calibrated per model on answerable and unanswerable questions
# (docs/benchmarks.md). Other models get the default until calibrated.
RELEVANCE_FLOORS = {
    DEFAULT_MODEL: 1.22
}  # cross-validated with coverage weight 1 (docs/benchmarks.md, "Answer quality")
DEFAULT_RELEVANCE_FLOOR = 1.22
DEFAULT_DEVICE = "auto"  # a GPU where torch sees one, else the CPU
DEVICES = (DEFAULT_DEVICE, "cpu", "cuda")
BATCH_SIZE = 32  # texts per embedding batch

Span = tuple[int, int]


def offsets_of(tokenizer: Any, texts: list[str]) -> list[list[Span]]:
    """Each text's token character spans from a `tokenizers` Tokenizer (no special tokens)."""
    encoded = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [[(int(s), int(e)) for s, e in e.offsets] for e in encoded]


Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """What the archive needs from a model: its identity, its tokens and its vectors."""

    name: str
    dimension: int
    max_tokens: int  # content tokens the model reads before it truncates
    relevance_floor: float  # relevance (bot/answer.py) under which a question is taken as unanswered

    def token_spans(self, texts: list[str]) -> list[list[Span]]: ...

    def embed(self, texts: list[str], progress: bool = False) -> Vectors: ...


class QueryEmbedder(Protocol):
    """A model that embeds questions differently from passages (e5's "query: " prefix)."""

    def embed_queries(self, texts: list[str]) -> Vectors: ...


class ModelError(RuntimeError):
    """The embedding model cannot be loaded or is not the one the archive was built with."""


def embed_queries(embedder: Embedder, texts: list[str]) -> Vectors:
    """Question vectors: the model's own query encoding where it has one, its passage encoding otherwise."""
    method = getattr(embedder, "embed_queries", None)
    return method(texts) if callable(method) else embedder.embed(texts)


def resolve_device(device: str) -> str:
    """`auto` is the GPU where torch sees one, the CPU otherwise."""
    if device not in DEVICES:
        raise ModelError(f"embedding device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def empty(dimension: int) -> Vectors:
    return np.zeros((0, dimension), dtype=np.float32)
