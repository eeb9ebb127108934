"""Average linkage on a neighbour graph: exact average distances, merged in order, without the
m x m matrix.

Why it gives average linkage's answer:

1. Two clusters whose average distance is at most the cut hold at least one pair of faces at most
   the cut apart (a minimum never exceeds a mean). So only clusters joined by an edge of the radius
   graph (pairs within the cut) can ever merge, and the graph's edges are all the candidates
   there are.
2. Each candidate pair carries its exact average distance: for two single faces the edge's length;
   after a merge the Lance-Williams update (the size-weighted mean of the two parts' averages),
   and where one part had no edge to a neighbour, that part's average is computed from the
   vectors (a block product of the two clusters' members).
3. Candidates are merged smallest first from a heap. Average linkage is reducible (a merged
   cluster is no nearer to a third than the nearer of its parts), so merging the global minimum
   first gives the same merges as the nearest-neighbour chain over the full matrix.

The one approximation is the graph: each face asks for its k nearest neighbours
(``neighbours.K_NEIGHBOURS``), so where more than k faces lie within the cut of a face, some of
its pairs are missing. They matter only when every within-cut pair between two clusters is
missing; tests compare the result with the exact matrix version on real faces.

Rules: faces that share a token (faces of one photo, a cannot-link pair) never share a cluster;
faces with one seed start as one cluster, and clusters of two different seeds never merge.
Memory is O(edges): the heap, and a dictionary of average distances per cluster, whose total
size never grows (a merge's neighbours are the union of its parts').
"""

from __future__ import annotations

import heapq
import logging
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)

_PRODUCT = 1 << 22  # most distances computed in one block (16 MB of float32)
_TICK_EVERY = 1000  # merges between progress reports


