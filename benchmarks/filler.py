"""Archives too large to embed here, built for the latency benchmarks.

Text is real: articles go through the real `Archive.ingest` (reader, dedup, chunker, SQLite, FTS5).
Only the vectors are stood in for, by `StoredVectors`: a chunk the real full-corpus cache embedded
(else, while that cache is not built, the corpus_5k cache) gets its real MiniLM vector, from the
benchmarks' vector memo; any other chunk gets a noisy copy of a real one (cosine ≈ 0.71 to it). Copies
keep the clustered shape of real embeddings, which an IVF's list sizes and recall depend on; uniform
random unit vectors have no neighbours and would flatter it. Filler chunks (to reach 1M) are real
chunk texts re-used, each under its article's real headline, in generated articles.

Stages (cached under ~/.cache/newsbot-bench, reused by reruns):
    latency-stage-full   the full realtimeqa corpus, flat index
    latency-stage-1m     + reuters21578 + filler to 1,000,000 chunks, flat index
    latency-full, latency-1m   copies settled the way the archive settles (auto: IVF above FLAT_LIMIT)
    latency-corpus_5k    a copy of the real corpus_5k cache (the cache itself is never opened for writing)
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import BENCH_MODEL, CACHE, config_key, remembered, require_data  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.article import Article  # noqa: E402
from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from index.ingest.chunking import Chunk, embedding_text  # noqa: E402
from index.ingest.readers import read_path  # noqa: E402

REAL_5K = CACHE / f"corpus_5k-{config_key(ArchiveConfig(model=BENCH_MODEL))}"
REAL_FULL = CACHE / f"corpus-{config_key(ArchiveConfig(model=BENCH_MODEL))}"  # eval_retrieval.py --full builds it
MILLION = 1_000_000
NOISE = 1.0  # a copy = anchor + NOISE·(unit noise), renormalised: cosine 1/√(1+NOISE²) to its anchor
FILLER_CHUNKS_PER_ARTICLE = (4, 16)
FLAT = ArchiveConfig(index_kind="flat")  # stages stay exact, so settled copies and ground truth come from them


class StoredVectors:
    """Stands in for MiniLM at ingest: MiniLM's own tokenizer (so chunks are the real ones), and
    stored vectors instead of a forward pass."""

    def __init__(self, model: str, known: dict[str, np.ndarray], seed: int = 0) -> None:
        self.model = SentenceTransformerEmbedder(DEFAULT_MODEL)  # the tokenizer int8 MiniLM shares
        self.name, self.dimension = model, self.model.dimension
        self.max_tokens, self.relevance_floor = self.model.max_tokens, self.model.relevance_floor
        self.known = known
        self.pool = np.stack(list(known.values()))
        self.rng = np.random.default_rng(seed)
        self.copies_only = False  # for filler: real texts, but never the same vector twice
        self.real = self.copied = 0

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return self.model.token_spans(texts)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        found = [None if self.copies_only else self.known.get(t) for t in texts]
        out = np.empty((len(texts), self.dimension), np.float32)
        missing = [i for i, v in enumerate(found) if v is None]
        for i, vector in enumerate(found):
            if vector is not None:
                out[i] = vector
        out[missing] = self._copies(len(missing))
        self.real += len(texts) - len(missing)
        self.copied += len(missing)
        return out

    def _copies(self, n: int) -> np.ndarray:
        anchors = self.pool[self.rng.integers(0, len(self.pool), n)]
        noise = self.rng.standard_normal((n, self.dimension)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        copies = anchors + NOISE * noise
        return copies / np.linalg.norm(copies, axis=1, keepdims=True)


def real_vectors(folder: Path = REAL_5K) -> tuple[str, dict[str, np.ndarray]]:
    """The encoder of a cached archive (opened read-only) and, for every chunk of it, embedding text →
    the vector that encoder gave it, from the benchmarks' vector memo (common.py VectorMemo)."""
    conn = sqlite3.connect(f"file:{folder / 'archive.db'}?mode=ro", uri=True)
    (model,) = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    rows = conn.execute("SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id").fetchall()
    conn.close()
    texts = list(dict.fromkeys(embedding_text(title, text) for title, text in rows))
    known = remembered(model, texts)
    if len(known) < len(texts):
        raise SystemExit(f"{len(texts) - len(known):,} chunk texts of {folder} are missing from the vector memo")
    return model, known


