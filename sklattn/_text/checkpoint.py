"""Resolve and load Hugging Face checkpoints with errors a user can act on.

``from_pretrained`` reports a missing local directory as a bad "repo id" and,
when online, may wait on the network for an id that is only a typo. We check
first: a local directory must hold a ``config.json``; a hub id must be in the
local cache when offline mode is on.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

_OFFLINE_FIX = (
    "Pass the path of a local directory saved with save_pretrained(), or download "
    "the model once while online (e.g. AutoModel.from_pretrained(id)) so that it is "
    "in the local Hugging Face cache."
)
_WORKER_FIX = (
    " Every worker of a distributed search loads the checkpoint itself: put the "
    "directory on a path all workers share, or download the hub id into each "
    "worker's Hugging Face cache."
)


def _where() -> tuple[str, str]:
    """Where this process runs, and the fix for workers, for errors raised remotely."""
    where = f" on host {socket.gethostname()!r}"
    distributed = sys.modules.get("distributed")  # never imported: not a dask worker
    if distributed is not None:
        try:
            return f"{where} (dask worker {distributed.get_worker().address})", _WORKER_FIX
        except ValueError:  # not inside a worker task
            pass
    return where, ""


def _offline_mode() -> bool:
    env = {os.environ.get(name, "").upper() for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    if env & {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return False


def _looks_like_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else can only be a path.
    return os.path.isabs(name) or name.startswith((".", "~")) or "\\" in name or name.count("/") > 1


def resolve_checkpoint(checkpoint: Any) -> str:
    """Return a string ``from_pretrained`` accepts, or raise a clear error.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A local directory written by ``save_pretrained`` or a Hugging Face hub id.

    Returns
    -------
    str
        The local directory (as ``str``) or the hub id.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(
            "checkpoint must be a hub id (str) or a local directory path, got "
            f"{type(checkpoint).__name__}."
        )
    name = os.fspath(checkpoint)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(
                f"checkpoint directory {str(path)!r} has no config.json, so it is not a "
                "Hugging Face model directory. Point checkpoint at the folder written "
                "by save_pretrained()."
            )
        return str(path)
    if path.exists():
        raise ValueError(
            f"checkpoint {name!r} is a file, not a directory; pass the folder that "
            "holds config.json and the weights."
        )
    if isinstance(checkpoint, os.PathLike) or _looks_like_path(name):
        where, worker_fix = _where()
        raise ValueError(
            f"checkpoint directory {name!r} does not exist{where}. {_OFFLINE_FIX}{worker_fix}"
        )
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # invalid repo id syntax and the like
        cached = None
    if isinstance(cached, str):
        return name
    if _offline_mode():
        where, worker_fix = _where()
        raise ValueError(
            f"checkpoint {name!r} is neither a local directory nor in the local Hugging "
            f"Face cache{where}, and offline mode (HF_HUB_OFFLINE) is on. "
            f"{_OFFLINE_FIX}{worker_fix}"
        )
    return name


def quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _load_error(checkpoint: str, what: str, exc: Exception) -> ValueError:
    return ValueError(
        f"could not load the {what} of checkpoint {checkpoint!r}: {exc}. {_OFFLINE_FIX}"
    )


def load_config(checkpoint: str):
    """Load the model config of a resolved checkpoint."""
    from transformers import AutoConfig

    quiet_transformers()
    try:
        return AutoConfig.from_pretrained(checkpoint)
    except (OSError, ValueError) as exc:
        raise _load_error(checkpoint, "config", exc) from None


def load_tokenizer(checkpoint: str):
    """Load the (fast, when available) tokenizer of a resolved checkpoint."""
    from transformers import AutoTokenizer

    quiet_transformers()
    try:
        return AutoTokenizer.from_pretrained(checkpoint)
    except (OSError, ValueError) as exc:
        raise _load_error(checkpoint, "tokenizer", exc) from None


def load_encoder(checkpoint: str, config=None):
    """Load the bare encoder (no task head) of a resolved checkpoint."""
    from transformers import AutoModel

    from safetensors import SafetensorError

    quiet_transformers()
    try:
        return AutoModel.from_pretrained(checkpoint, config=config)
    except (OSError, ValueError) as exc:
        raise _load_error(checkpoint, "weights", exc) from None
    except (SafetensorError, RuntimeError) as exc:  # a weight file that does not parse
        raise ValueError(
            f"could not read the weights of checkpoint {checkpoint!r}: {exc}. The weight "
            "file looks truncated or corrupted; save or download the checkpoint again."
        ) from None


def position_limit(config, tokenizer) -> int | None:
    """Longest input (in tokens) the model can take, or None when unknown."""
    limits = []
    n_positions = getattr(config, "max_position_embeddings", None)
    if isinstance(n_positions, int) and n_positions > 0:
        # RoBERTa-style models reserve padding_idx + 1 positions.
        pad_offset = getattr(config, "pad_token_id", None) if config.model_type in {
            "roberta", "xlm-roberta", "camembert", "longformer"} else None
        limits.append(n_positions - (pad_offset + 1 if isinstance(pad_offset, int) else 0))
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    return min(limits) if limits else None


def load_tokenizer_checked(checkpoint, max_length: int | str):
    """Resolve ``checkpoint``, load its config and tokenizer, and check ``max_length``.

    ``max_length="auto"`` is not checked: it resolves within the checkpoint's
    limit (:func:`sklattn._text.small_data.auto_max_length`).

    Returns
    -------
    path : str
        Resolved checkpoint (local directory or cached hub id).
    config : transformers.PretrainedConfig
    tokenizer : transformers tokenizer
    """
    path = resolve_checkpoint(checkpoint)
    config = load_config(path)
    tokenizer = load_tokenizer(path)
    limit = position_limit(config, tokenizer)
    if limit is not None and max_length != "auto" and max_length > limit:
        raise ValueError(
            f"max_length={max_length} exceeds the {limit} positions that checkpoint "
            f"{checkpoint!r} supports; set max_length to at most {limit}."
        )
    return path, config, tokenizer
