"""Prometheus metrics of this process at ``GET /metrics``, for ``metrics`` and ``admin`` keys only.

The text holds counts, times and sizes, labelled by route template and status: never a subject's
name, a key or a server path. It is left out of the OpenAPI schema (an operator's endpoint, not
part of the API); a scraper sends its key (``faceprint keys create --scope metrics``) as
``Authorization: Bearer``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from faceprint.service.deps import metrics_reader
from faceprint.service.errors import ServiceError

router = APIRouter(tags=["metrics"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", dependencies=[metrics_reader], include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (401 without a key, 403 for a recognise key)."""
    observed = getattr(request.app.state, "metrics", None)
    if observed is None:
        raise ServiceError(503, "metrics_unavailable", "this server has no metrics: its operator must install "
                           "prometheus-client (pip install 'faceprint[serve]') and restart it")
    text = await run_in_threadpool(observed.render)
    return Response(text, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
