"""Embedding on a Ray cluster: a real local cluster (one CPU) started here, the real Ray Data pipeline,
real `newsbot` processes joining it by address. Skipped where Ray is not installed (`newsbot[cluster]`)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.archive import Archive, ArchiveConfig
from index.embedding import FakeEmbedder
from index.embedding.ray_cluster import pool_shape, segments
from index.ingest.readers import read_path
from tests.test_resilience import db_value, kill_when, snapshot, write_corpus

CONFIG = ArchiveConfig(model="fake", chunk_tokens=40, overlap_tokens=8)


def test_one_actor_per_gpu_where_there_are_gpus_else_one_per_cpu() -> None:
    assert pool_shape({"CPU": 16.0, "GPU": 2.0}, None) == (2, 1.0)
    assert pool_shape({"CPU": 6.0}, None) == (6, 0.0)
    assert pool_shape({"CPU": 6.0}, 4) == (4, 0.0)
    assert pool_shape({}, None) == (1, 0.0)


def test_segments_group_batches_up_to_a_size_and_keep_the_rest() -> None:
    batches = [(np.arange(i * 3, i * 3 + 3), ["t"] * 3) for i in range(5)]
    groups = list(segments(batches, 7))
    assert [sum(len(b[1]) for b in g) for g in groups] == [9, 6]
    assert np.concatenate([b[0] for g in groups for b in g]).tolist() == list(range(15))


@pytest.fixture(scope="module")
def cluster() -> str:
    """A one-CPU Ray cluster owned by this test process; its GCS address for others to join."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    attempts = 3 if os.environ.get("CI") else 1
    for attempt in range(attempts):  # Ray gives its node 30 s to start, which a busy machine can miss
        try:
            ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception as exc:
            ray.shutdown()
            if "timed out during startup" in str(exc) and not os.environ.get("CI"):
                pytest.skip(f"the Ray node did not start within Ray's 30 s on this busy machine: {exc}")
            if attempt == attempts - 1:
                raise
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_vectors_from_the_cluster_are_the_local_ones(cluster: str, tmp_path: Path) -> None:
    from index.embedding.ray_cluster import RayEmbedder

    corpus = write_corpus(tmp_path / "wire.jsonl", n=30)
    local = Archive(tmp_path / "local", CONFIG, embedder=FakeEmbedder())
    remote_embedder = RayEmbedder(FakeEmbedder(), cluster, segment=64)
    remote = Archive(tmp_path / "remote", CONFIG, embedder=remote_embedder)
    local.ingest(read_path(corpus), progress=False)
    report = remote.ingest(read_path(corpus), progress=False)
    assert report.embedded == remote.store.count("chunks") > 64  # more than one segment went out
    assert snapshot(remote) == snapshot(local)
    local_ids, local_vectors = local.vectors.vectors()
    remote_ids, remote_vectors = remote.vectors.vectors()
    by_id = dict(zip(remote_ids.tolist(), remote_vectors))
    assert np.allclose(np.stack([by_id[i] for i in local_ids.tolist()]), local_vectors, atol=1e-6)


def newsbot(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NEWSBOT_EMBEDDING_MODEL": "fake:delay=0.02", "NEWSBOT_DATA_DIR": str(data),
           "NEWSBOT_CHUNK_TOKENS": str(CONFIG.chunk_tokens), "NEWSBOT_OVERLAP_TOKENS": str(CONFIG.overlap_tokens)}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=data.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_cluster_ingest_is_finished_by_the_next_sync(cluster: str, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "wire.jsonl", n=40)
    data = tmp_path / "data"
    process = newsbot(data, "ingest", str(corpus), "--cluster", cluster, "--quiet")
    total = len(corpus.read_text().splitlines())  # one transaction: all stored, then the embedding starts
    kill_when(process, lambda: db_value(data / "archive.db", "SELECT count(*) FROM articles") == total, timeout=300)
    synced = newsbot(data, "index", "sync", "--cluster", cluster, "--quiet")
    out, err = synced.communicate(timeout=300)
    assert synced.returncode == 0, err
    embedded = int(out.split()[1])
    archive = Archive(data, CONFIG, embedder=FakeEmbedder())
    assert 0 < embedded <= archive.store.count("chunks")
    clean = Archive(tmp_path / "clean", CONFIG, embedder=FakeEmbedder())
    clean.ingest(read_path(corpus), progress=False)
    assert snapshot(archive) == snapshot(clean)
