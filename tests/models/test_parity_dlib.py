"""Our alignment and network against dlib itself (dlib-bin) on real LFW faces."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.images import load_image
from faceprint.models import weights
from faceprint.pipeline.align import dlib_chip
from faceprint.types import Box, Detection

dlib = pytest.importorskip("dlib")

PEOPLE = ["Aaron_Peirsol", "Angelina_Jolie", "Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair",
          "Gerhard_Schroeder", "Jennifer_Capriati", "Hugo_Chavez", "Ariel_Sharon", "Junichiro_Koizumi"]


@pytest.fixture(scope="module")
def faces(lfw):
    """(image, dlib shape) for 22 real LFW photos, found by dlib's own HOG + 5-point model."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(weights.locate(weights.DLIB_5_POINT)))
    out = []
    for name in PEOPLE:
        for i in (1, 2):
            image = load_image(lfw / name / f"{name}_{i:04d}.jpg")
            rects = detector(image, 1)
            if rects:
                out.append((image, predictor(image, rects[0])))
    assert len(out) >= 20
    return out


def test_alignment_equals_dlib_get_face_chip(faces):
    for image, shape in faces:
        points = np.array([[p.x, p.y] for p in shape.parts()], float)
        ours = dlib_chip(image, Detection(Box(0, 0, 1, 1), 1.0, points)).image
        theirs = dlib.get_face_chip(image, shape, size=150, padding=0.25)
        assert np.array_equal(ours, theirs)


def test_network_matches_dlib_within_1e4(faces):
    from faceprint.models.dlib_resnet import DlibResNet

    recogniser = dlib.face_recognition_model_v1(str(weights.locate(weights.DLIB_RESNET)))
    chips = np.stack([dlib.get_face_chip(img, shape, size=150, padding=0.25) for img, shape in faces])
    reference = np.array([recogniser.compute_face_descriptor(chip) for chip in chips])
    ours = DlibResNet()(chips)
    assert ours.shape == (len(faces), 128)
    assert np.abs(ours - reference).max() <= 1e-4
