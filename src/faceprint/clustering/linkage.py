"""Average-linkage clustering of unit vectors with a cannot-link rule, cut at a distance.

Exact average linkage, held in memory: ``cluster_vectors(method="exact")``, and its ``auto`` choice
up to ``DIRECT`` faces. It does not scale past ``MAX_BLOCK`` faces; ``graph`` (average linkage on a
neighbour graph, the same clusters) has no such limit:

1. Above ``DIRECT`` faces, faces closer than the threshold are joined in a radius graph and its
   connected components are clustered apart. Every pair across two components is farther than
   the threshold, so average linkage cut at the threshold never merges across them and the split
   changes nothing. It only helps with well-separated vectors: on real photo collections the
   graph is one component holding nearly every face (at 0.39, LFW's 5,288 faces: 8 components,
   the largest 5,280; CelebA's 6,110: 6, the largest 6,067), so in practice a run clusters at most
   ``MAX_BLOCK`` faces, and a larger collection is refused (BadInput) rather than approximated.
2. Inside a component, the nearest-neighbour chain algorithm (exact for average linkage, O(m^2)
   time, one m x m float32 matrix: 4 m^2 bytes) merges clusters, with the Lance-Williams update
   done as numpy row operations. Faces of one photo start at distance +inf from each other; an
   average with an infinite term stays infinite, so two clusters holding faces of one photo never
   merge.
3. A cluster whose nearest neighbour lies beyond the cut is retired at once: average linkage is
   reducible (the merged cluster is no nearer to a third than the nearer of its parts), so it can
   never merge below the cut later.
"""

from __future__ import annotations

import logging

import numpy as np

from faceprint.errors import BadInput

log = logging.getLogger(__name__)

MAX_BLOCK = 12_000  # most faces in one linked component (in practice per run): a 576 MB float32 matrix
DIRECT = 6_000  # up to this many faces, skip the component split (it costs more than it saves)
_CHUNK = 2048  # rows per matrix product when building the radius graph


def radius_components(vectors: np.ndarray, radius: float) -> np.ndarray:
    """Connected components of the graph joining unit vectors at Euclidean distance <= ``radius``:
    a label (the smallest member index) per vector. The pairs are found a block of rows at a
    time and merged into a union-find forest at once, so memory stays O(N * chunk)."""
    v = np.ascontiguousarray(vectors, np.float32)
    n = len(v)
    # |a - b|^2 = 2 - 2 a.b for unit vectors; the small margin keeps float32 rounding from
    # splitting a pair that sits on the radius (joining one too many only costs time)
    min_dot = 1.0 - (radius * radius) / 2.0 - 1e-5
    parent = np.arange(n)
    for start in range(0, n, _CHUNK):
        i, j = np.nonzero(v[start : start + _CHUNK] @ v[start:].T >= min_dot)
        keep = j > i  # both offsets are relative to ``start``: the upper triangle
        parent = _union(parent, i[keep] + start, j[keep] + start)
    return parent


