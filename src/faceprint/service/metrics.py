"""Prometheus metrics of one service process, in a registry of its own.

``GET /metrics`` (admin keys only) gives them in Prometheus' text format. Each app has its own
``CollectorRegistry`` (never the client library's global one), so several apps in one process (the
tests) and several worker processes each count their own. Labels hold only bounded, non-personal
values: the HTTP method, the route's template (``/v1/subjects/{name}``, never the path a client
sent, so names in paths never reach a metric) and the status. No label holds a subject's name, a
key or a server path.

Metrics (``faceprint_`` prefix):
    http_requests_total{method, route, status}: answered requests.
    http_request_duration_seconds{method, route}: time to answer (histogram).
    batch_images: images per batch the engine ran (histogram).
    engine_busy_seconds_total: time the engine thread spent running batches of images.
    faces_enrolled_total: faces added by enrol requests.
    queue_images: images waiting for the engine now; engine_running_images: in the batch now.
    gallery_faces, gallery_subjects: the gallery's size, read when scraped.
    ready: 1 once the models are loaded and the gallery is open.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def available() -> bool:
    """True when ``prometheus-client`` is installed (it comes with ``faceprint[serve]``)."""
    from importlib.util import find_spec

    return find_spec("prometheus_client") is not None


class ServiceMetrics:
    """The metrics of one app: request counts and latencies, batches, engine time, enrolled faces,
    and the service's queue and gallery read at each scrape.

    Args:
        service: the app's ``state.Service`` (its batcher and gallery are read when scraped).

    Raises:
        ImportError: ``prometheus-client`` is not installed.
    """

    def __init__(self, service: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("faceprint_http_requests", "Requests answered, by method, route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("faceprint_http_request_duration_seconds",
                                 "Time to answer a request, by method and route template.", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_images = Histogram("faceprint_batch_images", "Images per batch the engine ran.",
                                      buckets=BATCH_BUCKETS, registry=self.registry)
        self.engine_busy = Counter("faceprint_engine_busy_seconds",
                                   "Seconds the engine thread spent running batches of images.", registry=self.registry)
        self.faces_enrolled = Counter("faceprint_faces_enrolled", "Faces added to the gallery by enrol requests.",
                                      registry=self.registry)
        self.registry.register(_ServiceCollector(service))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request.

        Args:
            method: its HTTP method (an unusual one is counted as ``OTHER``).
            route: its route's template, or ``unmatched``.
            status: the answer's status.
            seconds: the time to answer it.
        """
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def timed_batches(self, process: Callable[[list[T]], Sequence[R]]) -> Callable[[list[T]], Sequence[R]]:
        """``process`` (a batcher's batch function), counting each batch's images and run time.

        Args:
            process: the batch function; it runs on the engine's thread.

        Returns:
            A function that calls it and records ``batch_images`` and ``engine_busy_seconds``.
        """

        def timed(items: list[T]) -> Sequence[R]:
            started = time.perf_counter()
            try:
                return process(items)
            finally:
                self.engine_busy.inc(time.perf_counter() - started)
                self.batch_images.observe(len(items))

        timed.__wrapped__ = process  # type: ignore[attr-defined]
        return timed

    def render(self) -> bytes:
        """The metrics in Prometheus' text format (reads the gallery's size: blocking).

        Returns:
            The exposition text.
        """
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _ServiceCollector:
    """The service's state at scrape time: queue, running batch, readiness, gallery size."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def describe(self) -> list:
        return []  # the metrics below are produced at collect time only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        svc = self.service
        batcher = getattr(svc, "batcher", None)
        yield GaugeMetricFamily("faceprint_queue_images", "Images waiting for the engine.",
                                value=batcher.waiting if batcher is not None else 0)
        yield GaugeMetricFamily("faceprint_engine_running_images", "Images in the batch the engine runs now.",
                                value=batcher.running if batcher is not None else 0)
        yield GaugeMetricFamily("faceprint_ready", "1 once the models are loaded and the gallery is open.",
                                value=1 if svc.ready else 0)
        gallery = getattr(svc, "gallery", None)
        if gallery is None:
            return
        try:
            faces, subjects = len(gallery), len(gallery.subjects())
        except Exception as exc:  # a Milvus server down: the other metrics still answer
            log.warning("metrics: the gallery's size cannot be read: %s", exc)
            return
        yield GaugeMetricFamily("faceprint_gallery_faces", "Faces in the gallery.", value=faces)
        yield GaugeMetricFamily("faceprint_gallery_subjects", "Subjects (people) in the gallery.", value=subjects)
