"""Keyword stage at scale: what capping its terms costs in quality and saves in time.

    python benchmarks/keyword_budget.py      # corpus_5k and the full corpus, both with real vectors

Uncapped: the question's 8 rarest terms. A share cap: terms in more than 5% of the chunks (never fewer
than 10,000) dropped. A postings bound (newsbot's default): terms taken rarest first while their chunk
matches stay within 60,000. Quality is eval_retrieval's on the 109 dev questions, over the cached int8
MiniLM archives (corpus_5k's latency copy and the full-corpus cache): text, keyword ranking and vectors
all real.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import index.search.keywords as keywords  # noqa: E402
from benchmarks import eval_retrieval as ev  # noqa: E402
from benchmarks import filler  # noqa: E402
from benchmarks.common import (  # noqa: E402
    COMMON_WORD_QUESTIONS,
    command_line,
    dev_questions,
    md_table,
    require_data,
    write_section,
)
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.search import Tuning, dense_candidates, keyword_candidates  # noqa: E402
from index.search.time_phrases import find_window  # noqa: E402

SOURCES = {"corpus_5k": "realtimeqa/corpus_5k.jsonl.gz", "full": "realtimeqa/corpus.jsonl.gz"}
VARIANTS = {
    "uncapped (8 rarest terms)": (10**12, 1.0),
    "5% share cap and 60,000 postings (newsbot before 2026-12-02)": (60_000, 0.05),
    "5% share cap, no postings bound": (10**12, 0.05),
    "60,000 postings (newsbot)": (keywords.MAX_POSTINGS, keywords.COMMON_SHARE),
}


def prepared_questions(archive: Archive, source: Path) -> list[dict]:
    ids = ev.stored_ids(archive, source)
    questions = dev_questions()
    vectors = archive.embedder.embed([q["question"] for q in questions])
    for q, vector in zip(questions, vectors):
        q.update(
            relevant_ids={ids[r] for r in q["relevant"] if r in ids},
            vector=vector,
            filters=(filters := ev.Filters(as_of=ev.as_of(q["asked"]))),
            window=find_window(q["question"], filters.as_of),
            dense=dense_candidates(archive, vector, 200, None),
        )
    return questions


def keyword_ms(archive: Archive, questions: list[str]) -> tuple[list, list[float]]:
    found, times = [], []
    for q in questions:
        started = time.perf_counter()
        found.append(keyword_candidates(archive, q, 200))
        times.append((time.perf_counter() - started) * 1000)
    return found, times


def measure(size: str, folder: Path) -> list[list]:
    archive = Archive(folder, ArchiveConfig())
    (source,) = require_data(SOURCES[size])
    questions = prepared_questions(archive, source)
    rows = []
    for name, (postings, share) in VARIANTS.items():
        keywords.rarest_terms.__defaults__ = (keywords.MAX_TERMS, postings, share)
        keywords._COUNTS.clear()
        keyword_ms(archive, COMMON_WORD_QUESTIONS)  # document counts cached, as in a running bot
        found, times = keyword_ms(archive, [q["question"] for q in questions])
        _, long_times = keyword_ms(archive, COMMON_WORD_QUESTIONS)
        for q, k in zip(questions, found):
            q["keyword"] = k
        kw = ev.metrics(archive, prepared := questions, Tuning(dense_weight=0.0), False)
        hybrid = ev.metrics(archive, prepared, Tuning(), True)
        rows.append(
            [
                size,
                f"{archive.store.count('chunks'):,}",
                name,
                f"{kw['R@10']:.3f}",
                f"{kw['MRR@10']:.3f}",
                f"{hybrid['R@10']:.3f}",
                f"{hybrid['MRR@10']:.3f}",
                f"{statistics.median(times):.1f}",
                f"{max(times):.1f}",
                f"{max(long_times):.1f}",
            ]
        )
    archive.close()
    return rows


def main() -> None:
    if not (filler.REAL_FULL / "complete").exists():
        raise SystemExit(f"the full-corpus cache {filler.REAL_FULL} is not built: benchmarks/eval_retrieval.py --full")
    folders = {"corpus_5k": filler.corpus_5k(), "full": filler.REAL_FULL}
    rows = [row for size, folder in folders.items() for row in measure(size, folder)]
    table = md_table(
        [
            "archive",
            "chunks",
            "keyword terms",
            "keyword R@10",
            "MRR@10",
            "hybrid + time R@10",
            "MRR@10",
            "keyword ms p50 (dev)",
            "max (dev)",
            "max (long common-word)",
        ],
        rows,
    )
    print(table)
    if "--no-write" not in sys.argv:
        write_section(
            "Keyword stage: capping common terms",
            f"{command_line()} — {__doc__.split(chr(10) + chr(10))[2].strip()}\n\n{table}",
        )


if __name__ == "__main__":
    main()
