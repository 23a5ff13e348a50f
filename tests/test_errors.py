"""Bad input gets a clear error before any training starts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_sentiment_texts
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklattn import (
    AttentionClassifier,
    AttentionEmbedder,
    AttentionRegressor,
    TabularAttentionClassifier,
    TabularAttentionRegressor,
)

OK = dict(max_length=32, max_epochs=1, batch_size=8, random_state=0)
X_GOOD, Y_GOOD = make_sentiment_texts(8)


@pytest.fixture(autouse=True)
def _no_training(monkeypatch):
    """Every case here must fail before the training loop: make reaching it a test failure."""
    from skorch import NeuralNet

    def fail(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(NeuralNet, "fit_loop", fail)


@pytest.mark.parametrize(
    "X, error, message",
    [
        ([], ValueError, "X is empty"),
        ("one text", TypeError, "single string"),
        (None, TypeError, "X is None"),
        (["fine", None, "ok"], ValueError, "missing value .* at row 1"),
        (["fine", float("nan"), "ok"], ValueError, "missing value .* at row 1"),
        (["fine", "ok", 3], TypeError, "row 2 is int"),
        (np.array([["a", "b", "c"]] * 3), ValueError, "3 columns"),
        ({"text": ["a"]}, TypeError, "unsupported type dict"),
        ([("a", "b"), ("c",)], ValueError, "2-tuples"),
    ],
    ids=["empty", "string", "none", "none-entry", "nan-entry", "int-entry", "three-columns", "dict", "ragged-pairs"],
)
def test_bad_X(tiny_checkpoint, X, error, message):
    y = ["pos", "neg", "pos"][: len(X)] if hasattr(X, "__len__") and not isinstance(X, (str, dict)) else Y_GOOD
    with pytest.raises(error, match=message):
        AttentionClassifier(tiny_checkpoint, **OK).fit(X, y)


@pytest.mark.parametrize(
    "y, error, message",
    [
        (Y_GOOD[:5], ValueError, "X has 8 samples but y has 5"),
        (["pos"] * 8, ValueError, "only one class"),
        (["pos", "neg", None, "pos", "neg", "pos", "neg", "pos"], ValueError, "missing label .* row 2"),
        ([1.0, 0.0, np.nan, 1.0, 0.0, 1.0, 0.0, 1.0], ValueError, "missing label .* row 2"),
        (["pos", 1, "neg", 0, "pos", 1, "neg", 0], TypeError, "mixes label types"),
        (np.ones((8, 2, 2)), ValueError, "1-D .* or a 2-D 0/1 indicator"),
        (None, ValueError, "needs targets"),
    ],
    ids=["length", "one-class", "none-label", "nan-label", "mixed-types", "3d", "none"],
)
def test_bad_classifier_y(tiny_checkpoint, y, error, message):
    with pytest.raises(error, match=message):
        AttentionClassifier(tiny_checkpoint, **OK).fit(X_GOOD, y)


@pytest.mark.parametrize(
    "y, error, message",
    [
        ([1.0] * 7 + [np.nan], ValueError, "NaN or infinite .* row 7"),
        ([1.0] * 7 + [np.inf], ValueError, "NaN or infinite"),
        (["a"] * 8, TypeError, "numeric"),
        (np.ones((8, 2, 2)), ValueError, "1-D or 2-D"),
    ],
    ids=["nan", "inf", "strings", "3d"],
)
def test_bad_regressor_y(tiny_checkpoint, y, error, message):
    with pytest.raises(error, match=message):
        AttentionRegressor(tiny_checkpoint, **OK).fit(X_GOOD, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"batch_size": 0}, "'batch_size' parameter .* range \\[1, inf\\)"),
        ({"batch_size": -4}, "'batch_size' parameter"),
        ({"lr": 0.0}, "'lr' parameter .* range \\(0.0, inf\\)"),
        ({"lr": -1e-3}, "'lr' parameter"),
        ({"max_epochs": 0}, "'max_epochs' parameter"),
        ({"pooling": "median"}, "'pooling' parameter .* 'cls', 'max', 'mean'|'pooling' parameter"),
        ({"precision": "fp16"}, "'precision' parameter"),
        ({"warmup_ratio": 1.5}, "'warmup_ratio' parameter"),
        ({"dropout": 1.0}, "'dropout' parameter"),
        ({"max_length": 1}, "'max_length' parameter"),
        ({"class_weight": "weighted"}, "'class_weight' parameter"),
    ],
)
def test_invalid_parameters_name_the_parameter_and_allowed_values(tiny_checkpoint, params, message):
    with pytest.raises(ValueError, match=message):
        AttentionClassifier(tiny_checkpoint, **{**OK, **params}).fit(X_GOOD, Y_GOOD)


def test_max_length_above_model_positions(tiny_checkpoint):
    with pytest.raises(ValueError, match="max_length=128 exceeds the 64 positions .* at most 64"):
        AttentionClassifier(tiny_checkpoint, max_length=128).fit(X_GOOD, Y_GOOD)


def test_missing_local_directory(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="checkpoint directory .*nope.* does not exist"):
        AttentionClassifier(missing, **OK).fit(X_GOOD, Y_GOOD)
    with pytest.raises(ValueError, match="does not exist"):
        AttentionClassifier(str(missing), **OK).fit(X_GOOD, Y_GOOD)


def test_directory_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="has no config.json"):
        AttentionClassifier(tmp_path, **OK).fit(X_GOOD, Y_GOOD)


def test_unknown_hub_id_offline_fails_fast(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="'acme/no-such-model' is neither a local directory nor in the local"):
        AttentionClassifier("acme/no-such-model", **OK).fit(X_GOOD, Y_GOOD)
    assert time.perf_counter() - start < 5


def test_checkpoint_of_wrong_type():
    with pytest.raises(ValueError, match="'checkpoint' parameter"):
        AttentionClassifier(42, **OK).fit(X_GOOD, Y_GOOD)


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(5), "sample_weight has shape \\(5,\\) but X has 8"),
        (-np.ones(8), "negative"),
        (np.r_[np.ones(7), np.nan], "NaN or infinite"),
        (np.zeros(8), "sums to zero"),
    ],
    ids=["length", "negative", "nan", "zero"],
)
def test_bad_sample_weight(tiny_checkpoint, weights, message):
    with pytest.raises(ValueError, match=message):
        AttentionClassifier(tiny_checkpoint, **OK).fit(X_GOOD, Y_GOOD, sample_weight=weights)


def test_unknown_class_weight_label(tiny_checkpoint):
    with pytest.raises(ValueError, match="not in class_weight|not in classes|class_weight"):
        AttentionClassifier(tiny_checkpoint, class_weight={"maybe": 2.0}, **OK).fit(X_GOOD, Y_GOOD)


def test_unknown_skorch_argument_is_reported(tiny_checkpoint):
    with pytest.raises(ValueError, match="iterator_train_shuffle, did you mean iterator_train__shuffle"):
        AttentionClassifier(tiny_checkpoint, iterator_train_shuffle=True, **OK).fit(X_GOOD, Y_GOOD)


def test_dataframe_with_non_text_columns_suggests_column_transformer(tiny_checkpoint):
    import pandas as pd

    frame = pd.DataFrame({"text": X_GOOD, "stars": range(8)})
    with pytest.raises(ValueError, match=r"\['stars'\] are not text.*text_columns.*ColumnTransformer"):
        AttentionClassifier(tiny_checkpoint, **OK).fit(frame, Y_GOOD)
    with pytest.raises(ValueError, match=r"text_columns \['body'\] not found .* \['text', 'stars'\]"):
        AttentionClassifier(tiny_checkpoint, text_columns="body", **OK).fit(frame, Y_GOOD)
    with pytest.raises(ValueError, match="one column .* or two"):
        AttentionClassifier(tiny_checkpoint, text_columns=["text", "text", "text"], **OK).fit(frame, Y_GOOD)


@pytest.mark.parametrize("estimator_class", [AttentionClassifier, AttentionRegressor])
def test_cuda_device_without_gpu_or_bad_device(estimator_class, tiny_checkpoint, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    y = Y_GOOD if estimator_class is AttentionClassifier else np.arange(8.0)
    with pytest.raises(ValueError, match="device='cuda' but no CUDA GPU is available"):
        estimator_class(tiny_checkpoint, **{**OK, "device": "cuda"}).fit(X_GOOD, y)
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        estimator_class(tiny_checkpoint, **{**OK, "device": "gpu0"}).fit(X_GOOD, y)


# ------------------------------------------------------------------------------
# The bad-input matrix across every estimator: each row is (id, action, error, message).
# An action gets the tiny checkpoint and estimators fitted before the no-training guard.
TABULAR = dict(d_model=8, n_heads=2, n_layers=1, max_epochs=1, batch_size=16, random_state=0)
X_TAB = np.random.default_rng(0).normal(size=(24, 5))
Y_TAB = np.arange(24) % 2
X_TAB_INF = X_TAB.copy()
X_TAB_INF[3, 2] = np.inf
Y_REG_INF = np.ones((8, 2))
Y_REG_INF[3, 1] = np.inf


@pytest.fixture(scope="module")
def fitted(tiny_checkpoint):
    """Fitted estimators for the prediction-time rows (module scope: set up before the guard)."""
    return {
        "classifier": AttentionClassifier(tiny_checkpoint, **OK).fit(X_GOOD, Y_GOOD),
        "regressor": AttentionRegressor(tiny_checkpoint, **OK).fit(X_GOOD, np.arange(8.0)),
        "embedder": AttentionEmbedder(tiny_checkpoint, max_length=32).fit(X_GOOD),
        "tabular": TabularAttentionClassifier(**TABULAR).fit(X_TAB, Y_TAB),
    }


def _clf(ckpt, **params):
    return AttentionClassifier(ckpt, **{**OK, **params})


def _reg(ckpt, **params):
    return AttentionRegressor(ckpt, **{**OK, **params})


BAD_INPUTS = [
    # AttentionClassifier
    ("clf-bytes", lambda c, f: _clf(c).fit([b"a"] * 8, Y_GOOD), TypeError, "row 0 is bytes"),
    ("clf-X-3d", lambda c, f: _clf(c).fit(np.array(X_GOOD).reshape(2, 2, 2), Y_GOOD[:2]),
     ValueError, r"1-D or 2-D, got an array of shape \(2, 2, 2\)"),
    ("clf-3-tuples", lambda c, f: _clf(c).fit([("a", "b", "c")] * 8, Y_GOOD), ValueError, "has 3 columns"),
    ("clf-text-columns-on-list", lambda c, f: _clf(c, text_columns=0).fit(list(X_GOOD), Y_GOOD),
     ValueError, "needs X to be a DataFrame"),
    ("clf-sample-weight-2d", lambda c, f: _clf(c).fit(X_GOOD, Y_GOOD, sample_weight=np.ones((8, 2))),
     ValueError, r"sample_weight has shape \(8, 2\)"),
    ("clf-multilabel-not-0-1", lambda c, f: _clf(c).fit(X_GOOD, np.full((8, 2), 2)), ValueError, "0/1 indicator"),
    ("clf-threshold", lambda c, f: _clf(c, threshold=1.5).fit(X_GOOD, Y_GOOD), ValueError, "'threshold' parameter"),
    ("clf-predict-int", lambda c, f: f["classifier"].predict(5), TypeError, "unsupported type int"),
    ("clf-predict-none-entry", lambda c, f: f["classifier"].predict(["fine", None]),
     ValueError, "missing value .* at row 1"),
    ("clf-predict-pairs", lambda c, f: f["classifier"].predict([("a", "b")]),
     ValueError, "fitted on single texts but got sentence pairs"),
    ("clf-partial-fit-unseen-label", lambda c, f: f["classifier"].partial_fit(X_GOOD[:2], ["maybe"] * 2),
     ValueError, r"labels \['maybe'\] not seen"),
    # AttentionRegressor
    ("reg-X-none", lambda c, f: _reg(c).fit(None, np.arange(8.0)), TypeError, "X is None"),
    ("reg-X-empty", lambda c, f: _reg(c).fit([], []), ValueError, "X is empty"),
    ("reg-y-2d-inf", lambda c, f: _reg(c).fit(X_GOOD, Y_REG_INF), ValueError, "NaN or infinite .* row 3"),
    ("reg-sample-weight-strings", lambda c, f: _reg(c).fit(X_GOOD, np.arange(8.0), sample_weight=["a"] * 8),
     TypeError, "sample_weight must hold numbers"),
    ("reg-scale-target", lambda c, f: _reg(c, scale_target="yes").fit(X_GOOD, np.arange(8.0)),
     ValueError, "'scale_target' parameter"),
    ("reg-predict-pairs", lambda c, f: f["regressor"].predict([("a", "b")]),
     ValueError, "fitted on single texts but got sentence pairs"),
    ("reg-partial-fit-more-outputs", lambda c, f: f["regressor"].partial_fit(X_GOOD, np.ones((8, 2))),
     ValueError, "2 target columns but the model was fitted with 1"),
    # AttentionEmbedder
    ("emb-X-none", lambda c, f: AttentionEmbedder(c).fit(None), TypeError, "X is None"),
    ("emb-pairs", lambda c, f: AttentionEmbedder(c).fit([("a", "b")] * 3), ValueError, "embeds one text column"),
    ("emb-fine-tune-without-y", lambda c, f: AttentionEmbedder(c, fine_tune=True).fit(X_GOOD),
     ValueError, "fine_tune=True needs targets"),
    ("emb-fine-tune-params-clash",
     lambda c, f: AttentionEmbedder(c, fine_tune=True, fine_tune_params={"lr": 1.0}).fit(X_GOOD, Y_GOOD),
     ValueError, r"fine_tune_params sets \['lr'\], which are parameters of AttentionEmbedder"),
    ("emb-normalize", lambda c, f: AttentionEmbedder(c, normalize="yes").fit(X_GOOD), ValueError, "'normalize' parameter"),
    ("emb-max-length", lambda c, f: AttentionEmbedder(c, max_length=128).fit(X_GOOD), ValueError, "exceeds the 64 positions"),
    ("emb-transform-unfitted", lambda c, f: AttentionEmbedder(c).transform(X_GOOD), NotFittedError, "not fitted"),
    ("emb-transform-int-entry", lambda c, f: f["embedder"].transform(["fine", 3]), TypeError, "row 1 is int"),
    # TabularAttentionClassifier / TabularAttentionRegressor
    ("tab-X-strings", lambda c, f: TabularAttentionClassifier(**TABULAR, categorical_features=None).fit(
        np.array([["a", "b"]] * 4), [0, 1] * 2),
     ValueError, "could not convert string to float"),
    ("tab-X-3d", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB.reshape(24, 5, 1), Y_TAB),
     ValueError, "Found array with dim 3"),
    ("tab-X-empty", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(np.empty((0, 5)), []),
     ValueError, r"0 sample\(s\)"),
    ("tab-X-inf", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB_INF, Y_TAB),
     ValueError, r"infinite values \(first at row 3, column 2\)"),
    ("tab-y-length", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB, Y_TAB[:5]),
     ValueError, "inconsistent numbers of samples"),
    ("tab-y-continuous", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB, X_TAB[:, 0]),
     ValueError, "Unknown label type: continuous"),
    ("tab-one-class", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB, np.ones(24)),
     ValueError, "only one class"),
    ("tab-reg-y-nan", lambda c, f: TabularAttentionRegressor(**TABULAR).fit(X_TAB, np.r_[np.nan, np.ones(23)]),
     ValueError, "Input y contains NaN"),
    ("tab-reg-sample-weight-negative",
     lambda c, f: TabularAttentionRegressor(**TABULAR).fit(X_TAB, Y_TAB * 1.0, sample_weight=-np.ones(24)),
     ValueError, "negative"),
    ("tab-n-heads", lambda c, f: TabularAttentionClassifier(**{**TABULAR, "n_heads": 3}).fit(X_TAB, Y_TAB),
     ValueError, "d_model=8 must be divisible by n_heads=3"),
    ("tab-freeze-backbone", lambda c, f: TabularAttentionClassifier(**TABULAR, freeze_backbone=-1).fit(X_TAB, Y_TAB),
     ValueError, "'freeze_backbone' parameter"),
    ("tab-init-from-unfitted",
     lambda c, f: TabularAttentionClassifier(**TABULAR, init_from=TabularAttentionClassifier()).fit(X_TAB, Y_TAB),
     NotFittedError, "init_from must be fitted"),
    ("tab-init-from-other-type",
     lambda c, f: TabularAttentionClassifier(**TABULAR, init_from=LogisticRegression()).fit(X_TAB, Y_TAB),
     TypeError, "init_from must be a fitted TabularAttentionClassifier, TabularAttentionRegressor or TabularAttentionPretrainer"),
    ("tab-init-from-other-features",
     lambda c, f: TabularAttentionClassifier(**TABULAR, init_from=f["tabular"]).fit(X_TAB[:, :3], Y_TAB),
     ValueError, "init_from was fitted on 5 features but X has 3"),
    ("tab-init-from-other-architecture",
     lambda c, f: TabularAttentionClassifier(**{**TABULAR, "d_model": 16}, init_from=f["tabular"]).fit(X_TAB, Y_TAB),
     ValueError, "different architecture: set d_model=8"),
    ("tab-predict-feature-count", lambda c, f: f["tabular"].predict(X_TAB[:, :3]),
     ValueError, "X has 3 features, but TabularAttentionClassifier is expecting 5"),
    ("tab-predict-inf", lambda c, f: f["tabular"].predict(X_TAB_INF), ValueError, "infinite values"),
    ("tab-mixed-label-types", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB[:4], ["a", 1, "a", 1]),
     TypeError, "mixes label types"),
    ("tab-missing-label", lambda c, f: TabularAttentionClassifier(**TABULAR).fit(X_TAB[:4], ["a", None, "a", "b"]),
     ValueError, "missing label .* at row 1"),
]


def _case_id(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize("case_id, action, error, message", BAD_INPUTS, ids=[_case_id(c) for c in BAD_INPUTS])
def test_bad_input_matrix(case_id, action, error, message, tiny_checkpoint, fitted):
    with pytest.raises(error, match=message):
        action(tiny_checkpoint, fitted)


def test_bad_input_matrix_spans_every_estimator():
    prefixes = {_case_id(case).split("-")[0] for case in BAD_INPUTS}
    assert prefixes == {"clf", "reg", "emb", "tab"}
    assert len(BAD_INPUTS) >= 30


def test_score_with_labels_never_seen_counts_them_wrong(fitted):
    """As in scikit-learn, ``score`` does not raise on unseen labels: they are simply errors."""
    assert fitted["classifier"].score(X_GOOD[:4], ["maybe"] * 4) == 0.0


# ------------------------------------------------------------------------------
# Sparse matrices (e.g. TfidfVectorizer output) are not texts: a TypeError that says so.
def _sparse_X():
    from scipy import sparse

    return sparse.csr_matrix(np.eye(8)[:, :3])


SPARSE_MESSAGE = (r"X is a sparse matrix \(csr_matrix\) of shape \(8, 3\), but sparse input is not "
                  r"supported: text estimators take texts")


@pytest.mark.parametrize("action", [
    lambda c, f: _clf(c).fit(_sparse_X(), Y_GOOD),
    lambda c, f: _reg(c).fit(_sparse_X(), np.arange(8.0)),
    lambda c, f: _clf(c).partial_fit(_sparse_X(), Y_GOOD),
    lambda c, f: AttentionEmbedder(c).fit(_sparse_X()),
    lambda c, f: AttentionEmbedder(c).fit_transform(_sparse_X()),
    lambda c, f: f["classifier"].predict(_sparse_X()),
    lambda c, f: f["classifier"].predict_proba(_sparse_X()),
    lambda c, f: f["regressor"].predict(_sparse_X()),
    lambda c, f: f["embedder"].transform(_sparse_X()),
    lambda c, f: _clf(c, text_columns=[0]).fit(_sparse_X(), Y_GOOD),
], ids=["clf-fit", "reg-fit", "clf-partial-fit", "emb-fit", "emb-fit-transform", "clf-predict",
        "clf-predict-proba", "reg-predict", "emb-transform", "clf-fit-text-columns"])
def test_sparse_X_is_refused_naming_sparsity(action, tiny_checkpoint, fitted):
    with pytest.raises(TypeError, match=SPARSE_MESSAGE):
        action(tiny_checkpoint, fitted)


def test_sparse_array_and_sparse_dataframe_are_refused_too(tiny_checkpoint, fitted):
    import pandas as pd
    from scipy import sparse

    with pytest.raises(TypeError, match=r"sparse matrix \(csr_array\).*Pass the raw texts"):
        fitted["classifier"].predict(sparse.csr_array(np.eye(3)))
    frame = pd.DataFrame(np.eye(3)).astype(pd.SparseDtype(float, 0.0))
    with pytest.raises(TypeError, match="X is a pandas sparse DataFrame of shape"):
        fitted["embedder"].transform(frame)


@pytest.mark.parametrize("estimator_class", [AttentionClassifier, AttentionRegressor, AttentionEmbedder])
def test_sklearn_check_estimator_sparse_tag(estimator_class, tiny_checkpoint):
    from sklearn.utils import get_tags
    from sklearn.utils.estimator_checks import check_estimator_sparse_tag

    estimator = estimator_class(tiny_checkpoint, max_length=32)
    assert not get_tags(estimator).input_tags.sparse
    check_estimator_sparse_tag(estimator_class.__name__, estimator)
