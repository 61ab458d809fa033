"""When `ask` abstains: what a question asks for set against what its best result holds.

A question about something the archive lacks still finds topically similar stories (a "this week"
question about a city council finds another city's council), so the best chunk's cosine alone does
not tell the two apart. What does: whether the story names what the question names, carries its rare
words in its headline and lede, quotes a name or number of the kind asked for, and dates from when it
was asked. `signals` measures those; a small logistic model (bot/abstain_model.py) weighs them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from bot.answer_types import answer_span, answer_type
from bot.choose import article_stems, idf_weights, overlap
from bot.quotes import article_sentences, is_lede
from index.archive import Archive
from index.search import SearchResponse
from index.search.keywords import document_counts

DAY = 86400.0
RECENT_DAYS = 14.0  # as the search's recency prior: news a week or two old is what "now" means
_CAPITALISED = re.compile(r"[A-Z][\w&.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w&.-]*)*")  # "Denmark's" ends one
_NOT_NAMES = frozenset(
    "Which What Who Whom Whose When Where Why How The A An In On At This That These Those It Its After "
    "Before During Despite Though Although According As For With From By Of To And But Or US".split()
)


def question_names(question: str) -> list[str]:
    """The names the question gives: runs of capitalised words, without question words and openers."""
    names = []
    for match in _CAPITALISED.finditer(question):
        words = match.group().split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words and not (len(words) == 1 and len(words[0]) < 2):
            names.append(" ".join(words))
    return list(dict.fromkeys(names))


def names_found(names: list[str], text: str) -> float:
    """The share of the names that the text holds (1.0 when the question names nothing)."""
    if not names:
        return 1.0
    lowered = text.lower()
    return sum(name.lower() in lowered for name in names) / len(names)


def typed_answer(question: str, quote: str | None) -> float:
    """1.0 when the quote holds an answer of the kind the question asks for (a name, number, date or
    place it does not already give), or the question asks for no such kind; 0.0 otherwise."""
    kind = answer_type(question)
    if kind is None:
        return 1.0
    return float(quote is not None and answer_span(question, quote, kind) is not None)


def time_fit(response: SearchResponse, rank: int = 0) -> float:
    """How well a result's date fits when the question was asked: inside its window ("this week"),
    or recent before `as_of`; 1.0 when the question gives no moment."""
    top = response.results[rank]
    if not top.published:
        return 0.0
    moment = timestamp(top.published)
    window = response.window
    if window is not None and (window.since or window.until):
        since = window.since.timestamp() if window.since else -math.inf
        until = window.until.timestamp() if window.until else math.inf
        return float(since <= moment < until)
    if response.filters.as_of is None:
        return 1.0
    age = response.filters.as_of.timestamp() - moment
    return 0.0 if age < -DAY else math.exp(-max(age, 0.0) / (DAY * RECENT_DAYS))


def timestamp(published: str) -> float:
    """An ISO date or time as epoch seconds (UTC when it gives no zone)."""
    moment = datetime.fromisoformat(published)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class TopArticle:
    """What the signals read of a result's article: its headline with its lede, its headline with
    every quotable sentence (no captions, bylines or link lines), and its whole text (for names)."""

    lede: str
    sentences: str
    whole: str


def top_article(archive: Archive, response: SearchResponse, rank: int = 0) -> TopArticle:
    top = response.results[rank]
    with archive.lock:
        row = archive.store.article(top.article_id)
    title, text = (row.title if row else None) or top.title or "", row.text if row else ""
    sentences = article_sentences(text)
    lede = "\n".join([title, *(s.text for s in sentences if is_lede(s))])
    return TopArticle(lede, "\n".join([title, *(s.text for s in sentences)]), f"{title}\n{text}")


def signals(archive: Archive, response: SearchResponse, lead_quote: str | None, rank: int = 0) -> dict[str, float]:
    """Each signal of whether a result (the best one) answers the question (all 0 when there is none)."""
    if len(response.results) <= rank:
        return dict.fromkeys(SIGNALS, 0.0)
    top = response.results[rank]
    article = top_article(archive, response, rank)
    words = content_of(response)
    weights = idf_weights(archive, words)
    passages = " ".join([top.title or "", *(p.text for p in top.passages)])
    asked = article_stems(words)
    return {
        "dense": top.dense,
        "coverage": len(asked & article_stems(passages)) / len(asked) if asked else 0.0,
        "rare_lede": overlap(weights, article.lede),
        "rare_article": overlap(weights, article.sentences),
        "names": names_found(question_names(words), article.whole),
        "typed": typed_answer(response.query, lead_quote),
        "time_fit": time_fit(response, rank),
        "runner_up": _runner_up(response),
        "log_chunks": log_chunks(archive),
    }


def content_of(response: SearchResponse) -> str:
    """The question without the time phrase it names ("… in February 2022"): those words are its
    window, which `time_fit` weighs, not words a story about it must contain."""
    window = response.window
    return response.query.replace(window.label, " ") if window and window.label else response.query


def log_chunks(archive: Archive) -> float:
    """The archive's size (log of its chunks): the larger it is, the likelier an unrelated story shares
    a question's rare words, so the same overlap says less (docs/benchmarks.md, "Abstention across
    archive sizes")."""
    with archive.lock:
        total = document_counts(archive.store.lookups, [], archive.keywords.postings)[None]
    return math.log(max(total, 1))


def _runner_up(response: SearchResponse) -> float:
    """The second story's fused score over the first's: near 1 when nothing stands out."""
    scores = [r.score for r in response.results[:2]]
    return scores[1] / scores[0] if len(scores) == 2 and scores[0] > 0 else 0.0


SIGNALS = ("dense", "coverage", "rare_lede", "rare_article", "names", "typed", "time_fit", "runner_up", "log_chunks")


@dataclass(frozen=True)
class AbstainModel:
    """A logistic model over some signals (standardised by `mean` and `scale`): `ask` answers when
    the probability that the archive answers reaches `threshold`. Each signal is first held inside
    the range it was fitted on (`low`, `high`): the model is not trusted to extrapolate (an archive
    larger than any it was calibrated on counts as the largest)."""

    signals: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    @property
    def reads_quote(self) -> bool:
        """Whether it weighs the opening quote (then it decides after the quotes are chosen)."""
        return "typed" in self.signals

    def probability(self, values: dict[str, float]) -> float:
        raw = np.array([values[s] for s in self.signals], dtype=np.float64)
        if self.low is not None and self.high is not None:
            raw = np.clip(raw, self.low, self.high)
        x = (raw - np.array(self.mean)) / np.array(self.scale)
        return float(1.0 / (1.0 + np.exp(-(x @ np.array(self.weights) + self.bias))))

    def answers(self, values: dict[str, float]) -> bool:
        return self.probability(values) >= self.threshold
