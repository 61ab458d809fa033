"""Hybrid search: fusion, grouping by article, filters, time in the question, the keyword query."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np

from index.archive import Archive
from index.search import hybrid
from index.search.hybrid import (
    ChunkFacts,
    Filters,
    Tuning,
    fuse,
    keyword_candidates,
    normalised,
    rank_stories,
    search,
)
from index.search.keywords import (
    STOP_WORDS,
    match_expression,
    phrase_pairs,
    question_terms,
    rarest_terms,
)
from index.search.time_phrases import find_window
from index.store.lookups import WARM_SQL

from .conftest import NEWS, make_article, utc


def titles(response) -> list[str]:
    return [r.title for r in response.results]


def test_finds_the_article_and_groups_chunks_by_article(news_archive):
    response = search(news_archive, "Which continent will require a common phone charger?", k=3)
    assert titles(response)[0] == "EU agrees common phone charger rule"
    assert len(set(titles(response))) == len(response.results), "one entry per article"
    top = response.results[0]
    assert top.url.startswith("https://www.reuters.com/")
    assert top.outlet == "Reuters"
    assert top.published.startswith("2022-06-07")
    assert top.passages
    assert top.passages[0].chunk_id > 0


def test_one_long_article_cannot_fill_the_list(archive):
    long = make_article(1, text="Charger rules charger law. " * 200, title="Charger saga")
    archive.ingest([long, *NEWS], progress=False)
    assert archive.store.count("chunks") > 10
    response = search(archive, "charger", k=5)
    assert titles(response).count("Charger saga") == 1
    assert len(response.results[0].passages) <= Tuning().passages


def test_rrf_fusion_rewards_agreement(news_archive):
    chunk = {
        r[1]: r[0]
        for r in news_archive.store.db.execute(
            "SELECT c.id, a.title FROM chunks c JOIN articles a ON a.id = c.article_id"
        )
    }
    sudan, wheat, kremlin = (
        chunk["Sudan prime minister Hamdok resigns"],
        chunk["Wheat prices jump"],
        chunk["Kremlin expects no breakthrough from Macron visit"],
    )
    dense = [(wheat, 0.9), (sudan, 0.8), (kremlin, 0.1)]
    keyword = [(sudan, 12.0)]
    results = fuse(news_archive, dense, keyword, Filters(), None, Tuning())
    assert [r.title for r in results] == [
        "Sudan prime minister Hamdok resigns",
        "Wheat prices jump",
        "Kremlin expects no breakthrough from Macron visit",
    ]
    assert results[0].dense == 0.8


def test_filters_by_date_and_outlet(news_archive):
    response = search(
        news_archive,
        "prices prime minister charger Kremlin",
        k=10,
        filters=Filters(since=utc(2022, 2, 1), until=utc(2022, 3, 1)),
    )
    assert set(titles(response)) <= {"Kremlin expects no breakthrough from Macron visit", "Wheat prices jump"}
    assert response.results
    response = search(news_archive, "prices prime minister charger Kremlin", k=10, filters=Filters(outlets=["CNN"]))
    assert titles(response) == ["Sudan prime minister Hamdok resigns"]


def test_time_phrase_in_the_question_filters_relative_to_as_of(news_archive):
    response = search(news_archive, "What happened in February 2022?", k=10)
    assert response.window
    assert response.window.strict
    assert response.results
    assert all(r.published.startswith("2022-02") for r in response.results)
    assert "2022-02-01 to 2022-02-28" in response.to_json()["filters"]["window"]


def test_as_of_prefers_articles_near_that_date_and_holds_none_published_after_it(news_archive):
    question = "prime minister charger Kremlin prices"
    near_june = search(news_archive, question, k=10, filters=Filters(as_of=utc(2022, 6, 8)))
    near_jan = search(news_archive, question, k=10, filters=Filters(as_of=utc(2022, 1, 3)))
    assert near_june.results[0].title == "EU agrees common phone charger rule"
    assert len(near_june.results) == 4, "older articles are preferred less, not dropped"
    assert [r.title for r in near_jan.results] == ["Sudan prime minister Hamdok resigns"]  # the rest came later
    assert len(search(news_archive, question, k=10).results) == 4


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
        "How much did prices rise last year?": ("2021-01-01", "2022-01-01", False),
    }
    for question, (since, until, strict) in cases.items():
        window = find_window(question, now)
        assert window is not None, question
        assert (window.since.date().isoformat(), window.until.date().isoformat(), window.strict) == (
            since,
            until,
            strict,
        ), question
    assert find_window("Who won the election?", now) is None
    for rolling in ("How many books were banned over the last year?", "Who left in the past month?"):
        assert find_window(rolling, now) is None, "the period to now: the recency prior, not last calendar year"
    assert find_window("Which supermarkets plan to merge in 2024?", now) is None, "the future dates no article"
    assert find_window("What will happen in May 2023?", now) is None


def test_keyword_query_drops_stop_words_and_keeps_the_rarest(news_archive):
    terms = question_terms("What did the Kremlin say about the prices of wheat this week?")
    assert not set(terms) & STOP_WORDS
    assert "kremlin" in terms
    assert "wheat" in terms
    lookups = news_archive.store.lookups
    assert rarest_terms(lookups, ["kremlin", "wheat", "zzzunknown"], limit=1) in (["kremlin"], ["wheat"])
    assert rarest_terms(lookups, ["zzzunknown"]) == []
    assert match_expression(["NOT", 'a"b']) == '"NOT" OR "a""b"'


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


# ranking in memory: facts of candidate chunks made by hand, no archive


def facts_of(*rows: tuple[int, int, int, int, str]) -> dict[int, ChunkFacts]:
    """(chunk id, article id, story, position, published) → the facts `rank_stories` reads."""
    moment = {pub: datetime.fromisoformat(pub).replace(tzinfo=timezone.utc).timestamp() for *_, pub in rows}
    return {c: ChunkFacts(a, s, p, pub, "Example", (pub, a), moment[pub]) for c, a, s, p, pub in rows}


def ranked_articles(
    facts: dict[int, ChunkFacts], dense, keyword, tuning: Tuning, filters: Filters | None = None
) -> list[int]:
    return [r.article_id for r in rank_stories(facts, dense, keyword, filters or Filters(), None, tuning)]


def test_normalised_scores():
    ranking = [(1, 9.0), (2, 6.0), (3, 3.0)]
    assert normalised(ranking, "minmax") == {1: 1.0, 2: 0.5, 3: 0.0}
    z = normalised(ranking, "zscore")
    assert z[3] == 0.0
    assert abs(z[1] - 6.0 / np.std([9.0, 6.0, 3.0])) < 1e-9
    assert normalised([(7, 2.0)]) == {7: 1.0}
    assert normalised([]) == {}


def test_blend_weighs_score_margins_that_reciprocal_ranks_ignore():
    facts = facts_of((1, 10, 10, 0, "2022-02-01"), (2, 20, 20, 0, "2022-02-01"), (3, 30, 30, 0, "2022-02-01"))
    dense = [(1, 0.90), (2, 0.50), (3, 0.45)]  # 1 far ahead of the others
    keyword = [(3, 10.0), (2, 9.8), (1, 1.0)]  # 3 and 2 close, 1 far behind
    blend = Tuning(fusion="blend", dense_share=0.5)
    assert ranked_articles(facts, dense, keyword, blend)[0] == 20, "near the top of both"
    assert ranked_articles(facts, dense, keyword, replace(blend, dense_share=0.9))[0] == 10
    assert ranked_articles(facts, dense, keyword, replace(blend, dense_share=0.1))[0] == 30
    missing = ranked_articles(facts, dense, [(3, 10.0)], replace(blend, dense_share=0.6))
    assert missing[0] == 10, "absent from a ranking counts as its weakest"
    assert set(missing) == {10, 20, 30}, "absent from a ranking counts as its weakest"


def test_lede_boost_lifts_a_story_whose_lede_matches():
    facts = facts_of((1, 10, 10, 3, "2022-02-01"), (2, 20, 20, 0, "2022-02-01"))
    dense = [(1, 0.60), (2, 0.57)]  # a late paragraph of story 10 against the lede of story 20
    for fusion in ("rrf", "blend"):
        assert ranked_articles(facts, dense, [], Tuning(fusion=fusion)) == [10, 20]
        assert ranked_articles(facts, dense, [], Tuning(fusion=fusion, lede_boost=0.1)) == [20, 10]


def test_the_newest_version_answers_for_its_story_with_its_own_chunks():
    facts = facts_of((1, 10, 10, 0, "2022-02-01"), (2, 11, 10, 1, "2022-02-03"), (3, 30, 30, 0, "2022-02-02"))
    for fusion in ("rrf", "blend"):
        ranked = rank_stories(facts, [(1, 0.9), (3, 0.5), (2, 0.4)], [(2, 5.0)], Filters(), None, Tuning(fusion=fusion))
        assert [(r.article_id, r.story) for r in ranked] == [(11, 10), (30, 30)]
        assert ranked[0].chunk_ids == [2], "quotes from one version; best cosine of the story"
        assert ranked[0].dense == 0.9, "quotes from one version; best cosine of the story"


def test_recency_prior_relative_to_as_of():
    old, recent = "2022-01-02", "2022-06-06"
    facts = facts_of((1, 10, 10, 0, old), (2, 20, 20, 0, recent), (3, 30, 30, 0, old))
    dense = [(1, 0.60), (2, 0.55), (3, 0.2)]
    june = Filters(as_of=utc(2022, 6, 8))
    for fusion in ("rrf", "blend"):
        assert ranked_articles(facts, dense, [], Tuning(fusion=fusion), june)[:2] == [20, 10]
        assert ranked_articles(facts, dense, [], Tuning(fusion=fusion, recency_boost=0.0), june)[:2] == [10, 20]


def test_asked_as_of_a_day_nothing_published_after_it_is_found():
    facts = facts_of((1, 10, 10, 0, "2022-06-07"), (2, 20, 20, 0, "2022-06-09"), (3, 30, 30, 0, "2022-06-12"))
    facts[4] = replace(facts[1], article_id=40, story=40, published=None, version=("", 40), moment=None)
    dense = [(3, 0.9), (2, 0.8), (4, 0.7), (1, 0.6)]
    for fusion in ("rrf", "blend"):
        asked = ranked_articles(facts, dense, [], Tuning(fusion=fusion), Filters(as_of=utc(2022, 6, 8)))
        assert sorted(asked) == [10, 20, 40], "a day's grace for time zones; an undated article stays"
        assert len(ranked_articles(facts, dense, [], Tuning(fusion=fusion))) == 4, "no as_of, no cutoff"


def test_name_phrases_in_the_keyword_query():
    question = "Which title did Serena Williams win after the gas prices rose?"
    terms = question_terms(question)
    assert phrase_pairs(question, terms, names_only=True) == ["serena williams"]
    assert phrase_pairs(question, terms, names_only=False) == [
        "serena williams",
        "williams win",
        "gas prices",
        "prices rose",
    ]


def test_a_phrase_match_outranks_the_same_words_apart(archive):
    apart = make_article(1, title="Tennis", text="Williams beat her rival while Serena fans cheered the comeback.")
    together = make_article(2, title="Tennis", text="Serena Williams beat her rival while fans cheered the comeback.")
    archive.ingest([apart, together], progress=False)
    title_of = {
        r[0]: r[1]
        for r in archive.store.db.execute("SELECT c.id, a.url FROM chunks c JOIN articles a ON a.id = c.article_id")
    }
    found = keyword_candidates(archive, "Who is Serena Williams?", 10, tuning=Tuning(phrases="names"))
    assert title_of[found[0][0]].endswith("/2")
    assert found[0][1] > found[1][1]
    plain = keyword_candidates(archive, "Who is Serena Williams?", 10, tuning=Tuning(phrases="none"))
    assert len(plain) == 2
    assert abs(plain[0][1] - plain[1][1]) < abs(found[0][1] - found[1][1])


def test_fuse_reads_texts_for_the_results_it_returns(news_archive):
    chunks = {r[0]: r[1] for r in news_archive.store.db.execute("SELECT id, text FROM chunks")}
    dense = [(c, 1.0 - i / 10) for i, c in enumerate(chunks)]
    results = fuse(news_archive, dense, [], Filters(), None, Tuning(), k=2)
    assert len(results) == 2
    assert all(r.passages for r in results)
    assert all(p.text == chunks[p.chunk_id] for r in results for p in r.passages)


def test_search_reads_keyword_facts_while_the_question_is_embedded(news_archive, monkeypatch):
    """The keyword candidates' facts are read while the question is still being embedded, the dense
    candidates' after it: no chunk's facts are read twice, and every candidate's are read."""
    embedded = threading.Event()
    slow_embed = hybrid.embed_query

    def embed_query(archive, query):
        time.sleep(0.3)  # a slow model: the keyword side must not wait for it
        try:
            return slow_embed(archive, query)
        finally:
            embedded.set()

    asked: list[tuple[int, bool]] = []
    lookups = news_archive.store.lookups
    original = lookups.chunk_facts

    def recording(chunk_ids):
        ids = list(chunk_ids)
        asked.extend((c, embedded.is_set()) for c in ids)
        return original(ids)

    monkeypatch.setattr(hybrid, "embed_query", embed_query)
    monkeypatch.setattr(lookups, "chunk_facts", recording)
    response = search(news_archive, "Sudan prime minister Hamdok resigns", k=3)
    assert response.results[0].title == "Sudan prime minister Hamdok resigns"
    ids = [c for c, _ in asked]
    assert len(ids) == len(set(ids)), "a chunk's facts were read twice"
    assert set(ids) == set(news_archive.store.chunk_ids())  # a tiny archive: every chunk is a candidate
    assert asked[0][1] is False, "the keyword candidates' facts waited for the embedding"


def test_warming_reads_what_ranking_reads_of_every_chunk(news_archive: Archive) -> None:
    assert news_archive.store.lookups.read_facts() == news_archive.store.count("chunks") > 0
    plans = [row[3] for sql in WARM_SQL for row in news_archive.store.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert all("COVERING INDEX" in plan for plan in plans), plans  # the indexes alone, not the text pages
    news_archive.warm()  # the model, its question trace and those pages: no error on a real archive


def test_warming_an_empty_archive_reads_nothing(archive: Archive) -> None:
    assert archive.store.lookups.read_facts() == 0
