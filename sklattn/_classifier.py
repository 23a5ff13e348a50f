"""AttentionClassifier: fine-tune a transformer encoder for text classification."""

from __future__ import annotations

import numbers
from numbers import Real
import os

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import EpochScoring

from ._base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from ._docs import fill_doc
from ._validation import _is_missing


def _label_kind(label) -> str:
    if isinstance(label, (str, bytes, np.str_, np.bytes_)):
        return "str"
    if isinstance(label, (numbers.Number, np.bool_)):
        return "number"
    return type(label).__name__


def _valid_accuracy(net, dataset, y_true) -> float:
    """Accuracy on skorch's validation split (encoded labels; uses cached logits).

    Subset accuracy (every label right) for multi-label models.
    """
    logits = net.forward(dataset).float()
    y_true = np.asarray(y_true)
    if net.multilabel_:
        predicted = (torch.sigmoid(logits).numpy() >= net.threshold).astype(y_true.dtype)
        return float((predicted == y_true).all(axis=1).mean())
    return float((logits.argmax(dim=1).numpy() == y_true).mean())


@fill_doc
class AttentionClassifier(ClassifierMixin, TextNetBase):
    """Text classifier that fine-tunes a pretrained transformer encoder in ``fit``.

    ``y`` holds one label per text (binary or multiclass, any label type) or
    a 2-D 0/1 indicator matrix for multi-label problems.

    Texts are tokenized inside the estimator, pooled encoder states feed a
    dropout + linear head, and the whole network is trained with AdamW,
    linear warmup and decay, and gradient clipping. Built on skorch's
    ``NeuralNet``: skorch parameters, prefixes, callbacks and ``history_``
    all work.

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
    >>> clf = AttentionClassifier("path/to/checkpoint", max_epochs=2)  # doctest: +SKIP
    >>> clf.fit(["good film", "awful plot"], ["pos", "neg"])  # doctest: +SKIP
    >>> clf.predict(["a good plot"])  # doctest: +SKIP
    """

    _parameter_constraints = {
        **TEXT_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }
    _criterion_class = torch.nn.CrossEntropyLoss

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int = 128,
        pooling: str = "mean",
        text_columns: str | list | None = None,
        class_weight: dict | str | None = None,
        threshold: float = 0.5,
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
        self.class_weight = class_weight
        self.threshold = threshold
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

    @property
    def _default_callbacks(self):
        scoring = EpochScoring(_valid_accuracy, name="valid_acc", lower_is_better=False)
        return [*super()._default_callbacks, ("valid_acc", scoring)]

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        if hasattr(y, "toarray"):  # scipy sparse, e.g. MultiLabelBinarizer(sparse_output=True)
            y = y.toarray()
        raw = np.asarray(y, dtype=object)
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw.ravel()
        if fitting:
            self.multilabel_ = raw.ndim == 2
        if raw.ndim == 2:
            return self._encode_indicator(raw, fitting)
        if raw.ndim != 1:
            raise ValueError(
                f"y must be 1-D (one label per text) or a 2-D 0/1 indicator matrix "
                f"(multi-label), got shape {raw.shape}."
            )
        if self.multilabel_:
            raise ValueError("the model was fitted on multi-label y; pass a 2-D indicator matrix.")
        for row, label in enumerate(raw):
            if _is_missing(label):
                raise ValueError(
                    f"y has a missing label (None/NaN) at row {row}; drop or label "
                    "that sample before fitting."
                )
        # numpy would silently turn ["a", 1] into the strings ["a", "1"].
        kinds = sorted({_label_kind(label) for label in raw})
        if len(kinds) > 1:
            raise TypeError(
                f"y mixes label types {kinds}; convert all labels to one type, "
                "e.g. y = [str(label) for label in y]."
            )
        labels = np.asarray(y).reshape(len(raw))
        seen = np.unique(labels)
        if fitting:
            self.classes_ = seen if classes is None else np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(
                    f"y has only one class ({self.classes_[0]!r}); a classifier needs "
                    "samples of at least two classes."
                )
            self.n_outputs_ = len(self.classes_)
        unseen = np.setdiff1d(seen, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels {unseen.tolist()} not seen when the model was first "
                f"fitted (classes_ = {self.classes_.tolist()}); refit from scratch or "
                "declare every label with partial_fit(..., classes=...)."
            )
        return np.searchsorted(self.classes_, labels).astype(np.int64)

    def _encode_indicator(self, raw: np.ndarray, fitting: bool) -> np.ndarray:
        """Validate a multi-label indicator matrix and return it as float32."""
        try:
            indicator = raw.astype(np.float64)
        except (TypeError, ValueError):
            indicator = None
        if indicator is None or not np.isin(indicator, (0.0, 1.0)).all():
            values = sorted({repr(v) for v in raw.ravel().tolist()})[:5]
            raise ValueError(
                "multi-label y must be a 0/1 indicator matrix (what "
                f"sklearn.preprocessing.MultiLabelBinarizer returns); got values {values}."
            )
        if fitting:
            self.classes_ = np.arange(indicator.shape[1])
            self.n_outputs_ = indicator.shape[1]
        elif not self.multilabel_ or indicator.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {indicator.shape[1]} label columns but the model was fitted on "
                f"{'multi-label y with ' + str(self.n_outputs_) + ' labels' if self.multilabel_ else '1-D labels'}."
            )
        return indicator.astype(np.float32)

    def initialize_criterion(self):
        loss = torch.nn.BCEWithLogitsLoss if self.multilabel_ else torch.nn.CrossEntropyLoss
        self.criterion_ = loss(reduction="none")
        return self

    def _loss_weights(self, targets: np.ndarray, sample_weight: np.ndarray | None):
        if self.class_weight is None:
            return super()._loss_weights(targets, sample_weight)
        if self.multilabel_:
            raise ValueError(
                "class_weight is not supported for multi-label y; weight samples with "
                "sample_weight instead."
            )
        per_class = compute_class_weight(
            self.class_weight, classes=self.classes_, y=self.classes_[targets]
        )
        weights = per_class[targets]
        if sample_weight is not None:
            weights = weights * sample_weight
        return super()._loss_weights(targets, weights)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``.

        Parameters
        ----------
        X : texts (or sentence pairs) as in :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            For multi-label models, the independent probability of each label.
        """
        return self._probabilities(self._forward_outputs(X))

    def _probabilities(self, outputs: np.ndarray) -> np.ndarray:
        logits = torch.from_numpy(outputs)
        if self.multilabel_:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable label of each text, in the original label type.

        For multi-label models, the 0/1 indicator matrix of labels whose
        probability reaches ``threshold``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        outputs = self._forward_outputs(X)  # checks that the model is fitted
        if self.multilabel_:
            return (self._probabilities(outputs) >= self.threshold).astype(np.int64)
        return self.classes_[outputs.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
