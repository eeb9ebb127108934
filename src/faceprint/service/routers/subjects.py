"""The gallery's people: list and show (any valid key); create, rename, delete (admin keys).

The gallery decides what may be done (a taken name is its ``SubjectExists``, an unknown one its
``UnknownSubject``); the status table of ``service.errors`` turns its errors into answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from faceprint.service import audit
from faceprint.service.deps import ServiceDep, admin, recognise
from faceprint.service.schemas import (SubjectCreate, SubjectDeleted, SubjectList, SubjectOut, SubjectRename,
                                       errors)

# ``{name:path}`` below: a name may hold a slash (the gallery allows it), sent as %2F
router = APIRouter(prefix="/subjects", tags=["subjects"])


@router.get("", response_model=SubjectList, dependencies=[recognise], responses=errors())
async def list_subjects(svc: ServiceDep) -> dict:
    """Every enrolled person with their number of faces, by name."""
    subjects = await run_in_threadpool(svc.gallery.subjects)
    return {"subjects": [s.to_dict() for s in subjects]}


@router.post("", response_model=SubjectOut, status_code=201, dependencies=[admin],
             responses=errors(403, 409))
async def create_subject(body: SubjectCreate, svc: ServiceDep, request: Request) -> dict:
    """A new person without faces yet (409 when the name is taken). Enrolling photos into a name
    that does not exist creates it too."""
    audit.note(request, subject=body.name)
    subject = await run_in_threadpool(svc.gallery.add_subject, body.name, body.metadata)
    return subject.to_dict()


@router.get("/{name:path}", response_model=SubjectOut, dependencies=[recognise], responses=errors(404))
async def show_subject(name: str, svc: ServiceDep) -> dict:
    """One person (404 when there is no one of that name)."""
    return (await run_in_threadpool(svc.gallery.subject, name)).to_dict()


@router.patch("/{name:path}", response_model=SubjectOut, dependencies=[admin], responses=errors(403, 404, 409))
async def rename_subject(name: str, body: SubjectRename, svc: ServiceDep, request: Request) -> dict:
    """Rename a person (their faces follow); 409 when the new name is taken."""
    audit.note(request, to=body.name)
    subject = await run_in_threadpool(svc.gallery.rename, name, body.name)
    return subject.to_dict()


@router.delete("/{name:path}", response_model=SubjectDeleted, dependencies=[admin], responses=errors(403, 404))
async def delete_subject(name: str, svc: ServiceDep) -> dict:
    """Remove a person and all their faces."""
    removed = await run_in_threadpool(svc.gallery.delete_subject, name)
    return {"deleted": name, "faces_removed": removed}
