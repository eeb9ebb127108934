"""Labelled photos to vectors, for the fitters: each photo's face nearest the centre, cached by content."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


def embed_labelled(pipeline: Any, items: Sequence[tuple[Path, str]], workers: int = 1,
                   progress: bool | Callable[[int], None] = False) -> tuple[list[tuple[np.ndarray, str]], dict]:
    """Embed labelled photos with ``pipeline`` (the embedding cache reused and updated).

    Args:
        pipeline: the pipeline to embed with.
        items: ``(path, name)`` per photo.
        workers: processes embedding in parallel.
        progress: True for a bar on stderr, or a callable given the count of photos embedded.

    Returns:
        ``(vector, name)`` of each photo in which a face was found, in the order of ``items``, and
        a map of path -> problem for the others.
    """
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.progress import progress_callbacks

    tick, finish = progress_callbacks(progress, len(items), "embedding")
    try:
        vectors, problems = embed_paths(pipeline, [p for p, _ in items], cache=EmbeddingCache(pipeline),
                                        progress=tick, workers=workers)
    finally:
        finish()
    return [(vectors[p], n) for p, n in items if vectors.get(p) is not None], problems
