"""Tokenization, datasets and dynamic-padding collation.

Texts are tokenized once per ``fit``/``predict`` call (never per epoch), kept
as variable-length id arrays, and padded batch by batch to the longest
sequence of that batch, never to ``max_length``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, Subset

# Inputs the encoder understands, besides input_ids and attention_mask.
_OPTIONAL_ENCODER_INPUTS = ("token_type_ids",)


def tokenize(tokenizer, texts: np.ndarray, max_length: int) -> dict[str, list[np.ndarray]]:
    """Tokenize validated texts without padding.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    texts : ndarray of shape (n_samples, 1) or (n_samples, 2)
        Output of :func:`sklattn._validation.check_texts`; two columns are
        encoded as one pair input, truncating the longer side first.
    max_length : int
        Maximum number of tokens per sample, special tokens included.

    Returns
    -------
    dict of str to list of int arrays
        ``input_ids`` and, when the model uses them, ``token_type_ids``.
    """
    first = texts[:, 0].tolist()
    second = texts[:, 1].tolist() if texts.shape[1] == 2 else None
    wanted = [name for name in _OPTIONAL_ENCODER_INPUTS if name in tokenizer.model_input_names]
    encoded = tokenizer(
        first,
        second,
        truncation="longest_first",
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids="token_type_ids" in wanted,
    )
    features = {"input_ids": [np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"]]}
    for name in wanted:
        features[name] = [np.asarray(ids, dtype=np.int64) for ids in encoded[name]]
    return features


class TokenizedDataset(Dataset):
    """Variable-length token ids with optional targets and sample weights.

    Items are ``(features, target)`` pairs; ``features`` is a dict of arrays.
    """

    def __init__(
        self,
        features: dict[str, list[np.ndarray]],
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        self.features = features
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self) -> int:
        return len(self.features["input_ids"])

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.features["input_ids"]), dtype=np.int64)

    def __getitem__(self, index: int) -> tuple[dict[str, Any], Any]:
        item = {name: values[index] for name, values in self.features.items()}
        if self.sample_weight is not None:
            item["sample_weight"] = self.sample_weight[index]
        target = self.y[index] if self.y is not None else np.float32(0.0)
        return item, target


class PadCollate:
    """Collate ``TokenizedDataset`` items into a dynamically padded batch.

    Parameters
    ----------
    pad_token_id : int
        Id used to fill positions past each sequence's end.
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[tuple[dict[str, Any], Any]]):
        features = [item[0] for item in items]
        lengths = [len(f["input_ids"]) for f in features]
        batch_size, longest = len(items), max(lengths)
        batch: dict[str, torch.Tensor] = {}
        attention_mask = torch.zeros((batch_size, longest), dtype=torch.long)  # (B, T)
        for i, length in enumerate(lengths):
            attention_mask[i, :length] = 1
        for name in features[0]:
            if name == "sample_weight":
                batch[name] = torch.tensor([f[name] for f in features], dtype=torch.float32)
                continue
            fill = self.pad_token_id if name == "input_ids" else 0
            padded = torch.full((batch_size, longest), fill, dtype=torch.long)  # (B, T)
            for i, f in enumerate(features):
                padded[i, : lengths[i]] = torch.from_numpy(f[name])
            batch[name] = padded
        batch["attention_mask"] = attention_mask
        targets = torch.as_tensor(np.stack([item[1] for item in items]))
        return batch, targets


def length_order(dataset: TokenizedDataset) -> np.ndarray:
    """Indices that sort a dataset by token length (stable), for padded-waste-free inference."""
    return np.argsort(dataset.lengths, kind="stable")


def dataset_lengths(dataset) -> np.ndarray:
    """Token lengths of a ``TokenizedDataset`` or a (nested) ``Subset`` of one."""
    if isinstance(dataset, Subset):
        return dataset_lengths(dataset.dataset)[np.asarray(dataset.indices)]
    return dataset.lengths


class LengthGroupedBatchSampler(Sampler):
    """Random batches of similar-length texts, so dynamic padding wastes little.

    Each epoch shuffles all indices, cuts them into pools of ``pool_factor``
    batches, sorts each pool by length, slices it into batches and shuffles
    the batch order. Batches stay random (which texts meet is random), while
    texts within a batch have similar lengths.

    Parameters
    ----------
    lengths : ndarray of shape (n_samples,)
    batch_size : int
    pool_factor : int, default=50
        Batches per sorting pool; larger pools pad less but are less random.
    generator : torch.Generator or None
        Source of randomness (seeded by the estimator's ``random_state``).
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, pool_factor: int = 50,
                 generator: torch.Generator | None = None) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.pool_factor = pool_factor
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        n = len(self.lengths)
        order = torch.randperm(n, generator=self.generator).numpy()
        pool_size = self.batch_size * self.pool_factor
        batches = []
        for start in range(0, n, pool_size):
            pool = order[start:start + pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size))
        for b in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[b].tolist()
