"""The saved-model format: file names, the manifest's checksums, library versions.

A saved model is a directory::

    sklattn.json        estimator class, parameters, fitted attributes, training
                        history, format version, library versions, the size and
                        SHA-256 of every other file, and a SHA-256 of itself
    model.safetensors   the network's weights (CPU tensors)
    encoder/            text estimators: the encoder's config.json and the tokenizer

:mod:`.save` writes it, :mod:`.load` reads it back, :mod:`.atomic` makes the
write crash-safe and :mod:`.serialize` turns values into JSON.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import torch

from .._version import __version__

FORMAT = "sklattn-model"
FORMAT_VERSION = 1
MANIFEST = "sklattn.json"
WEIGHTS = "model.safetensors"
ENCODER_DIR = "encoder"
EXPORT_MARKER = "sklattn_export.json"
MODEL_DIR_KIND = "sklattn model directory"

# Rebuilt by initialization or stored as files, never encoded as JSON.
RUNTIME_ATTRIBUTES = frozenset({
    "module_", "criterion_", "optimizer_", "callbacks_", "history_", "initialized_",
    "virtual_params_", "prefixes_", "cuda_dependent_attributes_", "init_context_",
    "tokenizer_", "encoder_", "fine_tune_history_",
})


def model_error(path: Path, problem: str) -> ValueError:
    """The one error type and wording of every problem with a saved model."""
    return ValueError(f"cannot load the sklattn model at {str(path)!r}: {problem}")


def versions() -> dict[str, str]:
    """Versions of sklattn and the libraries whose behaviour a saved model depends on."""
    import safetensors
    import sklearn
    import skorch
    import transformers

    return {"sklattn": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "skorch": skorch.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def seal(manifest: dict) -> dict:
    """The manifest with a checksum of its own content added."""
    body = {key: value for key, value in manifest.items() if key != "sha256"}
    return {**body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()}


def file_table(root: Path) -> dict[str, dict]:
    """Size and SHA-256 of every file under ``root``, by relative POSIX path."""
    return {
        file.relative_to(root).as_posix(): {"bytes": file.stat().st_size, "sha256": sha256(file)}
        for file in sorted(root.rglob("*")) if file.is_file()
    }
