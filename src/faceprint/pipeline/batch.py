"""Many images at once: detect and align one by one, embed in batches, report bad files."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from faceprint import settings
from faceprint.errors import FaceprintError
from faceprint.images import load_image
from faceprint.pipeline.detect import nearest_center
from faceprint.pipeline.embed import embed_chips
from faceprint.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Vectors keyed by image content (sha1) for one pipeline configuration, kept in an .npz."""

    def __init__(self, pipeline: Pipeline, folder: Path | None = None) -> None:
        key = json.dumps(asdict(pipeline.config), sort_keys=True) + "|v1"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        self.path = (folder or settings.cache_dir() / "embeddings") / f"{pipeline.config.model}-{digest}.npz"
        self.entries: dict[str, np.ndarray | None] = {}
        self._dirty = False
        if self.path.exists():
            try:
                data = np.load(self.path)
                for k, v, ok in zip(data["keys"], data["vectors"], data["found"]):
                    self.entries[str(k)] = v if ok else None
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s (%s)", self.path, exc)

    def put(self, key: str, vector: np.ndarray | None) -> None:
        self.entries[key] = vector
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or not self.entries:
            return
        dim = next((len(v) for v in self.entries.values() if v is not None), 1)
        keys = np.array(list(self.entries))
        vectors = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in self.entries.values()])
        found = np.array([v is not None for v in self.entries.values()])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors, found=found)
        tmp.replace(self.path)
        self._dirty = False


def embed_paths(
    pipeline: Pipeline,
    paths: Sequence[Path],
    batch_size: int = 32,
    cache: EmbeddingCache | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[Path, np.ndarray | None], dict[Path, str]]:
    """One embedding per image (the face nearest the centre), None where no face was found.

    Returns the vectors and a map of path -> problem for bad images and images without a face.
    """
    vectors: dict[Path, np.ndarray | None] = {}
    problems: dict[Path, str] = {}
    pending: list[tuple[Path, str, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        chips = np.stack([chip for _, _, chip in pending])
        for (path, key, _), vec in zip(pending, embed_chips(pipeline.network, chips, pipeline.config.flip,
                                                            pipeline.config.jitter)):
            vectors[path] = vec
            if cache is not None:
                cache.put(key, vec)
        pending.clear()

    for path in paths:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems[path] = f"cannot read ({exc.strerror})"
            vectors[path] = None
            _tick(progress)
            continue
        key = hashlib.sha1(data).hexdigest()
        if cache is not None and key in cache.entries:
            vectors[path] = cache.entries[key]
            if vectors[path] is None:
                problems[path] = "no face found"
            _tick(progress)
            continue
        try:
            image = load_image(data)
            detections = pipeline.detect(image)
        except FaceprintError as exc:
            problems[path] = str(exc).replace("<bytes>: ", "")
            vectors[path] = None
            _tick(progress)
            continue
        if not detections:
            problems[path] = "no face found"
            vectors[path] = None
            if cache is not None:
                cache.put(key, None)
        else:
            chosen = detections[nearest_center(detections, image.shape)]
            pending.append((path, key, pipeline.align(image, [chosen])[0].image))
            if len(pending) >= batch_size:
                flush()
        _tick(progress)
    flush()
    if cache is not None:
        cache.save()
    return vectors, problems


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)


def iter_image_files(root: Path) -> Iterable[Path]:
    """Image files under a folder, sorted, recursively."""
    from faceprint.images import is_image_path

    return sorted(p for p in Path(root).rglob("*") if is_image_path(p))
