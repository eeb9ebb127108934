"""Training data: a folder of identities (root/<identity>/*.jpg), either already-aligned chips or
photos that are detected and aligned once (the chips are cached), loaded into memory, split by
identity or by ratio, with configurable augmentation."""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from faceprint import settings
from faceprint.errors import BadImage, BadInput, NoFace
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


class PhotoAligner:
    """Detect the largest face in a photo and cut the chip ``align`` names (see
    ``pipeline.align.align_chip``); chips are cached on disk by file path, size and mtime, so a
    folder is detected once however many runs use it."""

    CACHE_REVISION = "1"

    def __init__(self, root: Path, align: str, detector: str = "", cache: Path | None = None) -> None:
        from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

        self.pipeline = Pipeline(PipelineConfig(detector=detector))
        self.align = align
        key = f"{Path(root).resolve()}|{align}|{self.pipeline.config.detector}|{self.CACHE_REVISION}"
        folder = cache or settings.cache_dir() / "chips"
        self.path = folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
        self.chips: dict[str, np.ndarray] = {}
        self.missing: set[str] = set()
        self.dirty = False
        if self.path.exists():
            try:
                with np.load(self.path) as data:
                    self.chips = dict(zip(data["keys"].tolist(), data["chips"]))
                    self.missing = set(data["missing"].tolist())
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable chip cache %s (%s)", self.path, exc)

    @staticmethod
    def _key(path: Path) -> str:
        stat = path.stat()
        return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def __call__(self, path: Path) -> np.ndarray:
        from faceprint.pipeline.align import align_chip

        key = self._key(path)
        if key in self.chips:
            return self.chips[key]
        if key in self.missing:
            raise NoFace(f"{path}: no face found")
        image = load_image(path)
        detections = self.pipeline.detect(image)
        self.dirty = True
        if not detections:
            self.missing.add(key)
            raise NoFace(f"{path}: no face found")
        largest = max(detections, key=lambda d: d.box.width * d.box.height)
        self.chips[key] = align_chip(image, largest, self.align).image
        return self.chips[key]

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        chips = np.stack(list(self.chips.values())) if self.chips else np.zeros((0, 1, 1, 3), np.uint8)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(self.chips), dtype=str), chips=chips,
                 missing=np.array(sorted(self.missing), dtype=str))
        tmp.replace(self.path)
        self.dirty = False


def load_folder(root: Path, size: int, channels: int = 3, max_per_identity: int | None = None,
                max_identities: int | None = None, min_per_identity: int = 1, align: str | None = None,
                detector: str = "", progress: Callable[[str], None] | None = None) -> FaceSet:
    """Read every identity folder. With ``align`` (e.g. ``arcface112``), each photo's largest face
    is detected and aligned first (cached); without, the images are taken as chips. Either way they
    are resized to size x size. Unreadable images and photos without a face are skipped and listed."""
    import cv2

    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise BadInput(f"{root}: expected one sub-folder of face images per identity")
    aligner = PhotoAligner(root, align, detector) if align else None
    read = aligner or load_image
    images, labels, names, skipped = [], [], [], []
    for number, folder in enumerate(folders):
        if progress is not None and aligner is not None and number % 10 == 0:
            progress(f"detecting and aligning faces: identity {number + 1}/{len(folders)}")
        files = sorted(p for p in folder.iterdir() if is_image_path(p))[:max_per_identity]
        if len(files) < min_per_identity:
            continue
        if max_identities is not None and len(names) >= max_identities:
            break
        label = len(names)
        names.append(folder.name)
        for path in files:
            try:
                rgb = read(path)
            except (BadImage, NoFace) as exc:
                skipped.append(str(exc))
                log.warning("skipping %s", exc)
                continue
            if rgb.shape[:2] != (size, size):
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            if channels == 1:
                rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
            images.append(rgb)
            labels.append(label)
    if aligner is not None:
        aligner.save()
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
    train = _subset(data, ~val_mask)
    val = _subset(data, val_mask)
    # by ratio the people are the same: validation labels index the training identities
    return train, (relabel(val, train.names) if by == "ratio" else val)


def relabel(data: FaceSet, names: list[str]) -> FaceSet:
    """``data`` with labels re-indexed into ``names`` (a training set's identities); images of
    other identities are dropped. For a separate validation folder of the same people."""
    index = {name: i for i, name in enumerate(names)}
    keep = np.array([data.names[label] in index for label in data.labels])
    labels = np.array([index[data.names[label]] for label in data.labels[keep]], dtype=int)
    return FaceSet(data.images[keep], labels, list(names), data.skipped)


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


class AugmentedBatches:
    """Training batches by number, for a ``torch.utils.data.DataLoader(batch_size=None)`` whose
    worker processes augment while the device trains. Each batch's augmentation is drawn from
    its own generator seeded by (seed, epoch, batch number), so the batches do not depend on how
    many workers make them or in which order they finish."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batches: list[np.ndarray],
                 augment: Augment | None, seed: int, epoch: int) -> None:
        self.images, self.labels, self.batches = images, labels, batches
        self.augment, self.seed, self.epoch = augment, seed, epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.batches[number]
        images = self.images[index]
        if self.augment is not None:
            images = augment_batch(images, self.augment, np.random.default_rng([self.seed, self.epoch, number]))
        return np.ascontiguousarray(images), self.labels[index].astype(np.int64)


@contextmanager
def single_threaded_opencv() -> Iterator[None]:
    """OpenCV on one thread while forked DataLoader workers run (restored after). A child forked
    from a process whose OpenCV thread pool is alive inherits the pool's locks but not its
    threads, and hangs in its first parallel call or in ``cv2.setNumThreads``; with the pool shut
    down in the parent before the fork there is nothing to inherit. The workers are the parallelism."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
