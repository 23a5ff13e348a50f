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

from .._core.keys import SAMPLE_WEIGHT

# Inputs the encoder understands, besides input_ids and attention_mask.
_OPTIONAL_ENCODER_INPUTS = ("token_type_ids",)


LONG_TEXT_MODES = ("truncate", "head_tail", "chunk_mean", "chunk_max", "chunk_sample")
# The modes that cut a long text into windows ("chunk_sample": one window per text
# per training step, every window averaged in prediction).
CHUNK_MODES = ("chunk_mean", "chunk_max", "chunk_sample")


def tokenize(
    tokenizer,
    texts: np.ndarray,
    max_length: int,
    long_text: str = "truncate",
    stride: int = 0,
    max_chunks: int | None = None,
) -> dict[str, list]:
    """Tokenize validated texts without padding.

    Parameters
    ----------
    tokenizer : transformers tokenizer
    texts : ndarray of shape (n_samples, 1) or (n_samples, 2)
        Output of :func:`sklattn._core.validation.check_texts`; two columns are
        encoded as one pair input, truncating the longer side first.
    max_length : int
        Maximum number of tokens per sample (per chunk), special tokens included.
    long_text : {"truncate", "head_tail", "chunk_mean", "chunk_max", "chunk_sample"}
        ``"truncate"`` keeps the start; ``"head_tail"`` keeps the first quarter
        and the last three quarters of the token budget (Sun et al., 2019,
        found head+tail best for long-document classification); the chunk
        modes (:data:`CHUNK_MODES`) cut each text into ``max_length`` windows.
    stride : int
        Chunk modes: tokens shared by consecutive windows.
    max_chunks : int or None
        Chunk modes: keep at most this many windows per text (the first ones).

    Returns
    -------
    dict of str to list
        ``input_ids`` and, when the model uses them, ``token_type_ids``: one
        int array per text, or (chunk modes) one list of int arrays per text.
    """
    first = texts[:, 0].tolist()
    second = texts[:, 1].tolist() if texts.shape[1] == 2 else None
    wanted = [name for name in _OPTIONAL_ENCODER_INPUTS if name in tokenizer.model_input_names]
    options = {
        "padding": False,
        "return_attention_mask": False,
        "return_token_type_ids": "token_type_ids" in wanted,
    }
    names = ["input_ids", *wanted]
    if long_text == "head_tail":
        encoded = tokenizer(first, truncation=False, return_special_tokens_mask=True, **options)
        keep = [_head_tail_mask(np.asarray(special, dtype=bool), max_length)
                for special in encoded["special_tokens_mask"]]
        return {name: [np.asarray(ids, dtype=np.int64)[mask] for ids, mask in zip(encoded[name], keep)]
                for name in names}
    if long_text in CHUNK_MODES:
        encoded = tokenizer(first, truncation=True, max_length=max_length, stride=stride,
                            return_overflowing_tokens=True, **options)
        features: dict[str, list] = {name: [[] for _ in first] for name in names}
        for row, owner in enumerate(encoded["overflow_to_sample_mapping"]):
            for name in names:
                chunks = features[name][owner]
                if max_chunks is None or len(chunks) < max_chunks:
                    chunks.append(np.asarray(encoded[name][row], dtype=np.int64))
        return features
    encoded = tokenizer(first, second, truncation="longest_first", max_length=max_length, **options)
    return {name: [np.asarray(ids, dtype=np.int64) for ids in encoded[name]] for name in names}


def resolve_stride(tokenizer, max_length: int, long_text: str, stride: int | None) -> int:
    """The chunk overlap in tokens: ``stride``, or a quarter of ``max_length`` when None.

    In the chunk modes a stride as wide as a window's text tokens would never
    advance: a ``ValueError`` naming both numbers.
    """
    stride = max_length // 4 if stride is None else stride
    if long_text in CHUNK_MODES:
        window = max_length - special_token_count(tokenizer)
        if stride >= window:
            raise ValueError(
                f"stride={stride} must be smaller than the {window} text tokens of each "
                f"max_length={max_length} window; lower stride or raise max_length."
            )
    return stride


