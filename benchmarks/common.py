"""What the benchmarks share: where the data is, cached archives, and writing figures to docs."""
from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import date
from pathlib import Path

from index.archive import Archive, ArchiveConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEWSBOT_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("NEWSBOT_BENCH_CACHE", Path.home() / ".cache" / "newsbot-bench"))
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"


def require_data(*relative: str) -> list[Path]:
    paths = [SHARED_DATA / r for r in relative]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"benchmark data not found: {', '.join(missing)} (set NEWSBOT_SHARED_DATA)")
    return paths


def config_key(config: ArchiveConfig) -> str:
    blob = json.dumps(
        [config.model, config.chunk_tokens, config.overlap_tokens], sort_keys=True
    ).encode()
    return hashlib.sha1(blob).hexdigest()[:10]


def cached_archive(name: str, sources: list[Path], config: ArchiveConfig, progress: bool = True) -> Archive:
    """An archive of `sources`, built once per chunking/model config and reused afterwards.

    A rerun after a ranking change does not re-embed; an interrupted build resumes (ingest is
    idempotent and embeds only what the index lacks)."""
    from index.readers import read_path

    folder = CACHE / f"{name}-{config_key(config)}"
    archive = Archive(folder, config)
    done = folder / "complete"
    if not done.exists():
        for source in sources:
            archive.ingest(read_path(source), progress=progress)
        done.write_text(json.dumps({"sources": [str(s) for s in sources]}))
    return archive


def write_section(title: str, body: str) -> None:
    """Replaces (or appends) one `## title` section of docs/benchmarks.md."""
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n\nEvery figure here was measured on the project's 2-core, no-GPU machine, with the command shown.\n"
    section = f"## {title}\n\n_Measured {date.today().isoformat()}._\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text)
