"""The people of a photo library: list and show people, named or not, with their faces and face
thumbnails (any valid key); add photos, name, merge, move faces, "not this person" and re-cluster
(admin keys). Deleting a face is ``DELETE /v1/faces/{face_id}`` (``routers.faces``).

The gallery's ``people`` decides what may be done (a taken name is its ``SubjectExists``, an unknown
person ``UnknownSubject``, an unknown face ``UnknownFace``); the status table of ``service.errors``
turns its errors into answers.
"""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import Any, Optional

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from faceprint.errors import BadInput
from faceprint.service import audit
from faceprint.service.deps import ServiceDep, admin, recognise
from faceprint.service.errors import ServiceError
from faceprint.service.schemas import (FacesMove, NotThisPersonOut, PeopleMerge, PersonDetail, PersonList,
                                       PersonName, PersonOut, PhotosAdded, Recluster, ReclusterOut, errors)
from faceprint.service.uploads import read_upload, unique_labels

router = APIRouter(tags=["people"])

PERSON_ID = Path(..., ge=1, le=2**62, description="The person's id (GET /v1/people lists them).")
FACE_ID = Path(..., ge=1, le=2**62, description="The face's id (GET /v1/people/{person_id} lists them).")
# a face's crop never changes under its id (ids are not reused): a browser may keep it a day
THUMBNAIL_CACHE = "private, max-age=86400"
_INPUT = re.compile(r"<input (\d+)>")  # how the gallery names the N-th photo given as bytes


def person_out(person: Any) -> dict[str, Any]:
    """A ``Person`` as the API answers it (``PersonOut``)."""
    return {"id": person.id, "name": person.name, "label": person.label, "named": person.name is not None,
            "faces": person.faces, "cover": person.cover}


def face_out(face: Any) -> dict[str, Any]:
    """A ``FaceRecord`` of a person as the API answers it (``PersonFace``)."""
    return {"id": face.id, "sha256": face.sha256, "box": list(face.box), "created": face.created,
            "source": face.source, "face_index": getattr(face, "face_index", 0),
            "confirmed": getattr(face, "confirmed", True), "quality": getattr(face, "quality", None)}


@router.get("/people", response_model=PersonList, dependencies=[recognise], responses=errors())
async def list_people(svc: ServiceDep,
                      named: Optional[bool] = Query(None, description="true: only named people; false: only "
                                                                      "unnamed ones; absent: everyone."),
                      offset: int = Query(0, ge=0, description="Skip this many people."),
                      limit: int = Query(100, ge=1, le=1000, description="List at most this many.")) -> dict:
    """Every person of the gallery, named or not ("person 17"), with their number of faces and a
    face to show for them, a page at a time (``total`` says how many there are)."""
    people = await run_in_threadpool(svc.gallery.people.list, named)
    return {"people": [person_out(p) for p in people[offset:offset + limit]], "total": len(people),
            "offset": offset, "limit": limit}


@router.post("/people/recluster", response_model=ReclusterOut, dependencies=[admin], responses=errors(403, 409))
async def recluster(svc: ServiceDep, request: Request, body: Optional[Recluster] = None) -> dict:
    """Group every face of the gallery again, keeping every name and every correction (merges,
    moves, "not this person"). One at a time: 409 while another runs."""
    if svc.reclustering.locked():
        raise ServiceError(409, "recluster_running", "a re-cluster is running already; try again when it has finished")
    async with svc.reclustering:
        threshold = body.threshold if body is not None else None
        report = await run_in_threadpool(partial(svc.gallery.people.recluster, threshold=threshold))
    audit.note(request, people=report.people, moved=report.moved)
    return report.to_dict()


@router.get("/people/{person_id}", response_model=PersonDetail, dependencies=[recognise], responses=errors(404))
async def show_person(svc: ServiceDep, person_id: int = PERSON_ID) -> dict:
    """One person and their faces (404 when there is no person with that id)."""
    people = svc.gallery.people
    person = await run_in_threadpool(people.get, person_id)
    faces = await run_in_threadpool(people.faces, person_id)
    return {"person": person_out(person), "faces": [face_out(f) for f in faces]}


@router.post("/people/{person_id}/name", response_model=PersonOut, dependencies=[admin],
             responses=errors(403, 404, 409))
async def name_person(body: PersonName, svc: ServiceDep, request: Request, person_id: int = PERSON_ID) -> dict:
    """Name an unnamed person, or rename a named one; 409 when another person has that name (merge
    the two instead)."""
    audit.note(request, to=body.name)
    return person_out(await run_in_threadpool(svc.gallery.people.name, person_id, body.name))


