"""The FastAPI application: the facade and the gallery over HTTP, and the web page at ``/``.

This module only builds the app: ``create_app(config)`` puts together the routers (one per
resource, in ``routers/``), the error handlers (``errors``), the size limit, the page and the
docs; what a running process holds is ``state.Service``, which routes reach through ``deps``.
``faceprint serve`` runs the app under uvicorn (``app_from_env`` is the factory uvicorn's worker
processes call). Models load in the background at start-up (``/readyz`` says when); every model
call runs on the engine's one thread, batched.

Example:
    >>> from faceprint.service.app import create_app        # doctest: +SKIP
    >>> from faceprint.service.config import ServiceConfig  # doctest: +SKIP
    >>> app = create_app(ServiceConfig(gallery="g.db", keys="keys.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from faceprint.service import audit
from faceprint.service import errors as service_errors
from faceprint.service import headers as security_headers
from faceprint.service.config import ServiceConfig
from faceprint.service.guard import FrontDoor
from faceprint.service.limits import BodyLimit
from faceprint.service.metrics import ServiceMetrics, available
from faceprint.service.observe import RequestObserver
from faceprint.service.routers import faces, health, identify, images, keys, people, subjects
from faceprint.service.routers import metrics as metrics_route
from faceprint.service.state import Service

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Offline face recognition over HTTP: detect, embed, verify, identify, and a gallery of
enrolled people.

Every `/v1` route needs an API key (`X-API-Key` header or `Authorization: Bearer`), created with
`faceprint keys create --scope admin|recognise|metrics`: `recognise` keys may detect, embed, verify,
identify and read the gallery; `admin` keys may also change it; `metrics` keys only read `/metrics`. Images are uploaded as
`multipart/form-data` files. Errors are JSON: `{"error": {"code": ..., "message": ...}}`.
"""


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The service's ASGI application: the ``/v1`` API, ``/healthz`` and ``/readyz``, the web page
    at ``/`` and the API docs at ``/docs``.

    Nothing is opened or loaded here: the app's lifespan opens the gallery and starts the engine
    when a server (or ``TestClient``) starts it, and stops them when it stops.

    Args:
        config: the service's settings; None: ``ServiceConfig()`` (the defaults).

    Returns:
        The FastAPI application; its ``state.service`` is the ``Service`` it runs.

    Example:
        >>> app = create_app(ServiceConfig(gallery="g.db", keys="keys.json"))  # doctest: +SKIP
    """
    from faceprint import __version__

    config = config or ServiceConfig()
    state = Service(config)
    observed = ServiceMetrics(state) if available() else None  # a registry of this app's own
    audit_log = audit.AuditLog(config.audit_log, config.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        if observed is not None:  # the engine's batches, counted and timed
            state.batcher.process = observed.timed_batches(state.batcher.process)
        try:
            yield
        finally:
            await state.stop()
            audit_log.close()

    app = FastAPI(title="faceprint", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.service = state
    app.state.metrics = observed
    service_errors.install(app)
    for router in (images.router, identify.router, subjects.router, faces.router, people.router, keys.router):
        app.include_router(router, prefix="/v1")
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    _add_docs(app)

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, max_buffered=config.max_buffered_bytes,
                       timeout_s=config.body_timeout_s, min_rate=config.min_body_bytes_per_s)
    # outside the size limit: keys and per-client upload limits are checked before any body is read
    app.add_middleware(FrontDoor, keys=state.keys, max_per_key=config.max_uploads_per_key,
                       max_per_address=config.max_uploads_per_address)
    # outside the checks: their refusals are counted and audited too
    app.add_middleware(RequestObserver, metrics=observed, audit_log=audit_log)
    security_headers.install(app)  # outermost: the size limit's answers get the headers too
    return app


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs, served from the ``swagger-ui-bundle-v2`` package when it is installed
    (the service works offline), else from FastAPI's default CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html

    assets = None
    try:
        import swagger_ui_bundle

        assets = Path(swagger_ui_bundle.swagger_ui_path)
    except (ImportError, AttributeError):
        log.info("swagger-ui-bundle-v2 is not installed: /docs loads Swagger UI from a CDN")
    if assets is not None and (assets / "swagger-ui-bundle.js").is_file():
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
        urls = {"swagger_js_url": "/docs-assets/swagger-ui-bundle.js",
                "swagger_css_url": "/docs-assets/swagger-ui.css",
                "swagger_favicon_url": "/docs-assets/favicon-32x32.png"}
    else:
        urls = {}

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="faceprint API", **urls)


def app_from_env() -> FastAPI:
    """The application for uvicorn's ``--factory`` (each worker process calls it).

    Returns:
        ``create_app`` with the settings of the ``FACEPRINT_SERVE_*`` variables (``ServiceConfig.from_env``).

    Raises:
        ValueError: a variable's value is not of its setting's type.
    """
    return create_app(ServiceConfig.from_env())
