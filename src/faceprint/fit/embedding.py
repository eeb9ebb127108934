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


def every_face(results: Sequence[Any], names: Sequence[str], first: int = 0) -> dict[str, np.ndarray]:
    """Every face of every photo, for clustering: the photo's name goes on its face nearest the centre.

    Args:
        results: ``ImageFaces`` per photo (``embed_many``'s answers; photos that failed are skipped).
        names: the person of each photo.
        first: the index of the first photo (for results embedded in chunks).

    Returns:
        ``vectors`` (float32), ``photo`` (each face's photo index), ``label`` (the name on the face
        nearest each photo's centre, "" on the others) and ``boxes`` (x1, y1, x2, y2).
    """
    vectors, photo, label, boxes = [], [], [], []
    for index, (result, name) in enumerate(zip(results, names), first):
        if not result.ok:
            continue
        centre = result.nearest_center()
        for face in result.faces:
            vectors.append(face.vector)
            photo.append(index)
            label.append(name if face is centre else "")
            boxes.append(face.detection.box.as_list())
    return {"vectors": np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), np.float32),
            "photo": np.array(photo, int), "label": np.array(label, str),
            "boxes": np.array(boxes, np.float32).reshape(-1, 4)}
