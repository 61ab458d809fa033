"""Quote choice's cheap parts: stems found by prefix, sentences matched to the chunks they lie in."""

from __future__ import annotations

import numpy as np
import pytest

from bot.choose import AnswerTuning, Candidate, article_stems, best_chunk_cosines, score, standing, stems_found
from bot.quotes import Sentence, article_sentences
from index.search.keywords import question_terms
from index.store.postings import stem

from .conftest import SEED

SEED_TEXT = SEED.read_text(encoding="utf-8")

QUESTIONS = [
    "What did the Kremlin expect from Macron's visit?",
    "Which city's possibility of happily hosting the Olympics was studied?",
    "How many eyed the presidency after O'Neill's resignation?",
]


def sentences_of(text: str) -> list[str]:
    return [s.text for s in article_sentences(text)]


@pytest.mark.parametrize("question", QUESTIONS)
def test_stems_found_are_the_stems_of_the_words_in_common(question: str) -> None:
    wanted = article_stems(question)
    sentences = sentences_of(SEED_TEXT) + [
        "The city's possibilities were happier than expected, O'Neill said.",
        "He eyes the Kremlin; the Kremlin's visit, expected, was studied.",
    ]
    assert len(sentences) > 5
    for sentence in sentences:
        assert stems_found(wanted, sentence) == wanted & article_stems(sentence), sentence


def test_article_stems_match_question_terms_word_for_word() -> None:
    for text in [*QUESTIONS, *sentences_of(SEED_TEXT)]:
        assert article_stems(text) == frozenset(stem(t) for t in question_terms(text))


def test_a_sentence_takes_the_best_cosine_of_the_chunks_its_start_lies_in() -> None:
    text = "One two three four five. Six seven eight nine ten. Eleven twelve thirteen fourteen."
    sentences = article_sentences(text)
    assert [s.start for s in sentences] == [0, 25, 51]
    spans = [(0, 30, 0.2), (20, 50, 0.5), (40, 60, -0.1)]  # overlapping chunks
    assert best_chunk_cosines(sentences, spans).tolist() == pytest.approx([0.2, 0.5, -0.1])
    assert best_chunk_cosines(sentences, [(45, 90, -0.3)]).tolist() == pytest.approx([0.0, 0.0, -0.3])  # in none: 0
    assert np.all(best_chunk_cosines(sentences, []) == 0.0)


def test_a_sentence_counts_by_how_far_its_article_stands_below_the_best() -> None:
    found = [
        Candidate(rank, Sentence(f"Sentence {rank}.", 0, 10, 0), 0.5, "", standing)
        for rank, standing in ((0, 1.0), (1, 0.5))
    ]
    features = np.array([[0.5, 0.5, 0.0, 0.0]] * 2)  # the same sentence features in both articles
    by_rank = score(found, features, AnswerTuning(rank_decay=0.1, score_power=0.0))
    assert by_rank.tolist() == pytest.approx([1.0, 1.0 / 1.1])  # the rank alone discounts it
    by_score = score(found, features, AnswerTuning(rank_decay=0.0, score_power=1.0))
    assert by_score.tolist() == pytest.approx([1.0, 0.5])  # half the best article's score: half the value


def test_scores_without_a_scale_leave_every_article_standing_level() -> None:
    assert standing(0.3, 0.6) == pytest.approx(0.5)
    assert standing(0.0, 0.0) == 1.0  # all-zero scores say nothing: rank alone discounts
