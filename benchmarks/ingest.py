"""Ingest throughput against the bare encoder, and the cost of adding 100 articles to a large archive.

    python benchmarks/ingest.py                  # all rows below
    python benchmarks/ingest.py --rows reuters-static,incremental-static --no-write

Throughput rows: the real `Archive.ingest` into a fresh temporary data dir, each in its own process
(so peak RSS is that ingest's); then, in the same process, on the same chunk texts (read back from
the store, headline + chunk as embedded), the bare encoder: one `SentenceTransformer.encode` call on
torch's threads with the archive's batch size, or the static model's `encode`. Where ingest time goes is measured by timing
the functions ingest calls. Incremental rows: 100 Reuters stories (new to it) ingested into a copy of
the full-corpus archive (benchmarks/filler.py; its index is the IVF `auto` picks at that size).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    CACHE,
    StageClock,
    command_line,
    dir_bytes,
    md_table,
    peak_rss_mib,
    require_data,
    write_section,
)
from index.embedding import DEFAULT_MODEL  # noqa: E402

CORPUS_SLICE = 300
NEW_ARTICLES = 100
STATIC_MODEL = f"model2vec:{CACHE / 'm2v-minilm-256'}"
INGEST_STAGES = {
    "chunking": "index.ingest.pipeline:chunk_text",
    "dedup": "index.ingest.dedup:assign",
    "store writes": "index.store.sqlite:Store.save_article",
    "chunk + FTS writes": "index.store.sqlite:Store.add_chunks",
    "index add": "index.store.vectors:VectorIndex.add",
    "index save": "index.store.vectors:VectorIndex.save",
    "index settle": "index.store.vectors:VectorIndex.converted",
}
ROWS = {
    "reuters-minilm": ("reuters21578 (all), MiniLM", "reuters21578/reuters21578.jsonl.gz", None, DEFAULT_MODEL),
    "corpus_5k-minilm": (
        f"corpus_5k (first {CORPUS_SLICE} articles), MiniLM",
        "realtimeqa/corpus_5k.jsonl.gz",
        CORPUS_SLICE,
        DEFAULT_MODEL,
    ),
    "corpus_5k-int8": (
        f"corpus_5k (first {CORPUS_SLICE} articles), int8 MiniLM (the default)",
        "realtimeqa/corpus_5k.jsonl.gz",
        CORPUS_SLICE,
        DEFAULT_MODEL + "+int8",
    ),
    "corpus_5k-bf16": (
        f"corpus_5k (first {CORPUS_SLICE} articles), bf16 MiniLM",
        "realtimeqa/corpus_5k.jsonl.gz",
        CORPUS_SLICE,
        DEFAULT_MODEL + "+bf16",
    ),
    "reuters-static": (
        "reuters21578 (all), static model2vec",
        "reuters21578/reuters21578.jsonl.gz",
        None,
        STATIC_MODEL,
    ),
}
INCREMENTAL = {"incremental-minilm": DEFAULT_MODEL, "incremental-static": STATIC_MODEL}


def ingest_row(source: str, limit: int | None, model: str) -> dict:
    """One fresh ingest, timed by stage, then the bare encoder over the same texts."""
    from index.archive import Archive, ArchiveConfig
    from index.ingest.readers import read_path

    (path,) = require_data(source)
    folder = Path(tempfile.mkdtemp(prefix="newsbot-ingest-", dir=CACHE))
    try:
        archive = Archive(folder, ArchiveConfig(model=model))
        embedder = archive.embedder  # loaded before the clock starts, as a running bot has it
        clock = StageClock({**INGEST_STAGES})
        embed_ms = wrap_embed(embedder)
        started = time.perf_counter()
        report = archive.ingest(islice(read_path(path), limit), progress=False)
        seconds = time.perf_counter() - started
        result = {
            "articles": report.added,
            "chunks": report.chunks,
            "seconds": seconds,
            "peak_rss_mib": peak_rss_mib(),
            "bytes_per_chunk": dir_bytes(folder) / max(1, report.chunks),
            "stages": {**clock.take(), "embedding": embed_ms[0]},
        }
        texts = stored_texts(archive)
        result["tokens"] = sum(len(s) for s in embedder.token_spans(texts))
        result["bare_seconds"] = bare_encode_seconds(embedder, texts)
        archive.close()
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wrap_embed(embedder) -> list[float]:
    """Times the embedder's own `embed` calls (ms, in a list the caller reads after)."""
    total = [0.0]
    inner = embedder.embed

    def embed(texts, progress=False):
        started = time.perf_counter()
        try:
            return inner(texts, progress)
        finally:
            total[0] += (time.perf_counter() - started) * 1000

    embedder.embed = embed
    return total


