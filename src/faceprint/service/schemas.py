"""Request and response bodies of the API (they shape the OpenAPI schema at ``/docs``)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, Field, field_validator

from faceprint.errors import GalleryError
from faceprint.gallery.names import METADATA_MAX_BYTES, METADATA_MAX_DEPTH, check_metadata, check_name


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable word for the kind of error, e.g. no_face, bad_image, unauthorised.")
    message: str = Field(description="What went wrong and what to do, in words.")


class ErrorBody(BaseModel):
    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give (400, 401, 422 and 503 on every
    route: an unreadable body, no valid key, invalid parameters, the key file or the gallery's
    server unavailable)."""
    words = {400: "Bad input (not an image, corrupt, empty, bad parameter)", 401: "No valid API key",
             403: "The key's scope may not do this", 404: "No such subject or face",
             409: "Conflicts with the gallery (name taken, other model)", 413: "Request or image too large",
             422: "Invalid request, or no face in the photo",
             503: "Busy (retry after the Retry-After header's seconds), or the server's models, key file or "
                  "gallery server unavailable"}
    return {s: {"model": ErrorBody, "description": words.get(s, "Error")}
            for s in sorted({400, 401, 422, 503, *statuses})}


class Face(BaseModel):
    box: list[float] = Field(description="left, top, right, bottom in pixels")
    score: float
    landmarks: list[list[float]] = Field(description="5 points (x, y), dlib's order")
    detector: str
    yaw: float | None = Field(None, description="about sin(yaw): 0 frontal, -1 or +1 profile")
    quality: float | None = Field(None, description="how fit the face is for recognition, 0 (useless) to 1 "
                                  "(ideal), from its size, pose and detector score (docs: quality)")


class DetectResponse(BaseModel):
    width: int
    height: int
    faces: list[Face]


class EmbeddedFace(BaseModel):
    model: str
    vector: list[float]
    face: Face


class EmbedResponse(BaseModel):
    width: int
    height: int
    model: str
    signature: str = Field(description="What shaped the vectors: never compare vectors of two signatures.")
    faces: list[EmbeddedFace]


class VerifyResponse(BaseModel):
    same: bool
    distance: float
    threshold: float
    metric: str
    model: str
    notes: list[str]
    first: Face
    second: Face


class CandidateOut(BaseModel):
    subject: str
    distance: Optional[float]
    face_id: int


class IdentifiedFace(BaseModel):
    name: str = Field(description='The subject, or "unknown" when no one is within the threshold or the '
                      "face's quality is below the gallery's floor.")
    distance: Optional[float] = Field(description="Distance to the nearest enrolled face (null: empty gallery).")
    threshold: Optional[float]
    face: Face
    candidates: list[CandidateOut]
    reason: Optional[str] = Field(None, description='Why the face is "unknown", e.g. "poor quality 0.07 < 0.10" '
                                  'or "no match within threshold (0.52 > 0.38)"; absent when named.')


class IdentifyResponse(BaseModel):
    width: int
    height: int
    faces: list[IdentifiedFace]


def clean_name(value: str) -> str:
    """A new subject name as given, trimmed, held to the gallery's rules (``gallery.names.check_name``).

    Args:
        value: the name a request body gives.

    Returns:
        The trimmed name.

    Raises:
        ValueError: an empty name, or one the gallery refuses (the request is answered 422).
    """
    value = value.strip()
    if not value:
        raise ValueError("a name cannot be empty")
    try:
        return check_name(value)
    except GalleryError as exc:
        raise ValueError(str(exc)) from None


