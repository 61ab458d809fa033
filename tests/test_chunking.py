import re

import pytest

from index.embedding import FakeEmbedder
from index.ingest.chunking import ABBREVIATIONS, _strip, chunk_text, embedding_text, sentence_spans

from .conftest import SEED


def texts(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_sentences_respect_abbreviations_quotes_and_paragraphs():
    text = 'He met U.S. President Joe Biden. Mr. Smith said "no." Then left!\n\nNew paragraph here.'
    assert texts(text) == [
        "He met U.S. President Joe Biden.",
        'Mr. Smith said "no."',
        "Then left!",
        "New paragraph here.",
    ]


def test_hard_wrapped_wire_copy_is_not_split_at_line_breaks():
    text = "Showers continued throughout the week in\nthe Bahia cocoa zone.\n    The dry period ended."
    assert texts(text) == ["Showers continued throughout the week in\nthe Bahia cocoa zone.", "The dry period ended."]


def test_chunks_are_exact_slices_with_overlap_and_within_budget():
    embedder = FakeEmbedder(max_tokens=40)
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(30))
    chunks = chunk_text(text, "A short headline", embedder, target_tokens=30, overlap_tokens=8)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        tokens = len(embedder.token_spans([embedding_text("A short headline", chunk.text)])[0])
        assert tokens <= embedder.max_tokens
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:])), "consecutive chunks overlap"
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)


def test_a_sentence_longer_than_the_model_is_cut_not_truncated():
    embedder = FakeEmbedder(max_tokens=50)
    text = "word " * 500
    chunks = chunk_text(text, "T", embedder, target_tokens=400)
    covered = sum(len(embedder.token_spans([c.text])[0]) for c in chunks)
    assert covered == 500
    assert max(len(embedder.token_spans([embedding_text("T", c.text)])[0]) for c in chunks) <= 50


def test_long_headline_shrinks_the_body_budget():
    embedder = FakeEmbedder(max_tokens=40)
    title = " ".join(["headline"] * 30)
    chunks = chunk_text("one two three. " * 40, title, embedder, target_tokens=200)
    assert len(chunks) > 1
    assert all(len(embedder.token_spans([embedding_text(title, c.text)])[0]) <= 40 for c in chunks)


def test_empty_text_has_no_chunks():
    assert chunk_text("   \n ", "T", FakeEmbedder()) == []


# The splitter as one regex with lookbehinds (ten times slower): the fast one must agree with it.
_REFERENCE = re.compile(
    "".join(rf"(?<!\b{a})" for a in ABBREVIATIONS) + r"(?<!\b[A-Z])"
    r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n[ \t]*\n\s*|\n[ \t]+"
)


def _reference_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _REFERENCE.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [_strip(text, s, e) for s, e in spans if text[s:e].strip()]


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith met Dr. Jones. They spoke in the U.S. Senate! Then Gen. Milley left? Yes.",
        "No. 10 Downing St. said so. The A. B. Smith case. Sr. Garcia (Jr.) agreed. “Fine.” Then: done.",
        "WASHINGTON — The vote passed.\n\nIt was close.\n  Indented wire copy. Mrs. May? Ms.X spoke. SMr. Y came.",
        "Word_Mr. Next. 1.5 million people. $3.4 billion. Über. Ärger folgt. Fin",
        SEED.read_text(),
    ],
)
def test_fast_sentence_spans_agree_with_the_reference_regex(text: str) -> None:
    assert sentence_spans(text) == _reference_spans(text)
