"""The callbacks every sklattn estimator adds by default (public in :mod:`sklattn.callbacks`)."""

from __future__ import annotations

import math

from skorch.callbacks import Callback


def warmup_linear_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate multiplier of optimizer step ``step`` (0-based).

    A linear rise over the first ``warmup_steps`` steps (reaching 1 on the
    last of them), then a linear decay that reaches 0 after the last step.
    Unlike a schedule that starts at 0, every step of the fit moves the
    weights: a fit of a single step still trains.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def fit_epochs(net) -> int:
    """Epochs the running fit of ``net`` trains for.

    sklattn estimators resolve ``max_epochs`` (``"auto"`` included) into
    ``max_epochs_`` when their fit loop starts; other skorch nets have only
    ``max_epochs``.
    """
    resolved = getattr(net, "max_epochs_", None)
    return int(net.max_epochs if resolved is None else resolved)


class WarmupLinearSchedule(Callback):
    """Linear warmup then linear decay, stepped after every optimizer step.

    The number of steps is computed when training starts, from the real size of
    the training split of *this* fit (after any validation split), the batch
    size and the epochs of this fit (``max_epochs``, or what ``"auto"`` resolved
    to, ``max_epochs_``), so the schedule stays right when cross-validation
    or a grid search changes the data or the number of epochs. Each call to
    ``fit`` or ``partial_fit`` runs one full schedule.

    Parameters
    ----------
    warmup_ratio : float or None, default=None
        Fraction of the steps spent warming up. ``None`` reads the estimator's
        ``warmup_ratio`` parameter.

    Attributes
    ----------
    total_steps_ : int
        Optimizer steps of the current schedule.
    warmup_steps_ : int
        Steps of linear warmup.
    step_ : int
        Steps taken so far.
    """

    def __init__(self, warmup_ratio: float | None = None) -> None:
        self.warmup_ratio = warmup_ratio

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        self.step_ = 0
        self.total_steps_ = None
        self.warmup_steps_ = 0
        for group in net.optimizer_.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def on_epoch_begin(self, net, dataset_train=None, **kwargs) -> None:
        if self.total_steps_ is not None:
            return
        batches_per_epoch = len(net.get_iterator(dataset_train, training=True))
        self.total_steps_ = max(1, batches_per_epoch * fit_epochs(net))
        ratio = net.warmup_ratio if self.warmup_ratio is None else self.warmup_ratio
        self.warmup_steps_ = math.ceil(ratio * self.total_steps_)
        self._set_lr(net)

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        if training:
            self.step_ += 1
            self._set_lr(net)

    def on_epoch_end(self, net, **kwargs) -> None:
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])

    def _set_lr(self, net) -> None:
        factor = warmup_linear_factor(self.step_, self.warmup_steps_, self.total_steps_)
        for group in net.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] * factor


class NonFiniteLossError(ValueError):
    """Training stopped because a loss became NaN or infinite.

    Raised by :class:`StopOnNonFiniteLoss`; a ``ValueError``, so code that
    catches bad-input errors catches it too.
    """


class StopOnNonFiniteLoss(Callback):
    """Stop training with :class:`NonFiniteLossError` when the loss or the weights stop being finite.

    Checks every batch loss (training and validation) and, at the end of each
    epoch, the weights (a NaN can appear in the last optimizer step, after the
    last loss). Every sklattn estimator adds it by default (name
    ``"stop_on_nonfinite"``; ``callbacks__stop_on_nonfinite=None`` turns it
    off). Without it a diverged fit would end normally and ``predict`` would
    return NaN-based garbage. The estimator is left unfitted after the error.
    """

    def on_epoch_begin(self, net, **kwargs) -> None:
        self.batches_ = {True: 0, False: 0}  # per phase: training, validation

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs) -> None:
        self.batches_[training] += 1
        if loss is None:
            return
        value = float(loss.detach().float()) if hasattr(loss, "detach") else float(loss)
        if not math.isfinite(value):
            phase = "training" if training else "validation"
            raise NonFiniteLossError(self._message(
                net, f"the {phase} loss became {value} in epoch {len(net.history)}, "
                f"batch {self.batches_[training]}"
            ))

    def on_epoch_end(self, net, **kwargs) -> None:
        for name, param in net.module_.named_parameters():
            # Frozen weights cannot change; scanning them (22M in MiniLM) cost finetune="head"
            # fits on cached features about half their time.
            if param.requires_grad and not bool(param.detach().isfinite().all()):
                raise NonFiniteLossError(self._message(
                    net, f"the weights ({name}) became NaN or infinite in epoch {len(net.history)}"
                ))

    @staticmethod
    def _message(net, what: str) -> str:
        bf16 = getattr(net, "precision", "fp32") == "bf16"
        # lr="auto" stands for a number; name the number that was used.
        lr = net._learning_rate() if hasattr(net, "_learning_rate") else net.lr
        return (
            f"{what}; training stopped and the estimator is left unfitted. Likely causes: "
            f"a learning rate too high (lr={lr!r}; try 10x lower), "
            + ("bfloat16 overflow (precision='bf16'; try precision='fp32'), " if bf16 else "")
            + "or extreme values in the targets or inputs (check y for huge values, or "
            "scale the targets)."
        )


def stopped_on_purpose(net) -> bool:
    """Whether a ``KeyboardInterrupt`` in the fit loop came from skorch's ``EarlyStopping``.

    skorch stops early by raising ``KeyboardInterrupt``; a user's Ctrl-C raises
    the same exception, and only the latter deserves a warning.
    """
    from skorch.callbacks import EarlyStopping

    return any(
        isinstance(callback, EarlyStopping) and getattr(callback, "misses_", 0) >= callback.patience
        for _, callback in getattr(net, "callbacks_", [])
    )