def stored_texts(archive) -> list[str]:
    from index.ingest.chunking import embedding_text

    rows = archive.store.db.execute(
        "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.id"
    )
    return [embedding_text(title, text) for title, text in rows]


def bare_encode_seconds(embedder, texts: list[str]) -> float:
    """The ceiling: the model's own encode over all texts at once, nothing else."""
    started = time.perf_counter()
    if hasattr(embedder, "batch_size"):  # sentence-transformers
        embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    else:
        embedder.model.encode(texts)  # its defaults, multiprocessing over 10k texts included
    return time.perf_counter() - started


def full_archive_for(model: str) -> Path:
    """The full-corpus archive with `model`'s vectors: MiniLM's is filler.py's (stored vectors); the
    static model's is that archive's chunks embedded for real by the static model (fast), cached."""
    from benchmarks import filler

    if model == DEFAULT_MODEL:
        return filler.all_sizes()["full"]
    folder = CACHE / "latency-full-static"
    if not (folder / "complete").exists():
        static_full(filler.CACHE / "latency-stage-full", folder, model)
    return folder


def static_full(stage: Path, folder: Path, model: str) -> None:
    from benchmarks.filler import _copy_dir
    from index.archive import Archive, ArchiveConfig
    from index.store import DB_NAME, Store

    _copy_dir(stage, folder)
    (folder / "vectors.faiss").unlink()
    store = Store(folder / DB_NAME)
    with store.db.conn:
        store.db.execute("DELETE FROM meta WHERE key LIKE 'index_%' OR key LIKE 'embedding_%' OR key = 'vectors_file'")
    store.close()
    archive = Archive(folder, ArchiveConfig(model=model))
    archive.sync(progress=True)
    archive.close()
    (folder / "complete").write_text(json.dumps({"vectors": f"{model}, every chunk"}))


