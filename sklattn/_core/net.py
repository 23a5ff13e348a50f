"""SklattnNet: the training recipe shared by every sklattn estimator.

AdamW without decay on biases and norm weights, a warmup-then-linear-decay
schedule over this fit's real steps, gradient clipping, per-sample loss
weights, and ``fit``/``partial_fit`` that validate before training. Text and
tabular estimators subclass it and add their inputs and network.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from numbers import Integral, Real
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet
from skorch.callbacks import GradientNormClipping, PrintLog
from skorch.utils import to_device, to_tensor

from .._io.load import copy_weights, set_fitted_attributes
from .._io.save import SaveMixin
from .inference import autocast_context, run_batches
from .precision import (
    PRECISION_CONSTRAINT,
    current_training_precision,
    int8_module,
    resolve_precision,
    training_precision,
)
from .keys import SAMPLE_WEIGHT
from .progress import EpochProgressBar, prediction_progress
from .compat import SkorchSklearnMixin, resolve_seed, seeded
from .callbacks import StopOnNonFiniteLoss, WarmupLinearSchedule, stopped_on_purpose
from .resume import ResumableCheckpoint

# Constraints of the training parameters every SklattnNet estimator takes; the text
# and tabular estimators add their own (and widen max_epochs and lr with "auto").
TRAINING_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "warmup_ratio": [Interval(Real, 0, 1, closed="both")],
    "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
    "precision": [PRECISION_CONSTRAINT],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "callbacks": [list, StrOptions({"disable"}), None],
    "train_split": [callable, None],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "optimizer": [callable],
}


def build_optimizer(optimizer: Callable, groups: list, **kwargs) -> torch.optim.Optimizer:
    """``optimizer(groups, **kwargs)``, with Adam's fused kernel where torch has one.

    torch steps Adam and AdamW on CPU with a loop over the parameter tensors
    unless told otherwise: on all-MiniLM-L6-v2 (2 cores, AVX2) a step took
    170 ms against 22 ms fused, a quarter of a small-data fit's time. The fused
    kernel computes the same update. It is used for ``torch.optim.Adam`` and
    ``AdamW`` unless ``optimizer__fused`` or ``optimizer__foreach`` chooses, and
    only where every parameter's device has it (CPU from torch 2.4, CUDA).
    """
    adam = isinstance(optimizer, type) and issubclass(optimizer, (torch.optim.Adam, torch.optim.AdamW))
    if adam and "fused" not in kwargs and "foreach" not in kwargs:
        devices = fused_kernel_devices()
        params = [param for group in groups for param in group["params"]]
        if all(param.device.type in devices and param.is_floating_point() for param in params):
            kwargs["fused"] = True
    return optimizer(groups, **kwargs)


def fused_kernel_devices() -> tuple[str, ...]:
    """Device types with fused optimizer kernels in this torch (none if it does not say)."""
    try:  # torch's own list; private, so guarded
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:
        return ()
    return tuple(_get_fused_kernels_supported_devices())


class SklattnNet(SaveMixin, SkorchSklearnMixin, NeuralNet):
    """Base of all sklattn estimators; not public.

    Subclasses implement ``_fit(X, y, sample_weight, continuing, fit_params,
    classes)``, ``initialize_module`` and ``_forward_outputs``; a task mixin
    (:mod:`sklattn._core.tasks`) supplies ``_encode_targets`` and the predictions.
    """

    _criterion_class: type[torch.nn.Module] = torch.nn.MSELoss
    # The estimator parameters the network is built from, suggested instead of a
    # ``module__<name>``; and fixes for module arguments that are not parameters.
    _network_parameters: tuple[str, ...] = ()
    _module_argument_hints: Mapping[str, str] = MappingProxyType({})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _get_params_html(self, deep=True, doc_link=""):
        # sklearn's HTML display: the constructor parameters, not skorch's dozens of
        # nested callbacks__* entries that deep=True adds.
        return super()._get_params_html(deep=False, doc_link=doc_link)

    def set_params(self, **params):
        """Set parameters, as in scikit-learn; skorch prefixes included.

        ``module__*`` raises a ValueError (the network is built from the
        estimator's own parameters). ``criterion__*`` and ``compile__*`` are
        stored and take effect at the next ``fit`` or ``partial_fit``: unlike
        plain skorch, setting them never rebuilds the network of a fitted
        estimator, so its trained weights are kept.
        """
        module_params = {key: value for key, value in params.items() if key.startswith("module__")}
        if module_params:
            raise self._module_params_error(module_params)
        # skorch builds callbacks inside set_params; sklearn expects checks at fit time.
        if "callbacks" in params:
            self.callbacks = params.pop("callbacks")
        deferred = {key: params.pop(key) for key in list(params)
                    if key.startswith(("criterion__", "compile__"))}
        for key, value in deferred.items():
            # What skorch does before initialization; after it, skorch would rebuild
            # the module (compile__) or the criterion and optimizer right away.
            setattr(self, key, value)
            self._params_to_validate.add(key)
        if self.initialized_ and any(key.startswith("criterion__") for key in deferred):
            self.__dict__["_criterion_params_changed"] = True  # rebuilt by the next fit
        return super().set_params(**params)

    def _module_params_error(self, params: Mapping[str, Any]) -> ValueError:
        """The error for ``module__*`` parameters, with the parameter to use instead of each."""
        fixes = []
        for key in sorted(params):
            name = key.split("__", 1)[1]
            if name in self._network_parameters:
                fixes.append(f"Instead of {key}, set {name}={params[key]!r}.")
            elif name in self._module_argument_hints:
                fixes.append(f"{key}: {self._module_argument_hints[name]}.")
            else:
                fixes.append(f"{key} is not an option of the network, which is configured by "
                             "the parameters " + ", ".join(self._network_parameters) + ".")
        return ValueError(
            f"{type(self).__name__} does not take module__* parameters (got "
            f"{', '.join(sorted(params))}): it builds its network from its own parameters, "
            "so they would be ignored. " + " ".join(fixes)
        )

    def _check_prefixed_params(self) -> None:
        """Fit-time checks of the skorch prefixes sklattn does not pass on as skorch would."""
        module_params = self.get_params_for("module")
        if module_params:
            raise self._module_params_error(
                {f"module__{name}": value for name, value in module_params.items()}
            )
        fixed = sorted(set(self.get_params_for("criterion")) & {"reduction", "size_average", "reduce"})
        if fixed:
            raise ValueError(
                f"criterion__{fixed[0]} cannot be set: {type(self).__name__} needs per-sample "
                "losses (reduction='none') to apply sample_weight and class_weight, and "
                "averages them itself. Remove it; weight samples with sample_weight."
            )

    def _criterion_kwargs(self, criterion_class: type[torch.nn.Module]) -> dict:
        """The ``criterion__*`` parameters, checked against the loss they are passed to."""
        kwargs = self.get_params_for("criterion")
        self._check_prefixed_params()
        class_weights = issubclass(criterion_class, torch.nn.CrossEntropyLoss)
        if "weight" in kwargs and class_weights:
            raise ValueError(
                f"criterion__weight is not supported by {type(self).__name__}: use "
                "class_weight (a dict of label -> weight, or 'balanced'), which takes the "
                "labels themselves rather than their encoded positions."
            )
        excluded = {"reduction", "size_average", "reduce"} | ({"weight"} if class_weights else set())
        accepted = [name for name in inspect.signature(criterion_class).parameters
                    if name not in excluded]
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            options = (
                "the criterion__* parameters it takes are "
                + ", ".join(f"criterion__{name}" for name in accepted)
                if accepted else "it takes no criterion__* parameters"
            )
            raise ValueError(
                f"criterion__{unknown[0]} is not an argument of {criterion_class.__name__}, "
                f"the loss {type(self).__name__} trains with here; {options}."
            )
        return kwargs

    # ------------------------------------------------------- skorch overrides
    @property
    def _default_callbacks(self):
        # The per-epoch "lr" (~1e-5) would print as 0.0000 in the epoch table: keep it in
        # history_ only.
        skorch_defaults = [
            (name, PrintLog(keys_ignored="lr") if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]
        return [
            *skorch_defaults,
            ("lr_schedule", WarmupLinearSchedule()),
            ("grad_clip", GradientNormClipping(gradient_clip_value=self.max_grad_norm)),
            ("stop_on_nonfinite", StopOnNonFiniteLoss()),
            *([("progress_bar", EpochProgressBar())] if self._shows_progress() else []),
        ]

    def _shows_progress(self) -> bool:
        # set_params must not raise on a bad value (validation waits for fit), so a
        # non-numeric verbose reads as "no progress bar" here.
        return isinstance(self.verbose, (int, float)) and self.verbose > 0

    def forward_iter(self, X, training=False, device="cpu"):
        # skorch's loop behind net.forward (validation scoring caches it); sklattn's
        # predictions use _module_outputs. A progress bar over long runs when verbose > 0.
        iterator = self.get_iterator(self.get_dataset(X), training=training)
        if self._shows_progress() and not training:
            iterator = prediction_progress(iterator, total=len(iterator))
        for batch in iterator:
            yield to_device(self.evaluation_step(batch, training=training), device=device)

    def _module_outputs(self, dataset, order: np.ndarray | None = None,
                        precision: str = "fp32") -> np.ndarray:
        """Module outputs (n_samples, n_outputs), float32, in the order of ``dataset``.

        Batches come from ``get_iterator`` and run in ``order`` (see
        :func:`~sklattn._core.inference.run_batches`) through ``evaluation_step``,
        under :meth:`_module_for` ``precision``.
        """
        with self._module_for(precision):
            return run_batches(
                dataset,
                lambda batch: self.evaluation_step(batch, training=False).float().cpu().numpy(),
                batches=lambda data: self.get_iterator(data, training=False),
                order=order, device=self.device, precision=precision, progress=self._shows_progress(),
            )

    @contextlib.contextmanager
    def _module_for(self, precision: str) -> Iterator[None]:
        """Within the block, ``module_`` is the network that predicts at ``precision``.

        For ``"int8"`` that is the cached int8 copy
        (:func:`~sklattn._core.precision.int8_module`), swapped in and put back
        after; for any other precision ``module_`` itself.
        """
        if precision != "int8":
            yield
            return
        module = self.module_
        self.__dict__["module_"] = int8_module(module)
        try:
            yield
        finally:
            self.__dict__["module_"] = module

    def _prediction_precision(self) -> str:
        """``precision`` resolved for a prediction on this machine and device, now."""
        return resolve_precision(self.precision, self.device, training=False)

    def initialize_callbacks(self):
        super().initialize_callbacks()
        # ResumableCheckpoint saves what every other callback recorded for the epoch: run it last.
        self.callbacks_.sort(key=lambda item: isinstance(item[1], ResumableCheckpoint))
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            if epochs is None:
                # max_epochs resolved for this fit's data; a fit resumed by
                # ResumableCheckpoint trains only the epochs it has left.
                epochs = self._resolve_max_epochs(X, y, fit_params) - self.__dict__.pop("resumed_epochs_", 0)
            else:  # skorch's own API: fit_loop(X, y, epochs=k) trains k epochs
                self.max_epochs_ = int(epochs)
            return super().fit_loop(X, y, epochs, **fit_params)
        except KeyboardInterrupt:  # skorch's partial_fit ends training cleanly after this
            if not stopped_on_purpose(self):
                warnings.warn(
                    f"{type(self).__name__}.fit was interrupted (KeyboardInterrupt) in epoch "
                    f"{len(self.history)}; the estimator keeps the weights of its last training "
                    "step and can predict. history_ shows the epochs run; partial_fit continues.",
                    UserWarning, stacklevel=2,
                )
            raise
        finally:
            self.__dict__.pop("presplit_", None)

    def _resolve_max_epochs(self, X, y, fit_params: dict) -> int:
        """The epochs this fit trains (``max_epochs``, ``"auto"`` resolved), kept as ``max_epochs_``.

        ``"auto"`` depends on the number of training batches, known only once the
        validation split is made: the split is made here, once, and handed on to
        skorch's loop by :meth:`get_split_datasets`, so the random stream is the
        same as with an integer ``max_epochs``.
        """
        if not (isinstance(self.max_epochs, str) and self.max_epochs == "auto"):
            self.max_epochs_ = int(self.max_epochs)
            return self.max_epochs_
        datasets = self.get_split_datasets(X, y, **self._split_params(fit_params))
        self.__dict__["presplit_"] = datasets
        batches = len(self.get_iterator(datasets[0], training=True))
        self.max_epochs_ = int(self._auto_max_epochs(datasets[0], batches))
        return self.max_epochs_

    def _split_params(self, fit_params: dict) -> dict:
        """The arguments skorch's fit loop passes to ``train_split`` (see ``NeuralNet.fit_loop``)."""
        params = {key: value for key, value in fit_params.items() if key != "_routing_method"}
        if not get_config().get("enable_metadata_routing", False):
            return params
        routed = process_routing(self, fit_params.get("_routing_method", "fit"), **params)
        return routed.get("splitter", {"split": {}})["split"]

    def _auto_max_epochs(self, dataset, batches_per_epoch: int) -> int:
        """Epochs for ``max_epochs="auto"`` given the training split and its batches per epoch."""
        raise ValueError(f"{type(self).__name__} does not support max_epochs='auto'; pass an integer.")

    def get_split_datasets(self, X, y=None, **fit_params):
        # The split _resolve_max_epochs made for this fit, when it made one.
        presplit = self.__dict__.pop("presplit_", None)
        if presplit is not None:
            return presplit
        return super().get_split_datasets(X, y, **fit_params)

    def initialize_criterion(self):
        kwargs = self._criterion_kwargs(self._criterion_class)
        self.criterion_ = self._criterion_class(reduction="none", **kwargs)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # No weight decay on biases and LayerNorm weights: exactly the 1-D tensors.
        kwargs = self.get_params_for("optimizer")
        base_lr = kwargs.pop("lr", self._learning_rate())
        weight_decay = kwargs.pop("weight_decay", self.weight_decay)
        by_lr: dict[float, list] = {}
        for named_params, lr in self._parameter_groups(base_lr):
            by_lr.setdefault(lr, []).extend(param for _, param in named_params)
        groups = []
        for lr, params in by_lr.items():
            groups.append({"params": [p for p in params if p.ndim >= 2], "lr": lr,
                           "weight_decay": weight_decay})
            groups.append({"params": [p for p in params if p.ndim < 2], "lr": lr,
                           "weight_decay": 0.0})
        self.optimizer_ = build_optimizer(self.optimizer, [g for g in groups if g["params"]],
                                          lr=base_lr, **kwargs)
        return self

    def _learning_rate(self) -> float:
        """The peak learning rate ``lr`` stands for."""
        return self.lr

    def _parameter_groups(self, lr: float):
        """``(named_parameters, learning_rate)`` pairs the optimizer trains."""
        return [(list(self.get_all_learnable_params()), lr)]

    def get_iterator(self, dataset, training: bool = False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if training:
            kwargs.setdefault("shuffle", True)
        kwargs = self._iterator_kwargs(dataset, training, kwargs)
        iterator = self.iterator_train if training else self.iterator_valid
        return iterator(dataset, **kwargs)

    def _iterator_kwargs(self, dataset, training: bool, kwargs: dict) -> dict:
        """Hook for subclasses to add DataLoader arguments (collate, samplers)."""
        return kwargs

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):  # sample weights are for the loss only
            x = {name: value for name, value in x.items() if name != SAMPLE_WEIGHT}
        # Training and validation forward passes run in the fit's precision_; a
        # prediction's run_batches has already opened the autocast it resolved.
        precision = current_training_precision()
        if precision is None:
            outputs = super().infer(x, **fit_params)
        else:
            with autocast_context(self.device, precision):
                outputs = super().infer(x, **fit_params)
        if not self.module_.training and isinstance(outputs, torch.Tensor):
            bad = int((~torch.isfinite(outputs)).sum())
            if bad:  # predictions are never silently NaN
                raise ValueError(
                    f"{type(self).__name__} produced NaN or infinite outputs ({bad} values in a "
                    f"batch of {len(outputs)}): the inputs are probably far outside the range "
                    "seen in fit (values that overflow float32), or the weights diverged in "
                    "training (learning rate too high). Check X for extreme values."
                )
        return outputs

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        losses = self.criterion_(y_pred.float(), y_true)  # (B,) or (B, K)
        if losses.ndim > 1:
            losses = losses.flatten(1).mean(dim=1)  # (B,)
        weights = X.get(SAMPLE_WEIGHT) if isinstance(X, Mapping) else None
        if weights is not None:
            losses = losses * to_tensor(weights, device=self.device)
        return losses.mean()

    def _loss_weights(self, targets: np.ndarray, sample_weight: np.ndarray | None):
        """Per-sample loss weights normalised to mean 1, or None when uniform."""
        if sample_weight is None:
            return None
        return (sample_weight / sample_weight.mean()).astype(np.float32)

    @available_if(lambda self: False)
    def predict_proba(self, X):  # skorch's; only classifiers provide a real one
        raise AttributeError("predict_proba")

    def _train(
        self, data, targets: np.ndarray, continuing: bool, fit_params: dict,
        after_initialize: Callable[[], None] | None = None,
    ) -> None:
        """Seeded: initialize (unless continuing), then run skorch's training loop.

        ``after_initialize`` runs on the freshly built module, inside the seeded
        block (the tabular estimators transfer weights there). Unpickled
        estimators carry no optimizer (see ``__getstate__``); a continued fit
        rebuilds it. An error during training leaves the estimator unfitted.
        """
        if continuing and not hasattr(self, "optimizer_"):
            self._initialize_optimizer()
        if continuing and self.__dict__.get("_criterion_params_changed"):
            self._initialize_criterion()  # criterion__* set since the last fit; weights kept
        self.__dict__.pop("_criterion_params_changed", None)  # a fresh fit rebuilds it anyway
        # "auto" resolved on this machine; forward passes of this fit run in it.
        self.precision_ = resolve_precision(self.precision, self.device, training=True)
        with seeded(resolve_seed(self.random_state)):
            try:
                if not continuing:
                    self.initialize()
                    if after_initialize is not None:
                        after_initialize()
                with training_precision(self.precision_):
                    NeuralNet.partial_fit(self, self._training_data(data), targets, **fit_params)
            except Exception:
                # e.g. a diverged loss, or a refit whose checkpoint failed to load: never
                # predict from weights that do not belong to the fitted attributes.
                self.initialized_ = False
                raise

    def _training_data(self, data):
        """Hook: what the training loop iterates over, once the module is built."""
        return data

    # --------------------------------------------------------- saved models
    def _saved_network(self) -> torch.nn.Module:
        """The module whose weights ``save`` stores."""
        return self.module_

    def _saved_history(self):
        return self.history_

    def _write_saved_files(self, directory) -> None:
        """Hook: files besides the weights and the manifest that ``save`` writes."""

    def _restore(self, path, fitted: dict, state: dict, history) -> None:
        """Rebuild the saved network (random weights, seeded) and copy the saved weights in."""
        from skorch.history import History

        set_fitted_attributes(self, fitted)
        with seeded(0):  # random initial weights, overwritten next; global RNGs untouched
            self.initialize()
        set_fitted_attributes(self, fitted)  # initialization may reset some (head_transferred_)
        copy_weights(self.module_, state, path)
        self.history_ = History(history or [])

    def __getstate__(self) -> dict:
        # Pickles hold the weights once and no AdamW moments (2x the weights);
        # training after unpickling starts a fresh optimizer.
        optimizer = self.__dict__.pop("optimizer_", None)
        try:
            return super().__getstate__()
        finally:
            if optimizer is not None:
                self.__dict__["optimizer_"] = optimizer

    # ------------------------------------------------------------- fitting
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Train on ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like
            Inputs (texts for the text estimators, numbers for the tabular ones).
        y : array-like
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self
        """
        self._check_prefixed_params()
        continuing = self.warm_start and self.initialized_
        return self._fit(X, y, sample_weight, continuing, fit_params)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted model.

        The first call initializes like ``fit``. Parameters as in :meth:`fit`;
        ``classes`` (classifiers only) declares every label on the first call.
        ``max_epochs="auto"`` is resolved from the data of each call, as in
        ``fit`` (a call on 16 texts trains as many epochs as a fit on them
        would; ``max_epochs_`` holds the count of the last call): to stream
        many small chunks, pass an integer ``max_epochs`` such as 1.
        """
        self._check_prefixed_params()
        return self._fit(X, y, sample_weight, bool(self.initialized_), fit_params, classes)

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        raise NotImplementedError
