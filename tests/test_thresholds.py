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
