"""The service's inference: decode, detect and embed a batch of uploads on one thread.

Every model call of the service runs on the engine's single thread (``Engine.executor``): the
detector and the landmark predictor are not shared between threads, and ONNX Runtime already
spreads one batch over the cores. A batch is decoded and detected image by image, then every
face of every image goes through the network in one call.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from faceprint.errors import FaceprintError, first_line
from faceprint.types import Detection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageJob:
    """One uploaded image to process: its bytes, the name to use in messages, what to compute.

    ``expect_face``: the photo should hold one face (a side of a verify), detected as
    ``Pipeline.embed_one`` does: the detector's fallback score when nothing reaches its threshold,
    and only the face nearest the centre kept (``ImageResult.found`` counts them all).
    """

    data: bytes
    name: str = "upload"
    embed: bool = True
    expect_face: bool = False


@dataclass
class ImageResult:
    """What the engine found in one image: its size, the faces, one vector per face when asked,
    and how many faces the detector found (more than ``detections`` after ``expect_face``)."""

    width: int
    height: int
    detections: list[Detection]
    vectors: np.ndarray | None = None
    found: int = 0


def renamed(exc: FaceprintError, name: str) -> FaceprintError:
    """The same error, with the ``<bytes>`` placeholder replaced by the upload's name."""
    message = exc.detail.replace("<bytes>", name)
    try:
        return type(exc)(message)
    except TypeError:  # an exception type with another constructor: keep it as it is
        return exc


class Engine:
    """The models of one service process, used from one thread only."""

    def __init__(self, config=None) -> None:
        """``config``: the ``PipelineConfig`` to run (a gallery's own, so vectors match it)."""
        from faceprint.pipeline.pipeline import PipelineConfig

        self.config = (config or PipelineConfig()).resolved()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="faceprint-engine")
        self.ready = False

    @property
    def pipeline(self):
        from faceprint.pipeline.pipeline import get_pipeline

        return get_pipeline(self.config)

    def signature(self) -> str:
        return self.pipeline.signature()

    def warm(self) -> None:
        """Load the detector and the network by running them once (on the engine thread)."""
        self.pipeline.warm()
        self.ready = True
        log.info("models loaded: %s", self.pipeline.signature())

    def run(self, jobs: list[ImageJob]) -> list[ImageResult | Exception]:
        """Decode, detect and (where asked) embed every image; one result or error per job. An
        unexpected error (a bug met by one image) fails that image's job only, not the batch's
        other requests."""
        from faceprint.images import load_image
        from faceprint.pipeline.detect import nearest_center
        from faceprint.registry import embedder_spec

        pipe = self.pipeline
        results: list[ImageResult | Exception] = []
        pending: list[tuple[int, object]] = []
        for index, job in enumerate(jobs):
            try:
                image = load_image(job.data)
                detections = list(pipe.detect(image, expect_face=job.expect_face))
                found = len(detections)
                if job.expect_face and found > 1:
                    detections = [detections[nearest_center(detections, image.shape)]]
                chips = [pipe.embedder.prepare(image, d) for d in detections] if job.embed else []
            except FaceprintError as exc:
                results.append(renamed(exc, job.name))
                continue
            except Exception as exc:  # noqa: BLE001 (the route logs its traceback and answers 500)
                log.warning("%s: detection or alignment failed (%s); only its request fails", job.name, first_line(exc))
                results.append(exc)
                continue
            results.append(ImageResult(int(image.shape[1]), int(image.shape[0]), detections, found=found))
            pending.extend((index, chip) for chip in chips)
        if pending:
            for index, vectors in self._embed(pending, jobs).items():
                result = results[index]
                assert isinstance(result, ImageResult)
                if isinstance(vectors, Exception):
                    results[index] = vectors
                else:
                    result.vectors = vectors
        for job, result in zip(jobs, results):
            if job.embed and isinstance(result, ImageResult) and result.vectors is None:
                result.vectors = np.zeros((0, embedder_spec(self.config.model).dim), np.float32)
        return results

    def _embed(self, pending: list[tuple[int, object]], jobs: list[ImageJob]) -> dict[int, np.ndarray | Exception]:
        """Each job's face vectors, from one network call over every face of the batch. When that
        call meets a bug and the batch holds several images, they are embedded image by image, so
        that only the image that breaks it fails; faceprint's own errors (a model that cannot
        load) are every job's."""
        embedder = self.pipeline.embedder
        images = list(dict.fromkeys(i for i, _ in pending))
        try:
            vectors = np.asarray(embedder.embed_prepared([p for _, p in pending]), np.float32)
        except FaceprintError as exc:
            return {index: exc for index in images}
        except Exception as exc:  # noqa: BLE001 (the route logs its traceback and answers 500)
            if len(images) == 1:
                return {images[0]: exc}
            log.warning("embedding %d faces of %d images failed (%s); embedding image by image", len(pending),
                        len(images), first_line(exc))
        else:
            rows: dict[int, list[np.ndarray]] = {}
            for (index, _), vector in zip(pending, vectors):
                rows.setdefault(index, []).append(vector)
            return {index: np.stack(vecs) for index, vecs in rows.items()}
        out: dict[int, np.ndarray | Exception] = {}
        for index in images:
            try:
                out[index] = np.asarray(embedder.embed_prepared([p for i, p in pending if i == index]), np.float32)
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: embedding failed (%s); only its request fails", jobs[index].name, first_line(exc))
                out[index] = exc
        return out

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
