"""Token attention of the text estimators: an HTML and matplotlib heat map."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._axes import new_axes, pyplot

# RGB of the heat map's HTML highlight; its opacity encodes the weight.
_HIGHLIGHT_RGB = "220, 38, 38"


def _display_pieces(tokens: Sequence[str]) -> list[tuple[str, bool]]:
    """(text shown, glued to the previous piece) for each word piece."""
    pieces = []
    for i, token in enumerate(tokens):
        if token.startswith("##") and len(token) > 2 and i > 0:  # WordPiece continuation
            pieces.append((token[2:], True))
        elif token[:1] in ("\u0120", "\u2581") and len(token) > 1:  # BPE / SentencePiece word start
            pieces.append((token[1:], False))
        else:
            pieces.append((token, False))
    return pieces


class AttentionHeatmap:
    """Tokens of each text coloured by the attention they received.

    Renders as HTML in Jupyter (``_repr_html_``), as a matplotlib grid with
    :meth:`plot`, and saves to ``.html`` or any image format matplotlib
    writes (``.png``, ``.svg``, ``.pdf``). Colour intensity is relative to the
    most-attended token of each text; hovering a token (HTML) shows its weight.

    Parameters
    ----------
    explanations : list of dict
        The output of ``explain(X)``: per text, ``"tokens"`` and ``"weights"``.
    labels : sequence of str or None, default=None
        A caption per text (e.g. its prediction); ``"text 1"``, ... when None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklattn.plotting import AttentionHeatmap
    >>> heatmap = AttentionHeatmap([{"tokens": ["good", "film"],
    ...                              "weights": np.array([0.75, 0.25])}], labels=["pos"])
    >>> heatmap.tokens, heatmap.labels
    ([['good', 'film']], ['pos'])
    """

    def __init__(self, explanations: Sequence[dict], labels: Sequence[Any] | None = None) -> None:
        self.tokens = [list(item["tokens"]) for item in explanations]
        self.weights = [np.asarray(item["weights"], dtype=float) for item in explanations]
        if any(len(t) != len(w) for t, w in zip(self.tokens, self.weights)):
            raise ValueError("each explanation needs one weight per token.")
        if labels is None:
            labels = [f"text {i + 1}" for i in range(len(self.tokens))]
        if len(labels) != len(self.tokens):
            raise ValueError(f"got {len(labels)} labels for {len(self.tokens)} texts; pass one per text.")
        self.labels = [str(label) for label in labels]

    @staticmethod
    def _relative(weights: np.ndarray) -> np.ndarray:
        top = weights.max() if len(weights) else 0.0
        return weights / top if top > 0 else np.zeros_like(weights)

    # ----------------------------------------------------------- HTML
    def to_html(self, full_document: bool = False) -> str:
        """HTML with one line per text; every token and label is escaped.

        Parameters
        ----------
        full_document : bool, default=False
            Wrap in ``<!DOCTYPE html>...`` for a standalone file.

        Returns
        -------
        str
        """
        rows = []
        for label, tokens, weights in zip(self.labels, self.tokens, self.weights):
            spans = []
            for (text, glued), weight, strength in zip(
                _display_pieces(tokens), weights, self._relative(weights)
            ):
                spans.append(
                    ("" if glued or not spans else " ")
                    + f'<span title="{weight:.3f}" style="background-color: '
                    f'rgba({_HIGHLIGHT_RGB}, {0.85 * strength:.3f}); border-radius: 3px; '
                    f'padding: 1px 1px">{html.escape(text, quote=True)}</span>'
                )
            rows.append(
                '<div style="margin: 4px 0; line-height: 1.9">'
                f'<strong>{html.escape(label, quote=True)}</strong>: {"".join(spans)}</div>'
            )
        body = '<div class="sklattn-attention">' + "\n".join(rows) + "</div>"
        if not full_document:
            return body
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>sklattn attention</title>'
            '</head>\n<body style="font-family: sans-serif">\n' + body + "\n</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"AttentionHeatmap({len(self.tokens)} texts)"

    # ----------------------------------------------------------- figure
    def plot(self, ax=None, tokens_per_row: int = 12, cmap: str = "Reds"):
        """Draw the heat map as a grid: a cell per token, rows wrapped at ``tokens_per_row``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure sized to the texts when None.
        tokens_per_row : int, default=12
            Cells per row; longer texts continue on the next rows.
        cmap : str, default="Reds"
            matplotlib colormap of the weights.

        Returns
        -------
        matplotlib.axes.Axes
        """
        if tokens_per_row < 1:
            raise ValueError(f"tokens_per_row must be >= 1, got {tokens_per_row}.")
        starts = [
            (text, start)
            for text, tokens in enumerate(self.tokens)
            for start in range(0, max(len(tokens), 1), tokens_per_row)
        ]
        grid = np.full((len(starts), tokens_per_row), np.nan)
        ax = new_axes(ax, (0.9 * tokens_per_row + 1.5, 0.45 * len(starts) + 1.0))
        cells = []
        for row, (text, start) in enumerate(starts):
            relative = self._relative(self.weights[text])[start : start + tokens_per_row]
            grid[row, : len(relative)] = relative
            cells += [
                (row, col, token)
                for col, token in enumerate(self.tokens[text][start : start + tokens_per_row])
            ]
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for row, col, token in cells:
            dark = grid[row, col] > 0.6
            ax.text(col, row, token.replace("$", r"\$"), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
        first_rows = {}
        for row, (text, _) in enumerate(starts):
            first_rows.setdefault(text, row)
        for row in list(first_rows.values())[1:]:  # separate the texts
            ax.axhline(row - 0.5, color="0.3", linewidth=1.5)
        ax.set_yticks(list(first_rows.values()), [self.labels[text] for text in first_rows])
        ax.set_xticks([])
        ax.figure.colorbar(image, ax=ax, label="attention / text's maximum", shrink=0.8)
        ax.set_title("Attention of the first token to each token")
        return ax

    def save(self, path: str | os.PathLike, **savefig_kwargs) -> Path:
        """Write ``.html`` (standalone page) or an image (``.png``, ``.svg``, ...).

        Parameters
        ----------
        path : str or os.PathLike
            Target file; its suffix picks the format.
        **savefig_kwargs
            Passed to matplotlib's ``savefig`` for images.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix.lower() in (".html", ".htm"):
            path.write_text(self.to_html(full_document=True), encoding="utf-8")
            return path
        plt = pyplot()
        figure = self.plot().figure
        try:
            figure.savefig(path, **{"dpi": 150, **savefig_kwargs})
        finally:
            plt.close(figure)
        return path


