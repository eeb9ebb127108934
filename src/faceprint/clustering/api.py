"""``faceprint.cluster``: group the faces of a photo collection into people."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from faceprint.errors import BadInput
from faceprint.thresholds import cluster_threshold
from faceprint.types import Box, ImageFaces

log = logging.getLogger(__name__)


def default_threshold(model: str) -> float:
    """The average-linkage cut ``cluster`` uses for ``model`` when given none.

    Args:
        model: the embedding model.

    Returns:
        ``faceprint.thresholds.cluster_threshold(model)``: the cut chosen on CelebA chips (0.39 for
        dlib), else the model's verification threshold.

    Raises:
        UnknownModel: ``model`` has no fitted cut and is not registered.
    """
    return cluster_threshold(model)


@dataclass(frozen=True)
class FaceRef:
    """One face of the collection: which photo, where in it, and which of its faces."""

    source: str
    box: Box
    face: int  # index in that photo's ``ImageFaces.faces``

    def to_dict(self) -> dict[str, Any]:
        """``source``, ``box`` (left, top, right, bottom) and ``face``, as JSON types."""
        return {"source": self.source, "box": self.box.as_list(), "face": self.face}


@dataclass(frozen=True)
class Cluster:
    """Faces taken to be one person, the most central one (nearest the members' mean) first."""

    id: int
    faces: tuple[FaceRef, ...]

    @property
    def sources(self) -> list[str]:
        """The photos this person appears in, without repeats, in order."""
        return list(dict.fromkeys(f.source for f in self.faces))

    def to_dict(self) -> dict[str, Any]:
        """``id``, ``size`` and ``faces`` (each ``FaceRef.to_dict()``), as JSON types."""
        return {"id": self.id, "size": len(self.faces), "faces": [f.to_dict() for f in self.faces]}


@dataclass(frozen=True)
class ClusterResult:
    """The people found in a collection.

    Attributes:
        clusters: largest first; no cluster holds two faces of one photo.
        unclustered: faces in no cluster (their group was smaller than ``min_size``).
        problems: ``(source, why)`` for each photo that could not be read or has no face.
        threshold: the average-linkage cut used (Euclidean distance of unit vectors).
        model, signature: what made the vectors.
        labels: cluster id per face in ``faces`` order (-1 unclustered).
        faces: every face clustered, photo by photo.
    """

    clusters: tuple[Cluster, ...]
    unclustered: tuple[FaceRef, ...]
    problems: tuple[tuple[str, str], ...]
    threshold: float
    model: str
    signature: str = ""
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)
    faces: tuple[FaceRef, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON types: what ``faceprint cluster`` prints (without ``labels``)."""
        return {
            "model": self.model, "threshold": round(self.threshold, 4),
            "faces": len(self.faces), "people": len(self.clusters), "unclustered_faces": len(self.unclustered),
            "clusters": [c.to_dict() for c in self.clusters],
            "unclustered": [f.to_dict() for f in self.unclustered],
            "problems": [{"source": s, "problem": p} for s, p in self.problems],
        }


def cluster_vectors(vectors: np.ndarray, threshold: float, groups: Sequence[int] | None = None,
                    min_size: int = 2) -> np.ndarray:
    """Cluster labels of unit vectors by average linkage, vectors of one group never together.

    Args:
        vectors: unit vectors, one row each.
        threshold: the average-linkage cut (Euclidean distance).
        groups: a group (photo) number per vector; two vectors of one group are never in one
            cluster. None: no such rule.
        min_size: clusters smaller than this are labelled -1.

    Returns:
        A label per vector: 0 for the largest cluster, 1 for the next, ..., -1 for unclustered.

    Raises:
        BadInput: more vectors than exact average linkage holds in memory (``linkage.MAX_BLOCK``).
    """
    from faceprint.clustering.linkage import average_linkage, cut, drop_small

    vectors = np.asarray(vectors, np.float32)
    if len(vectors) == 0:
        return np.zeros(0, np.int64)
    merges = average_linkage(vectors, threshold, None if groups is None else np.asarray(groups))
    return drop_small(cut(merges, len(vectors)), min_size)


def _checked_threshold(threshold: float) -> float:
    """``threshold`` as a float, or BadInput when it is no distance between unit vectors."""
    value = float(threshold)
    if not 0.0 < value < 2.0:
        raise BadInput(f"threshold must lie between 0 and 2 (Euclidean distance of unit vectors; "
                       f"lower splits more), not {threshold}")
    return value


def cluster(items: Iterable[ImageFaces | str | Path], threshold: float | None = None, min_size: int = 2,
            model: str = "dlib", detector: str | None = None, workers: int = 1,
            progress: bool | Callable[[int], None] = False, **options) -> ClusterResult:
    """Group every face of a collection into people; two faces of one photo are never one person.

    Exact average linkage in memory: at most ``linkage.MAX_BLOCK`` (12,000) faces per call, about
    576 MB; more raise BadInput (see ``faceprint.clustering.linkage``).

    Args:
        items: ``ImageFaces`` from ``faceprint.embed_many`` (all of one pipeline signature), or
            photos (paths, bytes, arrays) to embed first with ``model``/``detector``/``options``.
        threshold: average-linkage cut (Euclidean, unit vectors); default ``default_threshold(model)``.
        min_size: smallest group kept as a cluster; smaller ones are listed as unclustered.
        model: the embedding model for photos (results of ``embed_many`` keep their own).
        detector: the face detector for photos; None for the default.
        workers: processes embedding photos in parallel.
        progress: True for a progress bar while embedding, or a callable given counts of photos done.
        **options: further pipeline settings for photos (``faceprint.embed_many``'s).

    Returns:
        The clusters, largest first, the faces left unclustered and the photos that gave no face.

    Raises:
        BadInput: a bad ``threshold``, ``min_size`` or ``workers`` (before anything is embedded),
            a mix of results and photos, results of different pipelines, or too many faces.

    Example:
        >>> result = cluster(["party/1.jpg", "party/2.jpg", "party/3.jpg"])  # doctest: +SKIP
        >>> [c.sources for c in result.clusters]  # doctest: +SKIP
        [['party/1.jpg', 'party/3.jpg'], ['party/2.jpg', 'party/3.jpg']]
    """
    # bad arguments fail here, before a long collection is embedded
    if min_size < 1:
        raise BadInput(f"min_size must be at least 1, not {min_size}")
    if workers < 1:
        raise BadInput(f"workers must be at least 1, not {workers}")
    if threshold is not None:
        threshold = _checked_threshold(threshold)
    items = list(items)
    if items and all(isinstance(i, ImageFaces) for i in items):
        results: list[ImageFaces] = items  # type: ignore[assignment]
    elif any(isinstance(i, ImageFaces) for i in items):
        raise BadInput("give either embed_many results or photos to cluster, not a mix of both")
    else:
        from faceprint.api import embed_many

        if threshold is None:
            threshold = _checked_threshold(default_threshold(model))
        results = embed_many(items, model=model, detector=detector, workers=workers, progress=progress, **options)
    signatures = {r.signature for r in results if r.faces}
    if len(signatures) > 1:
        raise BadInput(f"these results were embedded with {len(signatures)} different pipelines "
                       f"({', '.join(sorted(signatures))}): embed them all with one model and settings")
    models = {f.model for r in results for f in r.faces}
    if models:
        model = models.pop()
    if threshold is None:
        threshold = _checked_threshold(default_threshold(model))

    refs, vectors, photo = [], [], []
    for index, result in enumerate(results):
        for k, face in enumerate(result.faces):
            box = face.detection.box if face.detection is not None else Box(0, 0, 0, 0)
            refs.append(FaceRef(result.source, box, k))
            vectors.append(face.vector)
            photo.append(index)
    matrix = np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 1), np.float32)
    labels = cluster_vectors(matrix, threshold, photo, min_size)
    clusters = []
    for cid in range(int(labels.max(initial=-1)) + 1):
        members = np.flatnonzero(labels == cid)
        centre = matrix[members].mean(axis=0)
        members = members[np.argsort(-(matrix[members] @ centre), kind="stable")]
        clusters.append(Cluster(cid, tuple(refs[i] for i in members)))
    problems = tuple((r.source, r.problem) for r in results if r.problem is not None)
    log.info("%d faces of %d photos -> %d clusters, %d unclustered", len(refs), len(results), len(clusters),
             int((labels < 0).sum()))
    return ClusterResult(tuple(clusters), tuple(refs[i] for i in np.flatnonzero(labels < 0)), problems,
                         threshold, model, next(iter(signatures), ""), labels, tuple(refs))
