"""BM25 outside FTS5: the in-memory keyword index (index/store/postings.py) against FTS5's keyword
stage on the same archive and the same query terms.

    python benchmarks/keyword_engine.py                        # corpus_5k and the full corpus
    python benchmarks/keyword_engine.py --sizes corpus_5k --no-write

The keyword stage is most of a search at full size (docs/benchmarks.md, "Query latency by archive
size"): FTS5 spends ~1.7 µs per matching chunk in bm25(). Here the same query terms (the question's
rarest terms, chosen from FTS5's document counts as `keyword_query` chooses them) are scored from numpy
arrays built from the chunks' texts (index/store/postings.py: unicode61's tokens, Porter stems,
headline tokens weighted as the search weights them, BM25 with FTS5's k1, b and idf). Reported: build time and memory, per-query time against FTS5's in the same
process, how far the top 10 agree with FTS5's, and keyword-only and hybrid retrieval with each ranking.
The sizes: corpus_5k (the cached int8 MiniLM archive, a private copy) and the full corpus (the cached
int8 MiniLM archive, real vectors). Also the cost of saving the index: whole, and a sync's save.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import eval_retrieval as ev  # noqa: E402
from benchmarks import filler  # noqa: E402
from benchmarks.common import (  # noqa: E402
    CACHE,
    command_line,
    config_key,
    dir_bytes,
    md_table,
    require_data,
    write_section,
)
from benchmarks.keyword_budget import prepared_questions  # noqa: E402
from index.archive import Archive, ArchiveConfig  # noqa: E402
from index.search import Tuning  # noqa: E402
from index.search.keywords import index_terms, keyword_query  # noqa: E402
from index.store.lookups import NO_FILTER  # noqa: E402
from index.store.postings import TITLE_WEIGHT, Postings  # noqa: E402

SIZES = {
    "corpus_5k": ("realtimeqa/corpus_5k.jsonl.gz", lambda: filler.corpus_5k()),
    "full": ("realtimeqa/corpus.jsonl.gz", lambda: CACHE / f"corpus-{config_key(ArchiveConfig())}"),  # real vectors
}
SYNC_CHUNKS = 100  # what a feed's sync adds to the index, for its save's cost


def built(rows: list[tuple[int, str | None, str]]) -> Postings:
    postings = Postings.empty()
    postings.add(rows)
    return postings


def size_of(postings: Postings) -> tuple[int, int]:
    """Postings held, and bytes of the arrays."""
    state = postings.state
    arrays = [a for s in state.segments for a in (s.offsets, s.ids, s.freqs)] + [state.lengths, state.live]
    return sum(len(s.ids) for s in state.segments), sum(a.nbytes for a in arrays)


def timed(fn, *args) -> tuple[object, float]:
    started = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - started) * 1000


def rankings(archive: Archive, postings: Postings, questions: list[dict]) -> tuple[list, list, list, list]:
    """Each question's FTS5 and in-memory keyword rankings (top 200) and their times in ms."""
    fts, mem, fts_ms, mem_ms = [], [], [], []
    for q in questions:
        terms = index_terms(archive.store.lookups, q["question"])
        expression = keyword_query(archive.store.lookups, q["question"])  # FTS5 itself, whatever the archive holds
        found, ms = timed(archive.store.lookups.keyword_matches, expression, 200, TITLE_WEIGHT, NO_FILTER)
        fts.append(found)
        fts_ms.append(ms)
        found, ms = timed(postings.score, terms, 200)
        mem.append(found)
        mem_ms.append(ms)
    return fts, mem, fts_ms, mem_ms