def tokenize_for_mode(
    tokenizer, texts: np.ndarray, max_length: int, long_text: str,
    stride: int | None, max_chunks: int | None,
) -> dict[str, list]:
    """:func:`tokenize` with the estimators' ``stride`` default and check."""
    stride = resolve_stride(tokenizer, max_length, long_text, stride)
    return tokenize(tokenizer, texts, max_length, long_text, stride, max_chunks)


def _head_tail_mask(special: np.ndarray, max_length: int) -> np.ndarray:
    """Positions to keep: all special tokens, the first and the last content tokens."""
    budget = max_length - int(special.sum())
    content = np.flatnonzero(~special)
    if len(content) <= budget:
        return np.ones(len(special), dtype=bool)
    n_head = budget // 4
    kept = np.concatenate([content[:n_head], content[len(content) - (budget - n_head):]])
    mask = special.copy()
    mask[kept] = True
    return mask


def special_token_count(tokenizer) -> int:
    """Special tokens the tokenizer adds around a single text."""
    return len(tokenizer("", add_special_tokens=True)["input_ids"])


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
        """Tokens per sample (all chunks together in the chunk modes)."""
        return np.fromiter((_token_count(ids) for ids in self.features["input_ids"]), dtype=np.int64)

    @property
    def windows(self) -> np.ndarray:
        """Encoder windows per sample: 1, or its chunks in the chunk modes."""
        ids = self.features["input_ids"]
        return np.fromiter((len(i) if isinstance(i, list) else 1 for i in ids), dtype=np.int64)

    def __getitem__(self, index: int) -> tuple[dict[str, Any], Any]:
        item = {name: values[index] for name, values in self.features.items()}
        if self.sample_weight is not None:
            item[SAMPLE_WEIGHT] = self.sample_weight[index]
        target = self.y[index] if self.y is not None else np.float32(0.0)
        return item, target


class FeatureDataset(TokenizedDataset):
    """Pooled encoder vectors standing in for the token ids of a ``TokenizedDataset``.

    Keeps the token ``lengths`` of the texts so that length-grouped batches
    are the same as with token ids.
    """

    def __init__(self, vectors: np.ndarray, lengths: np.ndarray,
                 y: np.ndarray | None = None, sample_weight: np.ndarray | None = None) -> None:
        super().__init__({}, y, sample_weight)
        self.vectors = vectors
        self._lengths = lengths

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths

    @property
    def windows(self) -> np.ndarray:
        return np.ones(len(self.vectors), dtype=np.int64)

    def __getitem__(self, index: int) -> tuple[dict[str, Any], Any]:
        item: dict[str, Any] = {"features": self.vectors[index]}
        if self.sample_weight is not None:
            item[SAMPLE_WEIGHT] = self.sample_weight[index]
        target = self.y[index] if self.y is not None else np.float32(0.0)
        return item, target


def _token_count(ids) -> int:
    return sum(len(chunk) for chunk in ids) if isinstance(ids, list) else len(ids)


def pad_token_id(tokenizer) -> int:
    """The id that pads sequences for ``tokenizer``: its pad token, or 0 if it has none.

    Parameters
    ----------
    tokenizer : transformers tokenizer

    Returns
    -------
    int
    """
    pad = tokenizer.pad_token_id
    return 0 if pad is None else int(pad)


def sample_window(features: dict[str, Any]) -> dict[str, Any]:
    """One window of a chunked text, drawn in proportion to its tokens.

    Drawing by tokens rather than uniformly keeps a short last window (the
    tail past the previous window's end) from counting as much as a full one.
    Uses torch's global generator, which ``fit`` seeds from ``random_state``.

    Parameters
    ----------
    features : dict of str to list of ndarray
        One text's item of a chunked ``TokenizedDataset``: a list of windows
        per input name (``input_ids``, ``token_type_ids``).

    Returns
    -------
    dict
        The same item with a list of one window per input name.
    """
    windows = features["input_ids"]
    if len(windows) == 1:
        return features
    tokens = torch.tensor([float(len(ids)) for ids in windows])
    pick = int(torch.multinomial(tokens, 1))
    return {name: [value[pick]] if isinstance(value, list) else value for name, value in features.items()}


