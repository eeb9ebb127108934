"""ResNet-18 for faces (as in the AM-Softmax/ArcFace recipes) and a 3-conv baseline CNN.

Both take float (N, C, H, W) pixel values 0..255 of any size and channel count and return an
``embedding_dim`` vector (not normalised; losses and the pipeline normalise).
"""

from __future__ import annotations

from torch import nn


def _normalise(x):
    return (x - 127.5) / 128.0


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 with a 3x3 stem (stride 1 for small faces, 2 from 96 px up, as the 112 px face
    recipes end at a 7x7 grid), widths 64-512 (``width`` scales them), global average pooling,
    then a linear layer and batch-norm to the embedding."""

    def __init__(self, in_channels: int = 3, embedding_dim: int = 128, width: int = 64, stem_stride: int = 1) -> None:
        super().__init__()
        widths = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, stem_stride, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, cin = [], widths[0]
        for i, cout in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(cin, embedding_dim), nn.BatchNorm1d(embedding_dim))

    def forward(self, x):
        return self.embed(self.pool(self.layers(self.stem(_normalise(x)))))


class SmallCNN(nn.Module):
    """The classic baseline: three conv-relu-pool stages and a dense embedding."""

    def __init__(self, in_channels: int = 3, embedding_dim: int = 128) -> None:
        super().__init__()
        stages, cin = [], in_channels
        for cout in (32, 64, 128):
            stages += [nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        # global pooling keeps any input size exportable to ONNX (GlobalAveragePool)
        self.features = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, embedding_dim))

    def forward(self, x):
        return self.embed(self.features(_normalise(x)))
