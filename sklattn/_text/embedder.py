"""AttentionEmbedder: texts to fixed-size vectors with a pretrained encoder.

``fit`` loads the tokenizer and encoder (and optionally fine-tunes the encoder
through :class:`AttentionClassifier` / :class:`AttentionRegressor`);
``transform`` tokenizes, sorts texts by length so each batch pads as little as
possible, pools the last hidden states, and restores the input order.
"""

from __future__ import annotations

import copy
import inspect
import os
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_feature_names, check_is_fitted
from torch.utils.data import DataLoader

from .._core.compat import resolve_seed, seeded
from .._core.inference import run_batches
from .._core.precision import int8_module, resolve_precision
from .._core.validation import check_texts, validate_params
from .._io.load import copy_weights, set_fitted_attributes
from .._io.registry import register_estimator
from .._io.save import SaveMixin
from .base import TEXT_PARAMETER_CONSTRAINTS
from .checkpoint import load_encoder, load_tokenizer_checked
from .classifier import AttentionClassifier
from .data import (
    LONG_TEXT_MODES, PadCollate, TokenizedDataset, length_order, pad_token_id, resolve_stride, tokenize_for_mode,
)
from .encoder_files import ENCODER_CONFIG, encoder_from_config, read_encoder_files, write_encoder_files
from .export import ExportPretrainedMixin
from .finetune import add_lora_adapters
from .modules import pool, pool_chunks
from .regressor import AttentionRegressor
from .small_data import prediction_batch_size

_FINE_TUNE_TASKS = {"classification", "regression"}


