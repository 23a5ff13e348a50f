"""Export of a text estimator's fine-tuned encoder as a Hugging Face model directory."""

from __future__ import annotations

import copy
import json
import os

import torch
from sklearn.utils.validation import check_is_fitted

from .._io.atomic import atomic_directory
from .._io.format import EXPORT_MARKER, versions


class ExportPretrainedMixin:
    """Adds :meth:`export_pretrained` to the text estimators."""

    def export_pretrained(self, path: str | os.PathLike) -> None:
        """Write the fine-tuned encoder as a standard Hugging Face model directory.

        ``transformers.AutoModel.from_pretrained(path)`` and
        ``AutoTokenizer.from_pretrained(path)`` then give the same hidden states
        as this estimator's encoder (LoRA adapters are merged into the weights,
        equal up to float rounding). ``sklattn_export.json`` records the
        pooling and ``max_length`` the estimator used.

        The directory is also a sentence-transformers model:
        ``sentence_transformers.SentenceTransformer(path).encode(texts)`` runs
        the encoder, the estimator's pooling (``modules.json``,
        ``1_Pooling/config.json``), truncation at ``max_length``
        (``sentence_bert_config.json``) and, for an
        :class:`~sklattn.AttentionEmbedder` with ``normalize=True``, L2
        normalization (``2_Normalize``). For an embedder this reproduces
        :meth:`~sklattn.AttentionEmbedder.transform`; for a classifier or
        regressor it gives the pooled features its head reads. Two settings
        sentence-transformers cannot reproduce, recorded under
        ``"sentence_transformers"`` in ``sklattn_export.json``: ``long_text``
        other than ``"truncate"`` (it always keeps the first ``max_length``
        tokens, so texts longer than that embed differently: no
        ``"head_tail"`` cut, no windows of the chunk modes), and
        sentence pairs (``encode`` embeds single texts).

        Only the encoder is exported, not sklattn's head: the head reads
        mean/cls/max-pooled token states directly, while every
        ``AutoModelForSequenceClassification`` head adds layers of its own (BERT's
        pooler dense + tanh on [CLS], RoBERTa's dense + tanh head, ...), so no
        standard classification model would reproduce the predictions. Use
        :meth:`save` and :func:`sklattn.load` to keep the whole estimator.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to create, or to replace if it holds an earlier export.

        Examples
        --------
        >>> from transformers import AutoModel, AutoTokenizer
        >>> from sklattn import AttentionClassifier
        >>> checkpoint = "sentence-transformers/all-MiniLM-L6-v2"  # doctest: +SKIP
        >>> texts, labels = ["a good film", "the plot was awful"], ["pos", "neg"]
        >>> clf = AttentionClassifier(checkpoint, max_length=64, max_epochs=1).fit(texts, labels)
        >>> clf.export_pretrained("sentiment-encoder")
        >>> encoder = AutoModel.from_pretrained("sentiment-encoder")
        >>> tokenizer = AutoTokenizer.from_pretrained("sentiment-encoder")
        >>> tokens = tokenizer(["a good film"], return_tensors="pt")  # [CLS] a good film [SEP]
        >>> encoder(**tokens).last_hidden_state.shape
        torch.Size([1, 5, ...])
        """
        export_encoder(self, path)


