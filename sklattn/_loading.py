"""Loading saved models: checks first, no pickle, no network.

:func:`load` reads JSON, safetensors and the tokenizer/config files only, takes
the estimator class from a fixed list of sklattn classes, checks every file's
size and checksum, rebuilds the network through the estimator's own
initialization from the saved parameters and encoder config (no checkpoint, no
network access), and copies the saved weights in.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ._atomic import recover_interrupted
from ._persistence import (
    _RUNTIME_ATTRIBUTES,
    ENCODER_DIR,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    WEIGHTS,
    _estimator_classes,
    _seal,
    _sha256,
)
from ._serialize import decode
from ._skorch_compat import seeded


def _error(path: Path, problem: str) -> ValueError:
    return ValueError(f"cannot load the sklattn model at {str(path)!r}: {problem}")


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
        from . import __version__

        raise _error(path, f"it was written by sklattn {saved_by} in format version {version}, "
                           f"but this sklattn ({__version__}) reads format version {FORMAT_VERSION} "
                           "or older. Upgrade sklattn: pip install -U sklattn.")
    if _seal(manifest).get("sha256") != manifest.get("sha256"):
        raise _error(path, f"{MANIFEST} is corrupted (its SHA-256 checksum does not match its content).")
    return manifest


def _verify_files(path: Path, files: Any, needs_encoder: bool) -> None:
    if not isinstance(files, dict) or WEIGHTS not in files:
        raise _error(path, f"{MANIFEST} is corrupted (no file table with {WEIGHTS}).")
    if needs_encoder and f"{ENCODER_DIR}/config.json" not in files:
        raise _error(path, f"{MANIFEST} is corrupted ({ENCODER_DIR}/config.json is not listed).")
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
        if _sha256(file) != info.get("sha256"):
            raise _error(path, f"the file {rel} is corrupted (SHA-256 checksum mismatch).")
    encoder_dir = path / ENCODER_DIR
    if encoder_dir.is_dir():  # transformers reads whatever it finds there: only listed files
        extra = sorted(f.relative_to(path).as_posix() for f in encoder_dir.rglob("*")
                       if f.is_file() and f.relative_to(path).as_posix() not in files)
        if extra:
            raise _error(path, f"{ENCODER_DIR}/ holds files the model did not save: {extra}.")


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


def _copy_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
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


def _load_transformers_files(path: Path):
    from transformers import AutoConfig, AutoTokenizer

    from ._checkpoint import _quiet_transformers

    _quiet_transformers()
    folder = str(path / ENCODER_DIR)
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _error(path, f"its encoder config or tokenizer cannot be loaded ({exc}).") from None
    return config, tokenizer


def encoder_from_config(config) -> torch.nn.Module:
    """A randomly initialized encoder of the architecture ``config`` describes."""
    from transformers import AutoModel

    from ._checkpoint import _quiet_transformers

    _quiet_transformers()
    return AutoModel.from_config(config, trust_remote_code=False)


def _set_attributes(estimator, fitted: dict) -> None:
    for name, value in fitted.items():
        if not (isinstance(name, str) and name.endswith("_") and not name.startswith("_")) \
                or name in _RUNTIME_ATTRIBUTES:
            raise ValueError(f"bad fitted attribute name {name!r}")
        setattr(estimator, name, value)


def _rebuild_net(estimator, path: Path, fitted: dict, state: dict, history) -> None:
    from skorch.history import History

    config = None
    if "tokenizer_" in type(estimator)._fitted_attributes:
        config, estimator.tokenizer_ = _load_transformers_files(path)
    _set_attributes(estimator, fitted)
    estimator.__dict__["_saved_encoder_config"] = config  # read by TextNetBase._build_encoder
    try:
        with seeded(0):  # random initial weights, overwritten next; global RNGs untouched
            estimator.initialize()
    finally:
        estimator.__dict__.pop("_saved_encoder_config", None)
    _set_attributes(estimator, fitted)  # initialization may reset some (head_transferred_)
    _copy_weights(estimator.module_, state, path)
    estimator.history_ = History(history or [])


def _with_lora(estimator, encoder: torch.nn.Module) -> torch.nn.Module:
    """Inject the LoRA adapters an embedder fine-tuned with ``finetune="lora"`` carries."""
    from ._classifier import AttentionClassifier
    from ._finetune import add_lora_adapters

    settings = AttentionClassifier(estimator.checkpoint, **(estimator.fine_tune_params or {}))
    return add_lora_adapters(encoder, settings.lora_r, settings.lora_alpha,
                             settings.lora_dropout, settings.lora_target_modules)


def _rebuild_embedder(estimator, path: Path, fitted: dict, state: dict, history) -> None:
    from skorch.history import History

    config, tokenizer = _load_transformers_files(path)
    with seeded(0):
        encoder = encoder_from_config(config)
        if any("lora_" in name for name in state):
            encoder = _with_lora(estimator, encoder)
    _copy_weights(encoder, state, path)
    _set_attributes(estimator, fitted)
    estimator.tokenizer_ = tokenizer
    estimator.fine_tune_history_ = None if history is None else History(history)
    estimator.encoder_ = encoder.to(estimator.device).eval()


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
    >>> clf = sklattn.load("sentiment-model")  # doctest: +SKIP
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    recover_interrupted(path, MANIFEST)
    manifest = read_manifest(path)
    name = manifest.get("estimator")
    cls = _estimator_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise _error(path, f"it names the estimator {name!r}, which is not a sklattn estimator; "
                           f"refusing to build it (known: {sorted(_estimator_classes())}).")
    needs_encoder = cls.__name__ == "AttentionEmbedder" or "tokenizer_" in getattr(cls, "_fitted_attributes", ())
    _verify_files(path, manifest.get("files"), needs_encoder)
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
        if cls.__name__ == "AttentionEmbedder":
            _rebuild_embedder(estimator, path, fitted, state, history)
        else:
            _rebuild_net(estimator, path, fitted, state, history)
    except ValueError as exc:
        if str(exc).startswith("cannot load the sklattn model"):
            raise
        raise _error(path, str(exc)) from None
    return estimator
