"""Placing new faces among a gallery's people as they arrive, in time proportional to the new faces.

The rule is DBSCAN-like, as photo libraries use it: each new face looks at its nearest faces
(the gallery's index, and the new faces placed before it) within the neighbour threshold; it
joins the person with the most of them when that person has enough of them (``min_neighbours``,
or half of its faces, rounded up, for a smaller person), and otherwise starts a new unnamed
person. A face never joins a person that holds another face of its photo.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from faceprint.errors import BadInput
from faceprint.gallery.store import NewFace

MIN_NEIGHBOURS = 3
SMALL_SHARE = 0.5  # a person smaller than MIN_NEIGHBOURS needs this share of its faces as neighbours
NEIGHBOURS = 10
# The distance under which a stored face counts as a new face's neighbour, per model: chosen on
# CelebA chips (celeba_dlib150: 6,110 faces of 297 people added in 3 random orders), never on LFW,
# by `python bench/bench_people.py --fit-celeba dlib`: mean BCubed F1 0.890 at 0.36 (0.884 at 0.34,
# 0.860 at 0.38; with SMALL_SHARE 1.0 instead of 0.5: 0.877 at 0.36). Models without an entry use
# their clustering threshold.
NEIGHBOUR_THRESHOLDS = {"dlib": 0.36}


def neighbour_threshold(model: str) -> float:
    """The neighbour distance of incremental adds for ``model`` (``NEIGHBOUR_THRESHOLDS``, else the
    model's clustering threshold).

    Args:
        model: the gallery's model.

    Raises:
        UnknownModel: a model with no entry, no clustering threshold and no registration.
    """
    if model in NEIGHBOUR_THRESHOLDS:
        return NEIGHBOUR_THRESHOLDS[model]
    from faceprint.clustering.api import default_threshold

    return float(default_threshold(model))


def embedded_faces(vectors: Any, photos: Sequence[str], face_indexes: Sequence[int] | None = None,
                   sources: Sequence[str | None] | None = None) -> list[NewFace]:
    """New faces from vectors embedded already (``People.add_embedded``).

    Args:
        vectors: (N, dim) unit vectors.
        photos: each face's photo key.
        face_indexes: each face's index in its photo (default: 0, 1, ... per photo, in order).
        sources: where each face came from.

    Raises:
        BadInput: lengths that differ.
    """
    import numpy as np

    vectors = np.atleast_2d(np.asarray(vectors, np.float32))
    if len(photos) != len(vectors) or (face_indexes is not None and len(face_indexes) != len(vectors)):
        raise BadInput(f"{len(photos)} photos (and face indexes) for {len(vectors)} vectors")
    if face_indexes is None:
        seen: dict[str, int] = {}
        face_indexes = []
        for p in photos:
            face_indexes.append(seen.get(p, 0))
            seen[p] = seen.get(p, 0) + 1
    sources = sources or [None] * len(vectors)
    return [NewFace(v, str(p), [0.0, 0.0, 0.0, 0.0], s, None, int(i))
            for v, p, i, s in zip(vectors, photos, face_indexes, sources)]


def assign_new(vectors: Any, photos: Sequence[str], search: Callable[[Any, int], tuple[Any, Any]],
               face_persons: Callable[[Sequence[int]], dict[int, tuple[int, str]]],
               person_sizes: Callable[[Sequence[int]], dict[int, int]], threshold: float,
               min_neighbours: int = MIN_NEIGHBOURS, neighbours: int = NEIGHBOURS,
               gallery_faces: int = 0) -> list[int]:
    """A person for each new face: an existing person's id, or ``-k`` for the k-th new unnamed person.

    Args:
        vectors: (N, dim) unit vectors of the new faces.
        photos: each new face's photo (sha256); faces of one photo never share a person.
        search: the gallery's ``Searcher.search`` (ids, distances of the nearest stored faces).
        face_persons: face id -> (person id, photo sha256) of stored faces.
        person_sizes: person id -> number of faces.
        threshold: the largest distance at which a face counts as a neighbour.
        min_neighbours: the neighbours of one person a face needs to join them (fewer for a person
            with fewer faces: all of them).
        neighbours: stored faces looked at per new face.
        gallery_faces: faces stored now (0: none, no search).

    Returns:
        One person per new face, in order.
    """
    import numpy as np

    q = np.atleast_2d(np.asarray(vectors, np.float32))
    n = len(q)
    if n == 0:
        return []
    k = min(neighbours, gallery_faces)
    if k:
        ids, dists = search(q, k)
        ids, dists = np.asarray(ids), np.asarray(dists)
        stored = face_persons(sorted({int(i) for i in ids[ids >= 0]}))
    else:
        ids = np.full((n, 0), -1, np.int64)
        dists = np.zeros((n, 0), np.float32)
        stored = {}
    sizes = person_sizes(sorted({p for p, _ in stored.values()}))
    within = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (q @ q.T)))  # the new faces among themselves
    out: list[int] = []
    added: dict[int, int] = {}  # person -> new faces placed in them here
    photos_of: dict[int, set[str]] = {}  # person -> photos of the new faces placed in them here
    new_people = 0
    for i in range(n):
        votes: dict[int, list[float]] = {}
        for fid, d in zip(ids[i], dists[i]):
            if fid >= 0 and d <= threshold and int(fid) in stored:
                votes.setdefault(stored[int(fid)][0], []).append(float(d))
        for j in np.flatnonzero(within[i, :i] <= threshold):
            votes.setdefault(out[j], []).append(float(within[i, j]))
        best = None
        for person, found in sorted(votes.items(), key=lambda kv: (-len(kv[1]), min(kv[1]))):
            if photos[i] in photos_of.get(person, set()):
                continue
            size = sizes.get(person, 0) + added.get(person, 0)
            if len(found) >= min(min_neighbours, max(math.ceil(SMALL_SHARE * size), 1)):
                best = person
            break  # only the person with the most neighbours may take the face
        if best is None:
            new_people += 1
            best = -new_people
        out.append(best)
        added[best] = added.get(best, 0) + 1
        photos_of.setdefault(best, set()).add(photos[i])
    return out