def _without_adapters(encoder: torch.nn.Module) -> tuple[torch.nn.Module, bool]:
    """A copy of ``encoder`` with LoRA adapters merged into its weights (or itself)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return encoder, False
    if not any(isinstance(module, BaseTunerLayer) for module in encoder.modules()):
        return encoder, False
    merged = copy.deepcopy(encoder)
    for name, module in list(merged.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent), child, module.get_base_layer())
    for attribute in ("peft_config", "_hf_peft_config_loaded"):
        merged.__dict__.pop(attribute, None)
    return merged, True


def export_encoder(estimator, path) -> None:
    """Implementation of :meth:`ExportPretrainedMixin.export_pretrained`."""
    from .checkpoint import quiet_transformers

    check_is_fitted(estimator)
    encoder, tokenizer = estimator._encoder_and_tokenizer()
    plain, merged = _without_adapters(encoder)
    quiet_transformers()
    info = {
        "exported_by": "sklattn", "estimator": type(estimator).__name__,
        "pooling": estimator.pooling,
        "max_length": int(getattr(estimator, "max_length_", estimator.max_length)),  # embedder: no "auto"
        "normalize": getattr(estimator, "normalize", False), "lora_merged": merged,
        "head": "not included: sklattn's head (pooling + dropout + linear) has no "
                "AutoModelForSequenceClassification equivalent; use estimator.save()",
        "versions": versions(),
    }
    st_files = sentence_transformers_files(
        estimator.pooling, int(plain.config.hidden_size), info["max_length"], info["normalize"]
    )
    info["sentence_transformers"] = _sentence_transformers_note(estimator)
    with atomic_directory(path, EXPORT_MARKER, "directory exported by sklattn") as staging:
        plain.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        for relative, content in st_files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        if info["normalize"]:
            (staging / "2_Normalize").mkdir(exist_ok=True)  # sentence-transformers' own layout
        (staging / EXPORT_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


# sklattn pooling -> the boolean of sentence-transformers' Pooling config (the
# legacy spelling, read by every sentence-transformers release since 2.0).
_ST_POOLING_FLAGS = {
    "mean": "pooling_mode_mean_tokens",
    "cls": "pooling_mode_cls_token",
    "max": "pooling_mode_max_tokens",
}
_ST_MODULES = "sentence_transformers.models."


def sentence_transformers_files(pooling: str, hidden_size: int, max_length: int,
                                normalize: bool) -> dict[str, dict | list]:
    """The JSON files that make an exported encoder a sentence-transformers model.

    Written by hand, without importing sentence-transformers, in the layout its
    own ``save`` produces (``modules.json``: Transformer at the root, Pooling
    in ``1_Pooling``, optionally Normalize in ``2_Normalize``).

    Parameters
    ----------
    pooling : {"mean", "cls", "max"}
        The estimator's pooling; sklattn's mask-aware mean and max and its
        first-token cls are exactly sentence-transformers' modes.
    hidden_size : int
        Width of the token states (``word_embedding_dimension``).
    max_length : int
        Tokens kept per text, special tokens included (``max_seq_length``).
    normalize : bool
        Add the Normalize module (unit L2 norm).

    Returns
    -------
    dict
        Path relative to the export directory -> JSON content.
    """
    if pooling not in _ST_POOLING_FLAGS:
        raise ValueError(f"pooling={pooling!r} has no sentence-transformers equivalent.")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": _ST_MODULES + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": _ST_MODULES + "Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": _ST_MODULES + "Normalize"})
    pooling_config = {"word_embedding_dimension": hidden_size}
    pooling_config.update({flag: mode == pooling for mode, flag in _ST_POOLING_FLAGS.items()})
    pooling_config["pooling_mode_mean_sqrt_len_tokens"] = False
    return {
        "modules.json": modules,
        "1_Pooling/config.json": pooling_config,
        # do_lower_case false: the exported tokenizer already lowercases if it should.
        "sentence_bert_config.json": {"max_seq_length": max_length, "do_lower_case": False},
        # No "__version__": a version newer than the reader's makes it warn.
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer", "prompts": {}, "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _sentence_transformers_note(estimator) -> dict:
    """What ``SentenceTransformer(path).encode`` reproduces of ``estimator``."""
    limits = []
    long_text = getattr(estimator, "long_text_", getattr(estimator, "long_text", "truncate"))
    if long_text != "truncate":
        limits.append(
            f"long_text={long_text!r} is not reproduced: sentence-transformers keeps the first "
            "max_length tokens, so texts longer than max_length embed differently"
        )
    if getattr(estimator, "n_text_columns_", 1) == 2:
        limits.append("sentence pairs are not reproduced: encode() embeds single texts")
    if getattr(estimator, "precision", "fp32") == "bf16":
        limits.append("precision='bf16' autocast is not reproduced: encode() runs in float32")
    output = ("transform()" if hasattr(estimator, "transform") and hasattr(estimator, "normalize")
              else "the pooled features the head reads (the head is not exported)")
    return {"encode_matches": output, "exact": not limits, "limits": limits}


def _linear_head(model: torch.nn.Module, n_outputs: int, hidden_size: int) -> torch.nn.Linear:
    """The single linear layer of a token-classification model's head, or a ValueError."""
    prefix = model.base_model_prefix
    head = [(name, module) for name, module in model.named_children() if name != prefix]
    linears = [(name, module) for name, module in head if isinstance(module, torch.nn.Linear)]
    others = [name for name, module in head if not isinstance(module, torch.nn.Linear)
              and any(True for _ in module.parameters())]
    if len(linears) != 1 or others or linears[0][1].out_features != n_outputs \
            or linears[0][1].in_features != hidden_size:
        raise ValueError(
            f"{type(model).__name__} has a token-classification head "
            f"({', '.join(name for name, _ in head)}) that is not one linear layer on the token "
            "states, so sklattn's head does not map onto it; keep the whole estimator with "
            "save() and sklattn.load() instead."
        )
    return linears[0][1]


def export_token_classifier(estimator, path) -> None:
    """Implementation of :meth:`AttentionTokenClassifier.export_pretrained`."""
    from transformers import AutoModelForTokenClassification

    from .checkpoint import quiet_transformers

    check_is_fitted(estimator)
    quiet_transformers()
    encoder, tokenizer = estimator._encoder_and_tokenizer()
    plain, merged = _without_adapters(encoder)
    config = copy.deepcopy(plain.config)
    config.id2label = {i: str(tag) for i, tag in enumerate(estimator.classes_)}
    config.label2id = {str(tag): i for i, tag in enumerate(estimator.classes_)}
    config.architectures = None
    model = AutoModelForTokenClassification.from_config(config)
    base = getattr(model, model.base_model_prefix)
    missing, unexpected = base.load_state_dict(plain.state_dict(), strict=False)
    unexpected = [name for name in unexpected if not name.startswith("pooler.")]
    if missing or unexpected:
        raise ValueError(
            f"the encoder's weights do not match {type(model).__name__}'s "
            f"{model.base_model_prefix!r} (missing {missing[:3]}, unexpected {unexpected[:3]}); "
            "keep the whole estimator with save() and sklattn.load() instead."
        )
    head = _linear_head(model, estimator.n_outputs_, int(config.hidden_size))
    with torch.no_grad():
        head.weight.copy_(estimator.module_.head.weight.detach().cpu())
        head.bias.copy_(estimator.module_.head.bias.detach().cpu())
    model.eval()
    info = {
        "exported_by": "sklattn", "estimator": type(estimator).__name__,
        "task": "token-classification", "max_length": estimator._fitted_max_length(),
        "stride": estimator._stride(), "lora_merged": merged,
        "word_alignment": "each word is tagged from its first word piece; sentences longer "
                          "than max_length pieces are read in windows overlapping by stride",
        "versions": versions(),
    }
    with atomic_directory(path, EXPORT_MARKER, "directory exported by sklattn") as staging:
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        (staging / EXPORT_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
