"""What the benchmarks share: where the data is, cached archives, and writing figures to docs."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import date
from pathlib import Path

from index.archive import Archive, ArchiveConfig
from index.embedding import AUTO_MODEL, resolve_model

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEWSBOT_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("NEWSBOT_BENCH_CACHE", Path.home() / ".cache" / "newsbot-bench"))
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
# The benchmarks measure what a new archive runs: `auto`, int8 MiniLM (DEFAULT_ENCODER). Until
# 2026-12-02 corpus_5k was cached with fp32 MiniLM, and figures of that date or earlier are fp32's.
BENCH_MODEL = AUTO_MODEL


def require_data(*relative: str) -> list[Path]:
    paths = [SHARED_DATA / r for r in relative]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"benchmark data not found: {', '.join(missing)} (set NEWSBOT_SHARED_DATA)")
    return paths


def config_key(config: ArchiveConfig) -> str:
    """The cache key of a config: `auto` counts as the encoder it gives a new archive."""
    model = resolve_model(config.model, None, config.embedding_device)
    blob = json.dumps([model, config.chunk_tokens, config.overlap_tokens], sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:10]


def cached_archive(
    name: str, sources: list[Path], config: ArchiveConfig, progress: bool = True, embedder=None
) -> Archive:
    """An archive of `sources`, built once per chunking/model config and reused afterwards.

    A rerun after a ranking change does not re-embed; an interrupted build resumes (ingest is
    idempotent and embeds only what the index lacks)."""
    from index.ingest.readers import read_path

    folder = CACHE / f"{name}-{config_key(config)}"
    archive = Archive(folder, config, embedder=embedder)  # an embedder not loadable by name (benchmarks/embedders.py)
    done = folder / "complete"
    if not done.exists():
        builder = archive if embedder is not None else Archive(folder, config, embedder=VectorMemo(archive.embedder))
        for source in sources:
            builder.ingest(read_path(source), progress=progress)
        done.write_text(json.dumps({"sources": [str(s) for s in sources]}))
    return archive


def memo_path(model: str) -> Path:
    (CACHE / "vector-memo").mkdir(parents=True, exist_ok=True)
    return CACHE / "vector-memo" / f"{hashlib.sha1(model.encode()).hexdigest()[:10]}.db"


class VectorMemo:
    """An embedder that remembers every passage vector it made, by model and text, across archives.

    corpus_5k and the subsets hold articles of the full corpus, chunked the same way, so a cache built
    after another reuses its vectors instead of re-embedding for tens of minutes. The vectors are the
    model's own: int8's dynamic quantization scales each batch, so they differ from a fresh build's by
    what other batch mates change (256 corpus_5k chunks embedded in two orders: cosine mean 0.99997,
    min 0.9957)."""

    def __init__(self, inner) -> None:
        import sqlite3

        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.relevance_floor = inner.relevance_floor
        self.db = sqlite3.connect(memo_path(inner.name), check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS memo (key BLOB PRIMARY KEY, vector BLOB)")

    def token_spans(self, texts):
        return self.inner.token_spans(texts)

    def embed_queries(self, texts):
        from index.embedding.base import embed_queries

        return embed_queries(self.inner, texts)

    def embed(self, texts, progress: bool = False):
        import numpy as np

        keys = [hashlib.sha1(text.encode()).digest() for text in texts]
        known = dict(self._known(keys))
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            made = self.inner.embed([texts[i] for i in missing], progress=progress)
            rows = [(keys[i], vector.astype(np.float32).tobytes()) for i, vector in zip(missing, made)]
            self.db.executemany("INSERT OR REPLACE INTO memo VALUES (?, ?)", rows)
            self.db.commit()
            known.update(rows)
        return (
            np.stack([np.frombuffer(known[key], dtype=np.float32) for key in keys])
            if keys
            else np.zeros((0, self.dimension), dtype=np.float32)
        )

    def _known(self, keys):
        return _stored(self.db, keys)


def _stored(db, keys: list[bytes]):
    """(key, vector bytes) of the keys the memo holds."""
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        yield from db.execute(f"SELECT key, vector FROM memo WHERE key IN ({','.join('?' * len(part))})", part)


def remembered(model: str, texts: list[str]) -> dict:
    """The memo's vector of each of these texts that has one, read without loading the model."""
    import sqlite3

    import numpy as np

    keys = {hashlib.sha1(text.encode()).digest(): text for text in texts}
    db = sqlite3.connect(memo_path(model))
    try:
        return {keys[key]: np.frombuffer(blob, dtype=np.float32) for key, blob in _stored(db, list(keys))}
    finally:
        db.close()


