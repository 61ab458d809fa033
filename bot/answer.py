"""Answers: an opening line that states the answer, then the sentences that support it, quoted
verbatim, each with its numbered source (how sentences are chosen: bot/choose.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bot.abstain import signals
from bot.abstain_model import MODEL
from bot.answer_types import COUNTRY, PERSON, answer_span, answer_type, full_name
from bot.choose import AnswerTuning, Candidate, article_stems, choose_quotes, idf_weights, overlap
from bot.llm import LLMConfig, with_generated_lead
from bot.places import country_of
from index.archive import Archive
from index.search import Filters, SearchResponse, Tuning, search

ARTICLES = 5  # articles an answer quotes from: `ask`'s, the CLI's and a conversation's k
NOTHING_FOUND = "I found nothing in the archive that answers that."
COVERAGE_WEIGHT = (
    1.0  # in `relevance`: cross-validated with the relevance floors (docs/benchmarks.md, "Answer quality")
)


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
    # The opening line that states the answer: the best quote with its answer span in **bold** and its
    # [n]. Another writer may replace it (then `lead_quote` is None and every quote follows it).
    lead: str | None = None
    lead_quote: int | None = None  # the quote `lead` restates, not repeated below it
    lead_generated: bool = False  # written by the opt-in model (bot.llm) rather than quoted

    def supporting(self) -> list[tuple[str, int]]:
        """The quotes shown after the opening line: all of them under a generated one."""
        restated = None if self.lead is None or self.lead_generated else self.lead_quote
        return [q for i, q in enumerate(self.quotes) if i != restated]

    @property
    def text(self) -> str:
        lines = [f"Searching {self.window}."] if self.window else []
        if self.abstained:
            return "\n".join([*lines, NOTHING_FOUND])
        lines += [self.lead] if self.lead else []
        lines += [f"“{quote}” [{n}]" for quote, n in self.supporting()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "lead": self.lead,
            "citations": [
                {
                    "n": c.n,
                    "url": c.url,
                    "title": c.title,
                    "outlet": c.outlet,
                    "published": c.published,
                    "quote": c.quote,
                    "also_in": c.also_in,
                }
                for c in self.citations
            ],
            "abstained": self.abstained,
            "filters": self.filters,
            "lead_generated": self.lead_generated,
        }

    def render(self) -> str:
        """Plain text for the terminal: the opening line, the quotes, then the sources."""
        if self.abstained:
            return self.text
        return self.text + "\n\nSources:\n" + "\n".join(c.source_line() for c in self.citations)


def relevance(response: SearchResponse, coverage_weight: float = COVERAGE_WEIGHT) -> float:
    """How well the top result answers: its best chunk's cosine plus the share of the question's
    content words it contains. Words matter: a question about something the archive lacks still
    finds topically similar text, but not its names."""
    if not response.results:
        return 0.0
    top = response.results[0]
    text = " ".join([top.title or "", *(p.text for p in top.passages)])
    return top.dense + coverage_weight * float(term_overlap(response.query, [text])[0])


def term_overlap(question: str, sentences: list[str]) -> np.ndarray:
    """Share of the question's content words (stemmed) that each sentence contains."""
    wanted = article_stems(question)
    if not wanted:
        return np.zeros(len(sentences))
    return np.array([len(wanted & article_stems(s)) / len(wanted) for s in sentences])


def confidence(archive: Archive, response: SearchResponse, tuning: AnswerTuning | None = None) -> float:
    """What the abstention floor is compared with: `relevance`, or (`coverage_of="article"`) the top
    result's best cosine plus the rarity-weighted share of the question's words in its whole article."""
    tuning = tuning or AnswerTuning()
    if tuning.coverage_of == "passages" or not response.results:
        return relevance(response, tuning.coverage_weight)
    top = response.results[0]
    with archive.lock:
        row = archive.store.article(top.article_id)
    words = article_stems(f"{row.title or ''} {row.text}" if row else "")
    return top.dense + tuning.coverage_weight * overlap(idf_weights(archive, response.query), words)


