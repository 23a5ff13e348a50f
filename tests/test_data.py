"""Tokenization, dynamic padding and length-grouped batching."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Subset

from sklattn._text.data import (
    LengthGroupedBatchSampler,
    PadCollate,
    TokenizedDataset,
    dataset_lengths,
    length_order,
)


def _dataset(lengths, y=None, weights=None):
    ids = [np.arange(1, n + 1, dtype=np.int64) for n in lengths]
    return TokenizedDataset({"input_ids": ids}, y, weights)


def test_pad_collate_pads_to_batch_longest_with_mask():
    dataset = _dataset([3, 5, 2], y=np.array([0, 1, 0]), weights=np.array([1.0, 2.0, 0.5], dtype=np.float32))
    batch, y = PadCollate(pad_token_id=9)([dataset[i] for i in range(3)])
    assert batch["input_ids"].shape == (3, 5)
    assert batch["input_ids"][2].tolist() == [1, 2, 9, 9, 9]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 5, 2]
    assert batch["sample_weight"].tolist() == [1.0, 2.0, 0.5]
    assert y.tolist() == [0, 1, 0]


def test_length_grouped_batches_cover_every_index_once_and_pad_less():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, size=1000)
    sampler = LengthGroupedBatchSampler(lengths, batch_size=32, pool_factor=10)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 32
    assert sorted(i for b in batches for i in b) == list(range(1000))

    def padded_tokens(batch_list):
        return sum(len(b) * lengths[b].max() for b in batch_list)

    random_batches = np.array_split(rng.permutation(1000), 32)
    assert padded_tokens(batches) < 0.7 * padded_tokens(random_batches)


def test_length_grouped_batches_are_random_across_epochs_and_seedable():
    lengths = np.arange(200) % 17
    torch.manual_seed(0)
    first, second = list(LengthGroupedBatchSampler(lengths, 8)), list(LengthGroupedBatchSampler(lengths, 8))
    assert [b.copy() for b in first] != second
    torch.manual_seed(0)
    assert list(LengthGroupedBatchSampler(lengths, 8)) == first


def test_lengths_of_subsets_and_length_order():
    dataset = _dataset([4, 1, 3, 2])
    subset = Subset(Subset(dataset, [3, 2, 0]), [2, 0])
    assert dataset_lengths(subset).tolist() == [4, 2]
    assert length_order(dataset).tolist() == [1, 3, 2, 0]
