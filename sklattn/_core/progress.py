"""Progress bars shown with ``verbose > 0``: one per training epoch, one for long predictions.

Both use tqdm (a dependency of transformers) and write to stderr; skorch's
epoch table still goes to stdout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import tqdm.auto
import tqdm.std
from skorch.callbacks import ProgressBar

# A prediction bar appears only once predicting has taken this long, so small
# inputs (and the many short predictions of a grid search) print nothing.
PREDICT_BAR_DELAY_S = 1.0


class EpochProgressBar(ProgressBar):
    """skorch's ``ProgressBar`` with exact batch counts and running mean losses.

    skorch's bar divides the dataset size by ``batch_size``; sklattn's
    length-grouped sampler decides the batches itself, so the total comes
    from the real iterator. The postfix shows the mean of each loss over the
    batches of the epoch so far instead of the last, noisy, batch value.
    """

    def _get_batches_per_epoch_phase(self, net, dataset, training) -> int:
        if dataset is None:
            return 0
        return len(net.get_iterator(dataset, training=training))

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs) -> None:
        self.sums_: dict[str, float] = {}
        self.counts_: dict[str, int] = {}
        if not isinstance(self.batches_per_epoch, int) and self.batches_per_epoch != "auto":
            super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
            return
        # skorch's bar, created here to carry the epoch number from its first draw.
        total = self.batches_per_epoch
        if total == "auto":
            total = self._get_batches_per_epoch(net, dataset_train, dataset_valid)
        bar = tqdm.auto.tqdm if self.detect_notebook else tqdm.std.tqdm  # widget in Jupyter
        self.pbar_ = bar(total=total, leave=False, desc=f"epoch {len(net.history)}", unit="batch")

    def _get_postfix_dict(self, net) -> dict[str, str]:
        batch = net.history[-1, "batches", -1]
        postfix = {}
        for key in self.postfix_keys:
            if key in batch:
                self.sums_[key] = self.sums_.get(key, 0.0) + float(batch[key])
                self.counts_[key] = self.counts_.get(key, 0) + 1
            if self.counts_.get(key):
                postfix[key] = f"{self.sums_[key] / self.counts_[key]:.4f}"
        return postfix

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("sums_", None)
        state.pop("counts_", None)
        return state


def prediction_progress(batches: Iterable[Any], total: int) -> Iterator[Any]:
    """Wrap prediction batches in a tqdm bar that shows up only for long runs."""
    return iter(tqdm.auto.tqdm(batches, total=total, desc="predict", unit="batch", leave=False,
                     delay=PREDICT_BAR_DELAY_S))
