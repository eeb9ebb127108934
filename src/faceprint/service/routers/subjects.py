"""The gallery's people: list and show (any valid key); create, rename, delete (admin keys)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from faceprint.errors import GalleryError, UnknownSubject
from faceprint.service.app import Service
from faceprint.service.deps import admin, recognise, service
from faceprint.service.errors import ServiceError
from faceprint.service.schemas import (SubjectCreate, SubjectDeleted, SubjectList, SubjectOut, SubjectRename,
                                       errors)

# ``{name:path}`` below: a name may hold a slash (the gallery allows it), sent as %2F
router = APIRouter(prefix="/subjects", tags=["subjects"])


def subject_exists(gallery, name: str) -> bool:
    """Whether ``gallery`` holds a subject called ``name`` (blocking: run it in the thread pool)."""
    try:
        gallery.subject(name)
    except UnknownSubject:
        return False
    return True


async def _conflict(svc: Service, name: str, message: str, exc: GalleryError) -> Exception:
    """A 409 ``subject_exists`` when ``exc`` came from ``name`` being taken; else ``exc`` itself
    (an unknown subject stays 404, any other gallery error keeps its own status and words)."""
    if not isinstance(exc, UnknownSubject) and await run_in_threadpool(subject_exists, svc.gallery, name):
        return ServiceError(409, "subject_exists", message)
    return exc


@router.get("", response_model=SubjectList, dependencies=[recognise], responses=errors())
async def list_subjects(svc: Service = Depends(service)) -> dict:
    """Every enrolled person with their number of faces, by name."""
    subjects = await run_in_threadpool(svc.gallery.subjects)
    return {"subjects": [s.to_dict() for s in subjects]}


@router.post("", response_model=SubjectOut, status_code=201, dependencies=[admin],
             responses=errors(403, 409))
async def create_subject(body: SubjectCreate, svc: Service = Depends(service)) -> dict:
    """A new person without faces yet (409 when the name is taken). Enrolling photos into a name
    that does not exist creates it too."""
    try:
        subject = await run_in_threadpool(svc.gallery.add_subject, body.name, body.metadata)
    except GalleryError as exc:
        message = f"subject {body.name!r} exists already; enrol more photos into it instead"
        raise await _conflict(svc, body.name, message, exc) from None
    return subject.to_dict()


@router.get("/{name:path}", response_model=SubjectOut, dependencies=[recognise], responses=errors(404))
async def show_subject(name: str, svc: Service = Depends(service)) -> dict:
    """One person (404 when there is no one of that name)."""
    return (await run_in_threadpool(svc.gallery.subject, name)).to_dict()


@router.patch("/{name:path}", response_model=SubjectOut, dependencies=[admin], responses=errors(403, 404, 409))
async def rename_subject(name: str, body: SubjectRename, svc: Service = Depends(service)) -> dict:
    """Rename a person (their faces follow); 409 when the new name is taken."""
    try:
        subject = await run_in_threadpool(svc.gallery.rename, name, body.name)
    except GalleryError as exc:
        message = f"cannot rename {name!r}: subject {body.name!r} exists already"
        raise await _conflict(svc, body.name, message, exc) from None
    return subject.to_dict()


@router.delete("/{name:path}", response_model=SubjectDeleted, dependencies=[admin], responses=errors(403, 404))
async def delete_subject(name: str, svc: Service = Depends(service)) -> dict:
    """Remove a person and all their faces."""
    removed = await run_in_threadpool(svc.gallery.delete_subject, name)
    return {"deleted": name, "faces_removed": removed}
