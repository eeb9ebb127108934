"""dlib's detectors: HOG (fast, frontal only) and MMOD CNN (accurate, slow, memory hungry)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from faceprint.errors import ModelNotAvailable
from faceprint.models import weights
from faceprint.models.detectors import RawFace


def import_dlib():
    """Import dlib or explain which package provides it."""
    try:
        import dlib
    except ImportError:
        raise ModelNotAvailable("dlib is not installed: run `pip install dlib-bin`") from None
    return dlib


@lru_cache(maxsize=1)
def _hog():
    return import_dlib().get_frontal_face_detector()


@lru_cache(maxsize=1)
def _mmod():
    return import_dlib().cnn_face_detection_model_v1(str(weights.locate(weights.DLIB_MMOD)))


class HogDetector:
    """dlib's HOG + linear SVM frontal face detector.

    Args:
        upsample: times to double the image before detecting (finds faces under ~80 px).
        score_threshold: SVM score cut; 0 is dlib's default, higher drops more false positives.
    """

    name = "hog"

    def __init__(self, upsample: int = 1, score_threshold: float = 0.0) -> None:
        self.upsample = upsample
        self.score_threshold = score_threshold

    def __call__(self, image: np.ndarray) -> list[RawFace]:
        rects, scores, _ = _hog().run(image, self.upsample, self.score_threshold)
        return [RawFace((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s)) for r, s in zip(rects, scores)]


class CnnDetector:
    """dlib's MMOD CNN detector: about 1 s per 512 px image on a CPU and 1-4.5 GB of RAM."""

    name = "cnn"

    def __init__(self, upsample: int = 0, score_threshold: float = 0.0) -> None:
        self.upsample = upsample
        self.score_threshold = score_threshold

    def __call__(self, image: np.ndarray) -> list[RawFace]:
        found = _mmod()(image, self.upsample)
        return [
            RawFace((d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1), float(d.confidence))
            for d in found if d.confidence >= self.score_threshold
        ]
