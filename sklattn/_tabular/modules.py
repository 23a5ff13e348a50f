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
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional

from .columns import FIRST_CATEGORY_CODE, MISSING_CODE

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


class CategoryTokenizer(nn.Module):
    """Turn each categorical column's integer codes into tokens: ``e_j[code] + b_j``.

    Codes follow :mod:`sklattn._tabular.columns`: 0 missing, 1 unknown, then
    one per category. All columns share one embedding table, offset per
    column. The missing and unknown rows start at zero, so a value never
    seen in training (an unknown category, or a missing value in a column
    that had none) is the column's bias alone, a neutral token; a missing
    value that does occur in training learns its own token.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of categories of each categorical column.
    d_model : int
        Token width D.
    """

    def __init__(self, cardinalities: Sequence[int], d_model: int) -> None:
        super().__init__()
        sizes = torch.tensor([2 + int(n) for n in cardinalities])
        starts = torch.cumsum(sizes, 0) - sizes
        self.register_buffer("offsets", starts, persistent=False)  # rebuilt from cardinalities
        scale = 1 / math.sqrt(d_model)
        self.embedding = nn.Embedding(int(sizes.sum()), d_model)
        with torch.no_grad():
            self.embedding.weight.uniform_(-scale, scale)
            self.embedding.weight[starts] = 0.0  # missing
            self.embedding.weight[starts + 1] = 0.0  # unknown
        self.bias = nn.Parameter(torch.empty(len(sizes), d_model).uniform_(-scale, scale))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.embedding(codes + self.offsets) + self.bias  # (B, C, D)


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
        cardinalities: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.tokenizer = FeatureTokenizer(n_features, d_model)
        # None without categorical columns: the state dict of a numeric model is unchanged.
        self.categories = CategoryTokenizer(cardinalities, d_model) if len(cardinalities) else None
        scale = 1 / math.sqrt(d_model)
        self.cls = nn.Parameter(torch.empty(1, 1, d_model).uniform_(-scale, scale))
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, dropout, attention_dropout, normalize_input=i > 0)
            for i in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def tokens(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        """Feature tokens (B, F, D): the numeric columns' first, then the categorical ones'."""
        tokens = self.tokenizer(x)  # (B, F_num, D)
        if self.categories is not None:
            tokens = torch.cat([tokens, self.categories(x_cat)], dim=1)  # (B, F, D)
        return tokens

    def hidden_states(
        self, x: torch.Tensor, x_cat: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Token states after each block, ``n_layers`` tensors (B, T, D) with the CLS token
        first, and, if asked, the last layer's attention (B, H, T, T)."""
        tokens = self.tokens(x, x_cat)  # (B, F, D)
        h = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)  # (B, T, D)
        states, weights = [], None
        for i, block in enumerate(self.blocks):
            h, weights = block(h, need_weights and i == len(self.blocks) - 1)
            states.append(h)
        return states, weights

    def forward(
        self, x: torch.Tensor, x_cat: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the pooled vector (B, D) and, if asked, the last layer's attention (B, H, T, T)."""
        states, weights = self.hidden_states(x, x_cat, need_weights)
        return self.pool(states[-1]), weights

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """The pooled vector (B, D) of the last token states (B, T, D): what a head reads."""
        pooled = h[:, 0] if self.pooling == "cls" else h[:, 1:].mean(dim=1)  # (B, D)
        return functional.relu(self.norm(pooled))

    def feature_attention(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        """How much the pooled output attends to each feature in the last layer: (B, F).

        With ``pooling="cls"`` it is the CLS token's attention row; with
        ``"mean"`` the mean of the feature tokens' rows. Averaged over heads,
        the CLS key dropped and rows renormalised to sum to 1; columns in
        token order (numeric features, then categorical ones).
        """
        _, weights = self.forward(x, x_cat, need_weights=True)  # (B, H, T, T)
        weights = weights.mean(dim=1)  # (B, T, T)
        rows = weights[:, 0, 1:] if self.pooling == "cls" else weights[:, 1:, 1:].mean(dim=1)
        return rows / rows.sum(dim=1, keepdim=True).clamp_min(1e-12)  # (B, F)


class TabularAttentionNet(nn.Module):
    """Backbone plus a linear task head producing ``n_outputs`` values.

    ``n_features`` counts the numeric columns; ``cardinalities`` gives the
    number of categories of each categorical column (none by default).
    """

    def __init__(
        self, n_features: int, n_outputs: int, *, d_model: int, n_heads: int,
        n_layers: int, dropout: float, pooling: str, attention_dropout: float = 0.0,
        cardinalities: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.backbone = TabularBackbone(
            n_features, d_model, n_heads, n_layers, dropout, pooling, attention_dropout,
            cardinalities,
        )
        self.head = nn.Linear(d_model, n_outputs)

    def forward(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        pooled, _ = self.backbone(x, x_cat)  # (B, D)
        return self.head(pooled)  # (B, n_outputs)


class MaskedFeatureNet(nn.Module):
    """Backbone plus reconstruction heads, for self-supervised pretraining on unlabelled rows.

    Each forward pass hides a random ``mask_ratio`` share of the observed
    values of each row: a hidden number becomes NaN and a hidden category
    the missing code, so both reach the backbone as its learned "missing"
    tokens, exactly as real missing values do. The network then predicts
    every hidden value twice: from the hidden column's own token state
    (as in masked language modelling), and from the pooled vector of the
    row (the one a task head later reads), by per-column linear heads:
    squared error on standardized numbers, cross-entropy over each column's
    categories; the two losses are averaged. In training the masks are
    random (seeded by the fit); in evaluation they are the same for every
    call, so the validation loss of successive epochs compares like with like.

    ``forward`` returns per row the summed loss over its hidden values and
    their count, shape (B, 2); the loss of a batch is the ratio of the sums.
    """

    def __init__(
        self, n_features: int, *, d_model: int, n_heads: int, n_layers: int, dropout: float,
        pooling: str, attention_dropout: float = 0.0, cardinalities: Sequence[int] = (),
        mask_ratio: float = 0.3,
    ) -> None:
        super().__init__()
        self.backbone = TabularBackbone(
            n_features, d_model, n_heads, n_layers, dropout, pooling, attention_dropout,
            cardinalities,
        )
        self.mask_ratio = mask_ratio
        self.cardinalities = [int(n) for n in cardinalities]
        scale = 1 / math.sqrt(d_model)
        # Token heads: column j's weight vector reads column j's token state.
        self.token_norm = nn.LayerNorm(d_model)
        self.numeric_weight = nn.Parameter(torch.empty(n_features, d_model).uniform_(-scale, scale))
        self.numeric_bias = nn.Parameter(torch.zeros(n_features))
        self.category_heads = nn.ModuleList(nn.Linear(d_model, n) for n in self.cardinalities)
        # Pooled heads: the row's pooled vector predicts every column.
        self.numeric_head = nn.Linear(d_model, n_features)
        self.category_head = nn.Linear(d_model, sum(self.cardinalities)) if self.cardinalities else None

    def _mask(self, shape: torch.Size, observed: torch.Tensor, generator) -> torch.Tensor:
        draws = torch.rand(shape, generator=generator, device=observed.device)
        return (draws < self.mask_ratio) & observed

    def forward(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        generator = None
        if not self.training:  # the same masks at every evaluation
            generator = torch.Generator(device=x.device).manual_seed(0)
        hidden = self._mask(x.shape, ~torch.isnan(x), generator)  # (B, F_num)
        codes, hidden_cat = None, None
        if x_cat is not None:
            hidden_cat = self._mask(x_cat.shape, x_cat >= FIRST_CATEGORY_CODE, generator)  # (B, C)
            codes = x_cat.masked_fill(hidden_cat, MISSING_CODE)
        states, _ = self.backbone.hidden_states(x.masked_fill(hidden, float("nan")), codes)
        h = states[-1]  # (B, T, D), CLS first
        pooled = self.backbone.pool(h)  # what a task head reads, (B, D)
        n_numeric = x.shape[1]
        tokens = self.token_norm(h[:, 1:])  # (B, F, D)
        values = torch.nan_to_num(x)
        numeric = (tokens[:, :n_numeric] * self.numeric_weight).sum(-1) + self.numeric_bias
        category_logits = [head(tokens[:, n_numeric + j]) for j, head in enumerate(self.category_heads)]
        from_tokens = self._loss(numeric, category_logits, values, x_cat, hidden, hidden_cat)
        numeric = self.numeric_head(pooled)
        category_logits = []
        if self.category_head is not None:
            category_logits = list(self.category_head(pooled).split(self.cardinalities, dim=1))
        from_pooled = self._loss(numeric, category_logits, values, x_cat, hidden, hidden_cat)
        loss = (from_tokens + from_pooled) / 2
        count = hidden.sum(dim=1).float()
        if hidden_cat is not None:
            count = count + hidden_cat.sum(dim=1).float()
        return torch.stack([loss, count], dim=1)  # (B, 2)

    def _loss(self, numeric, category_logits, values, x_cat, hidden, hidden_cat) -> torch.Tensor:
        """Per-row summed loss over the hidden values, (B,)."""
        loss = (((numeric.float() - values) ** 2) * hidden).sum(dim=1)
        for j, logits in enumerate(category_logits):
            target = (x_cat[:, j] - FIRST_CATEGORY_CODE).clamp(0, self.cardinalities[j] - 1)
            cross_entropy = functional.cross_entropy(logits.float(), target, reduction="none")
            loss = loss + cross_entropy * hidden_cat[:, j]
        return loss
