"""Triplet miners: choose (anchor, positive, negative) indices inside a batch of embeddings."""

from __future__ import annotations

import torch


def _distances(embeddings: torch.Tensor) -> torch.Tensor:
    return torch.cdist(embeddings, embeddings)


def batch_hard(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """For each anchor with a positive: its farthest positive and its nearest negative."""
    d = _distances(embeddings)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = pos_mask.any(1) & neg_mask.any(1)
    hardest_pos = d.masked_fill(~pos_mask, -1.0).argmax(1)
    hardest_neg = d.masked_fill(~neg_mask, float("inf")).argmin(1)
    anchors = torch.nonzero(valid).flatten()
    return anchors, hardest_pos[anchors], hardest_neg[anchors]


def semi_hard(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> tuple[torch.Tensor, ...]:
    """FaceNet's semi-hard mining: for every anchor-positive pair, the nearest negative that is
    still farther than the positive but inside the margin (d_ap < d_an < d_ap + margin). Pairs
    with no such negative are skipped."""
    d = _distances(embeddings)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    a_idx, p_idx = torch.nonzero(same & ~eye, as_tuple=True)
    d_ap = d[a_idx, p_idx][:, None]
    d_an = d[a_idx]
    candidates = (~same[a_idx]) & (d_an > d_ap) & (d_an < d_ap + margin)
    keep = candidates.any(1)
    n_idx = d_an.masked_fill(~candidates, float("inf")).argmin(1)
    return a_idx[keep], p_idx[keep], n_idx[keep]
