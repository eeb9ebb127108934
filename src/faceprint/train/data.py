"""Training data: a folder of identities (root/<identity>/*.jpg) of already-aligned chips, loaded
once into memory, split by identity or by ratio, with configurable augmentation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceprint.errors import BadImage, BadInput
from faceprint.images import is_image_path, load_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Augment:
    rotation_deg: float = 10.0
    zoom: float = 0.1
    shift: float = 0.05
    flip: bool = True
    colour: float = 0.2  # brightness/contrast/saturation jitter


@dataclass
class FaceSet:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int
    names: list[str]  # identity name per label
    skipped: list[str]


def load_folder(root: Path, size: int, channels: int = 3, max_per_identity: int | None = None,
                max_identities: int | None = None, min_per_identity: int = 1) -> FaceSet:
    """Read every identity folder; images are resized to size x size (they should be aligned
    chips already). Unreadable images are skipped and listed."""
    import cv2

    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise BadInput(f"{root}: expected one sub-folder of face images per identity")
    images, labels, names, skipped = [], [], [], []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if is_image_path(p))[:max_per_identity]
        if len(files) < min_per_identity:
            continue
        if max_identities is not None and len(names) >= max_identities:
            break
        label = len(names)
        names.append(folder.name)
        for path in files:
            try:
                rgb = load_image(path)
            except BadImage as exc:
                skipped.append(str(exc))
                log.warning("skipping %s", exc)
                continue
            if rgb.shape[:2] != (size, size):
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            if channels == 1:
                rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
            images.append(rgb)
            labels.append(label)
    if not images:
        raise BadInput(f"{root}: no readable images")
    return FaceSet(np.stack(images), np.array(labels), names, skipped)


def split(data: FaceSet, val_fraction: float, by: str = "identity", seed: int = 0) -> tuple[FaceSet, FaceSet]:
    """Validation by identity (people unseen in training: verification) or by ratio (a share of
    every identity's images)."""
    rng = np.random.default_rng(seed)
    if by == "identity":
        ids = rng.permutation(len(data.names))
        n_val = max(2, int(round(len(ids) * val_fraction)))
        val_ids = set(ids[:n_val].tolist())
        val_mask = np.isin(data.labels, list(val_ids))
    elif by == "ratio":
        val_mask = np.zeros(len(data.labels), bool)
        for label in np.unique(data.labels):
            idx = rng.permutation(np.flatnonzero(data.labels == label))
            val_mask[idx[: int(round(len(idx) * val_fraction))]] = True
    else:
        raise BadInput(f"split must be 'identity' or 'ratio', not {by!r}")
    return _subset(data, ~val_mask), _subset(data, val_mask)


def _subset(data: FaceSet, mask: np.ndarray) -> FaceSet:
    kept = np.unique(data.labels[mask])
    remap = {old: new for new, old in enumerate(kept)}
    return FaceSet(data.images[mask], np.array([remap[x] for x in data.labels[mask]]),
                   [data.names[i] for i in kept], [])


def augment_batch(images: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Random rotation, zoom, shift, mirror and colour jitter, per image."""
    import cv2

    out = np.empty_like(images)
    n, h, w = images.shape[:3]
    for i in range(n):
        angle = rng.uniform(-aug.rotation_deg, aug.rotation_deg)
        scale = 1.0 + rng.uniform(-aug.zoom, aug.zoom)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += rng.uniform(-aug.shift, aug.shift, 2) * (w, h)
        img = cv2.warpAffine(images[i], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if img.ndim == 2:
            img = img[:, :, None]
        if aug.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if aug.colour:
            x = img.astype(np.float32)
            x = x * (1 + rng.uniform(-aug.colour, aug.colour)) + rng.uniform(-aug.colour, aug.colour) * 64
            mean = x.mean()
            x = (x - mean) * (1 + rng.uniform(-aug.colour, aug.colour)) + mean
            if x.shape[2] == 3:
                grey = x.mean(axis=2, keepdims=True)
                x = grey + (x - grey) * (1 + rng.uniform(-aug.colour, aug.colour))
            img = np.clip(x, 0, 255).astype(np.uint8)
        out[i] = img
    return out
