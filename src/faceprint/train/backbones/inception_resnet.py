"""Inception-ResNet-v1, the FaceNet backbone (Szegedy et al. 2016; Schroff et al. 2015).

160x160 RGB in (pixel values 0..255, scaled as (x - 127.5) / 128), a 128-d bottleneck out
(linear, no bias, then batch-norm; the losses and the pipeline L2-normalise). Stem, 5 x block A
(35x35 grid in the paper's 299 px terms), reduction A, 10 x block B, reduction B, 5 x block C,
global average pooling, dropout (keep 0.8), bottleneck. Residual branches are scaled by 0.17,
0.10 and 0.20 before the sum, as in FaceNet. ``width`` scales every channel count (1.0 is the
original 27.9 M-parameter network; smaller values train on a CPU).
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBN(nn.Sequential):
    """Convolution without bias, batch-norm, ReLU (TF-Slim's conv2d with batch_norm)."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] | str = 0) -> None:
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3, momentum=0.005), nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """Parallel branches, concatenated, projected back by a 1x1 conv (with bias, no batch-norm),
    scaled and added to the input; ReLU unless it is the network's last block."""

    def __init__(self, branches: list[nn.Module], mixed: int, channels: int, scale: float,
                 activation: bool = True) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.up = nn.Conv2d(mixed, channels, 1, bias=True)
        self.scale = scale
        self.relu = nn.ReLU(inplace=True) if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.relu(x + self.scale * self.up(mixed))


def block_a(channels: int, c: int, scale: float = 0.17) -> _Residual:
    """Inception-ResNet-A: 1x1 | 1x1-3x3 | 1x1-3x3-3x3, ``c`` filters each."""
    return _Residual([
        ConvBN(channels, c, 1),
        nn.Sequential(ConvBN(channels, c, 1), ConvBN(c, c, 3, padding=1)),
        nn.Sequential(ConvBN(channels, c, 1), ConvBN(c, c, 3, padding=1), ConvBN(c, c, 3, padding=1)),
    ], 3 * c, channels, scale)


def block_b(channels: int, c: int, scale: float = 0.10) -> _Residual:
    """Inception-ResNet-B: 1x1 | 1x1-1x7-7x1, ``c`` filters each."""
    return _Residual([
        ConvBN(channels, c, 1),
        nn.Sequential(ConvBN(channels, c, 1), ConvBN(c, c, (1, 7), padding=(0, 3)),
                      ConvBN(c, c, (7, 1), padding=(3, 0))),
    ], 2 * c, channels, scale)


def block_c(channels: int, c: int, scale: float = 0.20, activation: bool = True) -> _Residual:
    """Inception-ResNet-C: 1x1 | 1x1-1x3-3x1, ``c`` filters each."""
    return _Residual([
        ConvBN(channels, c, 1),
        nn.Sequential(ConvBN(channels, c, 1), ConvBN(c, c, (1, 3), padding=(0, 1)),
                      ConvBN(c, c, (3, 1), padding=(1, 0))),
    ], 2 * c, channels, scale, activation)


class _Concat(nn.Module):
    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class InceptionResNetV1(nn.Module):
    """FaceNet's embedding network; see the module docstring."""

    def __init__(self, in_channels: int = 3, embedding_dim: int = 128, width: float = 1.0,
                 keep_probability: float = 0.8) -> None:
        super().__init__()

        def w(channels: int) -> int:
            return max(8, int(round(channels * width)))

        self.stem = nn.Sequential(
            ConvBN(in_channels, w(32), 3, stride=2), ConvBN(w(32), w(32), 3), ConvBN(w(32), w(64), 3, padding=1),
            nn.MaxPool2d(3, 2), ConvBN(w(64), w(80), 1), ConvBN(w(80), w(192), 3), ConvBN(w(192), w(256), 3, stride=2),
        )
        a = w(256)
        self.repeat_a = nn.Sequential(*(block_a(a, w(32)) for _ in range(5)))
        # reduction A (k, l, m, n = 192, 192, 256, 384)
        self.reduction_a = _Concat(
            nn.MaxPool2d(3, 2),
            ConvBN(a, w(384), 3, stride=2),
            nn.Sequential(ConvBN(a, w(192), 1), ConvBN(w(192), w(192), 3, padding=1), ConvBN(w(192), w(256), 3, stride=2)),
        )
        b = a + w(384) + w(256)
        self.repeat_b = nn.Sequential(*(block_b(b, w(128)) for _ in range(10)))
        self.reduction_b = _Concat(
            nn.MaxPool2d(3, 2),
            nn.Sequential(ConvBN(b, w(256), 1), ConvBN(w(256), w(384), 3, stride=2)),
            nn.Sequential(ConvBN(b, w(256), 1), ConvBN(w(256), w(256), 3, stride=2)),
            nn.Sequential(ConvBN(b, w(256), 1), ConvBN(w(256), w(256), 3, padding=1), ConvBN(w(256), w(256), 3, stride=2)),
        )
        c = b + w(384) + w(256) + w(256)
        self.repeat_c = nn.Sequential(*(block_c(c, w(192)) for _ in range(5)),
                                      block_c(c, w(192), scale=1.0, activation=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(1.0 - keep_probability)
        self.bottleneck = nn.Linear(c, embedding_dim, bias=False)
        self.bottleneck_bn = nn.BatchNorm1d(embedding_dim, eps=1e-3, momentum=0.005)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem((x - 127.5) / 128.0)
        x = self.reduction_b(self.repeat_b(self.reduction_a(self.repeat_a(x))))
        x = self.pool(self.repeat_c(x)).flatten(1)
        return self.bottleneck_bn(self.bottleneck(self.dropout(x)))
