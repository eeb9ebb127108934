"""Any ONNX face embedder with a faceprint sidecar JSON (from `faceprint train export`, or your
own): NHWC float pixels 0..255 in, one embedding per image out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import BadInput, ModelNotAvailable


def read_sidecar(onnx_path: Path) -> dict[str, Any]:
    sidecar = Path(onnx_path).with_suffix(".json")
    if not Path(onnx_path).is_file():
        raise ModelNotAvailable(f"{onnx_path}: no such model file")
    if not sidecar.is_file():
        raise BadInput(f"{onnx_path}: needs {sidecar.name} beside it (input_size, channels, align, threshold)")
    info = json.loads(sidecar.read_text())
    for key in ("input_size", "channels", "embedding_dim", "align", "threshold"):
        if key not in info:
            raise BadInput(f"{sidecar}: missing {key!r}")
    return info


class OnnxEmbedder:
    def __init__(self, onnx_path: Path, threads: int | None = None) -> None:
        from faceprint.models.dlib_resnet import SessionSet

        self.info = read_sidecar(Path(onnx_path))
        self.sessions = SessionSet(Path(onnx_path).read_bytes(), threads)
        self.session = self.sessions.default
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        x = np.asarray(chips, np.float32)
        if self.info["channels"] == 1 and x.shape[-1] == 3:
            x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        return self.sessions.current().run(None, {self.input_name: np.ascontiguousarray(x)})[0]
