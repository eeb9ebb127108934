"""dlib shape predictors: 5 points (alignment) and 68 points (iBUG 300-W), run inside a box."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from faceprint.models import weights
from faceprint.models.detectors.dlib_detectors import import_dlib


@lru_cache(maxsize=2)
def _predictor(points: int):
    weight = weights.DLIB_5_POINT if points == 5 else weights.DLIB_68_POINT
    return import_dlib().shape_predictor(str(weights.locate(weight)))


def predict(image: np.ndarray, box: tuple[float, float, float, float], points: int = 5) -> np.ndarray:
    """Landmarks (points x 2, float) inside ``box`` (left, top, right, bottom; right/bottom exclusive)."""
    dlib = import_dlib()
    left, top, right, bottom = (int(round(v)) for v in box)
    rect = dlib.rectangle(left, top, right - 1, bottom - 1)
    shape = _predictor(points)(image, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
