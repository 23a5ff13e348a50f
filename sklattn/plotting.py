"""Plots of fitted sklattn estimators: training curves, token and feature attention.

matplotlib is an optional dependency (``pip install "sklattn[plot]"``),
imported only when a figure is drawn; the HTML heat map needs nothing extra.

Examples
--------
>>> import numpy as np
>>> from sklattn.plotting import AttentionHeatmap
>>> heatmap = AttentionHeatmap([{"tokens": ["a", "<b>", "##c"],
...                              "weights": np.array([0.2, 0.5, 0.3])}])
>>> "&lt;b&gt;" in heatmap.to_html()
True
"""

from __future__ import annotations

from ._plotting._axes import pyplot as _pyplot  # noqa: F401  (kept for tests and old callers)
from ._plotting.feature_attention import plot_feature_attention
from ._plotting.history import plot_history
from ._plotting.text_attention import AttentionHeatmap, attention_heatmap, plot_attention

__all__ = [
    "AttentionHeatmap",
    "attention_heatmap",
    "plot_attention",
    "plot_feature_attention",
    "plot_history",
]
