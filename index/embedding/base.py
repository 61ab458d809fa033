"""What every embedding backend is: the protocol the archive uses, its errors and shared defaults."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # the packaged fp32 MiniLM
# What a new archive is embedded with: the packaged MiniLM with int8 Linear layers (quantized.py). It
# matched fp32 within 0.01 MRR@10 and answer hit rate on the 600-article subset at ~1.5x the chunks
# per CPU-second (docs/benchmarks.md, "Encoders side by side", "Answer quality by encoder").
DEFAULT_ENCODER = DEFAULT_MODEL + "+int8"
# The model setting's default: an archive keeps the encoder it was built with, a new one gets
# DEFAULT_ENCODER, so the archives embedded with fp32 before it became the default keep working.
AUTO_MODEL = "auto"
# Relevance (best cosine + the share of question words found, bot/answer.py) below which a
# question counts as unanswered; calibrated per model on answerable and unanswerable questions
# (docs/benchmarks.md). Other models get the default until calibrated.
RELEVANCE_FLOORS = {
    DEFAULT_MODEL: 1.22
}  # cross-validated with coverage weight 1 (docs/benchmarks.md, "Answer quality")
DEFAULT_RELEVANCE_FLOOR = 1.22
DEFAULT_DEVICE = "auto"  # a GPU where torch sees one, else the CPU
DEVICES = (DEFAULT_DEVICE, "cpu", "cuda")
# Texts per forward pass on a CPU: smaller batches pad less and stay in cache. 16 was fastest on both
# machines measured (2026-11-29: 36.5 chunks/s against 31.4 at 64; 2026-12-02, int8: 98.9 against 69.0 at
# 32; docs/benchmarks.md, "Faster embedding", "bf16 MiniLM"). A GPU wants far larger batches.
BATCH_SIZE = 16

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


def new_archive_encoder(device: str) -> str:
    """What `auto` embeds a new archive with: int8 MiniLM, unless it would run on a GPU, where fp32
    MiniLM is fast and int8's kernels cannot run (they are CPU-only); the archive then records fp32."""
    return DEFAULT_MODEL if resolve_device(device) == "cuda" else DEFAULT_ENCODER


def resolve_model(setting: str, built_with: str | None, device: str) -> str:
    """The model a setting names: `auto` is the archive's own encoder (`built_with`), or for a new
    archive the default encoder; any other setting is itself (a mismatch is the archive's check)."""
    if setting != AUTO_MODEL:
        return setting
    return built_with or new_archive_encoder(device)


def empty(dimension: int) -> Vectors:
    return np.zeros((0, dimension), dtype=np.float32)
