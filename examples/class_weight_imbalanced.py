"""Balanced class weights on an imbalanced sample of Rotten Tomatoes snippets.

Training data: 1,000 snippets with 9 "fresh" for every "rotten" (drawn from the
training movies); test data: 1,000 snippets of held-out movies, half of each class.
The same AttentionClassifier is fitted with ``class_weight=None`` and
``class_weight="balanced"``; balanced accuracy shows what weighting buys on the
minority class. TF-IDF + LogisticRegression with the same two settings is the
baseline, measured in the same run.

Usage::

    python examples/class_weight_imbalanced.py [--n-train 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from sklattn import AttentionClassifier
from sklattn.datasets import load_rotten_tomatoes, minilm_path


def imbalanced_sample(index, labels, n, minority_share, rng):
    rotten = rng.choice(index[labels[index] == "rotten"], int(n * minority_share), replace=False)
    fresh = rng.choice(index[labels[index] == "fresh"], n - len(rotten), replace=False)
    return rng.permutation(np.r_[rotten, fresh])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=1000)
    args = parser.parse_args()

    data = load_rotten_tomatoes()
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train_all, test_all = next(split.split(data.data, data.target, groups=data.groups))
    rng = np.random.default_rng(0)
    train = imbalanced_sample(train_all, data.target, args.n_train, 0.1, rng)
    test = imbalanced_sample(test_all, data.target, args.n_test, 0.5, rng)
    X_train, y_train, X_test, y_test = data.data[train], data.target[train], data.data[test], data.target[test]
    print(f"train: {np.sum(y_train == 'fresh')} fresh / {np.sum(y_train == 'rotten')} rotten; "
          f"test: {np.sum(y_test == 'fresh')} fresh / {np.sum(y_test == 'rotten')} rotten")

    print(f"\n{'model':<36} {'class_weight':<12} {'balanced accuracy':>18}")
    for weight in (None, "balanced"):
        tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                              LogisticRegression(max_iter=2000, class_weight=weight))
        score = balanced_accuracy_score(y_test, tfidf.fit(X_train, y_train).predict(X_test))
        print(f"{'TF-IDF + LogisticRegression':<36} {str(weight):<12} {score:>18.3f}")
    for weight in (None, "balanced"):
        clf = AttentionClassifier(minilm_path(), max_length=64, class_weight=weight, random_state=0)
        score = balanced_accuracy_score(y_test, clf.fit(X_train, y_train).predict(X_test))
        print(f"{'AttentionClassifier all-MiniLM-L6-v2':<36} {str(weight):<12} {score:>18.3f}")


if __name__ == "__main__":
    main()
