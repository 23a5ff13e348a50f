"""Make skorch nets behave like well-formed scikit-learn estimators.

skorch treats every instance attribute not ending in ``_`` as a parameter and
sets ``history_``, ``initialized_`` and ``virtual_params_`` in ``__init__``.
sklearn expects ``get_params`` to return exactly the constructor arguments and
``__init__`` to set nothing else. This mixin closes those gaps once, for every
sklattn estimator.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from types import MappingProxyType
from typing import Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from torch.utils.data import DataLoader

# skorch constructor arguments that sklattn fixes internally: not user parameters.
_INTERNAL_SKORCH_ARGS = frozenset({"module", "criterion", "dataset", "predict_nonlinearity"})
# skorch arguments sklattn does not list in its signatures; get_params(deep=False)
# shows them only when changed, so reprs stay short and clone still round-trips them.
_SKORCH_DEFAULTS = {
    "iterator_train": DataLoader,
    "iterator_valid": DataLoader,
    "compile": False,
    "use_caching": "auto",
    "torch_load_kwargs": None,
}


class SkorchSklearnMixin:
    """Mixin placed left of ``skorch.NeuralNet`` in every sklattn estimator."""

    # Class-level defaults so that __init__ sets only parameters (sklearn rule).
    history_ = None
    initialized_ = False
    virtual_params_ = MappingProxyType({})

    def _drop_init_state(self) -> None:
        """Remove the fitted-looking attributes skorch sets in ``__init__``."""
        for name in ("history_", "initialized_", "virtual_params_"):
            self.__dict__.pop(name, None)

    def _get_param_names(self) -> list[str]:
        return sorted(
            name
            for name in super()._get_param_names()
            if not name.startswith("_") and name not in _INTERNAL_SKORCH_ARGS
        )

    def get_params(self, deep: bool = True, **kwargs) -> dict:
        params = super().get_params(deep=deep, **kwargs)
        if not deep:  # what clone and repr use; set_params checks against deep=True
            for name, default in _SKORCH_DEFAULTS.items():
                if name in params and params[name] is default:
                    del params[name]
        return params

    def __repr__(self) -> str:  # sklearn's repr: parameters, not skorch's module dump
        return BaseEstimator.__repr__(self)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.initialized_) and all(
            hasattr(self, name) for name in self._fitted_attributes
        )


def resolve_seed(random_state) -> int | None:
    """Turn an sklearn ``random_state`` into an int seed (None stays None)."""
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed torch, numpy and ``random`` for a block, restoring global RNG state after.

    Seeds everything random in a fit (head init, dropout, shuffling, skorch's
    validation split) without leaving the user's global generators changed.
    """
    if seed is None:
        yield
        return
    numpy_state, python_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)
