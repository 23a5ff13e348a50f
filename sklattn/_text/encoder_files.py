"""The encoder part of a saved text model: ``encoder/`` with config.json and the tokenizer.

Written by ``save`` and read back by :func:`sklattn.load`; the weights
themselves travel in the model's safetensors file, so rebuilding needs only the
config (random weights, overwritten next) and never the original checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .._io.format import ENCODER_DIR, model_error
from .checkpoint import quiet_transformers

ENCODER_CONFIG = f"{ENCODER_DIR}/config.json"


def write_encoder_files(directory: Path, encoder: torch.nn.Module, tokenizer) -> None:
    """Write the encoder's config and the tokenizer into ``directory/encoder``."""
    quiet_transformers()
    encoder.config.save_pretrained(directory / ENCODER_DIR)
    tokenizer.save_pretrained(str(directory / ENCODER_DIR))


def read_encoder_files(path: Path):
    """``(config, tokenizer)`` of the saved model at ``path``, offline and without remote code."""
    from transformers import AutoConfig, AutoTokenizer

    quiet_transformers()
    folder = str(path / ENCODER_DIR)
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise model_error(path, f"its encoder config or tokenizer cannot be loaded ({exc}).") from None
    return config, tokenizer


def encoder_from_config(config) -> torch.nn.Module:
    """A randomly initialized encoder of the architecture ``config`` describes."""
    from transformers import AutoModel

    quiet_transformers()
    return AutoModel.from_config(config, trust_remote_code=False)
