"""Choosing the quotes: every quotable sentence of the top articles' whole text, scored cheaply.

A sentence's score adds the cosine between the question and the chunk that holds it (the chunk
vectors are already in the index: no embedding at question time), the rarity-weighted share of the
question's words it contains, a bonus for the story's lede and one for holding what the question asks
for (bot/answer_types.py), and is discounted by its article's rank and by its search score against the best
one's: for "this week" the score carries the recency prior, so an older story's sentences count less."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.answer_types import answer_span, answer_type, lowercase_words, refers_back
from bot.quotes import Sentence, article_sentences, headline_only, is_lede
from index.archive import Archive
from index.ingest.chunking import sentence_spans
from index.search import SearchResponse, dense_candidates
from index.search.keywords import STOP_WORDS, WORD, document_counts, question_terms
from index.store.postings import stem


@dataclass
class AnswerTuning:
    """How quotes are chosen and when `ask` abstains; judged by cross-validation over the dev questions
    (benchmarks/eval_answers.py, docs/benchmarks.md "Answer quality")."""

    floor: float | None = None  # `confidence` under which `ask` abstains; None: the abstention model decides
    articles: int = 3  # top results whose whole text is read for quotes
    chunk_weight: float = 1.0  # cosine between the question and the chunk holding the sentence
    overlap_weight: float = 1.0  # rarity-weighted share of the question's words in the sentence
    lede_bonus: float = 0.2  # the first two sentences of a story state who/what/where/when
    type_weight: float = 0.15  # the sentence holds what the question asks for (a name, number, date, place)
    rank_decay: float = 0.1  # a slightly better sentence from a worse article loses
    score_power: float = 1.0  # and by how much worse: its search score over the best one's (time prior included)
    quote_floor: float = 0.6  # a sentence scoring under this share of the best one is filler, not an answer
    per_article: int = 2
    max_quotes: int = 3
    coverage_of: str = "passages"  # abstention: question words sought in "passages" or the whole "article"
    coverage_weight: float = 1.0  # abstention: weight of those words against the best chunk's cosine
    context_weight: float = 0.5  # a quiz's context sentence before its question ("X happened. Why?")
    embed_sentences: bool = False  # score by each sentence's own embedding (slow: measured for comparison)


@dataclass
class Candidate:
    rank: int  # the article's rank among the results
    sentence: Sentence
    chunk_cosine: float
    article: str  # its article's text (where the opening line finds a surname's full name)
    standing: float = 1.0  # its article's search score over the best result's

    @property
    def common(self) -> frozenset[str]:
        """The words its article writes in lower case (bot/answer_types.py)."""
        return lowercase_words(self.article)


@lru_cache(maxsize=200_000)
def _stem(term: str) -> str:
    return stem(term)


def article_stems(text: str) -> frozenset[str]:
    """The stems of `question_terms(text)`, as a set: the same words, filtered with set operations
    rather than word by word (this runs over every sentence of the top articles)."""
    words = set(WORD.findall(text.lower().replace("’", "'"))) - STOP_WORDS
    return frozenset(_stem(w.split("'")[0]) for w in words if len(w) > 1 or w.isdigit())


def candidates(archive: Archive, response: SearchResponse, tuning: AnswerTuning) -> list[Candidate]:
    """The quotable sentences of the top articles, each with its chunk's cosine to the question."""
    top = response.results[: tuning.articles]
    ids = [r.article_id for r in top]
    with archive.lock:
        texts = {i: row.text for i, row in archive.store.articles(ids).items()}
        chunks = archive.store.chunk_spans(ids)
    cosines = chunk_cosines(archive, response, [c[0] for c in chunks])
    found, seen = [], set()
    best_score = top[0].score if top else 0.0
    for rank, result in enumerate(top):
        spans = [(s, e, cosines.get(c, 0.0)) for c, a, s, e in chunks if a == result.article_id]
        text = texts.get(result.article_id, "")
        sentences = article_sentences(text) or headline_only(result.title)
        for sentence, best in zip(sentences, best_chunk_cosines(sentences, spans)):
            if sentence.text not in seen:  # a story's copies and wire pickups repeat sentences
                seen.add(sentence.text)
                found.append(Candidate(rank, sentence, float(best), text, standing(result.score, best_score)))
    return found


def best_chunk_cosines(sentences: tuple[Sentence, ...], spans: list[tuple[int, int, float]]) -> np.ndarray:
    """Per sentence, the best cosine among the chunks its start lies in (chunks overlap), 0 in none."""
    starts = np.fromiter((s.start for s in sentences), dtype=np.int64, count=len(sentences))
    best = np.full(len(sentences), -np.inf)
    for start, end, cosine in spans:
        low, high = np.searchsorted(starts, [start, end])
        best[low:high] = np.maximum(best[low:high], cosine)
    return np.where(np.isinf(best), 0.0, best)


def chunk_cosines(archive: Archive, response: SearchResponse, chunk_ids: list[int]) -> dict[int, float]:
    """The question's cosine to each of these chunks, from the vectors the index already holds."""
    if response.query_vector is None or not chunk_ids or archive.vectors is None:
        return {}
    vector = np.asarray(response.query_vector, dtype=np.float32)
    with archive.lock:
        stored = archive.vectors.stored(chunk_ids)
    if stored is None:  # an index without exact vectors: a search restricted to these chunks
        return dict(dense_candidates(archive, vector, len(chunk_ids), np.asarray(chunk_ids, dtype=np.int64)))
    return {i: float(v @ vector) for i, v in stored.items()}


def idf_weights(archive: Archive, question: str) -> dict[str, float]:
    """Each question word's stem and its rarity in the archive (log inverse document frequency)."""
    wanted = sorted({_stem(t) for t in question_terms(question)})
    with archive.lock:
        counts = document_counts(archive.store.lookups, wanted, archive.keywords.postings)
    total = counts[None]
    return {s: math.log((total + 1) / (counts[s] + 0.5)) for s in wanted}


