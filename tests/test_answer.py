"""Answers: verbatim quotes chosen by similarity, numbered citations, abstention, JSON."""

from __future__ import annotations

from bot.answer import NOTHING_FOUND, Citation, ask


def article_text(archive, url: str) -> str:
    return archive.store.db.execute("SELECT text FROM articles WHERE url = ?", [url]).fetchone()[0]


def test_quotes_are_verbatim_and_cited(news_archive):
    answer = ask(news_archive, "Which continent will require a common phone charger?")
    assert not answer.abstained
    assert answer.quotes
    for quote, n in answer.quotes:
        citation = answer.citations[n - 1]
        assert citation.n == n
        assert quote in article_text(news_archive, citation.url)
    assert answer.citations[0].title == "EU agrees common phone charger rule"
    assert "[1]" in answer.text
    assert "Sources:" in answer.render()


def test_the_best_sentence_is_chosen_not_the_first(news_archive):
    answer = ask(news_archive, "Did Apple oppose the charger plan?")
    assert answer.quotes[0][0] == "Apple opposed the plan." or any("Apple" in q for q, _ in answer.quotes)


def test_citation_line_format():
    citation = Citation(2, "https://x.example/a", "Headline", "Reuters", "2022-06-07T00:00:00+00:00", "q")
    assert citation.source_line() == "[2] Headline — Reuters, 2022-06-07 — https://x.example/a"
    assert Citation(1, None, None, None, None, "q").source_line() == "[1] Untitled — unknown outlet, undated"


def test_abstains_when_nothing_is_relevant(news_archive):
    answer = ask(news_archive, "zebra quantum violin marathon")
    assert answer.abstained
    assert answer.citations == []
    assert answer.text == NOTHING_FOUND
    assert ask(news_archive, "   ").abstained


def test_json_schema(news_archive):
    data = ask(news_archive, "Why did the Sudan prime minister resign?").to_json()
    assert set(data) == {"question", "answer", "citations", "abstained", "filters", "lead", "lead_generated"}
    assert set(data["citations"][0]) == {"n", "url", "title", "outlet", "published", "quote", "also_in"}
    assert data["abstained"] is False
    assert data["citations"][0]["outlet"] == "CNN"


def test_the_answer_states_the_window_it_used(news_archive):
    answer = ask(news_archive, "What did the Kremlin say about Macron in February 2022?")
    assert answer.text.startswith("Searching in February 2022 (2022-02-01 to 2022-02-28).")
    assert answer.citations
    assert all(c.published.startswith("2022-02") for c in answer.citations)
    assert answer.to_json()["filters"]["window"] == "in February 2022 (2022-02-01 to 2022-02-28)"
