"""The skorch-based core shared by every text estimator.

A fit runs: validate parameters and inputs -> resolve the checkpoint -> load
tokenizer and config -> tokenize every text once -> (seeded) load the encoder,
build the head, train with AdamW and a warmup schedule. Prediction tokenizes,
sorts texts by length so each batch pads as little as possible, and restores
the input order.
"""

from __future__ import annotations

import contextvars
import os
from numbers import Integral, Real
from types import MappingProxyType

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted
from torch.utils.data import Subset

from .checkpoint import load_encoder, load_tokenizer_checked, position_limit
from .data import (
    CHUNK_MODES,
    LONG_TEXT_MODES,
    FeatureDataset,
    LengthGroupedBatchSampler,
    PadCollate,
    TokenizedDataset,
    dataset_lengths,
    dataset_windows,
    length_order,
    pad_token_id,
    tokenize_for_mode,
)
from .encoder_files import ENCODER_CONFIG, encoder_from_config, read_encoder_files, write_encoder_files
from .export import ExportPretrainedMixin
from .feature_cache import cached_features, encoder_fingerprint, item_key
from .finetune import (
    FINETUNE_MODES,
    add_lora_adapters,
    freeze_for_strategy,
    layerwise_groups,
)
from .modules import POOLING_MODES, EncoderWithHead
from .small_data import (
    auto_batch_size, auto_head_lr, auto_learning_rate, auto_long_text, auto_max_epochs, auto_max_length,
    prediction_batch_size,
)
from .._core.inference import run_batches
from .._core.precision import int8_module
from .._core.keys import SAMPLE_WEIGHT
from .._core.net import TRAINING_PARAMETER_CONSTRAINTS, SklattnNet
from .._core.validation import (
    check_consistent_length,
    check_sample_weight,
    check_texts,
    validate_params,
)

# The architecture of the saved model sklattn.load is rebuilding, read by
# _build_encoder while initialize() runs (set and reset around it in _restore).
_SAVED_ENCODER_CONFIG: contextvars.ContextVar = contextvars.ContextVar("saved_encoder_config", default=None)

TEXT_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "checkpoint": [str, os.PathLike],
    "max_length": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
    "pooling": [StrOptions(set(POOLING_MODES))],
    "text_columns": [str, Integral, list, tuple, None],
    "long_text": [StrOptions({*LONG_TEXT_MODES, "auto"})],
    "stride": [Interval(Integral, 0, None, closed="left"), None],
    "max_chunks": [Interval(Integral, 1, None, closed="left"), None],
    "finetune": [StrOptions(set(FINETUNE_MODES))],
    "feature_cache": ["boolean"],
    "trainable_layers": [Interval(Integral, 1, None, closed="left")],
    "lora_r": [Interval(Integral, 1, None, closed="left")],
    "lora_alpha": [Interval(Real, 0, None, closed="neither")],
    "lora_dropout": [Interval(Real, 0, 1, closed="left")],
    "lora_target_modules": [str, list, tuple, None],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "layer_lr_decay": [Interval(Real, 0, 1, closed="right")],
    "head_lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None],
    "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    **{name: constraint for name, constraint in TRAINING_PARAMETER_CONSTRAINTS.items()
       if name not in ("lr", "max_epochs", "batch_size")},
    "group_by_length": ["boolean"],
}


