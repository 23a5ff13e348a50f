"""AttentionTokenClassifier: tag every word (named entities, parts of speech).

The text machinery of :class:`~sklattn._text.base.TextNetBase` (checkpoint
loading, fine-tuning strategies, AdamW with warmup, length-grouped batches,
saving) with words instead of texts: :mod:`.word_alignment` turns sentences
into windows of word pieces, a linear head reads every token state, and the
loss and predictions use the first piece of each word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_tensor

from .._core.inference import run_batches
from .._core.keys import SAMPLE_WEIGHT
from .._core.validation import check_sample_weight, validate_params
from .._io.registry import register_estimator
from .base import TEXT_PARAMETER_CONSTRAINTS, TextNetBase
from .data import TokenizedDataset, length_order, pad_token_id
from .docs import TOKEN_PARAMETERS, fill_token_doc
from .export import export_token_classifier
from .modules import TokenTaggingModule
from .tagging_metrics import entity_f1, tag_scheme
from .word_alignment import (
    WindowCollate,
    align_sentences,
    check_sentences,
    check_tag_lists,
    gather_word_outputs,
)

# Batch entries that are bookkeeping for the loss and the predictions, not encoder inputs.
_BOOKKEEPING = ("word_index", "chunk_owner")

@register_estimator
@fill_token_doc
class AttentionTokenClassifier(TextNetBase):
    """Word tagger (named entities, parts of speech) that fine-tunes a transformer encoder.

    ``X`` holds sentences, each a list of words, the way CoNLL files and
    sklearn-crfsuite hold them (``[["John", "lives", "in", "Paris"], ...]``);
    a sentence given as one string is split on whitespace (``str.split()``),
    so ``"John lives in Paris"`` is the same sentence. ``y`` holds one list of
    string tags per sentence, as long as the sentence (e.g. IOB2 ``B-PER``,
    ``I-PER``, ``O``, or part-of-speech tags).

    Each word is split into word pieces; the first piece of a word carries its
    tag, the other pieces are ignored by the loss. A sentence longer than
    ``max_length`` pieces is read in overlapping windows, and every word
    still gets exactly one tag. A linear head on every token state gives the
    tag logits, trained with cross-entropy, AdamW, linear warmup and decay.
    Built on skorch's ``NeuralNet`` like the other sklattn estimators:
    skorch parameters, prefixes, callbacks and ``history_`` all work.

    Parameters
    ----------
    {token_parameters}

    Attributes
    ----------
    classes_ : ndarray of str, shape (n_tags,)
        Tags seen in ``fit``, sorted: the column order of ``predict_proba``.
    module_ : torch.nn.Module
        The encoder with its token head.
    tokenizer_ : transformers tokenizer
        Tokenizer loaded from the checkpoint (a fast tokenizer, which maps
        pieces to words); pickled with the estimator.
    checkpoint_path_ : str
        Where the weights were loaded from.
    n_outputs_ : int
        Number of tags.
    max_epochs_ : int
        Epochs the last ``fit`` or ``partial_fit`` was set to train
        (``max_epochs`` with ``"auto"`` resolved).
    batch_size_ : int
        Sentences per training step of the last ``fit`` or ``partial_fit``
        (``batch_size`` with ``"auto"`` resolved).
    max_length_ : int
        Word pieces per window (``max_length`` with ``"auto"`` resolved by
        the first ``fit``).
    history_ : skorch.History
        Per-epoch and per-batch training records.

    Examples
    --------
    >>> from sklattn import AttentionTokenClassifier
    >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
    >>> X = [["the", "film", "was", "good"], ["a", "lovely", "story"]]
    >>> y = [["O", "O", "O", "B-OPINION"], ["O", "B-OPINION", "O"]]
    >>> tagger = AttentionTokenClassifier(checkpoint, max_length=32, max_epochs=1,
    ...                                   random_state=0).fit(X, y)
    >>> tagger.classes_.tolist()
    ['B-OPINION', 'O']
    >>> [len(tags) for tags in tagger.predict([["a", "good", "plot"], "the music was awful"])]
    [3, 4]
    >>> tagger.predict_proba([["a", "good", "plot"]])[0].shape
    (3, 2)
    """

    _parameter_constraints = {
        **{name: TEXT_PARAMETER_CONSTRAINTS[name] for name in TOKEN_PARAMETERS
           if name in TEXT_PARAMETER_CONSTRAINTS},
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _criterion_class = torch.nn.CrossEntropyLoss
    _fitted_attributes = ("module_", "tokenizer_", "n_outputs_", "classes_")
    _network_parameters = (
        "checkpoint", "dropout", "finetune", "trainable_layers",
        "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
    )
    _module_argument_hints = MappingProxyType({
        "encoder": "the encoder is loaded from checkpoint; choose what trains with finetune",
        "n_outputs": "the number of tags is set by y in fit",
        "frozen_encoder": "set finetune='head' to train only the head on a frozen encoder",
    })

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        *,
        max_length: int | str = "auto",
        stride: int | None = None,
        finetune: str = "full",
        trainable_layers: int = 2,
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        lora_target_modules: list | str | None = None,
        class_weight: dict | str | None = None,
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
        # TextNetBase.__init__ stores the text-only parameters (pooling, long_text,
        # ...), which skorch would then report as parameters of this estimator.
        super(TextNetBase, self).__init__(
            module=TokenTaggingModule,
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
        self.stride = stride
        self.finetune = finetune
        self.trainable_layers = trainable_layers
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.class_weight = class_weight
        self.dropout = dropout
        self.layer_lr_decay = layer_lr_decay
        self.head_lr = head_lr
        self.group_by_length = group_by_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.precision = precision
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # ------------------------------------------------------- skorch overrides
    def _network(self, encoder: torch.nn.Module) -> torch.nn.Module:
        return TokenTaggingModule(
            encoder, self.n_outputs_, self.dropout, frozen_encoder=self.finetune == "head"
        )

    def _iterator_kwargs(self, dataset, training: bool, kwargs: dict) -> dict:
        kwargs.setdefault("collate_fn", WindowCollate(pad_token_id(self.tokenizer_)))
        return super()._iterator_kwargs(dataset, training, kwargs)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = {name: value for name, value in x.items() if name not in _BOOKKEEPING}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean cross-entropy over the words of the batch (first pieces; the rest is ignored)."""
        labels = to_tensor(y_true, device=self.device).reshape(-1)  # (C*T,)
        logits = y_pred.float().reshape(labels.shape[0], -1)  # (C*T, K)
        losses = self.criterion_(logits, labels)  # (C*T,), 0 where ignored
        weights = X.get(SAMPLE_WEIGHT) if isinstance(X, Mapping) else None
        if weights is not None:
            losses = losses * to_tensor(weights, device=self.device).reshape(-1)
        read = (labels != self.criterion_.ignore_index).sum().clamp(min=1)
        return losses.sum() / read

    def _uses_feature_cache(self) -> bool:
        return False  # the cache holds pooled vectors; a tagger reads every token state

    def _samples_windows(self) -> bool:
        return False  # every word needs its label: a tagger trains on every window

    # ------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight, continuing, fit_params, classes=None):
        validate_params(self)
        sentences = check_sentences(X, allow_empty=False)
        if y is None:
            raise ValueError(f"{type(self).__name__} needs tags: call fit(X, y) with one list "
                             "of tags per sentence.")
        tags = check_tag_lists(y, sentences)
        weights = check_sample_weight(sample_weight, len(sentences))
        if continuing:
            targets = self._encode_tags(tags, fitting=False)
        else:
            targets = self._encode_tags(tags, fitting=True, classes=classes)
            self._load_pretrained(len(sentences))
        dataset = TokenizedDataset(self._align(sentences), targets, self._word_weights(targets, weights))
        self._train(dataset, None, continuing, fit_params)
        return self

    def _encode_tags(self, tags: list[list[str]], fitting: bool, classes=None) -> np.ndarray:
        """Tag ids per sentence (object array of int64 arrays), ``classes_`` set when fitting."""
        if fitting:
            seen = np.unique(np.array([tag for row in tags for tag in row], dtype=str))
            if classes is not None:
                declared = check_tag_lists([list(classes)], [list(classes)], what="classes")[0]
                self.classes_ = np.unique(np.array(declared, dtype=str))
            else:
                self.classes_ = seen
            if len(self.classes_) < 2:
                raise ValueError(
                    f"y has only one tag ({self.classes_[0]!r}); a tagger needs at least two "
                    "(e.g. 'O' and an entity tag)."
                )
            self.n_outputs_ = len(self.classes_)
        self._check_known_tags(tags, "were not seen when the model was first fitted; refit "
                                     "from scratch or declare every tag with "
                                     "partial_fit(..., classes=...)")
        index = {tag: i for i, tag in enumerate(self.classes_)}
        targets = np.empty(len(tags), dtype=object)
        for row, sentence_tags in enumerate(tags):
            targets[row] = np.fromiter((index[tag] for tag in sentence_tags), dtype=np.int64,
                                       count=len(sentence_tags))
        return targets

    def _check_known_tags(self, tags: list[list[str]], problem: str) -> None:
        known = set(self.classes_.tolist())
        for row, sentence_tags in enumerate(tags):
            unseen = sorted(set(sentence_tags) - known)
            if unseen:
                raise ValueError(
                    f"y has tags {unseen} (first in sentence {row}) that {problem} "
                    f"(classes_ = {self.classes_.tolist()})."
                )

    def _word_weights(self, targets: np.ndarray, sample_weight: np.ndarray | None):
        """Loss weight of every word (tag weight x sentence weight), mean 1 over all words."""
        if self.class_weight is None and sample_weight is None:
            return None
        flat = np.concatenate(list(targets))
        if self.class_weight is None:
            per_tag = np.ones(self.n_outputs_)
        else:
            present = np.unique(flat)
            per_tag = np.ones(self.n_outputs_)
            per_tag[present] = compute_class_weight(
                self.class_weight, classes=self.classes_[present], y=self.classes_[flat]
            )
        sentence = np.ones(len(targets)) if sample_weight is None else sample_weight
        weights = [per_tag[ids] * sentence[row] for row, ids in enumerate(targets)]
        mean = np.concatenate(weights).mean()
        if mean <= 0:
            raise ValueError("every word has loss weight 0 (sample_weight x class_weight); "
                             "give some sentences or tags a positive weight.")
        out = np.empty(len(weights), dtype=object)
        for row, values in enumerate(weights):
            out[row] = (values / mean).astype(np.float32)
        return out

    def _stride(self) -> int:
        return self._fitted_max_length() // 4 if self.stride is None else int(self.stride)

    def _align(self, sentences: list[list[str]]) -> dict:
        return align_sentences(self.tokenizer_, sentences, self._fitted_max_length(), self._stride())

    # ----------------------------------------------------------- prediction
    def _word_logits(self, X) -> list[np.ndarray]:
        """Tag logits of every word, one (n_words, n_tags) float32 array per sentence."""
        check_is_fitted(self)
        sentences = check_sentences(X, allow_empty=True)
        dataset = TokenizedDataset(self._align(sentences))

        def step(batch) -> list[np.ndarray]:
            inputs, _ = batch
            logits = self.evaluation_step((inputs, None), training=False).float().cpu().numpy()
            owner = inputs["chunk_owner"].cpu().numpy()
            return gather_word_outputs(logits, inputs["word_index"].cpu().numpy(), owner,
                                       int(owner.max()) + 1)

        precision = self._prediction_precision()  # "auto" resolved on this machine, now

        with self._module_for(precision):
            return run_batches(
                dataset, step, batches=lambda data: self.get_iterator(data, training=False),
                order=length_order(dataset), device=self.device, precision=precision,
                progress=self._shows_progress(),
            )

    def predict_proba(self, X) -> list[np.ndarray]:
        """Tag probabilities of every word.

        Parameters
        ----------
        X : sentences as in :meth:`fit` (empty sentences allowed)

        Returns
        -------
        list of ndarray of shape (n_words, n_tags)
            One float32 array per sentence, in input order; row ``j`` belongs
            to word ``j``, columns follow ``classes_``. An empty sentence gives
            a (0, n_tags) array.
        """
        return [torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
                for logits in self._word_logits(X)]

    def predict(self, X) -> list[list[str]]:
        """The most probable tag of every word.

        Parameters
        ----------
        X : sentences as in :meth:`fit` (empty sentences allowed)

        Returns
        -------
        list of list of str
            One tag list per sentence, exactly as long as the sentence
            (empty for an empty sentence).
        """
        return [self.classes_[logits.argmax(axis=1)].tolist() if len(logits) else []
                for logits in self._word_logits(X)]

    def score(self, X, y, sample_weight=None) -> float:
        """Entity-level micro F1 (as ``seqeval.metrics.f1_score``), or word accuracy.

        When every tag is ``O`` or starts with ``B-``, ``I-``, ``E-`` or ``S-``
        (IOB1, IOB2, IOE, IOBES), entities are read with conlleval's rules and
        the score is the micro-averaged entity F1 that NER papers report, equal
        to seqeval's default mode. Other tag sets (parts of speech) score the
        share of words tagged right. BILOU tags raise a ``ValueError`` (rename
        ``L-``/``U-`` to ``E-``/``S-``).

        Parameters
        ----------
        X : sentences as in :meth:`fit`
        y : list of list of str
            True tags; every tag must be one of ``classes_``.
        sample_weight : None
            Not supported (entity F1 has no per-sentence weights).

        Returns
        -------
        float
        """
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__}.score does not take sample_weight: "
                             "entity-level F1 counts entities, not weighted sentences.")
        check_is_fitted(self)
        sentences = check_sentences(X, allow_empty=True)
        tags = check_tag_lists(y, sentences)
        self._check_known_tags(tags, "the model never saw in fit, so it can never predict them; "
                                     "score only on tags of the training data or refit with "
                                     "partial_fit(..., classes=...) declaring them")
        predicted = self.predict(sentences)
        if tag_scheme(self.classes_.tolist()) == "entity":
            return float(entity_f1(tags, predicted))
        flat_true = [tag for row in tags for tag in row]
        flat_pred = [tag for row in predicted for tag in row]
        return float(np.mean([a == b for a, b in zip(flat_true, flat_pred)])) if flat_true else 0.0

    def explain(self, X) -> list[dict]:
        """Which word pieces the model attended to, per sentence.

        The last encoder layer's attention from the first token ([CLS]) to
        every piece, averaged over heads, special tokens left out and the rest
        renormalized to sum to 1 (see :meth:`AttentionClassifier.explain
        <sklattn.AttentionClassifier.explain>`). For a sentence longer than
        one window, only its first window is shown.

        Parameters
        ----------
        X : sentences as in :meth:`fit`

        Returns
        -------
        list of dict
            One per sentence: ``"tokens"`` (list of str, word pieces) and
            ``"weights"`` (float32 array of the same length, summing to 1).
        """
        from .explain import first_token_attention

        check_is_fitted(self)
        features = self._align(check_sentences(X, allow_empty=True))
        first = {name: [windows[0] for windows in values] for name, values in features.items()
                 if name != "word_index"}
        return first_token_attention(self, TokenizedDataset(first))

    # --------------------------------------------------------------- export
    def export_pretrained(self, path: str | os.PathLike) -> None:
        """Write the tagger as a Hugging Face token-classification model directory.

        ``transformers.AutoModelForTokenClassification.from_pretrained(path)``
        loads the fine-tuned encoder with this estimator's head as its
        ``classifier`` and ``config.id2label`` mapping output ``i`` to
        ``classes_[i]``; on the same word pieces it gives the same logits as
        this estimator (LoRA adapters are merged into the weights, equal up to
        float rounding). ``AutoTokenizer.from_pretrained(path)`` loads the
        tokenizer, so ``transformers.pipeline("token-classification",
        model=path)`` runs it. That pipeline tags word pieces of raw text; this
        estimator tags words (first piece) and reads sentences longer than
        ``max_length`` in overlapping windows, recorded in
        ``sklattn_export.json``.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to create, or to replace if it holds an earlier export.

        Raises
        ------
        ValueError
            If the checkpoint's ``AutoModelForTokenClassification`` head is not a
            single linear layer on the token states (then use :meth:`save`).
        """
        export_token_classifier(self, path)
