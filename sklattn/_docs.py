"""Parameter documentation shared by the text estimators' docstrings."""

TEXT_PARAMETERS_DOC = """\
checkpoint : str or os.PathLike
        Hugging Face hub id (e.g. ``"sentence-transformers/all-MiniLM-L6-v2"``)
        or a local directory written by ``save_pretrained``. Loaded in ``fit``,
        never in ``__init__``.
    max_length : int, default=128
        Maximum tokens per text (per pair for sentence pairs), special tokens
        included. Longer texts are truncated; batches are padded only to their
        own longest text.
    pooling : {"mean", "cls", "max"}, default="mean"
        How token states become one vector: mask-aware mean, first token, or
        mask-aware max.
    text_columns : str, int, list or None, default=None
        DataFrame columns (names) or 2-D array columns (positions) holding
        the texts: one column, or two for sentence pairs. None takes every
        column of a one- or two-column DataFrame of strings; other columns are
        rejected (route them through ``ColumnTransformer``).
    dropout : float, default=0.1
        Dropout before the linear head.
    lr : float, default=5e-5
        Peak learning rate of AdamW.
    max_epochs : int, default=3
        Passes over the training data per ``fit``.
    batch_size : int, default=32
        Texts per optimizer step (and per prediction batch).
    group_by_length : bool, default=True
        Train on random batches of similar-length texts (shuffle, sort within
        pools of 50 batches, shuffle the batches) so that dynamic padding
        wastes little compute. False shuffles texts uniformly.
    weight_decay : float, default=0.01
        AdamW weight decay, not applied to biases and LayerNorm weights.
    warmup_ratio : float, default=0.1
        Fraction of the optimizer steps of this fit spent in linear warmup,
        followed by linear decay to zero.
    max_grad_norm : float or None, default=1.0
        Clip the global gradient norm to this value; None disables clipping.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs the forward pass under bfloat16 autocast (CPU or GPU).
    random_state : int, RandomState instance or None, default=None
        Seeds head initialization, dropout, shuffling and skorch's validation
        split. The same value gives identical predictions across processes.
    device : str or torch.device, default="cpu"
        Where to train and predict, e.g. ``"cuda"``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``EarlyStopping``). Defaults added by
        sklattn, addressable as ``callbacks__<name>``: ``lr_schedule``
        (:class:`sklattn.callbacks.WarmupLinearSchedule`) and ``grad_clip``.
    train_split : callable or None, default=None
        skorch validation split, e.g. ``skorch.dataset.ValidSplit(0.1)``.
        None trains on all data, as scikit-learn estimators do.
    verbose : int, default=0
        0 is silent; 1 prints skorch's per-epoch table.
    warm_start : bool, default=False
        If True, ``fit`` continues training a fitted model instead of
        starting again from the checkpoint.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; its options are reachable as ``optimizer__<name>``.
    **kwargs
        Further skorch parameters such as ``iterator_train__num_workers`` or
        ``callbacks__print_log__floatfmt``."""

TEXT_FITTED_ATTRIBUTES_DOC = """\
module_ : torch.nn.Module
        The encoder with its pooling and head.
    tokenizer_ : transformers tokenizer
        Tokenizer loaded from the checkpoint; pickled with the estimator.
    checkpoint_path_ : str
        Where the weights were loaded from.
    n_outputs_ : int
        Width of the head.
    n_text_columns_ : int
        1 for single texts, 2 for sentence pairs.
    history_ : skorch.History
        Per-epoch and per-batch training records."""


def fill_doc(cls):
    """Substitute the shared parameter docs into a class docstring."""
    cls.__doc__ = cls.__doc__.replace("{text_parameters}", TEXT_PARAMETERS_DOC).replace(
        "{text_fitted_attributes}", TEXT_FITTED_ATTRIBUTES_DOC
    )
    return cls
