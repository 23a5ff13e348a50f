"""Per-token attention weights of a fitted text estimator (``explain``)."""

from __future__ import annotations

import numpy as np
import torch

from torch.utils.data import DataLoader

from .._core.inference import run_batches
from .data import PadCollate, TokenizedDataset, pad_token_id


def first_token_attention(net, dataset: TokenizedDataset) -> list[dict]:
    """Last-layer attention paid by the first token to every other token.

    Averaged over heads; special tokens ([CLS], [SEP], padding) are dropped and
    the remaining weights renormalized to sum to 1. transformers' default SDPA
    attention returns no weights, so the encoder runs with eager attention for
    this pass and is switched back afterwards. Runs in float32 whatever
    ``net.precision``.
    """
    encoder = net.module_.encoder
    tokenizer = net.tokenizer_
    special_ids = np.array(tokenizer.all_special_ids)
    collate = PadCollate(pad_token_id(tokenizer))

    def attention_rows(batch) -> list[dict]:
        inputs, _ = batch
        attentions = encoder(**inputs, output_attentions=True).attentions[-1]  # (B, heads, T, T)
        from_first = attentions[:, :, 0, :].mean(dim=1).float().cpu().numpy()  # (B, T)
        ids = inputs["input_ids"].cpu().numpy()  # (B, T), padded
        lengths = inputs["attention_mask"].sum(dim=1).tolist()  # (B,)
        return [_token_weights(tokenizer, special_ids, ids[row, :n], from_first[row, :n])
                for row, n in enumerate(lengths)]

    def batches(data) -> DataLoader:
        # A private generator: the loader's base seed is drawn from it, so explain
        # leaves the global RNG untouched.
        return DataLoader(data, batch_size=net._prediction_batch_size(), collate_fn=collate,
                          generator=torch.Generator())

    previous = encoder.config._attn_implementation
    was_training = net.module_.training
    encoder.set_attn_implementation("eager")
    net.module_.eval()
    try:
        # Input order, not length order: other padding moves weights by ~1 ulp, and
        # explain keeps the exact weights of earlier versions.
        return run_batches(dataset, attention_rows, batches=batches,
                           device=net.device, progress=net._shows_progress())
    finally:
        encoder.set_attn_implementation(previous)
        remove_output_capturing_hooks(encoder)
        net.module_.train(was_training)


def _token_weights(tokenizer, special_ids: np.ndarray, ids: np.ndarray, weights: np.ndarray) -> dict:
    """Tokens and renormalized weights of one text, special tokens dropped.

    ``ids`` and ``weights`` have shape (T,), the text's unpadded length.
    """
    keep = ~np.isin(ids, special_ids)
    weights = weights[keep]
    total = weights.sum()
    weights = weights / total if total > 0 else np.full(len(weights), 1 / max(1, len(weights)))
    tokens = tokenizer.convert_ids_to_tokens(ids[keep].tolist())
    return {"tokens": tokens, "weights": weights.astype(np.float32)}

def remove_output_capturing_hooks(model: torch.nn.Module) -> None:
    """Take off the forward hooks transformers 5 installs for ``output_attentions=True``.

    They are local functions, which pickle cannot store: once installed, the
    estimator would no longer pickle. transformers reinstalls them the next
    time attention weights are asked for.
    """
    for module in model.modules():
        for key, hook in list(module._forward_hooks.items()):
            if getattr(hook, "__qualname__", "").startswith("install_output_capuring_hook."):
                del module._forward_hooks[key]
        module.__dict__.pop("_output_capturing_hooks_installed", None)
