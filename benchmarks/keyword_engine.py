"""BM25 outside FTS5, measured before it is built: an in-memory inverted index of what FTS5 indexes
(each chunk's headline and text), scored the way FTS5's bm25() scores, beside the FTS5 keyword stage.

    python benchmarks/keyword_engine.py                        # corpus_5k and the full corpus
    python benchmarks/keyword_engine.py --sizes corpus_5k --no-write

The keyword stage is most of a search at full size (docs/benchmarks.md, "Query latency by archive
size"): FTS5 spends ~1.7 µs per matching chunk in bm25(). Here the same query terms (the question's
rarest terms, chosen from FTS5's document counts as `keyword_query` chooses them) are scored from numpy
arrays built from the chunks' texts: tokens as unicode61 splits them (letters and digits, lower case,
Latin diacritics removed), Porter stems, headline tokens weighted as the search weights them, BM25 with
FTS5's k1, b and idf. Reported: build time and memory, per-query time against FTS5's in the same
process, how far the top 10 agree with FTS5's, and keyword-only and hybrid retrieval with each ranking.
The sizes: corpus_5k (the cached MiniLM archive, a private copy) and the full corpus built with the
static model2vec model (real text and real, if static, vectors).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import eval_retrieval as ev  # noqa: E402
from benchmarks import filler  # noqa: E402
from benchmarks.common import CACHE, command_line, md_table, require_data, write_section  # noqa: E402
from benchmarks.keyword_budget import prepared_questions  # noqa: E402
from index.archive import Archive  # noqa: E402
from index.search import Tuning, keyword_candidates  # noqa: E402
from index.search.keywords import question_terms, rarest_terms, stem  # noqa: E402

K1, B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
TOKEN = re.compile(r"[^\W_]+")
SIZES = {
    "corpus_5k": ("realtimeqa/corpus_5k.jsonl.gz", lambda: filler.corpus_5k()),
    "full": ("realtimeqa/corpus.jsonl.gz", lambda: CACHE / "corpus-0ea770cac2"),  # model2vec full corpus
}


def fold(text: str) -> str:
    """Lower case without Latin diacritics, as unicode61 (remove_diacritics 1) folds."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1_000_000)
def stemmed(token: str) -> str:
    return stem(token)


def tokens(text: str | None) -> list[str]:
    return [stemmed(t) for t in TOKEN.findall(fold(text or ""))]


class Postings:
    """Term → (chunk ids, weighted term frequencies), each chunk's token count, in numpy arrays."""

    def __init__(self, rows: Iterable[tuple[int, str | None, str]], title_weight: float) -> None:
        vocab: dict[str, int] = {}
        ids: list[array] = []
        freqs: list[array] = []
        lengths: dict[int, int] = {}
        for chunk_id, title, text in rows:
            head, body = tokens(title), tokens(text)
            lengths[chunk_id] = len(head) + len(body)
            weighted = Counter({t: title_weight * n for t, n in Counter(head).items()})
            weighted.update(Counter(body))
            for term, f in weighted.items():
                if term not in vocab:
                    vocab[term] = len(ids)
                    ids.append(array("i"))
                    freqs.append(array("f"))
                ids[vocab[term]].append(chunk_id)
                freqs[vocab[term]].append(f)
        self.vocab = vocab
        self.offsets = np.cumsum([0, *map(len, ids)]).astype(np.int64)
        self.ids = np.concatenate([np.frombuffer(a, dtype=np.int32) for a in ids])
        self.freqs = np.concatenate([np.frombuffer(a, dtype=np.float32) for a in freqs])
        self.lengths = np.zeros(max(lengths) + 1, dtype=np.float32)
        self.lengths[list(lengths)] = list(lengths.values())
        self.docs, self.avgdl = len(lengths), float(sum(lengths.values())) / max(1, len(lengths))

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.ids.nbytes + self.freqs.nbytes + self.lengths.nbytes)

    def score(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        """The best `n` chunks for these (stemmed) terms, with FTS5's bm25 scores (higher is better)."""
        parts = [self._term(t) for t in terms if t in self.vocab]
        if not parts:
            return []
        ids = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        unique, inverse = np.unique(ids, return_inverse=True)
        total = np.bincount(inverse, weights=scores)
        top = np.argpartition(-total, min(n, len(total) - 1))[:n] if len(total) > n else np.arange(len(total))
        top = top[np.argsort(-total[top], kind="stable")]
        return list(zip(unique[top].tolist(), total[top].tolist()))

    def _term(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        t = self.vocab[term]
        ids, f = self.ids[self.offsets[t] : self.offsets[t + 1]], self.freqs[self.offsets[t] : self.offsets[t + 1]]
        hits = len(ids)
        idf = max(math.log((self.docs - hits + 0.5) / (hits + 0.5)), 1e-6)
        norm = K1 * (1.0 - B + B * self.lengths[ids] / self.avgdl)
        return ids, idf * f * (K1 + 1.0) / (f + norm)


def timed(fn, *args) -> tuple[object, float]:
    started = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - started) * 1000


def rankings(archive: Archive, postings: Postings, questions: list[dict]) -> tuple[list, list, list, list]:
    """Each question's FTS5 and in-memory keyword rankings (top 200) and their times in ms."""
    fts, mem, fts_ms, mem_ms = [], [], [], []
    for q in questions:
        terms = [stem(t) for t in rarest_terms(archive.store.lookups, question_terms(q["question"]))]
        found, ms = timed(keyword_candidates, archive, q["question"], 200)
        fts.append(found)
        fts_ms.append(ms)
        found, ms = timed(postings.score, terms, 200)
        mem.append(found)
        mem_ms.append(ms)
    return fts, mem, fts_ms, mem_ms


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
    postings, build_ms = timed(Postings, rows, Tuning().title_weight)
    questions = prepared_questions(archive, corpus)
    fts, mem, fts_ms, mem_ms = rankings(archive, postings, questions)
    (fts_kw, fts_hy), (mem_kw, mem_hy) = quality(archive, questions, fts), quality(archive, questions, mem)
    overlap = statistics.mean(top10_overlap(a, b) for a, b in zip(fts, mem))
    return [
        size,
        f"{len(rows):,}",
        f"{len(postings.ids):,}",
        f"{postings.nbytes / 2**20:,.0f}",
        f"{build_ms / 1000:,.0f}",
        f"{statistics.median(fts_ms):.1f}",
        f"{statistics.median(mem_ms):.2f}",
        f"{statistics.median(fts_ms) / statistics.median(mem_ms):.0f}×",
        f"{overlap:.3f}",
        f"{fts_kw['R@10']:.3f} / {mem_kw['R@10']:.3f}",
        f"{fts_kw['MRR@10']:.3f} / {mem_kw['MRR@10']:.3f}",
        f"{fts_hy['R@10']:.3f} / {mem_hy['R@10']:.3f}",
        f"{fts_hy['MRR@10']:.3f} / {mem_hy['MRR@10']:.3f}",
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
            "archive's own vectors: MiniLM at corpus_5k, the static model2vec at full).\n\n" + table
        )
        write_section("Keyword stage outside FTS5 (measured, not built)", body)


if __name__ == "__main__":
    main()
