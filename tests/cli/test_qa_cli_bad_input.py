"""The CLI under bad input, as a careless user gives it: one-line errors (never a traceback), a
non-zero exit when nothing worked, bad options refused before the work, and no file left behind
or work lost when an argument is wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "faceprint.cli.main"]
UNWRITABLE = Path("/proc/faceprint-qa/out")  # no one, root included, may create files under /proc


def run(*args: object, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=environment)


def one_line_error(out: subprocess.CompletedProcess, *words: str) -> None:
    """Exit non-zero, no traceback, and an error that names the problem."""
    assert out.returncode != 0, out.stdout[:500]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    for word in words:
        assert word in out.stderr, out.stderr[-2000:]


@pytest.fixture()
def bad_files(tmp_path: Path) -> tuple[Path, Path]:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    return text, empty


@pytest.fixture(scope="session")
def face(lfw: Path) -> Path:
    return lfw / "AJ_Cook" / "AJ_Cook_0001.jpg"


@pytest.fixture(scope="session")
def people(lfw: Path, tmp_path_factory) -> Path:
    """Two people, two photos each."""
    root = tmp_path_factory.mktemp("people")
    for name in ("Aaron_Peirsol", "Abdullah"):
        (root / name).mkdir()
        for path in sorted((lfw / name).glob("*.jpg"))[:2]:
            shutil.copy(path, root / name / path.name)
    return root


@pytest.fixture(scope="session")
def gallery(people: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gallery") / "team.db"
    out = run("gallery", "enrol", people, "-g", path, "--no-progress")
    assert out.returncode == 0, out.stderr
    return path


# -- drawing: a name OpenCV cannot write ------------------------------------------------------------

def test_draw_to_a_name_opencv_cannot_write_is_one_line(face, tmp_path):
    out = run("detect", face, "--draw", tmp_path / "boxes.txt")
    one_line_error(out, "boxes.txt", ".jpg or .png")


def test_draw_for_several_images_onto_a_file_is_refused(face, astronaut, tmp_path):
    existing = tmp_path / "taken.jpg"
    existing.write_bytes(b"x")
    out = run("detect", face, astronaut, "--draw", existing)
    one_line_error(out, "give a folder")


# -- options out of range, refused before any work ----------------------------------------------------

CLICK = 2  # click refuses a value outside an option's min/max itself: usage error, exit 2
OURS = 1  # faceprint's own check (fail or BadInput): exit 1


@pytest.mark.parametrize("args, words, code", [
    (["verify", "{face}", "{face}", "--metric", "manhattan"], ["metric", "euclidean or cosine", "manhattan"], OURS),
    (["compare", "{face}", "{face}", "--metric", "manhattan"], ["metric", "euclidean or cosine", "manhattan"], OURS),
    (["detect", "{face}", "--upsample", "20"], ["--upsample"], CLICK),
    (["detect", "{face}", "--max-faces", "0"], ["--max-faces"], CLICK),
    (["embed", "{face}", "--jitter", "-1"], ["--jitter"], CLICK),
    (["verify", "{face}", "{face}", "--threshold", "-1"], ["--threshold"], CLICK),
    (["bench", "{face}", "-n", "-1"], ["--count"], CLICK),
    (["calibrate", "{people}", "--far", "2"], ["--far"], OURS),
    (["calibrate", "{people}", "--workers", "0"], ["--workers"], CLICK),
    (["calibrate", "{people}", "-g", "{gallery}", "--fpir", "5"], ["--fpir"], OURS),
    (["identify", "{face}", "-g", "{gallery}", "--fpir", "0"], ["--fpir"], OURS),
    (["identify", "{face}", "-g", "{gallery}", "--threshold", "-1"], ["--threshold"], CLICK),
    (["video", "{face}", "-g", "{gallery}", "--fpir", "0"], ["--fpir"], OURS),
    (["eval", "pairs", "{csv}", "--folds", "0"], ["--folds"], CLICK),
    (["eval", "ident", "{people}", "--unknown", "2"], ["unknown_fraction", "left out of the gallery"], OURS),
    (["eval", "ident", "{people}", "--fpir", "2"], ["--fpir"], OURS),
    (["eval", "ident", "{people}", "--gallery", "0"], ["--gallery"], CLICK),
    (["classify", "fit", "{people}", "--C", "0", "-o", "{tmp}/c.npz"], ["--C", "positive"], OURS),
    (["classify", "fit", "{people}", "--C", "-1", "-o", "{tmp}/c.npz"], ["--C", "positive"], OURS),
])
def test_out_of_range_options_are_refused_in_one_line(args, words, code, face, people, gallery, tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"{face},{face},1\n")
    values = {"face": face, "people": people, "gallery": gallery, "csv": csv, "tmp": tmp_path}
    out = run(*[a.format(**values) for a in args])
    one_line_error(out, *words)
    assert out.returncode == code, out.stderr[-2000:]
    assert "embedding" not in out.stderr  # refused before the work


# -- every input failed: exit 1, not 0 ------------------------------------------------------------------

@pytest.mark.parametrize("command", [["embed"], ["identify", "-g", "{gallery}"],
                                     ["classify", "predict", "-c", "{classifier}"]])
def test_every_photo_failing_exits_non_zero(command, bad_files, gallery, tmp_path, people):
    classifier = tmp_path / "c.npz"
    if "predict" in command:
        fitted = run("classify", "fit", people, "-o", classifier, "--workers", "1")
        assert fitted.returncode == 0, fitted.stderr
    args = [a.format(gallery=gallery, classifier=classifier) for a in command]
    out = run(*args, *bad_files)
    one_line_error(out, "not an image", "empty")
    assert len(json.loads(out.stdout)["errors"]) == 2  # the report still comes


def test_compare_with_nothing_to_compare_fails(face, bad_files, tmp_path):
    (tmp_path / "empty_folder").mkdir()
    one_line_error(run("compare", face, tmp_path / "empty_folder"), "no photos")
    out = run("compare", face, *bad_files)
    one_line_error(out)
    assert all("error" in row for row in json.loads(out.stdout)["results"])


def test_cluster_of_unreadable_photos_fails(bad_files):
    one_line_error(run("cluster", *bad_files), "no photo could be used")


def test_bench_of_unreadable_photos_fails(tmp_path):
    one_line_error(run("bench", tmp_path / "missing.jpg"), "nothing was timed")


def test_video_that_is_not_a_video_fails(bad_files, tmp_path):
    out = run("video", bad_files[0], "--no-progress", FACEPRINT_GALLERY=str(tmp_path / "none.db"))
    one_line_error(out, "no frame could be read")


# -- an output that cannot be written fails before the work, not after -----------------------------------

@pytest.mark.parametrize("command", [
    ["embed", "{face}", "{face2}", "-o", "{out}.npz"],
    ["identify", "{face}", "{face2}", "-g", "{gallery}", "-o", "{out}.json"],
    ["cluster", "{people}", "--out", "{out}"],
    ["classify", "fit", "{people}", "-o", "{out}.npz"],
    ["video", "{face}", "-o", "{out}.json", "--no-progress"],
])
def test_unwritable_output_fails_before_the_work(command, face, people, gallery, tmp_path):
    face2 = next((people / "Abdullah").iterdir())
    values = {"face": face, "face2": face2, "people": people, "gallery": gallery, "out": UNWRITABLE}
    out = run(*[a.format(**values) for a in command], FACEPRINT_GALLERY=str(tmp_path / "none.db"))
    one_line_error(out, str(UNWRITABLE), "cannot write there")
    assert "━" not in out.stderr  # no progress bar: nothing was embedded first


def test_embed_output_into_a_new_folder_is_written(face, people, tmp_path):
    target = tmp_path / "new" / "sub" / "vectors.npz"  # was embedded, then lost: savez makes no folder
    out = run("embed", face, next((people / "Abdullah").iterdir()), "-o", target)
    assert out.returncode == 0, out.stderr
    assert target.is_file()


def test_cluster_with_a_bad_option_leaves_no_out_folder(people, tmp_path):
    out = run("cluster", people, "--out", tmp_path / "groups", "--threshold", "5")
    one_line_error(out, "threshold")
    assert not (tmp_path / "groups").exists()


# -- gallery: a bad argument leaves no broken or empty gallery behind -------------------------------------

@pytest.mark.parametrize("args, words", [
    (["gallery", "create", "{db}", "--detector", "nosuch"], ["unknown detector"]),
    (["gallery", "create", "{db}", "--model", "nosuch"], ["unknown model"]),
    (["gallery", "enrol", "{tmp}/missing_folder", "-g", "{db}"], ["no such file or folder"]),
    (["gallery", "enrol", "{face}", "-g", "{db}"], ["--name"]),
    (["gallery", "enrol", "{tmp}/empty_folder", "--name", "X", "-g", "{db}"], ["no photos"]),
])
def test_bad_gallery_arguments_create_no_file(args, words, face, tmp_path):
    (tmp_path / "empty_folder").mkdir()
    db = tmp_path / "new.db"
    out = run(*[a.format(db=db, tmp=tmp_path, face=face) for a in args])
    one_line_error(out, *words)
    assert not db.exists()


def test_enrol_where_no_photo_goes_in_exits_non_zero(bad_files, tmp_path):
    out = run("gallery", "enrol", *bad_files, "--name", "Ada", "-g", tmp_path / "g.db", "--no-progress")
    one_line_error(out)
    assert json.loads(out.stdout)["added"] == 0


def test_enrol_again_of_the_same_photos_still_exits_zero(face, tmp_path):
    for _ in range(2):
        out = run("gallery", "enrol", face, "--name", "Ada", "-g", tmp_path / "g.db", "--no-progress")
        assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["skipped_duplicates"] == 1


# -- files that are not what they claim ---------------------------------------------------------------------

@pytest.mark.parametrize("content", ["hello world\n", ""])
def test_eval_pairs_file_that_is_not_one_is_one_line(content, tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(content)
    one_line_error(run("eval", "pairs", pairs), "not an LFW pairs file")


def test_train_export_of_a_file_that_is_not_a_checkpoint_is_one_line(bad_files, tmp_path):
    pytest.importorskip("torch")
    text, empty = bad_files
    for path in (text, empty):  # an empty file was "Aborted." (click's reading of EOFError)
        out = run("train", "export", path, "-o", tmp_path / "m.onnx")
        one_line_error(out, "not a faceprint checkpoint")


def test_models_install_from_a_missing_file_is_refused(tmp_path):
    out = run("models", "install", "mobilefacenet", "--from", tmp_path / "missing.tgz", "--accept-licence")
    one_line_error(out, "missing.tgz", "no such file")
