"""tfidf_blend: word n-gram evidence beside the encoder, tested and blended on small data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import make_sentiment_texts
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

import sklattn
from sklattn import AttentionClassifier
from sklattn._text import base as text_base
from sklattn._text import classifier as text_classifier
from sklattn._text import small_data
from sklattn._text.tfidf_blend import TFIDF_WEIGHT, blend_log_proba, fit_tfidf_model, tfidf_log_proba

FAST = {"max_epochs": 2, "batch_size": 8, "max_length": 32, "random_state": 0}
# A network that has barely moved from its random head: whatever it gets right beyond
# chance on the cue data comes from the TF-IDF side.
UNTRAINED = {**FAST, "max_epochs": 1, "lr": 1e-7, "head_lr": 1e-7}


def shuffled_labels(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The cue texts with their labels permuted: the words carry no evidence."""
    X, y = make_sentiment_texts(n, seed=seed)
    return X, np.random.default_rng(seed).permutation(y)


def network_log_proba(clf, X) -> np.ndarray:
    """The network's own outputs, without the blend."""
    return super(AttentionClassifier, clf)._outputs_of_texts(clf._prediction_texts(X))


@pytest.mark.parametrize("n_texts, n_columns, multilabel, expected", [
    (4, 1, False, True), (1023, 1, False, True), (1024, 1, False, False), (100_000, 1, False, False),
    (10, 2, False, False), (10, 1, True, False),
])
def test_auto_rule(n_texts, n_columns, multilabel, expected):
    assert small_data.auto_tfidf_blend(n_texts, n_columns, multilabel) is expected


