"""The shared API suite: scikit-learn and skorch behaviour every estimator must have."""

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
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from sklattn import (
    AttentionClassifier,
    AttentionEmbedder,
    AttentionRegressor,
    TabularAttentionClassifier,
    TabularAttentionPretrainer,
    TabularAttentionRegressor,
)
import re
import warnings
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr
import sklattn._core.progress

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
        AttentionClassifier(tiny_checkpoint, **FAST, tfidf_blend=False),  # lr moves the network only
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
    from sklattn._core.net import SklattnNet

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


# ------------------------------------------------ sklearn's common checks (tabular)
# A tiny network (d_model=8, one layer) keeps the whole check suite fast.
TINY_TABULAR = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=15, lr=1e-2, batch_size=64, random_state=0)

_SGD_NOT_WEIGHT_EQUIVALENT = (
    "minibatch SGD: a sample weight of k and k copies of the sample change the "
    "number and composition of minibatches, so the fits agree only in expectation"
)


def _expected_failed_tabular_checks(estimator) -> dict[str, str]:
    return {"check_sample_weight_equivalence_on_dense_data": _SGD_NOT_WEIGHT_EQUIVALENT}


@parametrize_with_checks(
    [TabularAttentionClassifier(**TINY_TABULAR), TabularAttentionRegressor(**TINY_TABULAR),
     TabularAttentionPretrainer(**TINY_TABULAR)],
    expected_failed_checks=_expected_failed_tabular_checks,
)
def test_sklearn_common_checks_tabular(estimator, check):
    check(estimator)


# ------------------------------------------- skorch prefixes: module__* and criterion__*
# module__* is refused (the network is built from the estimator's own parameters);
# criterion__* reaches the loss; neither ever rebuilds the network of a fitted estimator.
PREFIX_TABULAR = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=2, batch_size=16,
                      early_stopping=False, random_state=0)
X_PREFIX_TAB = np.random.default_rng(0).normal(size=(32, 4))
Y_PREFIX_TAB = (X_PREFIX_TAB[:, 0] > 0).astype(int)


def _prefix_case(kind, tiny_checkpoint, sentiment_data, **params):
    """(unfitted estimator, X, y) for the text or tabular classifier/regressor."""
    X, y = sentiment_data
    if kind == "text-classifier":
        return AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}, **params), X[:32], y[:32]
    if kind == "text-regressor":
        return (AttentionRegressor(tiny_checkpoint, **{**FAST, "max_epochs": 1}, **params), X[:32],
                (y[:32] == "pos").astype(float))
    if kind == "tabular-classifier":
        return TabularAttentionClassifier(**PREFIX_TABULAR, **params), X_PREFIX_TAB, Y_PREFIX_TAB
    return TabularAttentionRegressor(**PREFIX_TABULAR, **params), X_PREFIX_TAB, X_PREFIX_TAB[:, 1]


PREFIX_KINDS = ["text-classifier", "text-regressor", "tabular-classifier", "tabular-regressor"]


@pytest.mark.parametrize("kind", PREFIX_KINDS)
def test_module_prefix_is_refused_at_fit_naming_the_parameter_to_use(kind, tiny_checkpoint, sentiment_data):
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data, module__dropout=0.3)
    with pytest.raises(ValueError, match=r"does not take module__\* parameters \(got module__dropout\)"
                                         r".*Instead of module__dropout, set dropout=0.3"):
        est.fit(X, y)
    assert not est.initialized_ and not hasattr(est, "module_")
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data, module__n_outputs=3)
    with pytest.raises(ValueError, match="module__n_outputs: the width of the head is set by y in fit"):
        est.partial_fit(X, y)
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data, module__no_such_option=1)
    with pytest.raises(ValueError, match="module__no_such_option is not an option of the network, "
                                         "which is configured by the parameters .*dropout"):
        est.fit(X, y)


