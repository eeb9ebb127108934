"""Draw detections on an image for --draw."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from faceprint.types import Detection


def draw_detections(image: np.ndarray, detections: Sequence[Detection], path: Path) -> None:
    """Save a copy of ``image`` with boxes, scores and landmarks drawn on it."""
    import cv2

    canvas = np.ascontiguousarray(image[:, :, ::-1].copy())
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for det in detections:
        b = det.box
        cv2.rectangle(canvas, (int(b.left), int(b.top)), (int(b.right), int(b.bottom)), (0, 200, 0), thickness)
        cv2.putText(canvas, f"{det.score:.2f}", (int(b.left), max(int(b.top) - 4, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, (0, 200, 0), thickness)
        points = det.landmarks68 if det.landmarks68 is not None else det.landmarks
        for x, y in points:
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, (0, 0, 255), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), canvas):
        raise OSError(f"could not write {path}: use a .jpg or .png name in a writable folder")
