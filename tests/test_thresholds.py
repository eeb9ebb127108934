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


@pytest.mark.parametrize("model", ["dlib", "mobilefacenet", "dlib+mobilefacenet"])
def test_each_person_counts_by_their_own_photos(model):
    from faceprint.thresholds import chances, describe_identification

    b = describe_identification(model)["faces_exponent"]
    assert 0.0 < b < 1.0  # fitted: several photos of a person give more than one chance, fewer than one each
    assert "LFW View 1" in describe_identification(model)["faces_exponent_fit"]["data"]
    assert chances(model, 5, [1, 1, 1, 1, 1]) == pytest.approx(5.0)
    assert chances(model, 100, [20] * 5) == pytest.approx(chances(model, 100, 5))  # even galleries: the same C
    # eight people with one photo and two with sixteen: fewer chances than an even spread of 40 over 10
    uneven = chances(model, 40, [1] * 8 + [16, 16])
    assert uneven == pytest.approx(8 + 2 * 16 ** b)
    assert 10 < uneven < chances(model, 40, 10) < 40
    assert chances(model, 3, [0, 3]) == pytest.approx(3 ** b)  # a subject with no face gives no chance
    import numpy as np

    assert chances(model, 100, 5.0) == chances(model, 100, np.int64(5)) == chances(model, 100, 5)  # a count
    assert chances(model, 10, 0) == chances(model, 10, []) == chances(model, 10) == 10.0  # no people known
    assert chances(model, 40, iter([1] * 8 + [16, 16])) == pytest.approx(uneven)
    loose = identification_threshold(model, 40, 0.01, [1] * 8 + [16, 16])
    assert loose > identification_threshold(model, 40, 0.01, 10) > identification_threshold(model, 40, 0.01)


def test_exponent_fit_finds_the_exponent_that_made_the_galleries():
    import numpy as np

    from statistics import NormalDist

    from faceprint.fit.ident_exponent import fit_exponent
    from faceprint.thresholds import IDENTIFICATION_TABLE, _fitted_entry, per_pair_rate, quantile

    norm = NormalDist()

    entry = _fitted_entry(IDENTIFICATION_TABLE, "dlib")
    rng = np.random.default_rng(3)
    galleries = []
    for counts in ([5] * 8, [1] * 20 + [10] * 3, [3] * 30, [1] * 40):
        counts = np.array(counts)
        t = quantile(entry, per_pair_rate(float(np.sum(counts ** 0.6)), 0.01))
        # strangers spread around the b = 0.6 threshold so that 1 % of them fall under it
        u = (np.arange(2000) + 0.5) / 2000
        best = t + 0.01 * (norm.inv_cdf(0.01) * -1 + np.array([norm.inv_cdf(x) for x in u])) + rng.uniform(0, 1e-6, 2000)
        galleries.append((counts, best))
    b, sweep = fit_exponent(entry, galleries, targets=(0.01,))
    assert b == pytest.approx(0.6, abs=0.051)
    assert len(sweep) == 21 and min(row["loss"] for row in sweep) == sweep[[r["b"] for r in sweep].index(b)]["loss"]


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