def test_module_prefix_hints_at_text_strategy_parameters(tiny_checkpoint, sentiment_data):
    est, X, y = _prefix_case("text-classifier", tiny_checkpoint, sentiment_data,
                             module__frozen_encoder=True, module__pooling="cls")
    with pytest.raises(ValueError, match=r"module__frozen_encoder: set finetune='head'.*"
                                         r"Instead of module__pooling, set pooling='cls'"):
        est.fit(X, y)


def _weights(est) -> dict:
    return {name: tensor.detach().clone() for name, tensor in est.module_.state_dict().items()}


def _same_weights(before: dict, est) -> bool:
    after = est.module_.state_dict()
    return before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kind", PREFIX_KINDS)
def test_module_prefix_set_params_on_fitted_estimator_is_refused_and_keeps_weights(
    kind, tiny_checkpoint, sentiment_data
):
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data)
    est.fit(X, y)
    weights, module, predictions = _weights(est), est.module_, est.predict(X)
    with pytest.raises(ValueError, match="Instead of module__dropout, set dropout=0.5"):
        est.set_params(module__dropout=0.5)
    assert est.module_ is module and _same_weights(weights, est)
    np.testing.assert_array_equal(est.predict(X), predictions)
    assert "module__dropout" not in est.get_params()
    # skorch would rebuild the module for compile__* too: sklattn defers it to the next fit.
    est.set_params(compile__dynamic=False)
    assert est.module_ is module and _same_weights(weights, est)
    assert est.get_params()["compile__dynamic"] is False


def test_criterion_prefix_reaches_the_loss_and_changes_it(tiny_checkpoint, sentiment_data):
    plain, X, y = _prefix_case("text-classifier", tiny_checkpoint, sentiment_data)
    smoothed, _, _ = _prefix_case("text-classifier", tiny_checkpoint, sentiment_data,
                                  criterion__label_smoothing=0.5)
    plain.fit(X, y)
    smoothed.fit(X, y)
    assert plain.criterion_.label_smoothing == 0.0
    assert smoothed.criterion_.label_smoothing == 0.5
    assert smoothed.criterion_.reduction == "none"  # still per-sample, for sample_weight
    # Same seed, same first batches: only the loss differs.
    assert smoothed.history_[0, "train_loss"] != pytest.approx(plain.history_[0, "train_loss"])
    logits = torch.tensor([[4.0, -4.0], [-3.0, 3.0]])
    targets = np.array([0, 1])
    assert smoothed.get_loss(logits, targets) > plain.get_loss(logits, targets)
    assert clone(smoothed).get_params()["criterion__label_smoothing"] == 0.5


def test_criterion_prefix_reaches_the_multilabel_loss(tiny_checkpoint, sentiment_data):
    X, labels = sentiment_data
    positive = (labels[:32] == "pos").astype(int)
    y = np.stack([positive, 1 - positive, np.arange(32) % 2], axis=1)
    pos_weight = torch.tensor([1.0, 2.0, 3.0])
    clf, _, _ = _prefix_case("text-classifier", tiny_checkpoint, sentiment_data,
                             criterion__pos_weight=pos_weight)
    clf.fit(X[:32], y)
    assert isinstance(clf.criterion_, torch.nn.BCEWithLogitsLoss)
    assert torch.equal(clf.criterion_.pos_weight, pos_weight)
    plain, _, _ = _prefix_case("text-classifier", tiny_checkpoint, sentiment_data)
    plain.fit(X[:32], y)
    logits, targets = torch.zeros(2, 3), np.ones((2, 3), dtype=np.float32)
    assert clf.get_loss(logits, targets) > plain.get_loss(logits, targets)


