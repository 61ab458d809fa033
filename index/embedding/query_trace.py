"""One question through a TorchScript trace of a sentence-transformers model: what `search` embeds.

Embedding a short question in eager PyTorch is mostly Python (module calls, hooks, mask checks): int8
MiniLM takes ~3.2 ms for a question here, about half of it outside the kernels. A trace runs the same
kernels from C++, and releases the GIL while it runs, so the keyword query that `search` runs beside the
embedding no longer holds it up (docs/benchmarks.md, "Search against the bare query embedding").

The trace is of one unpadded text: its mask is all ones, which the model's attention skips, so a padded
batch would need another trace and goes the eager way. It is used only once it gave the eager model's
vectors for probe questions of two lengths; a model it does not fit keeps the eager way."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from index.embedding.base import Vectors

PROBES = (
    "Who won the election?",
    "What did the central bank say about interest rates, inflation and the jobs market in its statement this week?",
)
TOLERANCE = 1e-5  # largest difference from the eager vector allowed, per dimension (int8 and fp32 give 0)


class QueryTrace:
    """The traced model for single questions, built on first use; `embed` is None where it cannot serve."""

    def __init__(self, model: Any, eager: Callable[[list[str]], Vectors]) -> None:
        self.model = model
        self.eager = eager
        self.inputs: tuple[str, ...] = ()
        self.traced: Any = None
        self.failed = False
        self._lock = threading.Lock()

    def embed(self, text: str) -> Vectors | None:
        """The question's vector (one row), or None where the trace does not serve this model."""
        if self.traced is None and not self._build():
            return None
        features = self.model.preprocess([text])
        if tensor_keys(features) != self.inputs:
            return None
        return self._run(self.traced, features)

    def _run(self, traced: Any, features: dict[str, Any]) -> Vectors:
        import torch

        tensors = [features[k].to(self.model.device) for k in self.inputs]
        with torch.inference_mode():
            vectors = traced(*tensors)
        return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def _build(self) -> bool:
        with self._lock:
            if self.traced is None and not self.failed:
                try:
                    self.traced = self._checked(self._trace())
                except Exception:  # whatever the tracer cannot follow, the eager model still can
                    self.traced = None
                self.failed = self.traced is None
        return self.traced is not None

    def _trace(self) -> Any:
        import torch

        features = self.model.preprocess([PROBES[0]])
        self.inputs = tensor_keys(features)
        whole = _whole(self.model, self.inputs).eval()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings: Python branches the trace fixes, checked below
            example = tuple(features[k].to(self.model.device) for k in self.inputs)
            return torch.jit.trace(whole, example, check_trace=False)  # type: ignore[no-untyped-call]  # untyped in torch

    def _checked(self, traced: Any) -> Any:
        """The trace, if it gives the eager vectors for every probe (twice: the first runs are profiled)."""
        for text in PROBES * 2:
            if np.abs(self._run(traced, self.model.preprocess([text])) - self.eager([text])).max() > TOLERANCE:
                return None
        return traced


def tensor_keys(features: dict[str, Any]) -> tuple[str, ...]:
    """The model inputs that are tensors (preprocess also gives a "modality" string), in a fixed order."""
    return tuple(sorted(k for k, v in features.items() if hasattr(v, "shape")))


def _whole(model: Any, inputs: tuple[str, ...]) -> Any:
    """The model as one module of positional tensors (a class made here, where torch is imported)."""
    import torch

    class Whole(torch.nn.Module):
        """The model's modules as one call of positional tensors, normalised as `embed_queries` is."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            embedding = self.model(dict(zip(inputs, tensors)))["sentence_embedding"]
            return torch.nn.functional.normalize(embedding, p=2, dim=1)

    return Whole()
