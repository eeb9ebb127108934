"""The command line, run as a user runs it: help that teaches, JSON on stdout, drawn boxes, a folder
with bad files in it reported and skipped."""

from __future__ import annotations

import json
import shutil

from PIL import Image

from cli_helpers import run


def test_help_teaches():
    out = run("--help")
    assert out.returncode == 0
    for command in ("detect", "verify", "embed", "compare", "landmarks"):
        assert command in out.stdout
    assert "faceprint verify a.jpg b.jpg" in out.stdout


def test_detect_prints_faces_and_draws(astronaut, tmp_path):
    drawn = tmp_path / "boxes.jpg"
    out = run("detect", astronaut, "--draw", drawn)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["faces"]) == 1 and len(doc["faces"][0]["landmarks"]) == 5
    assert Image.open(drawn).size == (512, 512)


def test_detect_folder_skips_bad_files_and_reports_them(astronaut, tmp_path):
    shutil.copy(astronaut, tmp_path / "a.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.new("RGB", (120, 90), "white").save(tmp_path / "blank.png")
    out = run("detect", tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    faces = {r["image"].split("/")[-1]: len(r["faces"]) for r in doc["images"]}
    assert faces == {"a.png": 1, "blank.png": 0}
    assert [e["image"].split("/")[-1] for e in doc["errors"]] == ["broken.jpg"]
    assert "broken.jpg" in out.stderr and "Traceback" not in out.stderr


def test_verify_same_person(lfw):
    out = run("verify", lfw / "Tony_Blair" / "Tony_Blair_0001.jpg", lfw / "Tony_Blair" / "Tony_Blair_0002.jpg")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["same"] is True and doc["distance"] < doc["threshold"]


def test_embed_and_compare(astronaut, lfw, tmp_path):
    npz = tmp_path / "v.npz"
    out = run("embed", astronaut, "-o", npz)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["embeddings"][0]["vector"]) == 128
    import numpy as np

    assert np.load(npz)["vectors"].shape == (1, 128)
    folder = lfw / "Jennifer_Capriati"
    out = run("compare", folder / "Jennifer_Capriati_0001.jpg", folder / "Jennifer_Capriati_0002.jpg", astronaut)
    rows = json.loads(out.stdout)["results"]
    assert [r["same"] for r in rows] == [True, False]


def test_landmarks_68(astronaut):
    out = run("landmarks", astronaut)
    assert len(json.loads(out.stdout)["faces"][0]["landmarks68"]) == 68