def mean_distances(vectors: np.ndarray, a: Sequence[int], others: Sequence[Sequence[int]]) -> np.ndarray:
    """Average Euclidean distance between the unit vectors of ``a`` and those of each of ``others``.

    Args:
        vectors: (N, D) unit vectors.
        a: row numbers of one cluster.
        others: row numbers of each other cluster.

    Returns:
        One float64 average per cluster of ``others``.
    """
    if not len(others):
        return np.zeros(0)
    left = vectors[np.asarray(a)]
    lengths = np.array([len(o) for o in others])
    joined = np.concatenate([np.asarray(o, np.int64) for o in others])
    sums = np.empty(len(joined))
    step = max(1, _PRODUCT // max(len(left), 1))
    for start in range(0, len(joined), step):
        dots = left @ vectors[joined[start:start + step]].T
        np.multiply(dots, -2.0, out=dots)
        dots += 2.0
        np.maximum(dots, 0.0, out=dots)
        np.sqrt(dots, out=dots)
        sums[start:start + step] = dots.sum(axis=0, dtype=np.float64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    return np.add.reduceat(sums, starts) / (len(left) * lengths)


class _Clusters:
    """Clusters during the merging: members, sizes, rule tokens, seeds and average distances."""

    def __init__(self, vectors: np.ndarray, tokens: dict[int, set[int]], seeds: np.ndarray | None) -> None:
        n = len(vectors)
        self.vectors = vectors
        self.size = np.ones(n, np.int64)
        self.members: dict[int, list[int]] = {}
        self.tokens = tokens  # cluster id -> tokens; absent: none
        self.seed: dict[int, int] = {}
        self.adj: list[dict[int, float]] = [{} for _ in range(n)]
        self.owner = np.arange(n)
        if seeds is not None:
            for value in np.unique(seeds[seeds >= 0]):
                faces = np.flatnonzero(seeds == value)
                head = int(faces[0])
                self.owner[faces] = head
                self.size[head] = len(faces)
                self.members[head] = faces.tolist()
                self.seed[head] = int(value)
                joined = set().union(*(tokens.pop(int(f), set()) for f in faces))
                if joined:
                    tokens[head] = joined

    def of(self, c: int) -> list[int]:
        """The faces of cluster ``c``."""
        return self.members.get(c, [c])

    def conflict(self, a: int, b: int) -> bool:
        """Whether a rule keeps clusters ``a`` and ``b`` apart (a shared token, two seeds)."""
        ta, tb = self.tokens.get(a), self.tokens.get(b)
        if ta and tb and not ta.isdisjoint(tb):
            return True
        sa, sb = self.seed.get(a, -1), self.seed.get(b, -1)
        return sa >= 0 and sb >= 0 and sa != sb

    def connect(self, i: np.ndarray, j: np.ndarray, d: np.ndarray, heap: list) -> None:
        """Candidate pairs from face edges: one per pair of clusters, with its exact average."""
        a, b = self.owner[i], self.owner[j]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        lo, hi, d = lo[keep], hi[keep], d[keep]
        grouped = (self.size[lo] > 1) | (self.size[hi] > 1)
        for x, y, dist in zip(lo[~grouped].tolist(), hi[~grouped].tolist(), d[~grouped].tolist()):
            if (self.tokens or self.seed) and self.conflict(x, y):
                continue
            self.adj[x][y] = dist
            self.adj[y][x] = dist
            heap.append((dist, x, y))
        pairs = np.unique(np.stack([lo[grouped], hi[grouped]]), axis=1) if grouped.any() else np.zeros((2, 0), int)
        for x, y in zip(pairs[0].tolist(), pairs[1].tolist()):
            if self.conflict(x, y):
                continue
            dist = float(mean_distances(self.vectors, self.of(x), [self.of(y)])[0])
            self.adj[x][y] = dist
            self.adj[y][x] = dist
            heap.append((dist, x, y))

    def merge(self, a: int, b: int, threshold: float, heap: list) -> None:
        """Join clusters ``a`` and ``b``; their neighbours within the cut get the merged
        cluster's averages (a pair beyond the cut is dropped: it can only come back through a
        neighbour within the cut, and is then computed from the vectors)."""
        keep, gone = (a, b) if self.size[a] >= self.size[b] else (b, a)
        adj_a, adj_b = self.adj[a], self.adj[b]
        sa, sb = float(self.size[a]), float(self.size[b])
        total = sa + sb
        around = (adj_a.keys() | adj_b.keys()) - {a, b}
        for c in around:
            self.adj[c].pop(a, None)
            self.adj[c].pop(b, None)
        tokens = self.tokens.pop(a, set()) | self.tokens.pop(b, set())
        seed = max(self.seed.pop(a, -1), self.seed.pop(b, -1))
        if tokens:
            self.tokens[keep] = tokens
        if seed >= 0:
            self.seed[keep] = seed
        if tokens or self.seed:
            around = {c for c in around if not self.conflict(keep, c)}
        merged: dict[int, float] = {}
        lone: list[tuple[int, int, float]] = []  # (neighbour, the part without its average, the other's)
        for c in around:
            da, db = adj_a.get(c), adj_b.get(c)
            if da is not None and db is not None:
                merged[c] = (sa * da + sb * db) / total
            elif da is not None:
                if sa * da + sb * 0.0 <= threshold * total:  # else beyond the cut whatever b's is
                    lone.append((c, b, sa * da))
            elif sb * db <= threshold * total:
                lone.append((c, a, sb * db))
        for part in (a, b):
            asked = [(c, partial) for c, p, partial in lone if p == part]
            if asked:
                found = mean_distances(self.vectors, self.of(part), [self.of(c) for c, _ in asked])
                weight = sa if part == a else sb
                for (c, partial), d in zip(asked, found.tolist()):
                    merged[c] = (partial + weight * d) / total
        members = self.of(keep)
        members.extend(self.of(gone))
        self.members[keep] = members
        self.members.pop(gone, None)
        self.size[keep] = total
        kept: dict[int, float] = {}
        for c, dist in merged.items():
            if dist <= threshold:
                kept[c] = dist
                self.adj[c][keep] = dist
                heapq.heappush(heap, (dist, min(keep, c), max(keep, c)))
        self.adj[keep] = kept
        self.adj[gone] = {}


def graph_average_linkage(vectors: np.ndarray, threshold: float, edges: tuple[np.ndarray, np.ndarray, np.ndarray],
                          tokens: dict[int, set[int]] | None = None, seeds: np.ndarray | None = None,
                          tick: Callable[[int], None] = lambda n: None) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """Average-linkage clusters cut at ``threshold``, merging only along ``edges``.

    Args:
        vectors: (N, D) unit vectors.
        threshold: the largest average Euclidean distance at which two clusters merge.
        edges: ``(i, j, distance)`` arrays, the neighbour graph's pairs within ``threshold``.
        tokens: face -> rule tokens; two clusters sharing a token never merge (faces of one
            photo share one; each cannot-link pair has its own). Absent faces have none.
        seeds: (N,) a seed per face, -1 for none: faces with one seed start as one cluster, and
            clusters of two different seeds never merge.
        tick: called with counts of merges done.

    Returns:
        ``(labels, merges)``: a cluster label per face (the id of one member of its cluster; not
        numbered 0..K-1), and ``(i, j, height)`` per merge in the order done, which
        ``linkage.cut`` turns into the labels of this cut or any lower one (the heights of
        merges along the tree never fall, and seeded faces start together).
    """
    vectors = np.ascontiguousarray(vectors, np.float32)
    clusters = _Clusters(vectors, dict(tokens or {}), seeds)
    heap: list[tuple[float, int, int]] = []
    clusters.connect(np.asarray(edges[0], np.int64), np.asarray(edges[1], np.int64),
                     np.asarray(edges[2], np.float64), heap)
    heap = [h for h in heap if h[0] <= threshold]
    heapq.heapify(heap)
    adj = clusters.adj
    done = 0
    merges = [(head, face, 0.0) for head, members in clusters.members.items() for face in members[1:]]
    while heap:
        dist, a, b = heapq.heappop(heap)
        if adj[a].get(b) != dist:  # stale: a or b merged since, or its average changed
            continue
        clusters.merge(a, b, threshold, heap)
        merges.append((a, b, dist))
        done += 1
        if done % _TICK_EVERY == 0:
            tick(_TICK_EVERY)
    tick(done % _TICK_EVERY)
    labels = np.arange(len(vectors))
    for head, members in clusters.members.items():
        labels[members] = head
    log.debug("graph average linkage: %d merges", done)
    return labels, merges
