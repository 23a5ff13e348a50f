"""What users write without sklattn: the references of the speed benchmarks.

* :func:`hand_written_fit`: a plain transformers + torch fine-tuning loop
  (``AutoModel`` + mean pooling + dropout + linear head, AdamW, linear
  warmup/decay, gradient clipping), random batches tokenized in the loop and
  padded either to the batch's longest text (``padding=True``) or to
  ``max_length`` (``padding="max_length"``, skorch's Hugging Face recipe).
* :func:`sentence_transformer`: sentence-transformers' ``SentenceTransformer``
  on the same checkpoint, for prediction throughput.

The training recipe matches ``AttentionClassifier``'s (same optimizer,
schedule, dropout, clipping, batch size and number of steps), so the timing
difference comes from batching and framework overhead, not from doing less work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class HandFit:
    """Outcome of :func:`hand_written_fit`."""

    steps: int
    real_tokens: int
    padded_tokens: int
    final_loss: float


def hand_written_fit(
    checkpoint: str,
    texts: np.ndarray,
    labels: np.ndarray,
    *,
    max_length: int,
    batch_size: int,
    epochs: int,
    lr: float,
    pad_to_max_length: bool,
    bf16: bool = False,
    seed: int = 0,
) -> HandFit:
    """Fine-tune ``checkpoint`` on ``texts`` the way a tutorial does; load included."""
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    encoder = AutoModel.from_pretrained(checkpoint)
    classes, targets = np.unique(labels, return_inverse=True)
    targets = torch.as_tensor(targets)
    head = nn.Linear(encoder.config.hidden_size, len(classes))
    dropout = nn.Dropout(0.1)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    n_steps = epochs * math.ceil(len(texts) / batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(0.1 * n_steps), n_steps)
    padding = "max_length" if pad_to_max_length else True
    encoder.train()
    steps = real = padded = 0
    loss = torch.tensor(float("nan"))
    for _ in range(epochs):
        order = torch.randperm(len(texts))
        for start in range(0, len(texts), batch_size):
            index = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in index.tolist()], padding=padding, truncation=True,
                              max_length=max_length, return_tensors="pt")
            mask = batch["attention_mask"]  # (B, T)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                hidden = encoder(**batch).last_hidden_state  # (B, T, H)
                weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, H)
                logits = head(dropout(pooled))  # (B, C)
            loss = F.cross_entropy(logits.float(), targets[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            steps += 1
            real += int(mask.sum())
            padded += mask.numel()
    return HandFit(steps, real, padded, float(loss.detach()))


def sentence_transformer(checkpoint: str, max_length: int):
    """``SentenceTransformer`` on ``checkpoint``, truncating at ``max_length`` like sklattn."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(checkpoint), device="cpu")
    model.max_seq_length = max_length  # 256 for all-MiniLM-L6-v2 by default
    return model


def st_encode(model, texts: list[str], batch_size: int, bf16: bool = False) -> np.ndarray:
    """``model.encode`` as a user calls it, under bf16 autocast when asked."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
