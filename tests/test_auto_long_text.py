"""long_text="auto": small training sets read whole long texts in windows; the rest truncates."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NEUTRAL, make_sentiment_texts

from sklattn import AttentionClassifier, AttentionRegressor
from sklattn._text import small_data

FAST = {"max_epochs": 2, "batch_size": 8, "max_length": 16, "random_state": 0}


def ending_texts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Long texts whose sentiment words come only after 30 neutral words.

    At ``max_length=16`` the first window holds neutral words only, so a model
    that truncates cannot tell the classes apart and one that reads every
    window can.
    """
    X, y = make_sentiment_texts(n, seed=seed)
    rng = np.random.default_rng(seed)
    texts = [f"{' '.join(rng.choice(NEUTRAL, size=30))} {text}" for text in X]
    return np.array(texts, dtype=object), y


def first_text_ids(model, X) -> list:
    """The ids the fitted ``model`` reads for ``X[0]`` in prediction: one list per window
    under the chunk modes, one list of ids under ``"truncate"``."""
    return model._dataset_for_prediction(model._prediction_texts(X[:1])).features["input_ids"][0]


@pytest.mark.parametrize("n_texts, n_columns, expected", [
    (1, 1, "chunk_sample"), (255, 1, "chunk_sample"), (256, 1, "truncate"), (100_000, 1, "truncate"),
    (10, 2, "truncate"), (100_000, 2, "truncate"),
])
def test_auto_long_text_rule(n_texts, n_columns, expected):
    assert small_data.auto_long_text(n_texts, n_columns) == expected


def test_small_data_reads_every_window_as_chunk_sample_does(tiny_checkpoint):
    X, y = ending_texts(24)
    auto = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert auto.long_text == "auto" and auto.long_text_ == "chunk_sample"
    assert len(first_text_ids(auto, X)) > 1  # several windows
    chunked = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), chunked.predict_proba(X))
    truncated = AttentionClassifier(tiny_checkpoint, long_text="truncate", **FAST).fit(X, y)
    assert truncated.long_text_ == "truncate"
    assert not np.allclose(auto.predict_proba(X), truncated.predict_proba(X))


def test_short_texts_train_and_predict_as_under_truncate(tiny_checkpoint, sentiment_data):
    # Every text fits one window: one chunk each, the same batches and numbers.
    X, y = sentiment_data
    auto = AttentionClassifier(tiny_checkpoint, max_epochs=2, batch_size=8, random_state=0).fit(X, y)
    assert auto.long_text_ == "chunk_sample"
    truncated = AttentionClassifier(tiny_checkpoint, long_text="truncate", max_epochs=2, batch_size=8,
                                    random_state=0).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), truncated.predict_proba(X))


def test_large_data_truncates(tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(small_data, "AUTO_LONG_CONTEXT_BELOW", 20)
    X, y = ending_texts(24)
    auto = AttentionRegressor(tiny_checkpoint, **FAST).fit(X, (y == "pos").astype(float))
    assert auto.long_text_ == "truncate"
    assert len(first_text_ids(auto, X)) == 16  # one window of ids
    explicit = AttentionRegressor(tiny_checkpoint, long_text="truncate", **FAST).fit(X, (y == "pos").astype(float))
    np.testing.assert_array_equal(auto.predict(X), explicit.predict(X))


def test_sentence_pairs_truncate_under_auto(tiny_checkpoint):
    X, y = make_sentiment_texts(16)
    pairs = np.column_stack([X, X[::-1]])
    clf = AttentionClassifier(tiny_checkpoint, **FAST).fit(pairs, y)
    assert clf.long_text_ == "truncate"
    assert clf.predict_proba(pairs).shape == (16, 2)
    with pytest.raises(ValueError, match="use long_text='truncate' for pairs"):
        AttentionClassifier(tiny_checkpoint, long_text="head_tail", **FAST).fit(pairs, y)


def test_the_first_fit_fixes_the_mode(tiny_checkpoint, monkeypatch):
    X, y = ending_texts(24)
    clf = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    monkeypatch.setattr(small_data, "AUTO_LONG_CONTEXT_BELOW", 20)  # would now truncate
    clf.partial_fit(X, y)
    assert clf.long_text_ == "chunk_sample"
    assert clf.fit(X, y).long_text_ == "truncate"  # a new fit resolves again

