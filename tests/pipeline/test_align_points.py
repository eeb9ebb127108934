"""Chips placed with dlib's 68 landmarks (``align_points="68"``), and what names a pipeline's vectors."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest

from faceprint import registry
from faceprint.errors import BadInput
from faceprint.pipeline.align import DLIB5_FROM_68, align_chip, arcface5_from_68, with_points_from_68
from faceprint.pipeline.pipeline import Pipeline, PipelineConfig
from faceprint.types import Box, Detection


def _points68() -> np.ndarray:
    p = np.zeros((68, 2))
    p[36:42] = [30.0, 40.0]  # image-left eye
    p[42:48] = [70.0, 42.0]  # image-right eye
    p[30] = [50.0, 60.0]
    p[33] = [50.0, 66.0]
    p[48], p[54] = [36.0, 80.0], [64.0, 81.0]
    p[36], p[39], p[42], p[45] = [24.0, 40.0], [36.0, 40.0], [64.0, 42.0], [76.0, 42.0]
    return p


def test_arcface_points_from_68_are_eye_centres_nose_tip_and_mouth_corners():
    p = _points68()
    five = arcface5_from_68(p)
    np.testing.assert_allclose(five[0], p[36:42].mean(0))
    np.testing.assert_allclose(five[1], p[42:48].mean(0))
    np.testing.assert_allclose(five[2:], [p[30], p[48], p[54]])
    # whichever way the 68 model labels a mirrored face, image-left comes first
    swapped = p.copy()
    swapped[36:42], swapped[42:48] = p[42:48], p[36:42]
    swapped[48], swapped[54] = p[54], p[48]
    np.testing.assert_allclose(arcface5_from_68(swapped), five)


def test_points_from_68_move_both_alignments():
    p = _points68()
    own5 = np.array([[77.0, 43.0], [65.0, 43.0], [23.0, 39.0], [37.0, 39.0], [51.0, 67.0]])
    detection = Detection(Box(0, 0, 100, 100), 0.9, own5, p, "yunet", keypoints=np.zeros((5, 2)), yaw=0.1)
    moved = with_points_from_68(detection)
    np.testing.assert_allclose(moved.landmarks, (own5 + p[DLIB5_FROM_68]) / 2.0)
    np.testing.assert_allclose(moved.keypoints, arcface5_from_68(p))
    assert moved.yaw == detection.yaw and moved.box == detection.box
    with pytest.raises(BadInput, match="68"):
        with_points_from_68(replace(detection, landmarks68=None))
    image = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(BadInput, match="5 or 68"):
        align_chip(image, detection, "dlib150", points="12")
    # a detector without keypoints (hog, cnn) can still give an ArcFace chip from the 68
    chip = align_chip(image, replace(detection, keypoints=None), "arcface112", points="68")
    assert chip.image.shape == (112, 112, 3)


def test_each_model_has_its_own_default_points():
    assert PipelineConfig(model="dlib").resolved().align_points == "5"
    assert PipelineConfig(model="dlib+mobilefacenet").resolved().align_points == "68"
    assert PipelineConfig(model="mobilefacenet").resolved().align_points == "68"
    assert PipelineConfig(model="dlib", align_points="68").resolved().align_points == "68"
    with pytest.raises(BadInput, match="align_points"):
        PipelineConfig(model="dlib", align_points="3").resolved()


def test_signatures_name_points_and_fusion_weights(monkeypatch, tmp_path):
    from faceprint.pipeline.cache import EmbeddingCache

    dlib5, dlib68 = Pipeline(PipelineConfig(model="dlib")), Pipeline(PipelineConfig(model="dlib", align_points="68"))
    assert dlib5.signature() != dlib68.signature()
    # upsampling moves YuNet's keypoints and so the vectors; a face-size filter does not
    assert Pipeline(PipelineConfig(model="dlib", upsample=1)).signature() != dlib5.signature()
    assert Pipeline(PipelineConfig(model="dlib", min_face_size=40)).signature() == dlib5.signature()
    fused = Pipeline(PipelineConfig(model="dlib+mobilefacenet"))
    before, cache_before = fused.signature(), EmbeddingCache(fused, tmp_path).path
    spec = registry.embedder_spec("dlib+mobilefacenet")
    monkeypatch.setitem(registry._EMBEDDERS, spec.name, replace(spec, fusion_weights=(1.0, 1.0)))
    refitted = Pipeline(PipelineConfig(model="dlib+mobilefacenet"))
    # re-fitted fusion weights make other vectors: neither a gallery nor the cache may mix them
    assert refitted.signature() != before
    assert EmbeddingCache(refitted, tmp_path).path != cache_before


def test_68_points_separate_frontal_from_profile_better(data_dir):
    """On CFP dev's first frontal-vs-profile pairs, dlib's same-person and different-person distances
    lie further apart with the 68 landmarks joining in (CFP-FP dev 85.76 -> 87.67 % in full)."""
    root = data_dir / "cfp_dev"
    if not (root / "pairs_fp.csv").exists():
        pytest.skip("cfp_dev not found in the shared data")
    from faceprint.images import load_image
    from faceprint.types import nearest_center

    rows = list(csv.DictReader((root / "pairs_fp.csv").open()))
    chosen = [r for r in rows if r["same"] == "1"][:12] + [r for r in rows if r["same"] == "0"][:12]

    def separation(points: str) -> float:
        pipe = Pipeline(PipelineConfig(model="dlib", align_points=points))
        vectors = {}
        for name in {r[k] for r in chosen for k in ("img1", "img2")}:
            image = load_image(root / name)
            found = pipe.detect(image, expect_face=True)
            vectors[name] = pipe.embed(image, [found[nearest_center(found, image.shape)]])[0].vector
        distance = {True: [], False: []}
        for r in chosen:
            distance[r["same"] == "1"].append(float(np.linalg.norm(vectors[r["img1"]] - vectors[r["img2"]])))
        return float(np.mean(distance[False]) - np.mean(distance[True]))

    assert separation("68") > separation("5") + 0.01


def test_eval_compare_points_runs_the_other_placement():
    from faceprint.cli.eval_cmd import _runs

    runs = dict(_runs(["dlib", "dlib+mobilefacenet"], None, ["points"], 0))
    assert runs["dlib+68-point-alignment"].align_points == "68"
    assert runs["dlib+mobilefacenet+5-point-alignment"].align_points == "5"
    assert runs["dlib"].align_points == "" and runs["dlib"].resolved().align_points == "5"


def test_embed_cli_align_points(astronaut):
    import json

    from typer.testing import CliRunner

    from faceprint.cli.main import app

    bad = CliRunner().invoke(app, ["embed", str(astronaut), "--align-points", "7"])
    assert bad.exit_code == 1 and "align_points must be one of 5, 68" in bad.output and "Traceback" not in bad.output
    runs = {points: CliRunner().invoke(app, ["embed", str(astronaut), "--align-points", points]) for points in ("5", "68")}
    assert all(r.exit_code == 0 for r in runs.values()), {k: r.output for k, r in runs.items()}
    vectors = {k: np.array(json.loads(r.stdout)["embeddings"][0]["vector"]) for k, r in runs.items()}
    assert 0.8 < float(vectors["5"] @ vectors["68"]) < 0.9999  # the same face, placed a little differently


def test_a_model_placed_by_68_points_warms_up():
    from faceprint.service.engine import Engine

    Pipeline(PipelineConfig(model="dlib", align_points="68")).warm()  # the stand-in face carries 68 points
    engine = Engine(PipelineConfig(model="dlib", align_points="68"))
    engine.warm()
    assert engine.ready
