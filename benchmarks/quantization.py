"""Why int8 MiniLM drifted from fp32 (mean cosine 0.93), and which quantization keeps it: one run.

    python benchmarks/quantization.py               # ~10 min here: writes docs/benchmarks.md
    python benchmarks/quantization.py --sample 128 --no-write

Every variant embeds the same real chunk texts (corpus_5k articles chunked as the archive chunks
them, headline + chunk); the figure is the mean (and 1st percentile) cosine of its vector to fp32
MiniLM's vector of the same text, and its chunks/s measured in this one process (ratios to fp32).
Variants isolate the causes: which Linear layers are quantized (attention Q/K/V, attention output,
FFN in, FFN out, the unused pooler), per-tensor against per-channel weight scales, and weight
rounding alone (weights quantized and dequantized, fp32 arithmetic) against the dynamic
quantization of the activations as well. The word-embedding table is no Linear layer, so
`quantize_dynamic(..., {nn.Linear})` never touches it; a variant quantizes it (weight round trip)
to show what it would cost.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, md_table, require_data, write_section  # noqa: E402
from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from index.embedding.quantized import LAYER_GROUPS, quantize_linear_layers, transformer_of  # noqa: E402
from index.ingest.chunking import chunk_text, embedding_text  # noqa: E402

SAMPLE = 384


def chunk_texts(n: int, per_article: int = 2) -> list[str]:
    """Up to `per_article` chunks of every k-th corpus_5k article, as the archive embeds them."""
    (source,) = require_data("realtimeqa/corpus_5k.jsonl.gz")
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    with gzip.open(source, "rt") as f:
        articles = [json.loads(line) for line in f][::7]
    texts: list[str] = []
    for article in articles:
        for chunk in chunk_text(article["text"], article.get("title"), embedder)[:per_article]:
            texts.append(embedding_text(article.get("title"), chunk.text))
        if len(texts) >= n:
            break
    return texts[:n]


def weight_round_trip(model, groups: tuple[str, ...], per_channel: bool, embeddings: bool = False):
    """fp32 arithmetic with int8-rounded weights: the weight error alone, no activation error."""
    import torch

    rounded = copy.deepcopy(model)
    for name, module in transformer_of(rounded).named_modules():
        is_target = isinstance(module, torch.nn.Linear) and any(name.endswith(g) for g in groups)
        if is_target or (embeddings and name.endswith("word_embeddings")):
            module.weight.data = _round_trip(module.weight.data, per_channel)
    return rounded


def _round_trip(weight, per_channel: bool):
    import torch

    dims = (1,) if per_channel else (0, 1)
    scale = weight.abs().amax(dim=dims, keepdim=True).clamp(min=1e-12) / 127
    return torch.clamp(torch.round(weight / scale), -127, 127) * scale


def encoder_for(model, batch: int) -> Callable[[list[str]], np.ndarray]:
    return lambda texts: model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)


def rate_and_vectors(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, float, np.ndarray]:
    """Chunks per wall second and per CPU second (this process's threads: robust to other load), vectors."""
    encode(texts[:8])
    started, cpu = time.perf_counter(), time.process_time()
    vectors = encode(texts)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return len(texts) / wall, len(texts) / used, np.asarray(vectors)


def variants(model) -> list[tuple[str, object, bool]]:
    """(description, model, timed?) — weight-only round trips are not timed (fp32 arithmetic)."""
    every = tuple(LAYER_GROUPS)
    found: list[tuple[str, object, bool]] = [("fp32 (reference)", model, True)]
    found.append(
        ("all Linear, per-tensor weights (the earlier attempt)", quantize_linear_layers(model, every, False), True)
    )
    found.append(("all Linear, per-channel weights", quantize_linear_layers(model, every, True), True))
    found.append(
        (
            "all Linear, per-channel weights, 8-bit activations (shipped `+int8`)",
            quantize_linear_layers(model, every, True, True),
            True,
        )
    )
    found.append(
        ("all Linear, per-tensor weights, 8-bit activations", quantize_linear_layers(model, every, False, True), True)
    )
    for group in LAYER_GROUPS:
        found.append((f"only {group}, per-channel", quantize_linear_layers(model, (group,), True), True))
    for group in ("ffn_out", "ffn_in"):
        rest = tuple(g for g in every if g != group)
        found.append((f"all but {group}, per-channel", quantize_linear_layers(model, rest, True), True))
    found.append(
        (
            "weights only, all Linear, per-tensor (fp32 arithmetic)",
            weight_round_trip(model, _names(every), False),
            False,
        )
    )
    found.append(
        (
            "weights only, all Linear, per-channel (fp32 arithmetic)",
            weight_round_trip(model, _names(every), True),
            False,
        )
    )
    found.append(
        (
            "weights only, word embeddings, per-channel (fp32 arithmetic)",
            weight_round_trip(model, (), True, embeddings=True),
            False,
        )
    )
    return found


def _names(groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(suffix for g in groups for suffix in LAYER_GROUPS[g])


def measure(texts: list[str], batch: int) -> list[list[str]]:
    import torch

    torch.set_num_threads(2)
    model = SentenceTransformerEmbedder(DEFAULT_MODEL).model
    rows, base, base_rate = [], None, 0.0
    for name, variant, timed in variants(model):
        rate, cpu_rate, vectors = rate_and_vectors(encoder_for(variant, batch), texts)
        base, base_rate = (vectors, cpu_rate) if base is None else (base, base_rate)
        cosines = np.sum(vectors * base, axis=1)
        speed = [f"{rate:.1f}", f"{cpu_rate:.1f}", f"{cpu_rate / base_rate:.2f}×"] if timed else ["—"] * 3
        rows.append([name, f"{cosines.mean():.4f}", f"{np.percentile(cosines, 1):.4f}", *speed])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=SAMPLE)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    texts = chunk_texts(args.sample)
    rows = measure(texts, args.batch)
    table = md_table(
        [
            "variant",
            "mean cosine to fp32",
            "1st percentile",
            "chunks/s (wall)",
            "chunks per CPU-second",
            "× fp32 (CPU)",
        ],
        rows,
    )
    if not args.no_write:
        write_section(
            "int8 MiniLM: where the error comes from",
            f"{command_line()} — {len(texts)} real corpus_5k chunk texts (headline + chunk), batch {args.batch}, "
            f"2 threads, all variants in one process on the 2-core machine while other jobs shared it (load "
            f"{os.getloadavg()[0]:.0f}): wall rates are what this process got; chunks per CPU-second (its own "
            f"threads' CPU time) is the comparable figure, and its ratio the speed-up. Dynamic quantization (`torch.ao.quantization.quantize_dynamic`, x86 engine): int8 weights, "
            f"activations quantized per batch (per tensor, 7 bits on this AVX2 CPU).\n\n{table}\n",
        )


if __name__ == "__main__":
    main()
