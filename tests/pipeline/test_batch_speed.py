"""The speed work on embed_many must not move a vector: the warp, the overlapped batches and the
helper thread's network session give what the plain versions give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.pipeline.align import warp


def _reference_warp(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """dlib's interpolate_bilinear written out plainly (the implementation before the speed-up)."""
    width, height = size
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)[:, None]
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    floor_x, floor_y = np.floor(px), np.floor(py)
    left, top = floor_x.astype(np.intp), floor_y.astype(np.intp)
    rows, cols = image.shape[:2]
    inside = (left >= 0) & (top >= 0) & (left + 1 < cols) & (top + 1 < rows)
    np.clip(left, 0, cols - 2, out=left)
    np.clip(top, 0, rows - 2, out=top)
    fx, fy = (px - floor_x)[..., None], (py - floor_y)[..., None]
    flat = image.reshape(rows * cols, -1)
    index = top * cols + left
    upper = (1 - fx) * flat[index] + fx * flat[index + 1]
    lower = (1 - fx) * flat[index + cols] + fx * flat[index + cols + 1]
    out = np.floor((1 - fy) * upper + fy * lower)
    out[~inside] = 0
    return np.clip(out, 0, 255).astype(np.uint8)


def test_warp_equals_the_plain_bilinear_bit_for_bit(astronaut: Path) -> None:
    from faceprint.images import load_image

    real = load_image(astronaut)
    rng = np.random.default_rng(0)
    flat = np.where(rng.random((90, 70, 1)) < 0.7, 128, rng.integers(0, 256, (90, 70, 3))).astype(np.uint8)
    for case in range(300):
        image = real if case % 2 else flat  # real pixels, and flat areas where rounding bites
        if case % 3 == 0:
            image = image[..., :1]
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.3, 2.5)
        m = np.array([[scale * np.cos(angle), -scale * np.sin(angle), rng.uniform(-60, image.shape[1])],
                      [scale * np.sin(angle), scale * np.cos(angle), rng.uniform(-60, image.shape[0])]])
        size = (int(rng.integers(1, 160)), int(rng.integers(1, 160)))
        chip = warp(image, m, size)
        assert chip.flags.c_contiguous  # dlib's bindings refuse strided arrays
        assert np.array_equal(chip, _reference_warp(image, m, size)), case


def test_overlapped_batches_give_the_serial_vectors(lfw: Path) -> None:
    from faceprint.pipeline.batch import _embed_all_faces
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    files = sorted((lfw / "Tony_Blair").glob("*.jpg"))[:12] + [lfw / "no_such.jpg"]
    pipe = get_pipeline(PipelineConfig())
    serial = _embed_all_faces(pipe, files, 0, 5, overlap=False)
    overlapped = _embed_all_faces(pipe, files, 0, 5, overlap=True)  # batches of 5 faces: several in flight
    assert [r.source for r in overlapped] == [str(f) for f in files]
    assert overlapped[-1].error is not None
    for a, b in zip(serial, overlapped):
        assert len(a.faces) == len(b.faces) and a.sha256 == b.sha256
        for fa, fb in zip(a.faces, b.faces):
            assert np.array_equal(fa.vector, fb.vector)
            assert np.array_equal(fa.detection.landmarks, fb.detection.landmarks)


def test_helper_thread_session_gives_the_same_descriptors(lfw: Path) -> None:
    import threading

    from faceprint.api import align
    from faceprint.models.dlib_resnet import DlibResNet, networks_use_threads

    chips = np.stack([c.image for c in align(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg")])
    network = DlibResNet()
    default = network(chips)
    out: list[np.ndarray] = []

    def helper() -> None:
        networks_use_threads(1)
        out.append(network(chips))

    thread = threading.Thread(target=helper)
    thread.start()
    thread.join()
    assert len(network.sessions._by_count) == 1  # the helper got its own session
    np.testing.assert_allclose(out[0], default, atol=1e-5)
    assert network.sessions.current() is network.session  # this thread still has the default


@pytest.mark.parametrize("size", [(1, 1), (1, 5)])
def test_warp_of_a_too_small_image_is_black(size: tuple[int, int]) -> None:
    image = np.full((*size, 3), 200, np.uint8)
    assert not warp(image, np.array([[1.0, 0, 0], [0, 1.0, 0]]), (4, 3)).any()
