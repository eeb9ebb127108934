"""Verification on real people: LFW View 1 DevTest pairs (disjoint from the calibration pairs)."""

from __future__ import annotations

import numpy as np
import pytest

import faceprint
from faceprint import registry
from faceprint.errors import NoFace


def test_same_and_different_person(lfw):
    a = lfw / "Colin_Powell" / "Colin_Powell_0001.jpg"
    b = lfw / "Colin_Powell" / "Colin_Powell_0002.jpg"
    c = lfw / "Serena_Williams" / "Serena_Williams_0001.jpg"
    same = faceprint.verify(a, b)
    different = faceprint.verify(a, c)
    assert same.same and not different.same
    assert same.distance < same.threshold < different.distance
    cosine = faceprint.verify(a, b, metric="cosine")
    assert cosine.distance == pytest.approx(same.distance ** 2 / 2, abs=1e-6)


def test_embeddings_are_unit_vectors(astronaut):
    (emb,) = faceprint.embed(astronaut)
    assert emb.vector.shape == (128,)
    assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-5)
    plain = faceprint.embed(astronaut, flip=False)[0].vector
    jittered = faceprint.embed(astronaut, jitter=3)[0].vector
    assert 0 < np.linalg.norm(plain - emb.vector) < 0.2
    assert 0 < np.linalg.norm(jittered - emb.vector) < 0.2


def test_no_face_names_the_photo(tmp_path, astronaut):
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.new("RGB", (200, 200), (200, 200, 200)).save(blank)
    with pytest.raises(NoFace, match="wall.png"):
        faceprint.verify(astronaut, blank)


def test_group_photo_uses_face_nearest_centre(group_photo, lfw):
    top_row = group_photo[:250]  # Aaron Peirsol, Angelina Jolie, Colin Powell
    result = faceprint.verify(top_row, lfw / "Angelina_Jolie" / "Angelina_Jolie_0001.jpg")
    assert result.same and result.distance < 0.05  # the very same photo
    assert any("nearest the centre" in note for note in result.notes)


def test_threshold_calibrated_on_view1_only():
    spec = registry.embedder_spec("dlib")
    assert "pairsDevTrain" in spec.calibration["method"]
    assert 0.2 < spec.threshold < 0.8


@pytest.mark.slow
def test_devtest_accuracy_at_least_98_5(lfw):
    from faceprint.eval.protocols import read_lfw_pairs
    from faceprint.eval.verification import score_pairs
    from faceprint.pipeline.pipeline import get_pipeline, PipelineConfig

    pairs = read_lfw_pairs(lfw / "pairsDevTest.txt")
    sample = pairs[:300] + pairs[500:800]  # 300 matched + 300 mismatched
    pipeline = get_pipeline(PipelineConfig())
    scores = score_pairs(pipeline, sample, use_cache=False)
    threshold = registry.embedder_spec("dlib").threshold
    accuracy = np.mean((scores.distances <= threshold) == scores.same)
    assert len(sample) >= 500
    assert accuracy >= 0.985, f"DevTest accuracy {accuracy:.4f}"
