"""Runtime thresholds refuse an FPIR outside (0, 1) wherever a threshold comes from one, for every
model, a user's own ONNX file included."""

from __future__ import annotations

import pytest

from faceprint.errors import BadInput
from faceprint.thresholds import check_fpir, identification_threshold


@pytest.mark.parametrize("fpir", [0.0, 1.0, 5.0, -0.5, float("nan")])
def test_check_fpir_refuses_rates_outside_0_1(fpir):
    with pytest.raises(BadInput, match="FPIR"):
        check_fpir(fpir)


def test_check_fpir_passes_a_rate_through():
    assert check_fpir(0.01) == 0.01


@pytest.mark.parametrize("model", ["dlib", "mine.onnx"])
def test_default_threshold_refuses_a_bad_fpir_for_every_model(model):
    with pytest.raises(BadInput, match="FPIR"):  # a model with no fitted curve must not fall back to 0.6
        identification_threshold(model, 10, 5.0)


@pytest.mark.parametrize("model", ["dlib", "mobilefacenet", "dlib+mobilefacenet"])
def test_several_photos_a_person_count_as_fewer_chances(model):
    from faceprint.thresholds import chances, describe_identification

    entry = describe_identification(model)
    b = entry["faces_exponent"]
    assert 0.0 <= b <= 1.0 and "View 2" in entry["faces_exponent_fit"]["data"]
    assert "CelebA" in entry["faces_exponent_fit"]["data"]
    assert chances(model, 500) == 500.0  # no people given: every face is a chance (the strictest)
    assert chances(model, 500, 500) == pytest.approx(500.0)
    assert 100.0 <= chances(model, 500, 100) <= 500.0
    assert chances(model, 500, 100) == pytest.approx(100 ** (1 - b) * 500 ** b)
    one_each = identification_threshold(model, 500, 0.01, subjects=500)
    five_each = identification_threshold(model, 500, 0.01, subjects=100)
    assert five_each >= one_each  # fewer chances: a looser threshold, never a stricter one
    assert one_each == pytest.approx(identification_threshold(model, 500, 0.01))


def test_training_galleries_never_enrol_a_stranger():
    import numpy as np

    from faceprint.fit.ident_exponent import draw_gallery

    labels = np.repeat([f"p{i}" for i in range(200)], 5)
    rng = np.random.default_rng(0)
    for enrol in ("1", "3", "all"):
        gallery, probes, strangers = draw_gallery(labels, 120, enrol, rng)
        assert len(gallery) == 120
        enrolled = set(labels[gallery])
        assert enrolled.isdisjoint(labels[strangers]) and set(labels[probes]) <= enrolled
        assert len(set(gallery) | set(probes) | set(strangers)) == len(gallery) + len(probes) + len(strangers)
    assert draw_gallery(labels, 990, "all", rng) is None  # too few strangers left
