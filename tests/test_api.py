"""scikit-learn and skorch API behaviour of the text estimators."""

from __future__ import annotations

import copy
import pickle
import shutil
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from conftest import build_tiny_checkpoint
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sklattn import AttentionClassifier, AttentionRegressor

FAST = dict(max_length=32, lr=2e-3, max_epochs=12, batch_size=16, random_state=0)
ESTIMATORS = [AttentionClassifier, AttentionRegressor]


def _targets(estimator_class, y):
    return y if estimator_class is AttentionClassifier else (y == "pos").astype(float)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_init_stores_parameters_untouched_and_loads_nothing(estimator_class):
    est = estimator_class("/no/such/dir", max_length=7, optimizer__betas=(0.8, 0.9))
    assert est.checkpoint == "/no/such/dir"
    assert est.max_length == 7
    assert est.get_params()["optimizer__betas"] == (0.8, 0.9)
    assert not hasattr(est, "module_") and not hasattr(est, "tokenizer_")
    assert "history_" not in vars(est) and "initialized_" not in vars(est)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_get_params_round_trips_through_clone(estimator_class):
    est = estimator_class("ckpt", lr=1e-4, pooling="max", callbacks=[EarlyStopping()],
                          iterator_train__num_workers=0)
    params = est.get_params(deep=False)
    assert {"checkpoint", "lr", "pooling", "max_length", "random_state", "iterator_train__num_workers"} <= set(params)
    assert not {"module", "criterion", "_params_to_validate"} & set(params)
    cloned = clone(est)
    assert cloned.get_params(deep=False).keys() == params.keys()
    assert cloned.lr == 1e-4 and cloned.pooling == "max"


def test_set_params_reaches_skorch_prefixes(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1})
    clf.set_params(optimizer__betas=(0.5, 0.6), lr=3e-3, callbacks__print_log__floatfmt=".2f")
    clf.fit(X[:32], y[:32])
    assert clf.optimizer_.param_groups[0]["betas"] == (0.5, 0.6)
    assert dict(clf.callbacks_)["print_log"].floatfmt == ".2f"
    assert clf.lr == 3e-3


def test_clone_of_fitted_estimator_is_unfitted(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X[:32], y[:32])
    fresh = clone(clf)
    with pytest.raises(NotFittedError):
        fresh.predict(X[:2])


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_predict_before_fit_raises_not_fitted(estimator_class, tiny_checkpoint):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        estimator_class(tiny_checkpoint).predict(["a text"])


