"""The distance metric is one rule (euclidean or cosine) shared by the match functions and the
facade, and an unknown one is refused as BadInput before any photo is embedded."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import BadInput


def test_match_functions_share_the_metric_rule():
    from faceprint.pipeline.match import check_metric, convert_threshold, distance

    assert check_metric("cosine") == "cosine"
    for bad in (lambda: check_metric("l1"), lambda: distance(np.ones(2), np.ones(2), "l1"),
                lambda: convert_threshold(0.5, "l1")):
        with pytest.raises(BadInput, match="euclidean or cosine, not 'l1'"):
            bad()


def test_an_unknown_metric_is_bad_input():
    from faceprint.pipeline.match import convert_threshold, distance

    a = np.eye(1, 128, dtype=np.float32)[0]
    with pytest.raises(BadInput, match="euclidean or cosine"):
        distance(a, a, "manhattan")
    with pytest.raises(BadInput):
        convert_threshold(0.4, "manhattan")


@pytest.mark.parametrize("call", ["verify", "compare"])
def test_api_refuses_an_unknown_metric_before_embedding(call, monkeypatch):
    from faceprint import api

    def embedded(*args, **kwargs):
        raise AssertionError("a photo was embedded before the metric was checked")

    monkeypatch.setattr(api, "embed_face", embedded)
    with pytest.raises(BadInput, match="euclidean or cosine"):
        if call == "verify":
            api.verify("a.jpg", "b.jpg", metric="manhattan")
        else:
            api.compare("a.jpg", ["b.jpg"], metric="manhattan")
