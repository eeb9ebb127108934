"""Classification heads over embeddings: plain softmax, and margin heads (AM-Softmax, ArcFace).

A margin head owns the class weights, computes cosines between L2-normalised embeddings and
class weights, and lets a margin rewrite the target logits (as insightface's combined margin).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SoftmaxHead(nn.Module):
    """Plain linear classifier (with bias) on the raw embedding."""

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(embeddings)


class AdditiveCosineMargin(nn.Module):
    """AM-Softmax / CosFace: target logit s * (cos - m); others s * cos."""

    def __init__(self, scale: float = 30.0, margin: float = 0.35) -> None:
        super().__init__()
        self.scale, self.margin = scale, margin

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(labels, cosine.shape[1]).to(cosine.dtype)
        return self.scale * (cosine - self.margin * onehot)


class AdditiveAngularMargin(nn.Module):
    """ArcFace: target logit s * cos(theta + m), m in radians.

    Where theta + m would pass pi (cos(theta + m) stops decreasing), the logit falls back to
    cos - m * sin(m), as in the ArcFace reference implementation, so the target stays monotonic.
    """

    def __init__(self, scale: float = 64.0, margin_rad: float = 0.5) -> None:
        super().__init__()
        self.scale, self.margin_rad = scale, margin_rad
        self.cos_m, self.sin_m = math.cos(margin_rad), math.sin(margin_rad)
        self.threshold = math.cos(math.pi - margin_rad)
        self.fallback = math.sin(math.pi - margin_rad) * margin_rad

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        target = cosine.gather(1, labels[:, None]).clamp(-1 + 1e-7, 1 - 1e-7)
        sine = torch.sqrt(1.0 - target * target)
        shifted = target * self.cos_m - sine * self.sin_m
        shifted = torch.where(target > self.threshold, shifted, target - self.fallback)
        logits = cosine.scatter(1, labels[:, None], shifted)
        return self.scale * logits


class MarginHead(nn.Module):
    """Normalised class weights; the margin turns cosines into logits (needs labels in training)."""

    def __init__(self, embedding_dim: int, num_classes: int, margin: nn.Module) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.normal_(self.weight, std=0.01)
        self.margin = margin

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embeddings), F.normalize(self.weight))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cosine = self.cosine(embeddings)
        if labels is None:  # inference: no margin
            return self.margin.scale * cosine
        return self.margin(cosine, labels)


def make_head(kind: str, embedding_dim: int, num_classes: int, scale: float | None = None,
              margin: float | None = None) -> nn.Module:
    """``softmax``, ``am_softmax`` (s=30, m=0.35) or ``arcface`` (s=64, m=0.5 rad)."""
    if kind == "softmax":
        return SoftmaxHead(embedding_dim, num_classes)
    if kind == "am_softmax":
        return MarginHead(embedding_dim, num_classes, AdditiveCosineMargin(scale or 30.0, 0.35 if margin is None else margin))
    if kind == "arcface":
        return MarginHead(embedding_dim, num_classes, AdditiveAngularMargin(scale or 64.0, 0.5 if margin is None else margin))
    raise ValueError(f"head must be softmax, am_softmax or arcface, not {kind!r}")
