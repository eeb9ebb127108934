"""YuNet (libfacedetection, BSD-3) through the ``yuface`` wheel: fast, accurate, 5 landmarks."""

from __future__ import annotations

import numpy as np

from faceprint.errors import ModelNotAvailable
from faceprint.models.detectors import RawFace


class YuNetDetector:
    """YuNet on an image resized so its long side is at most ``max_side`` pixels.

    Args:
        score_threshold: minimum confidence in [0, 1] (YuNet reports 0-100; we rescale).
        max_side: YuNet's accuracy drops on very large inputs; bigger images are shrunk first.
        upsample: enlarge the image 2**upsample times first, to find faces under ~20 px.
    """

    name = "yunet"

    def __init__(self, score_threshold: float = 0.6, max_side: int = 960, upsample: int = 0) -> None:
        try:
            import yuface  # noqa: F401  (only to fail early with advice)
        except ImportError:
            raise ModelNotAvailable(
                "the yunet detector needs the `yuface` package (CPython 3.11 wheels): "
                "run `pip install yuface`, or use --detector hog"
            ) from None
        self.score_threshold = score_threshold
        self.max_side = max_side
        self.upsample = upsample

    def __call__(self, image: np.ndarray) -> list[RawFace]:
        import cv2
        from yuface import c_detect

        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width)) * (2 ** self.upsample)
        if scale != 1.0:
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                               interpolation=interp)
        rows = c_detect(np.ascontiguousarray(image[:, :, ::-1]))  # YuNet wants BGR
        faces = []
        for row in np.asarray(rows, dtype=np.float64):
            score = row[0] / 100.0
            if score < self.score_threshold:
                continue
            x, y, w, h = row[1:5] / scale
            points = row[5:15].reshape(5, 2) / scale
            faces.append(RawFace((x, y, x + w, y + h), score, points, dlib_like_box(x, y, w, h)))
        return faces


# dlib's landmark predictors were trained on dlib HOG boxes, which sit lower and are wider and
# shorter than YuNet's. Median HOG box in YuNet-box units over the 203 photos of the
# five_celebrity and ORL sets where both detectors found exactly one face (never LFW):
# centre shift (0, +0.068 h), width x1.087, height x0.820.
_HOG_FROM_YUNET = (0.0, 0.068, 1.087, 0.820)


def dlib_like_box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    dx, dy, sw, sh = _HOG_FROM_YUNET
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * h
    return (cx - sw * w / 2, cy - sh * h / 2, cx + sw * w / 2, cy + sh * h / 2)
