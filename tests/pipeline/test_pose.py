"""Faces at any angle: the yaw estimate, the per-face landmark box and pose-weighted fusion."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import BadInput
from faceprint.pipeline.detect import PROFILE_YAW, detect_faces, estimate_yaw, keypoint_box

# YuNet keypoint order: image-left eye, image-right eye, nose tip, image-left and image-right mouth corner
FRONTAL = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]])


def test_estimate_yaw_on_points():
    assert estimate_yaw(FRONTAL) == pytest.approx(0.0, abs=1e-9)
    turned = FRONTAL.copy()
    turned[2, 0] += 20.0  # nose one half eye distance to the image's right: tan(yaw) ~ 1
    assert estimate_yaw(turned) == pytest.approx(1 / np.sqrt(2), abs=1e-9)
    mirrored = turned.copy()
    mirrored[:, 0] = 120.0 - mirrored[:, 0]
    mirrored = mirrored[[1, 0, 2, 4, 3]]
    assert estimate_yaw(mirrored) == pytest.approx(-estimate_yaw(turned), abs=1e-9)
    # a roll of the whole face does not change it
    angle = np.radians(25.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert estimate_yaw(turned @ rotation.T) == pytest.approx(estimate_yaw(turned), abs=1e-9)
    assert -1.0 < estimate_yaw(np.array([[50.0, 50], [52, 50], [90, 60], [60, 80], [62, 80]])) <= 1.0
    # dlib's 5 points: outer/inner corner of the image-right eye, then of the image-left eye, nose base
    dlib5 = np.array([[85.0, 50.0], [75.0, 50.0], [35.0, 50.0], [45.0, 50.0], [80.0, 72.0]])
    assert estimate_yaw(dlib5, "dlib5") == pytest.approx(estimate_yaw(turned), abs=1e-9)
    with pytest.raises(BadInput):
        estimate_yaw(FRONTAL, "68")


def test_keypoint_box_follows_the_keypoints():
    left, top, right, bottom = keypoint_box(FRONTAL)
    # eyes' midpoint (60, 50), mouth's (60, 90): eye-mouth length 40
    assert (left + right) / 2 == pytest.approx(60.0, abs=0.5)
    assert (top + bottom) / 2 == pytest.approx(50.0 + 0.4943 * 40, abs=1e-6)
    assert right - left == pytest.approx(bottom - top) == pytest.approx(2.3857 * 40)
    moved = keypoint_box(FRONTAL * 2.0 + np.array([10.0, -5.0]))  # scaled and shifted with the face
    assert np.allclose(moved, np.array([left, top, right, bottom]) * 2.0 + [10, -5, 10, -5])


@pytest.fixture(scope="module")
def cfp_faces(data_dir):
    """A frontal and a profile photo of one CFP person, with YuNet's raw faces."""
    from faceprint import registry
    from faceprint.images import load_image

    root = data_dir / "cfp_dev"
    if not (root / "001").is_dir():
        pytest.skip("cfp_dev not found in the shared data")
    detector = registry.create_detector(registry.default_detector())
    out = {}
    for kind, name in (("frontal", "001/frontal/01.jpg"), ("profile", "001/profile/01.jpg")):
        image = load_image(root / name)
        out[kind] = (image, detector(image))
    return out


def test_yaw_separates_frontal_from_profile_and_picks_the_box(cfp_faces):
    for kind, (image, raw) in cfp_faces.items():
        assert raw, kind
        runs = {box: detect_faces(image, lambda _: raw[:1], "yunet", landmark_box=box, averaged_landmarks=False)[0]
                for box in ("pose", "keypoints", "dlib_like", "detector")}
        yaw = runs["pose"].yaw
        assert yaw is not None and all(d.yaw == yaw for d in runs.values())
        assert runs["pose"].to_dict()["yaw"] == round(yaw, 3)
        # the boxes really give different landmarks on these faces
        assert not np.array_equal(runs["keypoints"].landmarks, runs["detector"].landmarks)
        assert not np.array_equal(runs["dlib_like"].landmarks, runs["keypoints"].landmarks)
        if kind == "frontal":
            assert abs(yaw) < PROFILE_YAW
            assert np.array_equal(runs["pose"].landmarks, runs["keypoints"].landmarks)
        else:
            assert abs(yaw) > PROFILE_YAW
            assert np.array_equal(runs["pose"].landmarks, runs["detector"].landmarks)
    with pytest.raises(BadInput):
        detect_faces(image, lambda _: raw[:1], "yunet", landmark_box="middle")


