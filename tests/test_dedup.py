"""Duplicate stories: one wire story in several outlets, later versions, exact copies."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
from click.testing import CliRunner

from bot.answer import ask
from bot.cli import cli
from index.archive import Archive
from index.article import article_key
from index.embedding import FakeEmbedder
from index.ingest import dedup
from index.search import Filters, search
from index.store import DB_NAME, SCHEMA_VERSION, Store

from .conftest import NEWS, make_article, utc

WIRE = (
    "Dockworkers at the port of Rotterdam walked off the job on Monday in a dispute over automation, "
    "halting the loading of container ships at the largest port in Europe. The union said the strike "
    "would last forty eight hours unless the port operator agreed to guarantee jobs for workers whose "
    "cranes are being replaced by remote controlled machines. The operator said it regretted the action "
    "and that talks with the union had been constructive until last week. Shipping lines warned that "
    "vessels could be diverted to Antwerp and Hamburg if the stoppage continued, adding to congestion "
    "that has already delayed deliveries of consumer goods across the continent. Economists said a long "
    "strike would hit Dutch exports of machinery and chemicals, which rely heavily on the port."
)
OTHER = (
    "The central bank of Chile raised its benchmark interest rate by half a percentage point on Tuesday, "
    "citing inflation that has stayed above its target for more than a year. The board said further "
    "increases could follow if the price of food and fuel kept rising. Analysts had expected a smaller "
    "move, and the peso strengthened against the dollar after the announcement. The finance minister "
    "said the government would support households hit by higher borrowing costs through targeted aid."
)


def version(outlet: str, day: int, *edits: tuple[str, str], tail: str = "", **fields):
    text = WIRE
    for old, new in edits:
        text = text.replace(old, new)
    slug = outlet.lower().replace(" ", "")
    base = dict(
        text=text + tail,
        title=f"Rotterdam dockworkers strike ({outlet})",
        outlet=outlet,
        url=f"https://{slug}.example.com/rotterdam-strike",
        published=utc(2023, 3, day),
    )
    return make_article(0, **{**base, **fields})


REUTERS = version("Reuters", 6)
AP = version("AP News", 7, ("walked off the job", "went on strike"), tail=" Reporting by Anna Visser.")
GUARDIAN = version("The Guardian", 8, ("Economists said", "Analysts said"), ("Monday", "Monday morning"))


def stories(archive: Archive) -> list[set[str]]:
    rows = archive.store.db.execute("SELECT group_id, outlet FROM articles ORDER BY id").fetchall()
    groups: dict[int, set[str]] = {}
    for group_id, outlet in rows:
        groups.setdefault(group_id, set()).add(outlet)
    return sorted(groups.values(), key=len, reverse=True)


def test_a_wire_story_in_three_outlets_is_one_story_and_the_newest_answers(archive):
    archive.ingest([REUTERS, *NEWS, AP, GUARDIAN], progress=False)
    assert stories(archive)[0] == {"Reuters", "AP News", "The Guardian"}
    results = search(archive, "Rotterdam dockworkers strike over automation", k=5).results
    strike = [r for r in results if "Rotterdam" in (r.title or "")]
    assert len(strike) == 1, "one result per story"
    assert strike[0].outlet == "The Guardian"
    assert strike[0].also_in == ["Reuters", "AP News"]
    assert strike[0].passages
    assert all(p.text in GUARDIAN.text for p in strike[0].passages), "quotes come from the answering version"
    assert strike[0].to_json()["also_in"] == ["Reuters", "AP News"]


def test_the_answer_cites_the_newest_version_and_names_the_others(archive):
    archive.ingest([GUARDIAN, AP, REUTERS, *NEWS], progress=False)
    answer = ask(archive, "Why did the Rotterdam dockworkers strike?")
    (citation,) = [c for c in answer.citations if "Rotterdam" in (c.title or "")]
    assert citation.outlet == "The Guardian"
    assert citation.also_in == ["Reuters", "AP News"]
    assert citation.source_line().endswith("also in: Reuters, AP News")
    assert answer.to_json()["citations"][0]["also_in"] == ["Reuters", "AP News"]


def test_a_different_story_is_not_grouped(archive):
    chile = make_article(
        1, text=OTHER, title="Chile raises rates", outlet="Reuters", url="https://reuters.example.com/chile"
    )
    similar_topic = version("Bloomberg", 9, tail=" " + OTHER)  # shares the wire text but doubles in length
    archive.ingest([REUTERS, chile, similar_topic, *NEWS], progress=False)
    assert [len(group) for group in stories(archive)] == [1] * (3 + len(NEWS))
    assert archive.stats().duplicate_groups == 0


def test_grouping_works_across_ingests_and_reopening(archive, tmp_path, fake_config):
    archive.ingest([REUTERS, *NEWS], progress=False)
    archive.close()
    reopened = Archive(archive.data_dir, fake_config, embedder=FakeEmbedder())
    reopened.ingest([AP], progress=False)
    reopened.ingest([GUARDIAN], progress=False)
    assert stories(reopened)[0] == {"Reuters", "AP News", "The Guardian"}
    assert reopened.stats().duplicate_groups == 1
    assert reopened.stats().articles_folded == 2
    reopened.close()


def test_an_updated_version_at_the_same_url_replaces_the_old_one(archive):
    archive.ingest([REUTERS, AP, *NEWS], progress=False)
    update = version("Reuters", 9, tail=" The port operator later said talks would resume on Wednesday.")
    report = archive.ingest([update], progress=False)
    assert report.updated == 1
    assert archive.store.count("articles") == len(NEWS) + 2
    (strike,) = [
        r for r in search(archive, "Rotterdam strike talks resume Wednesday", k=5).results if "Rotterdam" in r.title
    ]
    assert strike.outlet == "Reuters"
    assert strike.published.startswith("2023-03-09")
    assert "resume on Wednesday" in " ".join(p.text for p in strike.passages)
    assert strike.also_in == ["AP News"]
    assert stories(archive)[0] == {"Reuters", "AP News"}


def test_a_version_that_stops_matching_leaves_and_the_group_goes_on(archive):
    archive.ingest([REUTERS, AP, GUARDIAN], progress=False)
    first = archive.store.find_article(article_key(REUTERS))[0]
    archive.ingest([version("Reuters", 9, text=OTHER)], progress=False)  # the URL now holds another story
    assert sorted(map(sorted, stories(archive))) == [["AP News", "The Guardian"], ["Reuters"]]
    group_of_first = archive.store.db.execute("SELECT group_id FROM articles WHERE id = ?", [first]).fetchone()[0]
    assert group_of_first == first


def test_an_exact_copy_is_not_stored_twice_but_is_listed_as_also_in(archive):
    archive.ingest([REUTERS, *NEWS], progress=False)
    copy = replace(REUTERS, url="https://mirror.example.org/rotterdam", outlet="Daily Mirror Example")
    assert archive.ingest([copy], progress=False).duplicates == 1
    assert archive.store.count("articles") == len(NEWS) + 1
    (strike,) = [r for r in search(archive, "Rotterdam dockworkers", k=3).results if "Rotterdam" in r.title]
    assert strike.also_in == ["Daily Mirror Example"]
    assert archive.stats().duplicate_groups == 1
    assert archive.stats().articles_folded == 1


def test_filters_pick_the_newest_version_they_allow(archive):
    archive.ingest([REUTERS, AP, GUARDIAN, *NEWS], progress=False)
    response = search(archive, "Rotterdam dockworkers strike", k=3, filters=Filters(until=utc(2023, 3, 8)))
    (strike,) = [r for r in response.results if "Rotterdam" in r.title]
    assert strike.outlet == "AP News"
    assert strike.also_in == ["Reuters", "The Guardian"]
    response = search(archive, "Rotterdam dockworkers strike", k=3, filters=Filters(outlets=["Reuters"]))
    assert [r.outlet for r in response.results if "Rotterdam" in r.title] == ["Reuters"]


def test_short_texts_are_never_grouped():
    assert dedup.band_buckets(dedup.shingles("Shares rose. Markets closed higher on Friday.")) == []


def test_an_archive_from_before_grouping_is_migrated_and_grouped(tmp_path, fake_config):
    data = tmp_path / "old"
    old = Archive(data, fake_config, embedder=FakeEmbedder())
    old.ingest([REUTERS, AP, *NEWS], progress=False)
    old.close()
    _downgrade_to_schema_1(data / DB_NAME)
    reopened = Archive(data, fake_config, embedder=FakeEmbedder())
    assert reopened.store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert reopened.check() == []
    assert search(reopened, "Rotterdam", k=3).results
    reopened.ingest([GUARDIAN], progress=False)  # a writer groups what the old schema never did
    assert stories(reopened)[0] == {"Reuters", "AP News", "The Guardian"}
    reopened.close()


def _downgrade_to_schema_1(path):
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "DROP INDEX articles_facts; DROP INDEX articles_group; ALTER TABLE articles DROP COLUMN group_id;"
            "DROP TABLE minhash_bands;"
            "DROP TABLE article_copies; DROP TABLE feed_items; DROP TABLE watched_feeds;"
            "UPDATE meta SET value = '1' WHERE key = 'schema_version'; DROP TABLE _sqlite_migrations;"
        )
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(articles)")}
    assert "group_id" not in columns


def test_index_stats_reports_the_groups(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.chdir(tmp_path)
    lines = "\n".join(
        json.dumps(
            {"url": a.url, "title": a.title, "outlet": a.outlet, "text": a.text, "published": a.published.isoformat()}
        )
        for a in (REUTERS, AP, GUARDIAN)
    )
    (tmp_path / "wire.jsonl").write_text(lines + "\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", "wire.jsonl", "--quiet", "--data-dir", "d"]).exit_code == 0
    stats = runner.invoke(cli, ["index", "stats", "--data-dir", "d"]).output
    assert "duplicate groups: 1" in stats
    assert "articles folded: 2" in stats
    found = json.loads(runner.invoke(cli, ["search", "Rotterdam strike", "--json", "--data-dir", "d"]).output)
    assert [(r["outlet"], r["also_in"]) for r in found["results"]] == [("The Guardian", ["Reuters", "AP News"])]


@pytest.mark.parametrize("threshold", [0.8, 0.95])
def test_the_threshold_is_a_setting(tmp_path, fake_config, threshold):
    fake_config.dedup_threshold = threshold
    archive = Archive(tmp_path / str(threshold), fake_config, embedder=FakeEmbedder())
    archive.ingest([REUTERS, AP], progress=False)
    assert len(stories(archive)) == (1 if threshold == 0.8 else 2)
    archive.close()


def test_store_migration_is_idempotent(tmp_path):
    for _ in range(2):
        store = Store(tmp_path / DB_NAME)
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        store.close()