def attention_heatmap(estimator, X, labels: Sequence[Any] | None = None) -> AttentionHeatmap:
    """Heat map of the tokens each text's first token attended to, from ``explain(X)``.

    Parameters
    ----------
    estimator : fitted AttentionClassifier or AttentionRegressor
        Any fitted estimator with an ``explain`` method.
    X : texts (or sentence pairs) as accepted by the estimator
    labels : sequence or None, default=None
        A caption per text, e.g. ``estimator.predict(X)``.

    Returns
    -------
    AttentionHeatmap
        Shows itself in Jupyter; ``.save("attention.html")`` or ``.save("attention.png")``.
    """
    if not hasattr(estimator, "explain"):
        raise TypeError(
            f"attention_heatmap needs a fitted text estimator with explain() (AttentionClassifier "
            f"or AttentionRegressor), got {type(estimator).__name__}."
        )
    return AttentionHeatmap(estimator.explain(X), labels=labels)


def plot_attention(estimator, X, labels: Sequence[Any] | None = None, ax=None,
                   tokens_per_row: int = 12):
    """Draw :func:`attention_heatmap` with matplotlib; see :meth:`AttentionHeatmap.plot`.

    Parameters
    ----------
    estimator : fitted AttentionClassifier or AttentionRegressor
    X : texts (or sentence pairs) as accepted by the estimator
    labels : sequence or None, default=None
        A caption per text.
    ax : matplotlib Axes, default=None
    tokens_per_row : int, default=12

    Returns
    -------
    matplotlib.axes.Axes
    """
    return attention_heatmap(estimator, X, labels=labels).plot(ax=ax, tokens_per_row=tokens_per_row)