def test_history_and_callbacks_work(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(
        tiny_checkpoint, **{**FAST, "max_epochs": 40},
        train_split=ValidSplit(0.25, stratified=True),
        callbacks=[EarlyStopping(patience=3, monitor="valid_acc", lower_is_better=False)],
    ).fit(X, y)
    epochs = len(clf.history_)
    assert 1 <= epochs < 40  # early stopping ended training
    assert {"train_loss", "valid_loss", "valid_acc", "lr"} <= set(clf.history_[-1])
    assert clf.history_[-1, "valid_acc"] >= 0.9


def test_pipeline_and_cross_val_score(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    pipe = make_pipeline(FunctionTransformer(lambda texts: [t.upper() for t in texts]),
                         AttentionClassifier(tiny_checkpoint, **FAST))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,)
    assert scores.min() >= 0.75  # chance is 0.5; 80 training texts per fold


def test_grid_search_over_lr_and_pooling(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    search = GridSearchCV(
        AttentionClassifier(tiny_checkpoint, **FAST),
        {"lr": [1e-7, 2e-3], "pooling": ["mean", "cls"]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["lr"] == 2e-3
    assert search.best_score_ >= 0.75
    results = search.cv_results_["mean_test_score"]
    low_lr = np.array(search.cv_results_["param_lr"]) == 1e-7
    assert results[low_lr].max() < results[~low_lr].min()
    assert search.best_estimator_.pooling in {"mean", "cls"}


def test_partial_fit_and_warm_start_continue_training(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    params = {**FAST, "max_epochs": 2}
    clf = AttentionClassifier(tiny_checkpoint, **params).partial_fit(X, y)
    head_before = clf.module_.head.weight.detach().clone()
    clf.partial_fit(X, y)
    assert len(clf.history_) == 4  # continued, not restarted
    assert not torch.equal(head_before, clf.module_.head.weight)

    warm = AttentionClassifier(tiny_checkpoint, warm_start=True, **params).fit(X, y)
    warm.fit(X, y)
    assert len(warm.history_) == 4
    cold = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    cold.fit(X, y)
    assert len(cold.history_) == 2


def test_partial_fit_rejects_unseen_labels_unless_declared(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}).partial_fit(X, y)
    with pytest.raises(ValueError, match=r"labels \['neutral'\] not seen"):
        clf.partial_fit(X[:4], ["neutral"] * 4)
    declared = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1})
    declared.partial_fit(X, y, classes=["neg", "neutral", "pos"])
    declared.partial_fit(X[:4], ["neutral"] * 4)
    assert declared.predict_proba(X[:2]).shape == (2, 3)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_pickle_joblib_and_deepcopy_predict_identically(estimator_class, tiny_checkpoint, sentiment_data, tmp_path):
    X, y = sentiment_data
    est = estimator_class(tiny_checkpoint, **{**FAST, "max_epochs": 2}).fit(X, _targets(estimator_class, y))
    expected = est.predict(X)
    joblib.dump(est, tmp_path / "model.joblib")
    for restored in (pickle.loads(pickle.dumps(est)), joblib.load(tmp_path / "model.joblib"), copy.deepcopy(est)):
        np.testing.assert_array_equal(restored.predict(X), expected)


SUBPROCESS_FIT = textwrap.dedent(
    """
    import sys, pickle
    import numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import make_sentiment_texts
    from skorch.dataset import ValidSplit
    from sklattn import AttentionClassifier
    X, y = make_sentiment_texts(80)
    clf = AttentionClassifier({ckpt!r}, max_length=32, lr=2e-3, max_epochs=3, batch_size=16,
                              random_state=42, train_split=ValidSplit(0.25))
    clf.fit(X, y)
    np.save({out!r}, clf.predict_proba(X))
    with open({model!r}, "wb") as f:
        pickle.dump(clf, f)
    """
)

SUBPROCESS_LOAD = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import make_sentiment_texts
    X, _ = make_sentiment_texts(80)
    with open({model!r}, "rb") as f:
        clf = pickle.load(f)
    np.save({out!r}, clf.predict_proba(X))
    """
)


def _run(code: str, **env_extra) -> None:
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]


def test_same_random_state_same_predictions_across_processes(tmp_path):
    """Two processes, seeded fit with a validation split: bitwise-equal probabilities."""
    import os

    ckpt = build_tiny_checkpoint(tmp_path / "ckpt")
    tests = os.path.dirname(__file__)
    for run in ("a", "b"):
        _run(SUBPROCESS_FIT.format(tests=tests, ckpt=ckpt, out=str(tmp_path / f"{run}.npy"),
                                   model=str(tmp_path / f"{run}.pkl")))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_pickle_loads_in_fresh_offline_process_without_checkpoint(tmp_path):
    import os

    ckpt = build_tiny_checkpoint(tmp_path / "ckpt")
    tests = os.path.dirname(__file__)
    _run(SUBPROCESS_FIT.format(tests=tests, ckpt=ckpt, out=str(tmp_path / "fit.npy"), model=str(tmp_path / "m.pkl")))
    shutil.rmtree(ckpt)
    _run(SUBPROCESS_LOAD.format(tests=tests, model=str(tmp_path / "m.pkl"), out=str(tmp_path / "load.npy")))
    np.testing.assert_array_equal(np.load(tmp_path / "fit.npy"), np.load(tmp_path / "load.npy"))


def test_seeding_leaves_global_random_state_alone(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    np.random.seed(123)
    torch.manual_seed(123)
    expected_np, expected_torch = np.random.rand(), torch.rand(1)
    np.random.seed(123)
    torch.manual_seed(123)
    AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X[:32], y[:32])
    assert np.random.rand() == expected_np
    assert torch.equal(torch.rand(1), expected_torch)


def test_html_repr_shows_changed_parameters(tiny_checkpoint):
    html = make_pipeline(AttentionClassifier(tiny_checkpoint, lr=1e-4))._repr_html_()
    assert "AttentionClassifier" in html and "0.0001" in html


def test_pickle_is_lean_and_training_continues_after_loading(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 2}).fit(X, y)
    payload = pickle.dumps(clf)
    weights_and_tokenizer = len(pickle.dumps(clf.module_.state_dict())) + len(pickle.dumps(clf.tokenizer_))
    optimizer_state = len(pickle.dumps(clf.optimizer_.state_dict()))
    assert optimizer_state > 20_000  # what a naive pickle would add
    # Fixed overhead (history, config, callbacks) only: no optimizer state, no second weight copy.
    assert len(payload) < weights_and_tokenizer + 20_000
    assert hasattr(clf, "optimizer_")  # pickling did not strip the live estimator
    restored = pickle.loads(payload)
    assert not hasattr(restored, "optimizer_")
    restored.partial_fit(X, y)
    assert len(restored.history_) == 4
    assert restored.score(X, y) >= 0.9


def test_sample_weight_reaches_fit_through_pipeline_and_grid_search(tiny_checkpoint, sentiment_data, monkeypatch):
    from sklattn._net import SklattnNet

    X, y = sentiment_data
    seen = []
    original = SklattnNet._loss_weights

    def spy(self, targets, sample_weight):
        seen.append(None if sample_weight is None else len(sample_weight))
        return original(self, targets, sample_weight)

    monkeypatch.setattr(SklattnNet, "_loss_weights", spy)
    weights = np.linspace(0.5, 2.0, len(X))
    pipe = make_pipeline(AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}))
    pipe.fit(X, y, attentionclassifier__sample_weight=weights)
    assert seen == [len(X)]
    seen.clear()
    GridSearchCV(AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}),
                 {"pooling": ["mean"]}, cv=2).fit(X, y, sample_weight=weights)
    assert seen == [len(X) // 2, len(X) // 2, len(X)]  # sliced per fold, then the refit
