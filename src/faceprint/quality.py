"""How fit a face is for recognition: one score from 0 (useless) to 1 (ideal).

The score combines cues that are cheap to measure on every face:

* ``size``: the inter-ocular distance in pixels (log2), from the detector's keypoints or dlib's
  5 landmarks;
* ``yaw`` and ``pitch``: how far the head is turned or tilted, from the same points;
* ``score``: the detector's own confidence;
* ``sharpness``: the variance of the Laplacian (log10) of the middle of the face's box scaled to
  64 px, which also falls when a small face is scaled up;
* ``norm`` and ``mirror``: the network's own signal, the raw descriptor's length before it is
  normalised and the cosine between the face's vector and its mirrored view's.

A logistic model per embedding model combines them (``quality_weights.json``, fitted by
``python -m faceprint.fit.quality`` on CelebA identities: a face's utility is the share of its
mated comparisons that stay above the threshold at FMR 1e-3). Its log-odds are then stretched
(``gain``, ``centre``) so that a clean CelebA photo of median quality scores 0.9 and one at the
10th percentile 0.5: the order of faces is the fit's, the scale one a reader can use. The
``detection`` entry uses only what is known before the network runs (size, pose, detector score,
sharpness), for ``Detection.quality`` and for models without a fit of their own.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import numpy as np

    from faceprint.types import Detection

# Default floor below which a face counts as poor (enrolment warns, clustering and a video track's
# exemplars leave it out). The share of faces below it on held-out CelebA and CFP is in docs/quality.md.
POOR_QUALITY: float = 0.35

# Default floor below which identify (and a video frame's vote) answers "unknown": the lowest, in
# steps of 0.05, at which identify names under 1 % of cfp_dev's stranger profile photos with every
# model (`python bench/bench_quality_floor.py --floor F`; chosen on the evaluation sets LFW View 2
# and cfp_dev, as docs/quality.md says). A higher floor costs names there for little FPIR gained.
NAMING_FLOOR: float = 0.1

DETECTION_CUES = ("size", "yaw", "pitch", "score", "sharpness")
NETWORK_CUES = ("norm", "mirror")
ALL_CUES = DETECTION_CUES + NETWORK_CUES
SHARPNESS_SIZE = 64  # the side in pixels the face's box is scaled to before its sharpness is measured

# what each cue says when it is the face's weakest point (enrolment reports, identify reasons)
CUE_WORDS = {
    "size": "face too small",
    "yaw": "head turned",
    "pitch": "head tilted up or down",
    "score": "detector unsure",
    "sharpness": "blurred",
    "norm": "network unsure",
    "mirror": "face and its mirror disagree",
}

# where the nose tip sits between the eye line (0) and the mouth line (1) on a level face (YuNet's
# keypoints; on the CelebA training faces the median distance from it is 0.03), and below the eye
# line in eye distances for dlib's 5 points (a rough value, for detectors without keypoints)
_PITCH_CENTRE_KEYPOINTS = 0.55
_PITCH_CENTRE_DLIB5 = 0.60


def is_poor(quality: float | None, floor: float = POOR_QUALITY) -> bool:
    """Whether a face's quality is below the floor.

    Args:
        quality: the face's score (``Detection.quality`` / ``Embedding.quality``), or None.
        floor: the score below which a face is poor.

    Returns:
        True when the score is known and below ``floor``; False for None (no opinion).
    """
    return quality is not None and quality < floor


def detection_cues(detection: Detection, image: np.ndarray | None = None) -> dict[str, float]:
    """The cues a detection gives: size (log2 inter-ocular px), |yaw|, |pitch|, detector score, and
    with the image the face's sharpness.

    Args:
        detection: a face from ``Pipeline.find_faces`` / ``detect``.
        image: the RGB array it was found in (for ``sharpness``); None leaves that cue out.

    Returns:
        The cues by name (``DETECTION_CUES``); a cue the detection cannot give is left out.
    """
    import numpy as np

    cues: dict[str, float] = {}
    keypoints = detection.keypoints
    points = detection.landmarks
    if keypoints is not None and len(keypoints) >= 5:
        k = np.asarray(keypoints, np.float64)
        eyes_mid, mouth_mid = (k[0] + k[1]) / 2.0, (k[3] + k[4]) / 2.0
        iod = float(np.hypot(*(k[1] - k[0])))
        down = mouth_mid - eyes_mid
        length2 = float(down @ down)
        if length2 > 1e-6:
            cues["pitch"] = abs(float((k[2] - eyes_mid) @ down) / length2 - _PITCH_CENTRE_KEYPOINTS)
    elif points is not None and len(points) >= 5:
        p = np.asarray(points, np.float64)
        left_eye, right_eye = (p[2] + p[3]) / 2.0, (p[0] + p[1]) / 2.0
        iod = float(np.hypot(*(right_eye - left_eye)))
        if iod > 1e-6:
            axis = (right_eye - left_eye) / iod
            normal = np.array([-axis[1], axis[0]])
            below = float((p[4] - (left_eye + right_eye) / 2.0) @ normal) / iod
            cues["pitch"] = abs(below - _PITCH_CENTRE_DLIB5)
    else:
        iod = 0.0
    if iod > 0:
        cues["size"] = math.log2(max(iod, 1.0))
    if detection.yaw is not None:
        cues["yaw"] = abs(float(detection.yaw))
    if detection.detector in ("yunet", "") and 0.0 <= detection.score <= 1.0:
        cues["score"] = float(detection.score)
    if image is not None:
        sharpness = face_sharpness(image, detection.box.as_list())
        if sharpness is not None:
            cues["sharpness"] = sharpness
    return cues


def face_sharpness(image: np.ndarray, box: list[float]) -> float | None:
    """log10 of the variance of the Laplacian over the middle of a face (about 0-4).

    The face's box is scaled to ``SHARPNESS_SIZE`` pixels, so a small face scaled up scores as
    blurred as it looks; only the central half (eyes, nose, mouth) counts, not the hair or the
    background at the box's edges.

    Args:
        image: an (H, W, 3) or (H, W) uint8 array.
        box: the face's left, top, right, bottom in pixels.

    Returns:
        The sharpness cue, or None for a box with no pixels inside the image.
    """
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    left, top = max(int(box[0]), 0), max(int(box[1]), 0)
    right, bottom = min(int(math.ceil(box[2])), width), min(int(math.ceil(box[3])), height)
    if right - left < 2 or bottom - top < 2:
        return None
    crop = np.ascontiguousarray(image[top:bottom, left:right])
    shrink = (right - left) > SHARPNESS_SIZE
    face = cv2.resize(crop, (SHARPNESS_SIZE, SHARPNESS_SIZE),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    quarter = SHARPNESS_SIZE // 4
    middle = face[quarter:-quarter, quarter:-quarter]
    grey = middle if middle.ndim == 2 else cv2.cvtColor(middle, cv2.COLOR_RGB2GRAY)
    variance = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    return math.log10(variance + 1.0)


@lru_cache(maxsize=1)
def _weights() -> dict[str, Any]:
    text = resources.files("faceprint").joinpath("quality_weights.json").read_text()
    return json.loads(text)


def fitted_models() -> list[str]:
    """The embedding models with a fit of their own (others get the detection cues only)."""
    return [name for name in _weights()["models"] if name != "detection"]


def _entry(model: str | None, weights: Mapping[str, Any] | None = None) -> dict[str, Any]:
    models = (weights or _weights())["models"]
    return models.get(model or "detection") or models["detection"]


def _terms(cues: Mapping[str, float], entry: Mapping[str, Any]) -> dict[str, float]:
    """Each cue's share of the logit, relative to a typical face (missing cues count 0)."""
    out = {}
    for name, weight, mean, scale in zip(entry["cues"], entry["weights"], entry["mean"], entry["scale"]):
        value = cues.get(name)
        if value is None:
            continue
        lo, hi = entry["clip"][name]
        out[name] = weight * (min(max(float(value), lo), hi) - mean) / scale
    return out


