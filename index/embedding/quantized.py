"""int8 dynamic quantization of a sentence-transformers model (`MODEL+int8`), for a faster CPU encoder.

Which Linear layers are quantized, and how, decides whether the vectors stay those of the fp32
model: benchmarks/quantization.py measures each choice (docs/benchmarks.md)."""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

from index.embedding.base import BATCH_SIZE, ModelError
from index.embedding.sentence_transformers import SentenceTransformerEmbedder, load_sentence_transformer

QUANTIZED_SUFFIX = "+int8"
# a BERT layer's Linear layers by role, named relative to `encoder.layer.N.`
LAYER_GROUPS: dict[str, tuple[str, ...]] = {
    "qkv": ("attention.self.query", "attention.self.key", "attention.self.value"),
    "attn_out": ("attention.output.dense",),
    "ffn_in": ("intermediate.dense",),
    "ffn_out": ("output.dense",),
    "pooler": ("pooler.dense",),
}
# The shipped recipe (benchmarks/quantization.py, docs/benchmarks.md): every Linear layer, weights
# scaled per output channel, activations with all 8 bits. Per-tensor weight scales were most of the
# earlier drift (mean cosine to fp32 0.938 → 0.982 per channel); 7-bit activations most of the rest
# (→ 0.994 with 8 bits), spread over the FFN layers, whose inputs have the widest ranges.
SHIPPED_GROUPS = tuple(LAYER_GROUPS)
SHIPPED_PER_CHANNEL = True
SHIPPED_EIGHT_BIT = True
LAYER = re.compile(r"(?:^|\.)layer\.\d+\.(.+)$")


def is_quantized(name: str) -> bool:
    return name.endswith(QUANTIZED_SUFFIX)


def transformer_of(model: Any) -> Any:
    """The Hugging Face model inside a sentence-transformers model (its first module)."""
    first = model[0]
    return first.model if hasattr(first, "model") else first.auto_model  # sentence-transformers ≥ 6 / older


def role(name: str) -> str:
    """`encoder.layer.3.output.dense` → `output.dense`; names outside the layers are kept whole."""
    found = LAYER.search(name)
    return found.group(1) if found else name


def linear_names(model: Any, groups: tuple[str, ...]) -> list[str]:
    """Names (inside the Hugging Face model) of the Linear layers in `groups`."""
    import torch

    wanted = {r for g in groups for r in LAYER_GROUPS[g]}
    return [
        name
        for name, module in transformer_of(model).named_modules()
        if isinstance(module, torch.nn.Linear) and role(name) in wanted
    ]


def full_range(module: Any) -> Any:
    """A dynamic int8 Linear whose activations use all 8 bits: torch's x86 default keeps 7
    (`reduce_range`), so that AVX2's 16-bit sums of two u8·s8 products cannot overflow."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear

    class FullRangeLinear(Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=False)
            return y.to(x.dtype)  # type: ignore[no-any-return]  # torch.ops are untyped

    module.__class__ = FullRangeLinear
    return module


def quantize_linear_layers(model: Any, groups: tuple[str, ...], per_channel: bool, eight_bit: bool = False) -> Any:
    """A copy of `model` whose Linear layers in `groups` are int8 (dynamic activations, 7 bits unless `eight_bit`)."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    quantized = copy.deepcopy(model)
    first = quantized[0]
    attribute = "model" if hasattr(first, "model") else "auto_model"
    spec = {name: qconfig for name in linear_names(model, groups)}
    with warnings.catch_warnings():  # the pinned torch's notices that torch.ao moves to torchao, on every load
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel")
        inner = quantize_dynamic(getattr(first, attribute), spec, dtype=torch.qint8)  # type: ignore[no-untyped-call]  # torch leaves it untyped
    setattr(first, attribute, inner)
    if eight_bit:
        for name in spec:
            full_range(transformer_of(quantized).get_submodule(name))
    return quantized


class QuantizedEmbedder(SentenceTransformerEmbedder):
    """`MODEL+int8`: the model with its chosen Linear layers int8; CPU only (the int8 kernels are)."""

    def __init__(self, name: str, batch_size: int = BATCH_SIZE) -> None:
        base = name.removesuffix(QUANTIZED_SUFFIX)
        if not base:
            raise ModelError(f"{name!r} names no model to quantize")
        model = load_sentence_transformer(base, device="cpu")
        quantized = quantize_linear_layers(model, SHIPPED_GROUPS, SHIPPED_PER_CHANNEL, SHIPPED_EIGHT_BIT)
        super().__init__(name, batch_size, model=quantized)
