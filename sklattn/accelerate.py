"""Data-parallel training and gradient accumulation through Hugging Face accelerate.

The text estimators composed with skorch's :class:`skorch.hf.AccelerateMixin`,
with the fixes that make accumulation exact (skorch's mixin alone zeroes the
accumulated gradients before each optimizer step) and data-parallel training
work (the loss is not wrapped, the unused pooler is frozen). Run the script
under ``torchrun --nproc_per_node N`` or ``accelerate launch`` for one process
per device; ``pip install "sklattn[accelerate]"``.

Examples
--------
>>> from accelerate import Accelerator
>>> from sklattn.accelerate import AcceleratedClassifier
>>> accelerator = Accelerator(cpu=True, gradient_accumulation_steps=4)
>>> clf = AcceleratedClassifier("path/to/checkpoint", accelerator=accelerator,
...                             device=accelerator.device, batch_size=8)
>>> clf.batch_size * accelerator.gradient_accumulation_steps  # texts per optimizer step
32
"""

from __future__ import annotations

import math

import torch
from skorch.callbacks import GradientNormClipping

from ._text.classifier import AttentionClassifier
from ._text.regressor import AttentionRegressor
from ._core.callbacks import fit_epochs
from .callbacks import WarmupLinearSchedule

try:
    import accelerate  # noqa: F401  (skorch.hf would only fail once training starts)
except ImportError as error:  # pragma: no cover - accelerate is in the dev extra
    raise ImportError('sklattn.accelerate needs accelerate: pip install "sklattn[accelerate]"') from error
from skorch.hf import AccelerateMixin

__all__ = ["AcceleratedClassifier", "AcceleratedRegressor"]


class _OptimizerStepSchedule(WarmupLinearSchedule):
    """Warmup and decay over optimizer steps, which accumulation makes fewer than batches."""

    def on_epoch_begin(self, net, dataset_train=None, **kwargs) -> None:
        if self.total_steps_ is not None:
            return
        batches = len(net.get_iterator(dataset_train, training=True))  # this process's share
        per_epoch = math.ceil(batches / net.accelerator.gradient_accumulation_steps)
        self.total_steps_ = max(1, per_epoch * fit_epochs(net))
        ratio = net.warmup_ratio if self.warmup_ratio is None else self.warmup_ratio
        self.warmup_steps_ = math.ceil(ratio * self.total_steps_)
        self._set_lr(net)

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        if training and net.accelerator.sync_gradients:  # the optimizer stepped
            super().on_batch_end(net, training=training, **kwargs)


class _AccumulatedGradientClipping(GradientNormClipping):
    """Clip the accumulated (and, across processes, averaged) gradient once per step."""

    def on_grad_computed(self, net, named_parameters, **kwargs) -> None:
        if net.accelerator.sync_gradients:
            super().on_grad_computed(net, named_parameters, **kwargs)


class _SklattnAccelerateMixin(AccelerateMixin):
    """skorch's AccelerateMixin adapted to sklattn's schedule, clipping and devices."""

    def __init__(self, *args, accelerator, device="cpu", **kwargs) -> None:
        # skorch's mixin defaults to device=None; sklattn needs the device it trains on.
        super().__init__(*args, accelerator=accelerator, device=device, **kwargs)

    @property
    def _default_callbacks(self):
        replaced = {
            "lr_schedule": _OptimizerStepSchedule(),
            "grad_clip": _AccumulatedGradientClipping(gradient_clip_value=self.max_grad_norm),
        }
        return [(name, replaced.get(name, callback)) for name, callback in super()._default_callbacks]

    def _initialize_accelerator(self):
        # skorch's mixin also prepares the criterion; across processes that wraps it in
        # DistributedDataParallel, which rejects modules without parameters (our losses).
        criteria, self._criteria = self._criteria, []
        # The encoder's pooler (BERT, RoBERTa) feeds nothing sklattn uses, so it never has
        # gradients, which DistributedDataParallel treats as an error. Freezing it changes
        # nothing: AdamW skips parameters without gradients anyway.
        pooler = getattr(getattr(self.module_, "encoder", None), "pooler", None)
        if isinstance(pooler, torch.nn.Module):
            pooler.requires_grad_(False)
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def _initialize_callbacks(self):
        # skorch's PrintLog ignores verbose=0 unless its sink is print: keep sklattn silent.
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = print
        return super()._initialize_callbacks()

    def _zero_grad_optimizer(self, set_to_none=None) -> None:
        # skorch zeroes gradients before every batch. Under accumulation the prepared
        # optimizer skips that on all but the last micro-batch, whose zeroing then wipes
        # the micro-batches accumulated so far. Zero after each optimizer step instead.
        pass

    def _step_optimizer(self, step_fn) -> None:
        super()._step_optimizer(step_fn)
        if self.accelerator.sync_gradients:
            super()._zero_grad_optimizer()

    def _uses_feature_cache(self) -> bool:
        # The cache encodes through the bare encoder, which DistributedDataParallel hides
        # during training; across processes, head-only training encodes every batch.
        return super()._uses_feature_cache() and self.accelerator.num_processes == 1

    def _validate_params(self) -> None:
        # skorch's mixin wants device=None when accelerate places tensors; sklattn keeps
        # an explicit device, which must be the accelerator's.
        super(AccelerateMixin, self)._validate_params()
        wanted, device = self.accelerator.device, torch.device(self.device)
        same_index = None in (device.index, wanted.index) or device.index == wanted.index
        if self.accelerator.device_placement and not (device.type == wanted.type and same_index):
            raise ValueError(
                f"device={self.device!r} but the accelerator places tensors on {str(wanted)!r}; "
                "pass device=accelerator.device."
            )


class AcceleratedClassifier(_SklattnAccelerateMixin, AttentionClassifier):
    """:class:`~sklattn.AttentionClassifier` trained through an ``accelerate.Accelerator``.

    Parameters
    ----------
    checkpoint, **kwargs
        As for :class:`~sklattn.AttentionClassifier`.
    accelerator : accelerate.Accelerator
        Sets data parallelism (one process per device under ``accelerate launch``
        or ``torchrun``), mixed precision and ``gradient_accumulation_steps``: the
        effective batch is ``batch_size * gradient_accumulation_steps * processes``.
    device : str or torch.device, default="cpu"
        Must be ``accelerator.device``.
    unwrap_after_train : bool, default=True
        Unwrap the module after training so the estimator pickles and predicts as usual.
    """


class AcceleratedRegressor(_SklattnAccelerateMixin, AttentionRegressor):
    """:class:`~sklattn.AttentionRegressor` trained through an ``accelerate.Accelerator``.

    Parameters as for :class:`AcceleratedClassifier`.
    """
