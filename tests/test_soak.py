"""The soak benchmark runs the bot's per-question path and accounts for every function cache."""

from __future__ import annotations

from benchmarks.soak import FOLLOW_UP, cache_costs, lru_caches, soak
from index.archive import Archive

QUESTIONS = [
    {"question": "What did the Kremlin say about Macron's visit?", "asked": "2022-02-08"},
    {"question": "Who resigned as prime minister of Sudan?", "asked": "2022-01-05"},
    {"question": "What did the news say about topic3?", "asked": "2022-02-10"},
]


def test_every_question_is_answered_remembered_and_every_fourth_follows_up(news_archive: Archive) -> None:
    asked = QUESTIONS * 3  # nine: the 4th and the 8th are follow-ups
    shots = soak(news_archive, asked, every=3)
    assert [s["asked"] for s in shots] == [0, 3, 6, 9]
    assert all(s["rss"] > 0 and s["objects"] > 0 for s in shots)
    db = news_archive.store.db
    assert db.execute("SELECT count(*) FROM answers").fetchone()[0] == 9
    threads = db.execute("SELECT count(DISTINCT conversation) FROM conversation_turns").fetchone()[0]
    follow_ups = db.execute("SELECT count(*) FROM conversation_turns WHERE question = ?", [FOLLOW_UP]).fetchone()[0]
    assert (threads, follow_ups) == (7, 2)  # follow-ups join an earlier thread instead of starting one


def test_cache_costs_names_the_caches_it_clears(news_archive: Archive) -> None:
    soak(news_archive, QUESTIONS, every=3)
    assert lru_caches()["quotes.article_sentences"].cache_info().currsize > 0
    rows = cache_costs()
    assert {row[0] for row in rows} == {f"`{name}`" for name in lru_caches()}
    assert all(cached.cache_info().currsize == 0 for cached in lru_caches().values())
