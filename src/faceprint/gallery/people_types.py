"""What ``Gallery.people`` hands out: a person (named or not) and the summaries of an add or a
re-cluster; every one has ``to_dict()`` for JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

UNNAMED_PREFIX = "person "
_UNNAMED = re.compile(r"^person [1-9]\d*$", re.IGNORECASE)  # ids start at 1: "person 0", "person 007" are free


def unnamed_label(person_id: int) -> str:
    """The label of an unnamed person (``"person 17"``): a reserved form no user name can take.

    Args:
        person_id: the person's id.
    """
    return f"{UNNAMED_PREFIX}{int(person_id)}"


def is_unnamed_label(name: str) -> bool:
    """Whether ``name`` has the reserved form of an unnamed person's label (``person <id>``: an id
    without leading zeros).

    Args:
        name: a name.
    """
    return _UNNAMED.match(str(name).strip()) is not None


@dataclass(frozen=True)
class Person:
    """One person of the gallery: a subject, named by the user or not yet.

    Attributes:
        id: the person's id (the subject's).
        name: the user's name for them; None while unnamed.
        label: what identify answers: the name, or ``"person <id>"`` while unnamed.
        faces: how many faces they have.
        cover: the face to show for them (one with a thumbnail where there is one); None without faces.
    """

    id: int
    name: str | None
    label: str
    faces: int
    cover: int | None

    @property
    def named(self) -> bool:
        """Whether the user has named this person."""
        return self.name is not None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "named": self.named, "faces": self.faces,
                "cover": self.cover}


@dataclass(frozen=True)
class AddPhotosReport:
    """What ``add_photos`` did: faces added, where they went, and photos skipped and why."""

    photos: int
    faces: int
    joined: int  # faces that joined a person of the gallery (or of this run)
    new_people: int  # unnamed people started
    skipped_duplicates: int
    problems: dict[str, str] = field(default_factory=dict)
    face_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"photos": self.photos, "faces": self.faces, "joined": self.joined, "new_people": self.new_people,
                "skipped_duplicates": self.skipped_duplicates, "problems": dict(self.problems),
                "face_ids": list(self.face_ids)}


@dataclass(frozen=True)
class ReclusterReport:
    """What a full re-cluster did."""

    faces: int
    people: int  # people after it (named and unnamed)
    moved: int  # faces that changed person
    new_people: int
    removed_people: int  # unnamed people left without faces, removed
    threshold: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"faces": self.faces, "people": self.people, "moved": self.moved, "new_people": self.new_people,
                "removed_people": self.removed_people, "threshold": round(self.threshold, 4),
                "seconds": round(self.seconds, 3)}


def merge_others(into: int, others: Sequence[int]) -> list[int]:
    """The people merged into ``into``, checked: distinct ids, at least one, ``into`` not among them.

    Raises:
        BadInput: no others, or ``into`` among them.
    """
    from faceprint.errors import BadInput

    ids = sorted({int(o) for o in others})
    if not ids or int(into) in ids:
        raise BadInput("merge needs a person to keep and at least one other person to merge into it")
    return ids


def merge_group(into: int, others: Sequence[int], everyone: Sequence[Person], where: Any) -> tuple[Person, list[Person]]:
    """The person kept and the named people among those merged into it, from ``everyone`` read.

    Args:
        into: the person kept.
        others: the people merged into it (``merge_others``).
        everyone: the people read for ``[into, *others]``.
        where: the gallery, for the message.

    Raises:
        UnknownSubject: one of the ids is no person.
    """
    from faceprint.errors import UnknownSubject

    if len(everyone) != len(others) + 1:
        missing = sorted({into, *others} - {p.id for p in everyone})
        raise UnknownSubject(f"no person with id {missing[0]} in {where}")
    keep = next(p for p in everyone if p.id == into)
    return keep, [p for p in everyone if p.named and p.id != into]
