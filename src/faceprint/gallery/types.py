"""Plain frozen dataclasses a gallery hands out; every one has ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceprint.types import Detection


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True)
class Subject:
    """An enrolled person."""

    id: int
    name: str
    metadata: dict
    faces: int
    created: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "metadata": dict(self.metadata), "faces": self.faces,
                "created": self.created}


@dataclass(frozen=True)
class FaceRecord:
    """One enrolled face (its vector stays in the store)."""

    id: int
    subject: str
    sha256: str
    box: list[float]
    created: str
    source: str | None
    face_index: int = 0  # which face of its photo
    person_id: int | None = None  # the subject's id
    confirmed: bool = True  # placed by the user (enrolled, named, moved), not by clustering
    quality: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "subject": self.subject, "sha256": self.sha256, "box": list(self.box),
               "created": self.created, "source": self.source, "face_index": self.face_index,
               "person_id": self.person_id, "confirmed": self.confirmed}
        if self.quality is not None:
            out["quality"] = round(float(self.quality), 3)
        return out


@dataclass(frozen=True)
class EnrolReport:
    """What an enrol did: faces added, photos already there, photos skipped and why, notes."""

    added: int
    skipped_duplicates: int
    problems: dict[str, str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "skipped_duplicates": self.skipped_duplicates,
                "problems": dict(self.problems), "notes": list(self.notes)}


@dataclass(frozen=True)
class Candidate:
    """One gallery subject near a probe: its nearest face and that face's distance."""

    subject: str
    distance: float
    face_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "distance": _round(self.distance), "face_id": self.face_id}


@dataclass(frozen=True)
class Identification:
    """One face of a probe photo: the name (or ``"unknown"``), its distance, the top-k candidates,
    and for ``"unknown"`` the reason (``"poor quality 0.07 < 0.10"``, ``"no match within threshold
    ..."``, ``"the gallery is empty"``)."""

    detection: Detection
    name: str
    distance: float | None
    candidates: list[Candidate]
    threshold: float
    reason: str | None = None

    @property
    def known(self) -> bool:
        return self.name != "unknown"

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "distance": _round(self.distance), "threshold": _round(self.threshold),
               "face": self.detection.to_dict(), "candidates": [c.to_dict() for c in self.candidates]}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class CheckReport:
    """Store/index consistency: ``ok`` when there is nothing in ``problems``."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    faces: int = 0
    subjects: int = 0
    index: str = ""
    repaired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": list(self.problems), "faces": self.faces, "subjects": self.subjects,
                "index": self.index, "repaired": list(self.repaired)}
