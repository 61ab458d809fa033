"""Hybrid search: fusion, grouping by article, filters, time in the question, the keyword query."""
from __future__ import annotations

from index.keywords import STOP_WORDS, match_expression, question_terms, rarest_terms
from index.search import Filters, Tuning, fuse, search
from index.time_phrases import find_window

from .conftest import NEWS, make_article, utc


def titles(response) -> list[str]:
    return [r.title for r in response.results]


def test_finds_the_article_and_groups_chunks_by_article(news_archive):
    response = search(news_archive, "Which continent will require a common phone charger?", k=3)
    assert titles(response)[0] == "EU agrees common phone charger rule"
    assert len(set(titles(response))) == len(response.results), "one entry per article"
    top = response.results[0]
    assert top.url.startswith("https://www.reuters.com/") and top.outlet == "Reuters"
    assert top.published.startswith("2022-06-07") and top.passages and top.passages[0].chunk_id > 0


def test_one_long_article_cannot_fill_the_list(archive):
    long = make_article(1, text="Charger rules charger law. " * 200, title="Charger saga")
    archive.ingest([long, *NEWS], progress=False)
    assert archive.store.count("chunks") > 10
    response = search(archive, "charger", k=5)
    assert titles(response).count("Charger saga") == 1
    assert len(response.results[0].passages) <= Tuning().passages


def test_rrf_fusion_rewards_agreement(news_archive):
    chunk = {r[1]: r[0] for r in news_archive.store.db.execute(
        "SELECT c.id, a.title FROM chunks c JOIN articles a ON a.id = c.article_id")}
    sudan, wheat, kremlin = chunk["Sudan prime minister Hamdok resigns"], chunk["Wheat prices jump"], chunk["Kremlin expects no breakthrough from Macron visit"]
    dense = [(wheat, 0.9), (sudan, 0.8), (kremlin, 0.1)]
    keyword = [(sudan, 12.0)]
    results = fuse(news_archive, dense, keyword, Filters(), None, Tuning())
    assert [r.title for r in results] == [
        "Sudan prime minister Hamdok resigns", "Wheat prices jump", "Kremlin expects no breakthrough from Macron visit"]
    assert results[0].dense == 0.8


def test_filters_by_date_and_outlet(news_archive):
    response = search(news_archive, "prices prime minister charger Kremlin", k=10,
                      filters=Filters(since=utc(2022, 2, 1), until=utc(2022, 3, 1)))
    assert set(titles(response)) <= {"Kremlin expects no breakthrough from Macron visit", "Wheat prices jump"}
    assert response.results
    response = search(news_archive, "prices prime minister charger Kremlin", k=10, filters=Filters(outlets=["CNN"]))
    assert titles(response) == ["Sudan prime minister Hamdok resigns"]


def test_time_phrase_in_the_question_filters_relative_to_as_of(news_archive):
    response = search(news_archive, "What happened in February 2022?", k=10)
    assert response.window and response.window.strict
    assert all(r.published.startswith("2022-02") for r in response.results)
    assert "2022-02-01 to 2022-02-28" in response.to_json()["filters"]["window"]


def test_as_of_prefers_articles_near_that_date_without_dropping_others(news_archive):
    question = "prime minister charger Kremlin prices"
    near_june = search(news_archive, question, k=10, filters=Filters(as_of=utc(2022, 6, 8)))
    near_jan = search(news_archive, question, k=10, filters=Filters(as_of=utc(2022, 1, 3)))
    assert near_june.results[0].title == "EU agrees common phone charger rule"
    assert near_jan.results[0].title == "Sudan prime minister Hamdok resigns"
    assert len(near_june.results) == len(near_jan.results) == 4


def test_date_phrases():
    now = utc(2022, 3, 10, 15)
    cases = {
        "What happened yesterday?": ("2022-03-09", "2022-03-10", True),
        "news from last week": ("2022-02-28", "2022-03-07", False),
        "this week in Ukraine": ("2022-03-03", "2022-03-11", False),
        "this month": ("2022-03-01", "2022-03-11", False),
        "in February 2022": ("2022-02-01", "2022-03-01", True),
        "since March": ("2022-03-01", "2022-03-11", True),
        "in May": ("2021-05-01", "2021-06-01", True),
        "during 2021": ("2021-01-01", "2022-01-01", False),
        "in the past 3 days": ("2022-03-07", "2022-03-11", True),
    }
    for question, (since, until, strict) in cases.items():
        window = find_window(question, now)
        assert window is not None, question
        assert (window.since.date().isoformat(), window.until.date().isoformat(), window.strict) == (since, until, strict), question
    assert find_window("Who won the election?", now) is None
    assert find_window("Which supermarkets plan to merge in 2024?", now) is None, "the future dates no article"
    assert find_window("What will happen in May 2023?", now) is None


def test_keyword_query_drops_stop_words_and_keeps_the_rarest(news_archive):
    terms = question_terms("What did the Kremlin say about the prices of wheat this week?")
    assert not set(terms) & STOP_WORDS and "kremlin" in terms and "wheat" in terms
    conn = news_archive.store.db.conn
    assert rarest_terms(conn, ["kremlin", "wheat", "zzzunknown"], limit=1) in (["kremlin"], ["wheat"])
    assert rarest_terms(conn, ["zzzunknown"]) == []
    assert match_expression(['NOT', 'a"b']) == '"NOT" OR "a""b"'


def test_hostile_queries_do_not_break_fts(news_archive):
    for query in ['"unbalanced', "NEAR(a b) OR AND NOT *", "-", "🙂🙂", "a" * 5000, ""]:
        response = search(news_archive, query or " ", k=3)
        assert isinstance(response.results, list)


def test_json_shape(news_archive):
    data = search(news_archive, "charger", k=2).to_json()
    assert set(data) == {"query", "filters", "results"}
    assert set(data["results"][0]) == {"url", "title", "outlet", "published", "score", "passages", "also_in"}
    assert set(data["results"][0]["passages"][0]) == {"text", "chunk_id"}
    assert data["results"][0]["score"] >= data["results"][-1]["score"]
