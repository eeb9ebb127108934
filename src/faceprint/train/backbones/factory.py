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
    pretrained: bool = False  # starts from trained weights (then epoch 0 is a candidate for best)


BACKBONES = ("dlib_resnet", "inception_resnet_v1", "resnet18", "small_cnn")


def chip_kind(backbone: str, input_size: int) -> str:
    """The aligned chip the pipeline cuts for a backbone: dlib150 for dlib's network, else by size
    (arcface112, facenet160, dlib150, or dlibN for other sizes)."""
    if backbone == "dlib_resnet":
        return "dlib150"
    return {112: "arcface112", 150: "dlib150", 160: "facenet160"}.get(input_size, f"dlib{input_size}")


def create_backbone(name: str, input_size: int = 112, channels: int = 3, embedding_dim: int = 128,
                    pretrained: bool = True, width: float = 1.0) -> tuple[nn.Module, BackboneInfo]:
    """``dlib_resnet`` (150x150 RGB, 128-d, from dlib's weights when ``pretrained``),
    ``inception_resnet_v1`` (FaceNet; 160x160 by default, any size from 75 px), ``resnet18`` or
    ``small_cnn`` (any size and channels). ``width`` scales the channel counts of the last three."""
    if name == "dlib_resnet":
        from faceprint.train.backbones.dlib_resnet import DlibResNet

        if not pretrained:
            raise ValueError("dlib_resnet is built from dlib's weights: use pretrained=true")
        return DlibResNet.from_dat(), BackboneInfo(150, 3, 128, "dlib150", pretrained=True)
    align = chip_kind(name, input_size)
    if name == "inception_resnet_v1":
        from faceprint.train.backbones.inception_resnet import InceptionResNetV1

        if input_size < 75:
            raise ValueError("inception_resnet_v1 needs inputs of at least 75x75 pixels (FaceNet uses 160)")
        return InceptionResNetV1(channels, embedding_dim, width), BackboneInfo(input_size, channels, embedding_dim, align)
    if name == "resnet18":
        from faceprint.train.backbones.resnet import ResNet18

        stem_stride = 2 if input_size >= 96 else 1
        return ResNet18(channels, embedding_dim, max(8, int(round(64 * width))), stem_stride), BackboneInfo(input_size, channels, embedding_dim, align)
    if name == "small_cnn":
        from faceprint.train.backbones.resnet import SmallCNN

        return SmallCNN(channels, embedding_dim), BackboneInfo(input_size, channels, embedding_dim, align)
    raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, not {name!r}")
