"""A pipeline's settings name a detector and a model that exist, or are refused when resolved."""

from __future__ import annotations

import pytest

from faceprint.errors import UnknownModel


def test_pipeline_config_refuses_an_unknown_detector():
    from faceprint.pipeline.pipeline import PipelineConfig

    with pytest.raises(UnknownModel, match="detector"):
        PipelineConfig(detector="nosuch").resolved()
    with pytest.raises(UnknownModel, match="model"):
        PipelineConfig(model="nosuch", align_points="5").resolved()
