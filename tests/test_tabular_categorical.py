"""Tables with categorical columns: detection, categories, unknown and missing values, errors."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor, load
from sklattn._tabular.base import auto_batch_size

TINY = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=30, lr=1e-2, batch_size=32,
            random_state=0, early_stopping=False)


def mixed_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame whose label is carried by a string column; numbers and a bool column are noise."""
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], n)
    frame = pd.DataFrame({
        "size": rng.normal(size=n),
        "color": color,
        "shape": pd.Categorical(rng.choice(["round", "square"], n), categories=["round", "square", "star"]),
        "flag": rng.random(n) > 0.5,
    })
    return frame, (color == "red").astype(int)


@pytest.fixture(scope="module")
def fitted():
    X, y = mixed_frame()
    return TabularAttentionClassifier(**TINY).fit(X, y), X, y


def test_string_category_and_bool_columns_are_detected_and_learned(fitted):
    clf, X, y = fitted
    assert clf.is_categorical_.tolist() == [False, True, True, True]
    assert list(clf.feature_names_in_) == ["size", "color", "shape", "flag"]
    assert clf.categories_[0].tolist() == ["blue", "green", "red"]
    assert clf.categories_[1].tolist() == ["round", "square", "star"]  # declared, unused kept
    assert clf.categories_[2].tolist() == [False, True]
    # The label lives only in the string column: learning it proves its tokens carry it.
    assert clf.score(X, y) == 1.0
    assert clf.feature_mean_.shape == (1,)  # standardization covers the numeric column only


def test_unseen_category_is_unknown_not_an_error(fitted):
    clf, X, _ = fitted
    rows = X.iloc[:4].copy()
    purple, orange = rows.copy(), rows.copy()
    purple["color"] = "purple"
    orange["color"] = "orange"
    proba = clf.predict_proba(purple)
    assert np.isfinite(proba).all()
    np.testing.assert_array_equal(proba, clf.predict_proba(orange))  # both the unknown token
    # Unknown is neutral: the model no longer claims the row is red with certainty.
    assert not np.allclose(proba, clf.predict_proba(rows))


def test_none_nan_and_pd_na_are_one_missing_value(fitted):
    clf, X, _ = fitted
    rows = X.iloc[:3].astype({"color": object})
    outputs = []
    for missing in (None, np.nan, pd.NA):
        changed = rows.copy()
        changed["color"] = [missing] * len(changed)
        outputs.append(clf.predict_proba(changed))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])


def test_missing_values_seen_in_fit_get_their_own_token():
    X, y = mixed_frame()
    X = X.astype({"color": object})
    X.loc[X.index[::5], "color"] = None
    y = np.where(X["color"].isna(), 1, y)  # "missing" means positive here
    clf = TabularAttentionClassifier(**TINY).fit(X, y)
    assert clf.score(X, y) == 1.0


def test_feature_attention_is_per_input_column_in_input_order(fitted):
    clf, X, _ = fitted
    attention = clf.feature_attention(X.iloc[:5])
    assert attention.shape == (5, 4)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-5)
    # The network orders its tokens numeric first; the output is back in X's order.
    data = clf._checked_features(X.iloc[:5])
    clf.module_.eval()
    with torch.no_grad():
        tokens = clf.module_.backbone.feature_attention(
            torch.from_numpy(data["x"]), torch.from_numpy(data["x_cat"])
        ).numpy()
    np.testing.assert_allclose(attention[:, [0, 1, 2, 3]], tokens[:, [0, 1, 2, 3]], rtol=1e-5)
    shuffled = X.iloc[:5][["color", "size", "shape", "flag"]]
    with pytest.raises(ValueError, match="feature names"):
        clf.feature_attention(shuffled)  # names are checked, as in sklearn


def test_save_load_and_pickle_keep_categories_and_predictions(fitted, tmp_path):
    clf, X, _ = fitted
    clf.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert [c.tolist() for c in loaded.categories_] == [c.tolist() for c in clf.categories_]
    unpickled = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(unpickled.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("spec", [[1, 2, 3], ["color", "shape", "flag"], [False, True, True, True]])
def test_categorical_features_by_index_name_or_mask(spec):
    X, y = mixed_frame(80)
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 2}, categorical_features=spec).fit(X, y)
    assert clf.is_categorical_.tolist() == [False, True, True, True]


def test_numeric_codes_can_be_declared_categorical():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=120), rng.integers(0, 4, 120)])
    y = (X[:, 1] == 2).astype(int)  # not monotone in the code: a category, not a number
    clf = TabularAttentionClassifier(**TINY, categorical_features=[1]).fit(X, y)
    assert clf.categories_[0].tolist() == [0, 1, 2, 3]
    assert clf.score(X, y) == 1.0


