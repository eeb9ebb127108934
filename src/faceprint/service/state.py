"""What one service process holds while it runs: its settings, API keys, gallery, engine and batcher.

``create_app`` makes one ``Service`` and keeps it on ``app.state.service``; routes reach it through
``deps.ServiceDep``. Every model call goes through the engine's one thread: images in batches
(``process``), anything else one call at a time (``on_engine``, ``enrol``). Uploads are held to
the service's pixel limit before they reach the engine, and each client (key, address: from
``guard.current_client``) to its share of the queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Sequence, TypeVar

from faceprint.images import check_pixel_count
from faceprint.service.batching import Batcher, Busy
from faceprint.service.config import ServiceConfig
from faceprint.service.engine import Engine, ImageJob, ImageResult
from faceprint.service.errors import ServiceError
from faceprint.service.guard import current_client
from faceprint.service.keys import KeyStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class Service:
    """The shared state of one service process: settings, keys, gallery, engine and batcher.

    The gallery and the engine are made by ``start()`` (the gallery's own pipeline settings, so
    that probe vectors are comparable with its faces) and released by ``stop()``.

    Args:
        config: the service's settings.

    Attributes:
        config: the settings it was made with.
        keys: the API key store (``config.keys``).
        gallery: the open ``faceprint.gallery.Gallery``; None before ``start()``.
        engine: the models, on one thread; None before ``start()``.
        batcher: gathers the images of concurrent requests into batches; None before ``start()``.
        warm_error: why loading the models at start-up failed; None while it has not.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.keys = KeyStore(config.keys)
        self.gallery: Any = None
        self.engine: Engine = None  # type: ignore[assignment]  # made by start(), from the gallery's pipeline
        self.batcher: Batcher[ImageJob, ImageResult] = None  # type: ignore[assignment]
        self.warm_error: str | None = None
        self._enrols = 0
        self._max_enrols = max(1, config.max_queue // 8)
        # held while the gallery's people are clustered again (it holds the gallery's write lock
        # for the whole run): an enrol would wait for it on the engine's thread, and every
        # identify queued behind it too, so enrols are refused meanwhile
        self.reclustering = asyncio.Lock()

    # -- life -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the gallery, make the engine and start the batcher; load the models in the
        background when ``config.warm`` (``ready`` says when they are loaded).

        Raises:
            faceprint.errors.FaceprintError: the gallery cannot be opened or created.
        """
        loop = asyncio.get_running_loop()
        self.gallery = await loop.run_in_executor(None, self.open_gallery)
        self.engine = Engine(self.gallery.config)
        config = self.config
        self.batcher = Batcher(self.engine.run, self.engine.executor, config.max_batch,
                               config.batch_wait_ms / 1000.0, config.max_queue, config.max_queue_per_client)
        await self.batcher.start()
        if self.config.warm:
            future = loop.run_in_executor(self.engine.executor, self.engine.warm)
            future.add_done_callback(self._warmed)

    def _warmed(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.warm_error = str(future.exception())
            log.error("loading the models failed: %s", self.warm_error)

    def open_gallery(self) -> Any:
        """The gallery of the configured file and model, created when missing (blocking).

        Returns:
            The open ``faceprint.gallery.Gallery``.

        Raises:
            faceprint.errors.FaceprintError: the gallery cannot be opened or created (another
                model than its own, a damaged file, an unreachable server).
        """
        from faceprint.gallery import Gallery

        return Gallery(self.config.gallery, model=self.config.model or None, create=True)

    async def stop(self) -> None:
        """Stop the batcher (waiting requests get ``Busy``), the engine's thread and the gallery."""
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
        """Run images through the batcher, together with those of concurrent requests.

        Args:
            jobs: the images of one request.

        Returns:
            One result per job, in order.

        Raises:
            faceprint.errors.ImageTooLarge: an image has more pixels than ``config.max_pixels``
                (checked from its header, before it is queued).
            faceprint.errors.FaceprintError: the first image that failed, with its own error.
            faceprint.service.batching.Busy: the queue is full, or this request's client (its key or
                its address) has ``config.max_queue_per_client`` images queued already.
        """
        for job in jobs:
            check_pixel_count(job.data, self.config.max_pixels, job.name)
        client = current_client.get()
        results = await self.batcher.submit_many(list(jobs), client.owners() if client else ())
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def on_engine(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the engine's thread (anything that uses the models outside a batch).

        Args:
            fn: a blocking function.
            *args: its arguments.

        Returns:
            What ``fn`` returns (what it raises is raised here).
        """
        return await asyncio.get_running_loop().run_in_executor(self.engine.executor, lambda: fn(*args))

    async def enrol(self, fn: Callable[..., T], *args: Any) -> T:
        """Run an enrol on the engine's thread, refusing when too many are waiting already.

        Args:
            fn: the blocking enrol call (``Gallery.enrol`` with its options bound).
            *args: its arguments; the photos among them (bytes, or a list of bytes) are held to
                ``config.max_pixels`` before the engine gets them.

        Returns:
            What ``fn`` returns (what it raises is raised here).

        Raises:
            faceprint.errors.ImageTooLarge: a photo has more pixels than ``config.max_pixels``.
            faceprint.service.batching.Busy: ``config.max_queue // 8`` enrols are waiting already.
            ServiceError: 409 ``recluster_running`` while the people are clustered again.
        """
        if self.reclustering.locked():
            raise ServiceError(409, "recluster_running", "the gallery's people are being clustered again; "
                               "try again when that has finished", {"Retry-After": "10"})
        for number, data in enumerate(_photos(args)):
            check_pixel_count(data, self.config.max_pixels, f"images[{number}]")
        if self._enrols >= self._max_enrols:
            raise Busy(max(1, self.batcher.retry_after() + 2 * self._enrols), self._enrols)
        self._enrols += 1
        try:
            return await self.on_engine(fn, *args)
        finally:
            self._enrols -= 1


def _photos(args: Sequence[Any]) -> list[bytes]:
    """The uploaded photos among an engine call's arguments: bytes, and the bytes in lists or tuples."""
    photos: list[bytes] = []
    for arg in args:
        if isinstance(arg, (bytes, bytearray)):
            photos.append(bytes(arg) if isinstance(arg, bytearray) else arg)
        elif isinstance(arg, (list, tuple)):
            photos.extend(item for item in arg if isinstance(item, bytes))
    return photos