def plain_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` when the gallery accepts it as metadata (``gallery.names.check_metadata``);
    ValueError otherwise."""
    try:
        return check_metadata(value)
    except GalleryError as exc:
        raise ValueError(str(exc)) from None


class SubjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Ada Lovelace"])
    metadata: dict[str, Any] = Field(default_factory=dict, description=(
        f"Anything JSON, kept with the subject (at most {METADATA_MAX_BYTES // 1024} KiB, nested at most "
        f"{METADATA_MAX_DEPTH} deep)."))

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str) -> str:
        return clean_name(value)

    @field_validator("metadata")
    @classmethod
    def plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return plain_metadata(value)


class SubjectRename(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="The new name.")

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str) -> str:
        return clean_name(value)


class SubjectOut(BaseModel):
    id: int
    name: str
    metadata: dict[str, Any]
    faces: int
    created: str


class SubjectList(BaseModel):
    subjects: list[SubjectOut]


class SubjectDeleted(BaseModel):
    deleted: str
    faces_removed: int


class FaceOut(BaseModel):
    id: int
    subject: str
    sha256: str
    box: list[float]
    created: str
    source: Optional[str]


class FaceList(BaseModel):
    faces: list[FaceOut]


class FaceDeleted(BaseModel):
    deleted: int


class EnrolResponse(BaseModel):
    subject: SubjectOut
    added: int
    skipped_duplicates: int
    problems: dict[str, str] = Field(description="photo -> why it was not enrolled")
    notes: list[str]


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    models: bool
    gallery: bool
    faces: Optional[int] = None
    signature: Optional[str] = None
    batches: Optional[int] = Field(None, description="Batches the engine ran in this process so far.")
    batched_images: Optional[int] = Field(None, description="Images in those batches.")


class KeyOut(BaseModel):
    id: str
    scope: str = Field(description="admin (may change the gallery) or recognise (read-only)")
    name: str
    created: str


class PersonOut(BaseModel):
    id: int
    name: Optional[str] = Field(description="The user's name for them; null while unnamed.")
    label: str = Field(description='What identify answers: the name, or "person <id>" while unnamed.')
    named: bool
    faces: int = Field(description="How many faces they have.")
    cover: Optional[int] = Field(description="A face to show for them (GET /v1/faces/{id}/thumbnail); null: none.")


class PersonList(BaseModel):
    people: list[PersonOut]
    total: int = Field(description="How many people match the filter, on every page.")
    offset: int
    limit: int


class PersonFace(BaseModel):
    id: int
    sha256: str = Field(description="The photo's sha256 (several faces may share a photo).")
    box: list[float]
    created: str
    source: Optional[str]
    face_index: int = Field(0, description="Which face of its photo.")
    confirmed: bool = Field(True, description="Placed by the user (enrolled, named, moved), not by clustering.")
    quality: Optional[float] = Field(None, description="0 (useless) to 1 (ideal); null: not scored.")


class PersonDetail(BaseModel):
    person: PersonOut
    faces: list[PersonFace]


class PersonName(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="The person's name (taken by another: 409).")

    @field_validator("name")
    @classmethod
    def check_name(cls, value: str) -> str:
        return clean_name(value)


# a face's or person's id, as the gallery can hold it
Id = Annotated[int, Field(ge=1, le=2**62)]


class PeopleMerge(BaseModel):
    people: list[Id] = Field(min_length=1, max_length=1000, description="The people whose faces join this one.")


class FacesMove(BaseModel):
    faces: list[Id] = Field(min_length=1, max_length=10_000, description="The faces to move (face ids).")
    to: Optional[Id] = Field(None, description="The person they move to; null: a new unnamed person (a split).")


class NotThisPersonOut(BaseModel):
    face_id: int
    not_person: Optional[int] = Field(description="The person the face left; it never joins them again.")


class PhotosAdded(BaseModel):
    photos: int = Field(description="Photos read.")
    faces: int = Field(description="Faces added (every face of every photo).")
    joined: int = Field(description="Faces that joined a person.")
    new_people: int = Field(description="Unnamed people started.")
    skipped_duplicates: int = Field(description="Photos in the gallery already.")
    problems: dict[str, str] = Field(description="photo -> why it was not added")
    face_ids: list[int]


class Recluster(BaseModel):
    threshold: Optional[float] = Field(None, gt=0, le=2, description="The clustering distance; null: the model's.")


class ReclusterOut(BaseModel):
    faces: int
    people: int = Field(description="People after it, named and unnamed.")
    moved: int = Field(description="Faces that changed person.")
    new_people: int
    removed_people: int = Field(description="Unnamed people left without faces, removed.")
    threshold: float
    seconds: float