def write_section(title: str, body: str) -> None:
    """Replaces (or appends) one `## title` section of docs/benchmarks.md."""
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = (
        BENCHMARKS_MD.read_text()
        if BENCHMARKS_MD.exists()
        else "# Benchmarks\n\nEvery figure here was measured on the project's 2-core, no-GPU machine, with the command shown.\n"
    )
    section = f"## {title}\n\n_Measured {date.today().isoformat()}._\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def dev_questions() -> list[dict]:
    (path,) = require_data("realtimeqa/dev_questions.jsonl")
    return read_jsonl(path)


UNANSWERABLE = Path(__file__).with_name("unanswerable_questions.jsonl")


def held_by(archive: Archive, question: dict) -> bool:
    """Whether `archive` holds a `found_in` article of a question of the unanswerable set. The set was
    written against corpus_5k; the full corpus reports some of those events, and each such article was
    read and its answer (`answers`) checked by hand. There the question is answerable."""
    return any(archive.store.find_by_key_or_url(url, url) for url in question.get("found_in", []))


def labelled_questions(archive: Archive) -> list[tuple[dict, bool]]:
    """Every benchmark question with whether `archive` answers it, in one order at every size: the
    dev questions, then the unanswerable set (answerable where the archive holds it: `held_by`)."""
    return [(q, True) for q in dev_questions()] + [(q, held_by(archive, q)) for q in read_jsonl(UNANSWERABLE)]


def question_sets(archive: Archive) -> tuple[list[dict], list[dict]]:
    """The questions `archive` answers (the dev questions, then those of the unanswerable set it
    holds) and those it cannot (the rest of the set)."""
    labelled = labelled_questions(archive)
    return [q for q, answers in labelled if answers], [q for q, answers in labelled if not answers]


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 of `values` (linear interpolation), plus the count they were taken over."""
    import numpy as np

    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "n": len(values)}


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    """The command that ran this benchmark, as quoted in docs/benchmarks.md."""
    import sys

    return "`python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO)), *sys.argv[1:]]) + "`"


def dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())


# Worst cases for the keyword stage: long questions made of words most chunks contain.
COMMON_WORD_QUESTIONS = [
    "What did the government and the president say about the people of the country and the state of the "
    "economy this year, and what are officials going to do next to help families and businesses?",
    "Which company reported that its business grew and its market share rose in the first quarter while "
    "prices and costs increased for people across the United States and the world?",
    "What happened when police and officials said that a man was killed and several people were injured "
    "in the city on Tuesday, according to a statement from the department?",
    "Why did the court say the law that the state government passed last year will not take effect, and "
    "what did the public and the company officials say about the case and the decision?",
    "How many people in the world have been affected by the virus, and what have health officials and "
    "the government said about the number of new cases, deaths and the vaccine?",
    "Who is the new leader of the party after the election, and what did he tell reporters about the "
    "time he will need to form a government and work with other members of parliament?",
    "What did the team and its players say after the game on Sunday night, and when will the season "
    "start again for the league and the fans who want to see their first home match?",
    "Where will the president meet other world leaders next month to talk about the war, the economy, "
    "energy prices, climate change and security in the region, according to officials?",
    "What did the report from the federal agency show about the number of jobs, wages and prices for "
    "American workers and families in the months since the start of the year?",
    "When did the company say it would begin to offer the new service to customers in the country, and "
    "how much will people have to pay each month for it according to the statement?",
]


def questions_with_worst_cases() -> list[dict]:
    """The dev questions, the unanswerable ones and the long common-word ones, each tagged by set."""
    unanswerable = read_jsonl(UNANSWERABLE)
    long = [{"question": q, "asked": "2022-06-30"} for q in COMMON_WORD_QUESTIONS]
    return (
        [{**q, "set": "dev"} for q in dev_questions()]
        + [{**q, "set": "unanswerable"} for q in unanswerable]
        + [{**q, "set": "long common words"} for q in long]
    )


class StageClock:
    """Wraps functions and methods so each call's milliseconds add up under a stage name.

    `targets` maps a stage name to "module:attribute" or "module:Class.method"; the wrapper replaces
    the attribute where callers look it up, so the real code path is what gets timed."""

    def __init__(self, targets: dict[str, str]) -> None:
        import importlib
        from collections import defaultdict

        self._fresh = lambda: defaultdict(float)
        self.current = self._fresh()
        for stage, target in targets.items():
            module_name, _, attribute = target.partition(":")
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            if hasattr(owner, name):  # a stage the code no longer has is simply not timed
                setattr(owner, name, self._timed(stage, getattr(owner, name)))

    def _timed(self, stage: str, fn):
        import functools
        import time

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[stage] += (time.perf_counter() - started) * 1000

        return wrapper

    def take(self) -> dict[str, float]:
        taken, self.current = dict(self.current), self._fresh()
        return taken
