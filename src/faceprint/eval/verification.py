"""Run a pair protocol through a pipeline and score it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from faceprint.eval.protocols import Pair
from faceprint.pipeline.batch import embed_paths
from faceprint.pipeline.cache import EmbeddingCache
from faceprint.pipeline.match import distance
from faceprint.pipeline.pipeline import Pipeline

# A pair with an image where no face was found is scored at the largest possible distance
# between unit vectors, i.e. it is always called "different".
MISSING_DISTANCE = 2.0


@dataclass
class PairScores:
    distances: np.ndarray
    same: np.ndarray
    folds: np.ndarray
    missing: int  # pairs with at least one image without a usable face
    problems: dict[Path, str] = field(default_factory=dict)


def score_pairs(pipeline: Pipeline, pairs: Sequence[Pair], metric: str = "euclidean", use_cache: bool = True,
                progress: Callable[[int], None] | None = None, workers: int = 1) -> PairScores:
    """Embed every image of the pairs once and return per-pair distances."""
    unique = sorted({p.first for p in pairs} | {p.second for p in pairs})
    cache = EmbeddingCache(pipeline) if use_cache else None
    vectors, problems = embed_paths(pipeline, unique, cache=cache, progress=progress, workers=workers)
    distances = np.empty(len(pairs))
    missing = 0
    for i, pair in enumerate(pairs):
        a, b = vectors.get(pair.first), vectors.get(pair.second)
        if a is None or b is None:
            distances[i] = MISSING_DISTANCE if metric == "euclidean" else MISSING_DISTANCE ** 2 / 2
            missing += 1
        else:
            distances[i] = float(distance(a, b, metric))
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    return PairScores(distances, same, folds, missing, problems)
