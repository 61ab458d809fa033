"""Ingest, idempotence, updates, rebuild and consistency, on real SQLite and FAISS files."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from index.archive import Archive, ArchiveError
from index.embedding import FakeEmbedder
from index.ingest.readers import read_path
from index.store import SCHEMA_VERSION
from index.store.vectors import VectorIndex

from .conftest import NEWS, SEED, make_article


def vector_ids(archive: Archive) -> set[int]:
    return set(VectorIndex.load(archive.vectors_path).ids().tolist())


def test_ingest_stores_articles_chunks_fts_and_vectors(archive):
    report = archive.ingest([make_article(n) for n in range(5)], progress=False)
    assert (report.added, report.chunks, report.embedded) == (5, 5, 5)
    assert archive.store.count("articles") == 5
    assert vector_ids(archive) == set(archive.store.chunk_ids())
    hits = archive.store.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'topic3'").fetchall()
    assert len(hits) == 1
    meta = archive.store.meta()
    assert meta["embedding_model"] == "fake"
    assert meta["embedding_dimension"] == "256"
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_ingesting_the_same_articles_again_changes_nothing(archive):
    archive.ingest([make_article(n) for n in range(3)], progress=False)
    before = archive.store.chunk_ids()
    report = archive.ingest([make_article(n) for n in range(3)], progress=False)
    assert (report.added, report.updated, report.unchanged, report.embedded) == (0, 0, 3, 0)
    assert archive.store.chunk_ids() == before


def test_a_changed_article_replaces_its_chunks_and_vectors(archive):
    archive.ingest([make_article(1)], progress=False)
    old = set(archive.store.chunk_ids())
    report = archive.ingest([make_article(1, text="Corrected story. " * 40)], progress=False)
    assert report.updated == 1
    assert archive.store.count("articles") == 1
    new = set(archive.store.chunk_ids())
    assert old.isdisjoint(new), "chunk ids are never reused"
    assert vector_ids(archive) == new
    fts = {r[0] for r in archive.store.db.execute("SELECT rowid FROM chunks_fts")}
    assert fts == new


def test_same_text_under_another_url_is_a_duplicate(archive):
    archive.ingest([make_article(1)], progress=False)
    report = archive.ingest([make_article(1, url="https://mirror.example.org/copy")], progress=False)
    assert report.duplicates == 1
    assert archive.store.count("articles") == 1


def test_articles_without_url_are_keyed_by_content(archive):
    report = archive.ingest([make_article(1, url=None), make_article(1, url=None)], progress=False)
    assert report.added == 1
    assert report.unchanged == 1


def test_problems_are_reported_and_the_rest_is_ingested(archive, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_text(
        '{"url": "https://a.example/1", "title": "A", "text": "Some text here."}\n{broken\n'
    )
    (folder / "seed.txt").write_text(SEED.read_text())
    report = archive.ingest(read_path(folder), progress=False)
    assert report.added == 2
    assert [p.source for p in report.problems] == [f"{folder / 'good.jsonl'}:line 2"]


def test_rebuild_swaps_in_a_new_index_and_removes_the_old(archive):
    archive.ingest(NEWS, progress=False)
    old_path = archive.vectors_path
    count = archive.rebuild(progress=False)
    assert count == archive.store.count("chunks")
    assert archive.vectors_path != old_path
    assert not old_path.exists()
    assert archive.check() == []
    assert archive.store.get_meta("index_build_id") in archive.vectors_path.name


def test_a_crash_during_rebuild_leaves_the_old_index_serving(archive, monkeypatch):
    archive.ingest(NEWS, progress=False)
    before_ids, before_path = archive.store.chunk_ids(), archive.vectors_path

    def explode(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(archive.syncer, "embed_into", explode)
    with pytest.raises(RuntimeError):
        archive.rebuild(progress=False)
    reopened = Archive(archive.data_dir, archive.config, embedder=FakeEmbedder())
    assert reopened.vectors_path == before_path
    assert reopened.store.chunk_ids() == before_ids
    assert reopened.check() == []
    monkeypatch.undo()
    assert reopened.rebuild(progress=False) == len(before_ids)


def test_missing_vectors_are_reported_and_sync_embeds_just_those(archive):
    archive.ingest(NEWS, progress=False)
    ids = archive.store.chunk_ids()
    archive.vectors.remove(np.array(ids[:2]))
    archive.vectors.save(archive.vectors_path)
    reopened = Archive(archive.data_dir, archive.config, embedder=FakeEmbedder())
    assert any("newsbot index sync" in p for p in reopened.check())
    assert reopened.sync(progress=False) == 2
    assert reopened.check() == []


def test_a_model_change_asks_for_a_rebuild(archive):
    archive.ingest(NEWS[:1], progress=False)
    other = Archive(
        archive.data_dir, replace(archive.config, model="fake:32"), embedder=FakeEmbedder(32, name="fake:32")
    )
    with pytest.raises(ArchiveError, match="newsbot index rebuild"):
        other.ingest(NEWS[1:2], progress=False)
    assert other.rebuild(progress=False) > 0
    assert other.check() == []
    assert other.vectors.dimension == 32


def test_one_writer_at_a_time(archive):
    with archive.writing():
        with pytest.raises(ArchiveError, match="another ingest or rebuild"):
            archive.ingest(NEWS, progress=False)


def test_stats(news_archive):
    stats = news_archive.stats()
    assert stats.articles == 4
    assert stats.chunks == stats.vectors >= 4
    assert stats.published_from.startswith("2022-01-02")
    assert stats.published_to.startswith("2022-06-07")
    assert stats.outlets["CNN"] == 1
    assert stats.index_kind == "flat"
    assert stats.index_bytes > 0
    assert stats.problems == ()


def test_rows_handed_to_bot_are_typed_and_frozen(news_archive):
    import dataclasses
    import json

    from index.store.rows import ArchiveStats, ArticleRow

    rows = list(news_archive.store.iter_articles())
    assert len(rows) == 4
    row = next(r for r in rows if r.outlet == "CNN")
    assert isinstance(row, ArticleRow)
    assert row.text.startswith("The prime minister of Sudan")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.title = "changed"  # the point: frozen
    light = news_archive.store.articles([row.id], with_text=False)[row.id]
    assert light == dataclasses.replace(row, text="")
    assert json.loads(json.dumps(row.to_json()))["published"].startswith("2022-01-02")
    stats = news_archive.stats()
    assert isinstance(stats, ArchiveStats)
    assert json.loads(json.dumps(stats.to_json()))["outlets"] == {
        "Reuters": 1,
        "The Moscow Times": 1,
        "CNN": 1,
        "USA Today": 1,
    }


def test_a_bulk_ingest_merges_the_text_index_and_search_still_finds(archive, monkeypatch):
    import index.archive

    calls = []
    real = archive.store.optimize_text_index
    monkeypatch.setattr(archive.store, "optimize_text_index", lambda: calls.append(1) or real())
    archive.ingest([make_article(1)], progress=False)
    assert calls == []  # a small ingest leaves the segments alone
    monkeypatch.setattr(index.archive, "OPTIMIZE_AFTER_CHUNKS", 1)
    archive.ingest(NEWS, progress=False)
    assert calls == [1]
    from index.search import search

    assert search(archive, "Kremlin", k=3).results
