"""The face quality score on real faces: good faces above degraded ones, every path carries it,
and the vectors are the ones the pipeline makes without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceprint import quality

PERSON = "Serena_Williams"  # a sharp, frontal LFW portrait (yaw about 0)


@pytest.fixture(scope="module")
def pipe():
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    return get_pipeline(PipelineConfig())


@pytest.fixture(scope="module")
def frontal(lfw: Path) -> np.ndarray:
    from faceprint.images import load_image

    return load_image(lfw / PERSON / f"{PERSON}_0001.jpg")


def _scored(pipe, image: np.ndarray) -> tuple[float, float]:
    """(detection quality, full quality) of the face nearest the centre."""
    found, _ = pipe.find_faces(image, expect_face=True, one=True)
    assert found, "no face found"
    (embedding,) = pipe.embed(image, found)
    return found[0].quality, embedding.quality


def test_is_poor_treats_none_as_no_opinion():
    assert not quality.is_poor(None)
    assert quality.is_poor(0.1) and not quality.is_poor(0.9)
    assert quality.is_poor(0.5, floor=0.6) and not quality.is_poor(0.5, floor=0.4)
    assert 0.0 < quality.POOR_QUALITY < 1.0


def test_sharp_frontal_face_beats_blurred_small_and_profile(pipe, frontal, data_dir):
    import cv2

    from faceprint.images import load_image

    good = _scored(pipe, frontal)
    blurred = _scored(pipe, cv2.GaussianBlur(frontal, (0, 0), 3.0))
    height, width = frontal.shape[:2]
    small = _scored(pipe, cv2.resize(cv2.resize(frontal, (30 * width // height, 30), interpolation=cv2.INTER_AREA),
                                     (width, height), interpolation=cv2.INTER_LINEAR))  # 30 px, shown at full size
    tiny = _scored(pipe, cv2.copyMakeBorder(cv2.resize(frontal, (width // 4, height // 4), interpolation=cv2.INTER_AREA),
                                            96, 96, 96, 96, cv2.BORDER_REPLICATE))  # a small face in a larger photo
    profile_path = data_dir / "cfp_dev" / "001" / "profile" / "01.jpg"
    if not profile_path.is_file():
        pytest.skip("cfp_dev not found in the shared data")
    profile = _scored(pipe, load_image(profile_path))
    for label, worse in (("blurred", blurred), ("upscaled from 30 px", small), ("small", tiny),
                         ("profile", profile)):
        assert all(0.0 <= q <= 1.0 for q in worse), label
        assert worse[1] < good[1] - 0.1, f"{label}: {worse[1]:.3f} not below the sharp face's {good[1]:.3f}"
        assert worse[0] < good[0], f"{label}: detection quality {worse[0]:.3f} vs {good[0]:.3f}"
        print(f"{label}: {worse[0]:.3f} {worse[1]:.3f} (sharp frontal {good[0]:.3f} {good[1]:.3f})")
    assert not quality.is_poor(good[1])
    assert quality.is_poor(profile[1]) or quality.is_poor(blurred[1]) or quality.is_poor(tiny[1])


def test_weakest_cue_names_what_is_wrong(pipe, frontal):
    import cv2

    found, _ = pipe.find_faces(frontal, one=True)
    blurred = cv2.GaussianBlur(frontal, (0, 0), 4.0)
    cues = quality.detection_cues(found[0], blurred)
    assert quality.weakest_cue(cues, "dlib") == "blurred"
    turned = {**quality.detection_cues(found[0], frontal), "yaw": 0.9}
    assert quality.weakest_cue(turned, None) == "head turned"  # the detection cues alone
    assert quality.weakest_cue(turned, "dlib") == "head turned"  # named before the network's own cues
    assert quality.weakest_cue(quality.detection_cues(found[0], frontal), "dlib") is None  # nothing wrong


def test_vectors_unchanged_and_every_route_carries_quality(pipe, frontal, lfw):
    import faceprint
    from faceprint.pipeline.embed import embed_chips_signals, l2_normalise

    found, _ = pipe.find_faces(frontal, one=True)
    chips = pipe.prepare_chips(frontal, found)
    plain = pipe.embed_chips([chips])[0]
    (scored, scores), = pipe.embed_chips_scored([chips])
    assert np.array_equal(plain, scored) and len(scores) == 1

    # the network's signal comes from the same call: the same bytes as the vectors alone
    network = pipe.embedder.network
    chip, mirrored = chips[0].prepared
    vectors, signals = embed_chips_signals(network, chip[None], mirrored=mirrored[None])
    raw = network(np.stack([chip, mirrored])).astype(np.float64)
    expected = l2_normalise(l2_normalise(raw).sum(axis=0, keepdims=True)).astype(np.float32)
    assert np.array_equal(vectors, expected)
    assert signals[0, 0] == pytest.approx(np.linalg.norm(raw[0]))
    assert -1.0 <= signals[0, 1] <= 1.0

    path = lfw / PERSON / f"{PERSON}_0001.jpg"
    (facade,) = faceprint.embed(path)
    (batch,) = faceprint.embed_many([path])
    assert facade.quality == pytest.approx(scores[0]) and batch.faces[0].quality == pytest.approx(scores[0])
    assert np.array_equal(facade.vector, plain[0]) and np.array_equal(batch.faces[0].vector, plain[0])
    document = json.loads(json.dumps(facade.to_dict()))
    assert document["quality"] == pytest.approx(scores[0], abs=1e-3)
    assert 0.0 <= document["face"]["quality"] <= 1.0


def test_weights_file_names_every_model_cue():
    shipped = quality._weights()["models"]
    assert set(shipped["detection"]["cues"]) <= set(quality.DETECTION_CUES)
    for name, entry in shipped.items():
        assert len(entry["cues"]) == len(entry["weights"]) == len(entry["mean"]) == len(entry["scale"]), name
        assert set(entry["cues"]) <= set(quality.ALL_CUES) and set(entry["clip"]) == set(entry["cues"]), name
