"""Defaults that fit the data size and task: the ``"auto"`` values of the training parameters.

They are ``lr``, ``max_epochs``, ``batch_size``, ``head_lr``, ``contrastive_weight``,
``max_length``, ``long_text`` and ``tfidf_blend``.

A fixed number of epochs cannot serve both 16 and 16,000 texts: 3 epochs over
16 texts at ``batch_size=32`` are 3 optimizer steps, most of them warmup, and
the pretrained encoder barely moves (few-sample fine-tuning needs more
iterations, Mosbach et al. 2021, Zhang et al. 2021). ``"auto"`` therefore
trains for::

    max(AUTO_EPOCHS, ceil(min_steps / batches_per_epoch),
        min(AUTO_MIN_WINDOWS, AUTO_MAX_PASSES * n_texts) // n_windows)

epochs, counted on the training split of the fit (after any validation
split). ``min_steps`` depends on ``finetune`` (:data:`AUTO_MIN_STEPS`). The
last term, for a trainable encoder only, has the fit encode at least 2,048
windows (8 epochs of 256 texts) without passing over any text more than 16
times on average; ``n_windows`` counts each window of a long text read in
several (``long_text="chunk_mean"`` or ``"chunk_max"``), so long texts, which
cost a pass per window there, get fewer epochs. Under ``"chunk_sample"`` (what
``long_text="auto"`` picks for small fits) a pass encodes one window per text,
so ``n_windows`` is ``n_texts``. 60 steps alone left 64-255 texts at 4-8 epochs,
where SetFit caught up with us: 16 epochs over 128 texts (64 per class)
scored 0.731 against 0.723 on Rotten Tomatoes and 0.765 against 0.755 on
tweets (5 seeds each), while 30 epochs instead of 8-15 over 32-64 texts gained
nothing (``benchmarks/few_shot.py``). Data large enough to meet both floors
in ``AUTO_EPOCHS`` epochs (640 texts in batches of 32) trains exactly
``AUTO_EPOCHS`` epochs, as an explicit ``max_epochs=3`` does.

``batch_size="auto"`` trains in batches of 32 texts from 512 training texts
up, of 16 from 128 and of 8 below (:func:`auto_batch_size`): 60 steps over 16
texts in batches of 8 see each text 30 times instead of 60, which halves the
fit time at the same accuracy, and 256 texts in batches of 16 take 128 steps
instead of 64 for the same passes, which scored 0.3-0.6 points higher on
Rotten Tomatoes and tweets at 128 per class (``benchmarks/few_shot.py``).
Prediction always runs in batches of 32.

``lr="auto"`` trains a whole encoder (``finetune="full"`` or ``"top_k"``) at
5e-5 when it is narrower than :data:`AUTO_WIDE_ENCODER_FROM` (768) hidden
units, as MiniLM-class encoders are, and at 2e-5 from there up (BERT-base
class and larger), the range the BERT authors recommend (2e-5 to 5e-5), its
top for small encoders and its bottom for large ones
(:func:`auto_learning_rate`). With all-mpnet-base-v2 (768 wide) and 8 Rotten
Tomatoes reviews per class, 5e-5 scored 0.718 and 2e-5 0.781, where SetFit
scored 0.768 (``benchmarks/few_shot.py``, 3 seeds); with all-MiniLM-L6-v2
(384 wide) 5e-5 is measured on every row of that benchmark. LoRA adapters
and a head on a frozen encoder start from zero or at random and keep their
own, higher rates.

``head_lr="auto"`` trains the freshly initialized head at
``max(lr, AUTO_HEAD_LR)``: at the encoder's 5e-5 a random head moves little in
60 steps, while the pretrained encoder wants the small rate.

``contrastive_weight="auto"`` adds SetFit's pair objective over the pairs of
each training batch (:mod:`sklattn._text.contrastive`) at weight
``AUTO_CONTRASTIVE_WEIGHT``: with 16-32 texts per class it adds about 2 points
of balanced accuracy on Rotten Tomatoes at no extra time
(``benchmarks/few_shot.py``).

``max_length="auto"`` reads up to ``AUTO_SMALL_DATA_MAX_LENGTH`` (256) tokens
per text when fewer than ``AUTO_LONG_CONTEXT_BELOW`` texts are fitted, and
``AUTO_MAX_LENGTH`` (128) from there up, never more than the checkpoint's
position limit (:func:`auto_max_length`). With few labelled texts every
text's words count: the rest of a news article carries the evidence that its
first 128 tokens lack. Padding is per batch, so short texts (reviews, tweets)
cost the same under either length, and fits of many texts keep the cheaper
128.

``long_text="auto"`` goes one step further on the same small fits: below
``AUTO_LONG_CONTEXT_BELOW`` single texts it reads all of each text in
overlapping ``max_length`` windows (``"chunk_sample"``). Training draws one
window of each long text per epoch, in proportion to its tokens, so that an
epoch costs what it costs under ``"truncate"`` and the epochs together read
every window; prediction averages the vectors of every window, and as the
head is linear that is the average of the windows' logits. From
``AUTO_LONG_CONTEXT_BELOW`` texts up, and for sentence pairs, it keeps the
start (``"truncate"``). A text that fits in one window is one chunk, encoded
exactly as under ``"truncate"``, so short texts (reviews, tweets) train and
predict the same either way. Reading every window in every step
(``"chunk_mean"``, the former choice) scored no better on BBC news and
SpamAssassin emails at 8 per class, for about twice the fit time
(``benchmarks/few_shot.py``; README, "Small data").

``tfidf_blend="auto"`` (classifier) tests, on fits of fewer than
:data:`AUTO_TFIDF_BLEND_BELOW` (1,024) single texts with one label each,
whether a TF-IDF + logistic regression predicts the labels better than the
class prior out of fold, and if it does beyond doubt, blends its
probabilities with the encoder's (:mod:`sklattn._text.tfidf_blend`): with a
few dozen to a few hundred texts, labels that show in surface tokens (links,
hashtags, a section's vocabulary) are read better by
word counts than by an encoder fine-tuned on them.
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

# Encoder windows a fit with a trainable encoder encodes at least under
# max_epochs="auto" (8 epochs of 256 texts), and passes over each training text
# it makes at most to get there: 16 epochs helped 128 texts (Rotten Tomatoes
# and tweets at 64 per class), while 30 instead of 8-15 gained nothing on 32-64
# texts at 2-3x the time (benchmarks/few_shot.py).
AUTO_MIN_WINDOWS = 2048
AUTO_MAX_PASSES = 16


# batch_size="auto": the batch of prediction, and of training from
# AUTO_FULL_BATCH_FROM texts up.
AUTO_BATCH_SIZE = 32
# Smaller training sets take smaller batches, for more steps per pass over the
# texts: (least training texts, batch), largest first, AUTO_MIN_BATCH_SIZE below.
# From 128 texts an epoch of 16-text batches holds 8 steps; 32-text batches wait
# for 512 texts, because 256-511 texts in batches of 32 took half the steps of
# batches of 16 for the same passes and scored lower (benchmarks/few_shot.py).
AUTO_FULL_BATCH_FROM = 512
AUTO_BATCH_SIZES = ((AUTO_FULL_BATCH_FROM, AUTO_BATCH_SIZE), (128, 16))
AUTO_MIN_BATCH_SIZE = 8

# lr="auto": the peak rate of each finetune mode. A trainable encoder ("full",
# "top_k") takes AUTO_ENCODER_LR when narrower than AUTO_WIDE_ENCODER_FROM hidden
# units and AUTO_WIDE_ENCODER_LR from there up: at 5e-5 all-mpnet-base-v2 lost
# 6 points to 2e-5 on 16 reviews (benchmarks/few_shot.py). The modes that train
# only fresh weights (LoRA adapters from zero, a head from random on a frozen
# encoder) barely move at those rates in a few epochs and take their own.
AUTO_ENCODER_LR = 5e-5
AUTO_WIDE_ENCODER_LR = 2e-5
AUTO_WIDE_ENCODER_FROM = 768
AUTO_FRESH_WEIGHT_LRS = {"lora": 5e-4, "head": 1e-3}

# head_lr="auto": the least rate of the freshly initialized head.
AUTO_HEAD_LR = 1e-3

# contrastive_weight="auto": the weight of the in-batch pair objective next to
# the cross-entropy, for single-label classification with a trainable encoder.
AUTO_CONTRASTIVE_WEIGHT = 2.0

# max_length="auto": tokens per text of fits on at least AUTO_LONG_CONTEXT_BELOW
# texts, and of smaller ones. From 256 texts on the gain of longer windows and of
# every window shrank within noise while their cost stayed at 2-6x the fit time
# (BBC news at 64 per class, benchmarks/few_shot.py).
AUTO_MAX_LENGTH = 128
AUTO_SMALL_DATA_MAX_LENGTH = 256
AUTO_LONG_CONTEXT_BELOW = 256


def auto_batch_size(n_train: int) -> int:
    """Texts per training step that ``batch_size="auto"`` picks for ``n_train`` training texts.

    Parameters
    ----------
    n_train : int
        Texts in the training split of this fit.

    Returns
    -------
    int
        8 below 128 texts, 16 below 512, 32 from 512 texts up
        (:data:`AUTO_BATCH_SIZES`).
    """
    for least_texts, size in AUTO_BATCH_SIZES:
        if n_train >= least_texts:
            return size
    return AUTO_MIN_BATCH_SIZE


def prediction_batch_size(batch_size: int | str) -> int:
    """Texts per forward pass in prediction (and embedding): 32 under ``"auto"``, else ``batch_size``."""
    return AUTO_BATCH_SIZE if batch_size == "auto" else int(batch_size)


def auto_max_length(n_texts: int, position_limit: int | None) -> int:
    """Tokens per text that ``max_length="auto"`` reads for a fit on ``n_texts`` texts.

    Parameters
    ----------
    n_texts : int
        Texts (sentences, for a tagger) passed to the first ``fit``.
    position_limit : int or None
        Longest input the checkpoint takes, or None when it does not say.

    Returns
    -------
    int
        :data:`AUTO_SMALL_DATA_MAX_LENGTH` below :data:`AUTO_LONG_CONTEXT_BELOW`
        texts, else :data:`AUTO_MAX_LENGTH`; at most ``position_limit``.
    """
    length = AUTO_SMALL_DATA_MAX_LENGTH if n_texts < AUTO_LONG_CONTEXT_BELOW else AUTO_MAX_LENGTH
    return length if position_limit is None else min(length, position_limit)


def auto_long_text(n_texts: int, n_text_columns: int) -> str:
    """How ``long_text="auto"`` reads texts longer than ``max_length``.

    Parameters
    ----------
    n_texts : int
        Texts passed to the first ``fit``.
    n_text_columns : int
        1 for single texts, 2 for sentence pairs (which the chunk modes do not take).

    Returns
    -------
    str
        ``"chunk_sample"`` for fewer than :data:`AUTO_LONG_CONTEXT_BELOW` single
        texts, else ``"truncate"``.
    """
    small = n_texts < AUTO_LONG_CONTEXT_BELOW
    return "chunk_sample" if small and n_text_columns == 1 else "truncate"


# tfidf_blend="auto": training sets below this many texts test (and may blend) the
# TF-IDF model. Its cross-validation costs 35 logistic regressions, a few seconds
# up to a few hundred texts and about a tenth of the fit at 640 news articles; the
# blend still gained there (benchmarks/few_shot.py), and the quickstart's 2,000
# texts stay untouched.
AUTO_TFIDF_BLEND_BELOW = 1024


def auto_tfidf_blend(n_texts: int, n_text_columns: int, multilabel: bool) -> bool:
    """Whether ``tfidf_blend="auto"`` tests word n-grams as evidence beside the encoder.

    Parameters
    ----------
    n_texts : int
        Texts passed to the first ``fit``.
    n_text_columns : int
        1 for single texts, 2 for sentence pairs (whose label lies in how two
        texts relate, not in either one's words).
    multilabel : bool
        Whether ``y`` is a label indicator matrix.

    Returns
    -------
    bool
        True for fewer than :data:`AUTO_TFIDF_BLEND_BELOW` single texts with
        one label each. The classifier then blends only if the words beat the
        class prior out of fold (:mod:`sklattn._text.tfidf_blend`).
    """
    return n_texts < AUTO_TFIDF_BLEND_BELOW and n_text_columns == 1 and not multilabel


def auto_learning_rate(finetune: str, hidden_size: int | None) -> float:
    """The peak learning rate ``lr="auto"`` stands for.

    Parameters
    ----------
    finetune : str
        The estimator's ``finetune`` mode.
    hidden_size : int or None
        Width of the encoder (its config's ``hidden_size``); None when unknown.

    Returns
    -------
    float
        For ``"full"`` and ``"top_k"``: :data:`AUTO_ENCODER_LR` (5e-5) below
        :data:`AUTO_WIDE_ENCODER_FROM` (768) hidden units or when the width is
        unknown, else :data:`AUTO_WIDE_ENCODER_LR` (2e-5). 5e-4 for
        ``"lora"`` and 1e-3 for ``"head"``.
    """
    if finetune in AUTO_FRESH_WEIGHT_LRS:
        return AUTO_FRESH_WEIGHT_LRS[finetune]
    wide = hidden_size is not None and hidden_size >= AUTO_WIDE_ENCODER_FROM
    return AUTO_WIDE_ENCODER_LR if wide else AUTO_ENCODER_LR


def auto_head_lr(lr: float) -> float:
    """The head's learning rate under ``head_lr="auto"``: ``max(lr, AUTO_HEAD_LR)``."""
    return max(lr, AUTO_HEAD_LR)


def auto_contrastive_weight(finetune: str, multilabel: bool) -> float:
    """The weight ``contrastive_weight="auto"`` gives the in-batch pair objective.

    Parameters
    ----------
    finetune : str
        The estimator's ``finetune`` mode: a frozen encoder (``"head"``) cannot
        learn from an objective on its embeddings.
    multilabel : bool
        Whether ``y`` is a label indicator matrix, where "shares a label" has
        no single meaning.

    Returns
    -------
    float
        :data:`AUTO_CONTRASTIVE_WEIGHT` for single-label ``y`` and a trainable
        encoder, else 0.
    """
    return 0.0 if multilabel or finetune == "head" else AUTO_CONTRASTIVE_WEIGHT


def auto_max_epochs(batches_per_epoch: int, finetune: str, n_texts: int, n_windows: int) -> int:
    """Epochs that ``max_epochs="auto"`` trains for.

    Parameters
    ----------
    batches_per_epoch : int
        Optimizer steps in one pass over the training split of this fit.
    finetune : str
        The estimator's ``finetune`` mode, which sets the minimum number of steps.
    n_texts : int
        Texts (or sentence pairs) in the training split.
    n_windows : int
        Encoder windows in one pass over them: ``n_texts`` where every text
        fits in ``max_length``, more where long texts are read in windows.

    Returns
    -------
    int
        ``max(AUTO_EPOCHS, ceil(AUTO_MIN_STEPS[finetune] / batches_per_epoch),
        min(AUTO_MIN_WINDOWS, AUTO_MAX_PASSES * n_texts) // n_windows)``; the
        last term only where the encoder trains (not for ``finetune="head"``).
    """
    epochs = max(AUTO_EPOCHS, math.ceil(AUTO_MIN_STEPS[finetune] / max(1, batches_per_epoch)))
    if finetune == "head":  # steps on cached features cost next to nothing: count steps only
        return epochs
    windows = min(AUTO_MIN_WINDOWS, AUTO_MAX_PASSES * n_texts)
    return max(epochs, windows // max(1, n_windows))
