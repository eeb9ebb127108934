"""The service's inference: decode, detect and embed a batch of uploads on one thread.

Every model call of the service runs on the engine's single thread (``Engine.executor``): the
detector and the landmark predictor are not shared between threads, and ONNX Runtime already
spreads one batch over the cores. A batch is decoded and detected image by image, then every
face of every image goes through the network in one call, by the pipeline's one route from images
to faces (``Pipeline.find_faces``, ``prepare_chips``, ``embed_chips``); the engine adds the
thread, the batching across requests and an error per image.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from faceprint.errors import FaceprintError, first_line
from faceprint.pipeline.sources import decode
from faceprint.types import Detection

log = logging.getLogger(__name__)

Embedded = tuple[np.ndarray, list[float]]  # one image's face vectors and each face's quality


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
        """Decode, detect and (where asked) embed every image; one result or error per job.

        Each image goes the pipeline's one route (``Pipeline.find_faces``, ``prepare_chips``), and
        the faces of every job go through the network in one call. An unexpected error (a bug met
        by one image) fails that image's job only, not the batch's other requests.

        Args:
            jobs: the uploads of one or more requests.

        Returns:
            For each job, its ``ImageResult`` or the exception that failed it (faceprint's own
            errors name the upload instead of ``<bytes>``).
        """
        pipe = self.pipeline
        results: list[ImageResult | Exception] = []
        chips: dict[int, list] = {}
        for index, job in enumerate(jobs):
            try:
                image = decode(job.data, job.name)
                detections, found = pipe.find_faces(image, expect_face=job.expect_face, one=job.expect_face)
                if job.embed:
                    chips[index] = pipe.prepare_chips(image, detections)
            except FaceprintError as exc:  # a decoding error names the upload (sources.decode)
                results.append(exc)
                continue
            except Exception as exc:  # noqa: BLE001 (the route logs its traceback and answers 500)
                log.warning("%s: detection or alignment failed (%s); only its request fails", job.name, first_line(exc))
                results.append(exc)
                continue
            results.append(ImageResult(int(image.shape[1]), int(image.shape[0]), detections, found=found))
        for index, embedded in self._embed(chips, jobs).items():
            result = results[index]
            assert isinstance(result, ImageResult)
            if isinstance(embedded, Exception):
                results[index] = embedded
            else:  # each face's quality from every cue, the network's own included
                result.vectors, scores = embedded
                result.detections = [replace(d, quality=q) for d, q in zip(result.detections, scores)]
        return results

    def _embed(self, chips: dict[int, list], jobs: list[ImageJob]) -> dict[int, Embedded | Exception]:
        """Each job's face vectors and qualities, from one network call over every face of the
        batch. When that call meets a bug and the batch holds several images with faces, they are
        embedded image by image, so that only the image that breaks it fails; faceprint's own
        errors (a model that cannot load) are every job's."""
        pipe = self.pipeline
        images = [index for index, found in chips.items() if found]
        out: dict[int, Embedded | Exception] = {index: (np.zeros((0, pipe.spec.dim), np.float32), [])
                                                for index in chips if index not in images}
        try:
            vectors = pipe.embed_chips_scored([chips[index] for index in images])
        except FaceprintError as exc:
            return out | {index: exc for index in images}
        except Exception as exc:  # noqa: BLE001 (the route logs its traceback and answers 500)
            if len(images) == 1:
                return out | {images[0]: exc}
            log.warning("embedding %d faces of %d images failed (%s); embedding image by image",
                        sum(len(chips[i]) for i in images), len(images), first_line(exc))
        else:
            return out | {index: (np.asarray(rows, np.float32), scores) for index, (rows, scores) in zip(images, vectors)}
        for index in images:
            try:
                rows, scores = pipe.embed_chips_scored([chips[index]])[0]
                out[index] = (np.asarray(rows, np.float32), scores)
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: embedding failed (%s); only its request fails", jobs[index].name, first_line(exc))
                out[index] = exc
        return out

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