def score(cues: Mapping[str, float], model: str | None = None,
          weights: Mapping[str, Any] | None = None) -> float:
    """The quality of a face from its cues.

    Args:
        cues: cue values by name (``detection_cues``, ``chip_sharpness``, the network's signal);
            a missing cue counts as typical.
        model: the embedding model whose fit to use; None, or a model without a fit, uses the
            detection cues' fit (cues it does not know are ignored).
        weights: a weights document like ``quality_weights.json`` to use instead of the shipped
            one (the fitter's candidates).

    Returns:
        The score in [0, 1].
    """
    entry = _entry(model, weights)
    logit = entry["bias"] + sum(_terms(cues, entry).values())
    stretched = entry.get("gain", 1.0) * (logit - entry.get("centre", 0.0))
    return 1.0 / (1.0 + math.exp(-max(min(stretched, 40.0), -40.0)))


# how far (in log-odds) a cue seen at detection must pull a face down to be named before the
# network's: "head turned" says more to a user than "face and its mirror disagree"
_PLAIN_CAUSE = 1.0


def weakest_cue(cues: Mapping[str, float], model: str | None = None) -> str | None:
    """The cue that pulls this face's score down the most, in words (``CUE_WORDS``).

    A cue a user can act on (size, pose, blur: the ``detection`` entry's) is named when it pulls
    the face down clearly; else the model's own weakest cue.

    Args:
        cues: as for ``score``.
        model: as for ``score``.

    Returns:
        For example "head turned", or None when no cue is below a typical face's.
    """
    for entry, floor in ((_entry(None), -_PLAIN_CAUSE), (_entry(model), 0.0)):
        terms = _terms(cues, entry)
        if terms:
            name, value = min(terms.items(), key=lambda item: item[1])
            if value * entry.get("gain", 1.0) < floor:  # on the score's stretched scale
                return CUE_WORDS.get(name, name)
    return None


def detection_quality(detection: Detection, image: np.ndarray | None = None) -> float | None:
    """The quality of a face from what its detection shows (size, pose, detector score, and with
    the image its sharpness).

    Args:
        detection: a face from the detector.
        image: the RGB array it was found in.

    Returns:
        The score in [0, 1], or None when the detection gives no cue.
    """
    cues = detection_cues(detection, image)
    return score(cues, None) if cues else None
