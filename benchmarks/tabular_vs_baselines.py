"""Tabular attention estimators vs scikit-learn baselines, same CV splits, default settings.

For each dataset, every model is scored on the same folds (stratified for
classification) and the table prints the mean ± sd over the folds and the
difference of each baseline to the attention estimator, all measured in this
run. Baselines: LogisticRegression/Ridge and MLPClassifier/MLPRegressor behind
a StandardScaler with default parameters (max_iter raised so they converge);
the attention estimators standardize internally. No tuning anywhere.

Run: python benchmarks/tabular_vs_baselines.py [--folds 5] [--datasets wine diabetes]
"""

from __future__ import annotations

import argparse
import time

import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor

LOADERS = {"wine": load_wine, "breast_cancer": load_breast_cancer,
           "digits": load_digits, "diabetes": load_diabetes}


def _models(regression: bool) -> dict:
    if regression:
        return {
            "TabularAttentionRegressor": TabularAttentionRegressor(random_state=0),
            "Ridge": make_pipeline(StandardScaler(), Ridge()),
            "MLPRegressor": make_pipeline(StandardScaler(), MLPRegressor(max_iter=2000, random_state=0)),
        }
    return {
        "TabularAttentionClassifier": TabularAttentionClassifier(random_state=0),
        "LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        "MLPClassifier": make_pipeline(StandardScaler(), MLPClassifier(max_iter=2000, random_state=0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--datasets", nargs="*", default=list(LOADERS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        X, y = LOADERS[name](return_X_y=True)
        regression = name == "diabetes"
        cv = (KFold if regression else StratifiedKFold)(args.folds, shuffle=True, random_state=0)
        metric = "r2" if regression else "accuracy"
        reference = None
        for label, model in _models(regression).items():
            start = time.perf_counter()
            scores = cross_val_score(model, X, y, cv=cv, scoring=metric)
            reference = scores.mean() if reference is None else reference
            rows.append((name, metric, label, scores.mean(), scores.std(),
                         reference - scores.mean(), time.perf_counter() - start))
            print(f"{name:14s} {label:27s} {metric:8s} {scores.mean():.4f} ± {scores.std():.4f}  "
                  f"attention - this: {rows[-1][5]:+.4f}  ({rows[-1][6]:.0f} s)", flush=True)
    print(f"\n| dataset | model | {args.folds}-fold score | attention minus model | fit time |")
    print("|---|---|---|---|---|")
    for name, metric, label, mean, sd, diff, seconds in rows:
        margin = "—" if label.startswith("Tabular") else f"{diff:+.4f}"
        print(f"| {name} ({metric}) | {label} | {mean:.4f} ± {sd:.4f} | {margin} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
