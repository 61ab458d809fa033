"""Sentence-aware chunks sized in the embedding model's own tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.embedding import Embedder, Span

# A sentence ends at . ! ? (maybe closed by quotes or brackets) before whitespace and a capital,
# digit or opening quote; a paragraph (a blank line, or an indented line as in wire copy) always
# ends one, while a bare line break is taken as hard wrapping inside a sentence.
ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Gen", "Sen", "Rep", "Gov", "Lt", "Col", "Jr", "Sr", "No")
# Abbreviations (and single capitals, as in "U.S.") are checked in Python after a match: as regex
# lookbehinds at every position they made splitting ten times slower (answers split whole articles).
SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n[ \t]*\n\s*|\n[ \t]+")
_WORD_BEFORE = re.compile(r"\w+$")
_ABBREVIATIONS = frozenset(ABBREVIATIONS)
TITLE_CHARS = 160
CHUNK_TOKENS = 192  # target chunk size in the embedding model's tokens (changing it needs a rebuild)
OVERLAP_TOKENS = 40  # tokens shared by consecutive chunks, so a fact across a boundary is whole in one
SAFETY_TOKENS = 2  # tokenising a piece alone can differ by a token from tokenising it in context


@dataclass(frozen=True)
class Chunk:
    """A window of an article's text: `text == article_text[start:end]`."""

    position: int
    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[Span]:
    """Character spans of the sentences in `text`, whitespace trimmed."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if text[match.start()] in ".!?" and _after_abbreviation(text, match.start()):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [_strip(text, s, e) for s, e in spans if text[s:e].strip()]


def _after_abbreviation(text: str, stop: int) -> bool:
    """Whether the full stop at `stop` ends "Mr", "Gen", "No", a single capital and the like."""
    word = _WORD_BEFORE.search(text, max(0, stop - 4), stop)
    if word is None or (word.start() > 0 and (text[word.start() - 1].isalnum() or text[word.start() - 1] == "_")):
        return False
    return word.group() in _ABBREVIATIONS or (len(word.group()) == 1 and "A" <= word.group() <= "Z")


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pieces(sentences: list[Span], tokens: list[Span], budget: int) -> list[tuple[Span, int]]:
    """Each sentence with its token count; a sentence over the budget is cut at token boundaries."""
    pieces, t = [], 0
    for start, end in sentences:
        inside = []
        while t < len(tokens) and tokens[t][0] < end:
            if tokens[t][0] >= start:
                inside.append(tokens[t])
            t += 1
        for i in range(0, max(len(inside), 1), budget):
            part = inside[i : i + budget]
            span = (part[0][0], part[-1][1]) if len(inside) > budget else (start, end)
            pieces.append((span, len(part)))
    return pieces


def _windows(pieces: list[tuple[Span, int]], target: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy windows of pieces (index ranges) up to `target` tokens, overlapping by whole pieces."""
    windows, first = [], 0
    while first < len(pieces):
        last, size = first, pieces[first][1]
        while last + 1 < len(pieces) and size + pieces[last + 1][1] <= target:
            last += 1
            size += pieces[last][1]
        windows.append((first, last))
        if last + 1 >= len(pieces):
            break
        back, carried = last, 0
        while back > first and carried + pieces[back][1] <= overlap:
            carried += pieces[back][1]
            back -= 1
        first = back + 1
    return windows


def chunk_text(
    text: str,
    title: str | None,
    embedder: Embedder,
    target_tokens: int = CHUNK_TOKENS,
    overlap_tokens: int = OVERLAP_TOKENS,
) -> list[Chunk]:
    """Chunks whose embedding text (headline + chunk) never exceeds the model's max length."""
    if not text.strip():
        return []
    title_spans, tokens = embedder.token_spans([embedding_title(title), text])
    budget = max(8, embedder.max_tokens - len(title_spans) - SAFETY_TOKENS)
    target = min(target_tokens, budget)
    pieces = _pieces(sentence_spans(text), tokens, target)
    chunks = []
    for position, (first, last) in enumerate(_windows(pieces, target, overlap_tokens)):
        start, end = pieces[first][0][0], pieces[last][0][1]
        chunks.append(Chunk(position, start, end, text[start:end]))
    return chunks


def embedding_title(title: str | None) -> str:
    """The headline as embedded: a runaway one (a bad parse) must not crowd out the text."""
    return (title or "")[:TITLE_CHARS]


def embedding_text(title: str | None, chunk: str) -> str:
    """What is embedded for a chunk: the headline goes with every chunk."""
    return f"{embedding_title(title)}\n{chunk}" if title else chunk
