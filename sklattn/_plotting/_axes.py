"""Shared by the plots: the lazy matplotlib import and a new axes when none is given."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot, or an ImportError that says how to install it.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'sklattn.plotting needs matplotlib to draw figures: pip install "sklattn[plot]" '
            "(or pip install matplotlib)."
        ) from exc
    return plt


def new_axes(ax, figsize: tuple[float, float]):
    """``ax`` itself, or the axes of a new constrained-layout figure of ``figsize``.

    Parameters
    ----------
    ax : matplotlib Axes or None
    figsize : tuple of float
        Width and height in inches of the new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax
