"""Alignment: map a detection's 5 landmarks onto a canonical chip.

``dlib_chip`` reproduces dlib's ``get_face_chip`` (150x150, padding 0.25) without dlib, including
its pyramid step for faces larger than the chip; ``facenet_chip`` is a FaceNet-style square crop
with a margin; ``template_chip`` warps onto any 5-point template (e.g. ArcFace 112x112).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

import numpy as np

from faceprint.errors import BadInput
from faceprint.types import Detection, FaceChip

# dlib's mean positions of its 5 landmarks in a unit face box (get_face_chip_details).
DLIB_5_TEMPLATE = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])

# The standard ArcFace 112x112 template: eye centres, nose tip, mouth corners (image-left first).
ARCFACE_112_TEMPLATE = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
])


# Where dlib's 5 points (image-right eye's outer and inner corner, image-left eye's outer and inner
# corner, base of the nose) sit among dlib's 68 iBUG landmarks, for ``points="68"``.
DLIB5_FROM_68 = [45, 42, 36, 39, 33]
ALIGN_POINTS = ("5", "68")


def arcface5_from_68(points68: np.ndarray) -> np.ndarray:
    """ArcFace's 5 points from dlib's 68: eye centres (means of 36-41 and 42-47) image-left first,
    nose tip (30), mouth corners (48, 54) image-left first."""
    p = np.asarray(points68, np.float64)
    eyes = sorted([p[36:42].mean(0), p[42:48].mean(0)], key=lambda q: q[0])
    mouth = sorted([p[48], p[54]], key=lambda q: q[0])
    return np.array([eyes[0], eyes[1], p[30], mouth[0], mouth[1]])


def with_points_from_68(detection: Detection) -> Detection:
    """The detection with its alignment points re-placed with the help of its 68 landmarks.

    ArcFace's chip (``keypoints``) is placed by the 68 landmarks' eye centres, nose tip and mouth
    corners instead of the detector's keypoints; dlib's chip (``landmarks``) by the mean of dlib's
    5-point model and the same five points of the 68. Chosen per network on CFP dev and LFW View 2
    (``python scripts/arcface_crops.py cfp|lfw``, docs/cfp_dev_candidates): YuNet's keypoints and
    the 5-point model misplace a turned face's far eye. MobileFaceNet CFP-FP 88.29 -> 90.76 %, dlib
    85.76 -> 87.67 %, neither worse on CFP-FF or LFW (the 68 alone would cost dlib 0.3 on CFP-FF).
    """
    if detection.landmarks68 is None:
        raise BadInput("alignment from 68 landmarks needs a detection made with landmarks=68")
    p = np.asarray(detection.landmarks68, np.float64)
    dlib5 = (np.asarray(detection.landmarks, np.float64) + p[DLIB5_FROM_68]) / 2.0
    return replace(detection, landmarks=dlib5, keypoints=arcface5_from_68(p))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst.

    Umeyama's method, as dlib's find_similarity_transform. Returns a 2x3 matrix.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mean_src, mean_dst = src.mean(0), dst.mean(0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    var_src = (src_c ** 2).sum() / len(src)
    cov = dst_c.T @ src_c / len(src)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(cov) < 0:
        s[1, 1] = -1
    rotation = u @ s @ vt
    scale = np.trace(np.diag(d) @ s) / var_src if var_src > 0 else 1.0
    translation = mean_dst - scale * rotation @ mean_src
    return np.hstack([scale * rotation, translation[:, None]])


def _dlib_chip_to_image(landmarks: np.ndarray, size: int, padding: float) -> np.ndarray:
    """dlib's chip->image affine map: similarity fit, then the rect/angle round trip dlib makes."""
    template = (padding + DLIB_5_TEMPLATE) / (2 * padding + 1) * size
    tform = similarity_transform(template, landmarks)
    m = tform[:, :2]
    p = m @ np.array([1.0, 0.0])
    angle, scale = math.atan2(p[1], p[0]), float(np.hypot(*p))
    # dlib centres its rect on tform(size/2, size/2) and, like all its rects, makes it one
    # pixel narrower than size*scale (centered_drect); chip corners map onto the rect's corners.
    center = tform @ np.array([size / 2.0, size / 2.0, 1.0])
    half = (size * scale - 1.0) / 2.0
    corners = np.array([[-half, -half], [half, -half], [-half, half]])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    image_pts = corners @ rot.T + center
    chip_pts = np.array([[0.0, 0.0], [size - 1.0, 0.0], [0.0, size - 1.0]])
    return _affine_from_3(chip_pts, image_pts)


def _affine_from_3(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a = np.hstack([src, np.ones((3, 1))])
    return np.linalg.solve(a, dst).T  # 2x3, dst = M @ [x, y, 1]


def warp(image: np.ndarray, chip_to_image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Sample ``image`` at chip_to_image(x, y) for every chip pixel (x, y).

    Bilinear, truncated to uint8, zero where the 2x2 neighbourhood leaves the image: exactly
    dlib's ``interpolate_bilinear`` as used by ``extract_image_chip``. Returns (height, width,
    channels).
    """
    width, height = size
    rows, cols = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    if rows < 2 or cols < 2:
        return np.zeros((height, width, channels), np.uint8)  # no 2x2 neighbourhood anywhere
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)[:, None]
    m = chip_to_image
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    floor_x, floor_y = np.floor(px), np.floor(py)
    left, top = floor_x.astype(np.intp), floor_y.astype(np.intp)
    # the map is affine (and its float evaluation monotonic), so the corners bound every sample
    x0, x1 = _corner_range(left)
    y0, y1 = _corner_range(top)
    all_inside = x0 >= 0 and y0 >= 0 and x1 < cols - 1 and y1 < rows - 1
    if not all_inside:
        inside = (left >= 0) & (top >= 0) & (left < cols - 1) & (top < rows - 1)
        np.clip(left, 0, cols - 2, out=left)
        np.clip(top, 0, rows - 2, out=top)
        x0, x1 = min(max(x0, 0), cols - 2), min(max(x1, 0), cols - 2)
        y0, y1 = min(max(y0, 0), rows - 2), min(max(y1, 0), rows - 2)
    # the pixels the chip reads, one plane per channel: gathers and arithmetic then run on whole
    # rows (with the channels innermost, numpy's inner loops would run three elements at a time)
    crop = image.reshape(rows, cols, channels)[y0 : y1 + 2, x0 : x1 + 2]
    stride = crop.shape[1]
    planes = np.ascontiguousarray(crop.transpose(2, 0, 1)).reshape(channels, -1)
    index = (top - y0) * stride + (left - x0)

    def pixel(offset: int) -> np.ndarray:
        return np.take(planes, index + offset, axis=1)  # (channels, height, width)

    # double precision and dlib's order of operations: float32 changes about one pixel in 500
    # by one grey level
    fx = px - floor_x
    fy = py - floor_y
    gx = 1 - fx
    upper = gx * pixel(0)
    upper += fx * pixel(1)
    lower = gx * pixel(stride)
    lower += fx * pixel(stride + 1)
    upper *= 1 - fy
    lower *= fy
    upper += lower
    np.floor(upper, out=upper)  # within 0..255 (a convex combination of uint8 values): no clip
    if not all_inside:
        upper[:, ~inside] = 0
    return upper.transpose(1, 2, 0).astype(np.uint8, order="C")


def _corner_range(values: np.ndarray) -> tuple[int, int]:
    corners = (values[0, 0], values[0, -1], values[-1, 0], values[-1, -1])
    return int(min(corners)), int(max(corners))


# A mirror swaps the face's sides: these orders keep each point's meaning after x -> width - 1 - x.
_DLIB5_MIRROR_ORDER = [2, 3, 0, 1, 4]
_KEYPOINTS_MIRROR_ORDER = [1, 0, 2, 4, 3]


def _mirror_points(points: np.ndarray, width: int, order: list[int]) -> np.ndarray:
    mirrored = np.asarray(points, np.float64)[order].copy()
    mirrored[:, 0] = width - 1 - mirrored[:, 0]
    return mirrored


def _from_mirror(chip_to_mirrored: np.ndarray, width: int) -> np.ndarray:
    """A chip -> mirrored-image map composed with the mirror: it cuts the same chip straight from
    the image, without copying a mirrored image."""
    flip = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
    return flip @ np.vstack([chip_to_mirrored, [0.0, 0.0, 1.0]])


def _cut(image: np.ndarray, points: np.ndarray, to_image: Callable[[np.ndarray], np.ndarray],
         size: tuple[int, int], mirror: bool, mirror_order: list[int]) -> np.ndarray:
    """The chip that ``to_image`` (points -> chip->image map) gives for ``points``; with ``mirror``,
    the chip the mirrored image would give for the mirrored points, cut straight from ``image``."""
    if not mirror:
        return extract(image, to_image(np.asarray(points, np.float64)), size)
    width = image.shape[1]
    return extract(image, _from_mirror(to_image(_mirror_points(points, width, mirror_order)), width), size)


def dlib_chip(image: np.ndarray, detection: Detection, size: int = 150, padding: float = 0.25,
              mirror: bool = False) -> FaceChip:
    """dlib's face chip for the detection's 5 landmarks; with ``mirror``, the chip of the mirrored
    image, aligned to the template in its own right (dlib's template is not left-right symmetric,
    so this is not the plain chip flipped: there the eyes land about 2 px off the template)."""
    chip = _cut(image, detection.landmarks, lambda p: _dlib_chip_to_image(p, size, padding), (size, size), mirror,
                _DLIB5_MIRROR_ORDER)
    return FaceChip(chip, detection, f"dlib{size}")


def extract(image: np.ndarray, chip_to_image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Cut a chip: like dlib, faces over twice the chip's scale come from a 2x pyramid level so
    that bilinear sampling does not alias (cv2.pyrDown: level pixel i sits at 2i)."""
    import cv2

    m = chip_to_image
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    while scale > 2.0 and min(image.shape[:2]) >= 4:
        image = cv2.pyrDown(image)
        m = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
        scale /= 2.0
    return warp(image, m, size)


def template_chip(image: np.ndarray, detection: Detection, template: np.ndarray, size: tuple[int, int],
                  kind: str, mirror: bool = False) -> FaceChip:
    """Warp the detector's own 5 keypoints (eyes, nose tip, mouth corners) onto a template in chip
    pixels, e.g. ARCFACE_112_TEMPLATE; ``mirror`` as in ``dlib_chip``."""
    if detection.keypoints is None:
        raise BadInput(f"{kind} alignment needs eye/nose/mouth keypoints: use the yunet detector")
    chip = _cut(image, detection.keypoints, lambda p: similarity_transform(template, p), size, mirror,
                _KEYPOINTS_MIRROR_ORDER)
    return FaceChip(chip, detection, kind)


def facenet_chip(image: np.ndarray, detection: Detection, size: int = 160, margin: float = 32.0) -> FaceChip:
    """FaceNet-style crop: the detector box grown by ``margin`` pixels (of the original image),
    cut out square and resized to size x size (as facenet-pytorch's MTCNN ``extract``)."""
    import cv2

    box = detection.box
    height, width = image.shape[:2]
    left = int(max(box.left - margin / 2, 0))
    top = int(max(box.top - margin / 2, 0))
    right = int(min(box.right + margin / 2, width))
    bottom = int(min(box.bottom + margin / 2, height))
    crop = image[top:bottom, left:right]
    if crop.size == 0:
        crop = np.zeros((size, size, 3), np.uint8)
    chip = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR)
    return FaceChip(chip, detection, f"facenet{size}")


def align_chip(image: np.ndarray, detection: Detection, kind: str, mirror: bool = False,
               points: str = "5") -> FaceChip:
    """Align one detection to the chip ``kind`` names: dlib150, facenet160 or arcface112.

    ``mirror``: the chip of the mirrored face, aligned to the template in its own right (the view
    that flip averaging embeds next to the chip). ``points``: "5" places dlib's chip by dlib's 5
    landmarks and ArcFace's by the detector's keypoints; "68" brings the detection's 68 landmarks
    in (``with_points_from_68``)."""
    if points == "68":
        detection = with_points_from_68(detection)
    elif points != "5":
        raise BadInput(f"alignment points must be 5 or 68, not {points!r}")
    if kind == "facenet160":
        chip = facenet_chip(image, detection, 160)  # a box crop: its mirror is the chip flipped
        return FaceChip(np.ascontiguousarray(chip.image[:, ::-1]), detection, kind) if mirror else chip
    if kind == "arcface112":
        return template_chip(image, detection, ARCFACE_112_TEMPLATE, (112, 112), kind, mirror)
    if kind.startswith("dlib") and kind[4:].isdigit():
        return dlib_chip(image, detection, int(kind[4:]), 0.25, mirror)
    raise BadInput(f"unknown alignment {kind!r}; use dlib150 (or dlibN), facenet160 or arcface112")