def overlap(weights: dict[str, float], text: str | frozenset[str]) -> float:
    """The share of the question's rarity weight that a sentence's words (or these stems) carry."""
    whole = sum(weights.values())
    if whole <= 0:
        return 0.0
    have = stems_found(frozenset(weights), text) if isinstance(text, str) else text
    return sum(w for s, w in weights.items() if s in have) / whole


def stems_found(wanted: frozenset[str], text: str) -> frozenset[str]:
    """The `wanted` stems among those of the text's content words (`article_stems(text) & wanted`),
    stemming only the words that begin like a wanted stem: over every sentence of the top articles,
    stemming each word was most of the cost of choosing quotes."""
    if not wanted:
        return frozenset()
    words = set(_word_finder(wanted).findall(text.lower().replace("’", "'"))) - STOP_WORDS
    found = (_stem(w.split("'")[0]) for w in words if len(w) > 1 or w.isdigit())
    return frozenset(s for s in found if s in wanted)


@lru_cache(maxsize=256)
def _word_finder(wanted: frozenset[str]) -> re.Pattern[str]:
    """Words (as `question_terms` splits them) starting with a wanted stem less its last two letters: the
    Porter stemmer rewrites at most those (happy → happi, possibility → possibl), checked over corpus_5k."""
    prefixes = {s[: len(s) - 2] if len(s) > 3 else s[:1] for s in wanted}
    alternatives = "|".join(sorted(map(re.escape, prefixes)))
    return re.compile(rf"(?<![^\W_])(?<![^\W_]')(?:{alternatives})[^\W_]*(?:'[^\W_]+)?")


def features(archive: Archive, response: SearchResponse, tuning: AnswerTuning) -> tuple[list[Candidate], np.ndarray]:
    """The candidates and, per candidate, what its score weighs: similarity, word overlap, lede, answer type.
    None of it depends on the weights, so the answer benchmark computes it once per question."""
    found = candidates(archive, response, tuning)
    if not found:
        return [], np.zeros((0, 4))
    weights = asked_weights(response.query, idf_weights(archive, response.query), tuning.context_weight)
    kind = answer_type(response.query)
    similarity = np.array([c.chunk_cosine for c in found], dtype=np.float32)
    if tuning.embed_sentences:
        vectors = archive.embedder.embed([c.sentence.text for c in found])
        similarity = vectors @ np.asarray(response.query_vector, dtype=np.float32)
    rows = [
        (
            float(sim),
            overlap(weights, c.sentence.text),
            float(is_lede(c.sentence)),
            float(kind is not None and answer_span(response.query, c.sentence.text, kind, c.common) is not None),
        )
        for c, sim in zip(found, similarity)
    ]
    return found, np.asarray(rows)


def asked_weights(question: str, weights: dict[str, float], context_weight: float) -> dict[str, float]:
    """The rarity weights with the words only a context sentence gives counted `context_weight` times:
    in "Apple released iOS 16. Which feature did it introduce?" the first sentence says which story (the
    lede says it too), the last what is asked of it."""
    parts = [question[start:end].strip() for start, end in sentence_spans(question)]
    if context_weight == 1.0 or len(parts) < 2 or not parts[-1].endswith("?"):
        return weights
    asked = article_stems(parts[-1])
    return {s: w if s in asked else w * context_weight for s, w in weights.items()}


def standing(result_score: float, best_score: float) -> float:
    """An article's search score over the best one's; 1 where scores carry no scale (all zero)."""
    return max(result_score, 0.0) / best_score if best_score > 0 else 1.0


def score(found: list[Candidate], matrix: np.ndarray, tuning: AnswerTuning) -> np.ndarray:
    weights = np.array([tuning.chunk_weight, tuning.overlap_weight, tuning.lede_bonus, tuning.type_weight])
    ranks = np.array([c.rank for c in found], dtype=np.float64)
    standing = np.array([c.standing for c in found], dtype=np.float64) ** tuning.score_power
    return (matrix @ weights) * standing / (1.0 + tuning.rank_decay * ranks)


def choose_quotes(archive: Archive, response: SearchResponse, tuning: AnswerTuning, max_quotes: int) -> list[Candidate]:
    """The quotes, best first: at most `per_article` from one article while others have good
    sentences, none far below the best."""
    found, matrix = features(archive, response, tuning)
    if not found:
        return []
    values = score(found, matrix, tuning)
    floor = tuning.quote_floor * values.max()
    order = [int(j) for j in np.argsort(-values, kind="stable") if values[j] >= floor]
    chosen: list[int] = []
    per: dict[int, int] = {}
    for j in order:
        rank = found[j].rank
        if per.get(rank, 0) < tuning.per_article:
            per[rank] = per.get(rank, 0) + 1
            chosen.append(j)
    chosen = _named_first((chosen + [j for j in order if j not in chosen]), found, response.query)[:max_quotes]
    return [found[j] for j in chosen]


def _named_first(chosen: list[int], found: list[Candidate], question: str) -> list[int]:
    """The best quote after the sentence before it, when it speaks of what a "which X" question asks
    for only as "the … X" and that sentence names something the question does not (its antecedent)."""
    if not chosen:
        return chosen
    best, before = found[chosen[0]], chosen[0] - 1
    if before < 0 or not refers_back(question, best.sentence.text):
        return chosen
    previous = found[before]
    if previous.rank != best.rank or previous.sentence.position != best.sentence.position - 1:
        return chosen
    if answer_span(question, previous.sentence.text, None, previous.common) is None:
        return chosen
    return [before, *(j for j in chosen if j != before)]
