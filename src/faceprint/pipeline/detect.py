"""Detection stage: a detector's boxes plus dlib's landmarks inside each box."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from faceprint.errors import BadInput
from faceprint.models import landmarks as landmark_model
from faceprint.models.detectors import RawFace
from faceprint.types import Box, Detection


def detect_faces(
    image: np.ndarray,
    detector: Callable[[np.ndarray], Sequence[RawFace]],
    detector_name: str,
    landmarks: int = 5,
    min_face_size: float = 0.0,
    max_faces: int | None = None,
    averaged_landmarks: bool = True,
) -> list[Detection]:
    """Every face in ``image``, largest score first.

    Args:
        image: RGB uint8 array from ``images.load_image``.
        detector: a callable from the registry.
        landmarks: 5 (always computed, used for alignment) or 68 (adds ``landmarks68``).
        min_face_size: drop faces whose box is smaller than this many pixels on its short side.
        max_faces: keep at most this many faces (highest scores).
        averaged_landmarks: the 5 points are the mean over the box and six perturbations of it
            (``landmarks.predict_averaged``: steadier alignment for ~3 ms a face); else one pass.
    """
    if landmarks not in (5, 68):
        raise BadInput(f"landmarks must be 5 or 68, not {landmarks}")
    height, width = image.shape[:2]
    raw = sorted(detector(image), key=lambda f: -f.score)
    found = []
    for face in raw:
        left, top, right, bottom = face.box
        left, top = max(left, 0.0), max(top, 0.0)
        right, bottom = min(right, float(width)), min(bottom, float(height))
        if right - left < max(min_face_size, 2) or bottom - top < max(min_face_size, 2):
            continue
        box = (float(left), float(top), float(right), float(bottom))
        shape_box = face.landmark_box or box
        points5 = (landmark_model.predict_averaged if averaged_landmarks else landmark_model.predict)(
            image, shape_box, 5)
        points68 = landmark_model.predict(image, shape_box, 68) if landmarks == 68 else None
        found.append(Detection(Box(*box), float(face.score), points5, points68, detector_name, face.points))
        if max_faces is not None and len(found) >= max_faces:
            break
    return found


def nearest_center(detections: Sequence[Detection], image_shape: tuple[int, ...]) -> int:
    """Index of the detection whose box centre is nearest the image centre."""
    cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
    distances = [(d.box.center[0] - cx) ** 2 + (d.box.center[1] - cy) ** 2 for d in detections]
    return int(np.argmin(distances))
