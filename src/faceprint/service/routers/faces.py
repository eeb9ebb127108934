"""Enrolled faces: enrol photos by upload, delete a face (admin keys); list them (any valid key)."""

from __future__ import annotations

from functools import partial
from typing import Optional

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from faceprint.errors import BadImage, BadInput, NoFace, UnknownSubject
from faceprint.types import NO_FACE_FOUND
from faceprint.service.app import Service, read_upload
from faceprint.service.deps import admin, recognise, service
from faceprint.service.errors import ServiceError
from faceprint.service.routers.subjects import subject_exists
from faceprint.service.schemas import EnrolResponse, FaceDeleted, FaceList, clean_name, errors

router = APIRouter(tags=["faces"])


def unique_labels(names: list[str]) -> list[str]:
    """``names`` with repeats told apart: ``a.jpg, a.jpg`` -> ``a.jpg, a.jpg (2)`` (the enrol
    report is keyed by them, so two uploads of one name would share, and lose, a problem)."""
    taken: set[str] = set()
    labels = []
    for name in names:
        label, n = name, 1
        while label in taken:
            n += 1
            label = f"{name} ({n})"
        taken.add(label)
        labels.append(label)
    return labels


@router.post("/subjects/{name:path}/faces", response_model=EnrolResponse, status_code=201, dependencies=[admin],
             responses=errors(403, 404, 409, 413, 503))
async def enrol(name: str = Path(..., min_length=1, max_length=200),
                images: list[UploadFile] = File(..., description="One or more photos of this person."),
                create: bool = Query(True, description="Create the subject when it does not exist (else 404)."),
                svc: Service = Depends(service)) -> dict:
    """Enrol photos of one person: the face nearest the centre of each photo. Photos already in the
    gallery are skipped; photos that cannot be read or show no face are listed in ``problems``
    and the rest goes in. When no photo could be enrolled the answer gives the reasons: 400 when
    none could be read as an image, else 422.
    A 201 means the faces are committed to the gallery file."""
    gallery = svc.gallery
    try:
        name = clean_name(name, new=False)
        if not await run_in_threadpool(subject_exists, gallery, name):
            if not create:
                await run_in_threadpool(gallery.subject, name)  # UnknownSubject -> 404, in its own words
            clean_name(name)  # a subject this request would make: the rules of a new name
    except ValueError as exc:
        raise BadInput(f"subject name {name!r}: {exc}") from None
    if len(images) > svc.config.max_files:
        raise BadInput(f"{len(images)} photos in one request; send at most {svc.config.max_files} at a time")
    jobs = [await read_upload(upload, f"images[{i}]") for i, upload in enumerate(images)]
    # problems name the uploads, each once: phones call every photo image.jpg
    enrol = partial(gallery.enrol, labels=unique_labels([job.name for job in jobs]))
    report = await svc.enrol(enrol, name, [job.data for job in jobs])
    problems, notes = report.problems, report.notes
    if report.added == 0 and report.skipped_duplicates == 0:
        detail = "; ".join(f"{k}: {v}" for k, v in problems.items()) or "nothing to enrol"
        if problems and NO_FACE_FOUND not in problems.values():  # every upload unreadable: the client's input
            raise BadImage(f"no photo could be read to enrol into {name!r}: {detail}")
        raise NoFace(f"no photo could be enrolled into {name!r}: {detail}")
    try:
        subject = await run_in_threadpool(gallery.subject, name)
    except UnknownSubject:
        if report.added:  # deleted by another request since: not this request's doing
            raise
        # every photo is enrolled already as someone else: nothing went in, so no subject was made
        reasons = [*notes, *(f"{k}: {v}" for k, v in problems.items())]
        detail = "; ".join(reasons) or "every photo is in the gallery already"
        raise ServiceError(409, "gallery", f"nothing enrolled into {name!r}: {detail}") from None
    return {"subject": subject.to_dict(), "added": report.added, "skipped_duplicates": report.skipped_duplicates,
            "problems": problems, "notes": notes}


@router.get("/faces", response_model=FaceList, dependencies=[recognise], responses=errors(404))
async def list_faces(subject: Optional[str] = Query(None, description="Only this person's faces."),
                     svc: Service = Depends(service)) -> dict:
    """Enrolled faces (id, subject, photo sha256, box, when, source), oldest first."""
    faces = await run_in_threadpool(svc.gallery.faces, subject)
    return {"faces": [f.to_dict() for f in faces]}


@router.delete("/faces/{face_id}", response_model=FaceDeleted, dependencies=[admin], responses=errors(403, 404))
async def delete_face(face_id: int = Path(..., ge=1, le=2**62), svc: Service = Depends(service)) -> dict:
    """Remove one enrolled face (404 when there is none with that id)."""
    await run_in_threadpool(svc.gallery.delete_face, face_id)
    return {"deleted": face_id}