def _copy_dir(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_dir() and not path.name.startswith("."):  # the keyword index's segments
            shutil.copytree(path, target / path.name, ignore=shutil.ignore_patterns("*.tmp"))
        elif (
            path.is_file()
            and path.name != "complete"
            and not path.name.startswith(".")
            and not path.name.endswith((".tmp", "-journal"))
        ):
            shutil.copy2(path, target / path.name)
    return target


def _done(folder: Path) -> dict | None:
    marker = folder / "complete"
    return json.loads(marker.read_text()) if marker.exists() else None


def _finish(folder: Path, facts: dict) -> dict:
    (folder / "complete").write_text(json.dumps(facts, indent=1))
    return facts


def corpus_5k() -> Path:
    """A private copy of the real corpus_5k cache (opening an Archive may migrate or clean files)."""
    folder = CACHE / "latency-corpus_5k"
    if not _done(folder):
        if not (REAL_5K / "complete").exists():
            raise SystemExit(f"the corpus_5k cache {REAL_5K} is not complete yet")
        _copy_dir(REAL_5K, folder)
        archive = Archive(folder, ArchiveConfig())  # a keyword index of an older format is rebuilt
        archive.sync(progress=False)
        archive.close()
        _finish(folder, {"vectors": "all real MiniLM (the corpus_5k cache)"})
    return folder


def fresh_copy(name: str) -> Path:
    """A new copy of the corpus_5k cache, for a benchmark that writes to it (the bot's own tables)."""
    return _copy_dir(corpus_5k(), CACHE / name)


def _ingest(folder: Path, embedder: StoredVectors, source: Path) -> float:
    archive = Archive(folder, FLAT, embedder=embedder)
    started = time.perf_counter()
    archive.ingest(read_path(source), progress=False)
    archive.close()
    return time.perf_counter() - started


def stage_full(embedder: StoredVectors) -> Path:
    folder = CACHE / "latency-stage-full"
    if not _done(folder):
        (corpus,) = require_data("realtimeqa/corpus.jsonl.gz")
        if folder.exists():
            shutil.rmtree(folder)
        seconds = _ingest(folder, embedder, corpus)
        _finish(folder, {"real": embedder.real, "copies": embedder.copied, "ingest_seconds": round(seconds, 1)})
    return folder


def stage_million(embedder: StoredVectors) -> Path:
    folder = CACHE / "latency-stage-1m"
    if not _done(folder):
        full = stage_full(embedder)
        (reuters,) = require_data("reuters21578/reuters21578.jsonl.gz")
        _copy_dir(full, folder)
        embedder.real = embedder.copied = 0
        seconds = _ingest(folder, embedder, reuters)
        archive = Archive(folder, FLAT, embedder=embedder)
        added = add_filler(archive, MILLION)
        embedder.copies_only = True
        archive.sync(progress=False)
        archive.close()
        facts = {
            **_done(full),
            "reuters_ingest_seconds": round(seconds, 1),
            "filler_chunks": added,
            "reuters_real": embedder.real,
            "reuters_and_filler_copies": embedder.copied,
        }
        _finish(folder, facts)
    return folder


def add_filler(archive: Archive, target: int, seed: int = 1) -> int:
    """Generated articles of re-used real chunk texts until the archive holds `target` chunks."""
    store = archive.store
    pool = store.db.execute("SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id").fetchall()
    rng = np.random.default_rng(seed)
    start = datetime(2017, 1, 1, tzinfo=timezone.utc)
    added, n = 0, 0
    need = target - store.count("chunks")
    while added < need:
        with store.db.conn:
            for _ in range(1000):
                size = min(int(rng.integers(*FILLER_CHUNKS_PER_ARTICLE)), need - added)
                if size <= 0:
                    break
                picks = [pool[i] for i in rng.integers(0, len(pool), size)]
                published = start + timedelta(minutes=int(rng.integers(0, 6 * 365 * 24 * 60)))
                added += _filler_article(store, n, picks, published)
                n += 1
    if "group_id" in {r[1] for r in store.db.execute("PRAGMA table_info(articles)")}:
        with store.db.conn:  # each filler article its own story, so no dedup backfill runs over them
            store.db.execute("UPDATE articles SET group_id = id WHERE group_id IS NULL")
    return added


def _filler_article(store, n: int, picks: list[tuple[str, str]], published: datetime) -> int:
    chunks, parts, offset = [], [], 0
    for position, (_, text) in enumerate(picks):
        chunks.append(Chunk(position, offset, offset + len(text), text))
        parts.append(text)
        offset += len(text) + 2
    title = picks[0][0]
    article = Article(
        text="\n\n".join(parts),
        title=title,
        url=f"https://filler.example/{n}",
        outlet="filler.example",
        published=published,
        source_id=f"filler-{n}",
        source="filler",
    )
    article_id = store.save_article(article)
    store.add_chunks(article_id, title, chunks)
    return len(chunks)


def settled(stage: Path, name: str, embedder: StoredVectors) -> tuple[Path, float]:
    """A copy of a flat stage, synced under the default `auto` setting: the archive's own switch to
    an approximate index past FLAT_LIMIT. Returns the folder and that sync's seconds."""
    folder = CACHE / f"latency-{name}"
    facts = _done(folder)
    if facts and facts.get("from") == str(stage):
        return folder, facts["settle_seconds"]
    _copy_dir(stage, folder)
    archive = Archive(folder, ArchiveConfig(), embedder=embedder)
    started = time.perf_counter()
    archive.sync(progress=False)
    seconds = time.perf_counter() - started
    archive.close()
    _finish(folder, {**(_done(stage) or {}), "from": str(stage), "settle_seconds": round(seconds, 1)})
    return folder, seconds


def all_sizes() -> dict[str, Path]:
    """Every size the latency benchmark measures, built if missing."""
    real = REAL_FULL if (REAL_FULL / "complete").exists() else REAL_5K
    embedder = StoredVectors(*real_vectors(real))
    full_stage = stage_full(embedder)
    million_stage = stage_million(embedder)
    return {
        "corpus_5k": corpus_5k(),
        "full": settled(full_stage, "full", embedder)[0],
        "1m": settled(million_stage, "1m", embedder)[0],
    }


if __name__ == "__main__":
    for size, path in all_sizes().items():
        print(size, path, _done(path))
