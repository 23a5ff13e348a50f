"""Behaviour of TabularAttentionClassifier and TabularAttentionRegressor."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from sklearn.linear_model import LogisticRegression, Ridge

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor

TINY = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=8, lr=1e-2, batch_size=64, random_state=0,
            early_stopping=False)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def source_04(digits):
    X, y = digits
    keep = y < 5
    return TabularAttentionClassifier(**TINY).fit(X[keep][:400], y[keep][:400])


def _state(module):
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def _equal(a, b):
    return all(torch.equal(a[name], b[name]) for name in a)


def test_learns_digits_well_above_chance(digits):
    X, y = digits
    clf = TabularAttentionClassifier(**{**TINY, "d_model": 16, "max_epochs": 15}).fit(X[:500], y[:500])
    assert clf.score(X[600:1000], y[600:1000]) > 0.6  # chance is 0.1
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(axis=1), 1)


def test_nan_is_a_learned_missing_value(digits):
    X, y = digits
    X = X[:300].astype(float)
    X[::2, 10] = np.nan
    X[:, 0] = np.nan  # a feature never observed
    clf = TabularAttentionClassifier(**TINY).fit(X, y[:300])
    assert np.isfinite(clf.predict_proba(X)).all()
    assert not torch.equal(  # the missing embedding of feature 10 was trained
        clf.module_.backbone.tokenizer.missing[10],
        TabularAttentionClassifier(**TINY).fit(X[1::2], y[1:300:2]).module_.backbone.tokenizer.missing[10],
    )
    assert get_tags(clf).input_tags.allow_nan


def test_inf_raises_clear_error(digits):
    X, y = digits
    X = X[:50].astype(float)
    X[3, 7] = np.inf
    with pytest.raises(ValueError, match=r"infinite values \(first at row 3, column 7\)"):
        TabularAttentionClassifier(**TINY).fit(X, y[:50])
    fitted = TabularAttentionClassifier(**TINY).fit(np.nan_to_num(X, posinf=0), y[:50])
    with pytest.raises(ValueError, match="NaN is accepted"):
        fitted.predict(X)


def test_transfer_copies_backbone_and_rebuilds_head(digits, source_04):
    X, y = digits
    target = y >= 5
    source_before = _state(source_04.module_)
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 1}, init_from=source_04, freeze_backbone=True)
    clf.fit(X[target][:50], y[target][:50])
    assert not clf.head_transferred_ and list(clf.classes_) == [5, 6, 7, 8, 9]
    # frozen backbone: exactly the source's weights; the head trained
    assert _equal(_state(clf.module_.backbone), _state(source_04.module_.backbone))
    assert clf.module_ is not source_04.module_
    assert _equal(_state(source_04.module_), source_before)  # source untouched
    np.testing.assert_array_equal(clf.feature_mean_, source_04.feature_mean_)


def test_transfer_keeps_head_when_classes_match(digits, source_04):
    X, y = digits
    keep = y < 5
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 1, "lr": 1e-12}, init_from=source_04, freeze_backbone=True)
    clf.fit(X[keep][400:450], y[keep][400:450])
    assert clf.head_transferred_
    assert _equal(_state(clf.module_), _state(source_04.module_))


def test_freeze_backbone_for_first_epochs_then_trains(digits, source_04):
    X, y = digits
    target = y >= 5
    head_only = TabularAttentionClassifier(**{**TINY, "max_epochs": 2}, init_from=source_04, freeze_backbone=2)
    head_only.fit(X[target][:50], y[target][:50])
    assert _equal(_state(head_only.module_.backbone), _state(source_04.module_.backbone))
    later = clone(head_only).set_params(max_epochs=3).fit(X[target][:50], y[target][:50])
    assert not _equal(_state(later.module_.backbone), _state(source_04.module_.backbone))
    assert all(p.requires_grad for p in later.module_.parameters())


def test_transfer_errors(digits, source_04):
    X, y = digits
    with pytest.raises(ValueError, match="fitted on 64 features but X has 10"):
        TabularAttentionClassifier(**TINY, init_from=source_04).fit(X[:40, :10], y[:40])
    with pytest.raises(ValueError, match="set d_model=8"):
        TabularAttentionClassifier(**{**TINY, "d_model": 16}, init_from=source_04).fit(X[:40], y[:40])
    with pytest.raises(Exception, match="init_from must be fitted"):
        TabularAttentionClassifier(**TINY, init_from=TabularAttentionClassifier()).fit(X[:40], y[:40])


def test_classifier_backbone_transfers_to_regressor(digits, source_04):
    X, y = digits
    reg = TabularAttentionRegressor(**{**TINY, "max_epochs": 1}, init_from=source_04, freeze_backbone=True)
    reg.fit(X[:60], y[:60].astype(float))
    assert not reg.head_transferred_
    assert _equal(_state(reg.module_.backbone), _state(source_04.module_.backbone))


def test_clone_keeps_fitted_init_from(source_04):
    clf = TabularAttentionClassifier(init_from=source_04, freeze_backbone=3)
    cloned = clone(clf)
    assert cloned.init_from is source_04 and cloned.freeze_backbone == 3
    assert hasattr(cloned.init_from, "module_")


def test_sample_weight_and_class_weight_change_the_fit(digits):
    X, y = digits
    X, y = X[:200], (digits[1][:200] == 3).astype(int)
    plain = TabularAttentionClassifier(**TINY).fit(X, y)
    weighted = TabularAttentionClassifier(**TINY).fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    balanced = TabularAttentionClassifier(**TINY, class_weight="balanced").fit(X, y)
    p = [m.predict_proba(X)[:, 1].mean() for m in (plain, weighted, balanced)]
    assert p[1] > p[0] and p[2] > p[0]
    with pytest.raises(ValueError, match="sample_weight"):
        TabularAttentionClassifier(**TINY).fit(X, y, sample_weight=np.ones(3))


def test_pickle_round_trip_predicts_the_same(digits):
    X, y = digits
    clf = TabularAttentionClassifier(**TINY).fit(X[:200], y[:200])
    reg = TabularAttentionRegressor(**TINY).fit(X[:200], y[:200].astype(float))
    for model in (clf, reg):
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(restored.predict(X[200:260]), model.predict(X[200:260]))


def test_grid_search_and_pipeline(digits):
    X, y = digits
    X, y = X[:240], y[:240]
    search = GridSearchCV(TabularAttentionClassifier(**TINY), {"d_model": [4, 8]}, cv=2).fit(X, y)
    assert search.best_params_["d_model"] in (4, 8) and search.score(X, y) > 0.3
    pipe = make_pipeline(StandardScaler(), TabularAttentionClassifier(**TINY)).fit(X, y)
    assert pipe.score(X, y) > 0.3  # chance is 0.1


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_feature_attention_rows_sum_to_one(digits, pooling):
    X, y = digits
    clf = TabularAttentionClassifier(**TINY, pooling=pooling).fit(X[:150], y[:150])
    X_missing = X[:70].astype(float)
    X_missing[:, 5] = np.nan
    weights = clf.feature_attention(X_missing)
    assert weights.shape == (70, 64)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)


def test_regressor_multi_output_and_target_scaling(digits):
    X, _ = digits
    Y = np.c_[X[:200, 20] * 1000 + 5, X[:200, 30]]
    reg = TabularAttentionRegressor(**{**TINY, "max_epochs": 20}).fit(X[:200], Y)
    assert reg.predict(X[:5]).shape == (5, 2)
    assert reg.score(X[:200], Y) > 0.5


def test_invalid_architecture_message():
    with pytest.raises(ValueError, match="d_model=10 must be divisible by n_heads=8"):
        TabularAttentionClassifier(d_model=10).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_cuda_device_without_gpu_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        TabularAttentionRegressor(device="cuda").fit(X, X[:, 0])


class _HeadAtStart(Callback):
    """Records the head's weights when training starts (after transfer, before any step)."""

    def on_train_begin(self, net, **kwargs):
        self.weight_ = net.module_.head.weight.detach().clone().double().numpy()
        self.bias_ = net.module_.head.bias.detach().clone().double().numpy()


