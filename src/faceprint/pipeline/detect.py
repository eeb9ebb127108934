"""Detection stage: a detector's boxes plus dlib's landmarks inside each box, and a yaw estimate."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from faceprint.errors import BadInput
from faceprint.models import landmarks as landmark_model
from faceprint.models.detectors import RawFace
from faceprint.types import Box, Detection

# Which box dlib's landmark predictor starts from (``landmark_box``):
#   "keypoints" (the default): the box dlib's HOG detector would draw, placed by the
#       detector's 5 keypoints (``keypoint_box``); it does not depend on how the detector drew its
#       box;
#   "dlib_like": the detector's box reshaped like a HOG box (``RawFace.landmark_box``). On
#       tightly cropped photos (CFP) YuNet's box is cut by the image's top edge and reaches to the
#       neck; this box then starts at the eyes, and dlib puts its eye points on the nose;
#   "detector": the detector's box as it is;
#   "pose": per face, "keypoints" when |yaw| <= PROFILE_YAW, "detector" beyond.
# Measured on CFP dev (python scripts/pose_candidates.py cfp, docs/cfp_dev_candidates/cfp.md), dlib:
# FP 80.24 / 84.38 / 85.38 / 84.62 % and FF 95.00 / 98.90 / 99.05 / 99.05 % for dlib_like /
# detector / keypoints / pose. Without keypoints (hog, cnn) every mode is the detector's box.
LANDMARK_BOXES = ("keypoints", "dlib_like", "detector", "pose")

# |yaw| beyond which a face counts as turned, for landmark_box="pose" (not the default) and
# pose-weighted fusion (``PipelineConfig.pose_fusion``, on by default but inert while no shipped fused
# model has profile weights: ``EmbedderSpec.profile_fusion_weights`` is empty). Not fitted on LFW
# or CFP: about the 90th percentile (0.279) of |yaw| on the 495 five_celebrity and ORL photos where
# YuNet and dlib's HOG each find one face (`python scripts/pose_candidates.py fit-yaw`). For
# reference, on CFP dev 99 % of frontal photos are below 0.25 and 95 % of profile photos above 0.48.
PROFILE_YAW = 0.30

# YuNet score (0-1) down to which a photo where nothing reaches the detector's threshold (0.6)
# still gets its best face (``detect_faces(score_threshold=...)``, ``PipelineConfig.fallback_score``).
FALLBACK_SCORE = 0.3


# dlib's HOG box from YuNet's keypoints: with e the eyes' midpoint, m the mouth corners' midpoint
# and L = |m - e|, its centre is e + A (m - e) + C L n (n the unit normal towards the image's
# right) and its side B L. Medians over the 495 five_celebrity and ORL photos where YuNet and HOG
# each find one face (never LFW or CFP): `python scripts/pose_candidates.py fit-box`.
_HOG_FROM_KEYPOINTS = (0.4943, 2.3857, -0.0075)


def keypoint_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """The box dlib's HOG detector would draw, placed by 5 YuNet keypoints (l, t, r, b)."""
    a, b, c = _HOG_FROM_KEYPOINTS
    k = np.asarray(points, np.float64)
    eyes, mouth = (k[0] + k[1]) / 2.0, (k[3] + k[4]) / 2.0
    down = mouth - eyes
    length = max(float(np.hypot(*down)), 1e-6)
    centre = eyes + a * down + c * np.array([down[1], -down[0]])
    half = b * length / 2.0
    return (float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half))


def estimate_yaw(points: np.ndarray, kind: str = "keypoints") -> float:
    """How far the head is turned, from 5 points: about sin(yaw), 0 frontal, +-1 profile.

    The nose's offset from the eyes' midpoint along the eye line, in half eye distances (r), is
    about tan(yaw) for a nose as deep as half the eye distance; r / sqrt(1 + r^2) maps it into
    [-1, 1]. Positive when the nose points to the image's right.

    Args:
        points: 5x2 points: YuNet keypoints (eye centres image-left first, nose tip, mouth
            corners) for ``kind="keypoints"``, dlib's 5 landmarks for ``kind="dlib5"``.
    """
    p = np.asarray(points, np.float64)
    if kind == "keypoints":
        left_eye, right_eye, nose = p[0], p[1], p[2]
    elif kind == "dlib5":
        left_eye, right_eye, nose = (p[2] + p[3]) / 2.0, (p[0] + p[1]) / 2.0, p[4]
    else:
        raise BadInput(f"estimate_yaw: kind must be keypoints or dlib5, not {kind!r}")
    axis = right_eye - left_eye
    half = float(np.hypot(*axis)) / 2.0
    if half < 1e-6:
        return 0.0 if abs(nose[0] - left_eye[0]) < 1e-6 else float(np.sign(nose[0] - left_eye[0]))
    r = float((nose - (left_eye + right_eye) / 2.0) @ axis) / (2.0 * half * half)
    return r / float(np.sqrt(1.0 + r * r))