@register_estimator
class AttentionEmbedder(
    SaveMixin, ExportPretrainedMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Turn texts into fixed-size vectors with a pretrained transformer encoder.

    ``fit`` loads the tokenizer and encoder of ``checkpoint``; by default it
    trains nothing and ignores ``y``. ``transform`` returns one pooled (and by
    default L2-normalized) vector per text, so the embedder can feed any
    scikit-learn estimator, alone or inside a ``ColumnTransformer`` next to
    numeric columns.

    With ``fine_tune`` set and ``y`` given, ``fit`` first fine-tunes the
    encoder on the supervised task by fitting an :class:`AttentionClassifier`
    (discrete ``y``) or :class:`AttentionRegressor` (continuous ``y``) with
    the same checkpoint, ``max_length`` and ``pooling``, then keeps its
    encoder and drops the head. We chose this over contrastive fine-tuning
    (SetFit-style sentence pairs) because it reuses the tested training loop
    of those estimators (warmup schedule, clipping, seeding, bf16) and uses
    exactly the signal a scikit-learn user has: labels or targets per text,
    with no pair mining or extra hyperparameters.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        Hugging Face hub id or a local directory written by
        ``save_pretrained``. Loaded in ``fit``, never in ``__init__``.
    max_length : int, default=128
        Maximum tokens per text, special tokens included; longer texts are
        truncated. Batches are padded only to their own longest text.
    pooling : {"mean", "cls", "max"}, default="mean"
        How token states become one vector: mask-aware mean, first token, or
        mask-aware max.
    long_text : {"truncate", "head_tail", "chunk_mean", "chunk_max", "chunk_sample"}, default="truncate"
        Texts longer than ``max_length``: keep the start; keep the first
        quarter and the last three quarters of the token budget; or cut the
        text into overlapping ``max_length`` windows, embed each, and average
        (``"chunk_mean"``) or take the element-wise max (``"chunk_max"``) of
        the window vectors (before normalization). Fine-tuning reads texts the
        same way, except that under ``"chunk_sample"`` (which embeds as
        ``"chunk_mean"``) it trains on one window per text per epoch, drawn
        in proportion to its tokens.
    stride : int or None, default=None
        Chunk modes: tokens shared by consecutive windows. None uses a
        quarter of ``max_length``. Must be smaller than the text tokens of a
        window.
    max_chunks : int or None, default=16
        Chunk modes: windows kept per text (the first ones). None keeps all.
    normalize : bool, default=True
        Scale every output vector to unit L2 norm (cosine geometry).
    batch_size : int or "auto", default="auto"
        Texts per forward pass, and per optimizer step when fine-tuning.
        ``"auto"`` embeds in batches of 32 and fine-tunes by the rule of
        :class:`AttentionClassifier`: batches of 8 below 128 training texts,
        16 below 512, 32 from there up (more steps per pass on small data).
    precision : {"auto", "fp32", "bf16", "int8"}, default="auto"
        Numeric precision of the encoder's forward passes; the output is
        always float32 and the weights stay float32. ``"auto"`` uses
        ``"bf16"`` (bfloat16 autocast) where the hardware runs it fast (CUDA
        with native bf16; CPUs with AMX or AVX-512 BF16 that oneDNN uses) and
        ``"fp32"`` elsewhere, decided again on the machine that transforms.
        ``"int8"``: ``transform`` runs int8 dynamically quantized Linear
        layers (CPU only; ~2x fp32 speed without bf16 units, vectors differ
        slightly); fine-tuning then trains as ``"auto"``.
    device : str or torch.device, default="cpu"
        Where the encoder runs, e.g. ``"cuda"``.
    fine_tune : bool or {"classification", "regression"}, default=False
        Fine-tune the encoder on ``y`` in ``fit``. ``True`` picks the task
        from ``y`` with :func:`sklearn.utils.multiclass.type_of_target`:
        ``"continuous"`` targets train a regressor, anything else a
        classifier. ``False`` ignores ``y``.
    max_epochs : int or "auto", default="auto"
        Fine-tuning epochs; unused when ``fine_tune=False``. ``"auto"`` is the
        rule of :class:`AttentionClassifier`: on small data enough epochs for
        60 optimizer steps and 2,048 encoded texts (at most 16 passes over
        each), exactly 3 on large data.
    lr : float or "auto", default="auto"
        Peak fine-tuning learning rate of AdamW; unused when ``fine_tune=False``.
        ``"auto"`` is the rule of :class:`AttentionClassifier`: 5e-5 for
        encoders narrower than 768 hidden units (MiniLM-class), 2e-5 from 768
        up (BERT-base class and larger).
    random_state : int, RandomState instance or None, default=None
        Seeds fine-tuning (head initialization, dropout, shuffling) and any
        weights the checkpoint lacks. The same value gives the same vectors.
    fine_tune_params : dict or None, default=None
        Further parameters of the internal estimator, e.g.
        ``{"dropout": 0.2, "class_weight": "balanced", "verbose": 1}``.

    Attributes
    ----------
    encoder_ : transformers.PreTrainedModel
        The (possibly fine-tuned) encoder, in eval mode; pickled with the
        embedder.
    tokenizer_ : transformers tokenizer
        Tokenizer loaded from the checkpoint; pickled with the embedder.
    checkpoint_path_ : str
        Where the weights were loaded from.
    n_features_in_ : int
        Always 1: one text column.
    feature_names_in_ : ndarray of shape (1,)
        Name of the text column, when ``X`` was a DataFrame with string
        column names.
    fine_tune_history_ : skorch.History or None
        Training records of the fine-tuning run; None without fine-tuning.
    lr_ : float or None
        The peak learning rate the fine-tuning ran at (what ``lr="auto"``
        resolved to); None without fine-tuning.
    precision_ : {"fp32", "bf16"}
        What ``precision`` resolved to in ``fit`` on its machine (the
        fine-tuning ran in it); ``transform`` resolves ``precision`` again
        where it runs.

    Notes
    -----
    With fine-tuning, ``fit_transform`` returns embeddings of the very texts
    the encoder was trained on, which separate the classes better than
    embeddings of unseen texts will. A downstream model fitted on them (in a
    ``Pipeline``) can be overconfident; cross-validate the whole pipeline.

    Each ``fit`` embeds again; in a grid search over the downstream model
    only, pass ``Pipeline(memory=...)`` to cache the fitted embedder.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklattn import AttentionEmbedder
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts = ["a good film", "the plot was awful", "a lovely story", "a boring scene"]
    >>> labels = ["pos", "neg", "pos", "neg"]
    >>> AttentionEmbedder(checkpoint, max_length=64).fit_transform(texts).shape
    (4, ...)

    One row per text, one column per hidden unit of the encoder (384 for
    all-MiniLM-L6-v2). As the first step of a pipeline:

    >>> pipe = make_pipeline(AttentionEmbedder(checkpoint, max_length=64),
    ...                      LogisticRegression())
    >>> pipe.fit(texts, labels).predict(["a great actor"]).shape
    (1,)
    """

    _required_saved_files = (ENCODER_CONFIG,)
    _parameter_constraints: dict[str, list] = {
        **{
            name: TEXT_PARAMETER_CONSTRAINTS[name]
            for name in ("checkpoint", "pooling", "stride",
                         "max_chunks", "batch_size", "precision", "device", "max_epochs", "lr",
                         "random_state")
        },
        # No "auto": embedding without training has no training-set size to pick by.
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "long_text": [StrOptions(set(LONG_TEXT_MODES))],
        "normalize": ["boolean"],
        "fine_tune": ["boolean", StrOptions(_FINE_TUNE_TASKS)],
        "fine_tune_params": [dict, None],
    }

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int = 128,
        pooling: str = "mean",
        long_text: str = "truncate",
        stride: int | None = None,
        max_chunks: int | None = 16,
        normalize: bool = True,
        batch_size: int | str = "auto",
        precision: str = "auto",
        device: str | torch.device = "cpu",
        fine_tune: bool | str = False,
        max_epochs: int | str = "auto",
        lr: float | str = "auto",
        random_state=None,
        fine_tune_params: dict | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.pooling = pooling
        self.long_text = long_text
        self.stride = stride
        self.max_chunks = max_chunks
        self.normalize = normalize
        self.batch_size = batch_size
        self.precision = precision
        self.device = device
        self.fine_tune = fine_tune
        self.max_epochs = max_epochs
        self.lr = lr
        self.random_state = random_state
        self.fine_tune_params = fine_tune_params

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []  # text in, float32 out
        tags.non_deterministic = bool(self.fine_tune) and self.random_state is None
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "encoder_") and hasattr(self, "tokenizer_")

    @property
    def _n_features_out(self) -> int:
        """Width of the vectors, read by ``get_feature_names_out``."""
        return int(self.encoder_.config.hidden_size)

    # --------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Load the tokenizer and encoder; fine-tune on ``y`` if ``fine_tune`` is set.

        Parameters
        ----------
        X : list, array or Series of str, or DataFrame with one text column
            Texts; only used (for training) when fine-tuning.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Labels or targets for fine-tuning; ignored when ``fine_tune=False``.

        Returns
        -------
        self
        """
        validate_params(self)
        texts = self._check_texts(X, reset=True)
        for name in ("encoder_", "tokenizer_", "checkpoint_path_"):
            self.__dict__.pop(name, None)  # a failed refit must not look fitted
        if self.fine_tune:
            encoder, tokenizer, path, history, lr = self._fine_tuned_encoder(texts, y)
        else:
            encoder, tokenizer, path = self._pretrained_encoder()
            history = lr = None
        self.fine_tune_history_ = history
        self.lr_ = lr
        # What a fit here resolves precision to; transform resolves it again where it runs.
        self.precision_ = resolve_precision(self.precision, self.device, training=True)
        self.checkpoint_path_ = path
        self.tokenizer_ = tokenizer
        self.encoder_ = encoder.to(self.device).eval()
        return self

    def _pretrained_encoder(self):
        path, config, tokenizer = load_tokenizer_checked(self.checkpoint, self.max_length)
        resolve_stride(tokenizer, self.max_length, self.long_text, self.stride)  # fail in fit
        with seeded(resolve_seed(self.random_state)):  # weights the checkpoint lacks
            encoder = load_encoder(path, config=config)
        return encoder, tokenizer, path

    def _fine_tuned_encoder(self, texts: np.ndarray, y):
        if y is None:
            raise ValueError(
                f"fine_tune={self.fine_tune!r} needs targets: call fit(X, y), or set "
                "fine_tune=False to embed with the pretrained encoder as is."
            )
        task = self.fine_tune
        if task is True:
            kind = type_of_target(y, input_name="y")
            task = "regression" if kind.startswith("continuous") else "classification"
        estimator_class = AttentionRegressor if task == "regression" else AttentionClassifier
        params = {
            "max_length": self.max_length, "pooling": self.pooling, "long_text": self.long_text,
            "stride": self.stride, "max_chunks": self.max_chunks, "lr": self.lr,
            "max_epochs": self.max_epochs, "batch_size": self.batch_size, "precision": self.precision,
            "random_state": self.random_state, "device": self.device,
        }
        extra = dict(self.fine_tune_params or {})
        clash = sorted(set(extra) & (set(params) | {"checkpoint"}))
        if clash:
            raise ValueError(
                f"fine_tune_params sets {clash}, which are parameters of "
                f"{type(self).__name__} itself; set them there instead."
            )
        estimator = estimator_class(self.checkpoint, **params, **extra)
        estimator.fit(texts[:, 0], y)
        return (estimator.module_.encoder, estimator.tokenizer_,
                estimator.checkpoint_path_, estimator.history_, estimator.lr_)

    # ------------------------------------------------------------- transform
    def transform(self, X) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        X : list, array or Series of str, or DataFrame with one text column

        Returns
        -------
        ndarray of shape (n_samples, hidden_size), dtype float32
            One vector per text, in input order; unit L2 norm when
            ``normalize=True``.
        """
        check_is_fitted(self)
        texts = self._check_texts(X, reset=False)
        dataset = TokenizedDataset(tokenize_for_mode(
            self.tokenizer_, texts, self.max_length, self.long_text, self.stride, self.max_chunks
        ))
        collate = PadCollate(pad_token_id(self.tokenizer_))
        device = next(self.encoder_.parameters()).device
        precision = resolve_precision(self.precision, device, training=False)  # here, now
        encoder = int8_module(self.encoder_) if precision == "int8" else self.encoder_
        batch_size = prediction_batch_size(self.batch_size)
        return run_batches(
            dataset, lambda batch: self._embed_batch(batch, encoder),
            batches=lambda data: DataLoader(data, batch_size=batch_size, collate_fn=collate),
            order=length_order(dataset), device=device, precision=precision,
        )

    def _embed_batch(self, batch, encoder: torch.nn.Module) -> np.ndarray:
        """Embeddings (B, H), float32, of one padded batch through ``encoder``."""
        inputs = dict(batch[0])
        owner = inputs.pop("chunk_owner", None)  # (C,) in the chunk modes
        hidden = encoder(**inputs).last_hidden_state  # (B or C, T, H)
        vectors = pool(hidden, inputs["attention_mask"], self.pooling).float()
        if owner is not None:
            mode = "max" if self.long_text == "chunk_max" else "mean"
            vectors = pool_chunks(vectors, owner, mode)  # (B, H)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2.0, dim=1)
        return vectors.cpu().numpy()

    def _check_texts(self, X, reset: bool) -> np.ndarray:
        """Validate single texts; record (reset) or check the DataFrame column name."""
        texts = check_texts(X)
        if texts.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} embeds one text column, but X has {texts.shape[1]} "
                "columns. To embed several text columns, give each its own "
                "AttentionEmbedder in a sklearn.compose.ColumnTransformer."
            )
        _check_feature_names(self, X, reset=reset)
        if reset:
            self.n_features_in_ = 1
        return texts

    # ----------------------------------------------------------- persistence
    def _encoder_and_tokenizer(self):
        return self.encoder_, self.tokenizer_

    def _saved_network(self) -> torch.nn.Module:
        return self.encoder_

    def _saved_history(self):
        return self.fine_tune_history_

    def _write_saved_files(self, directory) -> None:
        write_encoder_files(directory, self.encoder_, self.tokenizer_)

    def _restore(self, path, fitted: dict, state: dict, history) -> None:
        from skorch.history import History

        config, tokenizer = read_encoder_files(path)
        with seeded(0):  # random weights, overwritten next
            encoder = encoder_from_config(config)
            if any("lora_" in name for name in state):
                encoder = self._with_lora(encoder)
        copy_weights(encoder, state, path)
        set_fitted_attributes(self, fitted)
        self.tokenizer_ = tokenizer
        self.fine_tune_history_ = None if history is None else History(history)
        self.encoder_ = encoder.to(self.device).eval()

    def _with_lora(self, encoder: torch.nn.Module) -> torch.nn.Module:
        """Inject the LoRA adapters of an embedder fine-tuned with ``finetune="lora"``."""
        defaults = {name: parameter.default
                    for name, parameter in inspect.signature(AttentionClassifier).parameters.items()}
        settings = {**defaults, **(self.fine_tune_params or {})}
        return add_lora_adapters(encoder, settings["lora_r"], settings["lora_alpha"],
                                 settings["lora_dropout"], settings["lora_target_modules"])

    def __getstate__(self):
        state = super().__getstate__()
        encoder = state.get("encoder_")
        if encoder is not None and next(encoder.parameters()).device.type != "cpu":
            # Pickles must load on machines without the training device.
            state["encoder_"] = copy.deepcopy(encoder).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        encoder = state.get("encoder_")
        if encoder is None:
            return
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"{type(self).__name__} was saved with device={self.device!r} but CUDA is "
                "not available; the encoder stays on the CPU.", UserWarning, stacklevel=2,
            )
            return
        self.encoder_ = encoder.to(device)
