"""Feature attention of the tabular estimators: a sorted bar chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._axes import new_axes


def plot_feature_attention(estimator, X, feature_names: Sequence[str] | None = None, ax=None,
                           top: int | None = None):
    """Bar chart of the mean attention each feature receives over the rows of ``X``.

    Error bars show the standard deviation across rows. Bars are sorted,
    most-attended first.

    Parameters
    ----------
    estimator : fitted TabularAttentionClassifier or TabularAttentionRegressor
    X : array-like of shape (n_samples, n_features)
    feature_names : sequence of str or None, default=None
        Defaults to ``estimator.feature_names_in_`` (fitted on a DataFrame)
        or ``x0``, ``x1``, ...
    ax : matplotlib Axes, default=None
    top : int or None, default=None
        Show only the ``top`` most-attended features.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklattn import TabularAttentionClassifier
    >>> from sklattn.plotting import plot_feature_attention
    >>> data = load_wine()
    >>> clf = TabularAttentionClassifier(max_epochs=3, random_state=0).fit(data.data, data.target)
    >>> ax = plot_feature_attention(clf, data.data, feature_names=data.feature_names, top=5)
    >>> len(ax.patches)
    5
    """
    if not hasattr(estimator, "feature_attention"):
        raise TypeError(
            "plot_feature_attention needs a fitted TabularAttentionClassifier or "
            f"TabularAttentionRegressor, got {type(estimator).__name__}."
        )
    attention = estimator.feature_attention(X)  # (n_samples, n_features)
    n_features = attention.shape[1]
    if feature_names is None:
        feature_names = getattr(estimator, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(n_features)]
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != n_features:
        raise ValueError(f"got {len(feature_names)} feature_names for {n_features} features.")
    mean, std = attention.mean(axis=0), attention.std(axis=0)
    order = np.argsort(-mean, kind="stable")[:top]
    ax = new_axes(ax, (6.4, 0.3 * len(order) + 1.2))
    positions = np.arange(len(order))
    ax.barh(positions, mean[order], xerr=std[order], color="tab:red", alpha=0.8)
    ax.set_yticks(positions, [feature_names[j] for j in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"mean attention over {attention.shape[0]} rows (sums to 1 over features)")
    ax.set_title(f"Feature attention of {type(estimator).__name__}")
    return ax