def test_numpy_object_array_and_nested_lists():
    X, y = mixed_frame(60)
    as_array = X.to_numpy(dtype=object)
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 2}).fit(as_array, y)
    assert clf.is_categorical_.tolist() == [False, True, True, True]
    as_list = as_array.tolist()  # numpy alone would turn the numbers into strings
    np.testing.assert_array_equal(clf.predict_proba(as_list), clf.predict_proba(as_array))


def test_all_categorical_columns_and_regression():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice(list("xyz"), 150), "b": rng.choice(list("uv"), 150)})
    y = (X["a"] == "x") * 2.0 + (X["b"] == "u") * 1.0
    reg = TabularAttentionRegressor(**{**TINY, "max_epochs": 60, "lr": 1e-2}).fit(X, y)
    assert reg.feature_mean_.shape == (0,)
    assert reg.score(X, y) > 0.9


@pytest.mark.parametrize("spec, message", [
    ([7], "column index 7, but X has 4 columns"),
    (["colour"], "names column 'colour', which is not in X"),
    ([True, False], "boolean mask of length 2 but X has 4 columns"),
])
def test_bad_categorical_features_are_clear_errors(spec, message):
    X, y = mixed_frame(20)
    with pytest.raises(ValueError, match=message):
        TabularAttentionClassifier(**TINY, categorical_features=spec).fit(X, y)


def test_column_names_need_a_dataframe():
    X, y = mixed_frame(20)
    with pytest.raises(ValueError, match="no column names; pass a pandas DataFrame"):
        TabularAttentionClassifier(**TINY, categorical_features=["color"]).fit(X.to_numpy(dtype=object), y)


def test_strings_in_a_numeric_column_name_the_column_and_the_fix():
    X, y = mixed_frame(20)
    with pytest.raises(ValueError, match="Column 'color' holds a non-numeric value 'blue' \\(row 0\\).*categorical_features"):
        TabularAttentionClassifier(**TINY, categorical_features=["shape", "flag"]).fit(X, y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        TabularAttentionClassifier(**TINY, categorical_features=None).fit(X, y)


def test_init_from_with_other_column_types_is_refused(fitted):
    source, X, y = fitted
    with pytest.raises(ValueError, match="treats different columns as categorical: columns 'flag' differ"):
        TabularAttentionClassifier(**TINY, init_from=source, categorical_features=["color", "shape"]).fit(X, y)
    renamed = X.rename(columns={"size": "weight"})
    with pytest.raises(ValueError, match="fitted on columns"):
        TabularAttentionClassifier(**TINY, init_from=source).fit(renamed, y)


def test_transfer_copies_categories_and_category_tokens(fitted):
    source, X, y = fitted
    target = TabularAttentionClassifier(**{**TINY, "max_epochs": 1}, init_from=source,
                                        freeze_backbone=True).fit(X.iloc[:40], y[:40])
    assert [c.tolist() for c in target.categories_] == [c.tolist() for c in source.categories_]
    assert torch.equal(target.module_.backbone.categories.embedding.weight,
                       source.module_.backbone.categories.embedding.weight)


def test_auto_batch_size_rule_and_steps_per_epoch():
    assert [auto_batch_size(n) for n in (10, 4095, 4096, 9000, 20000, 40000, 10**6)] == \
        [32, 32, 64, 128, 256, 512, 512]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5000, 3)), rng.integers(0, 2, 5000)
    clf = TabularAttentionClassifier(d_model=8, n_heads=2, n_layers=1, max_epochs=1,
                                     random_state=0).fit(X, y)
    n_train = 5000 - math.ceil(0.15 * 5000)
    assert clf.batch_size_ == auto_batch_size(n_train) == 64
    assert len(clf.history_[-1, "batches"]) == math.ceil(n_train / 64) + math.ceil(750 / 64)
    fixed = TabularAttentionClassifier(d_model=8, n_heads=2, n_layers=1, max_epochs=1,
                                       batch_size=500, random_state=0).fit(X, y)
    assert fixed.batch_size_ == 500


def test_grid_search_over_a_mixed_frame_and_clone_keeps_the_column_spec():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = mixed_frame(90)
    clf = TabularAttentionClassifier(**{**TINY, "max_epochs": 3}, categorical_features=["color", "shape", "flag"])
    assert clone(clf).get_params()["categorical_features"] == ["color", "shape", "flag"]
    search = GridSearchCV(clf, {"d_model": [8, 16]}, cv=2).fit(X, y)
    assert search.best_estimator_.is_categorical_.tolist() == [False, True, True, True]
    assert search.predict(X.iloc[:5]).shape == (5,)
