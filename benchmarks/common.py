"""What the benchmarks share: where the data is, cached archives, and writing figures to docs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from index.archive import Archive, ArchiveConfig
from index.embedding import AUTO_MODEL, resolve_model

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEWSBOT_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("NEWSBOT_BENCH_CACHE", Path.home() / ".cache" / "newsbot-bench"))
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
# The benchmarks measure what a new archive runs: `auto`, int8 MiniLM (DEFAULT_ENCODER). Until
# 2026-12-02 corpus_5k was cached with fp32 MiniLM, and figures of that date or earlier are fp32's.
BENCH_MODEL = AUTO_MODEL


def require_data(*relative: str) -> list[Path]:
    paths = [SHARED_DATA / r for r in relative]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"benchmark data not found: {', '.join(missing)} (set NEWSBOT_SHARED_DATA)")
    return paths


def config_key(config: ArchiveConfig) -> str:
    """The cache key of a config: `auto` counts as the encoder it gives a new archive."""
    model = resolve_model(config.model, None, config.embedding_device)
    blob = json.dumps([model, config.chunk_tokens, config.overlap_tokens], sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:10]


def cached_archive(
    name: str, sources: list[Path], config: ArchiveConfig, progress: bool = True, embedder=None
) -> Archive:
    """An archive of `sources`, built once per chunking/model config and reused afterwards.

    A rerun after a ranking change does not re-embed; an interrupted build resumes (ingest is
    idempotent and embeds only what the index lacks)."""
    from index.ingest.readers import read_path

    folder = CACHE / f"{name}-{config_key(config)}"
    archive = Archive(folder, config, embedder=embedder)  # an embedder not loadable by name (benchmarks/embedders.py)
    done = folder / "complete"
    if not done.exists():
        builder = archive if embedder is not None else Archive(folder, config, embedder=VectorMemo(archive.embedder))
        for source in sources:
            builder.ingest(read_path(source), progress=progress)
        done.write_text(json.dumps({"sources": [str(s) for s in sources]}))
    return archive


def memo_path(model: str) -> Path:
    (CACHE / "vector-memo").mkdir(parents=True, exist_ok=True)
    return CACHE / "vector-memo" / f"{hashlib.sha1(model.encode()).hexdigest()[:10]}.db"


class VectorMemo:
    """An embedder that remembers every passage vector it made, by model and text, across archives.

    corpus_5k and the subsets hold articles of the full corpus, chunked the same way, so a cache built
    after another reuses its vectors instead of re-embedding for tens of minutes. The vectors are the
    model's own: int8's dynamic quantization scales each batch, so they differ from a fresh build's by
    what other batch mates change (256 corpus_5k chunks embedded in two orders: cosine mean 0.99997,
    min 0.9957)."""

    def __init__(self, inner) -> None:
        import sqlite3

        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.relevance_floor = inner.relevance_floor
        self.db = sqlite3.connect(memo_path(inner.name), check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS memo (key BLOB PRIMARY KEY, vector BLOB)")

    def token_spans(self, texts):
        return self.inner.token_spans(texts)

    def embed_queries(self, texts):
        from index.embedding.base import embed_queries

        return embed_queries(self.inner, texts)

    def embed(self, texts, progress: bool = False):
        import numpy as np

        keys = [hashlib.sha1(text.encode()).digest() for text in texts]
        known = dict(self._known(keys))
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            made = self.inner.embed([texts[i] for i in missing], progress=progress)
            rows = [(keys[i], vector.astype(np.float32).tobytes()) for i, vector in zip(missing, made)]
            self.db.executemany("INSERT OR REPLACE INTO memo VALUES (?, ?)", rows)
            self.db.commit()
            known.update(rows)
        return (
            np.stack([np.frombuffer(known[key], dtype=np.float32) for key in keys])
            if keys
            else np.zeros((0, self.dimension), dtype=np.float32)
        )

    def _known(self, keys):
        return _stored(self.db, keys)


def _stored(db, keys: list[bytes]):
    """(key, vector bytes) of the keys the memo holds."""
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        yield from db.execute(f"SELECT key, vector FROM memo WHERE key IN ({','.join('?' * len(part))})", part)


def remembered(model: str, texts: list[str]) -> dict:
    """The memo's vector of each of these texts that has one, read without loading the model."""
    import sqlite3

    import numpy as np

    keys = {hashlib.sha1(text.encode()).digest(): text for text in texts}
    db = sqlite3.connect(memo_path(model))
    try:
        return {keys[key]: np.frombuffer(blob, dtype=np.float32) for key, blob in _stored(db, list(keys))}
    finally:
        db.close()
