"""Which benchmark questions an archive can answer: the unanswerable set's `found_in` articles."""

from __future__ import annotations

from benchmarks.common import UNANSWERABLE, held_by, read_jsonl
from index.archive import Archive


def test_a_question_is_answerable_where_the_archive_holds_its_article(news_archive: Archive):
    question = {
        "question": "What did the Kremlin expect?",
        "found_in": ["https://www.themoscowtimes.com/2022/02/07/kremlin-macron"],
    }
    assert held_by(news_archive, question)
    assert not held_by(news_archive, {**question, "found_in": ["https://www.themoscowtimes.com/2022/02/08/other"]})
    assert not held_by(news_archive, {"question": "What did the Kremlin expect?"})


def test_every_question_found_in_an_article_gives_the_answer_it_holds():
    found = [q for q in read_jsonl(UNANSWERABLE) if "found_in" in q]
    assert found, "the full corpus holds some of the set's events"
    for question in found:
        assert question["answers"] and all(answer.strip() for answer in question["answers"]), question["question"]
        assert all(url.startswith("https://") for url in question["found_in"]), question["question"]
