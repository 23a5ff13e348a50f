"""Saving fitted estimators in the saved-model format (:mod:`.format`), without pickle.

Each estimator says what to store through three hooks: ``_saved_network()``
(the module whose weights go to safetensors), ``_saved_history()`` and
``_write_saved_files(directory)`` (extra files, e.g. the tokenizer).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .atomic import atomic_directory
from .format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MODEL_DIR_KIND,
    RUNTIME_ATTRIBUTES,
    WEIGHTS,
    file_table,
    seal,
    versions,
)
from .registry import estimator_classes
from .serialize import Unrepresentable, encode


class SaveMixin:
    """Adds :meth:`save` to every sklattn estimator."""

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted estimator to a directory that :func:`sklattn.load` reads.

        The directory holds the weights as safetensors, the tokenizer and encoder
        config files (text estimators) and a JSON file with the parameters, the
        fitted attributes and checksums: no pickle, so loading a stranger's
        model cannot run code. The write is atomic: the new directory is built
        beside ``path`` and swapped in, so an interrupted save leaves the
        previous model intact. Tensors are stored on the CPU, so a model trained
        on a GPU loads anywhere.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to create, or to replace if it holds a model saved before.

        Warns
        -----
        UserWarning
            For parameters that cannot be stored without pickle (callback
            objects, a fitted ``init_from``, an optimizer outside
            ``torch.optim``, a ``RandomState``...). They only steer training;
            the loaded estimator has their defaults.

        Raises
        ------
        ValueError
            If the labels are not str, int, float or bool (use pickle or
            joblib for such models), or ``path`` is a file or a non-empty
            directory that is not a saved model.

        Examples
        --------
        >>> import numpy as np
        >>> import sklattn
        >>> from sklattn import AttentionClassifier
        >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
        >>> texts, labels = ["a good film", "the plot was awful"], ["pos", "neg"]
        >>> clf = AttentionClassifier(checkpoint, max_length=64, max_epochs=1).fit(texts, labels)
        >>> clf.save("sentiment-model")
        >>> loaded = sklattn.load("sentiment-model")
        >>> np.array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
        True
        """
        save_estimator(self, path)




def _encode_params(estimator) -> tuple[dict, list[str]]:
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        try:
            params[name] = encode(value)
        except Unrepresentable as exc:
            dropped.append(f"{name} ({exc})")
    return params, dropped


def _encode_fitted(estimator) -> dict:
    fitted = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_") or name in RUNTIME_ATTRIBUTES:
            continue
        try:
            fitted[name] = encode(value)
        except Unrepresentable as exc:
            if name == "classes_":
                raise ValueError(
                    f"cannot save {type(estimator).__name__} without pickle: its labels "
                    f"(classes_) include values of type {exc}; only str, int, float and bool "
                    "labels can be stored safely. Convert the labels (e.g. y = [str(v) for v "
                    "in y]) and refit, or use pickle/joblib for files you trust."
                ) from None
            warnings.warn(f"{type(estimator).__name__}.save: fitted attribute {name} ({exc}) "
                          "cannot be stored without pickle and is left out.", UserWarning, stacklevel=4)
    return fitted


def _plain(value: Any) -> Any:
    """History values with numpy scalars as Python numbers (the log is for reading)."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _encode_history(history, owner: str) -> list | None:
    if history is None:
        return None
    try:
        return encode([_plain(dict(entry)) for entry in history])
    except Unrepresentable as exc:
        warnings.warn(f"{owner}.save: the training history holds a {exc} value and is "
                      "left out; the loaded model has an empty history.", UserWarning, stacklevel=4)
        return None


def _cpu_tensors(module: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """State dict as CPU tensors, each storage once; tied names become aliases."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    first_name: dict[tuple, str] = {}
    storages: set[int] = set()
    for name, tensor in module.state_dict().items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"state entry {name!r} is not a tensor; save with pickle instead.")
        key = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
               tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if key in first_name:
            aliases[name] = first_name[key]
            continue
        first_name[key] = name
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        shared = storage in storages and tensor.numel() > 0
        storages.add(storage)
        tensor = tensor.detach().to("cpu")
        if not tensor.is_contiguous():
            tensor = tensor.contiguous()  # a copy
        elif shared:  # safetensors refuses tensors that share memory
            tensor = tensor.clone()
        tensors[name] = tensor
    return tensors, aliases










def _write_manifest(root: Path, manifest: dict) -> None:
    text = json.dumps(seal(manifest), indent=1, sort_keys=True, allow_nan=False)
    (root / MANIFEST).write_text(text + "\n", encoding="utf-8")


def save_estimator(estimator, path) -> None:
    """Implementation of :meth:`SaveMixin.save`."""
    from safetensors.torch import save_file

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if estimator_classes().get(name) is not type(estimator):
        raise TypeError(
            f"save() stores sklattn's own estimator classes only, not {type(estimator).__qualname__}; "
            "use pickle or joblib for subclasses."
        )
    params, dropped = _encode_params(estimator)
    if dropped:
        warnings.warn(
            f"{name}.save: parameter(s) {', '.join(dropped)} cannot be stored without pickle; "
            "the loaded estimator gets their defaults. They are not needed to predict; set "
            "them again before refitting.", UserWarning, stacklevel=3,
        )
    fitted = _encode_fitted(estimator)
    history = _encode_history(estimator._saved_history(), name)
    tensors, aliases = _cpu_tensors(estimator._saved_network())
    with atomic_directory(path, MANIFEST, MODEL_DIR_KIND) as staging:
        save_file(tensors, staging / WEIGHTS, metadata={"format": "pt"})
        estimator._write_saved_files(staging)
        _write_manifest(staging, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "estimator": name,
            "params": params, "fitted": fitted, "history": history,
            "weights": {"file": WEIGHTS, "aliases": aliases},
            "files": file_table(staging), "not_saved": dropped, "versions": versions(),
        })
