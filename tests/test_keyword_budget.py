"""The keyword stage's cost bound: common terms are dropped once their chunk matches exceed a budget."""
from __future__ import annotations

from index.keywords import rarest_terms

from .conftest import make_article


def test_terms_are_taken_rarest_first_until_their_matches_exceed_the_budget(archive):
    articles = [make_article(n, text=f"Common words everywhere. Story {n} about topic{n}.") for n in range(30)]
    articles[0].text += " A rare zebra appears."
    archive.ingest(articles, progress=False)
    conn = archive.store.db.conn
    terms = ["common", "zebra", "everywhere"]
    found = rarest_terms(conn, terms)
    assert found[0] == "zebra" and set(found) == set(terms)
    assert rarest_terms(conn, terms, max_postings=10) == ["zebra"]  # "common" alone matches 30 chunks
    assert rarest_terms(conn, ["common"], max_postings=10) == []
