"""A full re-cluster of a gallery's faces that keeps what the user said: faces the user placed
(enrolled by name, named, moved, merged) stay with their person and pull their cluster along,
"not this person" links keep a face out of that person, and two faces of one photo never share
a person. Clusters without such a face take over the unnamed person they overlap most, so that
"person 17" stays person 17 where the clustering agrees.

``plan_recluster`` is pure: it returns the moves, which the store then applies in one
transaction (SQLite) or in a crash-safe order (Milvus).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

MAX_LINKS_PER_PERSON = 64  # faces of a person a "not this person" link is spelled out against


class CutUsed:
    """The cut a re-cluster uses: the given one, or the model's lowered for collections of many
    people as ``faceprint.cluster`` does (``clustering.api.adaptive_cut``).

    Args:
        model: the gallery's embedding model.
        threshold: the cut asked for, or the model's default.
        lowered: whether the many-people rule may lower it (True when the user gave no cut).
    """

    def __init__(self, model: str, threshold: float, lowered: bool) -> None:
        from faceprint.clustering.api import adaptive_cut

        self.value = threshold
        self._limit = threshold
        self._rule = adaptive_cut(model) if lowered else None

    @property
    def adapt(self) -> Callable[[int], float] | None:
        """The rule for ``cluster_vectors``'s ``adapt`` (it records the cut it picks), or None."""
        return None if self._rule is None else self._pick

    def _pick(self, clusters: int) -> float:
        assert self._rule is not None
        self.value = min(self._limit, self._rule(clusters))
        return self.value


def inputs(store: Any, ids: Sequence[int], persons: Sequence[int], photos: Sequence[str],
           confirmed: Sequence[bool]) -> tuple[Any, Any, Any]:
    """A re-cluster's vectors, photo numbers and seeds (a label per user-placed face's person, -1 free).

    Args:
        store: the gallery's store (its ``vectors``).
        ids: every face, by id.
        persons: each face's person now.
        photos: each face's photo (sha256).
        confirmed: whether the user placed the face.
    """
    import numpy as np

    by_id: dict[int, Any] = {}
    for part_ids, part in store.vectors():
        by_id.update(zip(part_ids.tolist(), part))
    vectors = np.stack([by_id[i] for i in ids])
    del by_id
    photo_numbers: dict[str, int] = {}
    groups = np.array([photo_numbers.setdefault(p, len(photo_numbers)) for p in photos], np.int64)
    seed_numbers: dict[int, int] = {}
    seeds = np.array([seed_numbers.setdefault(p, len(seed_numbers)) if c else -1
                      for p, c in zip(persons, confirmed)], np.int64)
    return vectors, groups, seeds


def cluster_labels(vectors: Any, threshold: float, groups: Any, seeds: Any, cannot_link: list[tuple[int, int]],
                   progress: Callable[[int], None] | None = None, quality: list[float | None] | None = None,
                   adapt: Callable[[int], float] | None = None) -> Any:
    """Labels from ``faceprint.clustering.cluster_vectors`` with the user's corrections as its
    seeds and cannot-links (what it does not take, the plan enforces afterwards).

    Args:
        vectors: (N, dim) unit vectors.
        threshold: the clustering threshold.
        groups: a photo number per face.
        seeds: a fixed label per face (-1: free).
        cannot_link: (row, row) pairs never to share a cluster.
        progress: a callable given counts of work done.
        quality: each face's quality (None: not scored); poor faces stay out unless seeded.
        adapt: the rule that lowers the cut for collections of many people
            (``clustering.api.adaptive_cut``), or None to keep ``threshold``.

    Returns:
        A label per face (-1 unclustered).
    """
    from faceprint.clustering import api

    if quality is not None and all(q is None for q in quality):
        quality = None
    return api.cluster_vectors(vectors, threshold, groups, seeds=seeds, cannot_link=cannot_link or None,
                               progress=progress, quality=quality, adapt=adapt)


