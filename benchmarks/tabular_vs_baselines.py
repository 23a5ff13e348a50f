"""Tabular attention estimators vs scikit-learn baselines, same CV splits, default settings.

For each table, every model is scored on the same folds (stratified for
classification) and the table prints the mean ± standard error over the
folds, the difference of each baseline to the attention estimator, and the
mean fit seconds per fold, all measured in this run. No tuning anywhere.

Baselines, at their defaults (``max_iter`` raised where they would stop
before converging):

- ``HistGradientBoosting*`` with native categorical support (string columns
  handed over as pandas ``category``);
- ``MLP*`` and ``LogisticRegression``/``Ridge`` on one-hot encoded string
  columns (missing as its own category, unseen ones ignored) and
  median-imputed, standardized numbers;
- the attention estimators take the DataFrame as it is (string columns are
  detected, numbers standardized internally, NaN a learned missing token).

Tables: the real ones of ``_tables.py`` (``hi``, ``nass``, ``diamonds``;
10,000+ rows with string columns) and scikit-learn's small bundled ones
(``wine``, ``breast_cancer``, ``digits``, ``diabetes``). Binary tables are
scored by ROC AUC, multiclass by accuracy, regression by R². Every run prints
the CPU and how much of the machine other processes used while each model
fitted (above 10% the timings are noisy).

Run: python benchmarks/tabular_vs_baselines.py [--folds 3] [--tables hi nass diamonds]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tables import TABLES, as_categories, string_columns  # noqa: E402
from _timing import describe_cpu, timed  # noqa: E402

from sklattn import TabularAttentionClassifier, TabularAttentionRegressor  # noqa: E402

SMALL = {"wine": load_wine, "breast_cancer": load_breast_cancer,
         "digits": load_digits, "diabetes": load_diabetes}


def load_table(name: str):
    """``(X, y, task)`` of a table named on the command line."""
    if name in TABLES:
        return TABLES[name]()
    X, y = SMALL[name](return_X_y=True)
    task = "regression" if name == "diabetes" else ("binary" if len(np.unique(y)) == 2 else "multiclass")
    return X, y, task


def _encoded(model, strings: list[str]):
    """``model`` behind one-hot strings and imputed, scaled numbers (or just scaling)."""
    if not strings:
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)
    encode = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                       OneHotEncoder(handle_unknown="ignore")), strings),
        remainder=make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
    )
    return make_pipeline(encode, model)


def models(task: str, strings: list[str], seed: int) -> dict:
    to_categories = FunctionTransformer(as_categories) if strings else "passthrough"
    if task == "regression":
        return {
            "TabularAttentionRegressor": TabularAttentionRegressor(random_state=seed),
            "HistGradientBoostingRegressor": make_pipeline(
                to_categories, HistGradientBoostingRegressor(categorical_features="from_dtype",
                                                             random_state=seed)),
            "MLPRegressor": _encoded(MLPRegressor(max_iter=2000, random_state=seed), strings),
            "Ridge": _encoded(Ridge(), strings),
        }
    return {
        "TabularAttentionClassifier": TabularAttentionClassifier(random_state=seed),
        "HistGradientBoostingClassifier": make_pipeline(
            to_categories, HistGradientBoostingClassifier(categorical_features="from_dtype",
                                                          random_state=seed)),
        "MLPClassifier": _encoded(MLPClassifier(max_iter=2000, random_state=seed), strings),
        "LogisticRegression": _encoded(LogisticRegression(max_iter=5000), strings),
    }


def _folds(model, X, y, cv, metric: str, label: str) -> tuple[np.ndarray, float]:
    """Test scores of ``model`` on each fold (printed as they come) and mean fit seconds."""
    result = {"test_score": [], "fit_time": []}
    for k, (train, test) in enumerate(cv.split(X, y)):
        fold = cross_validate(model, X, y, cv=[(train, test)], scoring=metric)
        result["test_score"].append(fold["test_score"][0])
        result["fit_time"].append(fold["fit_time"][0])
        print(f"    {label} fold {k + 1}: {fold['test_score'][0]:.4f} in {fold['fit_time'][0]:.0f} s",
              flush=True)
    return np.array(result["test_score"]), float(np.mean(result["fit_time"]))


METRICS = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--tables", nargs="*", default=list(TABLES))
    parser.add_argument("--models", nargs="*", default=None, help="a subset of the model names")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{describe_cpu()}\ntorch threads {args.threads}")
    rows = []
    for name in args.tables:
        X, y, task = load_table(name)
        strings = string_columns(X) if hasattr(X, "columns") else []
        splitter = KFold if task == "regression" else StratifiedKFold
        cv = splitter(args.folds, shuffle=True, random_state=0)
        metric = METRICS[task]
        print(f"\n{name}: {X.shape[0]} rows x {X.shape[1]} columns ({len(strings)} strings), {metric}")
        reference = None
        for label, model in models(task, strings, seed=0).items():
            if args.models and label not in args.models:
                continue
            run = timed(lambda model=model: _folds(model, X, y, cv, metric, label))
            scores, fit_seconds = run.result
            sem = scores.std(ddof=1) / np.sqrt(len(scores))
            reference = scores.mean() if reference is None else reference
            rows.append((name, metric, label, scores.mean(), sem, reference - scores.mean(),
                         fit_seconds, run.others_share))
            print(f"  {label:32s} {scores.mean():.4f} ± {sem:.4f} (se)  attention - this: "
                  f"{rows[-1][5]:+.4f}  fit {fit_seconds:.1f} s/fold  others used "
                  f"{run.others_share:.0%} of the CPU", flush=True)
    print(f"\n| table | model | {args.folds}-fold score ± se | attention minus model | fit s/fold |")
    print("|---|---|---|---|---|")
    for name, metric, label, mean, sem, diff, seconds, _ in rows:
        margin = "—" if label.startswith("Tabular") else f"{diff:+.4f}"
        print(f"| {name} ({metric}) | {label} | {mean:.4f} ± {sem:.4f} | {margin} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
