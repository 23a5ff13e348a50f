"""contrastive_weight: the in-batch pair objective of AttentionClassifier."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import make_sentiment_texts
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import sklattn
from sklattn import AttentionClassifier
from sklattn._text.contrastive import pair_similarity_loss
from sklattn._text.small_data import AUTO_CONTRASTIVE_WEIGHT

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
    embeddings = clf._frozen_features(clf._dataset_for_prediction(clf._prediction_texts(texts)), "fp32")
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
