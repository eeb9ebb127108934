"""Enrolled faces: enrol photos by upload, delete a face (admin keys); list them (any valid key)."""

from __future__ import annotations

from functools import partial
from typing import Optional

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from faceprint.errors import BadInput
from faceprint.service import audit
from faceprint.service.deps import ServiceDep, admin, recognise
from faceprint.service.schemas import EnrolResponse, FaceDeleted, FaceList, errors
from faceprint.service.uploads import read_upload, unique_labels

router = APIRouter(tags=["faces"])
CREATE_HELP = "Create the subject when it does not exist (else 404)."


@router.post("/subjects/{name:path}/faces", response_model=EnrolResponse, status_code=201, dependencies=[admin],
             responses=errors(403, 404, 409, 413, 503))
async def enrol(svc: ServiceDep, request: Request, name: str = Path(..., min_length=1, max_length=200),
                images: list[UploadFile] = File(..., description="One or more photos of this person."),
                create: bool = Query(True, description=CREATE_HELP)) -> dict:
    """Enrol photos of one person: the face nearest the centre of each photo. Photos already in the
    gallery are skipped; photos that cannot be read or show no face are listed in ``problems``
    and the rest goes in. When no photo could be enrolled the answer gives the reasons: 400 when
    none could be read as an image, 422 when a readable one shows no face, 409 when every photo is
    enrolled already as someone else. A 201 means the faces are committed to the gallery file."""
    # an existing subject's name is used as stored; the gallery holds a new one to its rules (else 400)
    subject_name = name.strip()
    if not subject_name:
        raise BadInput(f"subject name {name!r}: a name cannot be empty")
    if len(images) > svc.config.max_files:
        raise BadInput(f"{len(images)} photos in one request; send at most {svc.config.max_files} at a time")
    jobs = [await read_upload(upload, f"images[{i}]") for i, upload in enumerate(images)]
    # problems name the uploads, each once: phones call every photo image.jpg
    enrol = partial(svc.gallery.enrol, labels=unique_labels([job.name for job in jobs]), create=create, strict=True)
    report = await svc.enrol(enrol, subject_name, [job.data for job in jobs])
    audit.note(request, faces_added=report.added)
    subject = await run_in_threadpool(svc.gallery.subject, subject_name)
    return {"subject": subject.to_dict(), "added": report.added, "skipped_duplicates": report.skipped_duplicates,
            "problems": report.problems, "notes": report.notes}


@router.get("/faces", response_model=FaceList, dependencies=[recognise], responses=errors(404))
async def list_faces(svc: ServiceDep,
                     subject: Optional[str] = Query(None, description="Only this person's faces.")) -> dict:
    """Enrolled faces (id, subject, photo sha256, box, when, source), oldest first."""
    faces = await run_in_threadpool(svc.gallery.faces, subject)
    return {"faces": [f.to_dict() for f in faces]}


@router.delete("/faces/{face_id}", response_model=FaceDeleted, dependencies=[admin], responses=errors(403, 404))
async def delete_face(svc: ServiceDep, face_id: int = Path(..., ge=1, le=2**62)) -> dict:
    """Remove one enrolled face (404 when there is none with that id)."""
    await run_in_threadpool(svc.gallery.delete_face, face_id)
    return {"deleted": face_id}