def test_hog_faces_get_a_yaw_from_dlib_landmarks(astronaut):
    from faceprint import registry
    from faceprint.images import load_image

    image = load_image(astronaut)
    found = detect_faces(image, registry.create_detector("hog"), "hog", averaged_landmarks=False)
    assert found and found[0].keypoints is None
    assert found[0].yaw == pytest.approx(estimate_yaw(found[0].landmarks, "dlib5"))
    assert abs(found[0].yaw) < PROFILE_YAW  # the astronaut looks at the camera


def test_pose_weighted_fusion(cfp_faces):
    """A turned face carries the profile weights; two frontal faces compare as without them."""
    from faceprint import registry
    from faceprint.pipeline.embed import ChipEmbedder, FusedEmbedder

    network = registry.create_embedder("dlib")
    members = [ChipEmbedder(network, "dlib150"), ChipEmbedder(network, "dlib150", flip=False)]
    plain = FusedEmbedder(members, (3.0, 1.0))
    posed = FusedEmbedder(members, (3.0, 1.0), profile_weights=(1.0, 0.0), profile_yaw=PROFILE_YAW)
    faces = {kind: detect_faces(image, lambda _: raw[:1], "yunet", averaged_landmarks=False)[0]
             for kind, (image, raw) in cfp_faces.items()}
    assert posed.face_weights(faces["frontal"]) == pytest.approx([0.75, 0.25])
    assert posed.face_weights(faces["profile"]) == pytest.approx([1.0, 0.0])
    vectors = {}
    for kind, (image, _) in cfp_faces.items():
        prepared = [posed.prepare(image, faces[kind])]
        vectors[kind] = posed.embed_prepared(prepared)[0]
        assert np.linalg.norm(vectors[kind]) == pytest.approx(1.0, abs=1e-5)
        if kind == "frontal":
            assert np.allclose(vectors[kind], plain.embed_prepared([plain.prepare(image, faces[kind])])[0], atol=1e-6)
    # the profile face's vector is its first member's alone: the second member's part is zero
    profile_first = members[0].embed_prepared([members[0].prepare(cfp_faces["profile"][0], faces["profile"])])[0]
    assert np.allclose(vectors["profile"][:128], profile_first, atol=1e-6)
    assert np.allclose(vectors["profile"][128:], 0.0)
    # so a frontal-vs-profile cosine is sqrt(0.75 * 1) times the first member's cosine
    frontal_first = members[0].embed_prepared([members[0].prepare(cfp_faces["frontal"][0], faces["frontal"])])[0]
    assert float(vectors["frontal"] @ vectors["profile"]) == pytest.approx(
        np.sqrt(0.75) * float(frontal_first @ profile_first), abs=1e-5)


def test_keypoint_box_on_a_tight_crop(data_dir):
    """On a tightly cropped CFP photo YuNet's box runs from the hair to the neck; the HOG-like box
    reshaped from it starts at the eyes and dlib puts its eye points on the nose. The box placed by
    the keypoints puts them on YuNet's eyes."""
    from faceprint import registry
    from faceprint.images import load_image

    path = data_dir / "cfp_dev" / "047" / "frontal" / "06.jpg"
    if not path.is_file():
        pytest.skip("cfp_dev not found in the shared data")
    image = load_image(path)
    raw = registry.create_detector(registry.default_detector())(image)[:1]
    eyes = raw[0].points[[1, 0]]  # image-right eye, image-left eye (dlib's order)
    scale = float(np.hypot(*(eyes[0] - eyes[1])))
    for box, ok in (("keypoints", True), ("dlib_like", False)):
        points = detect_faces(image, lambda _: raw, "yunet", landmark_box=box, averaged_landmarks=False)[0].landmarks
        dlib_eyes = np.array([points[0:2].mean(0), points[2:4].mean(0)])
        error = float(np.max(np.hypot(*(dlib_eyes - eyes).T))) / scale
        assert (error < 0.2) == ok, (box, error)
