"""The keyword index in memory: what FTS5 indexes (each chunk's headline and text) as numpy posting
arrays, scored as FTS5's bm25() scores them, ~15-20x faster than FTS5 itself (docs/benchmarks.md,
"Keyword stage outside FTS5"). FTS5 stays the source of truth and the fallback: this index is derived,
saved beside the database, kept in step by sync, and used only while it covers exactly the store's chunks.

On disk it is a folder: one file per segment, written once, and `index.npz` naming the current segments
with each chunk's length and liveness. A sync writes the segment it added and that small list, not the
whole index (772 MB at a million chunks).

Tokens are unicode61's (runs of letters and digits, lower case, Latin diacritics removed), stemmed by
the Porter algorithm as FTS5's porter tokenizer stems them; on the RealTimeQA archives the top 10 of
every dev question are FTS5's own.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import snowballstemmer

K1, B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
TITLE_WEIGHT = 2.0  # a headline token counts this many times a text token (the search's bm25 weights)
TOKEN = re.compile(r"[^\W_]+")
FORMAT = 2  # of the segment list; an index of another (1: one file) is rebuilt by the next sync
MAX_SEGMENTS = 4  # segments added by syncs before they are merged into one
_stemmer = snowballstemmer.stemmer("porter")  # the same algorithm as FTS5's porter tokenizer

Row = tuple[int, str | None, str]  # chunk id, headline, text


@lru_cache(maxsize=500_000)
def stem(token: str) -> str:
    return str(_stemmer.stemWord(token))


def fold(text: str) -> str:
    """Lower case without Latin diacritics, as unicode61 (remove_diacritics 1) folds."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str | None) -> list[str]:
    return [stem(t) for t in TOKEN.findall(fold(text or ""))]


@dataclass(frozen=True)
class Segment:
    """Postings of some chunks: term → a slice of (chunk ids, weighted term frequencies)."""

    vocab: dict[str, int]
    offsets: np.ndarray
    ids: np.ndarray
    freqs: np.ndarray
    name: str = field(default_factory=lambda: uuid.uuid4().hex)  # its file's, once saved

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self.vocab.get(term)
        if t is None:
            return None
        lo, hi = self.offsets[t], self.offsets[t + 1]
        return self.ids[lo:hi], self.freqs[lo:hi]

    def terms(self) -> np.ndarray:
        """The term id of each posting."""
        return np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.offsets))


def build_segment(rows: Iterable[Row], lengths: dict[int, int]) -> Segment:
    """A segment of these chunks; each chunk's token count goes into `lengths`."""
    vocab: dict[str, int] = {}
    ids: list[array[int]] = []
    freqs: list[array[float]] = []
    for chunk_id, title, text in rows:
        head, body = tokens(title), tokens(text)
        lengths[chunk_id] = len(head) + len(body)
        weighted = Counter({t: TITLE_WEIGHT * n for t, n in Counter(head).items()})
        weighted.update(Counter(body))
        for term, f in weighted.items():
            if term not in vocab:
                vocab[term] = len(ids)
                ids.append(array("i"))
                freqs.append(array("f"))
            ids[vocab[term]].append(chunk_id)
            freqs[vocab[term]].append(f)
    return Segment(
        vocab,
        np.cumsum([0, *map(len, ids)]).astype(np.int64),
        np.concatenate([np.frombuffer(a, dtype=np.int32) for a in ids]) if ids else np.zeros(0, np.int32),
        np.concatenate([np.frombuffer(a, dtype=np.float32) for a in freqs]) if ids else np.zeros(0, np.float32),
    )


def merged(segments: list[Segment], live: np.ndarray) -> Segment:
    """One segment holding the live postings of all."""
    vocab: dict[str, int] = {}
    for s in segments:
        for term in s.vocab:
            vocab.setdefault(term, len(vocab))
    remap = [np.array([vocab[t] for t in s.vocab], dtype=np.int64) for s in segments]
    terms = np.concatenate([r[s.terms()] for r, s in zip(remap, segments)])
    ids = np.concatenate([s.ids for s in segments])
    freqs = np.concatenate([s.freqs for s in segments])
    keep = live[ids]
    terms, ids, freqs = terms[keep], ids[keep], freqs[keep]
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=len(vocab))
    return Segment(vocab, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), ids[order], freqs[order])


@dataclass(frozen=True)
class State:
    """One consistent view: searches read it whole while a sync builds the next one."""

    segments: tuple[Segment, ...]
    lengths: np.ndarray  # tokens per chunk id
    live: np.ndarray  # chunk id → still in the store
    docs: int
    total_length: float

    @classmethod
    def of(cls, segments: tuple[Segment, ...], lengths: np.ndarray, live: np.ndarray) -> State:
        return cls(segments, lengths, live, int(live.sum()), float(lengths[live].sum(dtype=np.float64)))


