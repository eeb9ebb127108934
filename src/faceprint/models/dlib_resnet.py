"""dlib's face-recognition ResNet, read from its .dat file and run batched with ONNX Runtime."""

from __future__ import annotations

import logging
import os

import numpy as np

from faceprint.models import weights
from faceprint.models.dlib_dat import load_dlib_net
from faceprint.models.dlib_resnet_onnx import build_onnx

log = logging.getLogger(__name__)


def ort_session(model_bytes: bytes, threads: int | None = None):
    """An ONNX Runtime CPU session; ``threads`` defaults to $FACEPRINT_THREADS or all cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = threads or int(os.environ.get("FACEPRINT_THREADS", "0"))
    if threads:
        options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


class DlibResNet:
    """128-d raw descriptors for 150x150 RGB dlib face chips (batch of N, uint8 or float)."""

    chip_size = 150
    dim = 128

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        path = weights.locate(weights.DLIB_RESNET)
        self.model = build_onnx(load_dlib_net(path))
        self.session = ort_session(self.model.SerializeToString(), threads)
        self.batch_size = batch_size
        log.debug("dlib ResNet loaded from %s", path)

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips, dtype=np.float32)
        if chips.ndim != 4 or chips.shape[1:] != (self.chip_size, self.chip_size, 3):
            raise ValueError(f"expected (N, 150, 150, 3) chips, got {chips.shape}")
        out = [self.session.run(None, {"images": chips[i : i + self.batch_size]})[0]
               for i in range(0, len(chips), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
