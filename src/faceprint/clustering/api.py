"""``faceprint.cluster``: group the faces of a photo collection into people."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from faceprint.clustering.neighbours import Neighbours
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


def adaptive_cut(model: str) -> Callable[[int], float] | None:
    """The rule ``cluster`` uses to lower the cut for collections of many people.

    The best average-linkage cut falls as a collection holds more people (more look-alikes):
    0.39 suits collections of a few hundred people, less suits thousands. The rule maps the
    number of clusters found at the model's cut (an estimate of the number of people) to a cut,
    interpolated in log(clusters) between the points of ``cluster_thresholds.json``'s
    ``many_people`` entry (fitted by ``python -m faceprint.fit.clustering --many-people``).

    Args:
        model: the embedding model.

    Returns:
        ``clusters -> cut``, or None when the model has no such entry.
    """
    import json

    from faceprint.thresholds import CLUSTER_TABLE

    entry = json.loads(CLUSTER_TABLE.read_text()).get("models", {}).get(model, {}).get("many_people")
    if not entry:
        return None
    xs, ys = np.log(np.asarray(entry["clusters"], np.float64)), np.asarray(entry["threshold"], np.float64)
    return lambda clusters: float(np.interp(np.log(max(int(clusters), 1)), xs, ys))


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
        unclustered: faces in no cluster (their group was smaller than ``min_size``, or their
            quality poor).
        problems: ``(source, why)`` for each photo that could not be read or has no face.
        threshold: the average-linkage cut used (Euclidean distance of unit vectors), after
            ``adaptive_cut`` when the caller gave none.
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
                    min_size: int = 2, *, cannot_link: Iterable[tuple[int, int]] | None = None,
                    seeds: Sequence[int] | None = None, quality: Sequence[float | None] | None = None,
                    neighbours: Neighbours | None = None, progress: bool | Callable[[int], None] | None = None,
                    method: str = "auto", adapt: Callable[[int], float] | None = None) -> np.ndarray:
    """Cluster labels of unit vectors by average linkage, with rules on what may share a cluster.

    Average linkage cut at ``threshold``, merged along a k-nearest-neighbour graph
    (``faceprint.clustering.graph``): memory O(faces x k), not O(faces^2), so there is no limit on
    the number of faces. ``method="exact"`` uses the full distance matrix instead (at most
    ``linkage.MAX_BLOCK`` linked faces; no ``cannot_link`` or ``seeds``): the same clusters,
    faster on a few thousand faces, so ``auto`` takes it up to ``linkage.DIRECT`` faces when no
    rule but ``groups`` and no ``neighbours`` is given.

    Args:
        vectors: unit vectors, one row each.
        threshold: the average-linkage cut (Euclidean distance).
        groups: a group (photo) number per vector; two vectors of one group are never in one
            cluster. None: no such rule.
        min_size: clusters smaller than this are labelled -1.
        cannot_link: ``(i, j)`` row pairs never put in one cluster (a user's "not this person").
        seeds: a seed per vector, -1 for none (a user's corrections): vectors with one seed end
            in one cluster (which may grow), and two different seeds never share a cluster.
        quality: a score per vector (``faceprint.quality``; None: not scored); vectors that
            ``faceprint.quality.is_poor`` takes for poor are left unclustered (-1) and take no
            part, unless seeded.
        neighbours: the nearest-neighbour search to build the graph with, ``(queries, k) ->
            (row indices, distances)`` (e.g. a gallery's own index); None: exact numpy search,
            or faiss HNSW above ``neighbours.ANN_MIN_FACES`` faces when installed.
        progress: True for progress bars on stderr, or a callable given counts done (the
            neighbour search counts faces, then the merging counts faces again: 2 x N in all).
        method: ``auto`` (the default), ``graph`` or ``exact``.
        adapt: given the number of clusters found at ``threshold`` (an estimate of the number of
            people), a lower cut to use instead (``adaptive_cut``: the more people, the more
            look-alikes, the lower the best cut); None keeps ``threshold``.

    Returns:
        A label per vector: 0 for the largest cluster, 1 for the next, ..., -1 for unclustered.

    Raises:
        BadInput: arrays of the wrong length, cannot-link pairs or seeds out of range, an
            unknown ``method``, or (``exact``) more linked vectors than fit in memory.
    """
    from faceprint.clustering.graph import graph_average_linkage
    from faceprint.clustering.linkage import average_linkage, cut, drop_small
    from faceprint.clustering.neighbours import knn_edges
    from faceprint.progress import progress_callbacks

    vectors = np.asarray(vectors, np.float32)
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    if method not in ("auto", "graph", "exact"):
        raise BadInput(f"method must be 'auto', 'graph' or 'exact', not {method!r}")
    if vectors.ndim != 2:
        raise BadInput(f"vectors must be a 2-D array (faces x dimensions), not shape {vectors.shape}")
    group_ids = _per_vector(groups, n, "photo ids")
    seed_ids = _per_vector(seeds, n, "seeds")
    pairs = np.asarray(list(cannot_link) if cannot_link is not None else [], np.int64).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise BadInput(f"cannot_link pairs must be row numbers 0..{n - 1}, got {int(pairs.min())}..{int(pairs.max())}")
    active = np.ones(n, bool)
    if quality is not None:
        from faceprint.quality import is_poor

        if len(quality) != n:
            raise BadInput(f"got {len(quality)} quality scores for {n} vectors")
        active = np.array([q is None or np.isnan(q) or not is_poor(float(q)) for q in quality], bool)
        if seed_ids is not None:
            active |= seed_ids >= 0
    rows = np.flatnonzero(active)
    if method == "auto":
        from faceprint.clustering.linkage import DIRECT

        simple = not pairs.size and (seed_ids is None or not (seed_ids >= 0).any()) and neighbours is None
        method = "exact" if simple and len(rows) <= DIRECT else "graph"
    labels = np.full(n, -1, np.int64)
    part = vectors[rows]
    tick, finish = progress_callbacks(progress, 2 * len(rows), "clustering")
    try:
        if method == "exact":
            if pairs.size or (seed_ids is not None and (seed_ids >= 0).any()):
                raise BadInput("method='exact' takes no cannot_link or seeds: use method='graph'")
            merges = average_linkage(part, threshold, None if group_ids is None else group_ids[rows])
            found = cut(merges, len(rows))
            tick(2 * len(rows))
        else:
            search = None if neighbours is None else _restricted(neighbours, rows, n)
            edges = knn_edges(part, threshold, neighbours=search, tick=tick)
            tokens = _tokens(None if group_ids is None else group_ids[rows], pairs, rows, n)
            found, merges = graph_average_linkage(part, threshold, edges, tokens,
                                                  None if seed_ids is None else seed_ids[rows], tick)
            tick(len(np.unique(found)))  # the merges ticked N - clusters
    finally:
        finish()
    if adapt is not None:
        lower = float(adapt(len(np.unique(found))))
        if lower < threshold:
            log.info("%d clusters at the cut %.3f: cutting at %.3f instead", len(np.unique(found)), threshold, lower)
            found = cut(merges, len(rows), lower)
    labels[rows] = found
    return drop_small(labels, min_size, keep_negative=True)


def _per_vector(values: Sequence[int] | None, n: int, what: str) -> np.ndarray | None:
    """``values`` as an int array of length ``n`` (None stays None), or BadInput."""
    if values is None:
        return None
    out = np.asarray(values)
    if out.shape != (n,):
        raise BadInput(f"got {len(out)} {what} for {n} vectors")
    return out.astype(np.int64) if what == "seeds" else out


def _restricted(neighbours: Neighbours, rows: np.ndarray, n: int) -> Neighbours:
    """``neighbours`` over all ``n`` vectors, answering in positions of ``rows`` (the vectors
    clustered); neighbours outside them come back as -1."""
    if len(rows) == n:
        return neighbours
    position = np.full(n, -1, np.int64)
    position[rows] = np.arange(len(rows))

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids, dist = neighbours(queries, k)
        ids = np.asarray(ids)
        return np.where(ids >= 0, position[np.clip(ids, 0, n - 1)], -1), dist

    return search


def _tokens(groups: np.ndarray | None, pairs: np.ndarray, rows: np.ndarray, n: int) -> dict[int, set[int]]:
    """Rule tokens per row of the vectors clustered: its photo (when the photo holds another
    face) and one per cannot-link pair; two faces sharing a token never share a cluster."""
    tokens: dict[int, set[int]] = {}
    count = 0
    if groups is not None and len(groups):
        _, ids, sizes = np.unique(groups, return_inverse=True, return_counts=True)
        ids = ids.reshape(-1)
        for row in np.flatnonzero(sizes[ids] > 1).tolist():
            tokens[row] = {int(ids[row])}
        count = len(sizes)
    if pairs.size:
        position = np.full(n, -1, np.int64)
        position[rows] = np.arange(len(rows))
        for t, (i, j) in enumerate(position[pairs].tolist()):
            if i >= 0 and j >= 0:
                tokens.setdefault(i, set()).add(count + t)
                tokens.setdefault(j, set()).add(count + t)
    return tokens


def _checked_threshold(threshold: float) -> float:
    """``threshold`` as a float, or BadInput when it is no distance between unit vectors."""
    value = float(threshold)
    if not 0.0 < value < 2.0:
        raise BadInput(f"threshold must lie between 0 and 2 (Euclidean distance of unit vectors; "
                       f"lower splits more), not {threshold}")
    return value


def cluster(items: Iterable[ImageFaces | str | Path], threshold: float | None = None, min_size: int = 2,
            model: str = "dlib", detector: str | None = None, workers: int = 1,
            progress: bool | Callable[[int], None] = False, cluster_progress: bool | Callable[[int], None] | None = None,
            **options) -> ClusterResult:
    """Group every face of a collection into people; two faces of one photo are never one person.

    Average linkage on a nearest-neighbour graph (``cluster_vectors``): no limit on the number of
    faces. Faces whose quality score is poor (``faceprint.quality.is_poor``) are left
    unclustered. Without a ``threshold``, the model's cut is lowered for collections of thousands
    of people (``adaptive_cut``).

    Args:
        items: ``ImageFaces`` from ``faceprint.embed_many`` (all of one pipeline signature), or
            photos (paths, bytes, arrays) to embed first with ``model``/``detector``/``options``.
        threshold: average-linkage cut (Euclidean, unit vectors); default ``default_threshold(model)``.
        min_size: smallest group kept as a cluster; smaller ones are listed as unclustered.
        model: the embedding model for photos (results of ``embed_many`` keep their own).
        detector: the face detector for photos; None for the default.
        workers: processes embedding photos in parallel.
        progress: True for a progress bar while embedding, or a callable given counts of photos done.
        cluster_progress: the same for the clustering (``cluster_vectors``' ``progress``); None:
            a bar when ``progress`` is True.
        **options: further pipeline settings for photos (``faceprint.embed_many``'s).

    Returns:
        The clusters, largest first, the faces left unclustered and the photos that gave no face.

    Raises:
        BadInput: a bad ``threshold``, ``min_size`` or ``workers`` (before anything is embedded),
            a mix of results and photos, or results of different pipelines.

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
    chosen = threshold
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

    refs, vectors, photo, quality = [], [], [], []
    for index, result in enumerate(results):
        for k, face in enumerate(result.faces):
            box = face.detection.box if face.detection is not None else Box(0, 0, 0, 0)
            refs.append(FaceRef(result.source, box, k))
            vectors.append(face.vector)
            photo.append(index)
            quality.append(face.quality)
    matrix = np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 1), np.float32)
    used = [threshold]
    rule = adaptive_cut(model) if chosen is None else None

    def adapt(clusters: int) -> float:
        used[0] = min(threshold, rule(clusters))
        return used[0]

    labels = cluster_vectors(matrix, threshold, photo, min_size, quality=quality,
                             progress=progress is True if cluster_progress is None else cluster_progress,
                             adapt=None if rule is None else adapt)
    threshold = used[0]
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
