"""max_length="auto": small training sets read longer texts, within the checkpoint's limit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import NEUTRAL, build_tiny_checkpoint, make_sentiment_texts
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sklattn import AttentionClassifier, AttentionEmbedder, AttentionRegressor, AttentionTokenClassifier
from sklattn._text import small_data

FAST = {"max_epochs": 1, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def long_checkpoint(tmp_path_factory) -> str:
    """The tiny BERT with 300 positions, room for both automatic lengths."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert-300"), max_positions=300)


def long_texts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sentiment texts padded with 300 neutral words, so any window truncates them."""
    X, y = make_sentiment_texts(n, seed=seed)
    filler = " ".join(np.random.default_rng(seed).choice(NEUTRAL, size=300))
    return np.array([f"{text} {filler}" for text in X], dtype=object), y


def read_tokens(model, text: str) -> int:
    """Word pieces the fitted model reads of ``text`` (special tokens left out)."""
    return len(model.explain([text])[0]["tokens"])


@pytest.mark.parametrize("n_texts, limit, expected", [
    (1, None, 256), (255, None, 256), (256, None, 128), (100_000, None, 128),
    (10, 512, 256), (10, 200, 200), (5000, 64, 64), (10, 64, 64),
])
def test_auto_max_length_rule(n_texts, limit, expected):
    assert small_data.auto_max_length(n_texts, limit) == expected


def test_small_data_reads_256_tokens(long_checkpoint):
    X, y = long_texts(24)
    clf = AttentionClassifier(long_checkpoint, **FAST).fit(X, y)
    assert clf.max_length == "auto" and clf.max_length_ == 256
    assert read_tokens(clf, X[0]) == 256 - 2  # [CLS] and [SEP] take two
    explicit = AttentionClassifier(long_checkpoint, max_length=128, **FAST).fit(X, y)
    assert explicit.max_length_ == 128 and read_tokens(explicit, X[0]) == 126


def test_large_data_reads_128_tokens(long_checkpoint, monkeypatch):
    monkeypatch.setattr(small_data, "AUTO_LONG_CONTEXT_BELOW", 20)
    X, y = long_texts(24)
    auto = AttentionClassifier(long_checkpoint, **FAST).fit(X, y)
    assert auto.max_length_ == 128 and read_tokens(auto, X[0]) == 126
    # the same model as an explicit max_length=128: same tokens, same training
    explicit = AttentionClassifier(long_checkpoint, max_length=128, **FAST).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), explicit.predict_proba(X))


def test_auto_stays_within_the_checkpoint_limit(tiny_checkpoint):
    X, y = make_sentiment_texts(24)
    reg = AttentionRegressor(tiny_checkpoint, **FAST).fit(X, (y == "pos").astype(float))
    assert reg.max_length_ == 64  # the tiny checkpoint's 64 positions, not 256
    with pytest.raises(ValueError, match="max_length=128 exceeds the 64 positions"):
        AttentionRegressor(tiny_checkpoint, max_length=128, **FAST).fit(X, (y == "pos").astype(float))


def test_the_first_fit_fixes_the_length(long_checkpoint, monkeypatch):
    X, y = long_texts(24)
    clf = AttentionClassifier(long_checkpoint, **FAST).fit(X, y)
    monkeypatch.setattr(small_data, "AUTO_LONG_CONTEXT_BELOW", 20)  # would now pick 128
    clf.partial_fit(X, y)
    assert clf.max_length_ == 256 and read_tokens(clf, X[0]) == 254
    assert clf.fit(X, y).max_length_ == 128  # a new fit resolves again


def test_resolved_length_and_long_text_survive_clone_pickle_and_save(long_checkpoint, tmp_path):
    import sklattn

    X, y = long_texts(24)
    clf = AttentionClassifier(long_checkpoint, **FAST).fit(X, y)
    assert clone(clf).get_params()["max_length"] == clone(clf).get_params()["long_text"] == "auto"
    assert not hasattr(clone(clf), "max_length_") and not hasattr(clone(clf), "long_text_")
    clf.save(tmp_path / "model")
    for restored in (pickle.loads(pickle.dumps(clf)), sklattn.load(tmp_path / "model")):
        assert restored.max_length_ == 256 and restored.long_text_ == "chunk_sample"
        np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_tagger_windows_follow_the_resolved_length(tiny_checkpoint):
    sentences = [["the", "film", "was", "good"], ["a", "bad", "plot"]] * 6
    tags = [["O", "O", "O", "POS"], ["O", "NEG", "O"]] * 6
    tagger = AttentionTokenClassifier(tiny_checkpoint, **FAST).fit(sentences, tags)
    assert tagger.max_length_ == 64 and tagger._stride() == 16
    assert len(tagger.predict(sentences)) == len(sentences)


@pytest.mark.parametrize("name", ["max_length", "long_text"])
def test_embedder_has_no_auto_length_or_long_text(tiny_checkpoint, name):
    # Embedding without training has no training-set size to pick by.
    with pytest.raises(InvalidParameterError, match=name):
        AttentionEmbedder(tiny_checkpoint, **{name: "auto"}).fit(["a film"])