@pytest.mark.parametrize("kind", ["text-classifier", "tabular-classifier"])
def test_criterion_prefix_set_on_fitted_estimator_keeps_weights_until_next_fit(
    kind, tiny_checkpoint, sentiment_data
):
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data)
    est.fit(X, y)
    weights, optimizer, proba = _weights(est), est.optimizer_, est.predict_proba(X)
    est.set_params(criterion__label_smoothing=0.25)
    # skorch would rebuild the criterion and the optimizer here; nothing changes until training.
    assert _same_weights(weights, est) and est.optimizer_ is optimizer
    assert est.criterion_.label_smoothing == 0.0
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    est.partial_fit(X, y)  # continues from the fitted weights, with the new loss
    assert est.criterion_.label_smoothing == 0.25
    assert len(est.history_) == 2 * est.max_epochs
    est.set_params(criterion__label_smoothing=0.1, warm_start=False).fit(X, y)
    assert est.criterion_.label_smoothing == 0.1


@pytest.mark.parametrize(
    "kind, params, message",
    [
        ("tabular-classifier", {"criterion__reduction": "sum"},
         r"criterion__reduction cannot be set: .* needs per-sample losses .* sample_weight"),
        ("tabular-regressor", {"criterion__reduce": False}, "criterion__reduce cannot be set"),
        ("tabular-classifier", {"criterion__weight": torch.ones(2)},
         "criterion__weight is not supported by TabularAttentionClassifier: use class_weight"),
        ("tabular-classifier", {"criterion__pos_weight": torch.ones(2)},
         "criterion__pos_weight is not an argument of CrossEntropyLoss, the loss "
         "TabularAttentionClassifier trains with here; the criterion__\\* parameters it takes are "
         "criterion__ignore_index, criterion__label_smoothing"),
        ("tabular-regressor", {"criterion__label_smoothing": 0.1},
         r"criterion__label_smoothing is not an argument of MSELoss.*takes no criterion__\* parameters"),
        ("text-regressor", {"criterion__delta": 1.0}, "criterion__delta is not an argument of MSELoss"),
    ],
    ids=["reduction", "reduce", "ce-weight", "ce-pos-weight", "mse-anything", "text-mse"],
)
def test_criterion_prefix_errors_name_the_parameter_and_the_fix(kind, params, message, tiny_checkpoint, sentiment_data):
    est, X, y = _prefix_case(kind, tiny_checkpoint, sentiment_data, **params)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)
    assert not est.initialized_


def test_criterion_prefix_survives_save_and_load(tmp_path):
    import sklattn

    clf = TabularAttentionClassifier(**PREFIX_TABULAR, criterion__label_smoothing=0.2)
    clf.fit(X_PREFIX_TAB, Y_PREFIX_TAB).save(tmp_path / "model")
    loaded = sklattn.load(tmp_path / "model")
    assert loaded.criterion_.label_smoothing == 0.2
    assert loaded.get_params()["criterion__label_smoothing"] == 0.2
    np.testing.assert_allclose(loaded.predict_proba(X_PREFIX_TAB), clf.predict_proba(X_PREFIX_TAB))


def test_invalid_criterion_prefix_set_on_fitted_estimator_leaves_it_fitted():
    clf = TabularAttentionClassifier(**PREFIX_TABULAR).fit(X_PREFIX_TAB, Y_PREFIX_TAB)
    weights, proba = _weights(clf), clf.predict_proba(X_PREFIX_TAB)
    clf.set_params(criterion__no_such_option=1)  # set_params does not validate (sklearn rule)
    with pytest.raises(ValueError, match="criterion__no_such_option is not an argument of CrossEntropyLoss"):
        clf.partial_fit(X_PREFIX_TAB, Y_PREFIX_TAB)
    assert _same_weights(weights, clf)
    np.testing.assert_array_equal(clf.predict_proba(X_PREFIX_TAB), proba)


# ------------------------------- parameters: signature, constraints and docstring agree
def _documented_parameters(estimator_class) -> list[str]:
    import inspect

    from sklearn.externals._numpydoc.docscrape import NumpyDocString

    names = []
    for parameter in NumpyDocString(inspect.getdoc(estimator_class))["Parameters"]:
        names.extend(name.strip() for name in parameter.name.split(","))  # "a, b : int"
    return names