def _source_features(source, X):
    standardized = ((X - source.feature_mean_) / source.feature_scale_).astype(np.float32)
    source.module_.eval()
    with torch.no_grad():
        return source.module_.backbone(torch.from_numpy(standardized))[0].double().numpy()


def test_linear_probe_head_equals_the_probe_before_fine_tuning(digits, source_04):
    X, y = digits
    X_t, y_t = X[y >= 5][:60], y[y >= 5][:60]
    spy = _HeadAtStart()
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 1}, init_from=source_04,
                                     callbacks=[("spy", spy)]).fit(X_t, y_t)
    assert clf.head_init_ == "linear_probe" and not clf.head_transferred_
    probe = LogisticRegression(max_iter=2000).fit(_source_features(source_04, X_t), y_t - 5)
    np.testing.assert_allclose(spy.weight_, probe.coef_, atol=1e-4)
    np.testing.assert_allclose(spy.bias_, probe.intercept_, atol=1e-4)
    # the probe alone already classifies the training rows as well as the logistic regression
    assert np.mean(clf.classes_[(_source_features(source_04, X_t) @ spy.weight_.T + spy.bias_).argmax(1)] == y_t) \
        == pytest.approx(probe.score(_source_features(source_04, X_t), y_t - 5))

    random_spy = _HeadAtStart()
    TabularAttentionClassifier(**{**TINY, "max_epochs": 1}, init_from=source_04, head_init="random",
                               callbacks=[("spy", random_spy)]).fit(X_t, y_t)
    assert not np.allclose(random_spy.weight_, probe.coef_, atol=1e-2)


