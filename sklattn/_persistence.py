"""The saved-model format, and saving fitted estimators in it without pickle.

A saved model is a directory::

    sklattn.json        estimator class, parameters, fitted attributes, training
                        history, format version, library versions, the size and
                        SHA-256 of every other file, and a SHA-256 of itself
    model.safetensors   the network's weights (CPU tensors)
    encoder/            text estimators: the encoder's config.json and the tokenizer

:mod:`sklattn._loading` reads it back; :mod:`sklattn._atomic` makes the write
crash-safe; :mod:`sklattn._serialize` turns values into JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._atomic import atomic_directory
from ._serialize import Unrepresentable, encode

FORMAT = "sklattn-model"
FORMAT_VERSION = 1
MANIFEST = "sklattn.json"
WEIGHTS = "model.safetensors"
ENCODER_DIR = "encoder"
EXPORT_MARKER = "sklattn_export.json"
_MODEL_DIR = "sklattn model directory"

# Rebuilt by initialization or stored as files, never encoded as JSON.
_RUNTIME_ATTRIBUTES = frozenset({
    "module_", "criterion_", "optimizer_", "callbacks_", "history_", "initialized_",
    "virtual_params_", "prefixes_", "cuda_dependent_attributes_", "init_context_",
    "tokenizer_", "encoder_", "fine_tune_history_",
})


def _estimator_classes() -> dict[str, type]:
    """The only classes :func:`load` builds, by name."""
    from ._classifier import AttentionClassifier
    from ._embedder import AttentionEmbedder
    from ._regressor import AttentionRegressor
    from ._tabular import TabularAttentionClassifier, TabularAttentionRegressor

    classes = (AttentionClassifier, AttentionRegressor, AttentionEmbedder,
               TabularAttentionClassifier, TabularAttentionRegressor)
    return {cls.__name__: cls for cls in classes}


def _is_embedder(estimator) -> bool:
    return type(estimator).__name__ == "AttentionEmbedder"


def _encoder_and_tokenizer(estimator):
    """The Hugging Face encoder and tokenizer of a text estimator (None, None for tabular)."""
    if _is_embedder(estimator):
        return estimator.encoder_, estimator.tokenizer_
    tokenizer = getattr(estimator, "tokenizer_", None)
    if tokenizer is None:
        return None, None
    return estimator.module_.encoder, tokenizer


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
        >>> clf.save("sentiment-model")  # doctest: +SKIP
        >>> import sklattn
        >>> sklattn.load("sentiment-model").predict(["a fine film"])  # doctest: +SKIP
        """
        save_estimator(self, path)


# -------------------------------------------------------------------- save
def _versions() -> dict[str, str]:
    import safetensors
    import sklearn
    import skorch
    import transformers

    from . import __version__

    return {"sklattn": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "skorch": skorch.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


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
        if not name.endswith("_") or name.startswith("_") or name in _RUNTIME_ATTRIBUTES:
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _seal(manifest: dict) -> dict:
    """The manifest with a checksum of its own content added."""
    body = {key: value for key, value in manifest.items() if key != "sha256"}
    return {**body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()}


def _file_table(root: Path) -> dict[str, dict]:
    return {
        file.relative_to(root).as_posix(): {"bytes": file.stat().st_size, "sha256": _sha256(file)}
        for file in sorted(root.rglob("*")) if file.is_file()
    }


def _write_manifest(root: Path, manifest: dict) -> None:
    text = json.dumps(_seal(manifest), indent=1, sort_keys=True, allow_nan=False)
    (root / MANIFEST).write_text(text + "\n", encoding="utf-8")


def save_estimator(estimator, path) -> None:
    """Implementation of :meth:`SaveMixin.save`."""
    from safetensors.torch import save_file

    from ._checkpoint import _quiet_transformers

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
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
    history = _encode_history(
        estimator.fine_tune_history_ if _is_embedder(estimator) else estimator.history_, name
    )
    encoder, tokenizer = _encoder_and_tokenizer(estimator)
    network = encoder if _is_embedder(estimator) else estimator.module_
    tensors, aliases = _cpu_tensors(network)
    _quiet_transformers()
    with atomic_directory(path, MANIFEST, _MODEL_DIR) as staging:
        save_file(tensors, staging / WEIGHTS, metadata={"format": "pt"})
        if tokenizer is not None:
            encoder.config.save_pretrained(staging / ENCODER_DIR)
            tokenizer.save_pretrained(str(staging / ENCODER_DIR))
        _write_manifest(staging, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "estimator": name,
            "params": params, "fitted": fitted, "history": history,
            "weights": {"file": WEIGHTS, "aliases": aliases},
            "files": _file_table(staging), "not_saved": dropped, "versions": _versions(),
        })
