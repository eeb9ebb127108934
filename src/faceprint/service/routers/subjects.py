"""The gallery's people: list and show (any valid key); create, rename, delete (admin keys)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from faceprint.errors import GalleryError
from faceprint.service.app import Service
from faceprint.service.deps import admin, recognise, service
from faceprint.service.errors import ServiceError
from faceprint.service.schemas import (SubjectCreate, SubjectDeleted, SubjectList, SubjectOut, SubjectRename,
                                       errors)

router = APIRouter(prefix="/subjects", tags=["subjects"])


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
        raise ServiceError(409, "subject_exists", str(exc)) from None
    return subject.to_dict()


@router.get("/{name}", response_model=SubjectOut, dependencies=[recognise], responses=errors(404))
async def show_subject(name: str, svc: Service = Depends(service)) -> dict:
    """One person (404 when there is no one of that name)."""
    return (await run_in_threadpool(svc.gallery.subject, name)).to_dict()


@router.patch("/{name}", response_model=SubjectOut, dependencies=[admin], responses=errors(403, 404, 409))
async def rename_subject(name: str, body: SubjectRename, svc: Service = Depends(service)) -> dict:
    """Rename a person (their faces follow); 409 when the new name is taken."""
    return (await run_in_threadpool(svc.gallery.rename, name, body.name)).to_dict()


@router.delete("/{name}", response_model=SubjectDeleted, dependencies=[admin], responses=errors(403, 404))
async def delete_subject(name: str, svc: Service = Depends(service)) -> dict:
    """Remove a person and all their faces."""
    removed = await run_in_threadpool(svc.gallery.delete_subject, name)
    return {"deleted": name, "faces_removed": removed}
