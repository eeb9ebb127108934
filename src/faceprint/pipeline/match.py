"""Matching stage: distances between unit embeddings and the same/different decision."""

from __future__ import annotations

import numpy as np

METRICS = ("euclidean", "cosine")


def distance(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance between unit vectors (broadcasting over leading axes).

    ``euclidean``: |a - b| in [0, 2]; ``cosine``: 1 - a.b in [0, 2]. For unit vectors
    cosine = euclidean**2 / 2, so a threshold in one converts exactly to the other.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if metric == "euclidean":
        return np.linalg.norm(a - b, axis=-1)
    if metric == "cosine":
        return 1.0 - np.sum(a * b, axis=-1)
    raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")


def convert_threshold(euclidean_threshold: float, metric: str) -> float:
    """The threshold in ``metric`` equivalent to a Euclidean one on unit vectors."""
    if metric == "euclidean":
        return euclidean_threshold
    if metric == "cosine":
        return euclidean_threshold ** 2 / 2.0
    raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
