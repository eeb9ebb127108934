"""Stateless analysis of uploaded photos: detect, embed, verify (any valid key)."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, File, Query, UploadFile

from faceprint.errors import NoFace
from faceprint.service.deps import ServiceDep, recognise
from faceprint.service.schemas import DetectResponse, EmbedResponse, VerifyResponse, errors
from faceprint.service.uploads import read_upload

router = APIRouter(tags=["images"], dependencies=[recognise])
ERRORS = errors(413, 503)


@router.post("/detect", response_model=DetectResponse, responses=ERRORS, summary="Find every face in a photo")
async def detect(svc: ServiceDep,
                 image: UploadFile = File(..., description="A photo (JPEG, PNG, WebP, BMP, TIFF).")) -> dict:
    """Boxes, scores and 5 landmarks of every face; a photo without a face gives an empty list."""
    (result,) = await svc.process([await read_upload(image, "image", embed=False)])
    return {"width": result.width, "height": result.height, "faces": [d.to_dict() for d in result.detections]}


@router.post("/embed", response_model=EmbedResponse, responses=ERRORS, summary="Embed every face of a photo")
async def embed(svc: ServiceDep, image: UploadFile = File(..., description="A photo.")) -> dict:
    """One L2-normalised vector per face, with the signature of the pipeline that made it."""
    (result,) = await svc.process([await read_upload(image, "image")])
    model = svc.model
    faces = [{"model": model, "vector": [round(float(x), 6) for x in v], "face": d.to_dict()}
             for d, v in zip(result.detections, result.vectors)]
    return {"width": result.width, "height": result.height, "model": model, "signature": svc.engine.signature(),
            "faces": faces}


@router.post("/verify", response_model=VerifyResponse, responses=ERRORS, summary="Are two photos the same person?")
async def verify(svc: ServiceDep,
                 first: UploadFile = File(..., description="First photo."),
                 second: UploadFile = File(..., description="Second photo."),
                 metric: Literal["euclidean", "cosine"] = Query("euclidean"),
                 threshold: Optional[float] = Query(None, gt=0, le=2,
                                                    description="Override the model's calibrated threshold.")) -> dict:
    """One distance, one threshold, one decision. With several faces in a photo the one nearest
    its centre is used, and a note says so; a photo without a face is a 422."""
    from faceprint.api import decide

    # detected as `faceprint verify` does: one expected face, the detector's fallback, the central one
    uploads = [await read_upload(first, "first", expect_face=True),
               await read_upload(second, "second", expect_face=True)]
    results = await svc.process(uploads)
    notes = []
    for job, result in zip(uploads, results):
        if not result.detections:
            raise NoFace(f"{job.name}: no face found; upload a photo where the face is visible")
        if result.found > 1:
            notes.append(f"{job.name}: {result.found} faces found; used the one nearest the centre")
    a, b = (r.vectors[0] for r in results)
    verdict = decide(a, b, svc.model, metric, threshold, tuple(notes))
    return {**verdict.to_dict(), "first": results[0].detections[0].to_dict(),
            "second": results[1].detections[0].to_dict()}
