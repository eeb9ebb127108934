"""Matching stage: distances between unit embeddings and the same/different decision."""

from __future__ import annotations

import numpy as np

from faceprint.errors import BadInput

METRICS = ("euclidean", "cosine")


def check_metric(metric: str) -> str:
    """``metric`` itself; BadInput unless it is one of ``METRICS``."""
    if metric not in METRICS:
        raise BadInput(f"metric must be {' or '.join(METRICS)}, not {metric!r}")
    return metric


def distance(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance between unit vectors (broadcasting over leading axes).

    ``euclidean``: |a - b| in [0, 2]; ``cosine``: 1 - a.b in [0, 2]. For unit vectors
    cosine = euclidean**2 / 2, so a threshold in one converts exactly to the other.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if check_metric(metric) == "euclidean":
        return np.linalg.norm(a - b, axis=-1)
    return 1.0 - np.sum(a * b, axis=-1)


def convert_threshold(euclidean_threshold: float, metric: str) -> float:
    """The threshold in ``metric`` equivalent to a Euclidean one on unit vectors."""
    if check_metric(metric) == "euclidean":
        return euclidean_threshold
    return euclidean_threshold ** 2 / 2.0


def nearest(queries: np.ndarray, vectors: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest unit vectors by Euclidean distance, for each query.

    Args:
        queries: (Q, D) or (D,) unit vectors.
        vectors: (N, D) unit vectors to search.
        k: neighbours per query (capped at N).

    Returns:
        ``(indices, distances)``, each (Q, k), nearest first; (Q, 0) when ``vectors`` is empty.
    """
    q = np.atleast_2d(np.asarray(queries, np.float32))
    v = np.asarray(vectors, np.float32)
    k = min(k, len(v))
    if k == 0:
        return np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
    if len(q) <= 8:
        # a few queries: einsum in one thread. BLAS spreads even a matrix-vector product over its
        # threads, and on a loaded machine waiting for them took ~30 ms at 10k faces where one
        # thread takes ~0.1 ms (measured by the gallery's benchmark on 2 busy cores)
        squared = np.stack([np.einsum("ij,j->i", v, row) for row in q])
        squared = np.maximum(2.0 - 2.0 * squared, 0.0)
    else:
        # |a - b|^2 = 2 - 2 a.b for unit vectors: one matrix product, then a partial sort
        squared = np.maximum(2.0 - 2.0 * (q @ v.T), 0.0)
    part = np.argpartition(squared, k - 1, axis=1)[:, :k] if k < len(v) else np.tile(np.arange(len(v)), (len(q), 1))
    order = np.take_along_axis(squared, part, axis=1).argsort(axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1)
    return indices, np.sqrt(np.take_along_axis(squared, indices, axis=1)).astype(np.float32)
