"""Which sentences of an article may be quoted, and which of them is its lede.

News pages carry more than the story: bylines and outlet lines ("Associated Press"), datelines
("Washington CNN —", "GATLINBURG, Tenn. – "), time stamps, photo credits, newsletter and podcast
blurbs, "Related:" links. None of them is ever quoted. A dateline that opens the lede is cut off the
sentence (what remains is still a verbatim substring of the article)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from index.ingest.chunking import sentence_spans

MIN_WORDS = 4
LEDE_SENTENCES = 2
_DASH = r"[—–−-]+"
# "(CNN)", "Phoenix (CNN)", "New York (CNN Business)", "MOSCOW (AP) —"
_AGENCY_DATELINE = re.compile(
    r"^(?:[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,4}\s+)?\((?:CNN|AP|Reuters|AFP|UPI)[^)]{0,25}\)\s*(?:"
    + _DASH
    + r"\s*)?"
)
# "WASHINGTON — ", "GATLINBURG, Tenn. – ", "LAS CRUCES − ", "London CNN — "
_PLACE_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'’-]{1,}(?:\s+[A-Z][A-Z.'’-]+){0,3}(?:,\s*[A-Z][A-Za-z.]*\.?(?:\s+[A-Z][A-Za-z.]*)?)?"
    r"|[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,4}\s+CNN)\s*" + _DASH + r"\s+"
)
_TIME_STAMP = re.compile(r"\b\d{1,2}:\d{2}\s*[ap]\.?\s?m\.?|^updated\b|^published\b", re.I)
_CREDIT = re.compile(
    r"getty images|\bAP photo|\bphoto(?:graph)?(?: by|:)|\bimage:|\bcredit:|\bfile photo|/AP\b|/Reuters\b|AFP via|"
    r"\bcourtesy of\b|\bvia reuters\b|\b[A-Z][a-z]+ [A-Z][a-z]+/(?:AP|AFP|Reuters|Getty|EPA)\b",
    re.I,
)
BOILERPLATE_START = (
    "related",
    "read more",
    "read:",
    "more:",
    "see also",
    "watch:",
    "listen:",
    "sign up",
    "click here",
    "subscribe",
    "advertisement",
    "editor's note",
    "editor’s note",
    "follow ",
    "contact ",
    "copyright",
    "this page ",
    "(you can",
)
BOILERPLATE_ANY = (
    "newsletter",
    "sign up",
    "subscribe",
    "podcast",
    "inbox",
    "all rights reserved",
    "©",
    "this story appeared",
    "a version of this story",
    "hit play",
    "this content free",
    "video player",
    "this ad to you",
    "terms & conditions",
    "privacy policy",
    "story continues",
    "affiliate commission",
)
AGENCIES = frozenset({"AP", "Reuters", "AFP", "Getty Images", "CNN", "USA TODAY", "EPA", "Shutterstock"})
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$|[\"”’]$")
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]+\b")
_BOILERPLATE_ANY = re.compile("|".join(map(re.escape, BOILERPLATE_ANY)))


@dataclass(frozen=True)
class Sentence:
    """A quotable sentence of one article: `article_text[start:end] == text` (or its headline, `headline_only`)."""

    text: str
    start: int
    end: int
    position: int  # among the article's quotable sentences; 0 and 1 are its lede


def strip_dateline(sentence: str) -> str:
    """The sentence without a leading dateline ("WASHINGTON — ", "(CNN) ")."""
    for pattern in (_AGENCY_DATELINE, _PLACE_DATELINE):
        match = pattern.match(sentence)
        if match and len(sentence) - match.end() > 20:
            return sentence[match.end() :]
    return sentence


def quotable(sentence: str) -> bool:
    """A real sentence of the story: long enough, ended like a sentence, and none of the page's furniture."""
    words = len(sentence.split())
    if words < MIN_WORDS or not _ENDS_SENTENCE.search(sentence[-4:]):
        return False
    lowered = sentence.lower()
    if "@" in sentence or "http" in lowered or lowered.startswith(BOILERPLATE_START):
        return False
    if _BOILERPLATE_ANY.search(lowered) or len(list(islice(_LOWER_WORD.finditer(sentence), 3))) < 3:
        return False
    if words < 12 and _TIME_STAMP.search(sentence):
        return False
    return not _CREDIT.search(sentence[-80:])  # a credit closes a caption


def _credit_line(text: str) -> bool:
    """A photo credit standing after a caption: "Getty Images", "Evan Vucci/AP", "Reuters"."""
    return len(text.split()) <= 6 and (bool(_CREDIT.search(text)) or text.strip(". ") in AGENCIES)


@lru_cache(maxsize=4096)  # the bot quotes the same popular stories again and again
def article_sentences(text: str) -> tuple[Sentence, ...]:
    """The article's quotable sentences in order, datelines cut off, captions (a sentence its photo
    credit follows in the same paragraph) left out."""
    found: list[Sentence] = []
    spans = sentence_spans(text)
    for i, (start, end) in enumerate(spans):
        raw = text[start:end]
        after = spans[i + 1] if i + 1 < len(spans) else None
        if after and "\n" not in text[end : after[0]] and _credit_line(text[after[0] : after[1]]):
            continue
        if len(raw) > 600:  # a paragraph the splitter could not cut (a list, a table): not one sentence
            continue
        stripped = strip_dateline(raw)
        if quotable(stripped):
            found.append(Sentence(stripped, start + len(raw) - len(stripped), end, len(found)))
    return tuple(found)


def headline_only(title: str | None) -> tuple[Sentence, ...]:
    """The headline as an article's one quotable sentence, for an article whose text has none (a page
    scraped as its ad-feedback form): start = end = 0, where the headline's chunk begins."""
    headline = re.sub(r"\s*(?:\.\.\.|…)\s*$", "", title or "").strip()
    return (Sentence(headline, 0, 0, 0),) if headline else ()


def is_lede(sentence: Sentence) -> bool:
    return sentence.position < LEDE_SENTENCES
