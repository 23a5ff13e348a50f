"""Shared numpydoc sections of the tabular estimators (each section starts unindented)."""

_ARCHITECTURE_DOC = """\
d_model : int, default=64
        Width of each feature token.
    n_heads : int, default=8
        Attention heads; must divide ``d_model``.
    n_layers : int, default=2
        Transformer encoder blocks (pre-norm attention + ReGLU feed-forward).
    pooling : {"cls", "mean"}, default="cls"
        Pool the encoder output from a learned CLS token or as the mean of
        the feature tokens.
    dropout : float, default=0.1
        Dropout inside the feed-forward layers.
    attention_dropout : float, default=0.2
        Dropout on the attention weights.
    categorical_features : "from_dtype", None, array-like of int or str, or bool mask, \
default="from_dtype"
        Which columns are categorical, as in ``HistGradientBoostingClassifier``:
        indices, names (DataFrame input) or a boolean mask; None for none.
        ``"from_dtype"`` takes the columns a network cannot read as numbers:
        pandas ``category``, ``string``, ``bool`` and ``object`` columns
        holding non-numbers, and the columns of a numpy object array that
        hold strings or booleans. Each category value gets a learned token
        (``categories_``); a missing value (None, NaN, ``pd.NA``) its
        column's missing token, and a value not seen in ``fit`` its column's
        unknown token (no error)."""

_TRANSFER_DOC = """\
init_from : fitted estimator, path or None, default=None
        Transfer learning: a fitted TabularAttentionClassifier,
        TabularAttentionRegressor or TabularAttentionPretrainer (pretrained
        on unlabelled rows), or a directory written by its ``save``. Its
        backbone (feature and category tokens, CLS token, encoder blocks,
        final norm), column types, categories and feature standardization
        are copied. The head is copied too when
        the task matches (same ``classes_``, or same number of regression
        outputs), otherwise rebuilt as ``head_init`` says. ``d_model``,
        ``n_heads``, ``n_layers``, the columns (number, names, which are
        categorical) must match the source. The source is never modified, and ``clone`` keeps it as given.
    freeze_backbone : bool or int, default=False
        Train only the head: ``True`` for the whole fit, an int for the first
        that many epochs of each fit.
    head_init : {"linear_probe", "random"}, default="linear_probe"
        How a rebuilt head starts under ``init_from``: fitted as a logistic
        (classifier) or ridge (regressor) regression on the frozen backbone's
        features of the training rows, then fine-tuned with everything else
        (LP-FT), or randomly. Ignored without ``init_from`` or when the head
        is copied."""

_LR_EPOCHS_DOC = """\
lr : float, default=1e-3 (classifier) or 1e-4 (regressor)
        Peak learning rate of AdamW.
    max_epochs : int, default=200
        Upper bound on the passes over the training data per ``fit``
        (early stopping usually ends training much sooner)."""

_BATCH_SIZE_DOC = """\
batch_size : int or "auto", default="auto"
        Samples per optimizer step (and per prediction batch). ``"auto"``
        picks from the number of training rows n: 32 up to 4,095 rows, then
        the largest power of two not above n / 64, at most 512 (so an epoch
        stays near 64-128 steps on large tables); ``batch_size_`` records it."""

_TRAINING_DOC = """\
weight_decay : float, default=1e-5
        AdamW weight decay, not applied to 1-D parameters (biases, LayerNorm).
    warmup_ratio : float, default=0.0
        Fraction of the ``max_epochs`` optimizer steps spent in linear warmup,
        followed by linear decay to zero over the rest.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training rows (stratified for
        classifiers, seeded by ``random_state``), stop after
        ``n_iter_no_change`` epochs without a lower validation loss and keep
        the weights of the best epoch. With a ``train_split``, its validation
        set is used instead. Fits on a single row train without it.
    validation_fraction : float, default=0.15
        Share of the training rows held out for early stopping.
    n_iter_no_change : int, default=20
        Epochs without improvement of the validation loss before stopping."""

