"""Liveness and readiness, without a key: ``/healthz`` (process up), ``/readyz`` (models, gallery)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from faceprint.service.deps import ServiceDep
from faceprint.service.schemas import Health, Ready

router = APIRouter(tags=["health"])

WARM_FAILED = "failed: the models could not be loaded; the server's log says why"


@router.api_route("/healthz", methods=["GET", "HEAD"], response_model=Health)
async def healthz() -> dict:
    """200 while the process serves requests (HEAD too: what many uptime monitors send)."""
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"], response_model=Ready,
                  responses={503: {"model": Ready, "description": "Not ready yet"}})
async def readyz(svc: ServiceDep):
    """200 once the models are loaded and the gallery is open; 503 (with Retry-After) before."""
    body = {"status": "ready" if svc.ready else "starting", "models": bool(svc.engine and svc.engine.ready),
            "gallery": svc.gallery is not None}
    if svc.warm_error:  # its detail names the server's files: it stays in the log (``Service._warmed``)
        body["status"] = WARM_FAILED
    if svc.ready:
        body["signature"] = svc.engine.signature()
        body["faces"] = len(svc.gallery)
        body["batches"] = svc.batcher.batches
        body["batched_images"] = svc.batcher.items
        return body
    return JSONResponse(body, 503, headers={"Retry-After": "2"})
