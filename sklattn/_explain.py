"""Per-token attention weights of a fitted text estimator (``explain``)."""

from __future__ import annotations

import numpy as np
import torch

from ._data import PadCollate, TokenizedDataset


def first_token_attention(net, dataset: TokenizedDataset) -> list[dict]:
    """Last-layer attention paid by the first token to every other token.

    Averaged over heads; special tokens ([CLS], [SEP], padding) are dropped and
    the remaining weights renormalized to sum to 1. transformers' default SDPA
    attention returns no weights, so the encoder runs with eager attention for
    this pass and is switched back afterwards.
    """
    encoder = net.module_.encoder
    tokenizer = net.tokenizer_
    special_ids = np.array(tokenizer.all_special_ids)
    collate = PadCollate(net._pad_token_id)
    previous = encoder.config._attn_implementation
    was_training = net.module_.training
    encoder.set_attn_implementation("eager")
    net.module_.eval()
    results: list[dict] = []
    try:
        with torch.inference_mode():
            for start in range(0, len(dataset), net.batch_size):
                items = [dataset[i] for i in range(start, min(start + net.batch_size, len(dataset)))]
                batch, _ = collate(items)
                batch = {name: tensor.to(net.device) for name, tensor in batch.items()}
                attentions = encoder(**batch, output_attentions=True).attentions[-1]  # (B, heads, T, T)
                from_first = attentions[:, :, 0, :].mean(dim=1).float().cpu().numpy()  # (B, T)
                for row, (features, _) in enumerate(items):
                    ids = features["input_ids"]
                    keep = ~np.isin(ids, special_ids)
                    weights = from_first[row, : len(ids)][keep]
                    total = weights.sum()
                    weights = weights / total if total > 0 else np.full(len(weights), 1 / max(1, len(weights)))
                    tokens = tokenizer.convert_ids_to_tokens(ids[keep].tolist())
                    results.append({"tokens": tokens, "weights": weights.astype(np.float32)})
    finally:
        encoder.set_attn_implementation(previous)
        net.module_.train(was_training)
    return results
