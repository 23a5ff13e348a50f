"""Export of a text estimator's fine-tuned encoder as a Hugging Face model directory."""

from __future__ import annotations

import copy
import json
import os

import torch
from sklearn.utils.validation import check_is_fitted

from ._atomic import atomic_directory
from ._persistence import EXPORT_MARKER, _encoder_and_tokenizer, _versions


class ExportPretrainedMixin:
    """Adds :meth:`export_pretrained` to the text estimators."""

    def export_pretrained(self, path: str | os.PathLike) -> None:
        """Write the fine-tuned encoder as a standard Hugging Face model directory.

        ``transformers.AutoModel.from_pretrained(path)`` and
        ``AutoTokenizer.from_pretrained(path)`` then give the same hidden states
        as this estimator's encoder (LoRA adapters are merged into the weights,
        equal up to float rounding). ``sklattn_export.json`` records the
        pooling and ``max_length`` the estimator used.

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
    from ._checkpoint import _quiet_transformers

    check_is_fitted(estimator)
    encoder, tokenizer = _encoder_and_tokenizer(estimator)
    plain, merged = _without_adapters(encoder)
    _quiet_transformers()
    info = {
        "exported_by": "sklattn", "estimator": type(estimator).__name__,
        "pooling": estimator.pooling, "max_length": estimator.max_length,
        "normalize": getattr(estimator, "normalize", False), "lora_merged": merged,
        "head": "not included: sklattn's head (pooling + dropout + linear) has no "
                "AutoModelForSequenceClassification equivalent; use estimator.save()",
        "versions": _versions(),
    }
    with atomic_directory(path, EXPORT_MARKER, "directory exported by sklattn") as staging:
        plain.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        (staging / EXPORT_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
