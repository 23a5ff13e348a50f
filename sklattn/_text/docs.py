"""Parameter documentation shared by the text estimators' docstrings."""

import re

TEXT_PARAMETERS_DOC = """\
checkpoint : str or os.PathLike
        Hugging Face hub id (e.g. ``"sentence-transformers/all-MiniLM-L6-v2"``)
        or a local directory written by ``save_pretrained``. Loaded in ``fit``,
        never in ``__init__``.
    max_length : int or "auto", default="auto"
        Maximum tokens per text (per pair for sentence pairs), special tokens
        included. Longer texts are truncated (or windowed, see ``long_text``);
        batches are padded only to their own longest text. ``"auto"`` reads
        256 tokens when the first ``fit`` gets fewer than 256 texts and 128
        from there up, within the checkpoint's limit: with few labelled texts
        the rest of a long text is evidence worth its cost. The value used is
        ``max_length_``.
    pooling : {"mean", "cls", "max"}, default="mean"
        How token states become one vector: mask-aware mean, first token, or
        mask-aware max.
    text_columns : str, int, list or None, default=None
        DataFrame columns (names) or 2-D array columns (positions) holding
        the texts: one column, or two for sentence pairs. None takes every
        column of a one- or two-column DataFrame of strings; other columns are
        rejected (route them through ``ColumnTransformer``).
    long_text : {"auto", "truncate", "head_tail", "chunk_mean", "chunk_max", "chunk_sample"}, default="auto"
        Texts longer than ``max_length``: keep the start; keep the first
        quarter and the last three quarters of the token budget (head+tail,
        Sun et al. 2019); or cut the text into overlapping ``max_length``
        windows, encode each, and average (``"chunk_mean"``) or take the
        element-wise max (``"chunk_max"``) of the window vectors, in training
        and prediction alike. ``"chunk_sample"`` predicts as ``"chunk_mean"``
        does but trains on one window of each long text per epoch, drawn in
        proportion to its tokens, so that an epoch costs what it costs under
        ``"truncate"`` while the epochs together still read every window
        (where the label shows in one part of a long text only,
        ``"chunk_mean"`` learns it from fewer steps). The chunk modes and
        ``"head_tail"`` take single texts only (not pairs).
        ``"auto"`` is ``"chunk_sample"`` when the first ``fit`` gets fewer
        than 256 single texts (with few labels every sentence of a long text
        counts) and ``"truncate"`` otherwise: large data and pairs are not
        slowed down. A text within ``max_length`` is one window either way;
        a longer one costs one encoder pass per window in prediction (and in
        training under ``"chunk_mean"`` and ``"chunk_max"``). The value used
        is ``long_text_``.
    stride : int or None, default=None
        Chunk modes: tokens shared by consecutive windows. None uses a
        quarter of ``max_length``. Must be smaller than the text tokens of a
        window.
    max_chunks : int or None, default=16
        Chunk modes: windows kept per text (the first ones), which bounds
        memory on very long documents. None keeps all.
    finetune : {"full", "head", "top_k", "lora"}, default="full"
        What trains: everything; only the head on a frozen encoder (kept in
        eval mode, so features are fixed and training is much cheaper); the
        top ``trainable_layers`` transformer layers and the head; or LoRA
        adapters (through ``peft``, ``pip install 'sklattn[lora]'``) and the
        head. Pickles and saved models hold the full weights (adapters
        included), so they are the size of the base model plus the adapters.
    feature_cache : bool, default=True
        ``finetune="head"`` only: encode each text once and train the head
        on cached pooled vectors. The cache is shared by every estimator in
        the process (so ``GridSearchCV`` candidates and folds reuse it),
        keyed by the encoder weights, token ids, pooling and precision, and
        bounded (1 GiB, least recently used first out;
        ``sklattn.clear_feature_cache()`` empties it). False re-encodes every
        batch.
    trainable_layers : int, default=2
        ``finetune="top_k"``: how many of the top transformer layers train.
    lora_r : int, default=8
        ``finetune="lora"``: rank of the adapters.
    lora_alpha : float, default=16.0
        ``finetune="lora"``: adapter scaling (the update is scaled by
        ``lora_alpha / lora_r``).
    lora_dropout : float, default=0.1
        ``finetune="lora"``: dropout on the adapter input.
    lora_target_modules : list of str, str or None, default=None
        ``finetune="lora"``: names of the modules that get adapters; None
        uses peft's default for the model type (``query`` and ``value`` for
        BERT).
    dropout : float, default=0.1
        Dropout before the linear head.
    lr : float or "auto", default="auto"
        Peak learning rate of AdamW. ``"auto"`` picks it from ``finetune``
        and the encoder's width: for ``"full"`` and ``"top_k"`` 5e-5 when the
        encoder has fewer than 768 hidden units (MiniLM-class), 2e-5 from 768
        up (BERT-base class and larger, which 5e-5 moved too far on small
        data); 5e-4 for ``"lora"``, 1e-3 for ``"head"`` (a fresh head or
        zero-initialized adapters barely move at full fine-tuning rates). The
        rate used is ``lr_``.
    layer_lr_decay : float, default=1.0
        Layer-wise learning-rate decay: with ``L`` layers, layer ``i`` (from
        the bottom, 0-based) trains at ``lr * layer_lr_decay**(L-1-i)`` and
        the embeddings at ``lr * layer_lr_decay**L``. 1.0 turns it off.
    head_lr : float, "auto" or None, default="auto"
        Learning rate of the head. ``"auto"`` trains it at ``max(lr, 1e-3)``:
        a freshly initialized head barely moves at the encoder's 2e-5-5e-5 within
        the few steps of a small training set. None uses ``lr``.
    max_epochs : int or "auto", default="auto"
        Passes over the training data per ``fit``. ``"auto"`` fits the count
        to the data. It trains at least 60 optimizer steps (300 for
        ``finetune="head"``, whose steps on cached features cost next to
        nothing) and, with a trainable encoder, encodes at least 2,048 texts
        (windows, for long texts read in several) but no text more than 16
        times on average: ``max(3, ceil(60 / batches_per_epoch),
        min(2048, 16 * n_texts) // n_windows)``, counted on the training split
        of this fit. So 16 texts train 30 epochs, 32-128 texts 16, 256 texts
        8, and from 640 texts on (in batches of 32) exactly 3 (3,200 with
        ``"head"``).
        Three epochs over 16 texts would be 3 optimizer steps, mostly
        warmup, and leave the pretrained encoder almost where it started.
        Warmup (``warmup_ratio``) and decay span the resolved steps.
        ``partial_fit`` resolves ``"auto"`` from the data of each call; the
        value used is kept in ``max_epochs_``.
    batch_size : int or "auto", default="auto"
        Texts per optimizer step (and per prediction batch). ``"auto"``
        trains in batches of 32 from 512 training texts up, of 16 from 128
        and of 8 below. Smaller data then reaches its ``min_steps`` in fewer
        passes over each text, about half the fit time at the same accuracy,
        and takes more steps for the same passes (128 instead of 64 over 256
        texts). Prediction runs in batches of 32. The
        training batch used is kept in ``batch_size_``.
    group_by_length : bool, default=True
        Train on random batches of similar-length texts (shuffle, sort within
        pools of 50 batches, shuffle the batches) so that dynamic padding
        wastes little compute; a training set of under 50 batches meets in
        the same batches every epoch (on few-shot tweets that scored as
        random batches did). False shuffles texts uniformly.
    weight_decay : float, default=0.01
        AdamW weight decay, not applied to biases and LayerNorm weights.
    warmup_ratio : float, default=0.1
        Fraction of the optimizer steps of this fit spent in linear warmup,
        followed by linear decay to zero.
    max_grad_norm : float or None, default=1.0
        Clip the global gradient norm to this value; None disables clipping.
    precision : {"auto", "fp32", "bf16", "int8"}, default="auto"
        Numeric precision of the forward passes; the weights stay float32
        (and are saved so). ``"bf16"`` runs them under bfloat16 autocast.
        ``"auto"`` uses bf16 where the hardware runs it fast (CUDA devices
        with native bf16; CPUs with AMX or AVX-512 BF16 instructions that
        oneDNN really uses, confirmed by a timed check once per process) and
        fp32 elsewhere (bf16 without such units is 8-20x slower). It is
        decided at each ``fit`` and prediction on the machine running it:
        ``precision_`` records the fit's; a model fitted in bf16 predicts in
        fp32 on a machine without bf16 units, and the reverse. ``"int8"``
        predicts with int8 dynamically quantized Linear layers (CPU only;
        about 2x fp32 speed, predictions differ slightly: see the README's
        performance section) and trains as ``"auto"``.
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
        0 is silent, as scikit-learn estimators are; 1 shows a progress bar
        per epoch (batches, time left, mean loss so far) and skorch's epoch
        table, and a bar for predictions that take over a second.
    warm_start : bool, default=False
        If True, ``fit`` continues training a fitted model instead of
        starting again from the checkpoint.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; its options are reachable as ``optimizer__<name>``."""

