"""The answer benchmark replays down-voted answers: each asked again, what it cites now against then."""

from __future__ import annotations

from benchmarks.eval_answers import replay_votes
from bot.state import Feedback
from index.archive import Archive

STALE = "https://old.example/sudan"


def test_down_votes_are_asked_again_and_up_votes_left_alone(news_archive: Archive) -> None:
    feedback = Feedback(news_archive)
    feedback.record_answer(1, "Who resigned as prime minister of Sudan?", "2022-01-05T00:00:00+00:00", [STALE])
    feedback.record_answer(2, "What did the Kremlin say about Macron's visit?", None, [])
    feedback.vote(1, user_id=7, vote="down", reason="wrong_article")
    feedback.vote(2, user_id=7, vote="up")
    rows = replay_votes(news_archive, [record.to_json() for record in feedback.records()])
    assert [row["question"] for row in rows] == ["Who resigned as prime minister of Sudan?"]
    (row,) = rows
    assert row["reason"] == "wrong_article"
    assert row["cited_then"] == [STALE]
    assert "https://edition.cnn.com/2022/01/02/africa/sudan-hamdok-resigns" in row["cited_now"]
    assert row["changed"] is True


def test_a_vote_whose_question_cannot_be_read_is_an_error_row(news_archive: Archive) -> None:
    rows = replay_votes(news_archive, [{"question": "Sudan?", "as_of": "not a date", "vote": "down"}])
    assert rows[0]["question"] == "Sudan?"
    assert "error" in rows[0]
