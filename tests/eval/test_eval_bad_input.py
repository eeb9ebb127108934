"""Evaluation inputs that cannot be right are one BadInput line: an FPIR outside (0, 1), a file that
is not an LFW pairs file, an identification split with impossible shares."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import BadInput


def test_identification_metrics_refuses_a_negative_fpir():
    from faceprint.eval.identification import identification_metrics

    rng = np.random.default_rng(0)
    gallery, known, unknown = rng.normal(size=(4, 8)), rng.normal(size=(2, 8)), rng.normal(size=(5, 8))
    for fpir in (-0.5, 2.0):  # a negative rate must not index the strangers from the end
        with pytest.raises(BadInput, match="fpir"):
            identification_metrics(gallery, ["a", "a", "b", "b"], known, ["a", "b"], unknown, fpir)


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