# Its own placeholder, so that **kwargs comes last, after the estimator's own parameters.
TEXT_KWARGS_DOC = """**kwargs
        Further skorch parameters: ``iterator_train__*`` and
        ``iterator_valid__*`` (e.g. ``iterator_train__num_workers``),
        ``callbacks__<name>__*`` (e.g. ``callbacks__print_log__floatfmt``),
        and ``criterion__*``, passed to the loss: ``CrossEntropyLoss`` (e.g.
        ``criterion__label_smoothing=0.1``), ``BCEWithLogitsLoss`` for
        multi-label ``y`` (e.g. ``criterion__pos_weight``), or ``MSELoss``
        (which takes none). ``criterion__reduction`` is fixed (per-sample
        losses weighted by ``sample_weight``) and class weights go through
        ``class_weight``. Set on a fitted estimator, ``criterion__*`` takes
        effect at the next ``fit`` or ``partial_fit`` and keeps the trained
        weights. ``module__*`` is refused with a ValueError: the network is
        built from the parameters above (``dropout``, ``pooling``,
        ``finetune``, ...)."""

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
    max_epochs_ : int
        Epochs the last ``fit`` or ``partial_fit`` was set to train:
        ``max_epochs`` with ``"auto"`` resolved (before any early stopping).
    batch_size_ : int
        Texts per training step of the last ``fit`` or ``partial_fit``:
        ``batch_size`` with ``"auto"`` resolved.
    max_length_ : int
        Tokens per text (or window): ``max_length`` with ``"auto"`` resolved
        by the first ``fit``; later ``partial_fit`` calls and predictions keep it.
    long_text_ : str
        How texts longer than ``max_length_`` are read: ``long_text`` with
        ``"auto"`` resolved by the first ``fit``; later ``partial_fit`` calls
        and predictions keep it.
    precision_ : {"fp32", "bf16"}
        The precision the last ``fit`` or ``partial_fit`` trained in
        (``precision`` resolved on that machine).
    history_ : skorch.History
        Per-epoch and per-batch training records."""


def fill_doc(cls):
    """Substitute the shared parameter docs into a class docstring."""
    cls.__doc__ = cls.__doc__.replace("{text_parameters}", TEXT_PARAMETERS_DOC).replace(
        "{text_kwargs}", TEXT_KWARGS_DOC
    ).replace("{text_fitted_attributes}", TEXT_FITTED_ATTRIBUTES_DOC)
    return cls


# ------------------------------------------------ AttentionTokenClassifier
TOKEN_PARAMETERS = (
    "checkpoint", "max_length", "stride", "finetune", "trainable_layers", "lora_r",
    "lora_alpha", "lora_dropout", "lora_target_modules", "class_weight", "dropout", "lr",
    "layer_lr_decay", "head_lr", "max_epochs", "batch_size", "group_by_length",
    "weight_decay", "warmup_ratio", "max_grad_norm", "precision", "random_state", "device",
    "callbacks", "train_split", "verbose", "warm_start", "optimizer",
)

_TOKEN_DOC_OVERRIDES = {
    "max_length": """\
