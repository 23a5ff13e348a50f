"""Long texts in training: the windows of a batch pass the encoder in checkpointed slices."""

from __future__ import annotations

import numpy as np
import torch
from conftest import NEUTRAL, make_sentiment_texts
from transformers import AutoModel

from sklattn import AttentionClassifier
from sklattn._text import modules
from sklattn._text.modules import EncoderWithHead


def count_encoder_passes(module: EncoderWithHead) -> list:
    calls = []
    module.encoder.register_forward_pre_hook(lambda *_: calls.append(1))
    return calls


def windows(n_windows: int, length: int, n_texts: int, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    attention_mask = torch.ones(n_windows, length, dtype=torch.long)
    attention_mask[::3, length // 2:] = 0  # a text's last window is padded
    return {
        "input_ids": torch.randint(5, 40, (n_windows, length), generator=generator),
        "attention_mask": attention_mask,
        "chunk_owner": torch.arange(n_windows) % n_texts,
    }


def embed_and_grads(module: EncoderWithHead, batch: dict) -> tuple[torch.Tensor, list]:
    module.zero_grad()
    with torch.enable_grad():
        outputs = module(**batch)
        (outputs ** 2).sum().backward()
    return outputs.detach(), [p.grad.clone() for p in module.parameters() if p.grad is not None]


def test_slices_give_the_same_outputs_and_gradients_as_one_pass(tiny_checkpoint):
    torch.manual_seed(0)
    module = EncoderWithHead(AutoModel.from_pretrained(tiny_checkpoint), 3, "mean", 0.0).eval()
    batch = windows(10, 8, n_texts=3)  # 80 tokens
    whole, whole_grads = embed_and_grads(module, batch)
    passes = count_encoder_passes(module)
    module.tokens_per_pass = 24  # 3 windows of 8 tokens, as many as the batch has texts
    sliced, sliced_grads = embed_and_grads(module, batch)
    # The 4 short windows in one pass (16 tokens); the 6 full ones in 2 slices, each run
    # again in the backward pass.
    assert len(passes) == 1 + 2 * 2
    torch.testing.assert_close(sliced, whole, rtol=1e-5, atol=1e-6)
    assert len(sliced_grads) == len(whole_grads) > 0
    for sliced_grad, whole_grad in zip(sliced_grads, whole_grads):
        torch.testing.assert_close(sliced_grad, whole_grad, rtol=1e-4, atol=1e-6)


def test_one_pass_when_predicting_within_the_budget_or_without_chunks(tiny_checkpoint):
    module = EncoderWithHead(AutoModel.from_pretrained(tiny_checkpoint), 2, "mean", 0.0,
                             tokens_per_pass=16)
    passes = count_encoder_passes(module)
    batch = windows(10, 8, n_texts=2)
    with torch.no_grad():  # prediction holds no activations for the backward pass
        module(**batch)
    assert len(passes) == 2  # the two length groups, unsliced
    plain = {key: value for key, value in batch.items() if key != "chunk_owner"}
    with torch.enable_grad():  # a batch without long texts is the user's own batch size
        module(**plain).sum().backward()
    assert len(passes) == 3
    module.tokens_per_pass = 8  # never fewer windows per pass than the batch has texts
    with torch.enable_grad():
        module(**windows(10, 8, n_texts=5)).sum().backward()
    assert len(passes) == 3 + 1 + 2 * 2  # 4 short windows in one pass, 6 full ones in 2 slices
    assert modules.TRAINING_TOKENS_PER_PASS == EncoderWithHead(module.encoder, 2, "mean", 0.0).tokens_per_pass


def test_a_fit_on_long_texts_slices_its_large_batches(tiny_checkpoint, monkeypatch):
    X, y = make_sentiment_texts(16)
    rng = np.random.default_rng(0)
    X = np.array([f"{' '.join(rng.choice(NEUTRAL, size=40))} {text}" for text in X], dtype=object)
    params = {"long_text": "chunk_mean", "max_length": 16, "batch_size": 4, "max_epochs": 1,
              "random_state": 0, "tfidf_blend": False}
    whole = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    monkeypatch.setattr(modules, "TRAINING_TOKENS_PER_PASS", 64)  # 4 windows of 16 tokens
    passes, encode = [], EncoderWithHead._encode
    monkeypatch.setattr(EncoderWithHead, "_encode",
                        lambda self, *args: passes.append(len(args[0])) or encode(self, *args))
    sliced = AttentionClassifier(tiny_checkpoint, **params).fit(X, y)
    batches = len(whole.history[-1, "batches"])
    assert len(passes) > 2 * batches  # every batch of 4 texts holds more than 4 windows
    assert max(passes) == 4
    assert sliced.predict_proba(X).shape == (16, 2)
    # The network learns the same: dropout masks differ, the training signal does not.
    assert abs(sliced.history[-1, "train_loss"] - whole.history[-1, "train_loss"]) < 0.1
