"""Plain frozen dataclasses that flow through the pipeline.

image -> Detection -> FaceChip -> Embedding -> Verification / Match
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NO_FACE_FOUND = "no face found"  # ImageFaces.problem of a readable photo without a face


@dataclass(frozen=True)
class Box:
    """Axis-aligned face box in pixel coordinates (left, top, right, bottom)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def as_list(self) -> list[float]:
        return [round(float(v), 2) for v in (self.left, self.top, self.right, self.bottom)]


@dataclass(frozen=True)
class Detection:
    """One face found in an image.

    Attributes:
        box: the detector's box.
        score: detector confidence (detector-specific scale, higher is more confident).
        landmarks: 5x2 points (x, y) in dlib's 5-point order: outer and inner corner of the
            eye on the image's right, outer and inner corner of the eye on the image's left,
            base of the nose.
        landmarks68: the 68 iBUG points when requested, else None.
        detector: name of the detector that produced it.
        keypoints: the detector's own 5 points when it has them (YuNet): eye centres, nose tip
            and mouth corners, image-left first; what ArcFace-style templates expect.
        yaw: how far the head is turned, from the 5 points (``pipeline.detect.estimate_yaw``):
            about the sine of the yaw angle, 0 frontal, +-1 full profile, positive when the nose
            points to the image's right; None when it was not estimated.
    """

    box: Box
    score: float
    landmarks: np.ndarray
    landmarks68: np.ndarray | None = None
    detector: str = ""
    keypoints: np.ndarray | None = None
    yaw: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "box": self.box.as_list(),
            "score": round(float(self.score), 4),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "detector": self.detector,
        }
        if self.landmarks68 is not None:
            out["landmarks68"] = np.round(self.landmarks68, 2).tolist()
        if self.yaw is not None:
            out["yaw"] = round(float(self.yaw), 3)
        return out


@dataclass(frozen=True)
class FaceChip:
    """An aligned face crop ready for an embedder (RGB uint8, HxWx3)."""

    image: np.ndarray
    detection: Detection
    kind: str  # e.g. "dlib150" or "facenet160"


@dataclass(frozen=True)
class Embedding:
    """An L2-normalised face descriptor."""

    vector: np.ndarray
    model: str
    detection: Detection | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "vector": [round(float(v), 6) for v in self.vector]}
        if self.detection is not None:
            out["face"] = self.detection.to_dict()
        return out


@dataclass(frozen=True)
class Verification:
    """The answer of `verify`: one distance, one threshold, one decision."""

    distance: float
    threshold: float
    same: bool
    metric: str
    model: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "distance": round(self.distance, 6),
            "threshold": round(self.threshold, 6),
            "metric": self.metric,
            "model": self.model,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ImageFaces:
    """Every face of one image from ``embed_many``, or why there is none.

    Attributes:
        source: the path, or ``"<index>"`` for an in-memory input.
        faces: one embedding per face found, largest detector score first (empty if none).
        error: why the image could not be read (missing, corrupt, too large...); None when it was.
        sha256: hex digest of the encoded file (None for arrays and unreadable files).
        width, height: the decoded image's size (0 when it could not be decoded).
        signature: the pipeline settings that shaped the vectors (``Pipeline.signature``):
            vectors with different signatures must never be compared.
    """

    source: str
    faces: tuple[Embedding, ...] = ()
    error: str | None = None
    sha256: str | None = None
    width: int = 0
    height: int = 0
    signature: str = ""

    @property
    def ok(self) -> bool:
        """True when the image was read and holds at least one face."""
        return self.error is None and bool(self.faces)

    @property
    def problem(self) -> str | None:
        """The error, ``NO_FACE_FOUND``, or None."""
        if self.error is not None:
            return self.error
        return None if self.faces else NO_FACE_FOUND

    def nearest_center(self) -> Embedding:
        """The face whose box centre is nearest the image centre (raises IndexError if none)."""
        from faceprint.pipeline.detect import nearest_center  # here: that module imports this one

        if not self.faces:
            raise IndexError(f"{self.source}: no face")
        if any(e.detection is None for e in self.faces):  # not placed by a detector: the first one
            return next(e for e in self.faces if e.detection is None)
        return self.faces[nearest_center([e.detection for e in self.faces], (self.height, self.width))]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "faces": [e.to_dict() for e in self.faces], "error": self.problem,
                "sha256": self.sha256, "width": self.width, "height": self.height}
