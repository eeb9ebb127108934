"""Vectors already computed, kept on disk per pipeline configuration so a photo is embedded once."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from faceprint import settings
from faceprint.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Vectors keyed by image content (sha256) for one pipeline configuration, kept in an .npz.

    The file's name holds a digest of the configuration and the pipeline's signature, so vectors
    of different settings, model files or fusion weights never mix. A photo without a face is
    kept as None, so it is not searched again.
    """

    def __init__(self, pipeline: Pipeline, folder: Path | None = None) -> None:
        """Open (or start) the cache of ``pipeline``'s configuration.

        Args:
            pipeline: the pipeline whose vectors are kept.
            folder: where the .npz lives; default ``embeddings/`` in faceprint's cache folder (``settings.cache_dir``).
        """
        # the signature adds what the config does not hold: the model file's stamp, fusion weights,
        # VECTOR_REVISION
        key = json.dumps(asdict(pipeline.config), sort_keys=True) + pipeline.signature()
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        label = Path(pipeline.config.model).stem if pipeline.config.model.endswith(".onnx") else pipeline.config.model
        self.path = (folder or settings.cache_dir() / "embeddings") / f"{label}-{digest}.npz"
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
        """Keep ``vector`` (None: the photo holds no face) under ``key``, a sha256 of the photo."""
        self.entries[key] = vector
        self._dirty = True

    def save(self) -> None:
        """Write the entries to ``path`` (atomically) if any changed since it was read."""
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
