"""The result of a video run: who was seen, when, and where (a JSON-ready timeline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceprint.video.tracker import TrackPoint
from faceprint.video.vote import Vote


@dataclass(frozen=True)
class TrackSummary:
    """One tracked face.

    Attributes:
        track: the track's number (1, 2, ... in order of first detection).
        vote: its name by vote of its detection frames (None when no gallery was given).
        first_s, last_s: time of the first and last frame it was seen in (seconds from the start);
            a face entering or leaving between two detection frames is placed at the detection frame.
        first_frame, last_frame: the same as frame indices.
        detections: frames in which the detector found it (the others were followed by template).
        points: its box in each frame it was seen.
        person: its identity, shared by every track of the same face: the name when the track is
            named, else ``"unknown N"`` (one N per unnamed face across the video); None when it
            holds no whole face.
        ranges: the (first, last) frame of each run of frames where it was seen (its name holds
            there); several when the face left, or the shot cut away, and it was re-identified.
    """

    track: int
    vote: Vote | None
    first_s: float
    last_s: float
    first_frame: int
    last_frame: int
    detections: int
    points: tuple[TrackPoint, ...]
    person: str | None = None
    ranges: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str | None:
        return self.vote.name if self.vote else None

    @property
    def confidence(self) -> float | None:
        """The share of the vote's weight behind the name (None when not named)."""
        return self.vote.confidence if self.vote else None

    def to_dict(self, boxes: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"track": self.track, "name": self.name, "person": self.person,
                               "confidence": None if self.vote is None else round(self.vote.confidence, 3),
                               "distance": self.vote.to_dict()["distance"] if self.vote else None,
                               "first_s": round(self.first_s, 3), "last_s": round(self.last_s, 3),
                               "first_frame": self.first_frame, "last_frame": self.last_frame,
                               "detections": self.detections, "frames": len(self.points),
                               "ranges": [list(r) for r in self.ranges]}
        if self.vote:
            out["votes"] = self.vote.votes
            out["weights"] = self.vote.to_dict()["weights"]
        if boxes:
            out["boxes"] = [p.to_dict() for p in self.points]
        return out


@dataclass(frozen=True)
class Timeline:
    """Everything ``track_video`` found, with the settings and the speed of the run.

    Attributes:
        source: the file, or ``camera:<index>``.
        fps: the video's frame rate (0 when unknown: times then come from the clock).
        width, height: frame size.
        frames: frames read.
        detect_every: the detector ran on one frame in this many.
        model, signature: the embedding model and its pipeline signature.
        threshold: the identification threshold a frame's nearest match had to be within (None
            without a gallery).
        tracks: the faces, in order of first appearance.
        elapsed_s: wall time of the run (reading, detecting, tracking, writing).
        stage_s: seconds spent reading frames, detecting, embedding, linking and naming tracks,
            following faces between detections, and writing the annotated copy.
        notes: anything the user should know (tracks dropped as too short, interruption...).
        cuts: the frames where the picture cut to another shot.
    """

    source: str
    fps: float
    width: int
    height: int
    frames: int
    detect_every: int
    model: str
    signature: str
    threshold: float | None
    tracks: tuple[TrackSummary, ...]
    elapsed_s: float
    stage_s: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default_factory=tuple)
    cuts: tuple[int, ...] = ()

    @property
    def processing_fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self, boxes: bool = True) -> dict[str, Any]:
        return {
            "source": self.source, "fps": round(self.fps, 3), "width": self.width, "height": self.height,
            "frames": self.frames, "duration_s": round(self.frames / self.fps, 3) if self.fps else None,
            "detect_every": self.detect_every, "model": self.model, "signature": self.signature,
            "threshold": None if self.threshold is None else round(self.threshold, 6),
            "cuts": list(self.cuts), "tracks": [t.to_dict(boxes) for t in self.tracks],
            "elapsed_s": round(self.elapsed_s, 3), "processing_fps": round(self.processing_fps, 2),
            "ms_per_frame": {k: round(v * 1e3 / max(self.frames, 1), 2) for k, v in self.stage_s.items()},
            "notes": list(self.notes),
        }