_COMMON_DOC = """\
max_grad_norm : float or None, default=1.0
        Clip the global gradient norm; None disables clipping.
    precision : {"auto", "fp32", "bf16", "int8"}, default="auto"
        Numeric precision of the forward passes; the weights stay float32.
        ``"bf16"`` runs them under bfloat16 autocast; ``"auto"`` uses bf16
        where the hardware runs it fast (CUDA with native bf16; CPUs with AMX
        or AVX-512 BF16 that oneDNN uses) and fp32 elsewhere, decided again
        at each fit and prediction on the machine running it (``precision_``
        records the fit's). ``"int8"`` predicts with int8 dynamically
        quantized Linear layers (CPU only) and trains as ``"auto"``; on these
        small networks neither bf16 nor int8 changes the speed much.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, dropout, shuffling and the validation split of
        a fit (global RNG state is restored afterwards).
    device : str or torch.device, default="cpu"
        Where the network trains and predicts.
    callbacks : list or None, default=None
        Extra skorch callbacks.
    train_split : callable or None, default=None
        skorch validation split (e.g. ``skorch.dataset.ValidSplit(5)``);
        None uses the internal split when ``early_stopping`` is on, and
        trains on all rows otherwise.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch and skorch's epoch table.
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Configure it with ``optimizer__<name>`` parameters.
    **kwargs
        Further skorch parameters: ``iterator_train__*``, ``iterator_valid__*``,
        ``callbacks__<name>__*``, and ``criterion__*``, passed to the loss
        (``CrossEntropyLoss``, e.g. ``criterion__label_smoothing=0.1``;
        ``BCEWithLogitsLoss`` for multi-label ``y``; ``MSELoss``, which takes
        none); ``criterion__reduction`` is fixed and class weights go through
        ``class_weight``. Set on a fitted estimator, ``criterion__*`` takes
        effect at the next ``fit`` and keeps the trained weights.
        ``module__*`` is refused with a ValueError: the network is built from
        ``d_model``, ``n_heads``, ``n_layers``, ``pooling``, ``dropout`` and
        ``attention_dropout``."""

_PARAMETERS_DOC = "\n    ".join(
    [_ARCHITECTURE_DOC, _TRANSFER_DOC, _LR_EPOCHS_DOC, _BATCH_SIZE_DOC, _TRAINING_DOC, _COMMON_DOC]
)

_ATTRIBUTES_DOC = """\
n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Column names, when ``X`` in ``fit`` was a DataFrame.
    is_categorical_ : ndarray of bool, shape (n_features,)
        Which columns were treated as categorical.
    categories_ : list of ndarray
        The categories of each categorical column, in column order (a code
        per category; values outside them are unknown).
    feature_mean_, feature_scale_ : ndarray of shape (n_numeric_features,)
        NaN-aware standardization of the numeric columns, applied inside the
        estimator (taken from ``init_from`` when given).
    batch_size_ : int
        The batch size of the last fit (``batch_size`` resolved).
    precision_ : {"fp32", "bf16"}
        The precision the last fit trained in (``precision`` resolved there).
    best_epoch_ : int or None
        Epoch of the last fit whose weights were kept by early stopping
        (None when no validation ran).
    history_ : skorch History
        Per-epoch training log."""

_SUPERVISED_ATTRIBUTES_DOC = _ATTRIBUTES_DOC + """
    head_transferred_ : bool
        Whether the head was copied from ``init_from`` (False without one).
    head_init_ : {"random", "transferred", "linear_probe"}
        How the head of the last initialization started.
    module_ : torch.nn.Module
        The trained ``TabularAttentionNet`` (``module_.backbone``, ``module_.head``)."""

_PRETRAINER_ATTRIBUTES_DOC = _ATTRIBUTES_DOC + """
    module_ : torch.nn.Module
        The trained ``MaskedFeatureNet``; ``module_.backbone`` is what
        ``init_from`` copies."""

_SECTIONS = {
    "{parameters}": _PARAMETERS_DOC,
    "{architecture}": _ARCHITECTURE_DOC,
    "{batch_size}": _BATCH_SIZE_DOC,
    "{common}": _COMMON_DOC,
}


def fill_doc(cls):
    """Put the shared parameter and attribute docs into a tabular estimator's docstring."""
    doc = cls.__doc__
    for placeholder, section in _SECTIONS.items():
        doc = doc.replace(placeholder, section)
    attributes = _PRETRAINER_ATTRIBUTES_DOC if "Pretrain" in cls.__name__ else _SUPERVISED_ATTRIBUTES_DOC
    cls.__doc__ = doc.replace("{attributes}", attributes)
    return cls
