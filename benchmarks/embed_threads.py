"""One encode call on torch's threads against the same texts shared out to worker threads of one torch
thread each (what the archive's `embed` does with many texts on a CPU), on a quiet machine and beside
another process that keeps one core busy (a bot answering while it ingests; a shared machine).

    python benchmarks/embed_threads.py             # 512 real corpus_5k chunks, 3 alternating rounds

Chunks per second, median over the rounds, the two ways alternating in one process on the same real chunk
texts as embedded (headline + chunk); and the cosine between the two ways' vectors (int8's activation
scale is per batch, so its vectors move a little with a batch's neighbours; fp32's do not).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, md_table, write_section  # noqa: E402
from benchmarks.embedders import sample_arguments, sample_texts  # noqa: E402
from index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402

ENCODERS = (DEFAULT_MODEL + "+int8", DEFAULT_MODEL + "+bf16", DEFAULT_MODEL)
WAYS = {"one call": 1, "worker threads": None}  # the embedder's `workers`: 1 is one call, None its default


@contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """Another process spinning on one core while the block runs."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def measure(embedder, texts: list[str], rounds: int) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    rates: dict[str, list[float]] = {way: [] for way in WAYS}
    vectors = {}
    for _ in range(rounds):
        for way, workers in WAYS.items():
            embedder.workers = workers
            started = time.perf_counter()
            vectors[way] = embedder.embed(texts)
            rates[way].append(len(texts) / (time.perf_counter() - started))
    embedder.workers = None
    return rates, vectors


def rows_for(name: str, texts: list[str], rounds: int) -> list[list[str]]:
    embedder = load_embedder(name, device="cpu")
    embedder.embed(texts[:64])  # warm-up, both ways
    rows = []
    for busy in (False, True):
        with busy_core(busy):
            rates, vectors = measure(embedder, texts, rounds)
        one, shared = (statistics.median(rates[way]) for way in WAYS)
        cosine = np.sum(vectors["one call"] * vectors["worker threads"], axis=1)
        condition = "beside a busy core" if busy else "quiet"
        rows.append(
            [f"`{name}`", condition, f"{one:.1f}", f"{shared:.1f}", f"{shared / one:.2f}×", f"{cosine.min():.5f}"]
        )
    return rows


def main() -> None:
    args = sample_arguments(__doc__.split("\n")[0])
    import torch

    texts = sample_texts(args.sample)
    rows = [row for name in ENCODERS for row in rows_for(name, texts, args.rounds)]
    headers = ["encoder", "machine", "one call: chunks/s", "worker threads: chunks/s", "ratio", "min cosine"]
    table = md_table(headers, rows)
    print(table)
    if not args.no_write:
        body = (
            f"{command_line()} — {len(texts)} real corpus_5k chunks as embedded, {args.rounds} rounds with the "
            f"two ways alternating (median), one process. One call: `SentenceTransformer.encode` on "
            f"{torch.get_num_threads()} torch threads. Worker threads: the archive's `embed`, the texts dealt "
            f"out by length to {torch.get_num_threads()} threads of one torch thread each "
            f"(index/embedding/sentence_transformers.py). Busy core: another process spinning on one of the "
            f"{os.cpu_count()} cores. Load average {os.getloadavg()[0]:.1f} at the end.\n\n{table}"
        )
        write_section("Embedding on worker threads", body)


if __name__ == "__main__":
    main()
