"""Retrieval quality on real news questions (RealTimeQA): keyword, dense and hybrid, over articles.

    python benchmarks/eval_retrieval.py            # corpus_5k, writes docs/benchmarks.md
    python benchmarks/eval_retrieval.py --full     # the full 26,749-article corpus (hours to embed here)

The archive is built once per chunking/model config under ~/.cache/newsbot-bench and reused, so a
rerun after a ranking change does not re-embed. Every dev question is asked with its quiz date as
`as_of`. Also calibrates the abstention floor on the dev questions (answerable) against
benchmarks/unanswerable_questions.jsonl (questions about things the archive does not hold).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import cached_archive, require_data, write_section  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.search import Filters, Tuning, dense_candidates, fuse, keyword_candidates  # noqa: E402
from index.time_phrases import find_window  # noqa: E402

CUTS = (1, 5, 10, 20)
UNANSWERABLE = Path(__file__).with_name("unanswerable_questions.jsonl")


def as_of(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=23, minute=59, tzinfo=timezone.utc)


def candidates_for(archive: Archive, questions: list[dict], n: int) -> list[dict]:
    """The expensive part once per question: the query vector, dense and keyword candidates."""
    prepared = []
    vectors = archive.embedder.embed([q["question"] for q in questions])
    for q, vector in zip(questions, vectors):
        prepared.append({
            **q,
            "filters": Filters(as_of=as_of(q["asked"])),
            "dense": dense_candidates(archive, vector, n, None),
            "keyword": keyword_candidates(archive, q["question"], n, "", []),
        })
    return prepared


def ranked_ids(archive: Archive, q: dict, tuning: Tuning, use_time: bool) -> list[str]:
    filters = q["filters"] if use_time else Filters()
    window = find_window(q["question"], filters.as_of) if use_time else None
    dense = q["dense"] if tuning.dense_weight else []
    keyword = q["keyword"] if tuning.keyword_weight else []
    results = fuse(archive, dense, keyword, filters, window, tuning)[: max(CUTS)]
    return [_source_id(archive, r.article_id) for r in results]


_SOURCE_IDS: dict[int, str] = {}


def _source_id(archive: Archive, article_id: int) -> str:
    if not _SOURCE_IDS:
        _SOURCE_IDS.update(archive.store.db.execute("SELECT id, source_id FROM articles").fetchall())
    return _SOURCE_IDS[article_id]


def metrics(archive: Archive, prepared: list[dict], tuning: Tuning, use_time: bool) -> dict[str, float]:
    hits = {c: 0 for c in CUTS}
    reciprocal = 0.0
    for q in prepared:
        ranked = ranked_ids(archive, q, tuning, use_time)
        first = next((i for i, a in enumerate(ranked) if a in set(q["relevant"])), None)
        for c in CUTS:
            hits[c] += first is not None and first < c
        reciprocal += 1.0 / (first + 1) if first is not None and first < 10 else 0.0
    n = len(prepared)
    return {**{f"R@{c}": hits[c] / n for c in CUTS}, "MRR@10": reciprocal / n}


VARIANTS = {
    "keyword only (BM25 over chunks + headline)": (Tuning(dense_weight=0.0), False),
    "dense only (MiniLM chunks)": (Tuning(keyword_weight=0.0), False),
    "hybrid (RRF)": (Tuning(), False),
    "keyword only + time": (Tuning(dense_weight=0.0), True),
    "dense only + time": (Tuning(keyword_weight=0.0), True),
    "hybrid + time (newsbot's default)": (Tuning(), True),
}


def table(rows: dict[str, dict[str, float]]) -> str:
    head = "| method | " + " | ".join(f"R@{c}" for c in CUTS) + " | MRR@10 |\n|---|" + "---|" * (len(CUTS) + 1)
    lines = [f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in m) + " |" for name, m in rows.items()]
    return "\n".join([head, *lines])


def abstention(archive: Archive, prepared: list[dict], unanswerable: list[dict]) -> tuple[str, float]:
    """Best-chunk cosine for answerable vs unanswerable questions, and the floor that separates them."""
    answerable = [q["dense"][0][1] for q in prepared if q["dense"]]
    others = [q["dense"][0][1] for q in unanswerable if q["dense"]]
    best = max((t / 100 for t in range(20, 70)), key=lambda t: sum(a >= t for a in answerable) / len(answerable) + sum(o < t for o in others) / len(others))
    kept = sum(a >= best for a in answerable) / len(answerable)
    refused = sum(o < best for o in others) / len(others)
    text = (
        f"Best-chunk cosine, answerable dev questions: median {statistics.median(answerable):.3f}, "
        f"min {min(answerable):.3f}; unanswerable ({len(others)} questions): median {statistics.median(others):.3f}, "
        f"max {max(others):.3f}. Floor {best:.2f} answers {kept:.1%} of the dev questions and abstains on "
        f"{refused:.1%} of the unanswerable ones."
    )
    return text, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="the full corpus instead of corpus_5k")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    corpus = "corpus.jsonl.gz" if args.full else "corpus_5k.jsonl.gz"
    source, dev = require_data(f"realtimeqa/{corpus}", "realtimeqa/dev_questions.jsonl")
    archive = cached_archive(corpus.split(".")[0], [source], ArchiveConfig())
    questions = [json.loads(line) for line in dev.read_text().splitlines() if line.strip()]
    prepared = candidates_for(archive, questions, Tuning().candidates)
    rows = {name: metrics(archive, prepared, tuning, use_time) for name, (tuning, use_time) in VARIANTS.items()}
    unanswerable = candidates_for(archive, [json.loads(l) | {"relevant": []} for l in UNANSWERABLE.read_text().splitlines()], 20)
    abstain_text, floor = abstention(archive, prepared, unanswerable)
    report = table(rows)
    print(report, "\n", abstain_text, sep="\n")
    if not args.no_write:
        stats = archive.stats()
        write_section(
            f"Retrieval quality: RealTimeQA {corpus.split('.')[0]}",
            f"`python benchmarks/eval_retrieval.py{' --full' if args.full else ''}` — {len(questions)} dev questions, "
            f"each asked with its quiz date as `as_of`; {stats['articles']:,} articles, {stats['chunks']:,} chunks; "
            f"hits counted over articles.\n\n{report}\n\nPlain BM25 over whole articles (the data's README): "
            f"R@10 .855, MRR@10 .648.\n\n**Abstention.** {abstain_text}",
        )


if __name__ == "__main__":
    main()