max_length : int or "auto", default="auto"
        Word pieces per window, special tokens included. A sentence with more
        pieces is read in several windows overlapping by ``stride`` pieces;
        every word still gets exactly one tag (read in the window where its
        first piece has the most context on both sides). ``"auto"``: 256
        below 256 training sentences, 128 from there up (as the text
        classifier), kept in ``max_length_``.""",
    "stride": """\
stride : int or None, default=None
        Pieces shared by consecutive windows of a long sentence. None uses a
        quarter of ``max_length``. Must be smaller than the pieces of a
        window (``max_length`` minus the special tokens).""",
    "class_weight": """\
class_weight : None, "balanced" or dict, default=None
        Weights of the tags in the loss, as in scikit-learn: ``"balanced"``
        weighs tags inversely to their frequency among the words of ``y``; a
        dict maps tags to weights (missing tags weigh 1). Multiplied with
        ``sample_weight`` (one weight per sentence).""",
    "dropout": """\
dropout : float, default=0.1
        Dropout on the token states before the linear head.""",
    "**kwargs": """\
**kwargs
        Further skorch parameters: ``iterator_train__*``, ``iterator_valid__*``,
        ``callbacks__<name>__*``, ``optimizer__*`` and ``criterion__*``, passed
        to the ``CrossEntropyLoss`` over words (e.g.
        ``criterion__label_smoothing=0.1``). ``module__*`` is refused with a
        ValueError: the network is built from the parameters above.""",
    "batch_size": """\
