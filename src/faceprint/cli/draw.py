"""Draw detections on an image for --draw."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from faceprint.types import Detection


GREEN, RED, BLUE = (0, 200, 0), (0, 0, 230), (0, 0, 255)  # BGR, as OpenCV draws


def draw_boxes(image: np.ndarray, marks: Sequence[tuple[Detection, str, tuple[int, int, int], bool]],
               path: Path) -> None:
    """Save a copy of ``image`` with each (detection, label, colour, with landmarks) drawn on it."""
    import cv2

    canvas = np.ascontiguousarray(image[:, :, ::-1].copy())
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for det, label, colour, with_points in marks:
        b = det.box
        cv2.rectangle(canvas, (int(b.left), int(b.top)), (int(b.right), int(b.bottom)), colour, thickness)
        cv2.putText(canvas, label, (int(b.left), max(int(b.top) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45 * thickness, colour, thickness)
        if with_points:
            points = det.landmarks68 if det.landmarks68 is not None else det.landmarks
            for x, y in points:
                cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, BLUE, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = cv2.imwrite(str(path), canvas)
    except cv2.error:  # an extension OpenCV has no writer for (.txt, none at all)
        written = False
    if not written:
        raise OSError(f"could not write {path}: use a .jpg or .png name in a writable folder")


def draw_detections(image: np.ndarray, detections: Sequence[Detection], path: Path) -> None:
    """Save a copy of ``image`` with boxes, scores and landmarks drawn on it."""
    draw_boxes(image, [(d, f"{d.score:.2f}", GREEN, True) for d in detections], path)
