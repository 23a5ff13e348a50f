"""Shared fixtures: a tiny random BERT checkpoint and small synthetic text tasks.

The checkpoint is saved to a temp dir and loaded through the same
``from_pretrained`` path a user's checkpoint takes.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# precision="auto" resolves to fp32 on every CPU in the tests (and in the fresh processes
# they start, which inherit the environment), so the suite runs alike on AVX2 and on
# AMX/AVX-512 BF16 machines; tests/test_precision.py tests the decision with the probe mocked.
os.environ.setdefault("SKLATTN_CPU_BF16", "0")

import numpy as np
import pytest
import torch

POSITIVE = ["good", "great", "fine", "superb", "lovely"]
NEGATIVE = ["bad", "awful", "poor", "dreadful", "boring"]
NEUTRAL = ["the", "film", "plot", "actor", "scene", "music", "story", "was", "and", "very", "quite", "a"]
TINY_MAX_POSITIONS = 64


def _tiny_vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,!?'"))
    words = sorted(set(POSITIVE + NEGATIVE + NEUTRAL))
    # dict.fromkeys: "a" is both a character and a word; ids must stay contiguous.
    return list(dict.fromkeys(specials + chars + ["##" + c for c in chars] + words))


def build_tiny_checkpoint(path, max_positions: int = TINY_MAX_POSITIONS, hidden_size: int = 32) -> str:
    """Write a tiny random BERT (hidden 32 unless told, 2 layers) and its tokenizer to ``path``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(_tiny_vocab())}
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    backend.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_positions,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on shared cores two spinning
    OpenMP threads per process slowed training steps here 10-20x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


def texts_with_cue_at_the_end(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """64 texts of 30 filler words, then the one word that decides the label."""
    rng = np.random.default_rng(seed)
    texts = [f"{' '.join(rng.choice(NEUTRAL, size=30))} {'good' if i % 2 == 0 else 'awful'}"
             for i in range(64)]
    return np.array(texts, dtype=object), np.arange(64) % 2


def make_sentiment_texts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Texts of neutral filler plus one positive or negative word; label says which."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        cue = rng.choice(POSITIVE if positive else NEGATIVE)
        words = list(rng.choice(NEUTRAL, size=rng.integers(2, 8)))
        words.insert(int(rng.integers(0, len(words) + 1)), cue)
        texts.append(" ".join(words))
        labels.append("pos" if positive else "neg")
    return np.array(texts, dtype=object), np.array(labels, dtype=object)


@pytest.fixture(scope="session")
def sentiment_data():
    return make_sentiment_texts(160, seed=0)


class _ResolvedEpochs(Exception):
    pass


def resolved_max_epochs(estimator, X, y) -> int:
    """The ``max_epochs_`` a fit of ``estimator`` resolves, read before its first training step."""
    from skorch.callbacks import Callback

    class StopBeforeTraining(Callback):
        def on_epoch_begin(self, net, **kwargs):
            raise _ResolvedEpochs(net.max_epochs_)

    with pytest.raises(_ResolvedEpochs) as resolved:
        estimator.set_params(callbacks=[StopBeforeTraining()]).fit(X, y)
    return resolved.value.args[0]
