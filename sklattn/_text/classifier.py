"""AttentionClassifier: fine-tune a transformer encoder for text classification."""

from __future__ import annotations

import os
from numbers import Real

import numpy as np
import torch
from skorch.utils import to_tensor
from sklearn.utils._param_validation import Interval, StrOptions

from .._io.registry import register_estimator
from .base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from .docs import fill_doc
from .._core.tasks import ClassifierTaskMixin
from .contrastive import pair_similarity_loss
from .small_data import auto_contrastive_weight, auto_tfidf_blend
from .tfidf_blend import blend_log_proba, fit_tfidf_model, stored_vectorizer


@register_estimator
@fill_doc
class AttentionClassifier(ClassifierTaskMixin, TextNetBase):
    """Text classifier that fine-tunes a pretrained transformer encoder in ``fit``.

    ``y`` holds one label per text (binary or multiclass, any label type) or
    a 2-D 0/1 indicator matrix for multi-label problems.

    Texts are tokenized inside the estimator, pooled encoder states feed a
    dropout + linear head, and the whole network is trained with AdamW,
    linear warmup and decay, and gradient clipping. Built on skorch's
    ``NeuralNet``: skorch parameters, callbacks and ``history_`` work, and so
    do the ``optimizer__*``, ``iterator_*__*``, ``callbacks__*`` and
    ``criterion__*`` prefixes; ``module__*`` is refused (see ``**kwargs``).

    Parameters
    ----------
    {text_parameters}
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss, as in scikit-learn: ``"balanced"``
        weighs classes inversely to their frequency; a dict maps labels to
        weights (missing labels weigh 1). Not available for multi-label ``y``.
    threshold : float, default=0.5
        Multi-label only: ``predict`` marks a label present when its
        probability reaches this value.
    contrastive_weight : float or "auto", default="auto"
        Weight of a pair objective added to the cross-entropy on every
        training batch: for each pair of texts in the batch, the squared gap
        between the cosine similarity of their pooled embeddings and 1 (same
        label) or 0 (different labels), as in SetFit's contrastive stage but
        on pairs the batch already holds, so it costs no extra forward pass.
        It helps most with few labelled texts (see the README's "Small data").
        ``"auto"`` is 2.0 for single-label ``y`` with a trainable encoder and
        0 (off) for multi-label ``y`` or ``finetune="head"``; an explicit
        weight above 0 is refused there. 0 trains on the cross-entropy alone.
        The fit's value is kept in ``contrastive_weight_``; the pair term is
        part of ``history_``'s ``train_loss``. ``sample_weight`` and
        ``class_weight`` weigh the cross-entropy only.
    tfidf_blend : bool or "auto", default="auto"
        Blend the network's probabilities with those of a TF-IDF (word 1-2
        grams) + logistic regression fitted on the same texts:
        ``p ∝ p_net · (p_tfidf / prior) ** 0.5``, the words' likelihood ratio
        at half weight (the two models share evidence). Few labelled texts teach
        the encoder little about surface tokens (links, hashtags, a topic's
        vocabulary) that word counts read directly. ``"auto"``: for fewer
        than 1,024 single texts with one label each, the first ``fit``
        cross-validates the TF-IDF model and blends only if its out-of-fold
        log-loss beats the class prior's by more than two standard errors;
        otherwise (more texts, sentence pairs, multi-label ``y``) it is off.
        ``True`` always blends (single texts with one label each, at least
        two per class); ``False`` never does. The choice of ``C``
        (cross-validated log-loss, which also calibrates the blend's weight)
        and the test are kept in ``tfidf_``; ``partial_fit`` and
        ``warm_start`` fits keep the model of the first fit, and a
        ``set_params`` after fitting takes effect at the next ``fit``. See the
        README's "Small data".
    {text_kwargs}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, in the column order of ``predict_proba``
        (``0 .. n_labels - 1`` for multi-label ``y``).
    multilabel_ : bool
        Whether ``y`` was a 2-D indicator matrix: sigmoid outputs and a
        per-label binary cross-entropy loss instead of softmax.
    contrastive_weight_ : float
        The pair objective's weight in the last fit (``contrastive_weight``
        with ``"auto"`` resolved).
    tfidf_blend_ : bool
        Whether predictions blend in the TF-IDF model.
    tfidf_ : dict or None
        The TF-IDF side of the first fit, None where ``tfidf_blend`` left it
        out: ``"cv_gain"`` (out-of-fold log-loss gain over the class prior, nats
        per text), ``"cv_gain_se"`` (its standard error), ``"C"`` and
        ``"blend"``; when blended also ``"terms"``, ``"idf"``, ``"coef"``,
        ``"intercept"`` and ``"log_prior"``.
    {text_fitted_attributes}

    Examples
    --------
    >>> from sklattn import AttentionClassifier
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> texts = ["a good film", "the plot was awful", "a lovely story", "a boring scene"]
    >>> labels = ["pos", "neg", "pos", "neg"]
    >>> clf = AttentionClassifier(checkpoint, max_length=64, max_epochs=1,
    ...                           random_state=0).fit(texts, labels)
    >>> clf.classes_.tolist()
    ['neg', 'pos']
    >>> clf.predict_proba(["a great actor", "the music was poor"]).shape
    (2, 2)
    >>> clf.predict(["a great actor"]).shape
    (1,)
    """

    _parameter_constraints = {
        **TEXT_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "contrastive_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "tfidf_blend": ["boolean", StrOptions({"auto"})],
    }

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int | str = "auto",
        pooling: str = "mean",
        text_columns: str | list | None = None,
        long_text: str = "auto",
        stride: int | None = None,
        max_chunks: int | None = 16,
        finetune: str = "full",
        feature_cache: bool = True,
        trainable_layers: int = 2,
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        lora_target_modules: list | str | None = None,
        class_weight: dict | str | None = None,
        threshold: float = 0.5,
        contrastive_weight: float | str = "auto",
        tfidf_blend: bool | str = "auto",
        dropout: float = 0.1,
        lr: float | str = "auto",
        layer_lr_decay: float = 1.0,
        head_lr: float | str | None = "auto",
        max_epochs: int | str = "auto",
        batch_size: int | str = "auto",
        group_by_length: bool = True,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_grad_norm: float | None = 1.0,
        precision: str = "auto",
        random_state=None,
        device: str = "cpu",
        callbacks: list | None = None,
        train_split=None,
        verbose: int = 0,
        warm_start: bool = False,
        optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs,
    ) -> None:
        self.class_weight = class_weight
        self.threshold = threshold
        self.contrastive_weight = contrastive_weight
        self.tfidf_blend = tfidf_blend
        super().__init__(
            checkpoint,
            max_length=max_length,
            pooling=pooling,
            text_columns=text_columns,
            long_text=long_text,
            stride=stride,
            max_chunks=max_chunks,
            finetune=finetune,
            feature_cache=feature_cache,
            trainable_layers=trainable_layers,
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            lora_target_modules=lora_target_modules,
            dropout=dropout,
            lr=lr,
            layer_lr_decay=layer_lr_decay,
            head_lr=head_lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            group_by_length=group_by_length,
            weight_decay=weight_decay,
            warmup_ratio=warmup_ratio,
            max_grad_norm=max_grad_norm,
            precision=precision,
            random_state=random_state,
            device=device,
            callbacks=callbacks,
            train_split=train_split,
            verbose=verbose,
            warm_start=warm_start,
            optimizer=optimizer,
            **kwargs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------- the pair objective
    def _train(self, data, targets, continuing, fit_params, after_initialize=None) -> None:
        self.contrastive_weight_ = self._resolved_contrastive_weight()
        super()._train(data, targets, continuing, fit_params, after_initialize)

    def _resolved_contrastive_weight(self) -> float:
        """``contrastive_weight`` for this fit; refuses a weight the pair objective cannot use."""
        if self.contrastive_weight == "auto":
            # see sklattn._text.small_data for the rule and why
            return auto_contrastive_weight(self.finetune, self.multilabel_)
        weight = float(self.contrastive_weight)
        if weight > 0 and self.multilabel_:
            raise ValueError(
                f"contrastive_weight={self.contrastive_weight!r} needs one label per text, but y "
                "is a multi-label indicator matrix; set contrastive_weight=0 or 'auto' (off for "
                "multi-label y)."
            )
        if weight > 0 and self.finetune == "head":
            raise ValueError(
                f"contrastive_weight={self.contrastive_weight!r} trains the encoder's embeddings, "
                "but finetune='head' freezes the encoder; set contrastive_weight=0 or 'auto' "
                "(off for finetune='head'), or choose another finetune mode."
            )
        return weight

    # The pair term lives in infer/get_loss rather than in a train step, so that every
    # training loop (skorch's, and AccelerateMixin's with its own backward) applies it.
    def infer(self, x, **fit_params):
        if self.module_.training and self.__dict__.get("contrastive_weight_"):
            fit_params = {**fit_params, "return_features": True}  # (outputs, pooled)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not isinstance(y_pred, tuple):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        outputs, embeddings = y_pred
        loss = super().get_loss(outputs, y_true, X=X, training=training)
        labels = to_tensor(y_true, device=self.device)
        return loss + self.contrastive_weight_ * pair_similarity_loss(embeddings, labels)

    # ------------------------------------------------------ the TF-IDF blend
    def _fit_beside_network(self, texts: np.ndarray, targets: np.ndarray, weights) -> None:
        # see sklattn._text.tfidf_blend for the test and the blend
        self.tfidf_, self.tfidf_blend_ = None, False
        if self.tfidf_blend is False:
            return
        if self.tfidf_blend == "auto":
            if not auto_tfidf_blend(len(texts), texts.shape[1], self.multilabel_):
                return
        else:
            self._check_tfidf_blend_input(texts, targets)
        self.tfidf_ = fit_tfidf_model(texts[:, 0], targets, len(self.classes_), weights,
                                      require_gain=self.tfidf_blend == "auto")
        self.tfidf_blend_ = self.tfidf_["blend"]

    def _check_tfidf_blend_input(self, texts: np.ndarray, targets: np.ndarray) -> None:
        if texts.shape[1] != 1:
            raise ValueError(
                "tfidf_blend=True reads single texts, but X holds sentence pairs; set "
                "tfidf_blend=False or 'auto' (off for pairs)."
            )
        if self.multilabel_:
            raise ValueError(
                "tfidf_blend=True needs one label per text, but y is a multi-label indicator "
                "matrix; set tfidf_blend=False or 'auto' (off for multi-label y)."
            )
        fewest = int(np.bincount(targets, minlength=len(self.classes_)).min())
        if fewest < 2:
            raise ValueError(
                f"tfidf_blend=True cross-validates the TF-IDF model, which needs at least 2 "
                f"texts of every class; the rarest class has {fewest}. Add texts or set "
                "tfidf_blend=False or 'auto' (which skips the blend then)."
            )

    def _outputs_of_texts(self, texts: np.ndarray) -> np.ndarray:
        outputs = super()._outputs_of_texts(texts)
        if not self.__dict__.get("tfidf_blend_"):  # also models saved before tfidf_blend
            return outputs
        # Normalized log-probabilities: softmax and argmax read them as logits.
        return blend_log_proba(outputs, self.tfidf_, texts[:, 0], self._tfidf_vectorizer()).astype(np.float32)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_tfidf_vectorizer_cache", None)  # rebuilt on the first prediction
        return state

    def _tfidf_vectorizer(self):
        """The vectorizer of ``tfidf_``, built once per fitted (or loaded) model."""
        cached = self.__dict__.get("_tfidf_vectorizer_cache")
        if cached is None or cached[0] is not self.tfidf_:  # a refit or load replaces tfidf_
            cached = (self.tfidf_, stored_vectorizer(self.tfidf_))
            self.__dict__["_tfidf_vectorizer_cache"] = cached
        return cached[1]
