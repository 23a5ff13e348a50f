"""Long texts: a batch's short windows pass the encoder apart, cut to their own longest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import NEUTRAL, make_sentiment_texts
from transformers import AutoModel

from sklattn import AttentionClassifier
from sklattn._text import modules
from sklattn._text.modules import EncoderWithHead, window_groups


def mask_of(lengths: list[int]) -> torch.Tensor:
    """Attention mask (C, T) of windows with these lengths, padded to the longest."""
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    return mask


def one_pass(attention_mask: torch.Tensor, n_texts: int) -> list:
    return [(None, attention_mask.shape[1])]


def test_the_split_leaves_the_least_padding():
    # Four texts: full windows of 256 tokens and last windows of 30, 200 and 40.
    groups = window_groups(mask_of([256, 256, 256, 256, 30, 200, 40, 256]), n_texts=4)
    # Apart: 2 x 40 + 6 x 256 = 1,616 tokens; with the 200 too 1,880; all in one 2,048.
    (short, short_width), (long, long_width) = groups
    assert sorted(short.tolist()) == [4, 6] and short_width == 40
    assert sorted(long.tolist()) == [0, 1, 2, 3, 5, 7] and long_width == 256


@pytest.mark.parametrize("lengths, n_texts", [
    ([256, 30, 200, 40], 4),  # one window per text: one pass, exactly as under truncation
    ([256, 256, 250], 2),  # splitting off the 250 would save 6 tokens, less than a window
    ([256, 256, 256], 2),  # nothing padded
])
def test_one_pass_where_a_split_saves_too_little(lengths, n_texts):
    assert window_groups(mask_of(lengths), n_texts) == [(None, max(lengths))]


def test_groups_give_the_outputs_and_gradients_of_one_padded_pass(tiny_checkpoint, monkeypatch):
    torch.manual_seed(0)
    module = EncoderWithHead(AutoModel.from_pretrained(tiny_checkpoint), 3, "mean", 0.0).eval()
    generator = torch.Generator().manual_seed(0)
    attention_mask = mask_of([16, 16, 5, 16, 3, 11, 16])
    batch = {"input_ids": torch.randint(5, 40, (7, 16), generator=generator) * attention_mask,
             "attention_mask": attention_mask,
             "chunk_owner": torch.tensor([0, 0, 0, 1, 1, 2, 3])}
    widths = []
    module.encoder.register_forward_pre_hook(
        lambda _, args, kwargs: widths.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)

    def outputs_and_grads():
        module.zero_grad()
        outputs = module(**batch)
        (outputs ** 2).sum().backward()
        return outputs.detach(), [p.grad.clone() for p in module.parameters() if p.grad is not None]

    grouped, grouped_grads = outputs_and_grads()
    # The 3 and the 5 apart: 2 x 5 + 5 x 16 = 90 tokens; with the 11 too 97; one pass 112.
    assert widths == [(2, 5), (5, 16)]
    monkeypatch.setattr(modules, "window_groups", one_pass)
    whole, whole_grads = outputs_and_grads()
    assert widths[-1] == (7, 16)
    torch.testing.assert_close(grouped, whole, rtol=1e-5, atol=1e-6)
    for grouped_grad, whole_grad in zip(grouped_grads, whole_grads, strict=True):
        torch.testing.assert_close(grouped_grad, whole_grad, rtol=1e-4, atol=1e-6)


def test_long_text_fits_and_predictions_read_fewer_tokens(tiny_checkpoint, monkeypatch):
    X, y = make_sentiment_texts(16)
    rng = np.random.default_rng(0)
    X = np.array([f"{' '.join(rng.choice(NEUTRAL, size=rng.integers(12, 20)))} {text}" for text in X],
                 dtype=object)
    # One full window of 16 tokens and a last one of 7-14 each: the last ones pass apart.
    params = {"long_text": "chunk_mean", "max_length": 16, "batch_size": 8, "max_epochs": 2,
              "random_state": 0, "tfidf_blend": False, "precision": "fp32"}
    tokens, encode = [], EncoderWithHead._encode
    monkeypatch.setattr(EncoderWithHead, "_encode",
                        lambda self, *args: tokens.append(args[0].numel()) or encode(self, *args))

    def tokens_read(action):
        tokens.clear()
        result = action()
        return sum(tokens), result

    grouped_fit, model = tokens_read(lambda: AttentionClassifier(tiny_checkpoint, **params).fit(X, y))
    grouped_predict, grouped = tokens_read(lambda: model.predict_proba(X))
    monkeypatch.setattr(modules, "window_groups", one_pass)
    padded_fit, _ = tokens_read(lambda: AttentionClassifier(tiny_checkpoint, **params).fit(X, y))
    padded_predict, padded = tokens_read(lambda: model.predict_proba(X))
    assert grouped_fit < 0.95 * padded_fit
    assert grouped_predict < 0.95 * padded_predict
    np.testing.assert_allclose(grouped, padded, rtol=1e-5, atol=1e-6)  # the same model, the same numbers