@router.post("/people/{person_id}/merge", response_model=PersonOut, dependencies=[admin],
             responses=errors(403, 404))
async def merge_people(body: PeopleMerge, svc: ServiceDep, request: Request, person_id: int = PERSON_ID) -> dict:
    """Merge other people into this one: their faces join it and they are gone; this person keeps
    their name (an unnamed one takes the name of a named one merged in)."""
    others = list(dict.fromkeys(body.people))
    if person_id in others:
        raise BadInput(f"person {person_id} cannot be merged into themself; list only the other people")
    audit.note(request, merged=",".join(str(o) for o in others))
    return person_out(await run_in_threadpool(svc.gallery.people.merge, person_id, others))


@router.post("/faces/move", response_model=PersonOut, dependencies=[admin], responses=errors(403, 404))
async def move_faces(body: FacesMove, svc: ServiceDep, request: Request) -> dict:
    """Move faces to another person, or (``to`` null) to a new unnamed person: a split. The move is
    kept by every later re-cluster."""
    faces = list(dict.fromkeys(body.faces))
    audit.note(request, faces=",".join(str(f) for f in faces), to=body.to if body.to is not None else "new")
    return person_out(await run_in_threadpool(svc.gallery.people.move, faces, body.to))


@router.post("/faces/{face_id}/not-this-person", response_model=NotThisPersonOut, dependencies=[admin],
             responses=errors(403, 404))
async def not_this_person(svc: ServiceDep, request: Request, face_id: int = FACE_ID) -> dict:
    """This face is not the person it is with: it leaves them, and identify, adding photos and
    re-clustering never put it back with them."""
    left = await run_in_threadpool(svc.gallery.people.not_this_person, face_id)
    audit.note(request, person_id=left)
    return {"face_id": face_id, "not_person": left}


@router.get("/faces/{face_id}/thumbnail", response_class=Response, dependencies=[recognise],
            responses={200: {"content": {"image/jpeg": {}}, "description": "A small JPEG crop of the face."},
                       304: {"description": "Not modified: the crop of the If-None-Match ETag."}, **errors(404)})
async def face_thumbnail(svc: ServiceDep, request: Request, face_id: int = FACE_ID) -> Response:
    """The face's thumbnail: a small JPEG crop of the face (never the whole photo), cacheable. 404
    when there is no such face, or the gallery keeps no thumbnail of it (added with thumbnails off)."""
    data = await run_in_threadpool(svc.gallery.people.thumbnail, face_id)
    if data is None:
        raise ServiceError(404, "no_thumbnail", f"the gallery keeps no thumbnail of face {face_id} (it was added "
                                                "with thumbnails off)")
    tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"Cache-Control": THUMBNAIL_CACHE, "ETag": tag, "Vary": "X-API-Key, Authorization"}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type="image/jpeg", headers=headers)


@router.post("/photos", response_model=PhotosAdded, status_code=201, dependencies=[admin],
             responses=errors(403, 413, 503))
async def add_photos(svc: ServiceDep, request: Request,
                     images: list[UploadFile] = File(..., description="Photos of a library: every face is added.")
                     ) -> dict:
    """Add library photos: every face of each photo joins the person it is nearest to (enough close
    faces of theirs), or starts a new unnamed person. Photos already in the gallery are skipped;
    photos that cannot be read or show no face are listed in ``problems``. A 201 means the faces
    are committed to the gallery."""
    if len(images) > svc.config.max_files:
        raise BadInput(f"{len(images)} photos in one request; send at most {svc.config.max_files} at a time")
    jobs = [await read_upload(upload, f"images[{i}]") for i, upload in enumerate(images)]
    report = await svc.enrol(svc.gallery.add_photos, [job.data for job in jobs])
    audit.note(request, faces_added=report.faces, new_people=report.new_people)
    return {**report.to_dict(), "problems": _by_upload(report.problems, [job.name for job in jobs])}


def _by_upload(problems: dict[str, str], names: list[str]) -> dict[str, str]:
    """A report's problems keyed by the uploads' file names (each once: phones call every photo
    image.jpg) instead of the gallery's ``<input N>`` for the N-th photo given as bytes."""
    labels = unique_labels(names)
    out = {}
    for key, problem in problems.items():
        match = _INPUT.fullmatch(key)
        out[labels[int(match.group(1))] if match and int(match.group(1)) < len(labels) else key] = problem
    return out
