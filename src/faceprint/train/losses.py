"""Losses. Triplet loss works on L2-normalised embeddings; margin heads produce logits for
cross-entropy (heads.py)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 0.2) -> torch.Tensor:
    """FaceNet's loss: mean over triplets of max(0, |a-p|^2 - |a-n|^2 + margin), embeddings
    L2-normalised first. An empty set of triplets gives a zero loss that still has a graph."""
    a, p, n = F.normalize(anchor), F.normalize(positive), F.normalize(negative)
    if len(a) == 0:
        return anchor.sum() * 0.0
    violation = (a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + margin
    return F.relu(violation).mean()


def margin_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits already rewritten by a head's margin."""
    return F.cross_entropy(logits, labels)
