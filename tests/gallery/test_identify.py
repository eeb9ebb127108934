"""Identification through the gallery: thresholds at an FPIR, the same figures as in memory, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from faceprint import Gallery, thresholds
from faceprint.cli.main import app
from faceprint.fit import identification as ident

PEOPLE = ["Ariel_Sharon", "Colin_Powell", "Donald_Rumsfeld", "Gerhard_Schroeder", "Hugo_Chavez", "Jean_Chretien",
          "John_Ashcroft", "Junichiro_Koizumi", "Tony_Blair", "Serena_Williams"]


def test_default_threshold_tightens_with_gallery_size() -> None:
    sizes = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    values = [thresholds.identification_threshold("dlib", n) for n in sizes]
    assert all(a > b for a, b in zip(values, values[1:])), values
    assert thresholds.identification_threshold("dlib", 1000, fpir=0.1) > thresholds.identification_threshold("dlib", 1000, fpir=0.001)
    # N independent chances at p each: 1 - (1 - p)^N = fpir
    p = thresholds.per_pair_rate(1000, 0.01)
    assert abs((1 - (1 - p) ** 1000) - 0.01) < 1e-12
    entry = thresholds.describe_identification("dlib")
    assert entry is not None and "View 2" in entry["fitted_on"] and "never" in entry["fitted_on"]


def test_table_keeps_strangers_out_on_held_out_celebrities() -> None:
    """The fitted table's own check (CelebA, not the data it was fitted on): measured FPIR near target."""
    rows = thresholds.describe_identification("dlib")["check"]["rows"]
    assert rows
    for row in rows:
        assert row["measured_fpir"] <= 3 * row["target_fpir"] + 0.01, row


@pytest.fixture(scope="module")
def split_vectors(lfw: Path):
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import Pipeline, PipelineConfig

    pipe = Pipeline(PipelineConfig())
    items = [(p, n) for n in PEOPLE for p in sorted((lfw / n).glob("*.jpg"))[:4]]
    vectors, _ = embed_paths(pipe, [p for p, _ in items], cache=EmbeddingCache(pipe))
    kept = [(vectors[p], n) for p, n in items if vectors.get(p) is not None]
    return pipe, np.stack([v for v, _ in kept]), [n for _, n in kept]


def test_eval_ident_through_gallery_equals_in_memory(split_vectors, tmp_path: Path) -> None:
    from faceprint.eval.identification import identification_metrics
    from faceprint.eval.through_gallery import gallery_split_metrics

    pipe, vectors, labels = split_vectors
    strangers = set(PEOPLE[-3:])
    first = {}
    g_idx, k_idx, u_idx = [], [], []
    for i, n in enumerate(labels):
        if n in strangers:
            u_idx.append(i)
        elif first.setdefault(n, i) == i or len([j for j in g_idx if labels[j] == n]) < 2:
            g_idx.append(i)
        else:
            k_idx.append(i)
    args = (vectors[g_idx], [labels[i] for i in g_idx], vectors[k_idx], [labels[i] for i in k_idx], vectors[u_idx], 0.1)
    memory = identification_metrics(*args)
    through = gallery_split_metrics(tmp_path / "eval.db", pipe, *args, in_memory=memory)
    assert through["same_as_in_memory"], (memory, through)
    for key in ("rank1", "rank5", "dir_at_fpir_0.1", "open_set_threshold", "cmc"):
        assert np.allclose(through[key], memory[key]), key
    assert 0.5 < memory["rank1"] <= 1.0


def test_calibrate_on_gallery_reports_dir_and_is_used(split_vectors, tmp_path: Path) -> None:
    pipe, vectors, labels = split_vectors
    names = np.array(labels)
    with Gallery(tmp_path / "cal.db") as g:
        enrol = [i for i, n in enumerate(labels) if n in PEOPLE[:7] and list(names[:i]).count(n) < 2]
        g.add_vectors([labels[i] for i in enrol], vectors[enrol], signature=pipe.signature())
        known = [i for i, n in enumerate(labels) if n in PEOPLE[:7] and i not in enrol]
        strangers = [i for i, n in enumerate(labels) if n not in PEOPLE[:7]]
        result = ident.calibrate_gallery(g, vectors[known], [labels[i] for i in known], vectors[strangers], fpir=0.05)
        assert result["strangers"] == len(strangers) + len(enrol)
        assert 0.0 < result["threshold"] < 1.0 and 0.0 <= result["dir"] <= 1.0
        assert result["threshold_ci95"][0] <= result["threshold"] <= result["threshold_ci95"][1]
        g.save_threshold({k: result[k] for k in ("threshold", "fpir", "dir")})
        assert g.threshold() == pytest.approx(result["threshold"])
        assert g.threshold(fpir=0.01) == pytest.approx(
            thresholds.identification_threshold("dlib", len(g), 0.01, subjects=len(g.subjects())))


