"""Is a generated line grounded in its quotes? Every name and number in it must appear in them,
and it may cite only quotes that exist. Checked by code, never by asking the model."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
WORD = re.compile(r"[^\W\d_](?:[\w'’.\-]*\w)?")
NUMBER = re.compile(r"\d+(?:[,.]\d+)*")
# Capitalised only because they open a sentence or clause: not names, so not checked.
FUNCTION_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "there",
        "here",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "of",
        "to",
        "with",
        "without",
        "after",
        "before",
        "during",
        "since",
        "until",
        "about",
        "over",
        "under",
        "and",
        "but",
        "or",
        "nor",
        "so",
        "yet",
        "if",
        "when",
        "while",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "why",
        "how",
        "as",
        "than",
        "according",
        "yes",
        "no",
        "not",
        "also",
        "however",
        "meanwhile",
        "instead",
        "then",
        "thus",
        "both",
        "either",
        "neither",
        "each",
        "every",
        "all",
        "some",
        "many",
        "most",
        "several",
        "few",
        "more",
        "less",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
    }
)
# "one" is left out: it is more often a pronoun ("one of them") than a count.
NUMBER_WORDS = {
    "zero": "0",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
}
SCALES = {
    "hundred": "hundred",
    "thousand": "thousand",
    "million": "million",
    "mn": "million",
    "billion": "billion",
    "bn": "billion",
    "trillion": "trillion",
    "tn": "trillion",
}


def fold(token: str) -> str:
    """Case, accents, dots, apostrophes and a possessive 's ignored: "Zelenskyy's" ~ "zelenskyy"."""
    text = unicodedata.normalize("NFKD", token.replace("’", "'")).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"'s$|'$", "", text)
    return text.replace(".", "").replace("'", "")


def number_value(token: str) -> str:
    """1,200 ~ 1200; 2.50 ~ 2.5; 3.0 ~ 3."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", token):
        token = token.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", token):
        token = token.rstrip("0").rstrip(".")
    return token.lstrip("0") or "0"


def without_citations(text: str) -> str:
    return CITATION.sub(" ", text)


def words(text: str) -> set[str]:
    """Every word of `text`, folded, with hyphenated words also split into their parts."""
    found = set()
    for match in WORD.finditer(text):
        token = fold(match.group())
        found.add(token)
        found.update(part for part in token.split("-") if part)
    return found


def names(text: str) -> list[str]:
    """Capitalised words that are not function words: the names (and other proper words) to check."""
    return [
        m.group()
        for m in WORD.finditer(without_citations(text))
        if m.group()[0].isupper() and fold(m.group()) not in FUNCTION_WORDS
    ]


def numbers(text: str) -> set[str]:
    """Numbers in digits or words, and magnitudes ("million"), normalised so equal values compare equal."""
    text = without_citations(text)
    found = {number_value(m.group().rstrip(".,")) for m in NUMBER.finditer(text)}
    for word in words(text):
        if word in NUMBER_WORDS:
            found.add(NUMBER_WORDS[word])
        elif word in SCALES:
            found.add(SCALES[word])
    return found


def citations(text: str) -> set[int]:
    return {int(n) for group in CITATION.findall(text) for n in group.split(",")}


def unsupported(line: str, sources: Iterable[str]) -> list[str]:
    """The names and numbers of `line` that none of `sources` contains; empty when it is grounded."""
    source_text = " ".join(sources)
    known_words, known_numbers = words(source_text), numbers(source_text)
    missing = [name for name in names(line) if not _known(name, known_words)]
    return missing + sorted(numbers(line) - known_numbers)


def _known(name: str, known_words: set[str]) -> bool:
    token = fold(name)
    return token in known_words or all(part in known_words for part in token.split("-") if part)


def grounding_problems(line: str, quotes: Collection[tuple[str, int]]) -> list[str]:
    """Why `line` may not be shown over (quote, number) pairs: no or unknown citations, unsupported
    names or numbers. Empty means it may be shown."""
    cited, known = citations(line), {n for _, n in quotes}
    problems = [] if cited else ["cites no quote"]
    problems += [f"cites [{n}], which does not exist" for n in sorted(cited - known)]
    return problems + [f"'{term}' is not in the quotes" for term in unsupported(line, [q for q, _ in quotes])]
