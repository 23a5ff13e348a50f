"""Self-attention over numeric features: TabularAttentionClassifier and TabularAttentionRegressor.

Each feature becomes a token, a small transformer encoder attends across the
features, and a pooled head predicts. A fit runs: validate parameters and
inputs -> encode targets -> fit (or, with ``init_from``, reuse) the NaN-aware
feature standardization -> (seeded) build the network, copy the source
backbone, train with AdamW and a warmup schedule.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import Callback

from ._net import SklattnNet
from ._tabular_modules import TABULAR_POOLING_MODES, TabularAttentionNet
from ._tasks import ClassifierTaskMixin, RegressorTaskMixin
from ._validation import check_sample_weight, validate_params

TABULAR_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "d_model": [Interval(Integral, 1, None, closed="left")],
    "n_heads": [Interval(Integral, 1, None, closed="left")],
    "n_layers": [Interval(Integral, 1, None, closed="left")],
    "pooling": [StrOptions(set(TABULAR_POOLING_MODES))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "init_from": [HasMethods(["fit", "predict"]), None],
    "freeze_backbone": ["boolean", Interval(Integral, 0, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "warmup_ratio": [Interval(Real, 0, 1, closed="both")],
    "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "train_split": [callable, None],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
}
_ARCHITECTURE = ("d_model", "n_heads", "n_layers")

_PARAMETERS_DOC = """\
d_model : int, default=32
        Width of each feature token.
    n_heads : int, default=4
        Attention heads; must divide ``d_model``.
    n_layers : int, default=2
        Transformer encoder blocks (pre-norm attention + feed-forward).
    pooling : {"cls", "mean"}, default="cls"
        Pool the encoder output from a learned CLS token or as the mean of
        the feature tokens.
    dropout : float, default=0.1
        Dropout on the residual branches, in the feed-forward and before the head.
    init_from : fitted TabularAttentionClassifier or TabularAttentionRegressor, default=None
        Transfer learning: start from this estimator's backbone (feature
        tokens, CLS token, encoder blocks) and feature standardization. The
        head is copied too when the task matches (same ``classes_``, or same
        number of regression outputs), otherwise rebuilt. ``d_model``,
        ``n_heads``, ``n_layers`` and the number of features must match the
        source. The source is never modified, and ``clone`` keeps it as given.
    freeze_backbone : bool or int, default=False
        Train only the head: ``True`` for the whole fit, an int for the first
        that many epochs of each fit (linear probing, then fine-tuning).
    lr : float, default=1e-3
        Peak learning rate of AdamW.
    max_epochs : int, default=40
        Passes over the training data per ``fit``.
    batch_size : int, default=32
        Samples per optimizer step (and per prediction batch).
    weight_decay : float, default=1e-4
        AdamW weight decay, not applied to 1-D parameters (biases, LayerNorm).
    warmup_ratio : float, default=0.05
        Fraction of the optimizer steps spent in linear warmup, followed by
        linear decay to zero.
    max_grad_norm : float or None, default=1.0
        Clip the global gradient norm; None disables clipping.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, dropout and shuffling of a fit (global RNG
        state is restored afterwards).
    device : str or torch.device, default="cpu"
        Where the network trains and predicts.
    callbacks : list or None, default=None
        Extra skorch callbacks.
    train_split : callable or None, default=None
        skorch validation split (e.g. ``skorch.dataset.ValidSplit(5)``);
        None trains on all data.
    verbose : int, default=0
        skorch's per-epoch log when > 0.
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Configure it with ``optimizer__<name>`` parameters.
    **kwargs
        Any other skorch parameter (``iterator_train__...``, ``callbacks__...``)."""

_ATTRIBUTES_DOC = """\
n_features_in_ : int
        Number of features seen in ``fit``.
    feature_mean_, feature_scale_ : ndarray of shape (n_features,)
        NaN-aware standardization applied inside the estimator (taken from
        ``init_from`` when given).
    head_transferred_ : bool
        Whether the head was copied from ``init_from`` (False without one).
    module_ : torch.nn.Module
        The trained ``TabularAttentionNet`` (``module_.backbone``, ``module_.head``).
    history_ : skorch History
        Per-epoch training log."""


def _fill_doc(cls):
    cls.__doc__ = cls.__doc__.replace("{parameters}", _PARAMETERS_DOC).replace(
        "{attributes}", _ATTRIBUTES_DOC
    )
    return cls


class _BackboneFreezer(Callback):
    """Freeze the backbone for ``net.freeze_backbone`` epochs of each fit (all if True)."""

    def on_train_begin(self, net, **kwargs) -> None:
        self.epoch_ = 0

    def on_epoch_begin(self, net, **kwargs) -> None:
        frozen = net.freeze_backbone is True or (
            net.freeze_backbone is not False and self.epoch_ < net.freeze_backbone
        )
        net.module_.backbone.requires_grad_(not frozen)

    def on_epoch_end(self, net, **kwargs) -> None:
        self.epoch_ += 1

    def on_train_end(self, net, **kwargs) -> None:
        net.module_.backbone.requires_grad_(True)


class _TabularNetBase(SklattnNet):
    """Shared machinery of the tabular estimators; not public."""

    _parameter_constraints: dict[str, list] = TABULAR_PARAMETER_CONSTRAINTS
    _fitted_attributes = ("module_", "n_outputs_", "feature_mean_")
    def __init__(
        self, *, d_model, n_heads, n_layers, pooling, dropout, init_from, freeze_backbone,
        lr, max_epochs, batch_size, weight_decay, warmup_ratio, max_grad_norm,
        random_state, device, callbacks, train_split, verbose, warm_start, optimizer, **kwargs,
    ) -> None:
        super().__init__(
            module=TabularAttentionNet, criterion=self._criterion_class, optimizer=optimizer,
            lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            callbacks=callbacks, warm_start=warm_start, verbose=verbose, device=device, **kwargs,
        )
        self._drop_init_state()
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.pooling = pooling
        self.dropout = dropout
        self.init_from = init_from
        self.freeze_backbone = freeze_backbone
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def __sklearn_clone__(self):
        """Clone every parameter except ``init_from``, which is kept as given (fitted)."""
        params = {
            name: value if name == "init_from" else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("freeze_backbone", _BackboneFreezer()),
        ]

    def initialize_module(self):
        if not hasattr(self, "n_outputs_"):
            raise NotFittedError(
                f"{type(self).__name__} builds its network from the data; call fit "
                "instead of initialize()."
            )
        module = TabularAttentionNet(
            self.n_features_in_, self.n_outputs_, d_model=self.d_model, n_heads=self.n_heads,
            n_layers=self.n_layers, dropout=self.dropout, pooling=self.pooling,
        )
        source = self.init_from
        self.head_transferred_ = source is not None and self._same_task(source)
        if source is not None:
            module.backbone.load_state_dict(source.module_.backbone.state_dict())
            if self.head_transferred_:
                module.head.load_state_dict(source.module_.head.state_dict())
        self.module_ = module.to(self.device)
        return self

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        validate_params(self)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}; "
                "e.g. use n_heads=4 with d_model=32."
            )
        X, y = validate_data(
            self, X, y, reset=not continuing, ensure_all_finite=False, dtype=np.float64,
            multi_output=isinstance(self, RegressorMixin), y_numeric=isinstance(self, RegressorMixin),
        )
        _check_no_inf(X)
        weights = check_sample_weight(sample_weight, len(X))
        targets = self._encode_targets(y, fitting=not continuing, classes=classes)
        if not continuing:
            self._fit_scaling(X)
        data = {"x": self._standardize(X)}
        weights = self._loss_weights(targets, weights)
        if weights is not None:
            data["sample_weight"] = weights
        self._train(data, targets, continuing, fit_params)
        return self

    def _fit_scaling(self, X: np.ndarray) -> None:
        source = self.init_from
        if source is None:
            observed = ~np.isnan(X)
            counts = observed.sum(axis=0)
            filled = np.where(observed, X, 0.0)
            mean = filled.sum(axis=0) / np.maximum(counts, 1)
            var = (np.where(observed, X - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts, 1)
            self.feature_mean_ = mean
            self.feature_scale_ = np.where(var > 1e-12, np.sqrt(var), 1.0)
            return
        self._check_source(source, X.shape[1])
        self.feature_mean_ = source.feature_mean_.copy()
        self.feature_scale_ = source.feature_scale_.copy()

    def _check_source(self, source, n_features: int) -> None:
        if not isinstance(source, _TabularNetBase):
            raise TypeError(
                f"init_from must be a fitted TabularAttentionClassifier or "
                f"TabularAttentionRegressor, got {type(source).__name__}."
            )
        check_is_fitted(source, msg="init_from must be fitted before it can be transferred; call init_from.fit(X_source, y_source) first.")
        if source.n_features_in_ != n_features:
            raise ValueError(
                f"init_from was fitted on {source.n_features_in_} features but X has "
                f"{n_features}; transfer needs the same features, in the same order."
            )
        mismatched = {
            name: getattr(source, name) for name in _ARCHITECTURE
            if getattr(source, name) != getattr(self, name)
        }
        if mismatched:
            raise ValueError(
                "init_from has a different architecture: set "
                + ", ".join(f"{name}={value}" for name, value in mismatched.items())
                + " to match it."
            )

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)  # NaN stays NaN

    def _same_task(self, source) -> bool:
        raise NotImplementedError

    def _checked_features(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=np.float64)
        _check_no_inf(X)
        return self._standardize(X)

    def _forward_outputs(self, X) -> np.ndarray:
        """Head outputs, shape (n_samples, n_outputs), float64."""
        outputs = self.forward({"x": self._checked_features(X)})  # (n, n_outputs)
        return outputs.double().numpy()

    def feature_attention(self, X) -> np.ndarray:
        """Per-sample attention paid to each feature by the pooled output.

        Read from the last encoder block: with ``pooling="cls"`` the CLS
        token's attention row, with ``"mean"`` the mean row of the feature
        tokens; averaged over heads, the CLS column dropped and each row
        renormalised to sum to 1. High values mark the features the model
        looked at for that sample (attention, not a causal importance).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features), rows sum to 1
        """
        x = torch.from_numpy(self._checked_features(X))
        self.module_.eval()
        with torch.inference_mode():
            chunks = [
                self.module_.backbone.feature_attention(x[i : i + self.batch_size].to(self.device)).cpu()
                for i in range(0, len(x), self.batch_size)
            ]
        return torch.cat(chunks).double().numpy()


def _check_no_inf(X: np.ndarray) -> None:
    if np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        raise ValueError(
            f"X contains infinite values (first at row {row}, column {col}). NaN is "
            "accepted as a missing value, inf is not: replace it, e.g. X[np.isinf(X)] = np.nan."
        )


@_fill_doc
class TabularAttentionClassifier(ClassifierTaskMixin, _TabularNetBase):
    """Classifier whose feature tokens attend to each other, for numeric tables.

    Each feature j becomes a token ``x_j * w_j + b_j`` (a learned "missing"
    token ``m_j`` where ``x_j`` is NaN), a CLS token is prepended, a small
    pre-norm transformer encoder attends across the features, and a linear
    head on the pooled token predicts. Features are standardized internally
    (NaN-aware), so raw inputs work. Built on skorch's ``NeuralNet``.

    Parameters
    ----------
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss, as in scikit-learn.
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, in the column order of ``predict_proba``.
    {attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklattn import TabularAttentionClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = TabularAttentionClassifier(max_epochs=30, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.feature_attention(X[:2]).shape
    (2, 13)
    >>> clf.feature_attention(X[:2]).sum(axis=1).round(6)
    array([1., 1.])
    """

    _parameter_constraints = {
        **TABULAR_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self, *, class_weight: dict | str | None = None, d_model: int = 32, n_heads: int = 4,
        n_layers: int = 2, pooling: str = "cls", dropout: float = 0.1, init_from=None,
        freeze_backbone: bool | int = False, lr: float = 1e-3, max_epochs: int = 40,
        batch_size: int = 32, weight_decay: float = 1e-4, warmup_ratio: float = 0.05,
        max_grad_norm: float | None = 1.0, random_state=None, device: str = "cpu",
        callbacks: list | None = None, train_split=None, verbose: int = 0,
        warm_start: bool = False, optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.class_weight = class_weight
        super().__init__(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, init_from=init_from, freeze_backbone=freeze_backbone, lr=lr,
            max_epochs=max_epochs, batch_size=batch_size, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm, random_state=random_state,
            device=device, callbacks=callbacks, train_split=train_split, verbose=verbose,
            warm_start=warm_start, optimizer=optimizer, **kwargs,
        )

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        check_classification_targets(y)
        return super()._encode_targets(y, fitting, classes)

    def _same_task(self, source) -> bool:
        return isinstance(source, ClassifierMixin) and np.array_equal(source.classes_, self.classes_)

@_fill_doc
class TabularAttentionRegressor(RegressorTaskMixin, _TabularNetBase):
    """Regressor whose feature tokens attend to each other, for numeric tables.

    Same network and training as :class:`TabularAttentionClassifier` with a
    mean squared error loss. ``y`` may be 1-D or 2-D (several targets);
    targets are standardized for training by default and mapped back.

    Parameters
    ----------
    scale_target : bool, default=True
        Standardize each target column for training.
    {parameters}

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray of shape (n_targets,)
        Target standardization (0 and 1 when ``scale_target=False``).
    {attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklattn import TabularAttentionRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = TabularAttentionRegressor(max_epochs=10, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {**TABULAR_PARAMETER_CONSTRAINTS, "scale_target": ["boolean"]}

    def __init__(
        self, *, scale_target: bool = True, d_model: int = 32, n_heads: int = 4,
        n_layers: int = 2, pooling: str = "cls", dropout: float = 0.1, init_from=None,
        freeze_backbone: bool | int = False, lr: float = 1e-3, max_epochs: int = 40,
        batch_size: int = 32, weight_decay: float = 1e-4, warmup_ratio: float = 0.05,
        max_grad_norm: float | None = 1.0, random_state=None, device: str = "cpu",
        callbacks: list | None = None, train_split=None, verbose: int = 0,
        warm_start: bool = False, optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.scale_target = scale_target
        super().__init__(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, init_from=init_from, freeze_backbone=freeze_backbone, lr=lr,
            max_epochs=max_epochs, batch_size=batch_size, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm, random_state=random_state,
            device=device, callbacks=callbacks, train_split=train_split, verbose=verbose,
            warm_start=warm_start, optimizer=optimizer, **kwargs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _same_task(self, source) -> bool:
        return isinstance(source, RegressorMixin) and source.n_outputs_ == self.n_outputs_