def plan_recluster(face_ids: Sequence[int], persons: Sequence[int], photos: Sequence[str],
                   confirmed: Sequence[bool], labels: Sequence[int], named: set[int],
                   links: Sequence[tuple[int, int]], poor: Sequence[bool] | None = None) -> dict[int, int]:
    """The moves a clustering asks for, within the user's rules; no person loses its name.

    Args:
        face_ids: every face, by id.
        persons: each face's person now.
        photos: each face's photo (sha256).
        confirmed: whether the user placed the face (it stays where it is).
        labels: each face's cluster (-1: on its own).
        named: the ids of named people.
        links: (face id, person id) "not this person" links.
        poor: whether each face's quality is poor; a poor face the clustering left out (-1) keeps
            its person (within the rules) rather than starting a person of its own.

    Returns:
        face id -> person id (``-k``: the k-th new unnamed person) for each face that moves.
    """
    n = len(face_ids)
    kept = [bool(poor[r]) and labels[r] < 0 for r in range(n)] if poor is not None else [False] * n
    clusters: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        if not kept[row]:
            clusters[int(label) if label >= 0 else -(row + 1)].append(row)  # unclustered: a cluster of one
    target = list(persons)
    claimed: set[int] = set()
    free: list[tuple[int, list[int]]] = []
    for label, rows in clusters.items():
        seeded = Counter(persons[r] for r in rows if confirmed[r])
        if seeded:
            owner = seeded.most_common(1)[0][0]
            claimed.add(owner)
            for r in rows:
                if not confirmed[r]:
                    target[r] = owner
        else:
            free.append((label, rows))
    # clusters without a user-placed face: the person they overlap most that no other cluster took
    # (unnamed ones first), else a new one
    offers = []
    for index, (_, rows) in enumerate(free):
        overlap = Counter(persons[r] for r in rows)
        offers += [(count, index, person) for person, count in overlap.items()]
    taken: dict[int, int] = {}
    for count, index, person in sorted(offers, key=lambda o: (o[2] in named, -o[0], o[1], o[2])):
        if index not in taken and person not in claimed:
            taken[index] = person
            claimed.add(person)
    new_people = 0
    for index, (_, rows) in enumerate(free):
        if index in taken:
            owner = taken[index]
        else:
            new_people += 1
            owner = -new_people
        for r in rows:
            target[r] = owner
    # the rules, whatever the clustering did: "not this person", and one face per photo per person
    row_of = {fid: r for r, fid in enumerate(face_ids)}
    barred = {(row_of[f], p) for f, p in links if f in row_of}
    seen: set[tuple[int, str]] = set()
    order = sorted(range(n), key=lambda r: (not confirmed[r], kept[r], face_ids[r]))
    for r in order:
        if (r, target[r]) in barred or (target[r], photos[r]) in seen:
            if confirmed[r] and target[r] == persons[r] and (r, target[r]) not in barred:
                pass  # a user-placed face stays, whatever else shares its photo
            else:
                new_people += 1
                target[r] = -new_people
        seen.add((target[r], photos[r]))
    return {face_ids[r]: target[r] for r in range(n) if target[r] != persons[r]}


def link_pairs(face_ids: Sequence[int], persons: Sequence[int], links: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """"Not this person" links as row pairs a clustering takes: the face against (up to
    ``MAX_LINKS_PER_PERSON``) faces of that person.

    Args:
        face_ids: every face, by id.
        persons: each face's person now.
        links: (face id, person id) links.

    Returns:
        (row, row) pairs.
    """
    row_of = {fid: r for r, fid in enumerate(face_ids)}
    members: dict[int, list[int]] = defaultdict(list)
    for r, p in enumerate(persons):
        if len(members[p]) < MAX_LINKS_PER_PERSON:
            members[p].append(r)
    return [(row_of[f], m) for f, p in links if f in row_of for m in members.get(p, [])]
