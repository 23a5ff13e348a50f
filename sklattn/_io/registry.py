"""The estimator classes :func:`sklattn.load` may build, filled in by the estimators.

The saved-model layer knows no estimator: each estimator class registers itself
with :func:`register_estimator` where it is defined, so loading dispatches by
name without importing upwards.
"""

from __future__ import annotations

_REGISTRY: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Class decorator: allow :func:`sklattn.load` to rebuild ``cls`` by its name."""
    known = _REGISTRY.get(cls.__name__)
    if known is not None and known is not cls:
        raise TypeError(f"two estimator classes are named {cls.__name__!r}: "
                        f"{known.__module__} and {cls.__module__}")
    _REGISTRY[cls.__name__] = cls
    return cls


def estimator_classes() -> dict[str, type]:
    """The only classes :func:`sklattn.load` builds, by name."""
    return dict(_REGISTRY)
