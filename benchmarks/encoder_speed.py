"""MiniLM's three CPU encodings side by side on this machine: fp32, `+int8` and `+bf16`.

    python benchmarks/encoder_speed.py             # 512 real corpus_5k chunks, 3 alternating rounds

Chunks per second (the archive's own `embed`, both cores) on the same real chunk texts as embedded
(headline + chunk), in one process, the encoders alternating over the rounds (median reported), and each
encoding's cosine to fp32's vectors. Which is fastest depends on the CPU: int8 kernels use VNNI where the
CPU has it; bf16 is fast only with native bf16 dot products (AVX512_BF16 or AMX), emulated otherwise.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, md_table, write_section  # noqa: E402
from benchmarks.embedders import sample_arguments, sample_texts  # noqa: E402
from index.embedding import DEFAULT_MODEL, cpu_has_bf16, load_embedder  # noqa: E402

ENCODERS = (DEFAULT_MODEL, DEFAULT_MODEL + "+int8", DEFAULT_MODEL + "+bf16")


def rounds(texts: list[str], count: int) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    models = {name: load_embedder(name, device="cpu") for name in ENCODERS}
    rates: dict[str, list[float]] = {name: [] for name in ENCODERS}
    vectors = {}
    for model in models.values():
        model.embed(texts[:16])  # warm-up
    for _ in range(count):
        for name, model in models.items():
            started = time.perf_counter()
            vectors[name] = model.embed(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    return rates, vectors


def main() -> None:
    args = sample_arguments(__doc__.split("\n")[0])
    texts = sample_texts(args.sample)
    rates, vectors = rounds(texts, args.rounds)
    base = vectors[DEFAULT_MODEL]
    rows = []
    for name in ENCODERS:
        cosine = np.sum(vectors[name] * base, axis=1)
        median = statistics.median(rates[name])
        ratio = median / statistics.median(rates[DEFAULT_MODEL])
        rows.append([f"`{name}`", f"{median:.1f}", f"{ratio:.2f}×", f"{cosine.mean():.5f}", f"{cosine.min():.5f}"])
    table = md_table(["encoder", "chunks/s (median)", "against fp32", "cosine to fp32 (mean)", "min"], rows)
    print(table)
    if not args.no_write:
        body = (
            f"{command_line()} — {len(texts)} real corpus_5k chunks as embedded, {args.rounds} rounds with the "
            f"encoders alternating, one process, torch's default threads. This CPU "
            f"{'has' if cpu_has_bf16() else 'lacks'} native bf16 dot products.\n\n{table}"
        )
        write_section("bf16 MiniLM", body)


if __name__ == "__main__":
    main()