class TextNetBase(ExportPretrainedMixin, SklattnNet):
    """Shared machinery of the text estimators; not public.

    A task mixin (:mod:`sklattn._core.tasks`) supplies target encoding and the
    prediction methods.
    """

    _parameter_constraints: dict[str, list] = TEXT_PARAMETER_CONSTRAINTS
    _fitted_attributes = ("module_", "tokenizer_", "n_outputs_")
    _required_saved_files = (ENCODER_CONFIG,)
    # What module__<name> users mean (EncoderWithHead is built in initialize_module).
    _network_parameters = (
        "checkpoint", "pooling", "dropout", "finetune", "trainable_layers", "long_text",
        "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
    )
    _module_argument_hints = MappingProxyType({
        "encoder": "the encoder is loaded from checkpoint; choose what trains with finetune",
        "n_outputs": "the width of the head is set by y in fit",
        "frozen_encoder": "set finetune='head' to train only the head on a frozen encoder",
        "chunk_pooling": "set long_text='chunk_mean' or long_text='chunk_max'",
    })

    def __init__(
        self,
        checkpoint,
        *,
        max_length,
        pooling,
        text_columns,
        long_text,
        stride,
        max_chunks,
        finetune,
        feature_cache,
        trainable_layers,
        lora_r,
        lora_alpha,
        lora_dropout,
        lora_target_modules,
        dropout,
        lr,
        layer_lr_decay,
        head_lr,
        max_epochs,
        batch_size,
        group_by_length,
        weight_decay,
        warmup_ratio,
        max_grad_norm,
        precision,
        random_state,
        device,
        callbacks,
        train_split,
        verbose,
        warm_start,
        optimizer,
        **kwargs,
    ) -> None:
        super().__init__(
            module=EncoderWithHead,
            criterion=self._criterion_class,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self._drop_init_state()
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.pooling = pooling
        self.text_columns = text_columns
        self.long_text = long_text
        self.stride = stride
        self.max_chunks = max_chunks
        self.finetune = finetune
        self.feature_cache = feature_cache
        self.trainable_layers = trainable_layers
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.layer_lr_decay = layer_lr_decay
        self.head_lr = head_lr
        self.dropout = dropout
        self.group_by_length = group_by_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.precision = precision
        self.random_state = random_state

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # ------------------------------------------------------- skorch overrides
    def initialize_module(self):
        if not hasattr(self, "n_outputs_"):
            raise NotFittedError(
                f"{type(self).__name__} builds its network from the data; call fit "
                "instead of initialize()."
            )
        encoder = self._build_encoder()
        if self.finetune == "lora":
            encoder = add_lora_adapters(
                encoder, self.lora_r, self.lora_alpha, self.lora_dropout, self.lora_target_modules
            )
        else:
            freeze_for_strategy(encoder, self.finetune, self.trainable_layers)
        self.module_ = self._network(encoder)
        return self

    def _network(self, encoder: torch.nn.Module) -> torch.nn.Module:
        """The task network around the (strategy-prepared) encoder."""
        return EncoderWithHead(
            encoder,
            self.n_outputs_,
            self.pooling,
            self.dropout,
            frozen_encoder=self.finetune == "head",
            chunk_pooling="max" if self._fitted_long_text() == "chunk_max" else "mean",
        )

    def _learning_rate(self) -> float:
        """The peak rate ``lr`` stands for, kept as ``lr_`` (``"auto"``: see small_data)."""
        if self.lr == "auto":
            config = getattr(self.module_.encoder, "config", None)
            self.lr_ = auto_learning_rate(self.finetune, getattr(config, "hidden_size", None))
        else:
            self.lr_ = self.lr
        return self.lr_

    def _auto_max_epochs(self, dataset, batches_per_epoch: int) -> int:
        # max_epochs="auto": see sklattn._text.small_data for the rule and why.
        # A pass costs one window per text where training draws one (chunk_sample).
        windows = len(dataset) if self._samples_windows() else int(dataset_windows(dataset).sum())
        return auto_max_epochs(batches_per_epoch, self.finetune, len(dataset), windows)

    def _samples_windows(self) -> bool:
        """Whether training reads one drawn window per long text (``long_text_="chunk_sample"``)."""
        return self._fitted_long_text() == "chunk_sample"

    def _parameter_groups(self, lr: float):
        # head_lr="auto": see sklattn._text.small_data.
        head_lr = auto_head_lr(lr) if self.head_lr == "auto" else self.head_lr
        return list(layerwise_groups(
            self.module_.encoder, self.module_.head, lr, self.layer_lr_decay, head_lr
        ))

    def _training_batch_size(self, n_texts: int) -> int:
        """``batch_size`` for training on ``n_texts`` texts, kept as ``batch_size_``.

        ``"auto"`` picks by the size of the training split (see
        :mod:`sklattn._text.small_data`).
        """
        self.batch_size_ = auto_batch_size(n_texts) if self.batch_size == "auto" else int(self.batch_size)
        return self.batch_size_

    def _prediction_batch_size(self) -> int:
        """``batch_size`` for prediction: 32 under ``"auto"``."""
        return prediction_batch_size(self.batch_size)

    def _build_encoder(self) -> torch.nn.Module:
        """The bare encoder the head sits on: pretrained weights from the checkpoint.

        While :func:`sklattn.load` rebuilds a saved model, the saved architecture
        with random weights instead (the saved weights are copied in next), so
        loading needs neither the checkpoint nor the network.
        """
        saved_config = _SAVED_ENCODER_CONFIG.get()
        if saved_config is not None:
            return encoder_from_config(saved_config)
        return load_encoder(self.checkpoint_path_)

    # --------------------------------------------------------- saved models
    def _encoder_and_tokenizer(self):
        return self.module_.encoder, self.tokenizer_

    def _write_saved_files(self, directory) -> None:
        write_encoder_files(directory, self.module_.encoder, self.tokenizer_)

    def _restore(self, path, fitted: dict, state: dict, history) -> None:
        config, self.tokenizer_ = read_encoder_files(path)
        token = _SAVED_ENCODER_CONFIG.set(config)
        try:
            super()._restore(path, fitted, state, history)
        finally:
            _SAVED_ENCODER_CONFIG.reset(token)

    def _iterator_kwargs(self, dataset, training: bool, kwargs: dict) -> dict:
        if training and kwargs["batch_size"] == self.batch_size:  # not iterator_train__batch_size
            kwargs["batch_size"] = self._training_batch_size(len(dataset))
        elif kwargs["batch_size"] == "auto":
            kwargs["batch_size"] = self._prediction_batch_size()
        if "collate_fn" not in kwargs:
            kwargs["collate_fn"] = PadCollate(pad_token_id(self.tokenizer_),
                                              sample_windows=training and self._samples_windows())
        if training and self.group_by_length and kwargs["shuffle"] and not {"sampler", "batch_sampler"} & set(kwargs):
            del kwargs["shuffle"]
            kwargs["batch_sampler"] = LengthGroupedBatchSampler(
                dataset_lengths(dataset), kwargs.pop("batch_size")
            )
        return kwargs

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        validate_params(self)
        texts = check_texts(X, text_columns=self.text_columns)
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets: call fit(X, y).")
        check_consistent_length(len(texts), y)
        weights = check_sample_weight(sample_weight, len(texts))
        if continuing:
            self._check_text_columns(texts)
            targets = self._encode_targets(y, fitting=False)
        else:
            targets = self._encode_targets(y, fitting=True, classes=classes)
            self._check_long_text(texts)
            self._load_pretrained(len(texts))
            self.long_text_ = (auto_long_text(len(texts), texts.shape[1])
                               if self.long_text == "auto" else self.long_text)
            self.n_text_columns_ = texts.shape[1]
        weights = self._loss_weights(targets, weights)
        dataset = TokenizedDataset(self._tokenize(texts), targets, weights)
        if not continuing:  # before training, so that its input errors come up front
            self._fit_beside_network(texts, targets, weights)
        self._train(dataset, targets, continuing, fit_params)
        return self

    def _fit_beside_network(self, texts: np.ndarray, targets: np.ndarray, weights) -> None:
        """Fit what predicts beside the network (the classifier's ``tfidf_blend``); a first fit only."""

    def _check_long_text(self, texts: np.ndarray) -> None:
        if self.long_text not in ("truncate", "auto") and texts.shape[1] == 2:
            raise ValueError(
                f"long_text={self.long_text!r} works on single texts, but X holds sentence "
                "pairs; use long_text='truncate' for pairs."
            )

    def _tokenize(self, texts: np.ndarray, long_text: str | None = None) -> dict:
        long_text = self._fitted_long_text() if long_text is None else long_text
        return tokenize_for_mode(
            self.tokenizer_, texts, self._fitted_max_length(), long_text, self.stride, self.max_chunks
        )

    def _load_pretrained(self, n_texts: int) -> None:
        """Resolve the checkpoint, load the tokenizer, resolve and check ``max_length``.

        ``max_length="auto"`` picks by ``n_texts``, the texts of this first fit
        (see :mod:`sklattn._text.small_data`); the result is ``max_length_``.
        """
        self.checkpoint_path_, config, self.tokenizer_ = load_tokenizer_checked(self.checkpoint, self.max_length)
        self.max_length_ = (
            auto_max_length(n_texts, position_limit(config, self.tokenizer_))
            if self.max_length == "auto" else int(self.max_length)
        )

    def _fitted_max_length(self) -> int:
        # Models saved before max_length="auto" existed carry no max_length_.
        return getattr(self, "max_length_", self.max_length)

    def _fitted_long_text(self) -> str:
        """``long_text`` as the first ``fit`` resolved it (``long_text_``).

        Models saved before ``long_text="auto"`` existed carry no ``long_text_``;
        their ``long_text`` is an explicit mode.
        """
        return getattr(self, "long_text_", self.long_text)

    # ----------------------------------------------------------- prediction
    def _check_text_columns(self, texts: np.ndarray) -> None:
        expected = self.n_text_columns_
        if texts.shape[1] != expected:
            kinds = {1: "single texts", 2: "sentence pairs"}
            raise ValueError(
                f"{type(self).__name__} was fitted on {kinds[expected]} but got "
                f"{kinds[texts.shape[1]]}; pass X in the same form as during fit."
            )

    # ------------------------------------------------- frozen-encoder features
    def _uses_feature_cache(self) -> bool:
        return self.finetune == "head" and self.feature_cache

    def _training_data(self, data):
        if not self._uses_feature_cache():
            return data
        features = self._frozen_features(data, self.precision_)
        return FeatureDataset(features, data.lengths, data.y, data.sample_weight)

    def _frozen_features(self, dataset: TokenizedDataset, precision: str) -> np.ndarray:
        """Pooled encoder vectors of every text (B, H), through the process-wide cache.

        ``precision`` is the resolved one ("fp32", "bf16" or, predicting, "int8").
        """
        module = int8_module(self.module_) if precision == "int8" else self.module_
        setting = f"|{self.pooling}|{self.module_.chunk_pooling}|{precision}".encode()
        prefix = encoder_fingerprint(self.module_.encoder) + setting
        keys = [item_key(prefix, dataset[i][0]) for i in range(len(dataset))]

        def embed(batch) -> np.ndarray:
            inputs = {name: value for name, value in batch[0].items() if name != SAMPLE_WEIGHT}
            return module.embed(**inputs).float().cpu().numpy()  # (B, H)

        def encode(indices: list[int]) -> np.ndarray:
            subset = Subset(dataset, indices)
            # fork_rng: a DataLoader draws a seed from the global RNG; training must
            # see the same random stream with and without the cache.
            with torch.random.fork_rng(devices=[]):
                return run_batches(
                    subset, embed, batches=lambda data: self.get_iterator(data, training=False),
                    order=length_order(subset), device=self.device, precision=precision,
                )

        return cached_features(keys, encode)

    def _prediction_texts(self, X) -> np.ndarray:
        """``X`` checked against the fitted model: texts of shape (n_samples, text columns)."""
        check_is_fitted(self)
        texts = check_texts(X, text_columns=self.text_columns)
        self._check_text_columns(texts)
        return texts

    def _dataset_for_prediction(self, texts: np.ndarray, long_text: str | None = None) -> TokenizedDataset:
        """Checked texts (:meth:`_prediction_texts`), tokenized as the fit tokenized."""
        return TokenizedDataset(self._tokenize(texts, long_text))

    def explain(self, X) -> list[dict]:
        """Which tokens the model attended to, per text.

        Uses the last encoder layer's attention from the first token
        ([CLS]) to every token, averaged over heads, with special tokens left
        out and the rest renormalized to sum to 1. This is a view of the
        encoder's attention, not an attribution of the prediction: with
        ``pooling="mean"`` the head reads every token, not only [CLS]. With
        the chunk ``long_text`` modes, only the first window is shown.

        Parameters
        ----------
        X : texts (or sentence pairs) as in :meth:`fit`

        Returns
        -------
        list of dict
            One per text, in input order: ``"tokens"`` (list of str, the
            word pieces after truncation at ``max_length``) and ``"weights"``
            (float32 array of the same length, summing to 1).
        """
        from .explain import first_token_attention

        chunked = self._fitted_long_text() in CHUNK_MODES
        dataset = self._dataset_for_prediction(self._prediction_texts(X), "truncate" if chunked else None)
        return first_token_attention(self, dataset)

    def _forward_outputs(self, X) -> np.ndarray:
        """Head outputs for texts ``X``, shape (n_samples, n_outputs), float32."""
        return self._outputs_of_texts(self._prediction_texts(X))

    def _outputs_of_texts(self, texts: np.ndarray) -> np.ndarray:
        """:meth:`_forward_outputs` of texts already checked by :meth:`_prediction_texts`."""
        dataset = self._dataset_for_prediction(texts)
        precision = self._prediction_precision()  # "auto" resolved on this machine, now
        if self._uses_feature_cache():
            # Pooled vectors need no padding: the head runs over them in input order.
            features = FeatureDataset(self._frozen_features(dataset, precision), dataset.lengths)
            return self._module_outputs(features, precision=precision)
        return self._module_outputs(dataset, order=length_order(dataset), precision=precision)