def incremental_row(model: str) -> dict:
    """100 new articles into a copy of a full-corpus-size archive: time, stages, and what changed."""
    from benchmarks.filler import _copy_dir
    from index.archive import Archive, ArchiveConfig
    from index.ingest.readers import read_path

    (reuters,) = require_data("reuters21578/reuters21578.jsonl.gz")
    folder = _copy_dir(full_archive_for(model), CACHE / "incremental-scratch")
    try:
        archive = Archive(folder, ArchiveConfig(model=model))
        archive.embedder.embed(["warm up"])
        before = {**archive.store.meta(), "vectors": len(archive.vectors)}
        clock = StageClock({**INGEST_STAGES})
        embed_ms = wrap_embed(archive.embedder)
        started = time.perf_counter()
        report = archive.ingest(islice(read_path(reuters), NEW_ARTICLES), progress=False)
        seconds = time.perf_counter() - started
        after = {**archive.store.meta(), "vectors": len(archive.vectors)}
        return {
            "articles": report.added,
            "chunks": report.chunks,
            "embedded": report.embedded,
            "seconds": seconds,
            "stages": {**clock.take(), "embedding": embed_ms[0]},
            "before": before,
            "after": after,
            "index_bytes": archive.vectors_path.stat().st_size,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_row(name: str) -> dict:
    out = CACHE / f"ingest-{name}.json"
    subprocess.run([sys.executable, __file__, "--worker", name, "--out", str(out)], check=True)
    return json.loads(out.read_text())


def saved_rows(rows: dict, running: list[str]) -> dict[str, dict]:
    """Rows not run this time keep their last saved results, so a section never loses a row."""
    saved = {n: CACHE / f"ingest-{n}.json" for n in rows if n not in running}
    return {n: json.loads(path.read_text()) for n, path in saved.items() if path.exists()}


def throughput_table(results: dict[str, dict]) -> str:
    rows = []
    for name, r in results.items():
        bare_rate = r["chunks"] / r["bare_seconds"]
        rate = r["chunks"] / r["seconds"]
        rows.append(
            [
                ROWS[name][0],
                f"{r['articles']:,}",
                f"{r['chunks']:,}",
                f"{r['seconds']:.0f}",
                f"{r['articles'] / r['seconds']:.1f}",
                f"{rate:.1f}",
                f"{r['tokens'] / r['seconds']:,.0f}",
                f"{bare_rate:.1f}",
                f"**{rate / bare_rate:.0%}**",
                f"{r['peak_rss_mib']:,.0f}",
                f"{r['bytes_per_chunk']:,.0f}",
            ]
        )
    return md_table(
        [
            "ingest",
            "articles",
            "chunks",
            "seconds",
            "articles/s",
            "chunks/s",
            "tokens/s",
            "bare encode chunks/s",
            "ingest ÷ bare",
            "peak RSS MiB",
            "bytes on disk/chunk",
        ],
        rows,
    )


def stages_table(results: dict[str, dict], label) -> str:
    names = [
        "embedding",
        "chunking",
        "dedup",
        "store writes",
        "chunk + FTS writes",
        "index add",
        "index settle",
        "index save",
    ]
    rows = []
    for name, r in results.items():
        total = r["seconds"] * 1000
        known = sum(r["stages"].get(n, 0.0) for n in names)
        cells = [f"{r['stages'].get(n, 0.0) / 1000:.2f} ({r['stages'].get(n, 0.0) / total:.0%})" for n in names]
        rows.append([label(name), *cells, f"{(total - known) / 1000:.2f} ({(total - known) / total:.0%})"])
    return md_table(["ingest", *names, "rest (reading, SQL, sync)"], rows)


def incremental_table(results: dict[str, dict]) -> str:
    rows = []
    for name, r in results.items():
        b, a = r["before"], r["after"]
        rebuilt = any(
            b.get(k) != a.get(k) for k in ("index_build_id", "index_build_seconds", "index_kind", "index_params")
        )
        rows.append(
            [
                INCREMENTAL[name].split("/")[-1],
                f"{b['vectors']:,} → {a['vectors']:,}",
                f"{a.get('index_kind')} {a.get('index_params')}",
                f"{r['articles']}",
                f"{r['chunks']:,}",
                f"{r['embedded']:,}",
                f"{r['seconds']:.1f}",
                "no" if not rebuilt else "**yes**",
                f"{r['index_bytes'] / 2**20:,.0f}",
            ]
        )
    return md_table(
        [
            "model",
            "vectors before → after",
            "index",
            "articles added",
            "chunks",
            "embedded",
            "seconds",
            "index rebuilt or retrained",
            "index file MiB (rewritten)",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=",".join([*ROWS, *INCREMENTAL]))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = (
            incremental_row(INCREMENTAL[args.worker])
            if args.worker in INCREMENTAL
            else ingest_row(*ROWS[args.worker][1:])
        )
        args.out.write_text(json.dumps(result))
        return
    names = args.rows.split(",")
    throughput = {**saved_rows(ROWS, names), **{n: run_row(n) for n in names if n in ROWS}}
    incremental = {**saved_rows(INCREMENTAL, names), **{n: run_row(n) for n in names if n in INCREMENTAL}}
    if throughput:
        text = f"{throughput_table(throughput)}\n\nWhere ingest time goes (seconds, share of the ingest):\n\n{stages_table(throughput, lambda n: ROWS[n][0])}"
        print(text)
        if not args.no_write:
            write_section(
                "Ingest throughput", f"{command_line()} — {__doc__.split(chr(10) + chr(10))[2].strip()}\n\n{text}"
            )
    if incremental:
        text = f"{incremental_table(incremental)}\n\nWhere the time goes (seconds, share):\n\n{stages_table(incremental, lambda n: INCREMENTAL[n].split('/')[-1])}"
        print(text)
        if not args.no_write:
            write_section(
                "Incremental ingest at full-corpus size",
                f"{command_line()} — {NEW_ARTICLES} Reuters stories, "
                f"new to it, ingested into a copy of the full-corpus archive.\n\n{text}",
            )


if __name__ == "__main__":
    main()
