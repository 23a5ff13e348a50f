"""contrastive_weight: the in-batch pair objective of AttentionClassifier."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import NEGATIVE, NEUTRAL, POSITIVE, make_sentiment_texts
from sklearn.base import clone
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV

import sklattn
from sklattn import AttentionClassifier
from sklattn._text.contrastive import pair_similarity_loss
from sklattn._text import small_data
from sklattn._text.small_data import AUTO_CONTRASTIVE_WEIGHT, SMALL_DATA_BELOW

SMALL = dict(max_length=32, lr=2e-3, max_epochs=6, batch_size=16, random_state=0)


# ------------------------------------------------------------ the loss
def test_pair_loss_is_zero_when_similarities_match_the_labels():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    embeddings = torch.stack([a, 2 * a, b])  # same direction within a class, orthogonal across
    assert pair_similarity_loss(embeddings, torch.tensor([0, 0, 1])).item() == pytest.approx(0.0, abs=1e-6)


def test_pair_loss_counts_every_mismatched_pair():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # Same label but orthogonal: each of the 2 ordered pairs misses by 1.
    assert pair_similarity_loss(torch.stack([a, b]), torch.tensor([1, 1])).item() == pytest.approx(1.0)
    # Texts 0 and 1 are identical but differ in label: 2 of the 6 ordered pairs miss by 1.
    embeddings = torch.stack([a, a, b])
    assert pair_similarity_loss(embeddings, torch.tensor([0, 1, 2])).item() == pytest.approx(2 / 6)
    # Texts 1 and 2 share a label but are orthogonal: 2 more miss by 1.
    assert pair_similarity_loss(embeddings, torch.tensor([0, 1, 1])).item() == pytest.approx(4 / 6)


def test_pair_loss_of_one_text_is_zero_and_gradients_reach_the_embeddings():
    assert pair_similarity_loss(torch.ones(1, 4), torch.tensor([0])).item() == 0.0
    embeddings = torch.randn(6, 4, requires_grad=True)
    pair_similarity_loss(embeddings, torch.tensor([0, 1, 0, 1, 2, 2])).backward()
    assert embeddings.grad is not None and embeddings.grad.abs().sum() > 0


# ------------------------------------------------------- in the estimator
def _pair_loss_on(clf, texts, labels) -> float:
    """The pair objective over all of ``texts`` under the fitted encoder (eval mode, fp32)."""
    embeddings = clf._frozen_features(clf._dataset_for_prediction(texts), "fp32")
    encoded = np.searchsorted(clf.classes_, labels)
    return pair_similarity_loss(torch.as_tensor(embeddings), torch.as_tensor(encoded)).item()


def test_the_pair_objective_shapes_the_embeddings(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    plain = AttentionClassifier(tiny_checkpoint, contrastive_weight=0, **SMALL).fit(X, y)
    paired = AttentionClassifier(tiny_checkpoint, contrastive_weight=4.0, **SMALL).fit(X, y)
    assert plain.contrastive_weight_ == 0.0 and paired.contrastive_weight_ == 4.0
    X_test, y_test = make_sentiment_texts(120, seed=3)
    # Held-out texts of one class end up closer together, of different classes further apart.
    assert _pair_loss_on(paired, X_test, y_test) < 0.8 * _pair_loss_on(plain, X_test, y_test)
    assert paired.score(X_test, y_test) >= 0.9
    assert not np.allclose(paired.predict_proba(X_test), plain.predict_proba(X_test))


def test_auto_weight_per_task_and_strategy(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    quick = {**SMALL, "max_epochs": 1}
    single = AttentionClassifier(tiny_checkpoint, **quick).fit(X[:32], y[:32])
    assert single.contrastive_weight == "auto"  # the parameter itself stays untouched
    assert single.contrastive_weight_ == AUTO_CONTRASTIVE_WEIGHT
    head = AttentionClassifier(tiny_checkpoint, finetune="head", **quick).fit(X[:32], y[:32])
    assert head.contrastive_weight_ == 0.0
    indicator = np.stack([y[:32] == "pos", y[:32] == "neg"], axis=1).astype(int)
    multi = AttentionClassifier(tiny_checkpoint, **quick).fit(X[:32], indicator)
    assert multi.multilabel_ and multi.contrastive_weight_ == 0.0


@pytest.mark.parametrize(
    ("params", "multilabel", "message"),
    [
        ({"contrastive_weight": 1.0}, True, "needs one label per text.*contrastive_weight=0"),
        ({"contrastive_weight": 1.0, "finetune": "head"}, False, "finetune='head' freezes the encoder"),
        ({"contrastive_weight": -1.0}, False, "contrastive_weight"),
        ({"contrastive_weight": "on"}, False, "contrastive_weight"),
    ],
    ids=["multilabel", "head", "negative", "string"],
)
def test_a_weight_the_fit_cannot_use_is_refused(tiny_checkpoint, sentiment_data, params, multilabel, message):
    X, y = sentiment_data
    target = np.stack([y[:16] == "pos", y[:16] == "neg"], axis=1).astype(int) if multilabel else y[:16]
    clf = AttentionClassifier(tiny_checkpoint, **{**SMALL, "max_epochs": 1, **params})
    with pytest.raises(ValueError, match=message):
        clf.fit(X[:16], target)
    assert not hasattr(clf, "module_")


def test_weight_survives_clone_search_save_and_pickle(tiny_checkpoint, sentiment_data, tmp_path):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, contrastive_weight=2.0, **{**SMALL, "max_epochs": 2})
    assert clone(clf).get_params()["contrastive_weight"] == 2.0
    search = GridSearchCV(clf, {"contrastive_weight": [0.0, 2.0]}, cv=2).fit(X[:64], y[:64])
    assert search.best_params_["contrastive_weight"] in (0.0, 2.0)
    fitted = search.best_estimator_
    X_test, _ = make_sentiment_texts(20, seed=4)
    fitted.save(tmp_path / "model")
    for loaded in (sklattn.load(tmp_path / "model"), pickle.loads(pickle.dumps(fitted))):
        assert loaded.contrastive_weight == fitted.contrastive_weight
        assert loaded.contrastive_weight_ == fitted.contrastive_weight_
        np.testing.assert_allclose(loaded.predict_proba(X_test), fitted.predict_proba(X_test), atol=1e-6)


# ------------------------------------------------------ encoder_objective
def make_three_class_texts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Filler words plus a positive cue, a negative cue, or none; the label says which."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = ("pos", "neg", "none")[i % 3]
        words = list(rng.choice(NEUTRAL, size=rng.integers(2, 8)))
        if label != "none":
            cue = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
            words.insert(int(rng.integers(0, len(words) + 1)), cue)
        texts.append(" ".join(words))
        labels.append(label)
    return np.array(texts, dtype=object), np.array(labels, dtype=object)


def _encoder_state(clf) -> dict:
    return {name: value.detach().clone() for name, value in clf.module_.encoder.state_dict().items()}


def _initial_encoder_state(checkpoint) -> dict:
    from transformers import AutoModel

    return {name: value.detach().clone() for name, value in AutoModel.from_pretrained(checkpoint).state_dict().items()}


def _moved(before: dict, after: dict) -> bool:
    return any(not torch.equal(before[name], after[name]) for name in before if name in after)


def test_auto_encoder_objective_rule():
    assert small_data.auto_encoder_objective(2.0, 3, SMALL_DATA_BELOW - 1) == "pairs"
    assert small_data.auto_encoder_objective(2.0, 5, 16) == "pairs"
    assert small_data.auto_encoder_objective(2.0, 3, SMALL_DATA_BELOW) == "joint"  # large data
    assert small_data.auto_encoder_objective(2.0, 2, 16) == "joint"  # two classes
    assert small_data.auto_encoder_objective(0.0, 5, 16) == "joint"  # no pair objective


def test_pairs_keeps_the_cross_entropy_out_of_the_encoder(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    initial = _initial_encoder_state(tiny_checkpoint)
    # Batches of one text hold no pair: under "pairs" nothing trains the encoder.
    single = {**SMALL, "max_epochs": 1, "batch_size": 1}
    head_at_start = {}

    class RecordHead(Callback):
        def on_train_begin(self, net, **kwargs):
            head_at_start["weight"] = net.module_.head.weight.detach().clone()

    pairs = AttentionClassifier(tiny_checkpoint, encoder_objective="pairs", callbacks=[RecordHead()],
                                **single).fit(X[:24], y[:24])
    joint = AttentionClassifier(tiny_checkpoint, encoder_objective="joint", **single).fit(X[:24], y[:24])
    assert pairs.encoder_objective_ == "pairs" and joint.encoder_objective_ == "joint"
    assert not _moved(initial, _encoder_state(pairs))
    assert _moved(initial, _encoder_state(joint))
    # ... while the head learned from the cross-entropy.
    assert not torch.equal(pairs.module_.head.weight.detach(), head_at_start["weight"])
    # With pairs in the batch the encoder learns, and the classifier works.
    paired = AttentionClassifier(tiny_checkpoint, encoder_objective="pairs", **SMALL).fit(X, y)
    assert _moved(initial, _encoder_state(paired))
    X_test, y_test = make_sentiment_texts(120, seed=3)
    assert paired.score(X_test, y_test) >= 0.9


def test_auto_encoder_objective_per_data(tiny_checkpoint, monkeypatch):
    X, y = make_three_class_texts(48)
    quick = {**SMALL, "max_epochs": 1}
    three = AttentionClassifier(tiny_checkpoint, **quick).fit(X, y)
    assert three.encoder_objective == "auto" and three.encoder_objective_ == "pairs"
    two = AttentionClassifier(tiny_checkpoint, **quick).fit(X[y != "none"], y[y != "none"])
    assert two.encoder_objective_ == "joint"
    head = AttentionClassifier(tiny_checkpoint, finetune="head", **quick).fit(X, y)
    assert head.encoder_objective_ == "joint"
    off = AttentionClassifier(tiny_checkpoint, contrastive_weight=0, **quick).fit(X, y)
    assert off.encoder_objective_ == "joint"
    monkeypatch.setattr(small_data, "SMALL_DATA_BELOW", 40)  # 48 texts are now large data
    large = AttentionClassifier(tiny_checkpoint, **quick).fit(X, y)
    assert large.encoder_objective_ == "joint"
    explicit = AttentionClassifier(tiny_checkpoint, encoder_objective="joint", **quick).fit(X, y)
    np.testing.assert_array_equal(large.predict_proba(X), explicit.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"encoder_objective": "pairs", "contrastive_weight": 0},
         "encoder_objective='pairs' trains the encoder on the pair objective alone.*contrastive_weight=0"),
        ({"encoder_objective": "pairs", "finetune": "head"}, "set encoder_objective='joint' or 'auto'"),
        ({"encoder_objective": "setfit"}, "encoder_objective"),
    ],
    ids=["no-pairs", "head", "unknown"],
)
def test_an_encoder_objective_the_fit_cannot_use_is_refused(tiny_checkpoint, sentiment_data, params, message):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**SMALL, "max_epochs": 1, **params})
    with pytest.raises(ValueError, match=message):
        clf.fit(X[:16], y[:16])
    assert not hasattr(clf, "module_")


def test_encoder_objective_survives_clone_save_and_pickle(tiny_checkpoint, tmp_path):
    X, y = make_three_class_texts(48)
    fitted = AttentionClassifier(tiny_checkpoint, **{**SMALL, "max_epochs": 2}).fit(X, y)
    assert fitted.encoder_objective_ == "pairs"
    assert clone(fitted.set_params(encoder_objective="joint")).encoder_objective == "joint"
    fitted.set_params(encoder_objective="auto")
    X_test, _ = make_three_class_texts(21, seed=5)
    fitted.save(tmp_path / "model")
    for loaded in (sklattn.load(tmp_path / "model"), pickle.loads(pickle.dumps(fitted))):
        assert loaded.encoder_objective == "auto" and loaded.encoder_objective_ == "pairs"
        np.testing.assert_allclose(loaded.predict_proba(X_test), fitted.predict_proba(X_test), atol=1e-6)