# ------------------------------------------------------------- the TF-IDF side
def test_words_that_decide_the_label_pass_the_test_and_shuffled_labels_do_not():
    X, y = make_sentiment_texts(60)
    classes, codes = np.unique(y, return_inverse=True)
    cue = fit_tfidf_model(X, codes, 2)
    assert cue["blend"] and cue["cv_gain"] > 2 * cue["cv_gain_se"] > 0
    X_test, y_test = make_sentiment_texts(100, seed=5)
    assert np.mean(classes[tfidf_log_proba(cue, X_test).argmax(axis=1)] == y_test) >= 0.85

    X, y = shuffled_labels(60)
    noise = fit_tfidf_model(X, np.unique(y, return_inverse=True)[1], 2)
    assert not noise["blend"] and noise["cv_gain"] <= 2 * noise["cv_gain_se"]
    assert "coef" not in noise  # nothing to store
    forced = fit_tfidf_model(X, np.unique(y, return_inverse=True)[1], 2, require_gain=False)
    assert forced["blend"] and forced["coef"].shape == (2, len(forced["terms"]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_stored_model_predicts_as_sklearn_does(n_classes):
    X, y = make_sentiment_texts(60)
    codes = np.arange(60) % n_classes if n_classes == 3 else np.unique(y, return_inverse=True)[1]
    model = fit_tfidf_model(X, codes, n_classes, require_gain=False)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    reference = LogisticRegression(C=model["C"], max_iter=1000).fit(vectorizer.fit_transform(X), codes)
    X_test, _ = make_sentiment_texts(40, seed=7)
    expected = reference.predict_log_proba(vectorizer.transform(X_test))
    np.testing.assert_allclose(tfidf_log_proba(model, X_test), expected, atol=1e-4)


def test_blend_adds_the_words_likelihood_ratio_to_the_network_posterior():
    X, y = make_sentiment_texts(30)
    codes = np.unique(y, return_inverse=True)[1]
    weights = np.where(codes == 1, 3.0, 1.0)
    model = fit_tfidf_model(X, codes, 2, weights, require_gain=False)
    prior = np.array([np.sum(codes == 0), 3 * np.sum(codes == 1)], dtype=float)
    np.testing.assert_allclose(np.exp(model["log_prior"]), prior / prior.sum())
    logits = np.random.default_rng(0).normal(size=(5, 2))
    net = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    words = np.exp(tfidf_log_proba(model, X[:5]))
    expected = net * (words / (prior / prior.sum())) ** TFIDF_WEIGHT
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(blend_log_proba(logits, model, X[:5])), expected, rtol=1e-6)


def test_a_class_with_one_text_cannot_be_tested():
    X = np.array(["good film", "bad film", "awful plot", "poor story"], dtype=object)
    result = fit_tfidf_model(X, np.array([0, 1, 1, 1]), 2)
    assert not result["blend"] and np.isnan(result["cv_gain"])


# ------------------------------------------------------------- in the estimator
def test_small_data_with_telling_words_blends(tiny_checkpoint):
    X, y = make_sentiment_texts(60)
    X_test, y_test = make_sentiment_texts(200, seed=1)
    alone = AttentionClassifier(tiny_checkpoint, tfidf_blend=False, **UNTRAINED).fit(X, y)
    assert alone.tfidf_ is None and not alone.tfidf_blend_
    assert alone.score(X_test, y_test) < 0.8
    auto = AttentionClassifier(tiny_checkpoint, **UNTRAINED).fit(X, y)
    assert auto.tfidf_blend == "auto" and auto.tfidf_blend_ and auto.tfidf_["blend"]
    assert auto.score(X_test, y_test) >= 0.9
    # The blend is the network's posterior times the TF-IDF one over the prior.
    proba = auto.predict_proba(X_test)
    expected = np.exp(blend_log_proba(network_log_proba(auto, X_test), auto.tfidf_, X_test))
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(auto.predict(X_test), auto.classes_[proba.argmax(axis=1)])
    # The network itself trains exactly as without the blend.
    np.testing.assert_array_equal(network_log_proba(auto, X_test), network_log_proba(alone, X_test))


def _blended_classifier(checkpoint):
    X, y = make_sentiment_texts(40)
    clf = AttentionClassifier(checkpoint, **UNTRAINED).fit(X, y)
    assert clf.tfidf_blend_
    return clf, X, y


def _count_calls(monkeypatch, name: str, *modules) -> list:
    """Wrap the function ``name`` of ``modules[0]`` to record its calls, in every module given."""
    calls, original = [], getattr(modules[0], name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, name, counting, raising=False)
    return calls


def test_a_blended_prediction_checks_the_texts_once(tiny_checkpoint, monkeypatch):
    clf, X, _ = _blended_classifier(tiny_checkpoint)
    # wherever a prediction might check X
    calls = _count_calls(monkeypatch, "check_texts", text_base, text_classifier)
    proba = clf.predict_proba(X[:5])
    assert len(calls) == 1 and proba.shape == (5, 2)
    with pytest.raises(ValueError, match="text"):
        clf.predict_proba([["a", "b"]])  # still checked: two columns for a single-text model


def test_the_vectorizer_is_built_once_per_fitted_model(tiny_checkpoint, monkeypatch):
    clf, X, y = _blended_classifier(tiny_checkpoint)
    builds = _count_calls(monkeypatch, "stored_vectorizer", text_classifier)
    first = clf.predict_proba(X[:5])
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), first)
    clf.predict(X[5:9])
    assert len(builds) == 1
    copy = pickle.loads(pickle.dumps(clf))  # the pickle does not carry it
    assert "_tfidf_vectorizer_cache" not in copy.__dict__
    np.testing.assert_array_equal(copy.predict_proba(X[:5]), first)
    assert len(builds) == 2
    clf.fit(X[::-1], y[::-1])  # a refit stores a new tfidf_, whose vectorizer is built anew
    clf.predict_proba(X[:5])
    assert len(builds) == 3


