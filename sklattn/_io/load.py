"""Loading saved models: checks first, no pickle, no network.

:func:`load` reads JSON and safetensors only, takes the estimator class from the
registry the estimators fill in (:mod:`.registry`), checks every file's size and
checksum, then lets the estimator class rebuild itself from the saved
parameters and files (``_restore``: no checkpoint, no network access) and copy
the saved weights in with :func:`copy_weights`.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from .atomic import recover_interrupted
from .format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    RUNTIME_ATTRIBUTES,
    WEIGHTS,
    model_error,
    seal,
    sha256,
)
from .registry import estimator_classes
from .serialize import decode


_error = model_error


def read_manifest(path: Path) -> dict:
    """Parse and check ``sklattn.json``: format, version and self-checksum."""
    if not path.exists():
        raise _error(path, "no such directory.")
    if not path.is_dir():
        raise _error(path, "it is a file, not a directory written by estimator.save(). "
                           "(pickle/joblib files load with joblib.load, from trusted sources only.)")
    file = path / MANIFEST
    if not file.is_file():
        if (path / "config.json").is_file():
            raise _error(path, f"it is a Hugging Face model directory, not a saved sklattn "
                               f"estimator (no {MANIFEST}); pass it as the checkpoint of an estimator.")
        raise _error(path, f"it is not a sklattn model directory (no {MANIFEST}); "
                           "save models with estimator.save(path).")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _error(path, f"{MANIFEST} is truncated or corrupted (not valid JSON: {exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _error(path, f"{MANIFEST} does not describe a sklattn model (no format {FORMAT!r}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _error(path, f"{MANIFEST} is corrupted (bad format_version {version!r}).")
    if version > FORMAT_VERSION:
        saved_by = (manifest.get("versions") or {}).get("sklattn", "a newer version")
        raise _error(path, f"it was written by sklattn {saved_by} in format version {version}, "
                           f"but this sklattn ({__version__}) reads format version {FORMAT_VERSION} "
                           "or older. Upgrade sklattn: pip install -U sklattn.")
    if seal(manifest).get("sha256") != manifest.get("sha256"):
        raise _error(path, f"{MANIFEST} is corrupted (its SHA-256 checksum does not match its content).")
    return manifest


def _verify_files(path: Path, files: Any, required: tuple[str, ...]) -> None:
    if not isinstance(files, dict) or WEIGHTS not in files:
        raise _error(path, f"{MANIFEST} is corrupted (no file table with {WEIGHTS}).")
    for rel in required:
        if rel not in files:
            raise _error(path, f"{MANIFEST} is corrupted ({rel} is not listed).")
    for rel, info in files.items():
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts or not isinstance(info, dict):
            raise _error(path, f"{MANIFEST} is corrupted (bad file entry {rel!r}).")
        file = path / rel
        if not file.is_file():
            raise _error(path, f"the file {rel} is missing.")
        size, expected = file.stat().st_size, info.get("bytes")
        if size != expected:
            state = "truncated" if isinstance(expected, int) and size < expected else "the wrong size"
            raise _error(path, f"the file {rel} is {state} ({size} bytes, expected {expected}).")
        if sha256(file) != info.get("sha256"):
            raise _error(path, f"the file {rel} is corrupted (SHA-256 checksum mismatch).")
    for folder in sorted({Path(rel).parts[0] for rel in files if len(Path(rel).parts) > 1}):
        # transformers reads whatever it finds in a folder: only listed files may be there
        extra = sorted(f.relative_to(path).as_posix() for f in (path / folder).rglob("*")
                       if f.is_file() and f.relative_to(path).as_posix() not in files)
        if extra:
            raise _error(path, f"{folder}/ holds files the model did not save: {extra}.")


def _device_available(device) -> bool:
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def _choose_device(params: dict, device, path: Path) -> None:
    if device is not None:
        params["device"] = device
        return
    saved = params.get("device", "cpu")
    try:
        available = _device_available(saved)
    except (RuntimeError, TypeError):
        available = False
    if not available:
        warnings.warn(f"the model at {str(path)!r} was saved with device={str(saved)!r}, which is "
                      "not available here; it is loaded on the CPU (pass device=... to "
                      "sklattn.load to choose).", UserWarning, stacklevel=3)
        params["device"] = "cpu"


def _read_weights(path: Path, aliases: Any) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path / WEIGHTS, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise _error(path, f"{WEIGHTS} cannot be read ({exc}).") from None
    if not isinstance(aliases, dict) or any(target not in tensors for target in aliases.values()):
        raise _error(path, f"{MANIFEST} is corrupted (bad weight aliases).")
    return {**tensors, **{alias: tensors[target] for alias, target in aliases.items()}}


def copy_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``module`` exactly, keeping each saved tensor's dtype."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()
        raise _error(path, "its weights do not fit the network rebuilt from its parameters "
                           f"({' '.join(detail[:3])[:500]}).") from None
    current = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, saved in state.items():
            if current[name].dtype != saved.dtype:  # e.g. an fp16 checkpoint
                current[name].data = saved.to(current[name].device)






def set_fitted_attributes(estimator, fitted: dict) -> None:
    """Set the saved fitted attributes (names ending in ``_``) on ``estimator``."""
    for name, value in fitted.items():
        if not (isinstance(name, str) and name.endswith("_") and not name.startswith("_")) \
                or name in RUNTIME_ATTRIBUTES:
            raise ValueError(f"bad fitted attribute name {name!r}")
        setattr(estimator, name, value)








def load(path: str | os.PathLike, *, device: str | torch.device | None = None):
    """Load an estimator written by ``estimator.save(path)``.

    Reads only JSON, safetensors and tokenizer/config files, never pickle, so a
    model from an untrusted source cannot run code. Never touches the network
    or the original checkpoint. The estimator class must be one of sklattn's.

    Parameters
    ----------
    path : str or os.PathLike
        Directory written by :meth:`save`.
    device : str, torch.device or None, default=None
        Where the loaded model runs. None keeps the saved ``device``, or uses
        the CPU (with a warning) when that device is not available here.

    Returns
    -------
    estimator
        A fitted estimator that predicts exactly as the saved one did.

    Raises
    ------
    ValueError
        Naming the path and the problem: not a sklattn model directory, a
        missing, truncated or corrupted file, or a newer format version.

    Examples
    --------
    >>> import sklattn
    >>> from sklattn import AttentionClassifier
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts, labels = ["a good film", "the plot was awful"], ["pos", "neg"]
    >>> AttentionClassifier(checkpoint, max_length=64, max_epochs=1).fit(texts, labels).save("sentiment-model")
    >>> clf = sklattn.load("sentiment-model", device="cpu")
    >>> clf.classes_.tolist(), clf.predict(texts).shape
    (['neg', 'pos'], (2,))
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    recover_interrupted(path, MANIFEST)
    manifest = read_manifest(path)
    name = manifest.get("estimator")
    cls = estimator_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise _error(path, f"it names the estimator {name!r}, which is not a sklattn estimator; "
                           f"refusing to build it (known: {sorted(estimator_classes())}).")
    _verify_files(path, manifest.get("files"), tuple(getattr(cls, "_required_saved_files", ())))
    try:
        params = decode(manifest["params"])
        fitted = decode(manifest["fitted"])
        history = decode(manifest.get("history"))
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise ValueError("params and fitted must be objects")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _error(path, f"{MANIFEST} holds values this sklattn cannot read ({exc}).") from None
    _choose_device(params, device, path)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        saved_by = (manifest.get("versions") or {}).get("sklattn")
        raise _error(path, f"its parameters do not fit {name} of this sklattn ({exc}); it was "
                           f"saved by sklattn {saved_by}.") from None
    state = _read_weights(path, (manifest.get("weights") or {}).get("aliases", {}))
    try:
        estimator._restore(path, fitted, state, history)
    except ValueError as exc:
        if str(exc).startswith("cannot load the sklattn model"):
            raise
        raise _error(path, str(exc)) from None
    return estimator