def detect_faces(
    image: np.ndarray,
    detector: Callable[[np.ndarray], Sequence[RawFace]],
    detector_name: str,
    landmarks: int = 5,
    min_face_size: float = 0.0,
    max_faces: int | None = None,
    averaged_landmarks: bool = True,
    landmark_box: str = "keypoints",
    profile_yaw: float = PROFILE_YAW,
    score_threshold: float | None = None,
) -> list[Detection]:
    """Every face in ``image``, largest score first.

    Args:
        image: RGB uint8 array from ``images.load_image``.
        detector: a callable from the registry.
        landmarks: 5 (always computed, used for alignment) or 68 (adds ``landmarks68``).
        min_face_size: drop faces whose box is smaller than this many pixels on its short side.
        max_faces: keep at most this many faces (highest scores).
        averaged_landmarks: the 5 (and 68) points are the mean over the box and six perturbations
            of it (``landmarks.predict_averaged``: steadier alignment for ~3 ms a face); else one pass.
        landmark_box: the box dlib's landmark predictor starts from: "keypoints" (default),
            "dlib_like", "detector" or "pose" (see ``LANDMARK_BOXES``).
        profile_yaw: with "pose", faces with |yaw| above this get the detector's box as it is.
        score_threshold: for a photo that surely holds a face (a pair, a gallery photo), with
            ``detector`` run below this score (down to a fallback score): the faces scoring at
            least ``score_threshold`` are kept or, when none does, the best one. None: every face
            ``detector`` returns.

    Each detection's ``yaw`` comes from the detector's keypoints when it has them, else from
    dlib's 5 landmarks.
    """
    if landmarks not in (5, 68):
        raise BadInput(f"landmarks must be 5 or 68, not {landmarks}")
    if landmark_box not in LANDMARK_BOXES:
        raise BadInput(f"landmark_box must be one of {', '.join(LANDMARK_BOXES)}, not {landmark_box!r}")
    height, width = image.shape[:2]
    raw = sorted(detector(image), key=lambda f: -f.score)
    if score_threshold is not None:
        raw = [f for f in raw if f.score >= score_threshold] or raw[:1]
    found = []
    for face in raw:
        left, top, right, bottom = face.box
        left, top = max(left, 0.0), max(top, 0.0)
        right, bottom = min(right, float(width)), min(bottom, float(height))
        if right - left < max(min_face_size, 2) or bottom - top < max(min_face_size, 2):
            continue
        box = (float(left), float(top), float(right), float(bottom))
        yaw = estimate_yaw(face.points) if face.points is not None else None
        shape_box = face.landmark_box or box
        if face.points is not None and landmark_box != "dlib_like":
            turned = landmark_box == "pose" and abs(yaw) > profile_yaw  # type: ignore[arg-type]
            placed = keypoint_box(face.points)
            if landmark_box == "detector" or turned:
                shape_box = box
            elif placed[2] - placed[0] >= 4.0:  # degenerate keypoints (all on one spot) keep the other box
                shape_box = placed
        points5 = (landmark_model.predict_averaged if averaged_landmarks else landmark_model.predict)(
            image, shape_box, 5)
        points68 = (landmark_model.predict_averaged if averaged_landmarks else landmark_model.predict)(
            image, shape_box, 68) if landmarks == 68 else None
        if yaw is None:
            yaw = estimate_yaw(points5, "dlib5")
        found.append(Detection(Box(*box), float(face.score), points5, points68, detector_name, face.points,
                               yaw))
        if max_faces is not None and len(found) >= max_faces:
            break
    return found

