"""Face detectors. Each returns boxes and scores for an RGB uint8 image; landmarks come later."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RawFace:
    """A detector's output before landmarking: box (l, t, r, b), score, optional own 5 points,
    and optionally the box to give dlib's landmark predictor when it differs from ``box``."""

    box: tuple[float, float, float, float]
    score: float
    points: np.ndarray | None = None
    landmark_box: tuple[float, float, float, float] | None = None
