"""Torch modules of the tabular estimators: feature tokens, an explicit encoder, a head.

The recipe follows FT-Transformer (Gorishniy et al., 2021): per-feature linear
embeddings plus bias, a CLS token, pre-norm blocks whose first attention input
is not normalised, attention dropout, a ReGLU feed-forward, no residual dropout,
and a LayerNorm -> ReLU -> Linear head. The LayerNorm and ReLU belong to the
backbone here, so the head is a single linear layer that a linear probe can
initialise in transfer learning.

Shapes: B = batch, F = features, T = F + 1 tokens (a CLS token first),
D = ``d_model``, H = heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

TABULAR_POOLING_MODES = ("cls", "mean")


class FeatureTokenizer(nn.Module):
    """Turn each numeric feature into a token: ``x_j * w_j + b_j``, or ``m_j`` if NaN.

    Parameters
    ----------
    n_features : int
        Number of input features F.
    d_model : int
        Token width D.
    """

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        scale = 1 / math.sqrt(d_model)
        self.weight = nn.Parameter(torch.empty(n_features, d_model).uniform_(-scale, scale))
        self.bias = nn.Parameter(torch.empty(n_features, d_model).uniform_(-scale, scale))
        self.missing = nn.Parameter(torch.empty(n_features, d_model).uniform_(-scale, scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(x).unsqueeze(-1)  # (B, F, 1)
        # nan_to_num first: a NaN in the unused branch of where() would poison the gradient.
        values = torch.nan_to_num(x, nan=0.0).unsqueeze(-1)  # (B, F, 1)
        tokens = values * self.weight + self.bias  # (B, F, D)
        return torch.where(missing, self.missing.expand_as(tokens), tokens)


class SelfAttention(nn.Module):
    """Multi-head self-attention; fused kernel in training, explicit when weights are asked for."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self, h: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, D = h.shape
        q, k, v = self.qkv(h).view(B, T, 3, self.n_heads, D // self.n_heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D/H)
        weights = None
        if need_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
            weights = scores.softmax(dim=-1)  # rows sum to 1
            dropped = functional.dropout(weights, self.dropout, self.training)
            mixed = dropped @ v  # (B, H, T, D/H)
        else:
            p = self.dropout if self.training else 0.0
            mixed = functional.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out(mixed.transpose(1, 2).reshape(B, T, D)), weights


class EncoderBlock(nn.Module):
    """Pre-norm block: attention, then a ReGLU feed-forward of width 4/3 * D."""

    def __init__(
        self, d_model: int, n_heads: int, dropout: float, attention_dropout: float,
        normalize_input: bool = True,
    ) -> None:
        super().__init__()
        # FT-Transformer leaves the first block's input unnormalised: the feature
        # tokens are already on a common scale.
        self.norm1 = nn.LayerNorm(d_model) if normalize_input else nn.Identity()
        self.attention = SelfAttention(d_model, n_heads, attention_dropout)
        self.norm2 = nn.LayerNorm(d_model)
        hidden = max(1, d_model * 4 // 3)
        self.linear1 = nn.Linear(d_model, 2 * hidden)
        self.ffn_dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, d_model)

    def forward(
        self, h: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.norm1(h), need_weights)  # (B, T, D)
        h = h + attended
        values, gates = self.linear1(self.norm2(h)).chunk(2, dim=-1)  # (B, T, 4D/3) each
        h = h + self.linear2(self.ffn_dropout(values * functional.relu(gates)))
        return h, weights


class TabularBackbone(nn.Module):
    """Feature tokens + CLS token -> ``n_layers`` blocks -> LayerNorm -> ReLU -> pooled vector.

    This is the part :class:`~sklattn.TabularAttentionClassifier` copies in
    transfer learning (``init_from``).
    """

    def __init__(
        self, n_features: int, d_model: int, n_heads: int, n_layers: int,
        dropout: float, pooling: str, attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.tokenizer = FeatureTokenizer(n_features, d_model)
        scale = 1 / math.sqrt(d_model)
        self.cls = nn.Parameter(torch.empty(1, 1, d_model).uniform_(-scale, scale))
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, dropout, attention_dropout, normalize_input=i > 0)
            for i in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def hidden_states(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Token states after each block, ``n_layers`` tensors (B, T, D) with the CLS token
        first, and, if asked, the last layer's attention (B, H, T, T)."""
        tokens = self.tokenizer(x)  # (B, F, D)
        h = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)  # (B, T, D)
        states, weights = [], None
        for i, block in enumerate(self.blocks):
            h, weights = block(h, need_weights and i == len(self.blocks) - 1)
            states.append(h)
        return states, weights

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the pooled vector (B, D) and, if asked, the last layer's attention (B, H, T, T)."""
        states, weights = self.hidden_states(x, need_weights)
        h = states[-1]  # (B, T, D)
        pooled = h[:, 0] if self.pooling == "cls" else h[:, 1:].mean(dim=1)  # (B, D)
        return functional.relu(self.norm(pooled)), weights

    def feature_attention(self, x: torch.Tensor) -> torch.Tensor:
        """How much the pooled output attends to each feature in the last layer: (B, F).

        With ``pooling="cls"`` it is the CLS token's attention row; with
        ``"mean"`` the mean of the feature tokens' rows. Averaged over heads,
        the CLS key dropped and rows renormalised to sum to 1.
        """
        _, weights = self.forward(x, need_weights=True)  # (B, H, T, T)
        weights = weights.mean(dim=1)  # (B, T, T)
        rows = weights[:, 0, 1:] if self.pooling == "cls" else weights[:, 1:, 1:].mean(dim=1)
        return rows / rows.sum(dim=1, keepdim=True).clamp_min(1e-12)  # (B, F)


class TabularAttentionNet(nn.Module):
    """Backbone plus a linear task head producing ``n_outputs`` values."""

    def __init__(
        self, n_features: int, n_outputs: int, *, d_model: int, n_heads: int,
        n_layers: int, dropout: float, pooling: str, attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone = TabularBackbone(
            n_features, d_model, n_heads, n_layers, dropout, pooling, attention_dropout
        )
        self.head = nn.Linear(d_model, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.backbone(x)  # (B, D)
        return self.head(pooled)  # (B, n_outputs)