batch_size : int or "auto", default="auto"
        Sentences per optimizer step (and per prediction batch); a long
        sentence brings all its windows. ``"auto"``: 32 from 512 training
        sentences up, 16 below 512 and 8 below 128 (as the text classifier);
        prediction runs in batches of 32. The training batch used is kept in
        ``batch_size_``.""",
    "finetune": """\
finetune : {"full", "head", "top_k", "lora"}, default="full"
        What trains: everything; only the head on a frozen encoder (kept in
        eval mode); the top ``trainable_layers`` transformer layers and the
        head; or LoRA adapters (through ``peft``, ``pip install
        'sklattn[lora]'``) and the head.""",
}

_ENTRY = re.compile(r"^ {0,4}(\*\*kwargs|[A-Za-z_]\w*) : ")


def _parameter_entries(doc: str) -> dict[str, str]:
    """The entries of a numpy-style Parameters block, by parameter name, unindented."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        match = _ENTRY.match(line) or (re.match(r"^ {0,4}(\*\*kwargs)$", line))
        if match:
            current = match.group(1)
            entries[current] = [line.strip()]
        elif current is not None:
            entries[current].append(line)
    return {name: "\n".join(lines) for name, lines in entries.items()}


def _token_parameters_doc() -> str:
    """The shared text-parameter docs, restricted to this estimator's parameters."""
    shared = _parameter_entries(TEXT_PARAMETERS_DOC)
    names = [*TOKEN_PARAMETERS, "**kwargs"]
    return "\n    ".join(_TOKEN_DOC_OVERRIDES.get(name) or shared[name] for name in names)


def fill_token_doc(cls):
    """Class decorator: put the token classifier's Parameters section in its docstring."""
    cls.__doc__ = cls.__doc__.replace("{token_parameters}", _token_parameters_doc())
    return cls
