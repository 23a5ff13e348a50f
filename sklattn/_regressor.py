"""AttentionRegressor: fine-tune a transformer encoder for text regression."""

from __future__ import annotations

import os

import numpy as np
import torch
from sklearn.base import RegressorMixin

from ._base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from ._docs import fill_doc


@fill_doc
class AttentionRegressor(RegressorMixin, TextNetBase):
    """Text regressor that fine-tunes a pretrained transformer encoder in ``fit``.

    Same training recipe as :class:`AttentionClassifier` with a mean squared
    error loss. ``y`` may be 1-D or 2-D (several targets); ``predict`` returns
    the same shape. Targets are standardized for training by default and
    mapped back at prediction, so counts or prices train as well as z-scores.

    Parameters
    ----------
    {text_parameters}
    scale_target : bool, default=True
        Standardize each target column (mean 0, std 1) for training.

    Attributes
    ----------
    target_mean_ : ndarray of shape (n_targets,)
        Mean of each target column (0 when ``scale_target=False``).
    target_scale_ : ndarray of shape (n_targets,)
        Standard deviation of each target column (1 when not scaled).
    {text_fitted_attributes}

    Examples
    --------
    >>> from sklattn import AttentionRegressor
    >>> reg = AttentionRegressor("path/to/checkpoint")  # doctest: +SKIP
    >>> reg.fit(["cheap", "pricey"], [1.0, 9.0]).predict(["costly"])  # doctest: +SKIP
    """

    _parameter_constraints = {**TEXT_PARAMETER_CONSTRAINTS, "scale_target": ["boolean"]}
    _criterion_class = torch.nn.MSELoss

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int = 128,
        pooling: str = "mean",
        text_columns: str | list | None = None,
        scale_target: bool = True,
        dropout: float = 0.1,
        lr: float = 5e-5,
        max_epochs: int = 3,
        batch_size: int = 32,
        group_by_length: bool = True,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_grad_norm: float | None = 1.0,
        precision: str = "fp32",
        random_state=None,
        device: str = "cpu",
        callbacks: list | None = None,
        train_split=None,
        verbose: int = 0,
        warm_start: bool = False,
        optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.scale_target = scale_target
        super().__init__(
            checkpoint,
            max_length=max_length,
            pooling=pooling,
            text_columns=text_columns,
            dropout=dropout,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            group_by_length=group_by_length,
            weight_decay=weight_decay,
            warmup_ratio=warmup_ratio,
            max_grad_norm=max_grad_norm,
            precision=precision,
            random_state=random_state,
            device=device,
            callbacks=callbacks,
            train_split=train_split,
            verbose=verbose,
            warm_start=warm_start,
            optimizer=optimizer,
            **kwargs,
        )

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        try:
            targets = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                "y must be numeric for a regressor; for labels use AttentionClassifier."
            ) from None
        if targets.ndim not in (1, 2) or targets.size == 0:
            raise ValueError(f"y must be 1-D or 2-D, got shape {targets.shape}.")
        bad_rows = np.flatnonzero(~np.isfinite(targets.reshape(len(targets), -1)).all(axis=1))
        if len(bad_rows):
            raise ValueError(
                f"y has NaN or infinite values (first at row {bad_rows[0]}); drop or "
                "impute those samples before fitting."
            )
        columns = targets.reshape(len(targets), -1)  # (n, K)
        if fitting:
            self.y_ndim_ = targets.ndim
            self.n_outputs_ = columns.shape[1]
            if self.scale_target:
                self.target_mean_ = columns.mean(axis=0)
                scale = columns.std(axis=0)
                self.target_scale_ = np.where(scale > 0, scale, 1.0)
            else:
                self.target_mean_ = np.zeros(columns.shape[1])
                self.target_scale_ = np.ones(columns.shape[1])
        elif columns.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {columns.shape[1]} target columns but the model was fitted "
                f"with {self.n_outputs_}."
            )
        return ((columns - self.target_mean_) / self.target_scale_).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shaped like the ``y`` given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        outputs = self._forward_outputs(X).astype(np.float64)
        predictions = outputs * self.target_scale_ + self.target_mean_
        return predictions.ravel() if self.y_ndim_ == 1 else predictions
