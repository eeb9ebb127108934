"""A gallery refuses bad settings before its file is made or changed (an unknown detector or model,
a bad landmark count, an unknown option), and a bad FPIR before any threshold is read or any photo
embedded, even when a calibrated threshold is saved."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from faceprint import Gallery
from faceprint.errors import BadInput, UnknownModel


# -- a gallery's settings, before its file ------------------------------------------------------------

@pytest.mark.parametrize("options, error", [
    ({"align_points": "7"}, BadInput),
    ({"nosuch": 1}, TypeError),
    ({"detector": "nosuch"}, UnknownModel),
    ({"model": "nosuch"}, UnknownModel),
    ({"model": "dlib", "align_points": "68", "detector": "nosuch"}, UnknownModel),
])
def test_a_refused_new_gallery_leaves_no_file(tmp_path, options, error):
    path = tmp_path / "new.db"
    with pytest.raises(error):
        Gallery(path, **options)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_gallery_with_an_unknown_model_or_detector_is_not_created(tmp_path):
    for options in ({"model": "nosuch"}, {"detector": "nosuch"}):
        with pytest.raises(UnknownModel):
            Gallery(tmp_path / "g.db", **options)
        assert not (tmp_path / "g.db").exists()  # no empty gallery left behind that could never enrol


def test_an_existing_gallery_refuses_an_unknown_detector_and_stays(tmp_path):
    path = tmp_path / "g.db"
    Gallery(path).close()
    before = path.read_bytes()
    with pytest.raises(UnknownModel):
        Gallery(path, detector="nosuch")
    assert path.read_bytes() == before


# -- FPIR ---------------------------------------------------------------------------------------------

def test_fpir_zero_is_refused_not_replaced_by_the_default(tmp_path):
    with Gallery(tmp_path / "g.db") as gallery:
        assert "FPIR 0.001" in gallery.threshold_and_source(0.001)[1]
        for bad in (0.0, 1.0, 2.0, -0.1):
            with pytest.raises(BadInput, match="FPIR"):
                gallery.threshold_and_source(bad)


def test_gallery_threshold_refuses_a_bad_fpir_even_with_a_saved_threshold(tmp_path):
    with Gallery(tmp_path / "g.db") as g:
        g.save_threshold({"threshold": 0.4, "fpir": 0.01, "gallery_faces": 0})
        with pytest.raises(BadInput, match="FPIR"):
            g.threshold_and_source(-1.0)


def test_calibrate_gallery_refuses_a_bad_fpir(tmp_path):
    from faceprint.fit.identification import calibrate_gallery

    with Gallery(tmp_path / "g.db") as g:
        with pytest.raises(BadInput, match="FPIR"):  # a threshold of inf must never be computed, nor kept by --save
            calibrate_gallery(g, np.zeros((0, 128)), [], np.ones((3, 128)) / np.sqrt(128), fpir=1.0)


def test_calibrate_folder_refuses_a_bad_fpir_before_embedding(tmp_path, lfw, monkeypatch):
    from faceprint.fit.identification import calibrate_folder
    from faceprint.pipeline import batch

    root = tmp_path / "probes" / "Aaron_Peirsol"
    root.mkdir(parents=True)
    shutil.copy(lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", root)

    def embedded(*args, **kwargs):
        raise AssertionError("photos were embedded before the FPIR was checked")

    monkeypatch.setattr(batch, "embed_paths", embedded)
    with Gallery(tmp_path / "g.db") as g:
        with pytest.raises(BadInput, match="FPIR"):
            calibrate_folder(g, tmp_path / "probes", fpir=5.0)
