"""Task mixins: target encoding, loss choice and predictions.

``ClassifierTaskMixin`` and ``RegressorTaskMixin`` go left of a
:class:`sklattn._core.net.SklattnNet` subclass and turn its raw head outputs
(``_forward_outputs``) into labels, probabilities or values. Text and tabular
estimators share them.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import EpochScoring

from .validation import _is_missing


def check_label_values(y) -> None:
    """Errors for a 1-D label vector with a missing label or mixed label types.

    Runs before any conversion: numpy would silently turn ["a", 1] into ["a", "1"].
    2-D (multi-label indicator) and sparse ``y`` are left to the indicator checks.
    """
    if hasattr(y, "toarray"):
        return
    raw = np.asarray(y, dtype=object)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw.ravel()
    if raw.ndim != 1:
        return
    for row, label in enumerate(raw):
        if _is_missing(label):
            raise ValueError(
                f"y has a missing label (None/NaN) at row {row}; drop or label "
                "that sample before fitting."
            )
    kinds = sorted({_label_kind(label) for label in raw})
    if len(kinds) > 1:
        raise TypeError(
            f"y mixes label types {kinds}; convert all labels to one type, "
            "e.g. y = [str(label) for label in y]."
        )


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


class ClassifierTaskMixin(ClassifierMixin):
    """Labels of any type, multi-label indicators, class weights, softmax/sigmoid."""

    _criterion_class = torch.nn.CrossEntropyLoss

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
        check_label_values(raw)
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
        self.criterion_ = loss(reduction="none", **self._criterion_kwargs(loss))
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


class RegressorTaskMixin(RegressorMixin):
    """1-D or 2-D float targets, optional standardization, mean squared error."""

    _criterion_class = torch.nn.MSELoss

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        try:
            targets = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                "y must be numeric for a regressor; for labels use a classifier."
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
