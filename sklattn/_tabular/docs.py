"""Shared numpydoc sections of TabularAttentionClassifier and TabularAttentionRegressor."""

_PARAMETERS_DOC = """\
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
    init_from : fitted estimator, path or None, default=None
        Transfer learning: a fitted TabularAttentionClassifier or
        TabularAttentionRegressor, or a directory written by its ``save``.
        Its backbone (feature tokens, CLS token, encoder blocks, final norm)
        and feature standardization are copied. The head is copied too when
        the task matches (same ``classes_``, or same number of regression
        outputs), otherwise rebuilt as ``head_init`` says. ``d_model``,
        ``n_heads``, ``n_layers`` and the number of features must match the
        source. The source is never modified, and ``clone`` keeps it as given.
    freeze_backbone : bool or int, default=False
        Train only the head: ``True`` for the whole fit, an int for the first
        that many epochs of each fit.
    head_init : {"linear_probe", "random"}, default="linear_probe"
        How a rebuilt head starts under ``init_from``: fitted as a logistic
        (classifier) or ridge (regressor) regression on the frozen backbone's
        features of the training rows, then fine-tuned with everything else
        (LP-FT), or randomly. Ignored without ``init_from`` or when the head
        is copied.
    lr : float, default=1e-3 (classifier) or 1e-4 (regressor)
        Peak learning rate of AdamW.
    max_epochs : int, default=200
        Upper bound on the passes over the training data per ``fit``
        (early stopping usually ends training much sooner).
    batch_size : int, default=32
        Samples per optimizer step (and per prediction batch).
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
        Epochs without improvement of the validation loss before stopping.
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

_ATTRIBUTES_DOC = """\
n_features_in_ : int
        Number of features seen in ``fit``.
    feature_mean_, feature_scale_ : ndarray of shape (n_features,)
        NaN-aware standardization applied inside the estimator (taken from
        ``init_from`` when given).
    head_transferred_ : bool
        Whether the head was copied from ``init_from`` (False without one).
    head_init_ : {"random", "transferred", "linear_probe"}
        How the head of the last initialization started.
    precision_ : {"fp32", "bf16"}
        The precision the last fit trained in (``precision`` resolved there).
    best_epoch_ : int or None
        Epoch of the last fit whose weights were kept by early stopping
        (None when no validation ran).
    module_ : torch.nn.Module
        The trained ``TabularAttentionNet`` (``module_.backbone``, ``module_.head``).
    history_ : skorch History
        Per-epoch training log."""


def fill_doc(cls):
    """Put the shared parameter and attribute docs into a tabular estimator's docstring."""
    cls.__doc__ = cls.__doc__.replace("{parameters}", _PARAMETERS_DOC).replace(
        "{attributes}", _ATTRIBUTES_DOC
    )
    return cls
