"""A sentence-transformers model run in bfloat16 (`MODEL+bf16`): on a CPU with native bf16 dot products
(AVX512_BF16 or AMX) faster than its int8 Linear layers and as close to fp32 as makes no difference;
elsewhere the CPU emulates bf16 and it is slow (docs/benchmarks.md, "bf16 MiniLM")."""

from __future__ import annotations

import numpy as np

from index.embedding.base import BATCH_SIZE, DEFAULT_DEVICE, ModelError, Vectors
from index.embedding.sentence_transformers import SentenceTransformerEmbedder, load_sentence_transformer

BF16_SUFFIX = "+bf16"


def is_bfloat16(name: str) -> bool:
    return name.endswith(BF16_SUFFIX)


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (Linux reports it in /proc/cpuinfo's flags)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


class BFloat16Embedder(SentenceTransformerEmbedder):
    """`MODEL+bf16`: the model's weights and activations in bfloat16, vectors returned as float32."""

    def __init__(self, name: str, batch_size: int = BATCH_SIZE, device: str = DEFAULT_DEVICE) -> None:
        import torch

        base = name.removesuffix(BF16_SUFFIX)
        if not base:
            raise ModelError(f"{name!r} names no model to run in bf16")
        model = load_sentence_transformer(base, device=device).to(torch.bfloat16)
        super().__init__(name, batch_size, model=model)

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        return unit(super().embed(texts, progress))

    def embed_queries(self, texts: list[str]) -> Vectors:
        return unit(super().embed_queries(texts))


def unit(vectors: Vectors) -> Vectors:
    """Normalised again in float32: normalised in bf16, a vector's length is 1 only to ~0.4%."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)
