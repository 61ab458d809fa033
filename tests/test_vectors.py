"""The vector index by size: exact and approximate kinds, removal, saved parameters, auto choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.archive import Archive, ArchiveConfig
from index.embedding import FakeEmbedder
from index.store.vectors import FLAT_LIMIT, VectorIndex, choose_kind, default_params, ivf_lists, parse_setting

from .conftest import make_article

DIM = 32
APPROXIMATE = {"ivf": {"nprobe": 16}, "hnsw": {"efSearch": 64}}


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 topics, like embeddings (uniform random ones have no neighbours)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    points = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def filled(kind: str, n: int = 3000, params: dict | None = None) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    vectors, ids = clustered(n), np.arange(n, dtype=np.int64) * 7 + 100  # ids unlike positions
    flat = VectorIndex.create(DIM)
    flat.add(ids, vectors)
    index = flat if kind == "flat" else flat.converted(kind, params)
    return index, ids, vectors


def recall_at_10(index: VectorIndex, exact: VectorIndex, queries: np.ndarray) -> float:
    _, found = index.search(queries, 10)
    _, truth = exact.search(queries, 10)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def test_auto_is_exact_below_the_limit_and_ivf_above():
    assert choose_kind(FLAT_LIMIT - 1) == "flat"
    assert choose_kind(FLAT_LIMIT) == "ivf"
    assert choose_kind(10, "hnsw") == "hnsw"
    assert choose_kind(10**7, "flat") == "flat"
    assert parse_setting("ivf:nlist=256,nprobe=12") == ("ivf", {"nlist": 256, "nprobe": 12})
    assert parse_setting("HNSW:efsearch=80") == ("hnsw", {"efSearch": 80})
    with pytest.raises(ValueError):
        parse_setting("annoy")


def test_ivf_lists_grow_with_the_archive_and_stay_trainable():
    assert ivf_lists(1_000_000) == 4096
    assert ivf_lists(300_000) == 2048
    assert all(ivf_lists(n) * 50 <= max(n, 50) for n in (1, 49, 3000, 120_000))
    assert default_params("ivf", 1_000_000)["nprobe"] <= 4096


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_against_exact_search(kind):
    index, _, vectors = filled(kind, params=APPROXIMATE[kind])
    exact, _, _ = filled("flat")
    queries = clustered(200, seed=1)
    assert index.kind == kind
    assert recall_at_10(index, exact, queries) >= 0.9
    assert recall_at_10(index, exact, vectors[:100]) >= 0.9


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_removed_ids_are_gone_and_the_rest_keep_their_ids(kind):
    index, ids, vectors = filled(kind, n=2000, params=APPROXIMATE.get(kind))
    gone = ids[100:300]
    assert index.remove(gone) == len(gone)
    assert len(index) == len(ids) - len(gone)
    assert set(index.ids().tolist()) == set(ids.tolist()) - set(gone.tolist())
    _, found = index.search(vectors[100:300], 10)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    _, self_hits = index.search(vectors[500:600], 1)  # IDMap2 over IVF would now answer with shifted ids
    assert np.mean(self_hits[:, 0] == ids[500:600]) >= 0.95
    index.add(gone[:5], vectors[100:105])
    assert set(index.search(vectors[100:105], 1)[1][:, 0].tolist()) <= set(gone[:5].tolist())


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_a_filtered_search_returns_only_allowed_ids_and_finds_them(kind):
    index, ids, vectors = filled(kind, params=APPROXIMATE.get(kind))
    allowed = ids[::97]  # ~1% of the archive, as a narrow date window would be
    _, found = index.search(vectors[:5], 10, allowed)
    hits = found[found >= 0]
    assert set(hits.tolist()) <= set(allowed.tolist())
    assert len(hits) >= 5 * 8


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_save_and_load_keep_kind_and_parameters(kind, tmp_path):
    index, ids, vectors = filled(kind, n=2000, params={"ivf": {"nprobe": 7}, "hnsw": {"efSearch": 33}}.get(kind))
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", params=index.params)
    assert (loaded.kind, loaded.params, len(loaded)) == (kind, index.params, len(index))
    np.testing.assert_array_equal(loaded.search(vectors[:20], 5)[1], index.search(vectors[:20], 5)[1])
    if kind != "flat":
        deeper = VectorIndex.load(tmp_path / "v.faiss", params={"nprobe": 9, "efSearch": 40})
        assert deeper.params.get("nprobe", deeper.params.get("efSearch")) in (9, 40)


def test_an_empty_index_answers_nothing():
    index = VectorIndex.create(DIM)
    scores, ids = index.search(clustered(2), 10)
    assert scores.shape == (2, 0)
    assert ids.shape == (2, 0)
    assert index.remove(np.array([1])) == 0


def test_an_archive_settles_into_its_kind_records_it_and_removes_on_update(tmp_path):
    config = ArchiveConfig(model="fake", chunk_tokens=60, overlap_tokens=12, index_kind="ivf:nprobe=3")
    archive = Archive(tmp_path / "data", config, embedder=FakeEmbedder(dimension=DIM))
    archive.ingest([make_article(n) for n in range(120)], progress=False)
    meta = archive.store.meta()
    assert meta["index_kind"] == "ivf"
    assert json.loads(meta["index_params"])["nprobe"] == 3
    assert float(meta["index_build_seconds"]) >= 0
    assert archive.check() == []
    archive.ingest([make_article(5, text="A corrected story about something else entirely.")], progress=False)
    assert set(archive.vectors.ids().tolist()) == set(archive.store.chunk_ids())
    archive.close()
    reopened = Archive(tmp_path / "data", config, embedder=FakeEmbedder(dimension=DIM))
    assert reopened.vectors.kind == "ivf"
    assert reopened.vectors.params["nprobe"] == 3
    assert reopened.check() == []
    reopened.close()


def test_a_single_question_searches_on_one_thread_and_leaves_the_callers_count() -> None:
    import threading

    import faiss

    index, ids, vectors = filled("flat", 500)
    seen: list[int] = []

    def one_thread_probe() -> None:
        faiss.omp_set_num_threads(2)
        _, found = index.search(vectors[:1], 5)
        seen.extend([int(found[0][0]), faiss.omp_get_max_threads()])

    probe = threading.Thread(target=one_thread_probe)
    probe.start()
    probe.join()
    assert seen[0] == ids[0]  # the vector itself is its own best match
    assert seen[1] == 2  # restored after the search
    _, batch = index.search(vectors[:3], 1)
    assert [int(i) for i in batch[:, 0]] == [int(i) for i in ids[:3]]


def test_an_ivf_gives_back_its_vectors_by_chunk_id_after_removal_and_reload(tmp_path) -> None:
    index, ids, vectors = filled("ivf", 3000, {"nlist": 32})
    found = index.stored([int(ids[5]), int(ids[6]), 999_999])
    assert found is not None
    assert sorted(found) == [int(ids[5]), int(ids[6])]  # an id it does not hold is left out
    assert float(found[int(ids[5])] @ vectors[5]) > 0.99  # decoded from 8-bit codes
    index.remove(np.array([ids[5]]))
    index.save(tmp_path / "v.faiss")
    again = VectorIndex.load(tmp_path / "v.faiss")
    found = again.stored([int(ids[5]), int(ids[6])])
    assert found is not None
    assert list(found) == [int(ids[6])]
    assert float(found[int(ids[6])] @ vectors[6]) > 0.99
