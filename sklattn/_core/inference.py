"""The one inference loop of sklattn and the autocast rule it runs under.

Every prediction path batches through :func:`run_batches`: the text and
tabular head outputs, the frozen-encoder features of ``finetune="head"``,
``AttentionEmbedder.transform``, ``explain`` and ``feature_attention``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from skorch.utils import to_device
from torch.utils.data import Subset

from .progress import prediction_progress


def autocast_context(device: str | torch.device, precision: str) -> torch.autocast:
    """The autocast region a model runs in at ``precision`` on ``device``.

    Parameters
    ----------
    device : str or torch.device
        Where the model runs; only its type (``"cpu"``, ``"cuda"``, ...) matters.
    precision : str
        ``"bf16"`` enables bfloat16 autocast; any other value disables
        autocast (float32, even inside a caller's own autocast region).

    Returns
    -------
    torch.autocast
        A context manager.
    """
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")


def slice_batches(data: Any, batch_size: int) -> list:
    """``data`` (a tensor, an array, or a dict of them) cut into slices of ``batch_size`` rows.

    For :func:`run_batches` over in-memory inputs that need no collation; a
    dict gives dicts of aligned slices.
    """
    if isinstance(data, Mapping):
        n_rows = len(next(iter(data.values())))
        return [{name: values[start:start + batch_size] for name, values in data.items()}
                for start in range(0, n_rows, batch_size)]
    return [data[start:start + batch_size] for start in range(0, len(data), batch_size)]


def run_batches(
    dataset: Any,
    step: Callable[[Any], np.ndarray | list],
    *,
    batches: Callable[[Any], Iterable[Any]],
    order: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    progress: bool = False,
) -> np.ndarray | list:
    """Run ``step`` over ``dataset`` in batches and return the outputs in input order.

    Runs under ``torch.inference_mode`` and :func:`autocast_context`.

    Parameters
    ----------
    dataset : indexable of n_samples items
        A torch ``Dataset``, a tensor, or anything ``batches`` accepts.
    step : callable
        Maps one batch, already moved to ``device``, to its outputs: an
        ndarray whose first axis holds the batch's samples, e.g.
        (B, n_outputs), or a list of one object per sample.
    batches : callable
        Cuts the (reordered) dataset into consecutive batches, keeping every
        item once and in order, e.g. ``lambda data: DataLoader(data, 32)``.
        The result needs a ``len`` when ``progress`` is set.
    order : ndarray of shape (n_samples,) or None, default=None
        Indices to visit the items in, e.g. shortest text first so that
        dynamic padding wastes little; None keeps the input order.
    device : str or torch.device, default="cpu"
        Where batches are moved to before ``step``.
    precision : str, default="fp32"
        Passed to :func:`autocast_context`.
    progress : bool, default=False
        Show a prediction bar (it appears only once predicting takes a while).

    Returns
    -------
    ndarray of shape (n_samples, ...) or list of n_samples objects
        Concatenated step outputs, row ``i`` belonging to ``dataset[i]``.
    """
    ordered = dataset if order is None else Subset(dataset, order.tolist())
    iterator = batches(ordered)
    if progress:
        iterator = prediction_progress(iterator, total=len(iterator))
    outputs = []
    with torch.inference_mode(), autocast_context(device, precision):
        for batch in iterator:
            outputs.append(step(to_device(batch, device)))
    if outputs and isinstance(outputs[0], list):
        rows = [row for output in outputs for row in output]
        if order is None:
            return rows
        restored: list = [None] * len(rows)
        for position, index in enumerate(order):
            restored[index] = rows[position]
        return restored
    stacked = np.concatenate(outputs)  # (n_samples, ...) in visiting order
    if order is None:
        return stacked
    restored_array = np.empty_like(stacked)
    restored_array[order] = stacked
    return restored_array
