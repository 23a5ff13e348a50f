"""The skorch-based core shared by every text estimator.

A fit runs: validate parameters and inputs -> resolve the checkpoint -> load
tokenizer and config -> tokenize every text once -> (seeded) load the encoder,
build the head, train with AdamW and a warmup schedule. Prediction tokenizes,
sorts texts by length so each batch pads as little as possible, and restores
the input order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import GradientNormClipping
from skorch.utils import to_tensor
from torch.utils.data import Subset

from ._checkpoint import load_config, load_encoder, load_tokenizer, position_limit, resolve_checkpoint
from ._data import (
    LengthGroupedBatchSampler,
    PadCollate,
    TokenizedDataset,
    dataset_lengths,
    length_order,
    tokenize,
)
from ._modules import POOLING_MODES, EncoderWithHead
from ._skorch_compat import SkorchSklearnMixin, resolve_seed, seeded
from ._validation import check_consistent_length, check_sample_weight, check_texts
from .callbacks import WarmupLinearSchedule

TEXT_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "checkpoint": [str, os.PathLike],
    "max_length": [Interval(Integral, 2, None, closed="left")],
    "pooling": [StrOptions(set(POOLING_MODES))],
    "text_columns": [str, Integral, list, tuple, None],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "group_by_length": ["boolean"],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "warmup_ratio": [Interval(Real, 0, 1, closed="both")],
    "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
    "precision": [StrOptions({"fp32", "bf16"})],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "train_split": [callable, None],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
}


class TextNetBase(SkorchSklearnMixin, NeuralNet):
    """Shared machinery of the text estimators; not public.

    Subclasses define ``_criterion_class``, ``_encode_targets`` and the public
    prediction methods.
    """

    _parameter_constraints: dict[str, list] = TEXT_PARAMETER_CONSTRAINTS
    _fitted_attributes = ("module_", "tokenizer_", "n_outputs_")
    _criterion_class: type[torch.nn.Module] = torch.nn.MSELoss

    def __init__(
        self,
        checkpoint,
        *,
        max_length,
        pooling,
        text_columns,
        dropout,
        lr,
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
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------- skorch overrides
    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("lr_schedule", WarmupLinearSchedule()),
            ("grad_clip", GradientNormClipping(gradient_clip_value=self.max_grad_norm)),
        ]

    def initialize_module(self):
        if not hasattr(self, "n_outputs_"):
            raise NotFittedError(
                f"{type(self).__name__} builds its network from the data; call fit "
                "instead of initialize()."
            )
        encoder = load_encoder(self.checkpoint_path_)
        self.module_ = EncoderWithHead(encoder, self.n_outputs_, self.pooling, self.dropout)
        return self

    def initialize_criterion(self):
        self.criterion_ = self._criterion_class(reduction="none")
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # No weight decay on biases and LayerNorm weights: exactly the 1-D tensors.
        decay, no_decay = [], []
        for _, param in self.get_all_learnable_params():
            (decay if param.ndim >= 2 else no_decay).append(param)
        groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
        kwargs = self.get_params_for("optimizer")
        kwargs.setdefault("lr", self.lr)
        kwargs.setdefault("weight_decay", self.weight_decay)
        self.optimizer_ = self.optimizer([g for g in groups if g["params"]], **kwargs)
        return self

    def get_iterator(self, dataset, training: bool = False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        kwargs.setdefault("collate_fn", PadCollate(self._pad_token_id))
        if training:
            kwargs.setdefault("shuffle", True)
            if self.group_by_length and kwargs["shuffle"] and not {"sampler", "batch_sampler"} & set(kwargs):
                del kwargs["shuffle"]
                kwargs["batch_sampler"] = LengthGroupedBatchSampler(
                    dataset_lengths(dataset), kwargs.pop("batch_size")
                )
        iterator = self.iterator_train if training else self.iterator_valid
        return iterator(dataset, **kwargs)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = {name: value for name, value in x.items() if name != "sample_weight"}
        device_type = torch.device(self.device).type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        losses = self.criterion_(y_pred.float(), y_true)  # (B,) or (B, K)
        if losses.ndim > 1:
            losses = losses.flatten(1).mean(dim=1)  # (B,)
        weights = X.get("sample_weight") if isinstance(X, Mapping) else None
        if weights is not None:
            losses = losses * to_tensor(weights, device=self.device)
        return losses.mean()

    # ------------------------------------------------------------- fitting
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fine-tune the encoder and head on texts ``X`` and targets ``y``.

        Parameters
        ----------
        X : list, array or Series of str, or DataFrame of one or two text columns
            Texts, or sentence pairs as two columns / 2-tuples.
        y : array-like
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self
        """
        continuing = self.warm_start and self.initialized_
        return self._fit(X, y, sample_weight, continuing, fit_params)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing a fitted model.

        The first call initializes like ``fit``. Parameters as in :meth:`fit`;
        ``classes`` (classifier only) declares every label on the first call.
        """
        return self._fit(X, y, sample_weight, bool(self.initialized_), fit_params, classes)

    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        validate_parameter_constraints(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )
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
            self._load_pretrained()
            self.n_text_columns_ = texts.shape[1]
        weights = self._loss_weights(targets, weights)
        dataset = TokenizedDataset(tokenize(self.tokenizer_, texts, self.max_length), targets, weights)
        with seeded(resolve_seed(self.random_state)):
            if not continuing:
                self.initialize()
            NeuralNet.partial_fit(self, dataset, targets, **fit_params)
        return self

    def _load_pretrained(self) -> None:
        """Resolve the checkpoint, load tokenizer and config, check ``max_length``."""
        self.checkpoint_path_ = resolve_checkpoint(self.checkpoint)
        config = load_config(self.checkpoint_path_)
        self.tokenizer_ = load_tokenizer(self.checkpoint_path_)
        limit = position_limit(config, self.tokenizer_)
        if limit is not None and self.max_length > limit:
            raise ValueError(
                f"max_length={self.max_length} exceeds the {limit} positions that checkpoint "
                f"{self.checkpoint!r} supports; set max_length to at most {limit}."
            )

    def _loss_weights(self, targets: np.ndarray, sample_weight: np.ndarray | None):
        """Per-sample loss weights normalised to mean 1, or None when uniform."""
        if sample_weight is None:
            return None
        return (sample_weight / sample_weight.mean()).astype(np.float32)

    def _encode_targets(self, y, fitting: bool, classes=None) -> np.ndarray:
        raise NotImplementedError

    @property
    def _pad_token_id(self) -> int:
        pad = self.tokenizer_.pad_token_id
        return 0 if pad is None else int(pad)

    # ----------------------------------------------------------- prediction
    @available_if(lambda self: False)
    def predict_proba(self, X):  # skorch's; only the classifier provides a real one
        raise AttributeError("predict_proba")

    def _check_text_columns(self, texts: np.ndarray) -> None:
        expected = self.n_text_columns_
        if texts.shape[1] != expected:
            kinds = {1: "single texts", 2: "sentence pairs"}
            raise ValueError(
                f"{type(self).__name__} was fitted on {kinds[expected]} but got "
                f"{kinds[texts.shape[1]]}; pass X in the same form as during fit."
            )

    def _dataset_for_prediction(self, X) -> TokenizedDataset:
        check_is_fitted(self)
        texts = check_texts(X, text_columns=self.text_columns)
        self._check_text_columns(texts)
        return TokenizedDataset(tokenize(self.tokenizer_, texts, self.max_length))

    def explain(self, X) -> list[dict]:
        """Which tokens the model attended to, per text.

        Uses the last encoder layer's attention from the first token
        ([CLS]) to every token, averaged over heads, with special tokens left
        out and the rest renormalized to sum to 1. This is a view of the
        encoder's attention, not an attribution of the prediction: with
        ``pooling="mean"`` the head reads every token, not only [CLS].

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
        from ._explain import first_token_attention

        return first_token_attention(self, self._dataset_for_prediction(X))

    def _forward_outputs(self, X) -> np.ndarray:
        """Head outputs for texts ``X``, shape (n_samples, n_outputs), float32."""
        dataset = self._dataset_for_prediction(X)
        order = length_order(dataset)
        with torch.inference_mode():
            outputs = self.forward(Subset(dataset, order.tolist())).float().numpy()
        restored = np.empty_like(outputs)
        restored[order] = outputs
        return restored
