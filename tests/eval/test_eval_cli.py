"""Evaluation commands end to end on small real subsets (LFW, five_celebrity, ORL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "faceprint.cli.main"]


def run(tmp_path, *args):
    env = dict(os.environ, FACEPRINT_HOME=str(tmp_path / "home"))
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def pair_csv(lfw, tmp_path_factory):
    from faceprint.eval.protocols import read_lfw_pairs

    pairs = read_lfw_pairs(lfw / "pairsDevTest.txt")
    sample = pairs[:30] + pairs[500:530]
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    rows = ["img1,img2,same"] + [f"{p.first.relative_to(lfw)},{p.second.relative_to(lfw)},{int(p.same)}"
                                 for p in sample]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_eval_pairs_report(tmp_path, lfw, pair_csv):
    report = tmp_path / "report"
    out = run(tmp_path, "eval", "pairs", pair_csv, "--root", lfw, "--report", report, "--workers", "1",
              "--compare", "flip", "--compare", "mirror")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc["runs"]) == {"dlib", "dlib-no-flip", "dlib+flipped-chip"}
    flip = doc["runs"]["dlib"]
    assert flip["pairs"] == 60 and flip["matched_pairs"] == 30 and flip["folds"] == 10
    assert 0.9 <= flip["accuracy_mean"] <= 1.0 and 0.95 <= flip["roc_auc"] <= 1.0
    assert len(flip["fold_thresholds"]) == 10 and all(0.2 < t < 0.8 for t in flip["fold_thresholds"])
    assert [c["b"] for c in doc["comparisons"]] == ["dlib-no-flip", "dlib+flipped-chip"]
    for name in ("report.md", "metrics.json", "roc.png", "det.png", "distances.png"):
        assert (report / name).stat().st_size > 0, name
    assert "accuracy" in (report / "report.md").read_text()
    # the embeddings were cached by content; a second run reads them back and agrees
    cached = list((tmp_path / "home" / "cache" / "embeddings").glob("dlib-*.npz"))
    assert len(cached) == 3  # one per configuration: default, no flip, flipped chip
    import numpy as np

    assert len(np.load(cached[0])["keys"]) == len({p for line in pair_csv.read_text().splitlines()[1:]
                                                     for p in line.split(",")[:2]})
    again = run(tmp_path, "eval", "pairs", pair_csv, "--root", lfw, "--workers", "1")
    assert json.loads(again.stdout)["runs"]["dlib"]["accuracy_mean"] == flip["accuracy_mean"]


def test_eval_ident_five_celebrity(tmp_path, data_dir):
    report = tmp_path / "ident"
    out = run(tmp_path, "eval", "ident", data_dir / "five_celebrity" / "train", "--unknown", "0.2",
              "--report", report, "--workers", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["identities"] == 4 and doc["rank1"] >= 0.9 and doc["rank5"] == 1.0
    assert 0.0 <= doc["dir_at_fpir_0.01"] <= doc["rank1"]
    assert (report / "cmc.png").exists()


def test_calibrate_and_save(tmp_path, data_dir):
    out = run(tmp_path, "calibrate", data_dir / "five_celebrity" / "val", "--far", "1e-2", "--save",
              "--workers", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["genuine_pairs"] > 0 and doc["impostor_pairs"] > doc["genuine_pairs"]
    assert 0.2 < doc["threshold"] < 1.0 and 0.5 <= doc["tar"] <= 1.0
    saved = json.loads((tmp_path / "home" / "thresholds.json").read_text())
    assert saved["dlib"]["threshold"] == doc["threshold"]


def test_bench_command(tmp_path, lfw):
    out = run(tmp_path, "bench", lfw / "Tony_Blair", "-n", "8")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["images"] == 8 and doc["faces_embedded"] == 8 and doc["images_per_second"] > 0
    assert set(doc["ms_per_image"]) == {"decode", "detect", "landmarks+align", "embed"}


def test_pairs_without_folds_are_dealt_into_ten_mixed_folds(lfw, pair_csv):
    """View 1 files and CSVs carry no folds: each of the ten must hold both kinds of pair, or a
    fold would be scored with a threshold fitted on itself (one fold) or on one class only."""
    from collections import Counter

    from faceprint.eval.protocols import read_csv_pairs, read_lfw_pairs

    view1 = read_lfw_pairs(lfw / "pairsDevTest.txt")
    assert Counter((p.fold, p.same) for p in view1) == {(f, s): 50 for f in range(10) for s in (True, False)}
    csv_pairs = read_csv_pairs(pair_csv)  # 30 matched rows, then 30 mismatched
    assert Counter((p.fold, p.same) for p in csv_pairs) == {(f, s): 3 for f in range(10) for s in (True, False)}
    assert len({p.fold for p in read_lfw_pairs(lfw / "pairs.txt")}) == 10  # View 2 keeps its own


def test_csv_fold_column(tmp_path):
    from faceprint.errors import BadInput
    from faceprint.eval.protocols import read_csv_pairs

    path = tmp_path / "pairs.csv"
    path.write_text("img1,img2,same,fold\n" + "".join(f"a{i}.jpg,b{i}.jpg,{i % 2},{1 + i // 4}\n" for i in range(8)))
    pairs = read_csv_pairs(path, folds=10)
    assert [p.fold for p in pairs] == [1, 1, 1, 1, 2, 2, 2, 2]  # as given, not dealt into 10
    assert pairs[0].first == tmp_path / "a0.jpg" and pairs[1].same
    path.write_text("a.jpg,b.jpg,1,1\nc.jpg,d.jpg,0\n")
    with pytest.raises(BadInput, match="fold column"):
        read_csv_pairs(path)
    path.write_text("a.jpg,b.jpg,1,x\n")
    with pytest.raises(BadInput, match="integer"):
        read_csv_pairs(path)
    path.write_text("a.jpg,b.jpg,1,3\nc.jpg,d.jpg,0,3\n")
    with pytest.raises(BadInput, match="two folds"):
        read_csv_pairs(path)


def test_eval_cfp_keeps_its_folds(tmp_path, data_dir):
    """`eval cfp` on a small CFP-like folder: each protocol is scored on the CSV's own folds."""
    import csv
    import shutil

    source = data_dir / "cfp_dev"
    if not (source / "pairs_fp.csv").is_file():
        pytest.skip("cfp_dev not found in the shared data")
    root = tmp_path / "cfp"
    for protocol in ("fp", "ff"):
        with open(source / f"pairs_{protocol}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        # 4 matched + 4 mismatched pairs from each of the three folds
        keep = [r for fold in ("1", "2", "3") for same in ("1", "0")
                for r in [x for x in rows if x["fold"] == fold and x["same"] == same][:4]]
        for r in keep:
            for key in ("img1", "img2"):
                (root / r[key]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / r[key], root / r[key])
        with open(root / f"pairs_{protocol}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, ["img1", "img2", "same", "fold"])
            writer.writeheader()
            writer.writerows(keep)
    out = run(tmp_path, "eval", "cfp", "--cfp", root, "--workers", "1", "--report", tmp_path / "report")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc["protocols"]) == {"fp", "ff"}
    for protocol in ("fp", "ff"):
        result = doc["protocols"][protocol]["runs"]["dlib"]
        assert result["pairs"] == 24 and result["matched_pairs"] == 12 and result["folds"] == 3
        assert len(result["fold_accuracies"]) == 3
        assert (tmp_path / "report" / protocol / "report.md").stat().st_size > 0
    assert doc["protocols"]["ff"]["runs"]["dlib"]["roc_auc"] >= 0.9  # frontal pairs are easy
    bad = run(tmp_path, "eval", "cfp", "--cfp", tmp_path / "nowhere")
    assert bad.returncode == 1 and "CFP not found" in bad.stderr
