"""Follow a face between detections by template matching: normalised cross-correlation of a small
grey patch of the face in a window around its last box, at three sizes (zoom, approach). Cheap, so
the detector need not run on every frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from faceprint.types import Box

TEMPLATE_WIDTH = 32  # pixels: the face patch is matched at this width, whatever the face's size
SEARCH_MARGIN = 0.5  # the window searched around the last box, as a fraction of its size
SCALES = (1 / 1.06, 1.0, 1.06)  # face sizes tried from one frame to the next (zoom, approach)
SCALE_PENALTY = 0.01  # correlation another size must win by


@dataclass(frozen=True)
class FaceTemplate:
    """A face's grey patch, TEMPLATE_WIDTH pixels for the box's width; ``dx``, ``dy``: where the
    patch starts inside the box, as fractions of its width and height (above 0 when the box
    reached past the frame's edge and the patch was cut at it)."""

    patch: np.ndarray
    dx: float
    dy: float


def face_template(grey: np.ndarray, box: Box) -> FaceTemplate | None:
    """The grey patch inside ``box`` (clipped to the frame) at the scale that makes the box
    TEMPLATE_WIDTH wide; None if too little of it is inside the frame."""
    import cv2

    h, w = grey.shape[:2]
    left, top = int(max(box.left, 0)), int(max(box.top, 0))
    right, bottom = int(min(box.right, w)), int(min(box.bottom, h))
    if right - left < 4 or bottom - top < 4:
        return None
    scale = TEMPLATE_WIDTH / box.width
    size = (max(4, round((right - left) * scale)), max(4, round((bottom - top) * scale)))
    patch = cv2.resize(grey[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
    return FaceTemplate(patch, (left - box.left) / box.width, (top - box.top) / box.height)


def follow_template(grey: np.ndarray, box: Box, template: FaceTemplate,
                    scales: Sequence[float] = SCALES) -> tuple[Box, float] | None:
    """Where ``template`` best matches in a window around ``box`` (its place in the previous
    frame), trying the face a little smaller, the same size and a little larger: the moved box and
    its correlation, or None when the window is too small."""
    import cv2

    h, w = grey.shape[:2]
    mx, my = box.width * SEARCH_MARGIN, box.height * SEARCH_MARGIN
    left, top = int(max(box.left - mx, 0)), int(max(box.top - my, 0))
    right, bottom = int(min(box.right + mx, w)), int(min(box.bottom + my, h))
    best: tuple[float, Box] | None = None
    for k in scales:
        width, height = box.width * k, box.height * k
        scale = TEMPLATE_WIDTH / width
        size = (round((right - left) * scale), round((bottom - top) * scale))
        if size[0] < template.patch.shape[1] or size[1] < template.patch.shape[0]:
            continue
        window = cv2.resize(grey[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
        scores = cv2.matchTemplate(window, template.patch, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        # the peak to a fraction of a template pixel (one template pixel is width / 32 image pixels)
        fx = x + _subpixel(scores[y, max(x - 1, 0) : x + 2], x)
        fy = y + _subpixel(scores[max(y - 1, 0) : y + 2, x], y)
        new_left = left + fx / scale - template.dx * width
        new_top = top + fy / scale - template.dy * height
        # another size must do clearly better than the same size, or boxes would drift in size
        score -= 0.0 if k == 1.0 else SCALE_PENALTY
        if best is None or score > best[0]:
            best = (score, Box(new_left, new_top, new_left + width, new_top + height))
    if best is None:
        return None
    return best[1], float(best[0])


def _subpixel(values: np.ndarray, at: int) -> float:
    """Offset of the vertex of the parabola through a peak and its two neighbours (0 at an edge)."""
    if at == 0 or len(values) < 3:
        return 0.0
    left, mid, right = (float(v) for v in values)
    curvature = left - 2 * mid + right
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
