"""Answers: the sentences that answer best, quoted verbatim, each with its numbered source."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.llm import LLMConfig, with_generated_lead
from index.archive import Archive
from index.chunking import sentence_spans
from index.keywords import question_terms, stem
from index.search import Filters, Result, SearchResponse, Tuning, search

MIN_QUOTE_WORDS = 4
OVERLAP_WEIGHT = 0.3  # sentence choice is hybrid too: the embedding alone favours topical filler
BOILERPLATE = ("related article", "read more", "related:", "sign up", "click here", "subscribe", "advertisement")
QUOTE_FLOOR = 0.6
COVERAGE_WEIGHT = 0.5  # calibrated with the relevance floors (docs/benchmarks.md, "Abstention")  # a sentence far less similar than the best one is filler, not an answer
NOTHING_FOUND = "I found nothing in the archive that answers that."


@dataclass
class Citation:
    n: int
    url: str | None
    title: str | None
    outlet: str | None
    published: str | None
    quote: str
    also_in: list[str] = field(default_factory=list)  # other outlets that ran the same story

    def source_line(self) -> str:
        """`[n] headline — outlet, date — url — also in: outlets`"""
        date = (self.published or "")[:10] or "undated"
        parts = [f"[{self.n}] {self.title or 'Untitled'}", f"{self.outlet or 'unknown outlet'}, {date}"]
        if self.url:
            parts.append(self.url)
        if self.also_in:
            parts.append("also in: " + ", ".join(self.also_in))
        return " — ".join(parts)


@dataclass
class Answer:
    question: str
    quotes: list[tuple[str, int]]  # (verbatim sentence, citation number) in answer order
    citations: list[Citation]
    abstained: bool
    window: str | None = None
    filters: dict = field(default_factory=dict)
    lead: str | None = None  # the opening line that states the answer, before the quotes
    lead_generated: bool = False  # written by the opt-in model (bot.llm) rather than quoted

    @property
    def text(self) -> str:
        lines = [f"Searching {self.window}." ] if self.window else []
        if self.abstained:
            return "\n".join([*lines, NOTHING_FOUND])
        lines += [self.lead] if self.lead else []
        lines += [f"“{quote}” [{n}]" for quote, n in self.quotes]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "citations": [
                {"n": c.n, "url": c.url, "title": c.title, "outlet": c.outlet, "published": c.published, "quote": c.quote,
                 "also_in": c.also_in}
                for c in self.citations
            ],
            "abstained": self.abstained,
            "filters": self.filters,
            "lead": self.lead,
            "lead_generated": self.lead_generated,
        }

    def render(self) -> str:
        """Plain text for the terminal: the quotes, then the sources."""
        if self.abstained:
            return self.text
        return self.text + "\n\nSources:\n" + "\n".join(c.source_line() for c in self.citations)


def _quotable(sentence: str) -> bool:
    return len(sentence.split()) >= MIN_QUOTE_WORDS and not sentence.lower().startswith(BOILERPLATE)


def candidate_sentences(results: list[Result]) -> list[tuple[int, str]]:
    """(result index, sentence) for every distinct, long enough sentence of the top passages."""
    seen, found = set(), []
    for i, result in enumerate(results):
        for passage in result.passages:
            for start, end in sentence_spans(passage.text):
                sentence = passage.text[start:end]
                if _quotable(sentence) and sentence not in seen:
                    seen.add(sentence)
                    found.append((i, sentence))
    return found


def term_overlap(question: str, sentences: list[str]) -> np.ndarray:
    """Share of the question's content words (stemmed) that each sentence contains."""
    wanted = {stem(t) for t in question_terms(question)}
    if not wanted:
        return np.zeros(len(sentences))
    return np.array([len(wanted & {stem(t) for t in question_terms(s)}) / len(wanted) for s in sentences])


def pick_quotes(
    archive: Archive, response: SearchResponse, max_quotes: int, per_article: int = 2
) -> list[tuple[int, str, float]]:
    """The sentences most similar to the question, by their own embeddings; at most `per_article` each."""
    candidates = candidate_sentences(response.results)
    if not candidates:
        return []
    vectors = archive.embedder.embed([s for _, s in candidates])
    similarity = vectors @ np.asarray(response.query_vector, dtype=np.float32)
    similarity = similarity + OVERLAP_WEIGHT * term_overlap(response.query, [s for _, s in candidates])
    # the article's rank still matters: a slightly better sentence from a worse article loses
    rank_weight = np.array([1.0 / (1.0 + 0.1 * i) for i, _ in candidates])
    order = [j for j in np.argsort(-(similarity * rank_weight)) if similarity[j] >= QUOTE_FLOOR * similarity.max()]
    chosen: list[int] = []
    per: dict[int, int] = {}
    for j in order:  # at most `per_article` from one article while others have good sentences
        i = candidates[j][0]
        if per.get(i, 0) < per_article:
            per[i] = per.get(i, 0) + 1
            chosen.append(j)
    chosen = (chosen + [j for j in order if j not in chosen])[:max_quotes]
    return [(candidates[j][0], candidates[j][1], float(similarity[j])) for j in chosen]


def relevance(response: SearchResponse) -> float:
    """How well the top result answers: its best chunk's cosine plus the share of the question's
    content words it contains. Words matter: a question about something the archive lacks still
    finds topically similar text, but not its names."""
    if not response.results:
        return 0.0
    top = response.results[0]
    text = " ".join([top.title or "", *(p.text for p in top.passages)])
    return top.dense + COVERAGE_WEIGHT * float(term_overlap(response.query, [text])[0])


def build_answer(archive: Archive, response: SearchResponse, max_quotes: int = 3, threshold: float | None = None) -> Answer:
    """Quotes from the top results, or a plain "nothing found" when even the best is not relevant."""
    threshold = archive.embedder.relevance_floor if threshold is None else threshold
    window = response.window.describe() if response.window else None
    filters = response.to_json()["filters"]
    if relevance(response) < threshold:
        return Answer(response.query, [], [], True, window, filters)
    numbers: dict[int, Citation] = {}
    quotes = []
    for i, sentence, _ in pick_quotes(archive, response, max_quotes):
        result = response.results[i]
        if i not in numbers:
            numbers[i] = Citation(
                len(numbers) + 1, result.url, result.title, result.outlet, result.published, sentence, result.also_in
            )
        quotes.append((sentence, numbers[i].n))
    return Answer(response.query, quotes, list(numbers.values()), not quotes, window, filters)


def ask(
    archive: Archive, question: str, k: int = 5, filters: Filters | None = None,
    tuning: Tuning | None = None, max_quotes: int = 3, threshold: float | None = None, llm: LLMConfig | None = None,
) -> Answer:
    """Search, then quote the best sentences of the top articles with numbered sources; with `llm`,
    a model writes the opening line when what it writes is grounded in the quotes."""
    question = question.strip()
    if not question:
        return Answer(question, [], [], True, None, {})
    response = search(archive, question, k=k, filters=filters, tuning=tuning)
    answer = build_answer(archive, response, max_quotes, threshold)
    return with_generated_lead(answer, llm) if llm is not None else answer
