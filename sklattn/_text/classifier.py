"""AttentionClassifier: fine-tune a transformer encoder for text classification."""

from __future__ import annotations

import os
from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._io.registry import register_estimator
from .base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from .docs import fill_doc
from .._core.tasks import ClassifierTaskMixin


@register_estimator
@fill_doc
class AttentionClassifier(ClassifierTaskMixin, TextNetBase):
    """Text classifier that fine-tunes a pretrained transformer encoder in ``fit``.

    ``y`` holds one label per text (binary or multiclass, any label type) or
    a 2-D 0/1 indicator matrix for multi-label problems.

    Texts are tokenized inside the estimator, pooled encoder states feed a
    dropout + linear head, and the whole network is trained with AdamW,
    linear warmup and decay, and gradient clipping. Built on skorch's
    ``NeuralNet``: skorch parameters, callbacks and ``history_`` work, and so
    do the ``optimizer__*``, ``iterator_*__*``, ``callbacks__*`` and
    ``criterion__*`` prefixes; ``module__*`` is refused (see ``**kwargs``).

    Parameters
    ----------
    {text_parameters}
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss, as in scikit-learn: ``"balanced"``
        weighs classes inversely to their frequency; a dict maps labels to
        weights (missing labels weigh 1). Not available for multi-label ``y``.
    threshold : float, default=0.5
        Multi-label only: ``predict`` marks a label present when its
        probability reaches this value.
    {text_kwargs}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, in the column order of ``predict_proba``
        (``0 .. n_labels - 1`` for multi-label ``y``).
    multilabel_ : bool
        Whether ``y`` was a 2-D indicator matrix: sigmoid outputs and a
        per-label binary cross-entropy loss instead of softmax.
    {text_fitted_attributes}

    Examples
    --------
    >>> from sklattn import AttentionClassifier
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts = ["a good film", "the plot was awful", "a lovely story", "a boring scene"]
    >>> labels = ["pos", "neg", "pos", "neg"]
    >>> clf = AttentionClassifier(checkpoint, max_length=64, max_epochs=1,
    ...                           random_state=0).fit(texts, labels)
    >>> clf.classes_.tolist()
    ['neg', 'pos']
    >>> clf.predict_proba(["a great actor", "the music was poor"]).shape
    (2, 2)
    >>> clf.predict(["a great actor"]).shape
    (1,)
    """

    _parameter_constraints = {
        **TEXT_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int = 128,
        pooling: str = "mean",
        text_columns: str | list | None = None,
        long_text: str = "truncate",
        stride: int | None = None,
        max_chunks: int | None = 16,
        finetune: str = "full",
        feature_cache: bool = True,
        trainable_layers: int = 2,
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        lora_target_modules: list | str | None = None,
        class_weight: dict | str | None = None,
        threshold: float = 0.5,
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
        self.class_weight = class_weight
        self.threshold = threshold
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
