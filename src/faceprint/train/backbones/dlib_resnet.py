"""dlib's face-recognition ResNet as a trainable PyTorch module, initialised from its .dat file.

Input: float (N, 3, 150, 150) RGB pixel values 0..255; output (N, 128), dlib's descriptor.
dlib's affine layers (batch-norm folded into a per-channel scale and shift) stay affine
(learnable scale and shift), so fine-tuning starts exactly from dlib's network.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from faceprint.models.dlib_dat import DlibNet, Layer, ResidualBlock, load_dlib_net, residual_structure


class Affine(nn.Module):
    def __init__(self, layer: Layer) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.from_numpy(layer.settings["gamma"].copy()).view(1, -1, 1, 1))
        self.shift = nn.Parameter(torch.from_numpy(layer.settings["beta"].copy()).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def _conv(layer: Layer) -> nn.Conv2d:
    s = layer.settings
    weights = torch.from_numpy(s["weights"].copy())
    conv = nn.Conv2d(weights.shape[1], weights.shape[0], tuple(s["kernel"]), tuple(s["stride"]),
                     tuple(s["padding"]), bias=True)
    conv.weight.data.copy_(weights)
    conv.bias.data.copy_(torch.from_numpy(s["bias"].copy()))
    return conv


def padded_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b, the smaller zero-padded at the end of channels, rows and columns (dlib's add_prev)."""
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, shape[2] - w, 0, shape[1] - h, 0, shape[0] - c))

    return pad(a) + pad(b)


class Block(nn.Module):
    """One residual block of dlib's network (see dlib_dat.ResidualBlock)."""

    def __init__(self, block: ResidualBlock) -> None:
        super().__init__()
        self.downsample = block.pool is not None
        self.conv1, self.affine1 = _conv(block.conv1), Affine(block.affine1)
        self.conv2, self.affine2 = _conv(block.conv2), Affine(block.affine2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(padded_add(y, shortcut))


class DlibResNet(nn.Module):
    """The network of dlib's dnn_face_recognition_ex.cpp with the weights of a .dat file."""

    embedding_dim = 128
    input_size = 150

    def __init__(self, net: DlibNet) -> None:
        super().__init__()
        structure = residual_structure(net)
        self.register_buffer("mean", torch.tensor(net.input_settings["mean_rgb"], dtype=torch.float32).view(1, 3, 1, 1))
        self.stem_conv, self.stem_affine = _conv(structure.stem_conv), Affine(structure.stem_affine)
        pool = structure.stem_pool.settings
        self.stem_pool = nn.MaxPool2d(pool["kernel"], pool["stride"], pool["padding"])
        self.blocks = nn.Sequential(*(Block(b) for b in structure.blocks))
        fc = structure.fc.settings
        self.fc = nn.Linear(fc["weights"].shape[0], fc["num_outputs"], bias=fc["bias"] is not None)
        self.fc.weight.data.copy_(torch.from_numpy(fc["weights"].T.copy()))
        if fc["bias"] is not None:
            self.fc.bias.data.copy_(torch.from_numpy(fc["bias"]))

    @classmethod
    def from_dat(cls, path: Path | None = None) -> "DlibResNet":
        from faceprint.models import weights

        return cls(load_dlib_net(path or weights.locate(weights.DLIB_RESNET)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / 256.0
        x = self.stem_pool(F.relu(self.stem_affine(self.stem_conv(x))))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))
