"""``gallery import`` of an export someone else wrote: the pipeline settings it carries are checked
as the CLI's options are, before a new gallery is made with them (a jitter of 100000 would run
100001 network passes on every photo the gallery enrols)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import BadInput


def cli(*args: str, code: int = 0) -> str:
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    return result.output


def forged_export(tmp_path: Path, **changes) -> Path:
    """An export of an empty dlib gallery whose pipeline settings are changed as given, with the
    signature those settings give (so that, once a gallery takes them, the import goes through)."""
    from dataclasses import fields

    from faceprint.gallery import Gallery
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    with Gallery(tmp_path / "source.db", create=True) as g:
        path = g.export(tmp_path / "source.npz")
    with np.load(path) as data:
        header = json.loads(bytes(data["header"]).decode())
        vectors = data["vectors"]
    header["pipeline"].update(changes)
    try:
        known = {f.name for f in fields(PipelineConfig)} - {"model"}
        settings = {k: v for k, v in header["pipeline"].items() if k in known}
        header["signature"] = Pipeline(PipelineConfig(model=header["pipeline"]["model"], **settings)).signature()
    except Exception:  # settings no pipeline takes: the signature stays as it was
        pass
    forged = tmp_path / "forged.npz"
    with open(forged, "wb") as fh:
        np.savez_compressed(fh, header=np.frombuffer(json.dumps(header).encode(), np.uint8), vectors=vectors)
    return forged


@pytest.mark.parametrize("setting, value", [
    ("jitter", 100000), ("upsample", 6), ("jitter", -1), ("upsample", 1.5), ("flip", "yes"), ("jitter", True),
    ("min_face_size", -3.0), ("min_face_size", 1e12), ("max_faces", 0), ("score_threshold", 7.5),
    ("fallback_score", 2.0), ("landmark_box", "elsewhere"), ("averaged_landmarks", 1),
    ("model", "/opt/models/someone-elses.onnx"), ("model", ["dlib"]), ("detector", "../hog"),
])
def test_an_import_refuses_settings_out_of_range_before_making_the_gallery(tmp_path, setting, value):
    forged = forged_export(tmp_path, **{setting: value})
    target = tmp_path / "new.db"
    output = cli("gallery", "import", str(forged), "-g", str(target), code=1)
    assert f"pipeline setting {setting}=" in output and "not allowed" in output, output
    assert len(output.strip().splitlines()) == 1, output
    assert not target.exists()


def test_an_export_of_safe_settings_still_makes_its_gallery(tmp_path):
    from faceprint.gallery import Gallery

    forged = forged_export(tmp_path, jitter=2, flip=False, upsample=1, max_faces=4, min_face_size=20.0,
                           removed_setting="ignored")
    target = tmp_path / "new.db"
    cli("gallery", "import", str(forged), "-g", str(target))
    with Gallery(target) as g:
        assert (g.config.jitter, g.config.flip, g.config.upsample, g.config.max_faces) == (2, False, 1, 4)


def test_the_rules_themselves():
    from faceprint.gallery.pipeline_settings import MAX_JITTER, check_options

    good = {"jitter": np.int64(3), "upsample": None, "score_threshold": 0.5, "fallback_score": None, "flip": True,
            "align_points": "68", "landmark_box": "pose", "min_face_size": 0}
    assert check_options(good) == good
    assert check_options({"detector": "hog", "score_threshold": -0.5})["score_threshold"] == -0.5
    for bad in [{"jitter": MAX_JITTER + 1}, {"score_threshold": math.nan}, {"score_threshold": 1.5},
                {"upsample": "2"}, {"pose_fusion": None}, {"align_points": "7"}, {"jitter": None}]:
        with pytest.raises(BadInput, match="pipeline setting"):
            check_options(bad)


def test_a_new_gallery_is_held_to_the_same_rules(tmp_path):
    from faceprint.gallery import Gallery

    with pytest.raises(BadInput, match="jitter"):
        Gallery(tmp_path / "g.db", create=True, jitter=100000)
    assert not (tmp_path / "g.db").exists()
    output = cli("gallery", "create", str(tmp_path / "h.db"), "--jitter", "5000", code=1)
    assert "pipeline setting jitter=5000" in output
