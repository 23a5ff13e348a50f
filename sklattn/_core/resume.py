"""ResumableCheckpoint: save the whole training state every epoch, resume a crashed fit.

skorch's ``Checkpoint`` + ``LoadInitState`` reload weights, optimizer and
history, then train ``max_epochs`` *more* epochs with fresh callback state and
fresh random generators. Resuming a crashed fit so that it ends exactly where
the uninterrupted fit would have ended also needs the state of every callback
(the warmup schedule's step, early-stopping counters), the random generator
states at the epoch boundary, and a fit loop that runs only the epochs left.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from .callbacks import fit_epochs, stopped_on_purpose

STATE_FILE = "training_state.pt"
_FORMAT = 1


class ResumableCheckpoint(Callback):
    """Save the full training state after every epoch; the next ``fit`` resumes from it.

    After each epoch it writes ``<dirname>/training_state.pt`` (atomically:
    a crash while writing keeps the previous epoch's file) with the network
    weights, the optimizer state (AdamW moments, learning rates), the state of
    every other callback (the ``lr_schedule`` step, ``EarlyStopping``
    counters, ...), ``history_``, and the torch, numpy and Python random
    generator states. When a ``fit`` starts and finds that file, it restores
    all of it and trains only the epochs left. Running the same script again
    after a crash (same data, same parameters, a fixed ``random_state``)
    therefore ends with the same weights as a fit that never crashed.

    The file is deleted when a fit completes (or ``EarlyStopping`` ends it);
    a fit stopped by Ctrl-C or an error keeps it for the next run. sklattn
    estimators always run this callback after all others, so it saves what
    they recorded for the epoch, wherever it stands in ``callbacks``.

    Parameters
    ----------
    dirname : str or os.PathLike
        Directory of the state file, created when missing. Give each fit its
        own directory: a file left by a different fit (other data, number of
        epochs, batch size or seed) raises ``ValueError`` instead of being
        resumed.

    Attributes
    ----------
    resumed_from_epoch_ : int or None
        Epochs restored from the file at the start of the last fit (None when
        it started fresh).

    Notes
    -----
    The file is a pickle (read with ``torch.load(..., weights_only=False)``):
    resume only from files you wrote. It holds the weights plus the optimizer
    moments, about 3x the weights. Random generators given explicitly to a
    ``DataLoader`` (``iterator_train__generator``) are not saved.

    Examples
    --------
    Run the same lines again after a crash; the second run resumes:

    >>> from sklattn import AttentionClassifier
    >>> from sklattn.callbacks import ResumableCheckpoint
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts = ["a good film", "the plot was awful", "a lovely story", "a boring scene"]
    >>> labels = ["pos", "neg", "pos", "neg"]
    >>> resume = ResumableCheckpoint("runs/sentiment")
    >>> clf = AttentionClassifier(checkpoint, max_length=64, max_epochs=2, random_state=0,
    ...                           callbacks=[resume])
    >>> len(clf.fit(texts, labels).history)
    2

    This run started fresh, and its state file is gone once the fit completed:

    >>> resume.resumed_from_epoch_ is None, resume.state_path.exists()
    (True, False)
    """

    def __init__(self, dirname: str | os.PathLike) -> None:
        self.dirname = dirname

    @property
    def state_path(self) -> Path:
        """Where the training state is written."""
        return Path(self.dirname) / STATE_FILE

    # ---------------------------------------------------------------- restore
    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        self.fit_start_epoch_ = len(net.history)
        self.fingerprint_ = _fingerprint(net, X, y, self.fit_start_epoch_)
        self.resumed_from_epoch_ = None
        self._pending_rng = None
        if not self.state_path.exists():
            return
        state = torch.load(self.state_path, map_location=net.device, weights_only=False)
        self._check_same_fit(state)
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.history = state["history"]
        for name, callback in net.callbacks_:
            if callback is not self and name in state["callbacks"]:
                _restore_callback(callback, state["callbacks"][name])
        # Restored at the first epoch start: the validation split made between
        # here and there must draw from the same generator state as originally.
        self._pending_rng = state["rng"]
        self.resumed_from_epoch_ = len(net.history)
        # Read (and removed) by SklattnNet.fit_loop: run only the epochs left.
        net.resumed_epochs_ = len(net.history) - self.fit_start_epoch_

    def _check_same_fit(self, state: dict) -> None:
        saved = state.get("fingerprint", {})
        differing = sorted(
            key for key in set(saved) | set(self.fingerprint_)
            if saved.get(key) != self.fingerprint_.get(key)
        )
        if state.get("format") != _FORMAT or differing:
            raise ValueError(
                f"{self.state_path} holds the unfinished state of a different fit "
                f"(differs in: {', '.join(differing) or 'file format'}); resume with the same "
                "data and parameters, or delete the file (or use another dirname) to start over."
            )

    def on_epoch_begin(self, net, **kwargs) -> None:
        if self._pending_rng is not None:
            _set_rng_state(self._pending_rng)
            self._pending_rng = None

    # ------------------------------------------------------------------- save
    def on_epoch_end(self, net, **kwargs) -> None:
        state = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint_,
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "history": net.history,
            "callbacks": {
                name: _callback_state(callback)
                for name, callback in net.callbacks_ if callback is not self
            },
            "rng": _rng_state(),
        }
        path = self.state_path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)  # atomic: never a half-written state file

    def on_train_end(self, net, **kwargs) -> None:
        completed = len(net.history) - self.fit_start_epoch_ >= fit_epochs(net)
        if completed or stopped_on_purpose(net):
            self.state_path.unlink(missing_ok=True)


def _fingerprint(net, X, y, fit_start_epoch: int) -> dict[str, Any]:
    """What must match for a saved state to belong to this fit."""
    digest = hashlib.sha1()
    for part in (_data_arrays(X) + [y]):
        _update_digest(digest, part)
    return {
        "estimator": type(net).__name__,
        "n_samples": len(y) if y is not None else None,
        "data": digest.hexdigest(),
        "max_epochs": net.max_epochs,
        "batch_size": net.batch_size,
        "random_state": repr(getattr(net, "random_state", None)),
        "fit_start_epoch": fit_start_epoch,
    }


def _data_arrays(X) -> list:
    if isinstance(X, Mapping):
        return [X[key] for key in sorted(X)]
    lengths = getattr(X, "lengths", None)  # TokenizedDataset: token count per text
    return [lengths] if lengths is not None else [len(X)]


def _update_digest(digest, value) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(repr((value.shape, value.dtype.str)).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    else:
        digest.update(repr(value).encode())


def _callback_state(callback) -> dict[str, tuple[str, Any]]:
    """A callback's learned state: its public attributes ending in ``_``.

    Objects with a ``state_dict`` (e.g. torch LR schedulers, which reference
    the optimizer) are saved through it; values that cannot be pickled are
    left out.
    """
    state = {}
    for key, value in vars(callback).items():
        if key.startswith("_") or not key.endswith("_"):
            continue
        if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
            state[key] = ("state_dict", value.state_dict())
            continue
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 - any unpicklable value is simply not resumable
            continue
        state[key] = ("value", value)
    return state


def _restore_callback(callback, state: dict[str, tuple[str, Any]]) -> None:
    for key, (kind, value) in state.items():
        if kind == "state_dict":
            current = getattr(callback, key, None)
            if current is not None:
                current.load_state_dict(value)
        else:
            setattr(callback, key, value)


def _rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
