"""Torch modules: a pretrained encoder, a pooling step and a task head."""

from __future__ import annotations

import torch
from torch import nn

POOLING_MODES = ("mean", "cls", "max")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Reduce token states to one vector per sequence, ignoring padding.

    Parameters
    ----------
    hidden : Tensor of shape (B, T, H)
    attention_mask : Tensor of shape (B, T), 1 for real tokens
    mode : {"mean", "cls", "max"}

    Returns
    -------
    Tensor of shape (B, H)
    """
    if mode == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    if mode == "mean":
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    if mode == "max":
        lowest = torch.finfo(hidden.dtype).min
        return hidden.masked_fill(mask == 0, lowest).max(dim=1).values
    raise ValueError(f"unknown pooling mode {mode!r}; choose one of {POOLING_MODES}.")


class EncoderWithHead(nn.Module):
    """A Hugging Face encoder, pooled, followed by dropout and a linear head.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
        Bare encoder returning ``last_hidden_state``.
    n_outputs : int
        Width of the head (classes, labels or regression targets).
    pooling : {"mean", "cls", "max"}
    dropout : float
        Dropout before the head.
    """

    def __init__(self, encoder: nn.Module, n_outputs: int, pooling: str, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_outputs)

    def embed(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """Pooled encoder output, shape (B, H)."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state  # (B, T, H)
        return pool(hidden, attention_mask, self.pooling)

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        pooled = self.embed(input_ids, attention_mask, token_type_ids)  # (B, H)
        return self.head(self.dropout(pooled))  # (B, n_outputs)
