"""Bad input gets a clear error before any training starts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_sentiment_texts

from sklattn import AttentionClassifier, AttentionRegressor

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
