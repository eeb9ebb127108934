"""Stateless analysis of uploaded photos: detect, embed, verify (any valid key)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, Optional

from fastapi import APIRouter, Depends, File, Query, UploadFile

from faceprint.errors import NoFace
from faceprint.service.app import Service, read_upload
from faceprint.service.deps import recognise, service
from faceprint.service.engine import ImageJob
from faceprint.service.schemas import DetectResponse, EmbedResponse, VerifyResponse, errors

router = APIRouter(tags=["images"], dependencies=[recognise])
ERRORS = errors(413, 503)


@router.post("/detect", response_model=DetectResponse, responses=ERRORS, summary="Find every face in a photo")
async def detect(image: UploadFile = File(..., description="A photo (JPEG, PNG, WebP, BMP, TIFF)."),
                 svc: Service = Depends(service)) -> dict:
    """Boxes, scores and 5 landmarks of every face; a photo without a face gives an empty list."""
    job = await read_upload(image, "image")
    (result,) = await svc.process([ImageJob(job.data, job.name, embed=False)])
    return {"width": result.width, "height": result.height, "faces": [d.to_dict() for d in result.detections]}


@router.post("/embed", response_model=EmbedResponse, responses=ERRORS, summary="Embed every face of a photo")
async def embed(image: UploadFile = File(..., description="A photo."), svc: Service = Depends(service)) -> dict:
    """One L2-normalised vector per face, with the signature of the pipeline that made it."""
    (result,) = await svc.process([await read_upload(image, "image")])
    model = svc.model
    faces = [{"model": model, "vector": [round(float(x), 6) for x in v], "face": d.to_dict()}
             for d, v in zip(result.detections, result.vectors)]
    return {"width": result.width, "height": result.height, "model": model, "signature": svc.engine.signature(),
            "faces": faces}


@router.post("/verify", response_model=VerifyResponse, responses=ERRORS, summary="Are two photos the same person?")
async def verify(first: UploadFile = File(..., description="First photo."),
                 second: UploadFile = File(..., description="Second photo."),
                 metric: Literal["euclidean", "cosine"] = Query("euclidean"),
                 threshold: Optional[float] = Query(None, gt=0, le=2,
                                                    description="Override the model's calibrated threshold."),
                 svc: Service = Depends(service)) -> dict:
    """One distance, one threshold, one decision. With several faces in a photo the one nearest
    its centre is used, and a note says so; a photo without a face is a 422."""
    from faceprint.api import decide

    uploads = [await read_upload(first, "first"), await read_upload(second, "second")]
    # detected as `faceprint verify` does: one expected face, the detector's fallback, the central one
    results = await svc.process([replace(job, expect_face=True) for job in uploads])
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