@pytest.mark.parametrize("estimator_class", [
    AttentionClassifier, AttentionRegressor, AttentionEmbedder,
    TabularAttentionClassifier, TabularAttentionRegressor, TabularAttentionPretrainer,
])
def test_parameter_names_agree_across_signature_constraints_and_docstring(estimator_class):
    import inspect

    signature = inspect.signature(estimator_class).parameters.values()
    named = [p.name for p in signature if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in signature)
    documented = _documented_parameters(estimator_class)
    assert len(documented) == len(set(documented)), f"documented twice: {documented}"
    assert ("**kwargs" in documented) == takes_kwargs
    if takes_kwargs:
        assert documented[-1] == "**kwargs", "numpydoc puts **kwargs last"
    documented = [name for name in documented if name != "**kwargs"]
    assert set(documented) == set(named), (
        f"in the signature only: {sorted(set(named) - set(documented))}; "
        f"in the docstring only: {sorted(set(documented) - set(named))}"
    )
    constrained = set(estimator_class._parameter_constraints)
    assert constrained == set(named), (
        f"unconstrained: {sorted(set(named) - constrained)}; "
        f"constraints of no parameter: {sorted(constrained - set(named))}"
    )
    assert set(estimator_class("ckpt").get_params(deep=False) if "checkpoint" in named
               else estimator_class().get_params(deep=False)) == set(named)


# -------- display: progress bars and HTML representation
# What a user sees: progress output with verbose=1, silence with verbose=0, HTML display.


@pytest.fixture
def eager_tqdm(monkeypatch):
    """Redraw tqdm bars on every update instead of every 0.1 s, so tests see each state."""
    from tqdm import std

    original = std.tqdm.__init__

    def init(self, *args, **kwargs):
        kwargs.setdefault("mininterval", 0)
        original(self, *args, **kwargs)

    monkeypatch.setattr(std.tqdm, "__init__", init)


def _classifier(checkpoint, **params):
    params = {"max_length": 16, "batch_size": 16, "max_epochs": 2, "random_state": 0, **params}
    return AttentionClassifier(checkpoint, **params)


def test_verbose_1_shows_epoch_bars_with_running_loss_and_the_table(
    tiny_checkpoint, sentiment_data, capfd, eager_tqdm
):
    X, y = sentiment_data
    capfd.readouterr()
    clf = _classifier(tiny_checkpoint, verbose=1).fit(X[:48], y[:48])  # 3 batches an epoch
    out, err = capfd.readouterr()
    assert re.search(r"epoch\s+train_loss\s+dur", out)  # skorch's table on stdout
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2"]
    for epoch in (1, 2):  # tqdm on stderr: batches done / total, mean loss so far
        shown = re.findall(rf"epoch {epoch}: .*?3/3 \[[^]]*train_loss=(\d\.\d{{4}})", err)
        batch_losses = [batch["train_loss"] for batch in clf.history_[epoch - 1, "batches"]]
        assert shown and float(shown[-1]) == pytest.approx(np.mean(batch_losses), abs=1e-4)


def test_verbose_0_prints_nothing_and_warns_nothing(tiny_checkpoint, sentiment_data, capfd):
    X, y = sentiment_data
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = _classifier(tiny_checkpoint).fit(X[:48], y[:48])
        clf.predict(X[:40])
        clf.explain(X[:2])
    assert capfd.readouterr() == ("", "")
    assert [str(w.message) for w in caught if w.category is not DeprecationWarning] == []


