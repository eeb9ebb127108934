"""Detection and landmarks on real photos."""

from __future__ import annotations

import numpy as np
import pytest

import faceprint
from faceprint.errors import BadInput


@pytest.mark.parametrize("detector", ["yunet", "hog"])
def test_astronaut_one_face_with_eyes_above_nose(astronaut, detector):
    faces = faceprint.detect(astronaut, detector=detector, score_threshold=0.5 if detector == "yunet" else 0.3)
    assert len(faces) == 1
    face = faces[0]
    assert 150 < face.box.center[0] < 290 and 50 < face.box.center[1] < 190
    eyes_y = face.landmarks[:4, 1].mean()
    assert eyes_y < face.landmarks[4, 1]  # nose below the eyes
    assert face.landmarks[0, 0] > face.landmarks[2, 0]  # dlib order: image-right eye first


def test_group_photo_finds_every_person(group_photo):
    faces = faceprint.detect(group_photo)
    assert len(faces) >= 6
    tiles = {(int(f.box.center[0] // 250), int(f.box.center[1] // 250)) for f in faces}
    assert tiles == {(c, r) for c in range(3) for r in range(2)}


def test_max_faces_and_min_size(group_photo):
    assert len(faceprint.detect(group_photo, max_faces=2)) == 2
    assert faceprint.detect(group_photo, min_face_size=400) == []


def test_68_landmarks(astronaut):
    face = faceprint.detect(astronaut, landmarks=68)[0]
    assert face.landmarks68.shape == (68, 2)
    jaw, nose_tip = face.landmarks68[8], face.landmarks68[30]
    assert jaw[1] > nose_tip[1]  # chin below the nose
    with pytest.raises(BadInput):
        faceprint.detect(astronaut, landmarks=12)


def test_no_face_is_an_empty_answer():
    sky = np.full((300, 400, 3), (120, 170, 230), np.uint8)
    assert faceprint.detect(sky) == []


def test_unknown_detector_names_choices(astronaut):
    from faceprint.errors import UnknownModel

    with pytest.raises(UnknownModel, match="yunet"):
        faceprint.detect(astronaut, detector="nope")


def test_aligned_chip_puts_eyes_in_place(astronaut):
    chip = faceprint.align(astronaut)[0]
    assert chip.image.shape == (150, 150, 3)
    facenet = faceprint.align(astronaut, kind="facenet160")[0]
    arcface = faceprint.align(astronaut, kind="arcface112")[0]
    assert facenet.image.shape == (160, 160, 3) and arcface.image.shape == (112, 112, 3)
    # re-detecting on the dlib chip finds the face centred, eyes in the upper half
    again = faceprint.detect(chip.image, score_threshold=0.3)
    assert again and abs(again[0].box.center[0] - 75) < 15
    assert again[0].landmarks[:4, 1].mean() < 75


def test_landmarks_are_averaged_over_perturbed_boxes_by_default(lfw):
    from faceprint.images import load_image
    from faceprint.models import landmarks
    from faceprint.pipeline.detect import keypoint_box
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    # dlib's points are whole pixels: on a 250 px LFW face the seven passes disagree a little
    image = load_image(lfw / "Serena_Williams" / "Serena_Williams_0001.jpg")
    averaged, single = Pipeline(PipelineConfig()), Pipeline(PipelineConfig(averaged_landmarks=False))
    (raw,) = averaged.detector(image)
    box = keypoint_box(raw.points)  # the default landmark box since rev3 (pipeline.detect.LANDMARK_BOXES)
    (face,) = averaged.detect(image, faces=[raw])
    (one_pass,) = single.detect(image, faces=[raw])
    np.testing.assert_allclose(face.landmarks, landmarks.predict_averaged(image, box))
    np.testing.assert_array_equal(one_pass.landmarks, landmarks.predict(image, box))
    gap = np.abs(face.landmarks - one_pass.landmarks).max()
    assert 0 < gap < 3.0  # a refinement of the same points, not other points


def test_mirrored_chip_is_the_mirrored_face_aligned_in_its_own_right(astronaut):
    """align_chip(mirror=True) cuts, from the image itself, the chip that aligning the mirrored
    image would give; for dlib's asymmetric template that is not the plain chip flipped."""
    from faceprint.images import load_image
    from faceprint.pipeline.align import align_chip
    from faceprint.types import Detection

    image = load_image(astronaut)
    (face,) = faceprint.detect(image, score_threshold=0.5)
    width = image.shape[1]
    dlib_points = face.landmarks[[2, 3, 0, 1, 4]] * [-1, 1] + [width - 1, 0]
    keypoints = face.keypoints[[1, 0, 2, 4, 3]] * [-1, 1] + [width - 1, 0]
    mirrored_face = Detection(face.box, face.score, dlib_points, keypoints=keypoints)
    mirrored_image = np.ascontiguousarray(image[:, ::-1])
    for kind in ("dlib150", "arcface112", "facenet160"):
        ours = align_chip(image, face, kind, mirror=True).image.astype(int)
        if kind == "facenet160":
            reference = align_chip(image, face, kind).image[:, ::-1].astype(int)
        else:
            reference = align_chip(mirrored_image, mirrored_face, kind).image.astype(int)
        # the same samples, summed in another order: at most a grey level where truncation tips
        assert np.abs(ours - reference).max() <= 1 and np.mean(ours != reference) < 0.01, kind
    flipped = align_chip(image, face, "dlib150").image[:, ::-1].astype(int)
    assert np.abs(align_chip(image, face, "dlib150", mirror=True).image - flipped).mean() > 2.0
