"""Torch modules: a pretrained encoder, a pooling step and a task head."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

POOLING_MODES = ("mean", "cls", "max")

# Tokens of long-text windows one training pass through the encoder may hold.
# Reading every window of a long text (long_text="chunk_mean"/"chunk_max")
# multiplies a batch's tokens by up to max_chunks: one training step on 8 texts
# of 12 windows of 256 tokens held 8.8 GB in all-MiniLM-L6-v2 (about 90 MB per
# window, forward and backward, measured on CPU; 7.1 GB in slices), and a
# base-size encoder holds several times that. Past this budget the windows are
# encoded in slices under activation checkpointing (one more forward pass for
# those batches, the same gradients), so memory stays near that of 64 windows of
# 256 tokens, or of the batch's texts one window each where that is more. The
# budget leaves the few-shot benchmarks' batches (at most 61 windows of 256
# tokens on BBC news at 8-16 per class) in one pass.
TRAINING_TOKENS_PER_PASS = 16_384


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


def pool_chunks(vectors: torch.Tensor, owner: torch.Tensor, mode: str) -> torch.Tensor:
    """Combine the vectors of each text's chunks into one vector per text.

    Parameters
    ----------
    vectors : Tensor of shape (C, H)
        One pooled vector per chunk.
    owner : Tensor of shape (C,)
        Index (0..B-1) of the text each chunk belongs to; every text has at
        least one chunk.
    mode : {"mean", "max"}

    Returns
    -------
    Tensor of shape (B, H)
    """
    n_texts = int(owner.max()) + 1
    index = owner.unsqueeze(-1).expand_as(vectors)  # (C, H)
    reduce = {"mean": "mean", "max": "amax"}[mode]
    empty = vectors.new_zeros((n_texts, vectors.shape[1]))
    return empty.scatter_reduce(0, index, vectors, reduce=reduce, include_self=False)


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
    frozen_encoder : bool, default=False
        Keep the encoder in eval mode and out of autograd (``finetune="head"``):
        its features are then a fixed function of the text.
    chunk_pooling : {"mean", "max"}, default="mean"
        How chunk vectors of one long text combine, when the batch carries
        ``chunk_owner``.
    tokens_per_pass : int, optional
        Default :data:`TRAINING_TOKENS_PER_PASS`. In training, a batch of
        chunks holding more tokens than this (and than its texts would hold
        one window each) is encoded in slices of at most that many tokens,
        each under activation checkpointing.
    """

    def __init__(self, encoder: nn.Module, n_outputs: int, pooling: str, dropout: float,
                 frozen_encoder: bool = False, chunk_pooling: str = "mean",
                 tokens_per_pass: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.frozen_encoder = frozen_encoder
        self.chunk_pooling = chunk_pooling
        self.tokens_per_pass = TRAINING_TOKENS_PER_PASS if tokens_per_pass is None else tokens_per_pass
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_outputs)

    def train(self, mode: bool = True) -> "EncoderWithHead":
        super().train(mode)
        if self.frozen_encoder:
            self.encoder.eval()
        return self

    def embed(self, input_ids, attention_mask, token_type_ids=None, chunk_owner=None) -> torch.Tensor:
        """Pooled encoder output, shape (B, H); chunks of one text pooled together."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_encoder):
            rows = self._rows_per_pass(input_ids, chunk_owner)
            if rows < len(input_ids):
                pooled = torch.cat([
                    checkpoint(self._encode, *self._rows(start, rows, input_ids, attention_mask,
                                                         token_type_ids), use_reentrant=False)
                    for start in range(0, len(input_ids), rows)
                ])  # (C, H)
            else:
                pooled = self._encode(input_ids, attention_mask, token_type_ids)  # (B or C, H)
        if chunk_owner is not None:
            pooled = pool_chunks(pooled, chunk_owner, self.chunk_pooling)  # (B, H)
        return pooled

    def _encode(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state  # (rows, T, H)
        return pool(hidden, attention_mask, self.pooling)  # (rows, H)

    def _rows_per_pass(self, input_ids: torch.Tensor, chunk_owner) -> int:
        """Windows per encoder pass: all of them, unless training on more than the budget."""
        within_budget = input_ids.numel() <= self.tokens_per_pass
        if chunk_owner is None or not torch.is_grad_enabled() or within_budget:
            return len(input_ids)
        n_texts = int(chunk_owner.max()) + 1  # a device sync, so only past the budget
        return max(self.tokens_per_pass // input_ids.shape[1], n_texts, 1)

    @staticmethod
    def _rows(start: int, rows: int, *tensors) -> list:
        return [None if tensor is None else tensor[start:start + rows] for tensor in tensors]

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, chunk_owner=None,
                features=None, return_features: bool = False):
        """Head outputs (B, n_outputs) from token ids, or from precomputed pooled ``features``.

        With ``return_features=True``, the pair ``(outputs, pooled)``: the
        pooled vectors (B, H) the head read, for losses on the embeddings.
        """
        if features is None:
            features = self.embed(input_ids, attention_mask, token_type_ids, chunk_owner)  # (B, H)
        outputs = self.head(self.dropout(features))  # (B, n_outputs)
        return (outputs, features) if return_features else outputs


class TokenTaggingModule(nn.Module):
    """A Hugging Face encoder followed by dropout and a linear layer on every token state.

    The same layout as ``AutoModelForTokenClassification`` for BERT-like
    models (encoder, dropout, ``classifier`` linear), so the weights export
    one to one.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
        Bare encoder returning ``last_hidden_state``.
    n_outputs : int
        Number of tags.
    dropout : float
        Dropout before the head.
    frozen_encoder : bool, default=False
        Keep the encoder in eval mode and out of autograd (``finetune="head"``).
    """

    def __init__(self, encoder: nn.Module, n_outputs: int, dropout: float,
                 frozen_encoder: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.frozen_encoder = frozen_encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_outputs)

    def train(self, mode: bool = True) -> "TokenTaggingModule":
        super().train(mode)
        if self.frozen_encoder:
            self.encoder.eval()
        return self

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """Tag logits of every position, shape (C, T, n_outputs), for C windows of T pieces."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_encoder):
            hidden = self.encoder(**inputs).last_hidden_state  # (C, T, H)
        return self.head(self.dropout(hidden))  # (C, T, n_outputs)