class PadCollate:
    """Collate ``TokenizedDataset`` items into a dynamically padded batch.

    Parameters
    ----------
    pad_token_id : int
        Id used to fill positions past each sequence's end.
    sample_windows : bool, default=False
        For chunked texts, keep one window per text (:func:`sample_window`)
        instead of all of them: training under ``long_text="chunk_sample"``.
    """

    def __init__(self, pad_token_id: int, sample_windows: bool = False) -> None:
        self.pad_token_id = pad_token_id
        self.sample_windows = sample_windows

    def __call__(self, items: list[tuple[dict[str, Any], Any]]):
        features = [item[0] for item in items]
        batch: dict[str, torch.Tensor] = {}
        targets = torch.as_tensor(np.stack([item[1] for item in items]))
        if "features" in features[0]:  # cached encoder outputs (FeatureDataset)
            batch["features"] = torch.from_numpy(np.stack([f["features"] for f in features]))
            if SAMPLE_WEIGHT in features[0]:
                batch[SAMPLE_WEIGHT] = torch.tensor([f[SAMPLE_WEIGHT] for f in features],
                                                    dtype=torch.float32)
            return batch, targets
        if isinstance(features[0]["input_ids"], list):  # chunked long texts
            if self.sample_windows:
                features = [sample_window(f) for f in features]
            owner = [i for i, f in enumerate(features) for _ in f["input_ids"]]
            batch["chunk_owner"] = torch.tensor(owner, dtype=torch.long)  # (C,)
            sequences = {name: [chunk for f in features for chunk in f[name]]
                         for name in features[0] if name != SAMPLE_WEIGHT}
        else:
            sequences = {name: [f[name] for f in features]
                         for name in features[0] if name != SAMPLE_WEIGHT}
        if SAMPLE_WEIGHT in features[0]:
            batch[SAMPLE_WEIGHT] = torch.tensor([f[SAMPLE_WEIGHT] for f in features],
                                                dtype=torch.float32)
        lengths = [len(ids) for ids in sequences["input_ids"]]
        n_rows, longest = len(lengths), max(lengths)
        attention_mask = torch.zeros((n_rows, longest), dtype=torch.long)  # (B or C, T)
        for i, length in enumerate(lengths):
            attention_mask[i, :length] = 1
        for name, rows in sequences.items():
            fill = self.pad_token_id if name == "input_ids" else 0
            padded = torch.full((n_rows, longest), fill, dtype=torch.long)  # (B or C, T)
            for i, ids in enumerate(rows):
                padded[i, : lengths[i]] = torch.from_numpy(ids)
            batch[name] = padded
        batch["attention_mask"] = attention_mask
        return batch, targets


def length_order(dataset: TokenizedDataset) -> np.ndarray:
    """Indices that sort a dataset by token length (stable), for padded-waste-free inference."""
    return np.argsort(dataset_lengths(dataset), kind="stable")


def _per_sample(dataset, name: str) -> np.ndarray:
    """The per-sample array ``name`` of a ``TokenizedDataset`` or a (nested) ``Subset`` of one."""
    if isinstance(dataset, Subset):
        return _per_sample(dataset.dataset, name)[np.asarray(dataset.indices)]
    return getattr(dataset, name)


def dataset_lengths(dataset) -> np.ndarray:
    """Token lengths of a ``TokenizedDataset`` or a (nested) ``Subset`` of one."""
    return _per_sample(dataset, "lengths")


def dataset_windows(dataset) -> np.ndarray:
    """Encoder windows per sample of a ``TokenizedDataset`` or a (nested) ``Subset`` of one."""
    return _per_sample(dataset, "windows")


class LengthGroupedBatchSampler(Sampler):
    """Random batches of similar-length texts, so dynamic padding wastes little.

    Each epoch shuffles all indices, cuts them into pools of ``pool_factor``
    batches, sorts each pool by length, slices it into batches and shuffles
    the batch order. Texts within a batch have similar lengths; which texts
    meet varies from epoch to epoch only as far as the pools do. A training
    set within one pool (under ``batch_size * pool_factor`` texts) meets in
    the same length-sorted batches every epoch, apart from ties; on 8-32 tweets
    per class that scored the same as random batches
    (``group_by_length=False``, 5 seeds, ``benchmarks/few_shot.py``).

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
