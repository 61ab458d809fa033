"""Embedding on a Ray cluster: a real local cluster (one CPU) started here, the real Ray Data pipeline,
real `newsbot` processes joining it by address. Skipped where Ray is not installed (`newsbot[cluster]`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.archive import Archive, ArchiveConfig
from index.embedding import FakeEmbedder
from index.embedding.ray_cluster import pool_shape, segments
from index.ingest.readers import read_path
from tests.test_resilience import db_value, kill_when, snapshot, write_corpus
from tests.test_resilience import newsbot as resilience_newsbot

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-CPU Ray head on 127.0.0.1 in its own process group (never Ray inside the test process,
    whose signal handlers it would take over); ended by that group's id."""
    pytest.importorskip("ray.data")
    port = free_port()
    log = (tmp_path_factory.mktemp("ray") / "head.log").open("w")
    head = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=1",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not listening(port) and head.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if not listening(port):
            message = f"the Ray head did not start: {Path(log.name).read_text()[-500:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message + " (a busy machine; CI runs it)")
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()


def test_vectors_from_the_cluster_are_the_local_ones(cluster: str, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "wire.jsonl", n=30)
    local = Archive(tmp_path / "local", CONFIG, embedder=FakeEmbedder())
    local.ingest(read_path(corpus), progress=False)
    process = newsbot(tmp_path / "remote", "ingest", str(corpus), "--cluster", cluster, "--quiet", model="fake")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    remote = Archive(tmp_path / "remote", CONFIG, embedder=FakeEmbedder())
    assert f"{remote.store.count('chunks')} embedded" in out
    assert snapshot(remote) == snapshot(local)
    local_ids, local_vectors = local.vectors.vectors()
    remote_ids, remote_vectors = remote.vectors.vectors()
    by_id = dict(zip(remote_ids.tolist(), remote_vectors))
    assert np.allclose(np.stack([by_id[i] for i in local_ids.tolist()]), local_vectors, atol=1e-6)


def newsbot(data: Path, *args: str, model: str = "fake:delay=0.02") -> subprocess.Popen[str]:
    return resilience_newsbot(data, *args, model=model, config=CONFIG)


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