def test_words_without_evidence_leave_the_network_alone(tiny_checkpoint):
    X, y = shuffled_labels(60)
    auto = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert not auto.tfidf_blend_ and not auto.tfidf_["blend"]
    alone = AttentionClassifier(tiny_checkpoint, tfidf_blend=False, **FAST).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), alone.predict_proba(X))
    forced = AttentionClassifier(tiny_checkpoint, tfidf_blend=True, **FAST).fit(X, y)
    assert forced.tfidf_blend_
    assert not np.allclose(forced.predict_proba(X), alone.predict_proba(X))


def test_large_data_pairs_and_multilabel_are_off_under_auto(tiny_checkpoint, monkeypatch):
    X, y = make_sentiment_texts(40)
    pairs = np.column_stack([X, X[::-1]])
    assert AttentionClassifier(tiny_checkpoint, **FAST).fit(pairs, y).tfidf_ is None
    indicator = np.column_stack([y == "pos", np.arange(40) % 2]).astype(int)
    assert AttentionClassifier(tiny_checkpoint, **FAST).fit(X, indicator).tfidf_ is None
    monkeypatch.setattr(small_data, "AUTO_TFIDF_BLEND_BELOW", 20)
    large = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert large.tfidf_ is None and not large.tfidf_blend_
    alone = AttentionClassifier(tiny_checkpoint, tfidf_blend=False, **FAST).fit(X, y)
    np.testing.assert_array_equal(large.predict_proba(X), alone.predict_proba(X))


def test_errors_name_the_problem_and_the_fix(tiny_checkpoint):
    X, y = make_sentiment_texts(20)
    with pytest.raises(ValueError, match="tfidf_blend=True reads single texts.*sentence pairs"):
        AttentionClassifier(tiny_checkpoint, tfidf_blend=True, **FAST).fit(np.column_stack([X, X]), y)
    indicator = np.column_stack([y == "pos", y == "neg"]).astype(int)
    with pytest.raises(ValueError, match="tfidf_blend=True needs one label per text"):
        AttentionClassifier(tiny_checkpoint, tfidf_blend=True, **FAST).fit(X, indicator)
    y_rare = np.where(np.arange(20) == 0, "rare", y)
    with pytest.raises(ValueError, match="at least 2 texts of every class; the rarest class has 1"):
        AttentionClassifier(tiny_checkpoint, tfidf_blend=True, **FAST).fit(X, y_rare)
    auto = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y_rare)  # "auto" skips it
    assert not auto.tfidf_blend_ and np.isnan(auto.tfidf_["cv_gain"])
    with pytest.raises(InvalidParameterError, match="tfidf_blend"):
        AttentionClassifier(tiny_checkpoint, tfidf_blend="yes", **FAST).fit(X, y)


def test_clone_pickle_save_and_partial_fit_keep_the_blend(tiny_checkpoint, tmp_path):
    X, y = make_sentiment_texts(40)
    X_test, _ = make_sentiment_texts(30, seed=2)
    clf = AttentionClassifier(tiny_checkpoint, **FAST).fit(X, y)
    assert clf.tfidf_blend_
    proba = clf.predict_proba(X_test)
    assert clone(clf).get_params()["tfidf_blend"] == "auto"
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X_test), proba)
    clf.save(tmp_path / "model")
    loaded = sklattn.load(tmp_path / "model")
    assert loaded.tfidf_blend_ and list(loaded.tfidf_["terms"]) == list(clf.tfidf_["terms"])
    np.testing.assert_array_equal(loaded.predict_proba(X_test), proba)
    terms = clf.tfidf_["terms"]
    clf.partial_fit(*make_sentiment_texts(16, seed=9))  # new words are not added
    assert clf.tfidf_["terms"] is terms and clf.tfidf_blend_
    # A model saved before tfidf_blend existed predicts with its network alone.
    network = network_log_proba(loaded, X_test)
    del loaded.tfidf_blend_, loaded.tfidf_
    np.testing.assert_array_equal(loaded._forward_outputs(X_test), network)
    assert not np.allclose(loaded.predict_proba(X_test), proba)
