"""The k-nearest-neighbour graph clustering works on: exact blocked numpy while small, a faiss
HNSW graph above ``ANN_MIN_FACES`` when faiss is installed, or the caller's own search (a gallery's
index, Milvus) through a ``Neighbours`` callable.

Memory stays O(N * k): the exact search takes a block of rows at a time.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from faceprint.errors import BadInput

log = logging.getLogger(__name__)

# (queries (Q, D), k) -> (indices (Q, k) into the vectors clustered, -1 where fewer; Euclidean
# distances (Q, k)). A query may find itself: that neighbour is dropped.
Neighbours = Callable[[np.ndarray, int], "tuple[np.ndarray, np.ndarray]"]

K_NEIGHBOURS = 24  # neighbours asked for per face (16 to 96 give the same clusters on all of LFW: docs/clustering.md)
ANN_MIN_FACES = 100_000  # above this many faces the graph comes from faiss HNSW when installed
# Faces of one person are tight, near-duplicate groups, where HNSW finds neighbours less well than
# on a gallery's spread-out vectors: against exact search (2,000 queries, a 300,000-face collection
# of bench_cluster_million.py), the share of the neighbours within the 0.39 cut found was 0.82 at
# M=16 / efConstruction=40, 0.94 at 32 / 80 and 0.98 at these settings (building 3x slower than 16).
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 200
_BLOCK = 1024  # query rows per block (exact search and calls of a Neighbours callable)


def exact_neighbours(vectors: np.ndarray) -> Neighbours:
    """A ``Neighbours`` searching ``vectors`` exactly (one matrix product per block of queries)."""
    from faceprint.pipeline.match import nearest

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return nearest(queries, vectors, k)

    return search


def hnsw_neighbours(vectors: np.ndarray) -> Neighbours:
    """A ``Neighbours`` over a faiss HNSW graph built on ``vectors`` (approximate, fast at 1M)."""
    import os

    import faiss

    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.add(np.ascontiguousarray(vectors, np.float32))
    graph.hnsw.efSearch = HNSW_EF_SEARCH

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        d2, ids = graph.search(np.ascontiguousarray(queries, np.float32), k)
        return ids, np.sqrt(np.maximum(d2, 0.0))

    return search


def default_neighbours(vectors: np.ndarray) -> tuple[Neighbours, str]:
    """The search ``knn_edges`` uses when the caller gives none, and its name for the log."""
    import importlib.util

    if len(vectors) > ANN_MIN_FACES and importlib.util.find_spec("faiss") is not None:
        return hnsw_neighbours(vectors), "faiss HNSW"
    return exact_neighbours(vectors), "exact"


def knn_edges(vectors: np.ndarray, radius: float, k: int = K_NEIGHBOURS,
              neighbours: Neighbours | None = None,
              tick: Callable[[int], None] = lambda n: None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The undirected edges of the k-nearest-neighbour graph no longer than ``radius``.

    Args:
        vectors: (N, D) unit vectors.
        radius: the longest edge kept (Euclidean).
        k: neighbours asked for per face.
        neighbours: the search to use; None for ``default_neighbours``.
        tick: called with the count of faces searched, a block at a time.

    Returns:
        ``(i, j, distance)`` arrays with ``i < j``, each pair once.

    Raises:
        BadInput: the search returned arrays of the wrong shape or indices out of range.
    """
    n = len(vectors)
    if neighbours is None:
        neighbours, how = default_neighbours(vectors)
        log.info("neighbour graph of %d faces: %s search, k=%d", n, how, k)
    k = min(k + 1, n)  # the face itself is usually its own nearest
    rows, cols, dists = [], [], []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        ids, dist = neighbours(vectors[start:stop], k)
        ids, dist = np.asarray(ids), np.asarray(dist, np.float32)
        if ids.shape != dist.shape or ids.ndim != 2 or len(ids) != stop - start:
            raise BadInput(f"the neighbour search returned shapes {ids.shape} and {dist.shape} for "
                           f"{stop - start} queries: it must return (queries x k) indices and distances")
        if ids.size and ids.max() >= n:
            raise BadInput(f"the neighbour search returned index {int(ids.max())} for {n} vectors: it must "
                           f"return row numbers of the vectors clustered")
        me = np.arange(start, stop)[:, None]
        keep = (ids >= 0) & (ids != me) & (dist <= radius)
        i = np.broadcast_to(me, ids.shape)[keep]
        j = ids[keep].astype(np.int64)
        rows.append(np.minimum(i, j))
        cols.append(np.maximum(i, j))
        dists.append(dist[keep])
        tick(stop - start)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    i, j, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(dists)
    key = i * n + j
    key, first = np.unique(key, return_index=True)
    return i[first], j[first], d[first]
