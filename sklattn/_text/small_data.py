"""``max_epochs="auto"``: enough optimizer steps on small data, a fixed epoch count on large data.

A fixed number of epochs cannot serve both 16 and 16,000 texts: 3 epochs over
16 texts at ``batch_size=32`` are 3 optimizer steps, most of them warmup, and
the pretrained encoder barely moves (few-sample fine-tuning needs more
iterations, Mosbach et al. 2021, Zhang et al. 2021). ``"auto"`` therefore
trains for ``max(AUTO_EPOCHS, ceil(min_steps / batches_per_epoch))`` epochs,
where ``batches_per_epoch`` is counted on the training split of the fit (after
any validation split) and ``min_steps`` depends on ``finetune``
(:data:`AUTO_MIN_STEPS`). Data large enough to reach ``min_steps`` in
``AUTO_EPOCHS`` epochs trains exactly ``AUTO_EPOCHS`` epochs, as an explicit
``max_epochs=3`` does.
"""

from __future__ import annotations

import math

# Epochs of every fit large enough to reach its minimum number of steps.
AUTO_EPOCHS = 3

# Minimum optimizer steps per fit under max_epochs="auto", by finetune mode. The
# encoder modes cost a forward and backward pass of the encoder per step; a head
# on cached features (finetune="head") costs next to nothing per step, and a linear
# head trained from scratch wants many more of them.
AUTO_MIN_STEPS = {"full": 60, "top_k": 60, "lora": 60, "head": 300}


def auto_max_epochs(batches_per_epoch: int, finetune: str) -> int:
    """Epochs that ``max_epochs="auto"`` trains for.

    Parameters
    ----------
    batches_per_epoch : int
        Optimizer steps in one pass over the training split of this fit.
    finetune : str
        The estimator's ``finetune`` mode, which sets the minimum number of steps.

    Returns
    -------
    int
        ``max(AUTO_EPOCHS, ceil(AUTO_MIN_STEPS[finetune] / batches_per_epoch))``.
    """
    min_steps = AUTO_MIN_STEPS[finetune]
    return max(AUTO_EPOCHS, math.ceil(min_steps / max(1, batches_per_epoch)))
