"""AttentionRegressor behaviour on the tiny checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NEUTRAL, POSITIVE

from sklattn import AttentionRegressor

FAST = dict(max_length=32, lr=2e-3, max_epochs=15, batch_size=16, random_state=0)


def make_count_texts(n: int, seed: int):
    """Target = number of positive words in the text (0-4), on a large offset scale."""
    rng = np.random.default_rng(seed)
    texts, counts = [], []
    for _ in range(n):
        k = int(rng.integers(0, 5))
        words = list(rng.choice(NEUTRAL, size=3)) + list(rng.choice(POSITIVE, size=k))
        rng.shuffle(words)
        texts.append(" ".join(words))
        counts.append(k)
    return np.array(texts, dtype=object), np.array(counts, dtype=float)


@pytest.fixture(scope="module")
def count_data():
    return make_count_texts(200, seed=0), make_count_texts(150, seed=1)


def test_learns_a_count_on_a_large_scale(tiny_checkpoint, count_data):
    (X, y), (X_test, y_test) = count_data
    # Price-like scale: 1000 + 250 * count. Target scaling makes this as easy as z-scores.
    reg = AttentionRegressor(tiny_checkpoint, **FAST).fit(X, 1000 + 250 * y)
    assert reg.score(X_test, 1000 + 250 * y_test) >= 0.8
    prediction = reg.predict(X_test)
    assert prediction.shape == (150,)
    assert 900 < prediction.mean() < 1600


def test_two_d_targets_predict_two_d(tiny_checkpoint, count_data):
    (X, y), (X_test, y_test) = count_data
    Y = np.c_[y, -2 * y + 3]
    reg = AttentionRegressor(tiny_checkpoint, **FAST).fit(X, Y)
    assert reg.n_outputs_ == 2
    prediction = reg.predict(X_test)
    assert prediction.shape == (150, 2)
    assert reg.score(X_test, np.c_[y_test, -2 * y_test + 3]) >= 0.8
    column = AttentionRegressor(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X, y[:, None])
    assert column.predict(X_test[:3]).shape == (3, 1)


def test_target_scaling_is_stored_and_optional(tiny_checkpoint, count_data):
    (X, y), _ = count_data
    reg = AttentionRegressor(tiny_checkpoint, **{**FAST, "max_epochs": 1}).fit(X, 10 * y)
    np.testing.assert_allclose(reg.target_mean_, [10 * y.mean()])
    np.testing.assert_allclose(reg.target_scale_, [10 * y.std()])
    raw = AttentionRegressor(tiny_checkpoint, scale_target=False, **{**FAST, "max_epochs": 1}).fit(X, y)
    np.testing.assert_array_equal(raw.target_mean_, [0.0])
    np.testing.assert_array_equal(raw.target_scale_, [1.0])


def test_constant_target_does_not_divide_by_zero(tiny_checkpoint, count_data):
    (X, _), (X_test, _) = count_data
    reg = AttentionRegressor(tiny_checkpoint, **{**FAST, "max_epochs": 2}).fit(X, np.full(len(X), 7.0))
    np.testing.assert_allclose(reg.predict(X_test), 7.0, atol=1.0)
    assert np.all(np.isfinite(reg.predict(X_test)))


def test_regressor_has_no_predict_proba(tiny_checkpoint):
    assert not hasattr(AttentionRegressor(tiny_checkpoint), "predict_proba")


def test_auto_epochs_follow_the_data_size(tiny_checkpoint):
    """max_epochs="auto": small data gets the minimum steps, large data exactly 3 epochs."""
    from sklattn._text.small_data import AUTO_MIN_STEPS, AUTO_MIN_WINDOWS

    params = dict(max_length=16, batch_size=16, random_state=0)
    X, y = make_count_texts(16, seed=2)  # one batch per epoch
    small = AttentionRegressor(tiny_checkpoint, **params).fit(X, y)
    assert small.max_epochs == "auto"
    schedule = dict(small.callbacks_)["lr_schedule"]
    assert schedule.total_steps_ == schedule.step_ == small.max_epochs_ == AUTO_MIN_STEPS["full"]
    assert np.isfinite(small.predict(X)).all()
    X, y = make_count_texts(AUTO_MIN_WINDOWS // 3, seed=3)  # the windows floor: 2,048 // 682 = 3 epochs
    large = AttentionRegressor(tiny_checkpoint, **params).fit(X, y)
    assert large.max_epochs_ == len(large.history_) == 3
    assert dict(large.callbacks_)["lr_schedule"].step_ == 3 * int(np.ceil(len(X) / 16)) >= AUTO_MIN_STEPS["full"]
    fixed = AttentionRegressor(tiny_checkpoint, **{**params, "max_epochs": 2}).fit(X[:16], y[:16])
    assert fixed.max_epochs_ == len(fixed.history_) == 2
    assert dict(fixed.callbacks_)["lr_schedule"].step_ == 2
