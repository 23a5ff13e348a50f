"""Which encoder weights train, and at what learning rate (``finetune``, ``layer_lr_decay``).

``"full"`` trains everything; ``"head"`` freezes the encoder (kept in eval
mode, so its features are fixed); ``"top_k"`` trains only the top
``trainable_layers`` transformer layers; ``"lora"`` injects low-rank adapters
through ``peft`` and trains only those. Layer-wise learning-rate decay gives
lower layers geometrically smaller learning rates.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

FINETUNE_MODES = ("full", "head", "top_k", "lora")


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The stack of transformer layers of a Hugging Face encoder.

    Found as the longest ``nn.ModuleList`` in the model (``encoder.layer`` in
    BERT, ``transformer.layer`` in DistilBERT, ``layers`` in ModernBERT), so
    it works across architectures without a per-model table.
    """
    stacks = [module for module in encoder.modules() if isinstance(module, nn.ModuleList)]
    if not stacks:
        raise ValueError(
            f"cannot find the transformer layers of {type(encoder).__name__}; use "
            "finetune='full' or 'head' with this checkpoint."
        )
    return max(stacks, key=len)


def embedding_parameters(encoder: nn.Module) -> set[int]:
    """Ids of the parameters of the embedding block (token, position, norm)."""
    block = getattr(encoder, "embeddings", None)
    if block is None:
        block = encoder.get_input_embeddings()
    return {id(param) for param in block.parameters()}


def freeze_for_strategy(encoder: nn.Module, mode: str, trainable_layers: int) -> None:
    """Set ``requires_grad`` on the encoder's parameters for ``mode``.

    ``"lora"`` is handled by :func:`add_lora_adapters`; ``"full"`` leaves
    everything trainable.
    """
    if mode == "full":
        return
    if mode == "head":
        encoder.requires_grad_(False)
        return
    if mode == "top_k":
        layers = encoder_layers(encoder)
        if trainable_layers > len(layers):
            raise ValueError(
                f"trainable_layers={trainable_layers} but the checkpoint has only "
                f"{len(layers)} transformer layers; set trainable_layers to at most "
                f"{len(layers)} (or use finetune='full')."
            )
        frozen = embedding_parameters(encoder)
        for layer in layers[: len(layers) - trainable_layers]:
            frozen.update(id(param) for param in layer.parameters())
        for param in encoder.parameters():
            param.requires_grad_(id(param) not in frozen)
        return
    raise ValueError(f"unknown finetune mode {mode!r}; choose one of {FINETUNE_MODES}.")


def add_lora_adapters(
    encoder: nn.Module, r: int, alpha: float, dropout: float, target_modules
) -> nn.Module:
    """Inject LoRA adapters with ``peft`` and make only the adapters trainable.

    Returns the same encoder object, modified in place: its class and
    ``forward`` stay those of the Hugging Face model.
    """
    try:
        from peft import LoraConfig, inject_adapter_in_model
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    except ImportError:
        raise ImportError(
            "finetune='lora' needs the peft library: pip install 'sklattn[lora]' "
            "(or pip install peft)."
        ) from None
    if target_modules is None:
        model_type = getattr(encoder.config, "model_type", None)
        target_modules = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type)
        if target_modules is None:
            raise ValueError(
                f"peft has no default LoRA target modules for model type {model_type!r}; "
                "set lora_target_modules to the names of the attention projections "
                "(e.g. ['q_proj', 'v_proj'])."
            )
    elif isinstance(target_modules, tuple):
        target_modules = list(target_modules)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules)
    try:
        encoder = inject_adapter_in_model(config, encoder)
    except ValueError as exc:  # e.g. target modules not found
        raise ValueError(
            f"could not add LoRA adapters: {exc}. Check lora_target_modules."
        ) from None
    for name, param in encoder.named_parameters():
        param.requires_grad_("lora_" in name)
    return encoder


def layerwise_groups(
    encoder: nn.Module, head: nn.Module, lr: float, decay: float, head_lr: float | None
) -> Iterator[tuple[list[tuple[str, torch.Tensor]], float]]:
    """Trainable parameters grouped by learning rate.

    With ``L`` layers, layer ``i`` (0-based) trains at ``lr * decay**(L-1-i)``,
    the embeddings at ``lr * decay**L``, anything else in the encoder (final
    norms, pooler) at ``lr``; the head at ``head_lr`` (``lr`` when None).

    Yields
    ------
    named_params : list of (name, parameter)
    lr : float
    """
    depth_of: dict[int, int] = {}
    if decay != 1.0:
        layers = encoder_layers(encoder)
        n_layers = len(layers)
        for pid in embedding_parameters(encoder):
            depth_of[pid] = n_layers
        for i, layer in enumerate(layers):
            for param in layer.parameters():
                depth_of[id(param)] = n_layers - 1 - i
    by_depth: dict[int, list[tuple[str, torch.Tensor]]] = {}
    for name, param in encoder.named_parameters():
        if param.requires_grad:
            by_depth.setdefault(depth_of.get(id(param), 0), []).append((f"encoder.{name}", param))
    for depth in sorted(by_depth):
        yield by_depth[depth], lr * decay**depth
    head_params = [(f"head.{name}", p) for name, p in head.named_parameters() if p.requires_grad]
    if head_params:
        yield head_params, lr if head_lr is None else head_lr


def count_trainable(module: nn.Module) -> int:
    """Number of scalar weights that train."""
    return sum(param.numel() for param in module.parameters() if param.requires_grad)