def test_long_predictions_show_a_bar_only_with_verbose(
    tiny_checkpoint, sentiment_data, capfd, monkeypatch, eager_tqdm
):
    X, y = sentiment_data
    clf = _classifier(tiny_checkpoint, verbose=1, max_epochs=1).fit(X[:32], y[:32])
    capfd.readouterr()
    clf.predict(X[:40])  # fast: below the delay, no bar
    assert "predict" not in capfd.readouterr().err
    monkeypatch.setattr(sklattn._core.progress, "PREDICT_BAR_DELAY_S", 0.0)
    clf.predict(X[:40])
    assert re.search(r"predict: .*3/3", capfd.readouterr().err)
    clf.set_params(verbose=0).predict(X[:40])
    assert capfd.readouterr() == ("", "")


def _parameter_rows(html: str) -> list[tuple[str, str]]:
    """(row class, parameter name) of every row of sklearn's parameter tables."""
    flat = re.sub(r"\s+", " ", html)
    return re.findall(r'<tr class="([a-z-]+)">.*?<td class="param">\s*([a-z_]+)\s*</td>', flat)


def test_html_display_of_a_pipeline_shows_constructor_parameters(tiny_checkpoint):
    pipe = make_pipeline(AttentionEmbedder(tiny_checkpoint, max_length=16), LogisticRegression())
    html = estimator_html_repr(pipe)
    assert "AttentionEmbedder" in html and "LogisticRegression" in html

    clf = AttentionClassifier(tiny_checkpoint, max_length=16, lr=2e-5)
    rows = _parameter_rows(estimator_html_repr(make_pipeline(clf)))
    names = [name for _, name in rows]
    user_set = [name for kind, name in rows if kind == "user-set"]
    assert {"checkpoint", "max_length", "lr"} <= set(user_set)
    assert "max_epochs" in names and "max_epochs" not in user_set
    # skorch's deep parameters (callbacks__print_log__..., iterator_train) stay out.
    assert not [name for name in names if "__" in name or name.startswith("iterator_")]
    assert set(names) - {"steps", "memory", "transform_input", "verbose"} <= set(clf.get_params(deep=False))


def test_html_display_marks_fitted_tabular_pipeline():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), TabularAttentionClassifier(d_model=8, n_heads=2, max_epochs=1))
    assert "Not fitted" in estimator_html_repr(pipe)
    html = estimator_html_repr(pipe.fit(X, y))
    assert "<span>Fitted</span>" in html
    assert ("user-set", "d_model") in _parameter_rows(html)
    assert np.isfinite(pipe.predict_proba(X[:2])).all()


# -------- sklearn's individual checks that apply to text input
# The others feed numeric arrays to fit; text estimators refuse those with a TypeError
# by design (see test_errors.py).
TEXT_INPUT_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_sparse_tag",
    "check_mixin_order",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted",
    "check_parameters_default_constructible",
]


@pytest.mark.parametrize("check_name", TEXT_INPUT_CHECKS)
@pytest.mark.parametrize("estimator_class", [AttentionClassifier, AttentionRegressor, AttentionEmbedder])
def test_sklearn_checks_that_apply_to_text_input(estimator_class, check_name, tiny_checkpoint):
    from sklearn.utils import estimator_checks

    estimator = estimator_class(tiny_checkpoint, max_length=32)
    getattr(estimator_checks, check_name)(estimator_class.__name__, estimator)


# -------- AttentionTokenClassifier: the same API checks for the word tagger
TOKEN_FAST = dict(max_length=16, lr=3e-3, max_epochs=6, batch_size=16, random_state=0)


def _tagged_sentences(sentiment_data):
    """The sentiment texts as word lists; sentiment words tagged B-POS / B-NEG, the rest O."""
    from conftest import NEGATIVE, POSITIVE

    texts, _ = sentiment_data
    X = [text.split() for text in texts]
    y = [["B-POS" if w in POSITIVE else "B-NEG" if w in NEGATIVE else "O" for w in words] for words in X]
    return X, y


def test_token_classifier_parameters_agree_across_signature_constraints_and_docstring():
    from sklattn import AttentionTokenClassifier

    test_parameter_names_agree_across_signature_constraints_and_docstring(AttentionTokenClassifier)


