"""Who is in this photo: every face against the gallery, named or "unknown" (any valid key)."""

from __future__ import annotations

import asyncio
from typing import Optional

from fastapi import APIRouter, File, Query, UploadFile

from faceprint.service.deps import ServiceDep, recognise
from faceprint.service.schemas import IdentifyResponse, errors
from faceprint.service.uploads import read_upload

router = APIRouter(tags=["identify"], dependencies=[recognise])
THRESHOLD_HELP = ("Name a face only within this distance; default: the gallery's identification threshold "
                  "(calibrated, or the model's for this gallery size at FPIR 1 %).")
MIN_QUALITY_HELP = ('A face whose quality (0-1) is below this is "unknown" whatever its distance; default: the '
                    "gallery's floor (0.1 unless set).")


@router.post("/identify", response_model=IdentifyResponse, responses=errors(413, 503),
             summary="Name every face of a photo")
async def identify(svc: ServiceDep, image: UploadFile = File(..., description="A photo."),
                   top_k: int = Query(5, ge=1, le=100, description="Nearest subjects to list per face."),
                   threshold: Optional[float] = Query(None, gt=0, le=2, description=THRESHOLD_HELP),
                   min_quality: Optional[float] = Query(None, ge=0, le=1, description=MIN_QUALITY_HELP)) -> dict:
    """Each face with its nearest subjects; ``name`` is the nearest one when its distance is within
    the threshold and its quality not below the floor, else ``"unknown"`` with a ``reason``. A photo
    without a face gives an empty list."""
    (result,) = await svc.process([await read_upload(image, "image")])
    faces = []
    if result.detections:
        gallery = svc.gallery

        def search():
            return gallery.name_faces(result.detections, result.vectors, top_k, threshold, svc.engine.signature(),
                                      min_quality=min_quality)

        faces = [i.to_dict() for i in await asyncio.get_running_loop().run_in_executor(None, search)]
    return {"width": result.width, "height": result.height, "faces": faces}
