"""Ingest on a Ray cluster against the plain ingest, on the same articles, in one run.

    python benchmarks/cluster_ingest.py                     # 40 corpus_5k articles, MiniLM
    python benchmarks/cluster_ingest.py --articles 200 --model sentence-transformers/all-MiniLM-L6-v2+int8

Both ingests are the real `Archive.ingest` into a fresh temporary data dir: one embeds in this
process, the other through `RayEmbedder` on a local Ray cluster started here (`ray.init`, this
machine's cores, one actor per core, each actor's torch on one thread), which is the same code path
as `newsbot ingest --cluster ADDRESS` on a real cluster. On one 2-core machine the cluster can only
add overhead (actor start-up, model load per actor, shipping texts and vectors through the object
store): the figure measured here is that overhead, not a speed-up. The vectors are compared too.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, md_table, require_data, write_section  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from index.ingest.readers import read_path  # noqa: E402


def source_file(articles: int, folder: Path) -> Path:
    (corpus,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    with gzip.open(corpus, "rt") as f:
        lines = list(itertools.islice(f, articles))
    path = folder / "articles.jsonl"
    path.write_text("".join(lines))
    return path


def timed_ingest(folder: Path, source: Path, config: ArchiveConfig, embedder: object) -> tuple[float, Archive, int]:
    archive = Archive(folder, config, embedder=embedder)  # type: ignore[arg-type]
    started = time.perf_counter()
    report = archive.ingest(read_path(source), progress=False)
    return time.perf_counter() - started, archive, report.embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import ray
    import torch

    from index.embedding.ray_cluster import RayEmbedder

    config = ArchiveConfig(model=args.model)
    local = load_embedder(args.model, device="cpu")
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        source = source_file(args.articles, Path(tmp))
        plain_s, plain, chunks = timed_ingest(Path(tmp) / "plain", source, config, local)
        os.environ["OMP_NUM_THREADS"] = "1"  # each actor one thread: one actor per core
        # address "local": a new cluster of our own, never another process's Ray found on this machine
        ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = time.perf_counter()
        remote = RayEmbedder(local, "auto")
        connect_s = time.perf_counter() - started
        ray_s, on_ray, _ = timed_ingest(Path(tmp) / "ray", source, config, remote)
        ray.shutdown()
        cosine = agreement(plain, on_ray)
    rows = [
        ["plain (this process, torch on 2 threads)", chunks, f"{plain_s:.1f}", f"{chunks / plain_s:.1f}", "1.00×", "—"],
        [
            f"Ray Data, local cluster, {cores} actors × 1 thread",
            chunks,
            f"{ray_s:.1f}",
            f"{chunks / ray_s:.1f}",
            f"{plain_s / ray_s:.2f}×",
            f"{cosine:.6f}",
        ],
    ]
    table = md_table(["ingest", "chunks", "seconds", "chunks/s", "× plain", "mean cosine to plain"], rows)
    note = (
        f"Joining the cluster took {connect_s:.1f} s more (not in the ingest time). torch threads in this "
        f"process: {torch.get_num_threads()}; load average at the end {os.getloadavg()[0]:.0f} (the machine was shared)."
    )
    print(table, note, sep="\n\n")
    if not args.no_write:
        write_section(
            "Ingest on a Ray cluster",
            f"{command_line()} — the first {args.articles} corpus_5k articles, `{args.model}`, the real `Archive.ingest` "
            f"into fresh data dirs, both in one run. {__doc__.split(chr(10) + chr(10))[1].strip()}\n\n{table}\n\n{note}\n",
        )


def agreement(a: Archive, b: Archive) -> float:
    """Mean cosine of the two archives' vectors, chunk by chunk (same articles, same chunk ids)."""
    ids_a, vectors_a = a.vectors.vectors()  # type: ignore[union-attr]
    ids_b, vectors_b = b.vectors.vectors()  # type: ignore[union-attr]
    by_id = dict(zip(ids_b.tolist(), vectors_b))
    return float(np.mean([float(v @ by_id[i]) for i, v in zip(ids_a.tolist(), vectors_a)]))


if __name__ == "__main__":
    main()
