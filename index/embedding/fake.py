"""A deterministic stand-in model for tests: `fake`, `fake:DIM`, `fake:DIM:delay=SECONDS`."""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np

from index.embedding.base import Span, Vectors, empty

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

    def _vector(self, text: str) -> Vectors:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        if not texts:
            return empty(self.dimension)
        self._wait(texts)
        return np.stack([self._vector(text) for text in texts])


def fake_options(name: str) -> tuple[str, int, float]:
    """`fake[:DIM][:delay=SECONDS]` → (identity, dimension, delay); the delay is no part of the identity."""
    parts = name.split(":")[1:]
    dims = [int(p) for p in parts if p.isdigit()]
    delays = [float(p.split("=", 1)[1]) for p in parts if p.startswith("delay=")]
    identity = f"fake:{dims[0]}" if dims else "fake"
    return identity, dims[0] if dims else 256, delays[0] if delays else 0.0


def is_fake(name: str) -> bool:
    return name == "fake" or name.startswith("fake:")