def save_costs(postings: Postings, rows: list[tuple[int, str | None, str]]) -> tuple[float, int, float, int, float]:
    """ms and bytes of the first save (every segment: what each sync wrote while the index was one file)
    and of a later sync's save after SYNC_CHUNKS more chunks (its new segment and the segment list), and
    the ms to read the saved index back (what a process pays at its first search)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, whole_ms = timed(postings.save, folder / "index.npz")
        whole = dir_bytes(folder)
        _, load_ms = timed(Postings.load, folder / "index.npz")
        before = {p.name: p.stat().st_ino for p in folder.iterdir()}
        top = int(postings.chunk_ids()[-1])
        postings.add([(top + 1 + n, title, text) for n, (_, title, text) in enumerate(rows[:SYNC_CHUNKS])])
        _, sync_ms = timed(postings.save, folder / "index.npz")
        written = sum(p.stat().st_size for p in folder.iterdir() if before.get(p.name) != p.stat().st_ino)
    return whole_ms, whole, sync_ms, written, load_ms


def top10_overlap(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> float:
    left, right = {c for c, _ in a[:10]}, {c for c, _ in b[:10]}
    return len(left & right) / max(1, len(left | right))


def quality(archive: Archive, questions: list[dict], ranking: list) -> tuple[dict, dict]:
    for q, found in zip(questions, ranking):
        q["keyword"] = found
        q.pop("tables", None)
    return ev.metrics(archive, questions, Tuning(dense_weight=0.0), False), ev.metrics(
        archive, questions, Tuning(), True
    )


def measure(size: str) -> list[object]:
    source, folder = SIZES[size]
    archive = Archive(folder())
    (corpus,) = require_data(source)
    rows = archive.store.db.execute("SELECT rowid, title, text FROM chunks_fts").fetchall()
    postings, build_ms = timed(built, rows)
    count, nbytes = size_of(postings)
    questions = prepared_questions(archive, corpus)
    fts, mem, fts_ms, mem_ms = rankings(archive, postings, questions)
    (fts_kw, fts_hy), (mem_kw, mem_hy) = quality(archive, questions, fts), quality(archive, questions, mem)
    overlap = statistics.mean(top10_overlap(a, b) for a, b in zip(fts, mem))
    whole_ms, whole, sync_ms, written, load_ms = save_costs(postings, rows)
    return [
        size,
        f"{len(rows):,}",
        f"{count:,}",
        f"{nbytes / 2**20:,.0f}",
        f"{build_ms / 1000:,.0f}",
        f"{statistics.median(fts_ms):.1f}",
        f"{statistics.median(mem_ms):.2f}",
        f"{statistics.median(fts_ms) / statistics.median(mem_ms):.0f}×",
        f"{overlap:.3f}",
        f"{fts_kw['R@10']:.3f} / {mem_kw['R@10']:.3f}",
        f"{fts_kw['MRR@10']:.3f} / {mem_kw['MRR@10']:.3f}",
        f"{fts_hy['R@10']:.3f} / {mem_hy['R@10']:.3f}",
        f"{fts_hy['MRR@10']:.3f} / {mem_hy['MRR@10']:.3f}",
        f"{whole / 2**20:,.0f} MB, {whole_ms:,.0f} ms",
        f"{written / 2**10:,.0f} KB, {sync_ms:,.0f} ms",
        f"{load_ms:,.0f}",
    ]


HEADERS = [
    "archive",
    "chunks",
    "postings",
    "MiB",
    "build s (Python)",
    "FTS5 keyword p50 ms",
    "in-memory p50 ms",
    "speed-up",
    "top-10 agreement (Jaccard)",
    "keyword R@10 FTS5 / memory",
    "keyword MRR@10",
    "hybrid + time R@10",
    "hybrid + time MRR@10",
    "save, every segment (a sync's, when the index was one file)",
    f"a sync's save now ({SYNC_CHUNKS} chunks added)",
    "load ms (first search)",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for size in args.sizes.split(","):
        rows.append(measure(size))
        print(" | ".join(map(str, rows[-1])), flush=True)
    table = md_table(HEADERS, rows)
    print(table)
    if not args.no_write:
        body = (
            f"{command_line()} — the dev questions (109, each on its quiz date), their keyword terms chosen as "
            "`keyword_query` chooses them; FTS5: `keyword_candidates` (bm25 over headline ×2 and text, top 200); "
            "in memory: the same terms scored from numpy arrays built from the same chunk texts (module docstring), "
            "one process, one thread. Retrieval: eval_retrieval's metrics with each keyword ranking (hybrid with the "
            "archive's own vectors: int8 MiniLM at both sizes). Saves: to a fresh folder, the whole index, then "
            f"again after {SYNC_CHUNKS} more chunks; what the second save wrote (new files and the segment list).\n\n"
            + table
        )
        write_section("Keyword stage outside FTS5", body)


if __name__ == "__main__":
    main()
