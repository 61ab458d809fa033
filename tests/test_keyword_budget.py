"""The keyword stage's cost bound: common terms are dropped once their chunk matches exceed a budget."""

from __future__ import annotations

from index.search.keywords import rarest_terms

from .conftest import make_article


def test_terms_are_taken_rarest_first_until_their_matches_exceed_the_budget(archive):
    articles = [make_article(n, text=f"Common words everywhere. Story {n} about topic{n}.") for n in range(30)]
    articles[0].text += " A rare zebra appears."
    archive.ingest(articles, progress=False)
    lookups = archive.store.lookups
    terms = ["common", "zebra", "everywhere"]
    found = rarest_terms(lookups, terms)
    assert found[0] == "zebra"
    assert set(found) == set(terms)
    assert rarest_terms(lookups, terms, max_postings=10) == ["zebra"]  # "common" alone matches 30 chunks
    assert rarest_terms(lookups, ["common"], max_postings=10) == []


def test_a_share_cap_drops_terms_in_most_chunks_once_the_archive_is_large(archive, monkeypatch):
    import index.search.keywords as keywords

    archive.ingest(
        [make_article(n, text=f"Common words everywhere. Story about topic{n}.") for n in range(30)], progress=False
    )
    lookups = archive.store.lookups
    assert "common" in rarest_terms(lookups, ["common", "story"], common_share=0.05)  # small: nothing too common
    monkeypatch.setattr(keywords, "COMMON_FLOOR", 0)
    assert rarest_terms(lookups, ["common", "topic3"], common_share=0.05) == ["topic3"]
    # the default drops no share (it cost ranking at full size): only the postings bound applies
    assert rarest_terms(lookups, ["common", "topic3"]) == ["topic3", "common"]
