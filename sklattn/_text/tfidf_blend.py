"""The ``tfidf_blend`` of :class:`~sklattn.AttentionClassifier`: word n-gram evidence beside the encoder.

With a few dozen labelled texts a fine-tuned encoder reads meaning well but
surface tokens poorly: which app posted a tweet shows in links, hashtags and
quoting, a news section in its vocabulary, and a TF-IDF + logistic regression
reads every such token of every text. On those data it matches or beats the
encoder (``benchmarks/few_shot.py``); on data whose label is meaning (review
sentiment) it is near chance and only adds noise.

So :func:`fit_tfidf_model` first measures whether the words carry evidence:
a TF-IDF (word 1-2 grams, sublinear term frequency) + ``LogisticRegression``
is cross-validated on the training texts for each ``C`` of :data:`C_GRID`,
and the best ``C``'s out-of-fold log-loss is compared with the log-loss of
the class prior, text by text. Only when the words beat the prior by more
than :data:`SIGNIFICANCE` standard errors of that per-text gain does the
classifier blend. Cross-validating ``C`` on log-loss also calibrates the
model's probabilities, so it weighs in as much as its evidence deserves.

The blend adds the words' evidence to the network's posterior
(:func:`blend_log_proba`):
``p(y | text) ∝ p_net(y | text) · (p_tfidf(y | text) / p(y)) ** TFIDF_WEIGHT``,
where ``p(y)`` is the (weighted) training class prior, which both posteriors
include once. With a weight of 1 this would treat the two models as
independent evidence; they are not (the encoder reads the same words), and
where the encoder already knows what the words know the full product
over-counts them: on Rotten Tomatoes fresh/rotten/plot it cost 2.1 points at
16 per class, against 1.0 at half weight, while half weight kept most of the
gains on tweets and news (README, "Small data"). Hence :data:`TFIDF_WEIGHT`.

The fitted model is stored as plain arrays and a term list (the ``tfidf_``
attribute), so it saves to JSON without pickle and predicts through a
:class:`~sklearn.feature_extraction.text.TfidfVectorizer` rebuilt from them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

# Inverse regularization strengths tried; log-loss picks one per fit.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
# Standard errors by which the words' out-of-fold gain over the class prior must
# exceed zero before the classifier blends (about a 2.5% one-sided test).
SIGNIFICANCE = 2.0
# Exponent of the TF-IDF model's likelihood ratio in the blend (1 would be a
# product of independent posteriors; the two share the words, see above).
TFIDF_WEIGHT = 0.5
# Folds of the cross-validation (fewer when a class has fewer texts).
N_FOLDS = 5
NGRAM_RANGE = (1, 2)
# The result when nothing can be tested (a class with one text, or no word at all).
UNTESTED = {"cv_gain": float("nan"), "cv_gain_se": float("nan"), "C": float("nan"), "blend": False}


def _vectorizer(**kwargs) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=NGRAM_RANGE, sublinear_tf=True, **kwargs)


def _log_prior(codes: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    mass = np.bincount(codes, weights=weights, minlength=n_classes)
    return np.log(mass / mass.sum())


def _out_of_fold_log_loss(features, codes, weights, n_classes: int, folds: list) -> np.ndarray:
    """Per-text out-of-fold log-loss, one row per ``C`` of :data:`C_GRID`.

    Each fold walks up the grid from the previous ``C``'s solution (warm start),
    at a looser tolerance than the final fit: a ranking of ``C`` values needs
    less precision, and the large ``C`` values converge slowly from scratch.
    """
    losses = np.empty((len(C_GRID), len(codes)))
    for train, test in folds:
        model = LogisticRegression(max_iter=1000, tol=1e-3, warm_start=True)
        for row, C in enumerate(C_GRID):
            model.set_params(C=C).fit(features[train], codes[train], sample_weight=weights[train])
            log_proba = np.full((len(test), n_classes), -np.inf)
            log_proba[:, model.classes_] = model.predict_log_proba(features[test])
            losses[row, test] = -log_proba[np.arange(len(test)), codes[test]]
    return losses


def fit_tfidf_model(texts: np.ndarray, codes: np.ndarray, n_classes: int,
                    weights: np.ndarray | None = None, require_gain: bool = True) -> dict:
    """Test whether word n-grams predict the labels; fit the blended model if so.

    Parameters
    ----------
    texts : ndarray of str, shape (n_samples,)
    codes : ndarray of int, shape (n_samples,)
        Class index of each text (``0 .. n_classes - 1``).
    n_classes : int
    weights : ndarray of shape (n_samples,), optional
        Per-text loss weights (``sample_weight`` times ``class_weight``).
    require_gain : bool, default=True
        Blend only if the gain is significant (``tfidf_blend="auto"``); False
        blends whenever ``C`` could be cross-validated (``tfidf_blend=True``).

    Returns
    -------
    dict
        ``"cv_gain"`` (mean out-of-fold log-loss gain over the class prior, in
        nats per text; NaN when a class has fewer than 2 texts and nothing can
        be tested), ``"cv_gain_se"`` (its standard error), ``"C"`` (the best
        inverse regularization) and ``"blend"`` (whether the gain is
        significant). When it is, also the model: ``"terms"`` (the vocabulary
        in column order), ``"idf"``, ``"coef"``, ``"intercept"`` and
        ``"log_prior"``.
    """
    weights = np.ones(len(codes)) if weights is None else np.asarray(weights, dtype=np.float64)
    per_class = np.bincount(codes, minlength=n_classes)
    n_folds = min(N_FOLDS, int(per_class.min()))
    if n_folds < 2:
        return dict(UNTESTED)
    vectorizer = _vectorizer()
    try:
        features = vectorizer.fit_transform(texts)
    except ValueError:  # no word at all (e.g. texts of digits and punctuation only)
        return dict(UNTESTED)
    folds = list(StratifiedKFold(n_folds).split(np.zeros(len(codes)), codes))
    losses = _out_of_fold_log_loss(features, codes, weights, n_classes, folds)
    share = weights / weights.sum()
    best = int(np.argmin(losses @ share))
    log_prior = _log_prior(codes, weights, n_classes)
    gain = -log_prior[codes] - losses[best]  # per text, nats
    mean = float(gain @ share)
    se = float(np.sqrt(np.sum(share ** 2 * (gain - mean) ** 2) * len(gain) / max(len(gain) - 1, 1)))
    result = {"cv_gain": mean, "cv_gain_se": se, "C": float(C_GRID[best]),
              "blend": bool(mean > SIGNIFICANCE * se or not require_gain)}
    if result["blend"]:
        model = LogisticRegression(C=C_GRID[best], max_iter=1000)
        model.fit(features, codes, sample_weight=weights)
        coef, intercept = model.coef_, model.intercept_
        if n_classes == 2:  # one column of log-odds; stored as two for one formula
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        result.update(terms=vectorizer.get_feature_names_out().astype(object),
                      idf=vectorizer.idf_.astype(np.float32), coef=coef.astype(np.float32),
                      intercept=intercept.astype(np.float64), log_prior=log_prior)
    return result


def stored_vectorizer(model: dict) -> TfidfVectorizer:
    """The fitted vectorizer of a stored TF-IDF model, rebuilt from its terms and weights."""
    vectorizer = _vectorizer(vocabulary={term: column for column, term in enumerate(model["terms"])})
    vectorizer.idf_ = model["idf"].astype(np.float64)
    return vectorizer


def tfidf_log_proba(model: dict, texts: np.ndarray, vectorizer: TfidfVectorizer | None = None) -> np.ndarray:
    """Log class probabilities of the stored TF-IDF model, shape (n_samples, n_classes).

    ``vectorizer``, from :func:`stored_vectorizer`, saves rebuilding it (milliseconds
    per call for a vocabulary of thousands of terms) on repeated predictions.
    """
    vectorizer = stored_vectorizer(model) if vectorizer is None else vectorizer
    scores = vectorizer.transform(texts) @ model["coef"].T.astype(np.float64) + model["intercept"]
    return log_softmax(scores, axis=1)


def blend_log_proba(net_logits: np.ndarray, model: dict, texts: np.ndarray,
                    vectorizer: TfidfVectorizer | None = None) -> np.ndarray:
    """Normalized log-probabilities of the encoder's logits and the TF-IDF model combined.

    ``log p_net + TFIDF_WEIGHT * (log p_tfidf - log prior)``: the network's
    posterior, plus the words' log-likelihood ratio at :data:`TFIDF_WEIGHT`.
    """
    evidence = tfidf_log_proba(model, texts, vectorizer) - model["log_prior"]
    combined = log_softmax(net_logits.astype(np.float64), axis=1) + TFIDF_WEIGHT * evidence
    return combined - logsumexp(combined, axis=1, keepdims=True)
