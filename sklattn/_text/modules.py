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


def pool_chunks(vectors: torch.Tensor, owner: torch.Tensor, mode: str,
                n_texts: int | None = None) -> torch.Tensor:
    """Combine the vectors of each text's chunks into one vector per text.

    Parameters
    ----------
    vectors : Tensor of shape (C, H)
        One pooled vector per chunk.
    owner : Tensor of shape (C,)
        Index (0..B-1) of the text each chunk belongs to; every text has at
        least one chunk.
    mode : {"mean", "max"}
    n_texts : int, optional
        B, where the caller knows it; else ``owner.max() + 1`` (a device sync).

    Returns
    -------
    Tensor of shape (B, H)
    """
    if n_texts is None:
        n_texts = int(owner.max()) + 1
    index = owner.unsqueeze(-1).expand_as(vectors)  # (C, H)
    reduce = {"mean": "mean", "max": "amax"}[mode]
    empty = vectors.new_zeros((n_texts, vectors.shape[1]))
    return empty.scatter_reduce(0, index, vectors, reduce=reduce, include_self=False)


def window_groups(attention_mask: torch.Tensor, n_texts: int) -> list:
    """Split a batch's windows in two by length, so the short ones skip most of their padding.

    Every window but a long text's last one is full, while the last one pads to
    the batch's longest: about a seventh of the tokens the encoder read in the
    few-shot benchmarks' long-text fits (SpamAssassin, BBC news) was padding.
    A batch holding long texts therefore passes its shorter windows apart, cut
    to the longest of them, at the split that leaves the least padding. On
    those batches two groups removed three quarters of the padding; a third
    would have removed another tenth of it, for one more pass. The split is
    taken only when it saves more tokens than one more window holds. A batch of
    texts one window each stays one pass, encoded exactly as under
    ``long_text="truncate"``.

    Parameters
    ----------
    attention_mask : Tensor of shape (C, T)
        The windows of ``n_texts`` texts, padded to the longest.
    n_texts : int

    Returns
    -------
    list of (rows, width)
        Row indices (a LongTensor, or None for all rows) of each group and the
        columns it keeps.
    """
    n_windows, width = attention_mask.shape
    if n_windows == n_texts:
        return [(None, width)]
    ordered, order = torch.sort(attention_mask.sum(dim=1), stable=True)  # (C,), shortest first
    lengths = ordered.tolist()
    longest = lengths[-1]
    padded = [split * lengths[split - 1] + (n_windows - split) * longest for split in range(1, n_windows)]
    split = 1 + min(range(len(padded)), key=padded.__getitem__)
    if n_windows * longest - padded[split - 1] <= longest:
        return [(None, width)]
    return [(order[:split], lengths[split - 1]), (order[split:], longest)]


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
        chunks holding more tokens than this (in its length groups, see
        :func:`window_groups`) is encoded in slices of at most that many
        tokens (or of its texts' count of windows, where that is more), each
        under activation checkpointing.
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
            if chunk_owner is None:
                return self._encode(input_ids, attention_mask, token_type_ids)  # (B, H)
            n_texts = int(chunk_owner.max()) + 1  # a device sync; long-text batches only
            pooled = self._encode_windows(input_ids, attention_mask, token_type_ids, n_texts)  # (C, H)
        return pool_chunks(pooled, chunk_owner, self.chunk_pooling, n_texts)  # (B, H)

    def _encode_windows(self, input_ids, attention_mask, token_type_ids, n_texts: int) -> torch.Tensor:
        """Pooled vectors (C, H) of the windows of ``n_texts`` texts, in length groups and slices."""
        groups = window_groups(attention_mask, n_texts)
        n_rows = [len(input_ids) if rows is None else len(rows) for rows, _ in groups]
        tokens = sum(count * width for count, (_, width) in zip(n_rows, groups))
        sliced = torch.is_grad_enabled() and tokens > self.tokens_per_pass
        pieces = []
        for count, (rows, width) in zip(n_rows, groups):
            group = [tensor if tensor is None or rows is None else tensor[rows, :width]
                     for tensor in (input_ids, attention_mask, token_type_ids)]
            step = max(self.tokens_per_pass // width, n_texts, 1) if sliced else count
            if step >= count:
                pieces.append(self._encode(*group))
            else:
                pieces.extend(checkpoint(self._encode, *self._rows(start, step, *group),
                                         use_reentrant=False)
                              for start in range(0, count, step))
        pooled = pieces[0] if len(pieces) == 1 else torch.cat(pieces)  # (C, H), groups' order
        if len(groups) == 1:
            return pooled
        order = torch.cat([rows for rows, _ in groups])
        return pooled[torch.argsort(order)]  # back to the batch's order

    def _encode(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state  # (rows, T, H)
        return pool(hidden, attention_mask, self.pooling)  # (rows, H)

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
