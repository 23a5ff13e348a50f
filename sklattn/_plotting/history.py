"""Training curves: losses and scores per epoch from a skorch history."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np
from sklearn.exceptions import NotFittedError

from ._axes import new_axes, pyplot

_NOT_PLOTTED = {"epoch", "dur", "batches", "lr", "train_batch_count", "valid_batch_count"}


def _history_of(estimator) -> list[dict]:
    from skorch.history import History

    if isinstance(estimator, History):
        return estimator
    if hasattr(estimator, "steps"):  # a Pipeline: its last step trained
        estimator = estimator.steps[-1][1]
    name = type(estimator).__name__
    if hasattr(estimator, "fine_tune_history_"):  # AttentionEmbedder
        if estimator.fine_tune_history_ is None:
            raise ValueError(f"{name} was fitted without fine_tune, so it has no training history to plot.")
        return estimator.fine_tune_history_
    history = getattr(estimator, "history_", None)
    if history is None:
        raise NotFittedError(f"{name} has no training history yet; call fit before plot_history.")
    return history


def _history_series(history: Sequence[dict]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Epoch numbers and every numeric per-epoch record (NaN where an epoch lacks it)."""
    keys: list[str] = []
    for row in history:
        for key, value in row.items():
            plottable = isinstance(value, Real) and not isinstance(value, bool)
            if plottable and key not in _NOT_PLOTTED and not key.endswith("_best") and key not in keys:
                keys.append(key)
    epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(history)])
    series = {key: np.array([float(row.get(key, np.nan)) for row in history]) for key in keys}
    return epochs, series


def plot_history(estimator, ax=None):
    """Plot losses and metrics per epoch from a fitted estimator's ``history_``.

    Losses (records ending in ``loss``) use the left axis; other scores such
    as ``valid_acc`` use a second axis on the right with dashed lines.

    Parameters
    ----------
    estimator : fitted sklattn estimator, Pipeline ending in one, or skorch History
        An ``AttentionEmbedder`` fitted with ``fine_tune`` plots its
        fine-tuning run.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes holding the loss curves.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from skorch.dataset import ValidSplit
    >>> from sklattn import TabularAttentionClassifier
    >>> from sklattn.plotting import plot_history
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = TabularAttentionClassifier(max_epochs=3, train_split=ValidSplit(4),
    ...                                  random_state=0).fit(X, y)
    >>> ax = plot_history(clf)
    >>> [line.get_label() for line in ax.get_lines()]
    ['train_loss', 'valid_loss']
    """
    history = _history_of(estimator)
    epochs, series = _history_series(history)
    if not series:
        raise ValueError("the history has no numeric per-epoch records to plot.")
    ax = new_axes(ax, (6.4, 4.0))
    losses = {key: values for key, values in series.items() if key.endswith("loss")}
    metrics = {key: values for key, values in series.items() if key not in losses}
    cycle = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {key: cycle[i % len(cycle)] for i, key in enumerate(series)}
    markers = len(epochs) <= 25  # dots help on short runs and clutter long ones
    for key, values in losses.items():
        ax.plot(epochs, values, marker="o" if markers else None, color=colors[key], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    if metrics:
        twin = ax.twinx()
        for key, values in metrics.items():
            twin.plot(epochs, values, marker="s" if markers else None, linestyle="--",
                      color=colors[key], label=key)
        twin.set_ylabel("score")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    # Below the axes: inside, the curves of the two y axes would run through it.
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=min(len(labels), 4), frameon=False)
    ax.set_title(f"Training history ({len(history)} epochs)")
    return ax