def _union(parent: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Join the edges' ends in a forest whose every node points at its root (hooking and
    pointer jumping: a few numpy passes, no Python loop over edges); returns it flattened."""
    while True:
        pu, pv = parent[rows], parent[cols]
        lo, hi = np.minimum(pu, pv), np.maximum(pu, pv)
        moving = lo != hi
        if not moving.any():
            return parent
        rows, cols = rows[moving], cols[moving]
        np.minimum.at(parent, hi[moving], lo[moving])
        while True:  # point every node at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def average_linkage(vectors: np.ndarray, threshold: float,
                    groups: np.ndarray | None = None) -> list[tuple[int, int, float]]:
    """Every average-linkage merge at a height <= ``threshold``.

    Args:
        vectors: (N, D) unit vectors.
        threshold: the largest Euclidean average distance at which two clusters merge.
        groups: (N,) a photo id per vector; vectors of one group never share a cluster.

    Returns:
        ``(i, j, height)`` per merge, in the order done, with ``i`` and ``j`` indices of a member
        of each merged cluster. ``cut(merges, N)`` turns them into labels, for this threshold or
        any lower one (average linkage never merges at a height below an earlier merge's).
    """
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2:
        raise BadInput(f"vectors must be a 2-D array (faces x dimensions), not shape {vectors.shape}")
    n = len(vectors)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    if len(groups) != n:
        raise BadInput(f"got {len(groups)} photo ids for {n} vectors")
    if n < 2:
        return []
    # one block when it fits: on real collections the radius graph is one component anyway
    labels = np.zeros(n, np.int64) if n <= DIRECT else radius_components(vectors, threshold)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    merges: list[tuple[int, int, float]] = []
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        if len(members) > MAX_BLOCK:
            raise BadInput(
                f"too many faces to cluster at once: {len(members):,} of the {n:,} faces form one linked "
                f"group (chains of faces within {threshold:g} of each other), and method='exact' clusters with "
                f"exact average linkage in memory (4 x faces^2 bytes), at most {MAX_BLOCK:,} faces per "
                f"group. Photo collections form one group: use method='graph' (the default above "
                f"{DIRECT:,} faces), which has no such limit")
        for a, b, height in _nn_chain(vectors[members], groups[members], threshold):
            merges.append((int(members[a]), int(members[b]), height))
    return merges


def _nn_chain(vectors: np.ndarray, groups: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    m = len(vectors)
    # |a - b| = sqrt(2 - 2 a.b), in place in one float32 matrix (4 m^2 bytes at the peak)
    dist = vectors @ vectors.T
    dist *= -2.0
    dist += 2.0
    np.maximum(dist, 0.0, out=dist)
    np.sqrt(dist, out=dist)
    np.fill_diagonal(dist, np.inf)
    _forbid_same_group(dist, groups)
    size = np.ones(m, np.float64)
    alive = np.ones(m, bool)
    left = m
    chain: list[int] = []
    merges = []
    while left > 1:
        if not chain:
            chain.append(int(np.flatnonzero(alive)[0]))
        a = chain[-1]
        row = dist[a]
        b = int(np.argmin(row))
        nearest = float(row[b])
        if len(chain) > 1 and row[chain[-2]] <= nearest:
            b = chain[-2]  # ties go to the chain's previous element, so the chain cannot cycle
        if nearest > threshold:  # never merges below the cut: retire it
            alive[a] = False
            dist[a, :] = np.inf
            dist[:, a] = np.inf
            left -= 1
            chain.pop()
            continue
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            merges.append((a, b, nearest))
            # Lance-Williams for average linkage: the size-weighted mean of the two rows;
            # inf (a cannot-link, or a retired cluster) stays inf
            merged = (size[a] * dist[a].astype(np.float64) + size[b] * dist[b]) / (size[a] + size[b])
            keep, gone = (a, b) if a < b else (b, a)
            dist[keep, :] = merged
            dist[:, keep] = merged
            dist[keep, keep] = np.inf
            dist[gone, :] = np.inf
            dist[:, gone] = np.inf
            size[keep] += size[gone]
            alive[gone] = False
            left -= 1
        else:
            chain.append(b)
    return merges


def _forbid_same_group(dist: np.ndarray, groups: np.ndarray) -> None:
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends):
        if e - s > 1:
            idx = order[s:e]
            dist[np.ix_(idx, idx)] = np.inf


def cut(merges: list[tuple[int, int, float]], n: int, threshold: float | None = None) -> np.ndarray:
    """Cluster labels 0..K-1 of ``n`` items after the merges at heights <= ``threshold`` (all when
    None), numbered by first appearance."""
    parent = np.arange(n)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, height in merges:
        if threshold is None or height <= threshold:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(i) for i in range(n)], np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int64)


def drop_small(labels: np.ndarray, min_size: int, keep_negative: bool = False) -> np.ndarray:
    """Labels with clusters of fewer than ``min_size`` members set to -1, the others renumbered
    0..K-1 from the largest cluster down (ties: the cluster seen first). With ``keep_negative``,
    negative labels mean "unclustered" already and stay -1."""
    labels = np.asarray(labels, np.int64)
    out = np.full(len(labels), -1, np.int64)
    counted = labels >= 0 if keep_negative else np.ones(len(labels), bool)
    if not counted.any():
        return out
    ids, first, inverse, counts = np.unique(labels[counted], return_index=True, return_inverse=True,
                                            return_counts=True)
    kept = np.flatnonzero(counts >= max(min_size, 1))
    kept = kept[np.lexsort((first[kept], -counts[kept]))]
    mapping = np.full(len(ids), -1, np.int64)
    mapping[kept] = np.arange(len(kept))
    out[counted] = mapping[inverse.reshape(-1)]
    return out
