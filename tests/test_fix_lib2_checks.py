"""Settings refused where they enter the library, before any work or any file: an FPIR out of
(0, 1) wherever a threshold comes from one, and a gallery's bad pipeline settings before its file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from faceprint.errors import BadInput, UnknownModel


# -- FPIR ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fpir", [0.0, 1.0, 5.0, -0.5, float("nan")])
def test_check_fpir_refuses_rates_outside_0_1(fpir):
    from faceprint.gallery.identify import check_fpir

    with pytest.raises(BadInput, match="FPIR"):
        check_fpir(fpir)


def test_check_fpir_passes_a_rate_through():
    from faceprint.gallery.identify import check_fpir

    assert check_fpir(0.01) == 0.01


@pytest.mark.parametrize("model", ["dlib", "mine.onnx"])
def test_default_threshold_refuses_a_bad_fpir_for_every_model(model):
    from faceprint.gallery.identify import default_threshold

    with pytest.raises(BadInput, match="FPIR"):  # a user's ONNX model once got 0.6 for any FPIR
        default_threshold(model, 10, 5.0)


def test_identification_metrics_refuses_a_negative_fpir():
    from faceprint.eval.identification import identification_metrics

    rng = np.random.default_rng(0)
    gallery, known, unknown = rng.normal(size=(4, 8)), rng.normal(size=(2, 8)), rng.normal(size=(5, 8))
    for fpir in (-0.5, 2.0):  # -0.5 once indexed the strangers from the end
        with pytest.raises(BadInput, match="fpir"):
            identification_metrics(gallery, ["a", "a", "b", "b"], known, ["a", "b"], unknown, fpir)


def test_calibrate_gallery_refuses_a_bad_fpir(tmp_path):
    from faceprint import Gallery
    from faceprint.gallery.identify import calibrate_gallery

    with Gallery(tmp_path / "g.db") as g:
        with pytest.raises(BadInput, match="FPIR"):  # once: threshold inf, kept by --save
            calibrate_gallery(g, np.zeros((0, 128)), [], np.ones((3, 128)) / np.sqrt(128), fpir=1.0)


def test_calibrate_folder_refuses_a_bad_fpir_before_embedding(tmp_path, lfw, monkeypatch):
    from faceprint import Gallery
    from faceprint.gallery import identify
    from faceprint.pipeline import batch

    root = tmp_path / "probes" / "Aaron_Peirsol"
    root.mkdir(parents=True)
    shutil.copy(lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", root)

    def embedded(*args, **kwargs):
        raise AssertionError("photos were embedded before the FPIR was checked")

    monkeypatch.setattr(batch, "embed_paths", embedded)
    with Gallery(tmp_path / "g.db") as g:
        with pytest.raises(BadInput, match="FPIR"):
            identify.calibrate_folder(g, tmp_path / "probes", fpir=5.0)


def test_gallery_threshold_refuses_a_bad_fpir_even_with_a_saved_threshold(tmp_path):
    from faceprint import Gallery

    with Gallery(tmp_path / "g.db") as g:
        g.save_threshold({"threshold": 0.4, "fpir": 0.01, "gallery_faces": 0})
        with pytest.raises(BadInput, match="FPIR"):
            g.threshold_and_source(-1.0)


# -- a gallery's settings, before its file ------------------------------------------------------------

@pytest.mark.parametrize("options, error", [
    ({"align_points": "7"}, BadInput),
    ({"nosuch": 1}, TypeError),
    ({"detector": "nosuch"}, UnknownModel),
    ({"model": "nosuch"}, UnknownModel),
    ({"model": "dlib", "align_points": "68", "detector": "nosuch"}, UnknownModel),
])
def test_a_refused_new_gallery_leaves_no_file(tmp_path, options, error):
    from faceprint import Gallery

    path = tmp_path / "new.db"
    with pytest.raises(error):
        Gallery(path, **options)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_gallery_refuses_an_unknown_detector_and_stays(tmp_path):
    from faceprint import Gallery

    path = tmp_path / "g.db"
    Gallery(path).close()
    before = path.read_bytes()
    with pytest.raises(UnknownModel):
        Gallery(path, detector="nosuch")
    assert path.read_bytes() == before


def test_pipeline_config_refuses_an_unknown_detector():
    from faceprint.pipeline.pipeline import PipelineConfig

    with pytest.raises(UnknownModel, match="detector"):
        PipelineConfig(detector="nosuch").resolved()
    with pytest.raises(UnknownModel, match="model"):
        PipelineConfig(model="nosuch", align_points="5").resolved()


# -- the metric, before any photo is embedded -----------------------------------------------------------

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


def test_match_functions_share_the_metric_rule():
    from faceprint.pipeline.match import check_metric, convert_threshold, distance

    assert check_metric("cosine") == "cosine"
    for bad in (lambda: check_metric("l1"), lambda: distance(np.ones(2), np.ones(2), "l1"),
                lambda: convert_threshold(0.5, "l1")):
        with pytest.raises(BadInput, match="euclidean or cosine, not 'l1'"):
            bad()


# -- FACEPRINT_MAX_PIXELS --------------------------------------------------------------------------------

def test_max_pixels_takes_python_digit_grouping_only(monkeypatch):
    from faceprint import settings

    monkeypatch.setenv("FACEPRINT_MAX_PIXELS", "1_000_000")
    assert settings.max_pixels() == 1_000_000
    for bad in ("_5", "5_", "1__0"):
        monkeypatch.setenv("FACEPRINT_MAX_PIXELS", bad)
        with pytest.raises(BadInput, match="FACEPRINT_MAX_PIXELS"):
            settings.max_pixels()
