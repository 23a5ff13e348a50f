"""Pickle-free saving and loading of fitted estimators, and export of their encoders.

A saved model is a directory::

    sklattn.json        estimator class, parameters, fitted attributes, training
                        history, format version, library versions, the size and
                        SHA-256 of every other file, and a SHA-256 of itself
    model.safetensors   the network's weights (CPU tensors)
    encoder/            text estimators: the encoder's config.json and the tokenizer

:func:`load` reads JSON, safetensors and the tokenizer/config files only (never
pickle), takes the estimator class from a fixed list of sklattn classes, checks
every file's size and checksum, rebuilds the network through the estimator's own
initialization from the saved parameters and encoder config (no checkpoint, no
network access), and copies the saved weights in.
"""

from __future__ import annotations

import copy
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

from ._atomic import atomic_directory, recover_interrupted
from ._serialize import Unrepresentable, decode, encode
from ._skorch_compat import seeded

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


# ------------------------------------------------------------------ mixins
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


class ExportPretrainedMixin:
    """Adds :meth:`export_pretrained` to the text estimators."""

    def export_pretrained(self, path: str | os.PathLike) -> None:
        """Write the fine-tuned encoder as a standard Hugging Face model directory.

        ``transformers.AutoModel.from_pretrained(path)`` and
        ``AutoTokenizer.from_pretrained(path)`` then give the same hidden states
        as this estimator's encoder (LoRA adapters are merged into the weights,
        equal up to float rounding). ``sklattn_export.json`` records the
        pooling and ``max_length`` the estimator used.

        Only the encoder is exported, not sklattn's head: the head reads
        mean/cls/max-pooled token states directly, while every
        ``AutoModelForSequenceClassification`` head adds layers of its own (BERT's
        pooler dense + tanh on [CLS], RoBERTa's dense + tanh head, ...), so no
        standard classification model would reproduce the predictions. Use
        :meth:`save` and :func:`sklattn.load` to keep the whole estimator.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to create, or to replace if it holds an earlier export.
        """
        export_encoder(self, path)


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


# -------------------------------------------------------------------- load
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


# ------------------------------------------------------------------ export
def _without_adapters(encoder: torch.nn.Module) -> tuple[torch.nn.Module, bool]:
    """A copy of ``encoder`` with LoRA adapters merged into its weights (or itself)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return encoder, False
    if not any(isinstance(module, BaseTunerLayer) for module in encoder.modules()):
        return encoder, False
    merged = copy.deepcopy(encoder)
    for name, module in list(merged.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent), child, module.get_base_layer())
    for attribute in ("peft_config", "_hf_peft_config_loaded"):
        merged.__dict__.pop(attribute, None)
    return merged, True


def export_encoder(estimator, path) -> None:
    """Implementation of :meth:`ExportPretrainedMixin.export_pretrained`."""
    from ._checkpoint import _quiet_transformers

    check_is_fitted(estimator)
    encoder, tokenizer = _encoder_and_tokenizer(estimator)
    plain, merged = _without_adapters(encoder)
    _quiet_transformers()
    info = {
        "exported_by": "sklattn", "estimator": type(estimator).__name__,
        "pooling": estimator.pooling, "max_length": estimator.max_length,
        "normalize": getattr(estimator, "normalize", False), "lora_merged": merged,
        "head": "not included: sklattn's head (pooling + dropout + linear) has no "
                "AutoModelForSequenceClassification equivalent; use estimator.save()",
        "versions": _versions(),
    }
    with atomic_directory(path, EXPORT_MARKER, "directory exported by sklattn") as staging:
        plain.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        (staging / EXPORT_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
