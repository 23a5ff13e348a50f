"""TabularAttentionPretrainer: self-supervised pretraining on unlabelled rows of a table.

Semi-supervised learning for the tabular estimators: pretrain the attention
backbone on every row (labelled or not) by masked-feature reconstruction,
then fine-tune a classifier or regressor on the labelled rows with
``init_from=pretrainer``. Also a transformer: ``transform`` gives each row's
pooled vector, for a downstream model in a pipeline.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted

from .._io.registry import register_estimator
from .base import SHARED_CONSTRAINTS, TabularNetBase, require_fitted_network
from .docs import fill_doc
from .modules import MaskedFeatureNet


@register_estimator
@fill_doc
class TabularAttentionPretrainer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TabularNetBase):
    """Pretrain the tabular attention backbone on unlabelled rows (masked-feature reconstruction).

    Each training step hides a random ``mask_ratio`` share of the observed
    values of every row (as missing values: a number becomes NaN, a
    category the missing token) and trains the network to predict them from
    the pooled vector of the row: squared error on standardized numbers,
    cross-entropy on categories. No labels are used. The backbone learned
    this way (feature and category tokens, encoder, pooling) is what
    :class:`TabularAttentionClassifier` and :class:`TabularAttentionRegressor`
    copy with ``init_from=pretrainer``: their new head starts as a linear
    probe on the pretrained features, and everything is then fine-tuned on
    the labelled rows. The column types, categories and scaling come from
    the pretrainer too, so fit it on all the rows (labelled and unlabelled)
    of the same table.

    Parameters
    ----------
    mask_ratio : float, default=0.3
        Share of the observed values hidden per row at each step.
    {architecture}
    lr : float, default=1e-3
        Peak learning rate of AdamW.
    max_epochs : int, default=100
        Upper bound on the passes over the rows (early stopping on the
        reconstruction loss of held-out rows usually ends sooner).
    {batch_size}
    weight_decay : float, default=1e-5
        AdamW weight decay, not applied to 1-D parameters.
    warmup_ratio : float, default=0.0
        Fraction of the optimizer steps spent in linear warmup.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows, stop after
        ``n_iter_no_change`` epochs without a lower reconstruction loss on
        them (masks fixed across epochs) and keep the best epoch's weights.
    validation_fraction : float, default=0.15
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    {common}

    Attributes
    ----------
    {attributes}

    See Also
    --------
    TabularAttentionClassifier, TabularAttentionRegressor : fine-tune with ``init_from``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from sklattn import TabularAttentionClassifier, TabularAttentionPretrainer
    >>> X, y = load_wine(return_X_y=True)
    >>> pretrainer = TabularAttentionPretrainer(max_epochs=5, random_state=0).fit(X)
    >>> pretrainer.transform(X[:2]).shape
    (2, 64)
    >>> labelled = np.arange(0, len(X), 4)  # a quarter of the rows have labels
    >>> clf = TabularAttentionClassifier(init_from=pretrainer, max_epochs=5, random_state=0)
    >>> clf.fit(X[labelled], y[labelled]).head_init_
    'linear_probe'
    """

    _parameter_constraints: dict[str, list] = {
        **SHARED_CONSTRAINTS,
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
    }
    _criterion_class = torch.nn.MSELoss  # unused: the network computes its own loss

    def __init__(
        self, *, mask_ratio: float = 0.3, d_model: int = 64, n_heads: int = 8,
        n_layers: int = 2, pooling: str = "cls", dropout: float = 0.1,
        attention_dropout: float = 0.2, categorical_features="from_dtype", lr: float = 1e-3,
        max_epochs: int = 100, batch_size: int | str = "auto", weight_decay: float = 1e-5,
        warmup_ratio: float = 0.0, early_stopping: bool = True,
        validation_fraction: float = 0.15, n_iter_no_change: int = 10,
        max_grad_norm: float | None = 1.0, precision: str = "auto", random_state=None,
        device: str = "cpu", callbacks: list | None = None, train_split=None,
        verbose: int = 0, warm_start: bool = False,
        optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW, **kwargs,
    ) -> None:
        super().__init__(
            module=MaskedFeatureNet, criterion=self._criterion_class, optimizer=optimizer,
            lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            callbacks=callbacks, warm_start=warm_start, verbose=verbose, device=device, **kwargs,
        )
        self._drop_init_state()
        self.mask_ratio = mask_ratio
        self._init_shared(
            d_model=d_model, n_heads=n_heads, n_layers=n_layers, pooling=pooling,
            dropout=dropout, attention_dropout=attention_dropout,
            categorical_features=categorical_features, weight_decay=weight_decay,
            warmup_ratio=warmup_ratio, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            max_grad_norm=max_grad_norm, precision=precision, random_state=random_state,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []  # any table in, float32 out
        return tags

    @property
    def _n_features_out(self) -> int:
        """Width of the pooled vectors, read by ``get_feature_names_out``."""
        check_is_fitted(self)
        return int(self.d_model)

    def initialize_module(self):
        require_fitted_network(self)
        self.module_ = MaskedFeatureNet(
            int((~self._is_categorical).sum()), d_model=self.d_model, n_heads=self.n_heads,
            n_layers=self.n_layers, dropout=self.dropout, pooling=self.pooling,
            attention_dropout=self.attention_dropout, cardinalities=self._cardinalities,
            mask_ratio=self.mask_ratio,
        ).to(self.device)
        return self

    @available_if(lambda self: False)
    def predict(self, X):  # skorch's; a pretrainer transforms, it does not predict
        raise AttributeError("predict")

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # y_pred holds each row's summed reconstruction loss and count of hidden values.
        return y_pred[:, 0].sum() / y_pred[:, 1].sum().clamp_min(1.0)

    # ------------------------------------------------------------- fitting
    def fit(self, X, y=None, **fit_params):
        """Pretrain on the rows of ``X``; ``y`` is ignored.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows of the table, numeric and categorical columns (NaN or None
            for missing values). No labels are needed.
        y : None
            Ignored.
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self
        """
        self._check_prefixed_params()
        continuing = self.warm_start and self.initialized_
        return self._fit(X, None, None, continuing, fit_params)

    def partial_fit(self, X, y=None, **fit_params):
        """Pretrain ``max_epochs`` more epochs without re-initializing (the first call fits)."""
        self._check_prefixed_params()
        return self._fit(X, None, None, bool(self.initialized_), fit_params)

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        self._check_architecture()
        numeric, codes, _ = self._validate_table(X, reset=not continuing)
        if not continuing:
            self._fit_scaling(numeric, None)
        data = self._network_inputs(numeric, codes)
        self._prepare_split(np.zeros(len(numeric)), len(numeric), stratify=False)
        try:
            self._train(data, None, continuing, fit_params)
        finally:
            self.__dict__.pop("_split_indices", None)
        return self

    def transform(self, X) -> np.ndarray:
        """Each row's pooled vector from the pretrained backbone (no values hidden).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, d_model), dtype float32
        """
        data = self._checked_features(X)
        return self._pooled_features(data)
