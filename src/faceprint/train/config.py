"""Training configuration: a dataclass, read from YAML, overridden by key=value pairs, saved with
each run (resolved)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from faceprint.errors import BadInput

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
AMP_MODES = ("auto", "bf16", "fp16", "off")


@dataclass
class TrainConfig:
    data: str = ""  # root/<identity>/*.jpg: aligned chips, or photos with align=auto
    align: str = "none"  # none: images are chips already | auto: detect + the backbone's chip | a chip kind
    detector: str = ""  # for align: the pipeline's default (yunet) unless set
    output: str = "runs/train"
    backbone: str = "resnet18"  # dlib_resnet | inception_resnet_v1 | resnet18 | small_cnn
    width: float = 1.0  # channel multiplier for inception_resnet_v1 and resnet18
    input_size: int = 112
    channels: int = 3
    embedding_dim: int = 128
    loss: str = "am_softmax"  # softmax | am_softmax | arcface | triplet
    scale: float | None = None  # logit scale (default 30 for AM-Softmax, 64 for ArcFace)
    margin: float | None = None  # AM-Softmax m (cosine) or ArcFace m (radians); triplet margin 0.2
    miner: str = "semi_hard"  # for triplet: semi_hard | batch_hard
    p: int = 8  # identities per triplet batch
    k: int = 4  # images per identity in a triplet batch
    batch_size: int = 64
    epochs: int = 20
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.05
    backbone_lr_factor: float = 1.0  # e.g. 0.1 to fine-tune a pretrained backbone gently
    imprint: bool | None = None  # margin-head weights from class-mean embeddings (default: for a pretrained backbone)
    train_only: str = ""  # comma-separated parameter-name prefixes to train (e.g. "blocks.13,fc"); the rest frozen
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step | none
    patience: int = 10  # early stopping on the validation metric
    val_fraction: float = 0.15
    split: str = "identity"  # identity | ratio (ignored when val_data is set)
    val_data: str = ""  # a separate validation folder of the training identities (closed-set accuracy)
    max_per_identity: int | None = None
    max_identities: int | None = None
    augment: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.1
    shift: float = 0.05
    flip: bool = True
    colour: float = 0.2
    seed: int = 0
    threads: int = 0  # torch threads; 0 = all cores
    device: str = "auto"  # auto (CUDA when PyTorch sees a GPU, else the CPU) | cpu | cuda | cuda:N
    amp: str = "auto"  # mixed precision: auto (bf16, or fp16 where a GPU lacks bf16; off on the CPU) | bf16 | fp16 | off
    loader_workers: int | None = None  # DataLoader processes augmenting batches (default 0 on the CPU, up to 4 on a GPU)

    def __post_init__(self) -> None:
        # YAML reads a bare `off` / `on` as a boolean
        if isinstance(self.amp, bool):
            self.amp = "auto" if self.amp else "off"
        self.amp = str(self.amp).strip().lower()
        self.device = str(self.device).strip().lower()
        if not DEVICE_PATTERN.match(self.device):
            raise BadInput(f"device={self.device!r}: use auto, cpu, cuda or cuda:N")
        if self.amp not in AMP_MODES:
            raise BadInput(f"amp={self.amp!r}: use {', '.join(AMP_MODES)}")

    @classmethod
    def load(cls, path: Path | None = None, overrides: list[str] = ()) -> "TrainConfig":
        import yaml

        values: dict[str, Any] = {}
        if path is not None:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise BadInput(f"{path}: expected a mapping of settings")
            values.update(loaded)
        for item in overrides:
            if "=" not in item:
                raise BadInput(f"override {item!r} must look like key=value")
            key, raw = item.split("=", 1)
            values[key.strip()] = yaml.safe_load(raw)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BadInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        config = cls(**values)
        if not config.data:
            raise BadInput("set `data` (a folder of identity sub-folders) in the config or as data=PATH")
        return config

    def save(self, path: Path) -> None:
        import yaml

        path.write_text(yaml.safe_dump(asdict(self), sort_keys=False))