@pytest.mark.parametrize("check_name", TEXT_INPUT_CHECKS)
def test_token_classifier_sklearn_checks_that_apply_to_text_input(check_name, tiny_checkpoint):
    from sklearn.utils import estimator_checks

    from sklattn import AttentionTokenClassifier

    estimator = AttentionTokenClassifier(tiny_checkpoint, max_length=32)
    getattr(estimator_checks, check_name)("AttentionTokenClassifier", estimator)


def test_token_classifier_clone_get_and_set_params(tiny_checkpoint, sentiment_data):
    from sklattn import AttentionTokenClassifier

    est = AttentionTokenClassifier("ckpt", lr=1e-4, stride=3, callbacks=[EarlyStopping()],
                                   iterator_train__num_workers=0)
    params = est.get_params(deep=False)
    assert {"checkpoint", "lr", "stride", "max_length", "class_weight", "iterator_train__num_workers"} <= set(params)
    assert not {"module", "criterion", "pooling", "long_text", "_params_to_validate"} & set(params)
    cloned = clone(est)
    assert cloned.get_params(deep=False).keys() == params.keys() and cloned.stride == 3
    X, y = _tagged_sentences(sentiment_data)
    tagger = AttentionTokenClassifier(tiny_checkpoint, **{**TOKEN_FAST, "max_epochs": 1})
    tagger.set_params(optimizer__betas=(0.5, 0.6), lr=2e-3, callbacks__print_log__floatfmt=".2f")
    tagger.fit(X[:32], y[:32])
    assert tagger.optimizer_.param_groups[0]["betas"] == (0.5, 0.6)
    assert dict(tagger.callbacks_)["print_log"].floatfmt == ".2f"
    with pytest.raises(NotFittedError):
        clone(tagger).predict(X[:2])


def test_token_classifier_pipeline_cross_val_score_and_grid_search(tiny_checkpoint, sentiment_data):
    from sklattn import AttentionTokenClassifier

    X, y = _tagged_sentences(sentiment_data)
    pipe = make_pipeline(FunctionTransformer(lambda sentences: [[w.upper() for w in s] for s in sentences]),
                         AttentionTokenClassifier(tiny_checkpoint, **TOKEN_FAST))
    scores = cross_val_score(pipe, X, y, cv=2)  # entity F1 per fold
    assert scores.shape == (2,) and scores.min() >= 0.8
    search = GridSearchCV(AttentionTokenClassifier(tiny_checkpoint, **TOKEN_FAST),
                          {"lr": [1e-7, 3e-3], "layer_lr_decay": [1.0, 0.9]}, cv=2).fit(X, y)
    assert search.best_params_["lr"] == 3e-3
    low_lr = np.array(search.cv_results_["param_lr"]) == 1e-7
    results = search.cv_results_["mean_test_score"]
    assert results[low_lr].max() < results[~low_lr].min()
    assert [len(t) for t in search.predict(X[:3])] == [len(x) for x in X[:3]]


def test_token_classifier_pickle_joblib_and_deepcopy_predict_identically(tiny_checkpoint, sentiment_data, tmp_path):
    from sklattn import AttentionTokenClassifier

    X, y = _tagged_sentences(sentiment_data)
    tagger = AttentionTokenClassifier(tiny_checkpoint, **{**TOKEN_FAST, "max_epochs": 2}).fit(X, y)
    expected = tagger.predict_proba(X)
    joblib.dump(tagger, tmp_path / "tagger.joblib")
    for restored in (pickle.loads(pickle.dumps(tagger)), joblib.load(tmp_path / "tagger.joblib"),
                     copy.deepcopy(tagger)):
        for a, b in zip(restored.predict_proba(X), expected):
            np.testing.assert_array_equal(a, b)
    restored = pickle.loads(pickle.dumps(tagger))
    assert not hasattr(restored, "optimizer_")
    restored.partial_fit(X, y)  # training continues after unpickling
    assert len(restored.history_) == 4
