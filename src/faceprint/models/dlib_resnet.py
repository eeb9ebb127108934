"""dlib's face-recognition ResNet, read from its .dat file and run batched with ONNX Runtime."""

from __future__ import annotations

import logging
import os
import threading

import numpy as np

from faceprint.models import weights
from faceprint.models.dlib_dat import load_dlib_net
from faceprint.models.dlib_resnet_onnx import build_onnx

log = logging.getLogger(__name__)

_THIS_THREAD = threading.local()


def ort_session(model_bytes: bytes, threads: int | None = None, spinning: bool = False):
    """An ONNX Runtime CPU session; ``threads`` defaults to $FACEPRINT_THREADS or all cores.

    Unless ``spinning`` (ONNX Runtime's own default), idle pool threads sleep rather than spin:
    spinning threads keep burning a core after each call, which the detection that follows
    needs. ``python bench/bench_pipeline.py --spinning`` measures both in one interleaved run.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = threads or int(os.environ.get("FACEPRINT_THREADS", "0"))
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def networks_use_threads(count: int | None) -> None:
    """Networks called from the current thread run on ``count`` ONNX Runtime threads (None: each
    network's own session again, on all cores).

    For the helper thread that embeds while the main thread detects (``pipeline.batch``): the
    network then gets the cores detection leaves free.
    """
    _THIS_THREAD.count = count


class SessionSet:
    """A model's default session, plus one per thread count asked for by ``networks_use_threads``
    (built on first use; same graph, so the same outputs)."""

    def __init__(self, model_bytes: bytes, threads: int | None = None) -> None:
        self.model_bytes = model_bytes
        self.default = ort_session(model_bytes, threads)
        self._by_count: dict[int, object] = {}
        self._lock = threading.Lock()

    def current(self):
        """The session for the calling thread."""
        count = getattr(_THIS_THREAD, "count", None)
        if count is None:
            return self.default
        with self._lock:
            session = self._by_count.get(count)
            if session is None:
                session = self._by_count[count] = ort_session(self.model_bytes, count)
        return session


class DlibResNet:
    """128-d raw descriptors for 150x150 RGB dlib face chips (batch of N, uint8 or float)."""

    chip_size = 150
    dim = 128

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        path = weights.locate(weights.DLIB_RESNET)
        self.model = build_onnx(load_dlib_net(path))
        self.sessions = SessionSet(self.model.SerializeToString(), threads)
        self.batch_size = batch_size
        log.debug("dlib ResNet loaded from %s", path)

    @property
    def session(self):
        """The default ONNX Runtime session."""
        return self.sessions.default

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips, dtype=np.float32)
        if chips.ndim != 4 or chips.shape[1:] != (self.chip_size, self.chip_size, 3):
            raise ValueError(f"expected (N, 150, 150, 3) chips, got {chips.shape}")
        session = self.sessions.current()
        out = [session.run(None, {"images": chips[i : i + self.batch_size]})[0]
               for i in range(0, len(chips), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
