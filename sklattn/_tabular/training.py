"""Training helpers of the tabular estimators: the internal validation split and callbacks.

Early stopping holds out a seeded, stratified share of the training data,
keeps the weights of the epoch with the lowest validation loss and restores
them when training stops, so a fit on a few hundred rows neither underfits nor
drifts into overfitting with the epoch count.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback, EarlyStopping


def validation_indices(
    targets: np.ndarray, fraction: float, stratify: bool, random_state: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray] | None:
    """Seeded (train, valid) row indices, or None when there are too few rows to hold any out.

    Stratified by class when every class has at least two rows and both
    parts can hold one of each; a plain shuffled split otherwise.
    """
    n = len(targets)
    n_valid = int(np.ceil(fraction * n))
    if n < 2 or n_valid >= n:
        return None
    labels = None
    if stratify:
        _, counts = np.unique(targets, return_counts=True)
        if counts.min() >= 2 and min(n_valid, n - n_valid) >= len(counts):
            labels = targets
    train, valid = train_test_split(
        np.arange(n), test_size=n_valid, stratify=labels, random_state=random_state
    )
    return np.sort(train), np.sort(valid)


class BackboneFreezer(Callback):
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


class BestValidationWeights(EarlyStopping):
    """Early stopping on ``valid_loss`` with the best weights restored.

    Active when the estimator's ``early_stopping`` is True and a validation
    set exists (the internal split, or the user's ``train_split``). Stops
    after ``net.n_iter_no_change`` epochs without improvement and sets
    ``net.best_epoch_`` (the 1-based epoch of this fit whose weights were kept;
    None when no validation ran). A skorch ``EarlyStopping`` (whose
    ``patience`` mirrors ``n_iter_no_change``) so that sklattn can tell this
    stop from a user's Ctrl-C.
    """

    def __init__(self) -> None:
        super().__init__(monitor="valid_loss", load_best=True)

    def on_train_begin(self, net, **kwargs) -> None:
        self.patience = net.n_iter_no_change
        self.best_loss_ = np.inf
        self.best_state_ = None
        self.misses_ = 0
        self.epochs_ = 0
        net.best_epoch_ = None

    def on_epoch_end(self, net, dataset_valid=None, **kwargs) -> None:
        self.epochs_ += 1
        if not net.early_stopping or dataset_valid is None:
            return
        loss = net.history[-1, "valid_loss"]
        if loss < self.best_loss_:
            self.best_loss_, self.misses_ = loss, 0
            self.best_state_ = copy.deepcopy(net.module_.state_dict())
            net.best_epoch_ = self.epochs_
            return
        self.misses_ += 1
        if self.misses_ >= net.n_iter_no_change:
            raise KeyboardInterrupt  # skorch's documented way to end training early

    def on_train_end(self, net, **kwargs) -> None:
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None  # keep pickles small
