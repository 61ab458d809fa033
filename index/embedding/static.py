"""A model2vec static model: a token-vector average, no transformer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from index.embedding.base import DEFAULT_RELEVANCE_FLOOR, RELEVANCE_FLOORS, ModelError, Span, Vectors, empty, offsets_of

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
        return offsets_of(self.tokenizer, texts)

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        if not texts:
            return empty(self.dimension)
        vectors = self.model.encode(
            texts, show_progress_bar=progress, max_length=self.max_tokens + 2, use_multiprocessing=False
        )
        return np.asarray(vectors, dtype=np.float32)
