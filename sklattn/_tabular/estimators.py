"""TabularAttentionClassifier and TabularAttentionRegressor: supervised attention over columns.

Each column becomes a token (numbers as ``x_j * w_j + b_j``, categories as a
learned token per value), a small transformer encoder attends across them,
and a pooled head predicts. On top of the shared machinery of
:mod:`sklattn._tabular.base`, a supervised fit can start from ``init_from``
(a fitted tabular estimator or pretrainer): the columns, scaling and backbone
are copied and a new head starts as a linear probe.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets

from .._core.keys import SAMPLE_WEIGHT
from .._core.tasks import ClassifierTaskMixin, RegressorTaskMixin, check_label_values
from .._core.validation import check_sample_weight
from .._io.registry import register_estimator
from .base import SHARED_CONSTRAINTS, TabularNetBase, require_fitted_network
from .docs import fill_doc
from .modules import TabularAttentionNet
from .training import BackboneFreezer
from .transfer import linear_probe_head, resolve_source

TABULAR_PARAMETER_CONSTRAINTS: dict[str, list] = {
    **SHARED_CONSTRAINTS,
    "init_from": [HasMethods(["fit"]), str, os.PathLike, None],
    "freeze_backbone": ["boolean", Interval(Integral, 0, None, closed="left")],
    "head_init": [StrOptions({"linear_probe", "random"})],
}


class _SupervisedTabularBase(TabularNetBase):
    """What the classifier and regressor add: targets, a head, and transfer; not public."""

    _parameter_constraints: dict[str, list] = TABULAR_PARAMETER_CONSTRAINTS
    _fitted_attributes = ("module_", "n_outputs_", "feature_mean_")

    def __init__(
        self, *, d_model, n_heads, n_layers, pooling, dropout, attention_dropout,
        categorical_features, init_from, freeze_backbone, head_init, lr, max_epochs,
        batch_size, weight_decay, warmup_ratio, early_stopping, validation_fraction,
        n_iter_no_change, max_grad_norm, precision, random_state, device, callbacks,
        train_split, verbose, warm_start, optimizer, **kwargs,
    ) -> None:
        super().__init__(
            module=TabularAttentionNet, criterion=self._criterion_class, optimizer=optimizer,
            lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            callbacks=callbacks, warm_start=warm_start, verbose=verbose, device=device, **kwargs,
        )
        self._drop_init_state()
        self._init_shared(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, attention_dropout=attention_dropout,
            categorical_features=categorical_features, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            max_grad_norm=max_grad_norm, precision=precision, random_state=random_state,
        )
        self.init_from = init_from
        self.freeze_backbone = freeze_backbone
        self.head_init = head_init

    def __sklearn_clone__(self):
        """Clone every parameter except ``init_from``, which is kept as given (fitted)."""
        params = {
            name: value if name == "init_from" else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    @property
    def _default_callbacks(self):
        return [*super()._default_callbacks, ("freeze_backbone", BackboneFreezer())]

    def initialize_module(self):
        # Built from the data and parameters only: sklattn.load calls this too, and
        # must not need init_from. Transfer happens in _train.
        require_fitted_network(self, ("feature_mean_", "n_outputs_"))
        self.module_ = TabularAttentionNet(
            int((~self._is_categorical).sum()), self.n_outputs_, d_model=self.d_model,
            n_heads=self.n_heads, n_layers=self.n_layers, dropout=self.dropout,
            pooling=self.pooling, attention_dropout=self.attention_dropout,
            cardinalities=self._cardinalities,
        ).to(self.device)
        self.head_transferred_ = False
        self.head_init_ = "random"
        return self

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        self._check_architecture()
        is_classifier = isinstance(self, ClassifierMixin)
        if is_classifier:
            check_label_values(y)  # before validation turns ["a", 1] into strings
        source = None
        if not continuing and self.init_from is not None:
            source = resolve_source(self.init_from, TabularNetBase)
        numeric, codes, y = self._validate_table(
            X, y, reset=not continuing, source=source,
            multi_output=not is_classifier, y_numeric=not is_classifier,
        )
        weights = check_sample_weight(sample_weight, len(numeric))
        targets = self._encode_targets(y, fitting=not continuing, classes=classes)
        if not continuing:
            self._fit_scaling(numeric, source)
        data = self._network_inputs(numeric, codes)
        weights = self._loss_weights(targets, weights)
        if weights is not None:
            data[SAMPLE_WEIGHT] = weights
        self._prepare_split(targets, len(numeric), stratify=is_classifier and targets.ndim == 1)
        try:
            self._train_from(source, data, targets, continuing, fit_params)
        finally:
            self.__dict__.pop("_split_indices", None)
        return self

    def _train_from(self, source, data, targets, continuing, fit_params) -> None:
        """Initialize, transfer from ``source`` (if any), train; all seeded."""
        transfer = None
        if source is not None and not continuing:
            transfer = lambda: self._transfer(source, data, targets)  # noqa: E731
        self._train(data, targets, continuing, fit_params, after_initialize=transfer)

    def _transfer(self, source, data, targets) -> None:
        """Copy the source backbone; copy its head, or probe a new one, or keep it random."""
        self.module_.backbone.load_state_dict(source.module_.backbone.state_dict())
        if self._same_task(source):
            self.module_.head.load_state_dict(source.module_.head.state_dict())
            self.head_transferred_, self.head_init_ = True, "transferred"
            return
        if self.head_init != "linear_probe":
            return
        split = self.__dict__.get("_split_indices")
        rows = slice(None) if split is None else split[0]  # training rows only
        inputs = {name: data[name][rows] for name in ("x", "x_cat") if name in data}
        features = self._pooled_features(inputs).astype(np.float64)
        weights = data.get(SAMPLE_WEIGHT)
        probe = linear_probe_head(
            features, targets[rows], None if weights is None else weights[rows],
            task=self._probe_task(), n_outputs=self.n_outputs_,
        )
        if probe is None:
            return
        head = self.module_.head
        head.weight.data.copy_(torch.as_tensor(probe[0], dtype=head.weight.dtype))
        head.bias.data.copy_(torch.as_tensor(probe[1], dtype=head.bias.dtype))
        self.head_init_ = "linear_probe"

    def _same_task(self, source) -> bool:
        raise NotImplementedError

    def _probe_task(self) -> str:
        raise NotImplementedError

    def _forward_outputs(self, X) -> np.ndarray:
        """Head outputs, shape (n_samples, n_outputs), float64."""
        dataset = self.get_dataset(self._checked_features(X))
        outputs = self._module_outputs(dataset, precision=self._prediction_precision())
        return outputs.astype(np.float64)  # (n, n_outputs)


@register_estimator
@fill_doc
class TabularAttentionClassifier(ClassifierTaskMixin, _SupervisedTabularBase):
    """Classifier whose column tokens attend to each other, for tables.

    Each numeric column j becomes a token ``x_j * w_j + b_j`` (a learned
    "missing" token ``m_j`` where ``x_j`` is NaN), each categorical column a
    learned token per category (``categorical_features``), a CLS token is
    prepended, a small pre-norm transformer encoder attends across the
    columns, and a linear head on the pooled token predicts. Numbers are
    standardized internally (NaN-aware), so raw inputs work; a DataFrame with
    string, ``category`` or boolean columns works as it is. Built on skorch's
    ``NeuralNet``.

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

    A DataFrame with string columns; a category unseen in ``fit`` is unknown, not an error:

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"size": [1.0, 2.5, 0.3, 4.1] * 10,
    ...                       "color": ["red", "blue", "blue", "green"] * 10})
    >>> y = (frame["color"] == "red").to_numpy()
    >>> clf = TabularAttentionClassifier(max_epochs=60, random_state=0).fit(frame, y)
    >>> clf.is_categorical_
    array([False,  True])
    >>> clf.categories_
    [array(['blue', 'green', 'red'], dtype=object)]
    >>> clf.predict(pd.DataFrame({"size": [1.0, 1.0], "color": ["red", "purple"]})).tolist()
    [True, False]
    """

    _parameter_constraints = {
        **TABULAR_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self, *, class_weight: dict | str | None = None, d_model: int = 64, n_heads: int = 8,
        n_layers: int = 2, pooling: str = "cls", dropout: float = 0.1,
        attention_dropout: float = 0.2, categorical_features="from_dtype", init_from=None,
        freeze_backbone: bool | int = False,
        head_init: str = "linear_probe", lr: float = 1e-3, max_epochs: int = 200,
        batch_size: int | str = "auto", weight_decay: float = 1e-5, warmup_ratio: float = 0.0,
        early_stopping: bool = True, validation_fraction: float = 0.15,
        n_iter_no_change: int = 20, max_grad_norm: float | None = 1.0,
        precision: str = "auto", random_state=None, device: str = "cpu",
        callbacks: list | None = None, train_split=None, verbose: int = 0,
        warm_start: bool = False, optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.class_weight = class_weight
        super().__init__(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, attention_dropout=attention_dropout,
            categorical_features=categorical_features, init_from=init_from,
            freeze_backbone=freeze_backbone, head_init=head_init, lr=lr,
            max_epochs=max_epochs, batch_size=batch_size, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            max_grad_norm=max_grad_norm, precision=precision, random_state=random_state,
            device=device, callbacks=callbacks, train_split=train_split, verbose=verbose,
            warm_start=warm_start, optimizer=optimizer, **kwargs,
        )

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        check_classification_targets(y)
        return super()._encode_targets(y, fitting, classes)

    def _same_task(self, source) -> bool:
        return (
            isinstance(source, ClassifierMixin)
            and source.multilabel_ == self.multilabel_
            and np.array_equal(source.classes_, self.classes_)
        )

    def _probe_task(self) -> str:
        return "multilabel" if self.multilabel_ else "multiclass"


@register_estimator
@fill_doc
class TabularAttentionRegressor(RegressorTaskMixin, _SupervisedTabularBase):
    """Regressor whose column tokens attend to each other, for tables.

    Same network and training as :class:`TabularAttentionClassifier` with a
    mean squared error loss and a lower default learning rate (``lr=1e-4``:
    regression targets on small tables overfit within a few epochs at 1e-3). ``y`` may be 1-D or 2-D (several targets);
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
        self, *, scale_target: bool = True, d_model: int = 64, n_heads: int = 8,
        n_layers: int = 2, pooling: str = "cls", dropout: float = 0.1,
        attention_dropout: float = 0.2, categorical_features="from_dtype", init_from=None,
        freeze_backbone: bool | int = False,
        head_init: str = "linear_probe", lr: float = 1e-4, max_epochs: int = 200,
        batch_size: int | str = "auto", weight_decay: float = 1e-5, warmup_ratio: float = 0.0,
        early_stopping: bool = True, validation_fraction: float = 0.15,
        n_iter_no_change: int = 20, max_grad_norm: float | None = 1.0,
        precision: str = "auto", random_state=None, device: str = "cpu",
        callbacks: list | None = None, train_split=None, verbose: int = 0,
        warm_start: bool = False, optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.scale_target = scale_target
        super().__init__(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, attention_dropout=attention_dropout,
            categorical_features=categorical_features, init_from=init_from,
            freeze_backbone=freeze_backbone, head_init=head_init, lr=lr,
            max_epochs=max_epochs, batch_size=batch_size, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            max_grad_norm=max_grad_norm, precision=precision, random_state=random_state,
            device=device, callbacks=callbacks, train_split=train_split, verbose=verbose,
            warm_start=warm_start, optimizer=optimizer, **kwargs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _same_task(self, source) -> bool:
        return isinstance(source, RegressorMixin) and source.n_outputs_ == self.n_outputs_

    def _probe_task(self) -> str:
        return "regression"
