"""Does a text contain a quiz's gold answer? Verbatim (as words, plurals ignored), or, for answers
of two or more content words, at least 60% of those words: "Volodymyr Zelensky" answers
"Ukrainian President Volodymyr Zelensky", "The Tony Awards" is answered by "the Tonys awards"."""

from __future__ import annotations

import math
import re

SHARE = 0.6
STOP = frozenset(
    "a an the of in on at to for and or by with from as is are was were be been it its this that these those "
    "they them their he she his her we our you your i who what which how when where why than then about "
    "into over under after before some any each every most more very just only also not no yes".split()
)
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("ses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased words, singular, numbers without thousands commas, `%` as "percent", `&` as "and"."""
    text = text.replace("%", " percent ").replace("&", " and ").replace("’", "'").lower()
    found = []
    for token in _WORD.findall(text):
        if token[0].isdigit():
            token = re.sub(r",(?=\d{3}\b)", "", token).rstrip(".,")
        elif token.endswith("'s"):
            token = token[:-2]
        found.append(_singular(token))
    return found


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP]


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def contains_answer(text: str, gold: str) -> bool:
    """True when `text` states `gold` (see the module's rule)."""
    have = words(text)
    wanted = words(gold)
    if _contains_run(have, wanted):
        return True
    content = content_words(gold)
    if len(content) < 2:
        return bool(content) and _contains_run(have, content)
    present = set(have)
    return sum(w in present for w in content) >= math.ceil(SHARE * len(content) - 1e-9)


def any_answer(text: str, golds: list[str]) -> bool:
    return any(contains_answer(text, g) for g in golds)
