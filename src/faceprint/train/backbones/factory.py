"""Build a backbone by name with its input settings."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class BackboneInfo:
    input_size: int
    channels: int
    embedding_dim: int
    align: str  # the chip the pipeline cuts for it at inference


def create_backbone(name: str, input_size: int = 112, channels: int = 3, embedding_dim: int = 128,
                    pretrained: bool = True) -> tuple[nn.Module, BackboneInfo]:
    """``dlib_resnet`` (150x150 RGB, 128-d, from dlib's weights when ``pretrained``), ``resnet18``
    or ``small_cnn`` (any size and channels)."""
    if name == "dlib_resnet":
        from faceprint.train.backbones.dlib_resnet import DlibResNet

        if not pretrained:
            raise ValueError("dlib_resnet is built from dlib's weights: use pretrained=true")
        return DlibResNet.from_dat(), BackboneInfo(150, 3, 128, "dlib150")
    align = {112: "arcface112", 150: "dlib150", 160: "facenet160"}.get(input_size, f"dlib{input_size}")
    if name == "resnet18":
        from faceprint.train.backbones.resnet import ResNet18

        return ResNet18(channels, embedding_dim), BackboneInfo(input_size, channels, embedding_dim, align)
    if name == "small_cnn":
        from faceprint.train.backbones.resnet import SmallCNN

        return SmallCNN(channels, embedding_dim), BackboneInfo(input_size, channels, embedding_dim, align)
    raise ValueError(f"backbone must be dlib_resnet, resnet18 or small_cnn, not {name!r}")
