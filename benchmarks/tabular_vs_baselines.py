"""Tabular attention estimators vs scikit-learn baselines, same CV splits, default settings.

Prints mean ± sd of accuracy (classification) or R^2 (regression) over the folds
for TabularAttention{Classifier,Regressor}, LogisticRegression/Ridge and
MLPClassifier/MLPRegressor (baselines behind a StandardScaler; the attention
estimators standardize internally). No tuning anywhere.

Run: python benchmarks/tabular_vs_baselines.py [--folds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--datasets", nargs="*", default=["digits", "breast_cancer", "wine", "diabetes"])
    args = parser.parse_args()
    loaders = {"digits": load_digits, "breast_cancer": load_breast_cancer,
               "wine": load_wine, "diabetes": load_diabetes}
    for name in args.datasets:
        X, y = loaders[name](return_X_y=True)
        if name == "diabetes":
            cv = KFold(args.folds, shuffle=True, random_state=0)
            models = {
                "TabularAttentionRegressor": TabularAttentionRegressor(random_state=0),
                "Ridge": make_pipeline(StandardScaler(), Ridge()),
                "MLPRegressor": make_pipeline(StandardScaler(), MLPRegressor(max_iter=2000, random_state=0)),
            }
            metric = "r2"
        else:
            cv = StratifiedKFold(args.folds, shuffle=True, random_state=0)
            models = {
                "TabularAttentionClassifier": TabularAttentionClassifier(random_state=0),
                "LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                "MLPClassifier": make_pipeline(StandardScaler(), MLPClassifier(max_iter=2000, random_state=0)),
            }
            metric = "accuracy"
        print(f"{name} {X.shape}, {args.folds}-fold {metric}:", flush=True)
        for label, model in models.items():
            start = time.perf_counter()
            scores = cross_val_score(model, X, y, cv=cv, scoring=metric)
            print(f"  {label:28s} {scores.mean():.4f} ± {scores.std():.4f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
