"""The FastAPI application: the facade and the gallery over HTTP, and the web page at ``/``.

``create_app(config)`` builds it; ``faceprint serve`` runs it under uvicorn (``app_from_env`` is
the factory uvicorn's worker processes call). Models load in the background at start-up
(``/readyz`` says when); every model call runs on the engine's one thread, batched.

Example:
    >>> from faceprint.service.app import create_app        # doctest: +SKIP
    >>> from faceprint.service.config import ServiceConfig  # doctest: +SKIP
    >>> app = create_app(ServiceConfig(gallery="g.db", keys="keys.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence, TypeVar

from fastapi import FastAPI, UploadFile
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from faceprint.errors import BadImage
from faceprint.service import errors as service_errors
from faceprint.service.batching import Batcher, Busy
from faceprint.service.config import ServiceConfig
from faceprint.service.engine import Engine, ImageJob, ImageResult
from faceprint.service.keys import KeyStore
from faceprint.service.limits import BodyLimit

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")

DESCRIPTION = """Offline face recognition over HTTP: detect, embed, verify, identify, and a gallery of
enrolled people.

Every `/v1` route needs an API key (`X-API-Key` header or `Authorization: Bearer`), created with
`faceprint keys create --scope admin|recognise`: `recognise` keys may detect, embed, verify,
identify and read the gallery; `admin` keys may also change it. Images are uploaded as
`multipart/form-data` files. Errors are JSON: `{"error": {"code": ..., "message": ...}}`.
"""


class Service:
    """What one service process holds: settings, keys, the engine and its batcher, the gallery."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.keys = KeyStore(config.keys)
        self.gallery: Any = None
        self.engine: Engine = None  # type: ignore[assignment]  # made by start(), from the gallery's pipeline
        self.batcher: Batcher[ImageJob, ImageResult] = None  # type: ignore[assignment]
        self.warm_error: str | None = None
        self._enrols = 0
        self._max_enrols = max(1, config.max_queue // 8)

    # -- life -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.gallery = await loop.run_in_executor(None, self.open_gallery)
        # the gallery's own pipeline settings, so that probe vectors are comparable with its faces
        self.engine = Engine(self.gallery.config)
        config = self.config
        self.batcher = Batcher(self.engine.run, self.engine.executor, config.max_batch,
                               config.batch_wait_ms / 1000.0, config.max_queue)
        await self.batcher.start()
        if self.config.warm:
            future = loop.run_in_executor(self.engine.executor, self.engine.warm)
            future.add_done_callback(self._warmed)

    def _warmed(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.warm_error = str(future.exception())
            log.error("loading the models failed: %s", self.warm_error)

    def open_gallery(self):
        """The gallery of the configured file and model (created when missing)."""
        from faceprint.gallery import Gallery

        return Gallery(self.config.gallery, model=self.config.model or None, create=True)

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        if self.engine is not None:
            self.engine.close()
        close = getattr(self.gallery, "close", None)
        if close is not None:
            close()

    @property
    def model(self) -> str:
        """The embedding model in use (the gallery's)."""
        return self.engine.config.model

    @property
    def ready(self) -> bool:
        """The gallery is open and the models are loaded, or will load on first use (``warm=False``)."""
        return self.engine is not None and self.gallery is not None and (self.engine.ready or not self.config.warm)

    # -- work -----------------------------------------------------------------------------------------
    async def process(self, jobs: Sequence[ImageJob]) -> list[ImageResult]:
        """Run images through the batcher; the first image that fails raises its error."""
        results = await self.batcher.submit_many(list(jobs))
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def on_engine(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the engine's thread (anything that uses the models outside a batch)."""
        return await asyncio.get_running_loop().run_in_executor(self.engine.executor, lambda: fn(*args))

    async def enrol(self, fn: Callable[..., T], *args: Any) -> T:
        """Run an enrol on the engine's thread; refuse with Busy when too many are waiting."""
        if self._enrols >= self._max_enrols:
            raise Busy(max(1, self.batcher.retry_after() + 2 * self._enrols), self._enrols)
        self._enrols += 1
        try:
            return await self.on_engine(fn, *args)
        finally:
            self._enrols -= 1


async def read_upload(upload: UploadFile, what: str) -> ImageJob:
    """The bytes of an uploaded file as an engine job, named for messages."""
    data = await upload.read()
    name = upload.filename or what
    if not data:
        raise BadImage(f"{name}: empty file; upload a JPEG, PNG, WebP, BMP or TIFF photo")
    return ImageJob(data, name)


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The service's ASGI application for ``config`` (defaults: ``ServiceConfig()``)."""
    from faceprint import __version__
    from faceprint.service.routers import faces, health, identify, images, keys, subjects

    config = config or ServiceConfig()
    state = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="faceprint", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.service = state
    service_errors.install(app)
    for router in (images.router, identify.router, subjects.router, faces.router, keys.router):
        app.include_router(router, prefix="/v1")
    app.include_router(health.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    _add_docs(app)

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
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
    """The application for uvicorn's ``--factory``: settings from ``FACEPRINT_SERVE_*`` variables."""
    return create_app(ServiceConfig.from_env())
