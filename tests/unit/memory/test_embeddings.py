import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memory.embeddings import BUNDLED_MODEL_NAME, Embedder, SentenceTransformerEmbedder


def test_bundled_identity(bundled_embedder):
    assert isinstance(bundled_embedder, Embedder)
    assert bundled_embedder.name == BUNDLED_MODEL_NAME == "all-MiniLM-L6-v2"
    assert bundled_embedder.dim == 384
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_shape_dtype_and_unit_rows(bundled_embedder):
    vectors = bundled_embedder.embed(["Classify the review.", "Give the antonym.", "x"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(bundled_embedder):
    empty = bundled_embedder.embed([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


def test_deterministic_across_batches(bundled_embedder):
    alone = bundled_embedder.embed(["Answer with one word."])
    fresh = SentenceTransformerEmbedder(bundled_embedder.model_name_or_path)
    fresh._model = bundled_embedder._model  # same weights, empty memo: really re-encodes
    fresh._dim = bundled_embedder.dim
    in_batch = fresh.embed(["Something else entirely.", "Answer with one word."])
    np.testing.assert_allclose(in_batch[1], alone[0], atol=1e-5)


def test_repeated_texts_come_from_the_memo(bundled_embedder, monkeypatch):
    texts = ["Memo test: translate to French.", "Memo test: sum the numbers."]
    first = bundled_embedder.embed(texts)
    model = bundled_embedder._load()
    encoded: list[list[str]] = []
    original = model.encode

    def spy(inputs, **kwargs):
        encoded.append(list(inputs))
        return original(inputs, **kwargs)

    monkeypatch.setattr(model, "encode", spy)
    again = bundled_embedder.embed([texts[1], "Memo test: new text.", texts[0], texts[1]])
    assert encoded == [["Memo test: new text."]]  # only the unseen text reaches the model
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    np.testing.assert_array_equal(again[3], first[1])


def test_result_is_a_copy(bundled_embedder):
    text = "Copy test: the caller may scribble on the result."
    before = bundled_embedder.embed([text])
    before[:] = 0.0
    np.testing.assert_allclose(np.linalg.norm(bundled_embedder.embed([text])), 1.0, atol=1e-5)


def test_similar_texts_are_closer(bundled_embedder):
    a, b, c = bundled_embedder.embed(
        [
            "Decide whether the movie review is positive or negative.",
            "Classify the sentiment of this film review.",
            "Write the opposite of the given word.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_rejects_a_bare_string(bundled_embedder):
    with pytest.raises(TypeError, match="single str"):
        bundled_embedder.embed("not a list")
    with pytest.raises(TypeError, match="index 1"):
        bundled_embedder.embed(["ok", 3])


def test_name_defaults_to_the_folder_name():
    embedder = SentenceTransformerEmbedder("/models/some-model/", device="cpu")
    assert embedder.name == "some-model"
    assert SentenceTransformerEmbedder("/m/x", name="mine").name == "mine"
    with pytest.raises(ValueError, match="batch_size"):
        SentenceTransformerEmbedder("/m/x", batch_size=0)


def test_import_is_cheap():
    code = (
        "import sys, memory.embeddings; "
        "assert 'sentence_transformers' not in sys.modules; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])
