"""Transfer learning for the tabular estimators: resolve ``init_from``, check it, probe a head.

``init_from`` may be a fitted estimator or a directory written by
``estimator.save``. The backbone is copied; a head for a new task starts as a
linear probe (LP-FT, Kumar et al. 2022): a logistic regression (classifiers)
or ridge regression (regressors) fitted on the frozen backbone's features, so
fine-tuning begins from a sensible head instead of distorting the pretrained
features with a random one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.validation import check_is_fitted

from .._io.load import load

ARCHITECTURE = ("d_model", "n_heads", "n_layers")


def resolve_source(init_from, source_base: type):
    """Return the fitted estimator ``init_from`` names (loading a saved directory).

    ``source_base`` is the class every valid source derives from (the tabular
    estimators' base, passed in by them: this module sits below them).
    """
    if isinstance(init_from, (str, os.PathLike)):
        source = _load_saved(Path(init_from))
    else:
        source = init_from
    if not isinstance(source, source_base):
        raise TypeError(
            "init_from must be a fitted TabularAttentionClassifier, TabularAttentionRegressor "
            "or TabularAttentionPretrainer (or a directory saved from one), got "
            f"{type(source).__name__}."
        )
    check_is_fitted(
        source,
        msg="init_from must be fitted before it can be transferred; call "
        "init_from.fit(X_source, y_source) first.",
    )
    return source


def _load_saved(path: Path):
    if not path.is_dir():
        raise ValueError(
            f"init_from={str(path)!r} is not a directory; pass a fitted estimator or a "
            "directory written by estimator.save(path)."
        )
    try:
        return load(path)
    except ValueError as exc:
        raise ValueError(
            f"init_from={str(path)!r} is not a saved sklattn model ({exc}); pass a directory "
            "written by TabularAttentionClassifier/Regressor.save(path) or a fitted estimator."
        ) from None


def check_compatible(source, target, n_features: int) -> None:
    """Same number of features and the same backbone shape, or a ValueError saying what to set."""
    if source.n_features_in_ != n_features:
        raise ValueError(
            f"init_from was fitted on {source.n_features_in_} features but X has "
            f"{n_features}; transfer needs the same features, in the same order."
        )
    source_names = getattr(source, "feature_names_in_", None)
    target_names = getattr(target, "feature_names_in_", None)
    if source_names is not None and target_names is not None \
            and list(source_names) != list(target_names):
        raise ValueError(
            f"init_from was fitted on columns {list(source_names)} but X has columns "
            f"{list(target_names)}; transfer needs the same columns, in the same order."
        )
    mismatched = {
        name: getattr(source, name) for name in ARCHITECTURE
        if getattr(source, name) != getattr(target, name)
    }
    if mismatched:
        raise ValueError(
            "init_from has a different architecture: set "
            + ", ".join(f"{name}={value}" for name, value in mismatched.items())
            + " to match it."
        )


def linear_probe_head(
    features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None, *,
    task: str, n_outputs: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Head weight (n_outputs, D) and bias (n_outputs,) from a linear model on ``features``.

    ``task`` is "multiclass" (``targets`` are class indices), "multilabel"
    (0/1 columns) or "regression" (standardized columns). Returns None when
    the training rows hold a single class, where no probe can be fitted.
    """
    if task == "regression":
        ridge = Ridge(alpha=1.0).fit(features, targets.reshape(len(targets), -1), sample_weight=weights)
        return np.atleast_2d(ridge.coef_), np.atleast_1d(ridge.intercept_)
    columns = targets.reshape(len(targets), -1).T if task == "multilabel" else [targets]
    coefs, biases = [], []
    for column in columns:
        seen = np.unique(column)
        if len(seen) < 2:
            return None
        probe = LogisticRegression(max_iter=2000).fit(features, column, sample_weight=weights)
        if task == "multilabel":  # one sigmoid logit per label
            coefs.append(probe.coef_[0])
            biases.append(probe.intercept_[0])
            continue
        if len(seen) == 2:  # one logit difference: split it symmetrically
            coef = np.stack([-probe.coef_[0], probe.coef_[0]]) / 2
            bias = np.array([-probe.intercept_[0], probe.intercept_[0]]) / 2
        else:
            coef, bias = probe.coef_, probe.intercept_
        # Classes absent from the training rows get zero weights and the lowest bias.
        weight = np.zeros((n_outputs, features.shape[1]))
        full_bias = np.full(n_outputs, bias.min())
        weight[seen.astype(int)] = coef
        full_bias[seen.astype(int)] = bias
        return weight, full_bias
    return np.stack(coefs), np.array(biases)