def lead_line(question: str, quote: str, n: int, common: frozenset[str] = frozenset(), article: str = "") -> str:
    """The best quote, its answer span (bot/answer_types.py) in bold when it has one; an answer the
    quote gives only in part is stated first in full: a country by its adjective ("Iranian lawmakers …"
    answers Iran), a person by surname (the article's "Steven Spielberg" for "Spielberg has …")."""
    kind = answer_type(question)
    span = answer_span(question, quote, kind, common)
    if span is None:
        return f"“{quote}” [{n}]"
    stated = quote[span[0] : span[1]]
    whole = country_of(stated) if kind == COUNTRY else full_name(stated, article) if kind == PERSON else None
    if whole:
        return f"**{whole}** — “{quote}” [{n}]"
    return f"“{quote[: span[0]]}**{stated}**{quote[span[1] :]}” [{n}]"


def answers(archive: Archive, response: SearchResponse, lead_quote: str | None, own_question: str | None) -> bool:
    """Whether the abstention model takes the best result to answer the query, or a follow-up's own
    words ("What about wheat prices?" asked after another story: the earlier words need not be in it)."""
    queries = dict.fromkeys([response.query, own_question or response.query])
    return any(MODEL.answers(signals(archive, replace(response, query=q), lead_quote)) for q in queries)


def build_answer(
    archive: Archive,
    response: SearchResponse,
    max_quotes: int | None = None,
    threshold: float | None = None,
    tuning: AnswerTuning | None = None,
    own_question: str | None = None,
) -> Answer:
    """Quotes from the top results, or a plain "nothing found" when the best result does not answer:
    by the abstention model (bot/abstain.py), or under a floor on `confidence` when one is given.
    `own_question`: a follow-up's own words, when the search query also carries the earlier turn's."""
    tuning = tuning or AnswerTuning()
    floor = threshold if threshold is not None else tuning.floor
    if floor is None and getattr(archive.embedder, "multilingual", False):
        # the model weighs the question's words found in the story: across languages there are none,
        # so a multilingual encoder keeps its calibrated floor on the (cross-language) cosine
        floor = archive.embedder.relevance_floor
    window = response.window.describe() if response.window else None
    filters = response.to_json()["filters"]
    nothing = Answer(response.query, [], [], True, window, filters)
    early = floor is None and not MODEL.reads_quote  # decided before the quotes are chosen: a refusal costs ~1 ms
    if early and not answers(archive, response, None, own_question):
        return nothing
    if floor is not None and confidence(archive, response, tuning) < floor:
        return nothing
    chosen = choose_quotes(archive, response, tuning, max_quotes or tuning.max_quotes)
    lead_quote = chosen[0].sentence.text if chosen else None
    if floor is None and not early and not answers(archive, response, lead_quote, own_question):
        return nothing
    return quoted_answer(response, chosen, window, filters)


def quoted_answer(response: SearchResponse, chosen: list[Candidate], window: str | None, filters: dict) -> Answer:
    """The chosen (article rank, sentence) pairs as numbered quotes and citations, the best one opening."""
    numbers: dict[int, Citation] = {}
    quotes = []
    for rank, sentence in ((c.rank, c.sentence.text) for c in chosen):
        result = response.results[rank]
        if rank not in numbers:
            numbers[rank] = Citation(
                len(numbers) + 1, result.url, result.title, result.outlet, result.published, sentence, result.also_in
            )
        quotes.append((sentence, numbers[rank].n))
    lead = lead_line(response.query, *quotes[0], chosen[0].common, chosen[0].article) if quotes else None
    return Answer(
        response.query, quotes, list(numbers.values()), not quotes, window, filters, lead, 0 if quotes else None
    )


def ask(
    archive: Archive,
    question: str,
    k: int = ARTICLES,
    filters: Filters | None = None,
    tuning: Tuning | None = None,
    max_quotes: int | None = None,
    threshold: float | None = None,
    answer_tuning: AnswerTuning | None = None,
    llm: LLMConfig | None = None,
) -> Answer:
    """Search, then quote the best sentences of the top articles with numbered sources; with `llm`,
    a model writes the opening line when what it writes is grounded in the quotes."""
    question = question.strip()
    if not question:
        return Answer(question, [], [], True, None, {})
    response = search(archive, question, k=k, filters=filters, tuning=tuning)
    answer = build_answer(archive, response, max_quotes, threshold, answer_tuning)
    return with_generated_lead(answer, llm) if llm is not None else answer
