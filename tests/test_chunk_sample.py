"""long_text="chunk_sample": training reads one drawn window per long text, prediction every window."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import NEUTRAL, make_sentiment_texts, texts_with_cue_at_the_end

from sklattn import AttentionClassifier, AttentionEmbedder
from sklattn._text import base, data
from sklattn._text.data import PadCollate, sample_window

FAST = {"max_epochs": 2, "batch_size": 8, "max_length": 16, "random_state": 0}


def long_texts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Texts of 2-3 windows at ``max_length=16``, the sentiment words at the end."""
    X, y = make_sentiment_texts(n, seed=seed)
    rng = np.random.default_rng(seed)
    texts = [f"{' '.join(rng.choice(NEUTRAL, size=rng.integers(14, 30)))} {text}" for text in X]
    return np.array(texts, dtype=object), y


def encoder_rows(model) -> list:
    """Rows (windows) of every encoder call, (training flag, rows), recorded from now on."""
    calls = []
    model.module_.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append((module.training, kwargs["input_ids"].shape[0])),
        with_kwargs=True)
    return calls


def chunked_item(lengths: list[int]) -> dict:
    return {"input_ids": [np.arange(n, dtype=np.int64) + 5 for n in lengths],
            "token_type_ids": [np.zeros(n, dtype=np.int64) for n in lengths]}


def test_a_window_is_drawn_in_proportion_to_its_tokens():
    item = chunked_item([90, 10])
    torch.manual_seed(0)
    picks = [len(sample_window(item)["input_ids"][0]) for _ in range(2000)]
    assert 0.87 < np.mean(np.array(picks) == 90) < 0.93
    drawn = sample_window(item)
    assert len(drawn["input_ids"]) == len(drawn["token_type_ids"]) == 1
    assert len(drawn["input_ids"][0]) == len(drawn["token_type_ids"][0])  # the same window
    single = chunked_item([7])
    assert sample_window(single) is single


def test_a_sampling_collate_keeps_one_window_per_text():
    items = [(chunked_item([16, 16, 9]), 0), (chunked_item([12]), 1), (chunked_item([16, 4]), 0)]
    torch.manual_seed(0)
    batch, targets = PadCollate(0, sample_windows=True)(items)
    assert batch["chunk_owner"].tolist() == [0, 1, 2]
    assert batch["input_ids"].shape[0] == 3 and targets.tolist() == [0, 1, 0]
    every, _ = PadCollate(0)(items)
    assert every["chunk_owner"].tolist() == [0, 0, 0, 1, 2, 2]


def test_training_reads_one_window_per_text_and_prediction_all(tiny_checkpoint):
    X, y = long_texts(24)
    clf = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    n_windows = int(clf._dataset_for_prediction(clf._prediction_texts(X)).windows.sum())
    assert n_windows > len(X) * 2  # the texts are long: 2-3 windows each
    calls = encoder_rows(clf)
    clf.partial_fit(X, y)  # more epochs, in batches of 8 texts
    training_rows = [rows for training, rows in calls if training]
    assert len(training_rows) % 3 == 0 and set(training_rows) == {8}
    calls.clear()
    clf.predict_proba(X)
    assert sum(rows for _, rows in calls) == n_windows


def test_prediction_is_chunk_mean_of_the_same_weights(tiny_checkpoint):
    X, y = long_texts(24)
    clf = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    proba = clf.predict_proba(X)
    clf.long_text_ = "chunk_mean"
    np.testing.assert_array_equal(proba, clf.predict_proba(X))


def test_training_differs_from_chunk_mean_and_is_seeded(tiny_checkpoint):
    X, y = long_texts(24)
    first = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    again = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    every = AttentionClassifier(tiny_checkpoint, long_text="chunk_mean", **FAST).fit(X, y)
    assert not np.allclose(first.predict_proba(X), every.predict_proba(X))


def test_validation_reads_every_window(tiny_checkpoint):
    X, y = long_texts(24)
    clf = AttentionClassifier(tiny_checkpoint, long_text="chunk_sample", **FAST).fit(X, y)
    dataset = clf._dataset_for_prediction(clf._prediction_texts(X))
    assert clf.get_iterator(dataset, training=True).collate_fn.sample_windows
    assert not clf.get_iterator(dataset, training=False).collate_fn.sample_windows
    clf.long_text_ = "chunk_mean"
    assert not clf.get_iterator(dataset, training=True).collate_fn.sample_windows


@pytest.mark.parametrize("long_text, counts_windows", [("chunk_sample", False), ("chunk_mean", True)])
def test_the_epoch_rule_counts_what_a_pass_encodes(tiny_checkpoint, monkeypatch, long_text, counts_windows):
    X, y = long_texts(24)
    seen = []

    def recording(batches_per_epoch, finetune, n_texts, n_windows):
        seen.append((n_texts, n_windows))
        return 1

    monkeypatch.setattr(base, "auto_max_epochs", recording)
    params = {**FAST, "max_epochs": "auto"}
    AttentionClassifier(tiny_checkpoint, long_text=long_text, **params).fit(X, y)
    (n_texts, n_windows), = seen
    assert n_texts == 24
    assert (n_windows > 48) if counts_windows else (n_windows == 24)


@pytest.mark.parametrize("long_text, draws", [("chunk_sample", True), ("chunk_mean", False)])
def test_the_embedder_fine_tunes_on_drawn_windows(tiny_checkpoint, monkeypatch, long_text, draws):
    X, y = long_texts(16)
    drawn = []

    def recording(features):
        drawn.append(len(features["input_ids"]))
        return sample_window(features)

    monkeypatch.setattr(data, "sample_window", recording)
    embedder = AttentionEmbedder(tiny_checkpoint, max_length=16, long_text=long_text, fine_tune=True,
                                 max_epochs=1, random_state=0)
    vectors = embedder.fit(X, y).transform(X)
    assert vectors.shape[0] == 16 and np.isfinite(vectors).all()
    assert (len(drawn) == 16 and max(drawn) > 1) if draws else not drawn


def test_a_cue_in_one_window_is_learned_but_less_than_from_every_window(tiny_checkpoint):
    # The README's limit of drawn windows: 30 filler words, then the deciding word,
    # so only the last of three windows holds the evidence.
    (X, y), (X_test, y_test) = texts_with_cue_at_the_end(0), texts_with_cue_at_the_end(1)
    params = dict(max_length=16, lr=5e-3, max_epochs=20, batch_size=16, random_state=0,
                  tfidf_blend=False)  # word counts would read the cue anywhere
    scores = {mode: AttentionClassifier(tiny_checkpoint, long_text=mode, **params).fit(X, y).score(X_test, y_test)
              for mode in ("truncate", "chunk_sample", "chunk_mean")}
    assert scores["truncate"] <= 0.6 < 0.7 <= scores["chunk_sample"] < scores["chunk_mean"]
