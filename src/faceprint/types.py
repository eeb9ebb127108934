"""Plain frozen dataclasses that flow through the pipeline, and the rule that picks one face.

image -> Detection -> FaceChip -> Embedding -> Verification / Match; ``ImageFaces`` is one
image's result from ``embed_many``. Each has ``to_dict()`` where it leaves the library as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

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
        """The box's width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """The box's height in pixels."""
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        """The box's centre ``(x, y)``."""
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def as_list(self) -> list[float]:
        """The box as JSON gives it.

        Returns:
            ``[left, top, right, bottom]`` rounded to 2 decimals.
        """
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
        quality: how fit the face is for recognition, 0 (useless) to 1 (ideal), from what the
            detector saw (``faceprint.quality``); None when it was not scored.
    """

    box: Box
    score: float
    landmarks: np.ndarray
    landmarks68: np.ndarray | None = None
    detector: str = ""
    keypoints: np.ndarray | None = None
    yaw: float | None = None
    quality: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The face as JSON-ready values.

        Returns:
            A dict with box, score, landmarks and detector, and landmarks68 and yaw where known.
        """
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
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 3)
        return out


@dataclass(frozen=True)
class FaceChip:
    """An aligned face crop ready for an embedder.

    Attributes:
        image: the crop, RGB uint8, HxWx3.
        detection: the face it was cut from.
        kind: the crop's layout, e.g. "dlib150" or "facenet160" (``pipeline.align``).
    """

    image: np.ndarray
    detection: Detection
    kind: str


@dataclass(frozen=True)
class Embedding:
    """An L2-normalised face descriptor.

    Attributes:
        vector: the unit vector (float32).
        model: the model that made it; vectors of different models are not comparable.
        detection: the face it describes, when a detector placed it.
        quality: how fit the face is for recognition, 0 to 1, from the detection, the aligned
            chip and the network (``faceprint.quality``); None when it was not scored.
    """

    vector: np.ndarray
    model: str
    detection: Detection | None = None
    quality: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The embedding as JSON-ready values.

        Returns:
            A dict with model and vector (rounded to 6 decimals), and face where known.
        """
        out: dict[str, Any] = {"model": self.model, "vector": [round(float(v), 6) for v in self.vector]}
        if self.detection is not None:
            out["face"] = self.detection.to_dict()
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 3)
        return out


@dataclass(frozen=True)
class Verification:
    """The answer of ``verify``: one distance, one threshold, one decision.

    Attributes:
        distance: between the two faces' vectors, in ``metric``.
        threshold: the largest distance that still means the same person.
        same: ``distance <= threshold``.
        metric: "euclidean" or "cosine".
        model: the model that made the vectors.
        notes: what the caller should know (e.g. a photo held several faces).
    """

    distance: float
    threshold: float
    same: bool
    metric: str
    model: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready values.

        Returns:
            A dict with same, distance, threshold (rounded to 6 decimals), metric, model and notes.
        """
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
        source: the path (or ``ReadSource.label``), or ``"<index>"`` for an in-memory input.
        faces: one embedding per face found, largest detector score first (empty if none).
        error: why the image could not be read (missing, corrupt, too large...); None when it was.
        sha256: hex digest of the encoded file, read once (None for arrays and unreadable files).
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
        """The face whose box centre is nearest the image centre (``nearest_center``).

        Returns:
            That face's embedding; the first one not placed by a detector, if any.

        Raises:
            IndexError: the image has no face.
        """
        if not self.faces:
            raise IndexError(f"{self.source}: no face")
        if any(e.detection is None for e in self.faces):  # not placed by a detector: the first one
            return next(e for e in self.faces if e.detection is None)
        return self.faces[nearest_center([e.detection for e in self.faces], (self.height, self.width))]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (``error`` holds ``problem``; no signature).

        Returns:
            A dict with source, faces, error, sha256, width and height.
        """
        return {"source": self.source, "faces": [e.to_dict() for e in self.faces], "error": self.problem,
                "sha256": self.sha256, "width": self.width, "height": self.height}


def nearest_center(detections: Sequence[Detection], image_shape: tuple[int, ...]) -> int:
    """Which face to use where a photo should show one person: the one nearest the image centre.

    Args:
        detections: the faces found (at least one).
        image_shape: the image's shape, height first (``array.shape``).

    Returns:
        The index of the detection whose box centre is nearest the image centre.

    Raises:
        ValueError: ``detections`` is empty.
    """
    cy, cx = image_shape[0] / 2.0, image_shape[1] / 2.0
    distances = [(d.box.center[0] - cx) ** 2 + (d.box.center[1] - cy) ** 2 for d in detections]
    return int(np.argmin(distances))
