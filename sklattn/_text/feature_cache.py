"""Process-wide cache of frozen-encoder features (``finetune="head"``).

With a frozen encoder in eval mode, a text's pooled vector depends only on
the encoder weights, its token ids and the pooling. Caching it means a
``GridSearchCV`` over head parameters (``lr``, ``class_weight``, ``dropout``,
...) encodes every text once per process instead of once per epoch, fold and
candidate.

Keys: a fingerprint of the encoder weights, the pooling modes, the precision
and the token ids (which already reflect ``max_length``, ``long_text``,
``stride`` and ``max_chunks``). Memory is bounded: least recently used
vectors are evicted beyond :data:`MAX_BYTES` (``clear_feature_cache`` empties it).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._core.keys import SAMPLE_WEIGHT

MAX_BYTES = 1 << 30  # 1 GiB of float32 vectors, e.g. ~700k MiniLM embeddings


class FeatureCache:
    """A thread-safe LRU mapping of byte keys to float32 vectors, bounded in bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def get_many(self, keys: Sequence[bytes]) -> list[np.ndarray | None]:
        with self._lock:
            found = []
            for key in keys:
                vector = self._entries.get(key)
                if vector is not None:
                    self._entries.move_to_end(key)
                found.append(vector)
            n_found = sum(v is not None for v in found)
            self.hits += n_found
            self.misses += len(keys) - n_found
            return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(keys, vectors):
                if key in self._entries:
                    continue
                vector = np.array(vector, dtype=np.float32)  # own copy
                self._entries[key] = vector
                self._bytes += vector.nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes


FEATURE_CACHE = FeatureCache()


def clear_feature_cache() -> None:
    """Empty the process-wide cache of frozen-encoder features."""
    FEATURE_CACHE.clear()


def encoder_fingerprint(encoder: torch.nn.Module) -> bytes:
    """A digest of the encoder's weights (per-tensor float64 sums and shapes).

    Cheap (one pass over the weights, no copies) and changes whenever any
    weight changes in practice, so a re-saved or re-trained encoder never
    reuses stale features.
    """
    digest = hashlib.sha256(type(encoder).__name__.encode())
    with torch.no_grad():
        for name, tensor in encoder.state_dict().items():
            digest.update(name.encode())
            digest.update(repr(tuple(tensor.shape)).encode())
            digest.update(np.float64(tensor.double().sum().item()).tobytes())
            digest.update(np.float64(tensor.double().abs().sum().item()).tobytes())
    return digest.digest()


def item_key(prefix: bytes, features: dict) -> bytes:
    """Cache key of one tokenized text (all its chunks) under ``prefix``."""
    digest = hashlib.sha256(prefix)
    for name in sorted(features):
        if name == SAMPLE_WEIGHT:
            continue
        value = features[name]
        chunks = value if isinstance(value, list) else [value]
        digest.update(name.encode())
        for chunk in chunks:
            digest.update(len(chunk).to_bytes(4, "little"))
            digest.update(np.ascontiguousarray(chunk, dtype=np.int64).tobytes())
    return digest.digest()


def cached_features(
    keys: Sequence[bytes], compute: Callable[[list[int]], np.ndarray], cache: FeatureCache = FEATURE_CACHE
) -> np.ndarray:
    """Vectors for ``keys``: from the cache, computing (and storing) the missing ones.

    ``compute(indices)`` returns the vectors of those positions, shape
    (len(indices), H).
    """
    found = cache.get_many(keys)
    missing = [i for i, vector in enumerate(found) if vector is None]
    if missing:
        computed = compute(missing)
        cache.put_many([keys[i] for i in missing], computed)
        for i, vector in zip(missing, computed):
            found[i] = vector
    return np.stack(found).astype(np.float32, copy=False)
