"""The in-batch pair objective of ``contrastive_weight``: SetFit's, without its extra passes.

SetFit (Tunstall et al. 2022) first fine-tunes the sentence encoder on pairs
of training texts so that the cosine similarity of two embeddings is 1 when
the texts share a label and 0 when they do not, then fits a linear head. It
draws those pairs as extra forward passes (``2 * num_iterations`` pairs per
text). A training batch of ``B`` texts already holds ``B * (B - 1) / 2``
pairs whose embeddings the classification step computes anyway, so
:func:`pair_similarity_loss` scores all of them at the cost of one ``B x B``
matrix product, and the encoder learns the pair geometry and the head in the
same steps.
"""

from __future__ import annotations

import torch
from torch.nn import functional


def pair_similarity_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared gap between each pair's cosine similarity and whether it shares a label.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (B, H)
        Pooled encoder outputs of one batch.
    labels : torch.Tensor of shape (B,)
        Integer class of each text.

    Returns
    -------
    torch.Tensor
        Scalar: the mean over the ``B * (B - 1)`` ordered pairs of distinct
        texts of ``(cos(u_i, u_j) - [y_i == y_j]) ** 2``; 0 for a batch of one.
    """
    n = embeddings.shape[0]
    if n < 2:
        return embeddings.new_zeros(())
    unit = functional.normalize(embeddings.float(), dim=-1)
    similarity = unit @ unit.T  # (B, B)
    labels = labels.reshape(-1)
    same_label = (labels[:, None] == labels[None, :]).to(similarity.dtype)  # (B, B)
    distinct = ~torch.eye(n, dtype=torch.bool, device=similarity.device)
    return ((similarity - same_label)[distinct] ** 2).mean()
