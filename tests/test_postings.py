"""The in-memory keyword index: FTS5's own ranking from numpy arrays, kept in step with the store, and
FTS5 answering whenever the index does not cover exactly the store's chunks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from index.archive import Archive
from index.keyword_index import POSTINGS_FILE
from index.search import hybrid, keyword_candidates, search
from index.search.keywords import index_terms, keyword_query, question_terms
from index.store.lookups import NO_FILTER
from index.store.postings import MAX_SEGMENTS, TITLE_WEIGHT, Postings, tokens

from .conftest import NEWS, make_article

QUESTIONS = [
    "Which continent will require a common phone charger?",
    "Why did the Sudan prime minister Hamdok resign?",
    "What did the Kremlin expect from Macron's visit to Moscow?",
    "Did wheat prices jump after the invasion?",
    "Story topic3 detail3 and topic7",
]


def fts5(archive: Archive, question: str) -> list[tuple[int, float]]:
    expression = keyword_query(archive.store.lookups, question)
    return archive.store.lookups.keyword_matches(expression, 200, TITLE_WEIGHT, NO_FILTER) if expression else []


def in_memory(archive: Archive, postings: Postings, question: str) -> list[tuple[int, float]]:
    return postings.score(index_terms(archive.store.lookups, question), 200)


def assert_same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [c for c, _ in got] == [c for c, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-9, atol=1e-12)


@pytest.fixture
def many(archive: Archive) -> Archive:
    archive.ingest([*NEWS, *(make_article(n) for n in range(30))], progress=False)
    return archive


def current(archive: Archive) -> Postings:
    postings = archive.keywords.postings
    assert postings is not None, "the keyword index does not cover the store"
    return postings


def test_the_index_counts_chunks_per_term_as_fts5_and_chooses_the_same_terms(many):
    from index.search.keywords import document_counts, stem

    postings, lookups = current(many), many.store.lookups
    stems = sorted({stem(t) for q in QUESTIONS for t in question_terms(q)} | {"zzzunknown"})
    counted = document_counts(lookups, stems, postings)
    assert counted == {**{s: lookups.term_count(s) for s in stems}, None: lookups.chunk_count()}
    assert counted["kremlin"] > 0 and counted["zzzunknown"] == 0
    for question in QUESTIONS:
        assert index_terms(lookups, question, postings) == index_terms(lookups, question)


def test_a_removed_chunk_is_not_counted():
    postings = Postings.empty()
    postings.add([(1, "Wheat prices", "wheat jumped"), (2, None, "wheat fell"), (3, None, "oil rose")])
    assert postings.document_count("wheat") == 2
    postings.remove(np.array([2]))
    assert (postings.document_count("wheat"), postings.document_count("oil"), postings.docs) == (1, 1, 2)


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_index_ranks_and_scores_as_fts5_does(many, question):
    want = fts5(many, question)
    assert want, "the question matches nothing: the comparison would be empty"
    assert_same_ranking(in_memory(many, current(many), question), want)


def test_search_takes_its_keyword_ranking_from_the_index(many, monkeypatch):
    want = fts5(many, QUESTIONS[0])

    def no_fts5(*args, **kwargs):
        raise AssertionError("FTS5 was asked although the index is current")

    monkeypatch.setattr(many.store.lookups, "keyword_matches", no_fts5)
    assert_same_ranking(keyword_candidates(many, QUESTIONS[0], 200), want)
    assert search(many, QUESTIONS[0], k=1).results[0].title == "EU agrees common phone charger rule"


def test_phrases_and_filters_still_go_to_fts5(many, monkeypatch):
    asked = []
    original = many.store.lookups.keyword_matches
    monkeypatch.setattr(many.store.lookups, "keyword_matches", lambda *a: asked.append(a) or original(*a))
    keyword_candidates(many, "Sudan prime minister Hamdok", 50, tuning=hybrid.Tuning(phrases="names"))
    keyword_candidates(many, "Sudan prime minister Hamdok", 50, only=hybrid.ChunkFilter(outlets=("Reuters",)))
    assert len(asked) == 2


def test_added_in_parts_removed_and_merged_it_scores_as_built_at_once(many):
    rows = [(c.id, c.title, c.text) for c in many.store.chunks(many.store.chunk_ids()).values()]
    whole = Postings.empty()
    whole.add(rows)
    parts = Postings.empty()
    for n in range(0, len(rows), 3):  # more segments than MAX_SEGMENTS: merged on the way
        parts.add(rows[n : n + 3])
    assert len(parts.state.segments) <= MAX_SEGMENTS  # merged on the way, not left at one a batch
    for question in QUESTIONS:
        terms = [t for term in question_terms(question) for t in tokens(term)]
        assert_same_ranking(parts.score(terms, 50), whole.score(terms, 50))
    gone = np.array([rows[0][0]])
    parts.remove(gone)
    assert rows[0][0] not in {c for c, _ in parts.score(tokens(rows[0][2]), 1000)}
    assert parts.docs == whole.docs - 1


def test_a_changed_article_leaves_no_stale_chunks(many):
    updated = make_article(3, text="Story number 3 now tells about a completely different zeppelin topic.")
    many.ingest([updated], progress=False)
    postings = current(many)
    assert set(postings.chunk_ids().tolist()) == set(many.store.chunk_ids())
    assert_same_ranking(in_memory(many, postings, "zeppelin topic3"), fts5(many, "zeppelin topic3"))


def test_another_process_reads_the_saved_index_and_sees_later_ingests(many, fake_config):
    from index.embedding import FakeEmbedder

    reader = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    assert_same_ranking(in_memory(reader, current(reader), QUESTIONS[1]), fts5(many, QUESTIONS[1]))
    many.ingest(
        [make_article(99, title="Zeppelin returns", text="A zeppelin flew over the bay today.")], progress=False
    )
    reader.refresh()
    assert [c for c, _ in in_memory(reader, current(reader), "zeppelin")] == [c for c, _ in fts5(many, "zeppelin")]
    assert search(reader, "zeppelin over the bay", k=1).results[0].title == "Zeppelin returns"


def test_a_broken_index_file_is_reported_and_fts5_answers_until_the_next_sync(many, fake_config, caplog):
    from index.embedding import FakeEmbedder

    (many.data_dir / POSTINGS_FILE).write_bytes(b"not an index")
    with caplog.at_level(logging.WARNING):
        reopened = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    assert reopened.keywords.postings is None
    assert any("keyword index" in r.getMessage() and "unreadable" in r.getMessage() for r in caplog.records)
    assert search(reopened, QUESTIONS[0], k=1).results[0].title == "EU agrees common phone charger rule"
    reopened.sync(progress=False)
    assert_same_ranking(in_memory(reopened, current(reopened), QUESTIONS[0]), fts5(reopened, QUESTIONS[0]))


def test_an_index_that_misses_chunks_is_not_used(many):
    postings = current(many)
    postings.remove(postings.chunk_ids()[:1])  # as if saved before another process's write
    many.keywords.reload()
    assert many.keywords.postings is None
    assert search(many, QUESTIONS[0], k=1).results[0].title == "EU agrees common phone charger rule"


def test_a_rebuild_indexes_the_new_chunks(many):
    before = set(many.store.chunk_ids())
    many.rebuild(progress=False)
    postings = current(many)
    assert set(postings.chunk_ids().tolist()) == set(many.store.chunk_ids()) and not before & set(
        many.store.chunk_ids()
    )
    assert_same_ranking(in_memory(many, postings, QUESTIONS[2]), fts5(many, QUESTIONS[2]))


def test_an_index_file_of_another_format_is_not_read(many, fake_config):
    from index.embedding import FakeEmbedder

    path = many.data_dir / POSTINGS_FILE
    with open(path, "wb") as out:  # arrays of a file without the format mark, as a newer or older layout
        np.savez(out, lengths=np.ones(3, np.float32), live=np.ones(3, bool))
    reopened = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    assert reopened.keywords.postings is None
    reopened.sync(progress=False)
    assert_same_ranking(in_memory(reopened, current(reopened), QUESTIONS[3]), fts5(reopened, QUESTIONS[3]))


def test_a_rebuild_by_another_process_is_picked_up_once_its_index_is_saved(many, fake_config, monkeypatch):
    from index.embedding import FakeEmbedder

    server = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    with monkeypatch.context() as patch:
        patch.setattr(many.keywords, "sync", lambda progress: 0)  # the writer has swapped, not yet saved
        many.rebuild(progress=False)
    server.refresh()
    assert server.keywords.postings is None, "an index of the old chunk ids was used"
    many.keywords.sync(progress=False)  # saved after the writer's last database write
    server.refresh()
    assert set(current(server).chunk_ids().tolist()) == set(server.store.chunk_ids())
    assert_same_ranking(in_memory(server, current(server), QUESTIONS[0]), fts5(server, QUESTIONS[0]))


def test_a_question_with_diacritics_finds_what_fts5_folded(archive):
    archive.ingest(
        [make_article(1, title="Naïve école", text="A naïve école in Besançon reopened today.")], progress=False
    )
    question = "Which naïve école in Besançon?"  # every content word has a diacritic
    assert fts5(archive, question), "the folded terms match nothing in FTS5"
    assert_same_ranking(in_memory(archive, current(archive), question), fts5(archive, question))


def segment_files(archive: Archive) -> dict[str, int]:
    """Each segment file of the saved index with its inode (a rewritten file gets a new one)."""
    folder = (archive.data_dir / POSTINGS_FILE).parent
    return {p.name: p.stat().st_ino for p in folder.glob("*.npz") if p.name != "index.npz"}


def test_a_sync_writes_its_new_segment_and_leaves_the_saved_ones_alone(many):
    before = segment_files(many)
    assert len(before) == 1
    many.ingest([make_article(77, title="Zeppelin returns", text="A zeppelin flew over the bay.")], progress=False)
    after = segment_files(many)
    assert {n: after[n] for n in before} == before, "a saved segment was rewritten"
    (new,) = set(after) - set(before)
    folder = (many.data_dir / POSTINGS_FILE).parent
    assert (folder / new).stat().st_size < min((folder / n).stat().st_size for n in before)


def test_merged_segments_leave_no_files_behind_and_the_saved_index_reads_back_the_same(many, fake_config):
    from index.embedding import FakeEmbedder

    for n in range(MAX_SEGMENTS + 2):
        many.ingest([make_article(200 + n, text=f"Update {n} about the zeppelin fleet.")], progress=False)
    listed = {s.name + ".npz" for s in current(many).state.segments}
    assert len(listed) <= MAX_SEGMENTS
    assert set(segment_files(many)) == listed
    reader = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    assert_same_ranking(in_memory(reader, current(reader), "zeppelin fleet"), fts5(many, "zeppelin fleet"))


def test_a_lost_segment_is_reported_and_the_next_sync_rebuilds_the_index(many, fake_config, caplog):
    from index.embedding import FakeEmbedder

    folder = (many.data_dir / POSTINGS_FILE).parent
    for name in segment_files(many):
        (folder / name).unlink()
    with caplog.at_level(logging.WARNING):
        reopened = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
        assert reopened.keywords.postings is None
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    reopened.sync(progress=False)
    assert_same_ranking(in_memory(reopened, current(reopened), QUESTIONS[1]), fts5(reopened, QUESTIONS[1]))


def test_the_one_file_index_of_before_is_replaced_and_cut_short_saves_are_cleaned(many, fake_config):
    from index.embedding import FakeEmbedder
    from index.keyword_index import LEGACY_FILE

    (many.data_dir / LEGACY_FILE).write_bytes(b"an index of format 1")
    leftover = (many.data_dir / POSTINGS_FILE).parent / "cut-short.npz.tmp"
    leftover.write_bytes(b"half")
    reopened = Archive(many.data_dir, fake_config, embedder=FakeEmbedder())
    assert not leftover.exists()
    many.ingest([make_article(300, text="One more story.")], progress=False)
    assert not (many.data_dir / LEGACY_FILE).exists()
    reopened.refresh()
    assert set(current(reopened).chunk_ids().tolist()) == set(many.store.chunk_ids())


def test_a_sync_that_finds_nothing_new_writes_nothing(many):
    listed = many.data_dir / POSTINGS_FILE
    before = (listed.stat().st_ino, segment_files(many))
    assert many.keywords.sync(progress=False) == 0
    many.sync(progress=False)
    assert (listed.stat().st_ino, segment_files(many)) == before
    assert_same_ranking(in_memory(many, current(many), QUESTIONS[4]), fts5(many, QUESTIONS[4]))