def test_linear_probe_fits_only_training_rows_when_early_stopping(digits, source_04):
    X, y = digits
    X_t, y_t = X[y >= 5][:60], y[y >= 5][:60]
    spy = _HeadAtStart()
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 1, "early_stopping": True},
                                     init_from=source_04, callbacks=[("spy", spy)]).fit(X_t, y_t)
    assert clf.head_init_ == "linear_probe"
    everything = LogisticRegression(max_iter=2000).fit(_source_features(source_04, X_t), y_t - 5)
    assert not np.allclose(spy.weight_, everything.coef_, atol=1e-4)  # the 9 held-out rows are left out


def test_regressor_head_starts_as_ridge_probe(digits, source_04):
    X, y = digits
    target = X[:80, 20] * 2.0 + 1
    spy = _HeadAtStart()
    reg = TabularAttentionRegressor(**{**TINY, "max_epochs": 1}, init_from=source_04,
                                    callbacks=[("spy", spy)]).fit(X[:80], target)
    ridge = Ridge().fit(_source_features(source_04, X[:80]), (target - target.mean()) / target.std())
    assert reg.head_init_ == "linear_probe"
    np.testing.assert_allclose(spy.weight_[0], ridge.coef_, atol=1e-4)


def test_init_from_a_saved_directory(digits, source_04, tmp_path):
    import sklattn

    X, y = digits
    source_04.save(tmp_path / "source")
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 1}, init_from=str(tmp_path / "source"),
                                     freeze_backbone=True).fit(X[y >= 5][:50], y[y >= 5][:50])
    assert _equal(_state(clf.module_.backbone), _state(source_04.module_.backbone))
    np.testing.assert_array_equal(clf.feature_mean_, source_04.feature_mean_)
    assert clone(clf).init_from == str(tmp_path / "source")
    assert hasattr(sklattn, "load")


def test_init_from_a_path_that_is_not_a_model(digits, tmp_path):
    X, y = digits
    with pytest.raises(ValueError, match="is not a directory"):
        TabularAttentionClassifier(**TINY, init_from=tmp_path / "missing").fit(X[:40], y[:40])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a saved sklattn model"):
        TabularAttentionClassifier(**TINY, init_from=tmp_path / "empty").fit(X[:40], y[:40])


def test_early_stopping_restores_the_best_epoch_deterministically(digits):
    X, y = digits
    params = {**TINY, "early_stopping": True, "max_epochs": 60, "n_iter_no_change": 3, "lr": 3e-2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopping early is not an interruption worth a warning
        clf = TabularAttentionClassifier(**params).fit(X[:200], y[:200])
    losses = clf.history[:, "valid_loss"]
    assert len(losses) < 60  # stopped early
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert len(losses) - clf.best_epoch_ == 3
    # the kept weights are the best epoch's: their validation loss is the minimum
    again = TabularAttentionClassifier(**params).fit(X[:200], y[:200])
    np.testing.assert_array_equal(again.predict_proba(X[200:260]), clf.predict_proba(X[200:260]))
    assert "valid_loss" not in TabularAttentionClassifier(**TINY).fit(X[:100], y[:100]).history[-1]


def test_early_stopping_uses_a_given_train_split(digits):
    X, y = digits
    clf = TabularAttentionClassifier(**{**TINY, "early_stopping": True, "max_epochs": 3},
                                     train_split=ValidSplit(4)).fit(X[:200], y[:200])
    assert clf.best_epoch_ is not None and "valid_acc" in clf.history[-1]


def test_transfer_beats_scratch_when_source_features_fit_the_target(digits, source_04):
    # Sanity check of the whole transfer path (scaling, backbone copy, probe head, fine-tuning):
    # new rows of the source's classes under new labels (so the head is rebuilt), 50 shots.
    # On digits 5-9 the same comparison is negative (README "Tabular data").
    X, y = digits
    keep = y < 5
    X_t, y_t = X[keep][400:], y[keep][400:] + 10
    train, test = slice(0, 50), slice(50, None)
    scores = {}
    for name, extra in [("scratch", {}), ("transfer", {"init_from": source_04})]:
        clf = TabularAttentionClassifier(**TINY, **extra).fit(X_t[train], y_t[train])
        scores[name] = clf.score(X_t[test], y_t[test])
    assert clf.head_init_ == "linear_probe" and not clf.head_transferred_
    assert scores["transfer"] > scores["scratch"] + 0.1, scores
