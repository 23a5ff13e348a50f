"""Torch modules of the tabular estimators: feature tokens, an explicit encoder, a head.

Shapes: B = batch, F = features, T = F + 1 tokens (a CLS token first),
D = ``d_model``, H = heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn

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
    """Multi-head self-attention computed explicitly, so its weights can be returned.

    No dropout on the attention weights: on CPU it cost more than the rest of
    the attention, and residual dropout regularizes enough here.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, D = h.shape
        q, k, v = self.qkv(h).view(B, T, 3, self.n_heads, D // self.n_heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D/H)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
        weights = scores.softmax(dim=-1)  # (B, H, T, T), rows sum to 1
        mixed = (weights @ v).transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        return self.out(mixed), weights


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: attention then a 2x-wide GELU feed-forward."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = SelfAttention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * d_model, d_model),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(self.norm1(h))  # (B, T, D), (B, H, T, T)
        h = h + self.dropout(attended)
        h = h + self.dropout(self.ffn(self.norm2(h)))
        return h, weights


class TabularBackbone(nn.Module):
    """Feature tokens + CLS token -> ``n_layers`` encoder blocks -> pooled vector.

    This is the part :class:`~sklattn.TabularAttentionClassifier` copies in
    transfer learning (``init_from``).
    """

    def __init__(
        self, n_features: int, d_model: int, n_heads: int, n_layers: int,
        dropout: float, pooling: str,
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.tokenizer = FeatureTokenizer(n_features, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model).normal_(std=0.02))
        self.blocks = nn.ModuleList(EncoderBlock(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the pooled vector (B, D) and the last layer's attention (B, H, T, T)."""
        tokens = self.tokenizer(x)  # (B, F, D)
        h = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)  # (B, T, D)
        weights = None
        for block in self.blocks:
            h, weights = block(h)
        h = self.norm(h)
        pooled = h[:, 0] if self.pooling == "cls" else h[:, 1:].mean(dim=1)  # (B, D)
        return pooled, weights

    def feature_attention(self, x: torch.Tensor) -> torch.Tensor:
        """How much the pooled output attends to each feature in the last layer: (B, F).

        With ``pooling="cls"`` it is the CLS token's attention row; with
        ``"mean"`` the mean of the feature tokens' rows. Averaged over heads,
        the CLS key dropped and rows renormalised to sum to 1.
        """
        _, weights = self.forward(x)  # (B, H, T, T)
        weights = weights.mean(dim=1)  # (B, T, T)
        rows = weights[:, 0, 1:] if self.pooling == "cls" else weights[:, 1:, 1:].mean(dim=1)
        return rows / rows.sum(dim=1, keepdim=True).clamp_min(1e-12)  # (B, F)


class TabularAttentionNet(nn.Module):
    """Backbone plus a task head (dropout + linear) producing ``n_outputs`` values."""

    def __init__(
        self, n_features: int, n_outputs: int, *, d_model: int, n_heads: int,
        n_layers: int, dropout: float, pooling: str,
    ) -> None:
        super().__init__()
        self.backbone = TabularBackbone(n_features, d_model, n_heads, n_layers, dropout, pooling)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.backbone(x)  # (B, D)
        return self.head(pooled)  # (B, n_outputs)
