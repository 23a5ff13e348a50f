"""AttentionClassifier: fine-tune a transformer encoder for text classification."""

from __future__ import annotations

import numbers
import os

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
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
    """Accuracy on skorch's validation split (encoded labels; uses cached logits)."""
    logits = net.forward(dataset)
    return float((logits.argmax(dim=1).numpy() == np.asarray(y_true)).mean())


@fill_doc
class AttentionClassifier(ClassifierMixin, TextNetBase):
    """Text classifier that fine-tunes a pretrained transformer encoder in ``fit``.

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
        weights (missing labels weigh 1).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, in the column order of ``predict_proba``.
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
    }
    _criterion_class = torch.nn.CrossEntropyLoss

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int = 128,
        pooling: str = "mean",
        class_weight: dict | str | None = None,
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
        super().__init__(
            checkpoint,
            max_length=max_length,
            pooling=pooling,
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
        raw = np.asarray(y, dtype=object)
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw.ravel()
        if raw.ndim != 1:
            raise ValueError(
                f"y must be 1-D (one label per text), got shape {raw.shape}."
            )
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

    def _loss_weights(self, targets: np.ndarray, sample_weight: np.ndarray | None):
        if self.class_weight is None:
            return super()._loss_weights(targets, sample_weight)
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
        """
        logits = torch.from_numpy(self._forward_outputs(X))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable label of each text, in the original label type.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        best = self._forward_outputs(X).argmax(axis=1)  # checks fitted before classes_
        return self.classes_[best]
