"""AttentionRegressor: fine-tune a transformer encoder for text regression."""

from __future__ import annotations

import os

import torch

from .._io.registry import register_estimator
from .base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from .docs import fill_doc
from .._core.tasks import RegressorTaskMixin


@register_estimator
@fill_doc
class AttentionRegressor(RegressorTaskMixin, TextNetBase):
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
    {text_kwargs}

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
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts = ["a superb film", "a fine story", "the plot was poor"]
    >>> ratings = [9.0, 6.5, 2.0]
    >>> reg = AttentionRegressor(checkpoint, max_length=64, max_epochs=1,
    ...                          random_state=0).fit(texts, ratings)
    >>> reg.predict(["a lovely scene", "a dreadful actor"]).shape
    (2,)
    """

    _parameter_constraints = {**TEXT_PARAMETER_CONSTRAINTS, "scale_target": ["boolean"]}

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int | str = "auto",
        pooling: str = "mean",
        text_columns: str | list | None = None,
        long_text: str = "auto",
        stride: int | None = None,
        max_chunks: int | None = 16,
        finetune: str = "full",
        feature_cache: bool = True,
        trainable_layers: int = 2,
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        lora_target_modules: list | str | None = None,
        scale_target: bool = True,
        dropout: float = 0.1,
        lr: float | str = "auto",
        layer_lr_decay: float = 1.0,
        head_lr: float | str | None = "auto",
        max_epochs: int | str = "auto",
        batch_size: int | str = "auto",
        group_by_length: bool = True,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_grad_norm: float | None = 1.0,
        precision: str = "auto",
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
            long_text=long_text,
            stride=stride,
            max_chunks=max_chunks,
            finetune=finetune,
            feature_cache=feature_cache,
            trainable_layers=trainable_layers,
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            lora_target_modules=lora_target_modules,
            dropout=dropout,
            lr=lr,
            layer_lr_decay=layer_lr_decay,
            head_lr=head_lr,
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
