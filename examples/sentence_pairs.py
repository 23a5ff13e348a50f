"""Sentence pairs: which of two Rotten Tomatoes snippets is the "fresh" one?

Each sample pairs a fresh and a rotten snippet in random order; the label says
which comes first. ``X`` is a two-column array, encoded as one input
``[CLS] a [SEP] b [SEP]``, so the model must compare the two sides. Baseline,
measured in the same run: a TF-IDF + LogisticRegression sentiment model trained
on the same snippets, picking the side it finds more likely fresh. Train/test
pairs come from disjoint movies. 1,500 training and 1,000 test pairs by default.

Usage::

    python examples/sentence_pairs.py [--n-train 1500] [--n-test 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from sklattn import AttentionClassifier
from sklattn.datasets import load_rotten_tomatoes, minilm_path


def make_pairs(index, data, n, rng):
    fresh = rng.choice(index[data.target[index] == "fresh"], n)
    rotten = rng.choice(index[data.target[index] == "rotten"], n)
    fresh_first = rng.random(n) < 0.5
    first, second = np.where(fresh_first, fresh, rotten), np.where(fresh_first, rotten, fresh)
    X = np.c_[data.data[first], data.data[second]]
    y = np.where(fresh_first, "first", "second")
    return X, y, first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-test", type=int, default=1000)
    args = parser.parse_args()

    data = load_rotten_tomatoes()
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train_all, test_all = next(split.split(data.data, data.target, groups=data.groups))
    rng = np.random.default_rng(0)
    X_train, y_train, a, b = make_pairs(train_all, data, args.n_train, rng)
    X_test, y_test, _, _ = make_pairs(test_all, data, args.n_test, rng)

    singles = np.r_[a, b]
    sentiment = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                              LogisticRegression(max_iter=2000))
    sentiment.fit(data.data[singles], data.target[singles])
    fresh_column = list(sentiment.classes_).index("fresh")
    p_first = sentiment.predict_proba(X_test[:, 0])[:, fresh_column]
    p_second = sentiment.predict_proba(X_test[:, 1])[:, fresh_column]
    baseline = np.where(p_first >= p_second, "first", "second")
    baseline_acc = np.mean(baseline == y_test)

    clf = AttentionClassifier(minilm_path(), max_length=96, random_state=0).fit(X_train, y_train)
    acc = clf.score(X_test, y_test)

    print(f"train {len(X_train)} pairs, test {len(X_test)} pairs; share 'first' {np.mean(y_test == 'first'):.2f}")
    print(f"\n{'model':<52} {'test accuracy':>13}")
    print(f"{'TF-IDF + LogisticRegression, likelier side':<52} {baseline_acc:>13.3f}")
    print(f"{'AttentionClassifier all-MiniLM-L6-v2 on pairs':<52} {acc:>13.3f}")


if __name__ == "__main__":
    main()
