"""Bad values given to the library (not only through the CLI) are one BadInput line, never a
ValueError/IndexError traceback or a silently replaced value."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint import settings
from faceprint.errors import BadInput


def test_a_bad_max_pixels_variable_says_what_to_set(monkeypatch):
    for bad in ("abc", "-5", "0", "1.5"):
        monkeypatch.setenv("FACEPRINT_MAX_PIXELS", bad)
        with pytest.raises(BadInput, match="FACEPRINT_MAX_PIXELS"):
            settings.max_pixels()
    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1_000_000")
    assert settings.max_pixels() == 1_000_000
    monkeypatch.delenv("FACEPRINT_MAX_PIXELS")
    assert settings.max_pixels() == settings.DEFAULT_MAX_PIXELS


def test_an_unknown_metric_is_bad_input():
    from faceprint.pipeline.match import convert_threshold, distance

    a = np.eye(1, 128, dtype=np.float32)[0]
    with pytest.raises(BadInput, match="euclidean or cosine"):
        distance(a, a, "manhattan")
    with pytest.raises(BadInput):
        convert_threshold(0.4, "manhattan")


def test_fpir_zero_is_refused_not_replaced_by_the_default(tmp_path):
    from faceprint.gallery import Gallery

    with Gallery(tmp_path / "g.db") as gallery:
        assert "FPIR 0.001" in gallery.threshold_and_source(0.001)[1]
        for bad in (0.0, 1.0, 2.0, -0.1):
            with pytest.raises(BadInput, match="FPIR"):
                gallery.threshold_and_source(bad)


def test_a_file_that_is_not_a_pairs_file_is_bad_input(tmp_path):
    from faceprint.eval.protocols import read_lfw_pairs

    for name, content in (("text.txt", "hello world\n"), ("empty.txt", ""), ("binary.txt", b"\xff\xfe\x00\x01")):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(BadInput, match="not an LFW pairs file"):
            read_lfw_pairs(path)
    (tmp_path / "words.txt").write_text("1\nAda one two\nAda 1 Bob 2\n")
    with pytest.raises(BadInput, match="line 2"):
        read_lfw_pairs(tmp_path / "words.txt")


def test_an_identification_split_with_bad_shares_is_bad_input(tmp_path):
    from faceprint.eval.identification import split

    people = {"a": [tmp_path / "a1.jpg", tmp_path / "a2.jpg"], "b": [tmp_path / "b1.jpg"]}
    for kwargs in ({"unknown_fraction": 1.0}, {"unknown_fraction": -0.5}, {"gallery_per_person": 0}):
        with pytest.raises(BadInput):
            split(people, **kwargs)
    assert len(split(people, unknown_fraction=0.0).gallery) == 2


def test_a_gallery_with_an_unknown_model_or_detector_is_not_created(tmp_path):
    from faceprint.errors import UnknownModel
    from faceprint.gallery import Gallery

    for options in ({"model": "nosuch"}, {"detector": "nosuch"}):
        with pytest.raises(UnknownModel):
            Gallery(tmp_path / "g.db", **options)
        assert not (tmp_path / "g.db").exists()  # no empty gallery left behind that could never enrol
