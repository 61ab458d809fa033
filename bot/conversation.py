"""Follow-up questions: a question asked after others is answered in their context.

"What did he say next?" names nothing the archive can search for; asked after "What did the
Kremlin say about Macron talks?" it means that story. A question that leans on earlier ones (a
pronoun, "next", "after that", or hardly any content words) is searched together with the earlier
search text, inherits the earlier filters and time window unless it names its own, and prefers the
cited stories' later coverage. A question that stands on its own keeps only the earlier filters."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from bot.answer import ARTICLES, Answer, build_answer
from bot.llm import LLMConfig, with_generated_lead
from bot.state import Cited, Turn
from index.archive import Archive
from index.ingest.dates import parse_date
from index.search import Filters, SearchResponse, search
from index.search.keywords import question_terms
from index.search.time_phrases import find_window
from index.store import utc_iso

LEANING = frozenset(
    """
he she they him her them his hers their theirs it its this that these those there then next after afterwards
later earlier before previously again else more other another further also same former latter
""".split()
)
FEW_TERMS = 2  # a question with this few content words is read as a follow-up
CONTEXT_WORDS = 40  # the carried search text is cut to this many words, so chains stay bounded
LATER_BOOST = 0.5  # score multiplier (1 + this) for results published after the latest cited article


def leans_on_context(question: str) -> bool:
    """Whether a question needs the earlier ones to be understood."""
    words = set(re.findall(r"[a-z']+", question.lower()))
    return bool(words & LEANING) or len(question_terms(question)) <= FEW_TERMS


def contextual_query(question: str, earlier: Turn, as_of: datetime | None = None) -> str:
    """The follow-up first, then the earlier search text (without its time phrase when the
    follow-up names its own), cut to CONTEXT_WORDS words."""
    carried = earlier.query
    own, theirs = find_window(question, as_of), find_window(carried, as_of)
    if own is not None and theirs is not None:
        carried = carried.replace(theirs.label, " ")
    return " ".join(f"{question} {carried}".split()[:CONTEXT_WORDS])


def carried_filters(filters: Filters, earlier: Turn | None) -> Filters:
    """The asker's own filters; those not given come from the earlier turn."""
    if earlier is None:
        return filters
    old = earlier.filters
    return replace(
        filters,
        since=filters.since or _date(old.get("since")),
        until=filters.until or _date(old.get("until")),
        outlets=filters.outlets or list(old.get("outlets") or []),
    )


def _date(value: str | None) -> datetime | None:
    return parse_date(value) if value else None


def prefer_later_coverage(response: SearchResponse, cited: list[Cited], boost: float = LATER_BOOST) -> SearchResponse:
    """Results published after the latest cited article rank higher: "what happened next" wants the
    story's later coverage, not the article already quoted."""
    dates = [c.published for c in cited if c.published]
    if not dates or not response.results:
        return response
    latest, cited_urls = max(dates), {c.url for c in cited}
    for result in response.results:
        if result.published and result.published > latest and result.url not in cited_urls:
            result.score *= 1.0 + boost
    return replace(response, results=sorted(response.results, key=lambda r: r.score, reverse=True))


def answer_in_context(
    archive: Archive,
    turns: list[Turn],
    question: str,
    filters: Filters,
    k: int = ARTICLES,
    llm: LLMConfig | None = None,
) -> tuple[Answer, Turn]:
    """The answer to `question` after `turns`, and the turn to remember it by."""
    question = " ".join(question.split())
    earlier = turns[-1] if turns else None
    filters = carried_filters(filters, earlier)
    leaning = earlier is not None and leans_on_context(question)
    query = contextual_query(question, earlier, filters.as_of) if leaning and earlier else question
    response = search(archive, query, k=k, filters=filters)
    if leaning and earlier:
        response = prefer_later_coverage(response, earlier.cited)
    answer = replace(build_answer(archive, response, own_question=question if leaning else None), question=question)
    if llm is not None:
        answer = with_generated_lead(answer, llm)
    return answer, turn_of(answer, query, filters)


def turn_of(answer: Answer, query: str, filters: Filters) -> Turn:
    kept = {
        "since": utc_iso(filters.since),
        "until": utc_iso(filters.until),
        "outlets": filters.outlets,
        "as_of": utc_iso(filters.as_of),
        "window": answer.window,
    }
    cited = [Cited(c.url, c.title, c.published) for c in answer.citations]
    return Turn(answer.question, query, kept, cited)
