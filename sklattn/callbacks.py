"""skorch callbacks: the ones sklattn estimators add by default, and ``ResumableCheckpoint``."""

from ._core.callbacks import (
    NonFiniteLossError,
    StopOnNonFiniteLoss,
    WarmupLinearSchedule,
    warmup_linear_factor,
)
from ._core.resume import ResumableCheckpoint

__all__ = [
    "NonFiniteLossError",
    "ResumableCheckpoint",
    "StopOnNonFiniteLoss",
    "WarmupLinearSchedule",
    "warmup_linear_factor",
]