class Postings:
    """Every chunk's postings, in segments; updates build a new `State` and swap it in."""

    def __init__(self, state: State) -> None:
        self.state = state

    @classmethod
    def empty(cls) -> Postings:
        return cls(State.of((), np.zeros(0, np.float32), np.zeros(0, bool)))

    @property
    def docs(self) -> int:
        return self.state.docs

    def chunk_ids(self) -> np.ndarray:
        return np.flatnonzero(self.state.live)

    def document_count(self, term: str) -> int:
        """Live chunks holding the (stemmed) term: what FTS5's vocabulary table counts, without walking
        its posting list on disk."""
        state = self.state
        found = (s.postings(term) for s in state.segments)
        return sum(int(np.count_nonzero(state.live[p[0]])) for p in found if p is not None)

    def add(self, rows: Iterable[Row]) -> None:
        lengths: dict[int, int] = {}
        segment = build_segment(rows, lengths)
        if not lengths:
            return
        size = max(len(self.state.live), max(lengths) + 1)
        live, length = _grown(self.state.live, size, False), _grown(self.state.lengths, size, 0.0)
        ids = np.fromiter(lengths, dtype=np.int64, count=len(lengths))
        length[ids] = np.fromiter(lengths.values(), dtype=np.float32, count=len(lengths))
        live[ids] = True
        self.state = State.of(tiered((*self.state.segments, segment), live), length, live)

    def remove(self, ids: np.ndarray) -> None:
        live = self.state.live.copy()
        live[ids[ids < len(live)]] = False
        self.state = State.of(self.state.segments, self.state.lengths, live)

    def score(self, terms: list[str], n: int) -> list[tuple[int, float]]:
        """The best `n` chunks for these stemmed terms with FTS5's bm25 scores (higher is better)."""
        state = self.state
        parts = [p for p in (_term(state, t) for t in terms) if p is not None]  # FTS5 counts a repeated term twice
        if not parts:
            return []
        unique, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
        top = np.argpartition(-total, n)[:n] if len(total) > n else np.arange(len(total))
        top = top[np.lexsort((unique[top], -total[top]))]
        return list(zip(unique[top].tolist(), total[top].tolist()))

    def save(self, path: Path) -> None:
        """Segments not yet on disk to files of their own, then the segment list `path` moved into place,
        then the files it no longer names removed (a reader that lost one reads the new list)."""
        state, folder = self.state, path.parent
        folder.mkdir(parents=True, exist_ok=True)
        for segment in state.segments:
            if not (folder / f"{segment.name}.npz").exists():
                _write(folder / f"{segment.name}.npz", _segment_arrays(segment))
        names = [s.name for s in state.segments]
        listed = {
            "format": np.array([FORMAT]),
            "lengths": state.lengths,
            "live": state.live,
            "segments": np.array(names),
        }
        _write(path, listed)
        for old in folder.glob("*.npz"):
            if old != path and old.stem not in names:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> Postings:
        with np.load(path) as data:
            if "format" not in data.files or int(data["format"][0]) != FORMAT:
                raise ValueError(f"not a keyword index of format {FORMAT}")
            names, lengths, live = [str(n) for n in data["segments"]], data["lengths"], data["live"]
        return cls(State.of(tuple(_read_segment(path.parent, name) for name in names), lengths, live))


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as out:
        np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub wants a positional file and arrays
    os.replace(temporary, path)


def _segment_arrays(segment: Segment) -> dict[str, np.ndarray]:
    vocab = np.frombuffer("\n".join(segment.vocab).encode(), dtype=np.uint8)
    return {"vocab": vocab, "offsets": segment.offsets, "ids": segment.ids, "freqs": segment.freqs}


def _read_segment(folder: Path, name: str) -> Segment:
    with np.load(folder / f"{name}.npz") as data:
        raw = bytes(data["vocab"])
        words = raw.decode().split("\n") if raw else []
        return Segment({w: i for i, w in enumerate(words)}, data["offsets"], data["ids"], data["freqs"], name)


def tiered(segments: tuple[Segment, ...], live: np.ndarray) -> tuple[Segment, ...]:
    """Past MAX_SEGMENTS, the later (small) segments are merged into one, and that one into the first
    only once it holds a quarter of the first's postings: re-sorting a million chunks' postings on every
    sync would cost seconds each time."""
    if len(segments) <= MAX_SEGMENTS:
        return segments
    first, rest = segments[0], merged(list(segments[1:]), live)
    return (merged([first, rest], live),) if 4 * len(rest.ids) >= len(first.ids) else (first, rest)


def _grown(values: np.ndarray, size: int, fill: float | bool) -> np.ndarray:
    """A copy of `values` padded with `fill` to `size` (searches keep reading the original)."""
    grown = np.full(size, fill, dtype=values.dtype)
    grown[: len(values)] = values
    return grown


def _term(state: State, term: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The live chunks holding `term` and its bm25 share of their scores, as FTS5 computes it."""
    found = [p for p in (s.postings(term) for s in state.segments) if p is not None]
    if not found:
        return None
    ids = np.concatenate([p[0] for p in found])
    freqs = np.concatenate([p[1] for p in found])
    keep = state.live[ids]
    ids, freqs = ids[keep], freqs[keep].astype(np.float64)
    if not len(ids):
        return None
    idf = max(math.log((state.docs - len(ids) + 0.5) / (len(ids) + 0.5)), 1e-6)
    norm = K1 * (1.0 - B + B * state.lengths[ids].astype(np.float64) / (state.total_length / state.docs))
    return ids, idf * freqs * (K1 + 1.0) / (freqs + norm)