@pytest.mark.slow
def test_cli_gallery_identify_calibrate(lfw: Path, tmp_path: Path, group_photo: np.ndarray) -> None:
    from PIL import Image

    people = tmp_path / "people"
    for n in ["Colin_Powell", "George_W_Bush", "Tony_Blair"]:
        (people / n).mkdir(parents=True)
        for p in sorted((lfw / n).glob("*.jpg"))[1:3]:
            (people / n / p.name).write_bytes(p.read_bytes())
    db = tmp_path / "team.db"
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> dict:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if code == 0 else {}

    assert run("gallery", "create", str(db))["faces"] == 0
    out = run("gallery", "enrol", str(people), "-g", str(db), "--no-progress")
    assert out["added"] == 6 and out["subjects"] == 3
    extra = sorted((lfw / "Serena_Williams").glob("*.jpg"))[1:3]
    assert run("gallery", "enrol", *map(str, extra), "--name", "Serena", "-g", str(db), "--no-progress")["added"] == 2
    listing = run("gallery", "list", "-g", str(db))
    assert [s["name"] for s in listing["subjects"]] == ["Colin_Powell", "George_W_Bush", "Serena", "Tony_Blair"]
    assert len(run("gallery", "show", "Serena", "-g", str(db))["face_records"]) == 2
    run("gallery", "rename", "Serena", "Serena_Williams", "-g", str(db))
    Image.fromarray(group_photo).save(tmp_path / "group.jpg")
    out = run("identify", str(tmp_path / "group.jpg"), "-g", str(db), "--draw", str(tmp_path / "named.jpg"))
    names = {f["name"] for f in out["results"][0]["faces"]}
    assert {"Colin_Powell", "George_W_Bush", "Serena_Williams", "Tony_Blair", "unknown"} <= names
    assert (tmp_path / "named.jpg").stat().st_size > 1000
    probes = tmp_path / "probes"
    probes.mkdir()
    for n in ["Colin_Powell", "Hugo_Chavez"]:
        p = sorted((lfw / n).glob("*.jpg"))[5]
        (probes / p.name).write_bytes(p.read_bytes())
    run("identify", str(probes), "-g", str(db), "-o", str(tmp_path / "names.csv"))
    rows = list(csv.DictReader(open(tmp_path / "names.csv")))
    assert {r["name"] for r in rows if "Colin" in r["image"]} >= {"Colin_Powell"}
    assert all(r["name"] == "unknown" for r in rows if "Hugo" in r["image"])
    cal_root = tmp_path / "cal"
    for n in ["Colin_Powell", "Hugo_Chavez", "Jean_Chretien"]:
        (cal_root / n).mkdir(parents=True)
        for p in sorted((lfw / n).glob("*.jpg"))[4:7]:
            (cal_root / n / p.name).write_bytes(p.read_bytes())
    cal = run("calibrate", str(cal_root), "-g", str(db), "--fpir", "0.1", "--save", "--workers", "1")
    assert cal["known_probes"] == 3 and cal["strangers_given"] == 6 and "saved_to" in cal
    assert run("identify", str(probes), "-g", str(db))["threshold_from"] == "calibrated on this gallery"
    assert run("gallery", "delete", "Tony_Blair", "-g", str(db))["faces_removed"] == 2
    run("gallery", "export", str(tmp_path / "team.npz"), "-g", str(db))
    assert run("gallery", "import", str(tmp_path / "team.npz"), "-g", str(tmp_path / "copy.db"))["imported"] == 6
    assert run("gallery", "check", "-g", str(tmp_path / "copy.db"))["ok"]
    run("gallery", "show", "Nobody", "-g", str(db), code=1)
    run("gallery", "list", "-g", str(tmp_path / "absent.db"), code=1)
