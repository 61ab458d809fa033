"""The static (model2vec) embedder option: `model2vec:PATH`, loaded from a local folder only."""

from __future__ import annotations

import numpy as np
import pytest

from index.archive import Archive, ArchiveConfig
from index.embedding import ModelError, StaticEmbedder, load_embedder

from .conftest import make_article

pytest.importorskip("model2vec")


@pytest.fixture
def static_model(tmp_path):
    """A tiny word-level model2vec model saved to disk, as a distilled one would be."""
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[PAD]", "story", "number", "tells", "about", "it", "has", "a", "second", "sentence", "headline"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    vectors = np.random.default_rng(0).standard_normal((len(words), 16)).astype(np.float32)
    tokenizer.enable_truncation(512)  # as a distilled model's tokenizer comes
    StaticModel(vectors, tokenizer, normalize=True).save_pretrained(str(tmp_path / "m2v"))
    return f"model2vec:{tmp_path / 'm2v'}"


def test_a_static_model_is_selected_by_the_model_setting_and_embeds_unit_vectors(static_model):
    embedder = load_embedder(static_model)
    assert isinstance(embedder, StaticEmbedder)
    assert embedder.name == static_model
    assert embedder.dimension == 16
    vectors = embedder.embed(["story about a headline", "it has a second sentence"])
    assert vectors.shape == (2, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    spans = embedder.token_spans(["story number"])[0]
    assert spans == [(0, 5), (6, 12)]
    assert len(embedder.token_spans(["story " * 2000])[0]) == 2000  # chunking sees every token, untruncated


def test_an_archive_ingests_and_searches_with_a_static_model(static_model, tmp_path):
    archive = Archive(tmp_path / "data", ArchiveConfig(model=static_model))
    report = archive.ingest([make_article(n) for n in range(3)], progress=False)
    assert report.embedded == 3
    assert archive.store.get_meta("embedding_model") == static_model
    archive.close()


def test_a_missing_static_model_is_an_error_not_a_download(tmp_path):
    with pytest.raises(ModelError):
        load_embedder(f"model2vec:{tmp_path / 'nowhere'}")
